/* libFuzzer target for the TCP engine: scripts of client segments, clock steps and app calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <urcu-qsbr.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "dataplane/tcp/tcp_priv.h" /* per-source counts, checked against the flows */
#include "tests/unit/tcp/harness.h"

/*
 * The input is a script the engine runs on the harness's virtual clock (tests/unit/tcp):
 * one opcode byte, then its operands. Two client connections (slots) are tracked so that
 * sequence and acknowledgment numbers can be given relative to what each side has sent, which
 * keeps most segments near the window where the state machine lives. After every step the
 * engine's output is parsed (checksums, lengths and option layout are checked by h_pop) and
 * flow invariants are checked; at the end the engine is destroyed and every mbuf must be back
 * in the pool and the flow table empty.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NB_SLOTS 2

struct rd {
	const uint8_t *p;
	size_t n;
};

struct slot {
	uint16_t cport;
	uint16_t lport;
	uint32_t cseq; /* next client sequence number */
	uint32_t sseq; /* highest server sequence seen + 1 */
	bool ts;
	bool seen; /* the server has sent something on this slot */
};

static const uint16_t lports[] = {H_APP_PORT, H_ECHO_PORT, H_DISCARD_PORT, H_CHARGEN_PORT, 81};
static const uint64_t rx_flags[] = {0, RTE_MBUF_F_RX_L4_CKSUM_GOOD, RTE_MBUF_F_RX_L4_CKSUM_BAD,
				    RTE_MBUF_F_RX_L4_CKSUM_NONE};
static unsigned int pool_full;

static void
fuzz_check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_tcp: invariant broken: %s\n", what);
		abort();
	}
}

static uint8_t
u8(struct rd *r)
{
	if (r->n == 0)
		return 0;
	r->n--;
	return *r->p++;
}

static uint16_t
u16(struct rd *r)
{
	return (uint16_t)(u8(r) << 8 | u8(r));
}

static uint32_t
u32(struct rd *r)
{
	return (uint32_t)u16(r) << 16 | u16(r);
}

