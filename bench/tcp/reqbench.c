/* Instructions per keep-alive authenticated GET: TCP engine, HTTP and gate, under callgrind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_gso.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <urcu-qsbr.h>
#include <valgrind/callgrind.h>

#include "dataplane/auth_gate.h"
#include "dataplane/tcp/tcp_cksum.h"
#include "dataplane/tcp/tcp_priv.h" /* the engine's params: offload after the handshake */
#include "dataplane/http/http.h"
#include "dataplane/http/resolver.h"
#include "tests/unit/tcp/harness.h"

/*
 * One connection (MSS 1448, window scaling, SACK, timestamps: a Linux client) that is already
 * authenticated, as after a Kerberos verdict with persistence on; crypto is not in the count.
 * The client sends N keep-alive "GET /secure/F" requests with no Authorization header; the app
 * below does what the dataplane's HTTP service does for each: parse (http_conn_parse), ask the
 * gate (gate_request: SERVE on the persisted identity), build the response (http_conn_respond:
 * store lookup, head), queue the head (tcp_send) and the file zero-copy (tcp_send_ext), and
 * queue more as ACKs free room. The client reads every segment and ACKs every second one, as
 * Linux does. Instrumentation covers tcp_input and tcp_process only (the app runs inside
 * them); bench/tcp/callgrind.sh splits the count with xmit_raw's (segments built and sent).
 * Not in the count: net.c and steering (Ethernet/IPv4 validation, neighbour lookup, TX burst).
 *
 * usage: reqbench N FILE-SIZE [offload|tso]
 *
 * tso: the engine hands large packets to the "port", which cuts them with rte_gso and sums
 * the pieces outside the count, as a NIC would (a NIC's segments: tso_segsz = the MSS).
 */
#define APP_PORT 8080

struct app {
	struct http_conn conn;
	struct http_conn_conf conf;
	struct http_response resp;
	struct gate_conf *gate;
	struct gate_flow auth;
	struct gate_stats gstats;
	struct store *store;
	struct tcp_flow *flow;
	char rx[8192];
	size_t rxlen;
	bool sending;
	unsigned int slice;
	size_t off;
	struct rte_mbuf_ext_shared_info shinfo;
	unsigned long served;
};

static struct app app;

/*
 * The store's clock is the harness's virtual one: its revalidation checks (an fstat per file
 * every check_ns) fall where the simulated time says, the same in every run, not where
 * valgrind's slowness puts the wall clock.
 */
static struct h *clock_h;

static uint64_t
bench_now_ns(void)
{
	return clock_h != NULL ? clock_h->now * 1000 : 0;
}

/*
 * REQBENCH_STORE_LANE=1: the store as the dataplane's HTTP service runs it, misses on a
 * resolver thread: each request is named (store_park_as) and a miss or revalidation parks
 * until the lane answers. The cache is warmed before the count: hits are what is measured.
 */
static struct resolver *lane_resolver;
static struct store_lane *lane;
static uint32_t lane_seq;

static int
respond(struct app *a, const struct h1_request *req, const struct http_opts *opts)
{
	struct store_done d;
	int rc;

	if (lane != NULL)
		store_park_as(a->store, 1, ++lane_seq);
	rc = http_conn_respond(&a->conn, req, a->store, opts, &a->resp);
	while (rc == -EINPROGRESS) {
		while (store_lane_poll(lane, a->store, &d, 1) == 0)
			usleep(50);
		store_resume(a->store, &d);
		store_park_as(a->store, 1, ++lane_seq);
		rc = http_conn_respond(&a->conn, req, a->store, opts, &a->resp);
		store_resume_end(a->store);
	}
	return rc;
}

static void
ext_free(void *addr, void *opaque)
{
	(void)addr;
	(void)opaque;
}

static bool
never_revoked(const char *principal, bool ignore_case)
{
	(void)principal;
	(void)ignore_case;
	return false;
}

