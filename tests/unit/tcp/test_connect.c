/* Active open on the engine's virtual clock: SYN, SYN-ACK, retransmission, refusal, owner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "tests/unit/tcp/harness.h"

#define MS	   1000ULL
#define UPSTREAM_P 8080

/* The application side of one outgoing connection. */
struct conn_app {
	int established;
	int closed;
	enum tcp_close_reason reason;
	struct tcp_flow *flow;
	char rx[4096];
	uint32_t rxlen;
	const char *send_on_connect;
	bool refuse;
};

static int
ca_accepted(struct tcp_flow *f, void *arg, void **ctx_out)
{
	struct conn_app *a = *ctx_out;

	assert_null(arg);
	if (a->refuse)
		return -ECONNREFUSED;
	a->established++;
	if (a->send_on_connect != NULL)
		tcp_send(f, a->send_on_connect, strlen(a->send_on_connect));
	return 0;
}

static uint32_t
ca_data(struct tcp_flow *f, void *ctx, struct rte_mbuf *m)
{
	struct conn_app *a = ctx;
	uint32_t n;

	(void)f;
	if (m == NULL)
		return 0;
	n = RTE_MIN(m->pkt_len, (uint32_t)sizeof(a->rx) - a->rxlen);
	const void *d = rte_pktmbuf_read(m, 0, n, a->rx + a->rxlen);

	if (d != a->rx + a->rxlen)
		memcpy(a->rx + a->rxlen, d, n);
	a->rxlen += n;
	return n;
}

static void
ca_closed(struct tcp_flow *f, void *ctx, enum tcp_close_reason r)
{
	struct conn_app *a = ctx;

	(void)f;
	a->closed++;
	a->reason = r;
}

static const struct tcp_callbacks ca_cb = {
	.accepted = ca_accepted,
	.data = ca_data,
	.closed = ca_closed,
};

/* Starts a connection to H_CADDR:UPSTREAM_P, pops its SYN; the harness's peer is the server. */
static void
start(struct h *h, struct conn_app *a, struct h_pkt *syn)
{
	assert_int_equal(tcp_connect(h->e, &ca_cb, H_SADDR, H_CADDR, UPSTREAM_P, a, &a->flow), 0);
	assert_int_equal(h_pending(h), 1);
	h_pop(h, syn);
	h->cport = UPSTREAM_P;
	h->lport = syn->sport;
	h->s_isn = syn->seq;
}