static void
fuzz_init(void)
{
	char *argv[] = {"fuzz_tcp", "--no-huge",	 "--no-pci", "--no-shconf", "-m",
			"256",	    "--log-level=error", "-l",	     "0",	    NULL};

	/* a harness assertion outside a cmocka test must crash, not exit */
	setenv("CMOCKA_TEST_ABORT", "1", 1);
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr, "fuzz_tcp: EAL: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
	h_pool = rte_pktmbuf_pool_create("fuzz_tcp", 16383, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	if (h_pool == NULL)
		exit(1);
	pool_full = rte_mempool_avail_count(h_pool);
	for (uint32_t i = 0; i < sizeof(h_pattern); i++)
		h_pattern[i] = (uint8_t)(i * 7 + i / 251);
	rcu_register_thread();
}

static void
fuzz_tweak(struct tcp_engine_params *p)
{
	p->max_half_open = 1; /* the second slot's SYN goes to cookies */
	p->rx_low_watermark = 0;
	p->challenge_ack_limit = 4;
	p->rx_flow_share = 2048; /* 7 mbufs a flow: out-of-order pruning and rx_share drops */
}

static int
check_flow(const struct tcp_flow_info *i, void *arg)
{
	(void)arg;
	fuzz_check(i->ooo <= 64, "at most 64 out-of-order entries");
	fuzz_check(i->unacked <= i->sndq + 2, "unacked within the send queue (+SYN, FIN)");
	fuzz_check(i->sndq <= 256 * 1024 + 64 * 1024, "send queue bounded by sndbuf");
	fuzz_check(i->rcvq <= 2 * 128 * 1024, "receive queue bounded by the window");
	fuzz_check(i->rto_us <= 60 * 1000 * 1000, "RTO at most rto_max");
	return 0;
}

struct src_count {
	uint32_t conns;
	uint32_t half_open;
};

static int
count_src(const struct tcp_flow_info *i, void *arg)
{
	struct src_count *c = arg;

	c->conns += i->state != TCP_TIME_WAIT;
	c->half_open += i->state == TCP_SYN_RECEIVED;
	return 0;
}

/* Every client is H_CADDR: its per-source counts must match the flows in the table. */
static void
check_sources(struct h *h)
{
	struct src_count c = {0};
	const struct tcp_src src = tcp_src_get(h->e, H_CADDR);

	tcp_flow_table_walk(h_table, h->now, count_src, &c);
	fuzz_check(src.conns == c.conns, "per-source connection count");
	fuzz_check(src.half_open == c.half_open, "per-source half-open count");
}

/* Parse everything the engine sent and note how far each slot's server side got. */
static void
collect(struct h *h, struct slot *s)
{
	while (h_pending(h) > 0) {
		struct h_pkt p;

		h_pop(h, &p);
		fuzz_check(p.sport != 0 && p.dport != 0, "ports set");
		for (int k = 0; k < NB_SLOTS; k++) {
			uint32_t end = p.seq + p.len + !!(p.flags & F_SYN) + !!(p.flags & F_FIN);

			if (p.dport != s[k].cport || p.sport != s[k].lport || (p.flags & F_RST))
				continue;
			if (!s[k].seen || (int32_t)(end - s[k].sseq) > 0)
				s[k].sseq = end;
			s[k].seen = true;
		}
	}
	tcp_flow_table_walk(h_table, h->now, check_flow, NULL);
}

static struct h_opts
opts_from(struct rd *r, struct h *h, const struct slot *s, uint8_t *raw)
{
	uint8_t sel = u8(r);
	struct h_opts o = {.ws = -1};

	if (sel & 0x80) {
		o.rawlen = (uint8_t)(u8(r) % 41);
		for (unsigned int i = 0; i < o.rawlen; i++)
			raw[i] = u8(r);
		o.raw = raw;
		return o;
	}
	if (sel & 1)
		o.mss = u16(r);
	if (sel & 2)
		o.ws = u8(r) & 0x1f;
	o.sackp = sel & 4;
	if ((sel & 8) || s->ts) {
		o.ts = true;
		o.tsval = (uint32_t)(h->now / 1000) - ((sel & 0x10) ? u16(r) : 0);
		o.tsecr = h->last_tsval;
	}
	return o;
}

static void
step(struct h *h, struct slot *sl, struct rd *r)
{
	uint8_t op = u8(r);
	struct slot *s = &sl[(op >> 4) & 1];
	uint8_t raw[64];
	struct h_opts o;
	uint8_t flags;
	uint32_t seq, ack, len;
	uint16_t win;

	h->cport = s->cport;
	h->lport = s->lport;
	switch (op & 0xf) {
	case 0: /* a new connection attempt on this slot */
		s->lport = lports[u8(r) % RTE_DIM(lports)];
		h->lport = s->lport;
		s->cseq = u32(r);
		o = opts_from(r, h, s, raw);
		s->ts = o.ts;
		s->seen = false;
		h_send(h, F_SYN, s->cseq, 0, u16(r), &o, NULL, 0);
		s->cseq++;
		break;
	case 1: /* any segment, numbers relative to both sides */
	case 2:
	case 3:
		flags = u8(r) & 0x3f;
		seq = (op & 0xf) == 3 ? u32(r) : s->cseq + (uint32_t)(int16_t)u16(r);
		ack = (op & 0xf) == 3 ? u32(r) : s->sseq + (uint32_t)(int16_t)u16(r);
		win = u16(r);
		o = opts_from(r, h, s, raw);
		len = u16(r) % 1901; /* one mbuf holds the segment */
		h_send(h, flags, seq, ack, win, &o, h_pattern + (seq & 0xffff), len);
		if (seq == s->cseq && !(flags & (F_SYN | F_RST)))
			s->cseq += len + !!(flags & F_FIN);
		break;
	case 4: /* the client acknowledges everything it saw, with data maybe */
		o = opts_from(r, h, s, raw);
		len = u8(r) % 2 ? u16(r) % 1460 : 0;
		h_send(h, F_ACK | (len ? F_PSH : 0), s->cseq, s->sseq, u16(r), &o,
		       h_pattern + (s->cseq & 0xffff), len);
		s->cseq += len;
		break;
	case 5: /* time passes */
		h_advance(h, (uint64_t)u16(r) << (u8(r) % 12));
		break;
	case 6: /* the application acts on its newest flow */
		if (h->app.flow == NULL)
			break;
		switch (u8(r) % 5) {
		case 0:
			tcp_send(h->app.flow, h_pattern, u16(r));
			break;
		case 1:
			tcp_shutdown(h->app.flow);
			break;
		case 2:
			tcp_abort(h->app.flow);
			break;
		case 3:
			tcp_recv_pause(h->app.flow);
			break;
		default:
			tcp_recv_resume(h->app.flow);
			break;
		}
		break;
	case 7:
		h->app.consume_max = u8(r) % 2 ? u16(r) : UINT32_MAX;
		break;
	case 8:
		h->rx_ol_flags = rx_flags[u8(r) % RTE_DIM(rx_flags)];
		break;
	case 10: /* a router's ICMP about a segment we sent: mostly frag-needed near the flight */
		flags = u8(r);
		seq = s->sseq + (uint32_t)(int16_t)u16(r);
		win = u16(r);	  /* the next-hop MTU */
		len = u8(r) % 24; /* quoted TCP bytes */
		h_icmp(h, (flags & 0xc0) ? 3 : flags & 0xf, (flags & 0xc0) ? 4 : (flags >> 4) & 3,
		       s->cport, seq, win, len);
		break;
	default: /* a burst of the same segment: floods and duplicates */
		flags = u8(r) & 0x3f;
		seq = s->cseq + (uint32_t)(int16_t)u16(r);
		ack = s->sseq + (uint32_t)(int16_t)u16(r);
		for (unsigned int i = 0, n = u8(r) % 32; i < n; i++)
			h_send(h, flags, seq, ack, 8192, NULL, NULL, 0);
		break;
	}
	collect(h, sl);
	check_sources(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct rd r = {.p = data, .n = size};
	struct slot sl[NB_SLOTS] = {
		{.cport = 40000, .lport = H_APP_PORT},
		{.cport = 40001, .lport = H_ECHO_PORT},
	};
	struct h h;
	unsigned int steps = 0;

	if (!ready) {
		fuzz_init();
		ready = true;
	}
	h_table = tcp_flow_table_create(64, 7);
	fuzz_check(h_table != NULL, "flow table");
	h_init(&h, fuzz_tweak);
	while (r.n > 0 && steps++ < 256)
		step(&h, sl, &r);
	h_fini(&h);
	fuzz_check(tcp_flow_table_count(h_table) == 0, "flow table empty after the engine");
	fuzz_check(tcp_flow_table_destroy(h_table) == 0, "flow table destroyed");
	h_table = NULL;
	fuzz_check(rte_mempool_avail_count(h_pool) == pool_full, "every mbuf back in the pool");
	return 0;
}