/* Queue what fits of the current response: the head is slice -1. */
static void
pump(struct app *a)
{
	struct http_response *r = &a->resp;

	while (a->sending) {
		int n;

		if (a->slice == 0 && a->off < r->head_len) {
			n = tcp_send(a->flow, r->head + a->off, r->head_len - a->off);
			if (n <= 0)
				return;
			a->off += (size_t)n;
			continue;
		}
		if (a->slice < r->nslices) {
			const struct http_slice *s = &r->slices[a->slice];
			size_t done = a->slice == 0 ? a->off - r->head_len : a->off;
			size_t left = s->len - done;

			if (left == 0) {
				a->slice++;
				a->off = 0;
				continue;
			}
			if (s->kind == HTTP_SLICE_INLINE)
				n = tcp_send(a->flow, (const char *)s->base + done, left);
			else
				n = tcp_send_ext(a->flow, (char *)(uintptr_t)s->base + done,
						 RTE_BAD_IOVA, left, &a->shinfo);
			if (n <= 0)
				return;
			a->off += (size_t)n;
			continue;
		}
		a->sending = false;
		http_response_release(r);
		a->served++;
	}
}

static int
app_accepted(struct tcp_flow *f, void *arg, void **ctx_out)
{
	(void)arg;
	app.flow = f;
	*ctx_out = &app;
	return 0;
}

static uint32_t
app_data(struct tcp_flow *f, void *ctx, struct rte_mbuf *m)
{
	struct app *a = ctx;
	uint32_t n;

	(void)f;
	if (m == NULL)
		return 0;
	n = RTE_MIN(m->pkt_len, (uint32_t)(sizeof(a->rx) - a->rxlen));
	{
		/* it copies only what spans segments: otherwise it points into m */
		const void *d = rte_pktmbuf_read(m, 0, n, a->rx + a->rxlen);

		if (d != a->rx + a->rxlen)
			memcpy(a->rx + a->rxlen, d, n);
	}
	a->rxlen += n;
	while (!a->sending) {
		struct h1_request req;
		struct gate_decision d;
		struct gate_env env = {.now_s = 1700000000, .is_revoked = never_revoked};
		struct http_opts opts = {.now = 1700000000,
					 .extra_headers = "Persistent-Auth: true\r\n",
					 .extra_len = 23};
		const struct site_conf *site;
		char path[4096];
		size_t consumed = 0;
		int status = 0;

		if (http_conn_parse(&a->conn, a->rx, a->rxlen, &consumed, &req, &status) !=
		    HTTP_CONN_REQUEST)
			break;
		/* as the HTTP service does: the target normalised once, for the gate and the store
		 */
		site = gate_site_path(a->gate, req.target.p, req.target.len, path, sizeof(path),
				      &opts.path_len);
		if (opts.path_len > 0)
			opts.path = path;
		gate_request(a->gate, &a->auth, site, NULL, &env, &a->gstats, &d);
		if (d.action != GATE_SERVE) {
			fprintf(stderr, "reqbench: the gate says %s\n", gate_action_str(d.action));
			exit(1);
		}
		if (respond(a, &req, &opts) < 0 || a->resp.status != 200) {
			fprintf(stderr, "reqbench: response %d\n", a->resp.status);
			exit(1);
		}
		gate_request_done(a->gate, &a->auth, &a->gstats);
		memmove(a->rx, a->rx + consumed, a->rxlen - consumed);
		a->rxlen -= consumed;
		a->sending = true;
		a->slice = 0;
		a->off = 0;
		pump(a);
	}
	return n;
}

static void
app_acked(struct tcp_flow *f, void *ctx, uint32_t bytes)
{
	(void)f;
	(void)bytes;
	pump(ctx);
}

static void
app_closed(struct tcp_flow *f, void *ctx, enum tcp_close_reason reason)
{
	(void)f;
	(void)ctx;
	(void)reason;
}

static const struct tcp_callbacks app_cb = {
	.accepted = app_accepted,
	.data = app_data,
	.acked = app_acked,
	.closed = app_closed,
};

static bool offload, tso;
static struct rte_gso_ctx gso;

