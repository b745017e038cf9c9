/* Instructions per TCP segment of the engine: a scripted transfer to run under callgrind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <urcu-qsbr.h>
#include <valgrind/callgrind.h>

#include "tests/unit/tcp/harness.h"

/*
 * Two scripts on one virtual clock, each a single connection with MSS 1448, window scaling,
 * SACK and timestamps (what Linux clients send):
 *   receive: the client sends N full segments to discard (9); the engine ACKs (delayed).
 *   send:    the client reads N segments from chargen (19), ACKing every second one.
 * Only the engine's work is collected (CALLGRIND_START/STOP around tcp_input and
 * tcp_process via the harness); callgrind_annotate --inclusive gives tcp_input and
 * tcp_process, which bench/tcp/callgrind.sh divides by the segments processed.
 */
static const struct h_opts linux_opts = {
	.mss = 1448, .ws = 7, .sackp = true, .ts = true, .tsval = 1000};

static uint64_t
segments(const struct h *h)
{
	const struct tcp_stats *st = tcp_engine_stats(h->e);
	return st->seg_in + st->seg_out;
}

static void
run_receive(unsigned int n)
{
	struct h h;
	uint64_t s0;

	h_init(&h, NULL);
	if (h_connect(&h, 40001, H_DISCARD_PORT, &linux_opts, 1000) != 0) {
		fprintf(stderr, "receive: handshake failed\n");
		exit(1);
	}
	h_drain(&h);
	s0 = segments(&h);
	CALLGRIND_START_INSTRUMENTATION;
	for (unsigned int i = 0; i < n; i++) {
		h_data(&h, h_pattern + (i * 1448u) % (sizeof(h_pattern) - 1448), 1448);
		h_advance(&h, 50);
		h_drain(&h);
	}
	CALLGRIND_STOP_INSTRUMENTATION;
	printf("receive segments=%lu\n", (unsigned long)(segments(&h) - s0));
	h_fini(&h);
}

static void
run_send(unsigned int n)
{
	struct h h;
	struct h_pkt p;
	uint64_t s0;
	unsigned int got = 0;

	h_init(&h, NULL);
	if (h_connect(&h, 40002, H_CHARGEN_PORT, &linux_opts, 5000) != 0) {
		fprintf(stderr, "send: handshake failed\n");
		exit(1);
	}
	s0 = segments(&h);
	CALLGRIND_START_INSTRUMENTATION;
	while (got < n) {
		static uint32_t ends[H_MAX_OUT];
		unsigned int batch = 0;

		/* read what was sent, then ACK every second segment of it, as Linux does */
		while (h_pending(&h) > 0) {
			h_pop(&h, &p);
			if (p.len > 0 && batch < H_MAX_OUT) {
				ends[batch++] = p.seq + p.len;
				got++;
			}
		}
		for (unsigned int k = 1; k < batch; k += 2)
			h_ack(&h, ends[k], h.cwin);
		if (batch % 2 != 0)
			h_ack(&h, ends[batch - 1], h.cwin);
		if (batch > 0)
			h.sseq = ends[batch - 1];
		h_advance(&h, 50);
	}
	CALLGRIND_STOP_INSTRUMENTATION;
	printf("send segments=%lu\n", (unsigned long)(segments(&h) - s0));
	h_drain(&h);
	h_fini(&h);
}

int
main(int argc, char **argv)
{
	char *eal[] = {"segbench", "--no-huge",		"--no-pci", "--no-shconf", "-m",
		       "256",	   "--log-level=error", "-l",	    "0",	   NULL};
	unsigned int n = argc > 1 ? (unsigned int)atoi(argv[1]) : 20000;

	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	h_pool = rte_pktmbuf_pool_create("segbench", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	for (uint32_t i = 0; i < sizeof(h_pattern); i++)
		h_pattern[i] = (uint8_t)(i * 7 + i / 251);
	rcu_register_thread();
	h_table = tcp_flow_table_create(4096, 1234);
	if (h_pool == NULL || h_table == NULL) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	run_receive(n);
	run_send(n);
	rcu_unregister_thread();
	return 0;
}