static void
test_connect_handshake_and_data(void **state)
{
	struct conn_app a = {.send_on_connect = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"};
	struct h_opts synack = {.mss = 1400, .ws = 7, .sackp = true, .ts = true, .tsval = 555};
	struct h_pkt p;
	struct h h;

	(void)state;
	h_init(&h, NULL);
	start(&h, &a, &p);
	assert_int_equal(p.flags, F_SYN);
	assert_true(p.sport >= 49152);
	assert_int_equal(p.dport, UPSTREAM_P);
	assert_int_equal(p.mss, 1460);
	assert_true(p.sackp);
	assert_true(p.ts);
	assert_true(p.ws >= 0);
	assert_int_equal(tcp_flow_state(a.flow), TCP_SYN_SENT);
	assert_int_equal(tcp_engine_stats(h.e)->connects, 1);

	synack.tsecr = p.tsval;
	h_advance(&h, 3 * MS);
	h_send(&h, F_SYN | F_ACK, 7000, p.seq + 1, 1000, &synack, NULL, 0);
	assert_int_equal(a.established, 1);
	assert_int_equal(tcp_flow_state(a.flow), TCP_ESTABLISHED);
	/* the request rides on the third segment of the handshake */
	h_pop(&h, &p);
	assert_int_equal(p.flags & (F_ACK | F_SYN), F_ACK);
	assert_int_equal(p.ack, 7001);
	assert_int_equal(p.seq, h.s_isn + 1);
	assert_int_equal(p.len, strlen(a.send_on_connect));
	assert_memory_equal(p.data, a.send_on_connect, p.len);
	assert_true(p.ts);
	assert_int_equal(p.tsecr, 555);

	/* the answer reaches the app */
	h.cseq = 7001;
	h.sseq = p.seq + p.len;
	h.ts = true;
	h.last_tsval = p.tsval;
	h_data(&h, "HTTP/1.1 200 OK\r\n", 17);
	assert_int_equal(a.rxlen, 17);
	assert_memory_equal(a.rx, "HTTP/1.1 200 OK\r\n", 17);
	h_drain(&h);
	tcp_abort(a.flow);
	assert_int_equal(a.closed, 1);
	assert_int_equal(a.reason, TCP_CLOSE_ABORTED);
	h_fini(&h);
}

static void
test_connect_syn_retransmit_then_timeout(void **state)
{
	struct conn_app a = {0};
	struct h_pkt p;
	struct h h;
	uint64_t rto = 1000 * MS;

	(void)state;
	h_init(&h, NULL);
	start(&h, &a, &p);
	for (int i = 0; i < h.p.syn_retries; i++) {
		h_advance(&h, rto - MS);
		assert_int_equal(h_pending(&h), 0);
		h_advance(&h, MS);
		assert_int_equal(h_pending(&h), 1);
		h_pop(&h, &p);
		assert_int_equal(p.flags, F_SYN);
		assert_int_equal(p.seq, h.s_isn);
		assert_int_equal(p.sport, h.lport);
		rto *= 2;
	}
	assert_int_equal(a.closed, 0);
	h_advance(&h, rto);
	assert_int_equal(a.closed, 1);
	assert_int_equal(a.reason, TCP_CLOSE_TIMEOUT);
	assert_int_equal(a.established, 0);
	assert_int_equal(tcp_engine_stats(h.e)->connect_timeouts, 1);
	assert_int_equal(h_pending(&h), 0);
	h_fini(&h);
}

static void
test_connect_refused_by_rst(void **state)
{
	struct conn_app a = {0};
	struct h_pkt p;
	struct h h;

	(void)state;
	h_init(&h, NULL);
	start(&h, &a, &p);
	/* RST without ACK, or acking something else: not a refusal (RFC 9293, RFC 5961) */
	h_send(&h, F_RST, 0, 0, 0, NULL, NULL, 0);
	h_send(&h, F_RST | F_ACK, 0, h.s_isn + 5, 0, NULL, NULL, 0);
	assert_int_equal(a.closed, 0);
	assert_int_equal(tcp_flow_state(a.flow), TCP_SYN_SENT);
	h_drain(&h);
	/* a SYN-ACK for another ISN gets a RST and the connection waits on */
	h_send(&h, F_SYN | F_ACK, 9000, h.s_isn + 77, 1000, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_RST);
	assert_int_equal(p.seq, h.s_isn + 77);
	assert_int_equal(a.closed, 0);
	/* the refusal: RST+ACK of our SYN */
	h_send(&h, F_RST | F_ACK, 0, h.s_isn + 1, 0, NULL, NULL, 0);
	assert_int_equal(a.closed, 1);
	assert_int_equal(a.reason, TCP_CLOSE_RESET);
	assert_int_equal(tcp_engine_stats(h.e)->connect_refused, 1);
	assert_int_equal(h_pending(&h), 0);
	/* the tuple is free again: the table holds no flow for it */
	struct tcp_tuple t = h_tuple(&h);
	assert_null(tcp_flow_lookup(h_table, &t));
	h_fini(&h);
}

static void
test_connect_app_refuses(void **state)
{
	struct conn_app a = {.refuse = true};
	struct h_pkt p;
	struct h h;

	(void)state;
	h_init(&h, NULL);
	start(&h, &a, &p);
	h_send(&h, F_SYN | F_ACK, 100, h.s_isn + 1, 1000, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_true(p.flags & F_RST);
	assert_int_equal(a.closed, 1);
	assert_int_equal(a.reason, TCP_CLOSE_ABORTED);
	h_fini(&h);
}

static void
lcore2of4(struct tcp_engine_params *p)
{
	p->nb_lcores = 4;
	p->lcore_idx = 2;
}

static void
test_connect_port_owned_by_this_lcore(void **state)
{
	struct conn_app a[20];
	struct h h;
	struct h_pkt p;

	(void)state;
	memset(a, 0, sizeof(a));
	h_init(&h, lcore2of4);
	for (int i = 0; i < 20; i++) {
		struct tcp_tuple t;

		assert_int_equal(
			tcp_connect(h.e, &ca_cb, H_SADDR, H_CADDR, UPSTREAM_P, &a[i], &a[i].flow),
			0);
		h_pop(&h, &p);
		t = *tcp_flow_tuple(a[i].flow);
		assert_int_equal(t.lport, p.sport);
		/* replies are steered by this hash: they must come back here */
		assert_int_equal(tcp_flow_owner(h_table, &t, 4), 2);
		/* and a NIC with the symmetric key and a 128-entry RETA puts them in queue 2 */
		{
			uint8_t key[52];
			uint32_t h;

			tcp_rss_sym_key(key, sizeof(key));
			h = tcp_rss_hash(key, sizeof(key), &t);
			assert_int_equal(tcp_rss_reta_entry(h & 127, 4), 2);
		}
		for (int j = 0; j < i; j++)
			assert_int_not_equal(tcp_flow_tuple(a[j].flow)->lport, t.lport);
	}
	/* not a local address */
	assert_int_equal(tcp_connect(h.e, &ca_cb, H_CADDR, H_SADDR, 80, &a[0], &a[0].flow),
			 -EINVAL);
	h_fini(&h);
	for (int i = 0; i < 20; i++)
		assert_int_equal(a[i].closed, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_handshake_and_data),
		cmocka_unit_test(test_connect_syn_retransmit_then_timeout),
		cmocka_unit_test(test_connect_refused_by_rst),
		cmocka_unit_test(test_connect_app_refuses),
		cmocka_unit_test(test_connect_port_owned_by_this_lcore),
	};

	return h_main("test_connect", tests, RTE_DIM(tests), 4095, 1024, NULL);
}