/* A NIC's segmentation: every large packet pending becomes its segments, in order. */
static void
port_segments(struct h *h)
{
	static struct rte_mbuf *pkts[H_MAX_OUT];
	unsigned int n = 0;

	for (unsigned int i = h->head; i < h->nout; i++) {
		struct rte_mbuf *m = h->out[i], *segs[64];
		int k;

		if (!(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG)) {
			pkts[n++] = m;
			continue;
		}
		m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
		gso.gso_size = (uint16_t)(m->tso_segsz + m->l3_len + m->l4_len);
		k = rte_gso_segment(m, &gso, segs, RTE_DIM(segs));
		if (k <= 0 || n + (unsigned int)k > H_MAX_OUT) {
			fprintf(stderr, "reqbench: segmentation failed (%d)\n", k);
			exit(1);
		}
		rte_pktmbuf_free(m);
		for (int j = 0; j < k; j++)
			pkts[n++] = segs[j];
	}
	memcpy(h->out, pkts, n * sizeof(pkts[0]));
	h->head = 0;
	h->nout = n;
}

/* Packets the engine handed to the port (a large one counts once): what net.c sends on. */
static unsigned long port_packets;

/* What the port does with an offloaded segment, before the client checks it. */
static void
port_sums(struct h *h)
{
	port_packets += h->nout - h->head;
	if (tso)
		port_segments(h);
	for (unsigned int i = h->head; i < h->nout; i++) {
		struct rte_mbuf *m = h->out[i];
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);

		if (!(m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM))
			continue;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		th->cksum = 0;
		th->cksum = tcp_cksum_ipv4_mbuf(m, ip, sizeof(*ip));
		m->ol_flags = 0;
	}
}

static uint64_t
segments(const struct h *h, uint64_t *in, uint64_t *out)
{
	const struct tcp_stats *st = tcp_engine_stats(h->e);

	*in = st->seg_in;
	*out = st->seg_out;
	return st->seg_in + st->seg_out;
}

int
main(int argc, char **argv)
{
	char *eal[] = {"reqbench", "--no-huge",		"--no-pci", "--no-shconf", "-m",
		       "256",	   "--log-level=error", "-l",	    "0",	   NULL};
	static struct gate_conf gate;
	static const struct h_opts linux_opts = {
		.mss = 1448, .ws = 7, .sackp = true, .ts = true, .tsval = 1000};
	unsigned int n = argc > 1 ? (unsigned int)atoi(argv[1]) : 200;
	size_t size = argc > 2 ? (size_t)atol(argv[2]) : 1024;
	char dir[] = "/tmp/reqbench.XXXXXX", path[64], req[128];
	struct store_conf sc = {
		.revalidate_ns = 1000000000ull, .check_ns = 10000000ull, .now_ns = bench_now_ns};
	uint64_t in0, out0, in1, out1, body = 0, data_out = 0;
	struct h h;
	struct h_pkt p;
	FILE *fp;

	tso = argc > 3 && strcmp(argv[3], "tso") == 0;
	offload = tso || (argc > 3 && strcmp(argv[3], "offload") == 0);
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	h_pool = rte_pktmbuf_pool_create("reqbench", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	gso.direct_pool = h_pool;
	gso.indirect_pool = h_pool;
	gso.gso_types = RTE_ETH_TX_OFFLOAD_TCP_TSO;
	rcu_register_thread();
	h_table = tcp_flow_table_create(4096, 1234);
	if (h_pool == NULL || h_table == NULL || mkdtemp(dir) == NULL) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/f.bin", dir);
	fp = fopen(path, "w");
	for (size_t i = 0; fp != NULL && i < size; i++)
		fputc((int)(i * 7 + i / 251) & 0xff, fp);
	if (fp == NULL || fclose(fp) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		return 1;
	}

	/* one site behind Negotiate; the flow holds a persisted Kerberos identity */
	snprintf(gate.sites[0].prefix, sizeof(gate.sites[0].prefix), "/secure");
	snprintf(gate.sites[0].root, sizeof(gate.sites[0].root), "%s", dir);
	gate.sites[0].auth = SITE_AUTH_NEGOTIATE;
	gate.nb_sites = 1;
	gate.persist_non_ntlm = true;
	app.gate = &gate;
	app.auth.authed = true;
	app.auth.mech = TRUST_MECH_KRB5;
	app.auth.auth_time = 1700000000 - 10;
	app.auth.auth_expires = 1700000000 + 36000;
	snprintf(app.auth.principal, sizeof(app.auth.principal), "user1@AUTHGATE.TEST");
	sc.sites = gate.sites;
	sc.nsites = 1;
	app.store = store_create(&sc);
	if (app.store == NULL) {
		fprintf(stderr, "store: %s\n", strerror(errno));
		return 1;
	}
	if (getenv("REQBENCH_STORE_LANE") != NULL && atoi(getenv("REQBENCH_STORE_LANE")) > 0) {
		struct resolver_conf rc = {.threads = 1, .lanes = 1, .queue = 256};
		struct store_file *warm;

		lane_resolver = resolver_create(&rc);
		lane = lane_resolver ? store_lane_create(lane_resolver, 0, 256) : NULL;
		if (lane == NULL) {
			fprintf(stderr, "resolver: %s\n", strerror(errno));
			return 1;
		}
		store_attach(app.store, lane);
		if (store_open(app.store, "/secure/f.bin", 13, &warm) == 0)
			store_file_put(warm);
	}
	app.conf.limits = (struct h1_limits){0};
	h1_limits_default(&app.conf.limits);
	http_conn_init(&app.conn, &app.conf);
	app.shinfo.free_cb = ext_free;
	rte_mbuf_ext_refcnt_set(&app.shinfo, 1);

	h_init(&h, NULL);
	clock_h = &h;
	tcp_listen(h.e, APP_PORT, &app_cb, NULL);
	if (h_connect(&h, 40001, APP_PORT, &linux_opts, 1000) != 0) {
		fprintf(stderr, "handshake failed\n");
		return 1;
	}
	h_drain(&h);
	/* the harness checks the handshake in full: the port sums only from here on */
	h.e->p.csum_offload = offload;
	h.e->p.tso = tso;
	/* a port that offloads checksums verifies them on receive too and says so per mbuf */
	if (offload)
		h.rx_ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	snprintf(req, sizeof(req), "GET /secure/f.bin HTTP/1.1\r\nHost: gw.authgate.test\r\n\r\n");
	segments(&h, &in0, &out0);
	CALLGRIND_START_INSTRUMENTATION;
	for (unsigned int i = 0; i < n; i++) {
		unsigned long want = app.served + 1;

		h_data(&h, req, (uint32_t)strlen(req));
		while (app.served < want || h_pending(&h) > 0) {
			static uint32_t ends[H_MAX_OUT];
			unsigned int batch = 0;

			port_sums(&h);
			while (h_pending(&h) > 0) {
				h_pop(&h, &p);
				if (p.len > 0 && batch < H_MAX_OUT) {
					ends[batch++] = p.seq + p.len;
					body += p.len;
					data_out++;
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
	}
	/* the last ACK of the last response, and timers */
	h_advance(&h, 200000);
	port_sums(&h);
	h_drain(&h);
	CALLGRIND_STOP_INSTRUMENTATION;
	segments(&h, &in1, &out1);
	printf("requests=%u file_size=%zu offload=%d tso=%d tso_packets=%lu packets_out=%lu\n", n,
	       size, offload, tso, (unsigned long)tcp_engine_stats(h.e)->tso_out, port_packets);
	printf("segments_in=%lu segments_out=%lu data_segments_out=%lu bytes_out=%lu\n",
	       (unsigned long)(in1 - in0), (unsigned long)(out1 - out0), (unsigned long)data_out,
	       (unsigned long)body);
	h_fini(&h);
	/* revalidations during the run (valgrind is slow): they are in the count */
	printf("store_syscalls=%lu store_lookups_posted=%lu\n",
	       (unsigned long)store_syscalls(app.store),
	       lane ? (unsigned long)store_lane_stats(lane)->posted : 0ul);
	store_destroy(app.store);
	store_lane_destroy(lane);
	resolver_destroy(lane_resolver);
	unlink(path);
	rmdir(dir);
	rcu_unregister_thread();
	return 0;
}
