/* Packet-script harness for the TCP engine on a virtual clock (see harness.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "tests/unit/tcp/harness.h"

struct rte_mempool *h_pool;
struct tcp_flow_table *h_table;
uint8_t h_pattern[1 << 20];

static uint32_t
app_data(struct tcp_flow *f, void *ctx, struct rte_mbuf *m)
{
	struct h_app *a = ctx;
	uint32_t n;

	(void)f;
	if (m == NULL) {
		a->eof++;
		if (a->shutdown_on_eof)
			tcp_shutdown(f);
		return 0;
	}
	n = RTE_MIN(m->pkt_len, a->consume_max);
	if (a->rx != NULL && a->rxlen + n <= (1u << 22)) {
		uint32_t off = 0;

		for (struct rte_mbuf *s = m; s != NULL && off < n; s = s->next) {
			uint32_t c = RTE_MIN((uint32_t)s->data_len, n - off);

			memcpy(a->rx + a->rxlen + off, rte_pktmbuf_mtod(s, void *), c);
			off += c;
		}
	}
	a->rxlen += n;
	return n;
}

static int
app_accepted(struct tcp_flow *f, void *arg, void **ctx_out)
{
	struct h_app *a = arg;

	if (a->refuse)
		return -ECONNREFUSED;
	a->accepted++;
	a->flow = f;
	*ctx_out = a;
	if (a->send_on_accept)
		tcp_send(f, h_pattern, a->send_on_accept);
	return 0;
}

static void
app_acked(struct tcp_flow *f, void *ctx, uint32_t bytes)
{
	struct h_app *a = ctx;

	(void)f;
	a->acked += bytes;
}

static void
app_closed(struct tcp_flow *f, void *ctx, enum tcp_close_reason r)
{
	struct h_app *a = ctx;

	(void)f;
	a->closed++;
	a->reason = r;
	a->flow = NULL;
}

static const struct tcp_callbacks app_cb = {
	.accepted = app_accepted,
	.data = app_data,
	.acked = app_acked,
	.closed = app_closed,
};

static void
cap_tx(void *arg, struct rte_mbuf *m)
{
	struct h *h = arg;

	if (h->nout >= H_MAX_OUT) {
		rte_pktmbuf_free(m);
		fail_msg("output capture overflow");
	}
	h->out[h->nout++] = m;
}

void
h_init(struct h *h, void (*tweak)(struct tcp_engine_params *p))
{
	static uint8_t rxbuf[1 << 22];

	memset(h, 0, sizeof(*h));
	tcp_engine_params_init(&h->p);
	h->p.table = h_table;
	h->p.pool = h_pool;
	h->p.tx = cap_tx;
	h->p.tx_arg = h;
	h->p.local_addrs[0] = H_SADDR;
	h->p.nb_local_addrs = 1;
	h->p.max_flows = 64;
	h->p.seed = 42;
	if (tweak != NULL)
		tweak(&h->p);
	h->now = 1000000000ULL;
	h->e = tcp_engine_create(&h->p);
	assert_non_null(h->e);
	assert_int_equal(tcp_listen(h->e, H_APP_PORT, &app_cb, &h->app), 0);
	assert_int_equal(tcp_diag_listen(h->e, H_ECHO_PORT, H_DISCARD_PORT, H_CHARGEN_PORT), 0);
	h->app.consume_max = UINT32_MAX;
	h->app.rx = rxbuf;
	h->cwin = 65535;
	tcp_process(h->e, h->now);
}

void
h_fini(struct h *h)
{
	h_drain(h);
	tcp_engine_destroy(h->e);
	h_drain(h);
	h->e = NULL;
	rcu_quiescent_state();
}

static uint8_t
build_opts(const struct h_opts *o, uint8_t *b)
{
	uint8_t n = 0;

	if (o == NULL)
		return 0;
	if (o->raw != NULL) {
		memcpy(b, o->raw, o->rawlen);
		n = o->rawlen;
	} else {
		if (o->mss) {
			b[n++] = 2;
			b[n++] = 4;
			b[n++] = o->mss >> 8;
			b[n++] = o->mss & 0xff;
		}
		if (o->ws >= 0) {
			b[n++] = 1;
			b[n++] = 3;
			b[n++] = 3;
			b[n++] = (uint8_t)o->ws;
		}
		if (o->sackp) {
			b[n++] = 1;
			b[n++] = 1;
			b[n++] = 4;
			b[n++] = 2;
		}
		if (o->ts) {
			uint32_t v = rte_cpu_to_be_32(o->tsval), r = rte_cpu_to_be_32(o->tsecr);

			b[n++] = 1;
			b[n++] = 1;
			b[n++] = 8;
			b[n++] = 10;
			memcpy(b + n, &v, 4);
			memcpy(b + n + 4, &r, 4);
			n += 8;
		}
	}
	while (n % 4)
		b[n++] = 0;
	return n;
}

static void
send_seg(struct h *h, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
	 const struct h_opts *o, const void *data, uint32_t len, bool bad)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(h_pool);
	uint8_t opts[64];
	uint8_t optlen = build_opts(o, opts);
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;

	assert_non_null(m);
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(m, sizeof(*ip) + sizeof(*th) + optlen + len);
	if (ip == NULL)
		abort(); /* the pool's buffers are too small for this script */
	th = (struct rte_tcp_hdr *)(ip + 1);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(m->pkt_len);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(H_CADDR);
	ip->dst_addr = rte_cpu_to_be_32(H_SADDR);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	th->src_port = rte_cpu_to_be_16(h->cport);
	th->dst_port = rte_cpu_to_be_16(h->lport);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t)(((sizeof(*th) + optlen) / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(win);
	th->cksum = 0;
	th->tcp_urp = 0;
	memcpy(th + 1, opts, optlen);
	if (len)
		memcpy((uint8_t *)(th + 1) + optlen, data, len);
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	if (bad)
		th->cksum ^= 0x1234;
	m->l3_len = sizeof(*ip);
	m->ol_flags |= h->rx_ol_flags;
	tcp_input(h->e, m, h->now);
}

void
h_send(struct h *h, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const struct h_opts *o,
       const void *data, uint32_t len)
{
	send_seg(h, flags, seq, ack, win, o, data, len, false);
}

void
h_send_badsum(struct h *h, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
	      const void *data, uint32_t len)
{
	send_seg(h, flags, seq, ack, win, NULL, data, len, true);
}

static struct h_opts
data_opts(struct h *h)
{
	struct h_opts o = {.ws = -1};

	if (h->ts) {
		o.ts = true;
		o.tsval = (uint32_t)(h->now / 1000);
		o.tsecr = h->last_tsval;
	}
	return o;
}

void
h_data(struct h *h, const void *data, uint32_t len)
{
	struct h_opts o = data_opts(h);

	h_send(h, F_ACK | F_PSH, h->cseq, h->sseq, h->cwin, &o, data, len);
	h->cseq += len;
}

void
h_ack(struct h *h, uint32_t ack, uint16_t win)
{
	struct h_opts o = data_opts(h);

	h_send(h, F_ACK, h->cseq, ack, win, &o, NULL, 0);
}

unsigned int
h_pending(const struct h *h)
{
	return h->nout - h->head;
}

void
h_pop(struct h *h, struct h_pkt *p)
{
	struct rte_mbuf *m;
	uint8_t buf[H_MAX_DATA + 128];
	const uint8_t *pkt;
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;
	uint32_t doff;

	if (h->head >= h->nout)
		fail_msg("expected an output segment, none was sent");
	m = h->out[h->head++];
	if (h->head == h->nout)
		h->head = h->nout = 0;
	assert_true(m->pkt_len <= sizeof(buf));
	pkt = rte_pktmbuf_read(m, 0, m->pkt_len, buf);
	ip = (const struct rte_ipv4_hdr *)pkt;
	th = (const struct rte_tcp_hdr *)(ip + 1);
	assert_int_equal(rte_be_to_cpu_16(ip->total_length), m->pkt_len);
	assert_int_equal(rte_ipv4_cksum(ip), 0);
	assert_int_equal(rte_ipv4_udptcp_cksum_verify(ip, th), 0);
	assert_int_equal(rte_be_to_cpu_32(ip->src_addr), H_SADDR);
	assert_int_equal(rte_be_to_cpu_32(ip->dst_addr), H_CADDR);
	assert_true(m->l3_len == 20);
	memset(p, 0, sizeof(*p));
	p->ws = -1;
	p->flags = th->tcp_flags;
	p->seq = rte_be_to_cpu_32(th->sent_seq);
	p->ack = rte_be_to_cpu_32(th->recv_ack);
	p->win = rte_be_to_cpu_16(th->rx_win);
	p->sport = rte_be_to_cpu_16(th->src_port);
	p->dport = rte_be_to_cpu_16(th->dst_port);
	p->ip_id = rte_be_to_cpu_16(ip->packet_id);
	doff = (th->data_off >> 4) * 4u;
	assert_int_equal(m->l4_len, doff);
	for (uint32_t i = 20; i < doff;) {
		const uint8_t *o = (const uint8_t *)th + i;

		if (o[0] == 0)
			break;
		if (o[0] == 1) {
			i++;
			continue;
		}
		assert_true(o[1] >= 2 && i + o[1] <= doff);
		if (o[0] == 2)
			p->mss = (uint16_t)(o[2] << 8 | o[3]);
		else if (o[0] == 3)
			p->ws = o[2];
		else if (o[0] == 4)
			p->sackp = true;
		else if (o[0] == 8) {
			p->ts = true;
			p->tsval = rte_be_to_cpu_32(*(const uint32_t *)(o + 2));
			p->tsecr = rte_be_to_cpu_32(*(const uint32_t *)(o + 6));
		} else if (o[0] == 5) {
			p->nsack = (o[1] - 2) / 8;
			for (int k = 0; k < p->nsack; k++) {
				p->sack[k][0] =
					rte_be_to_cpu_32(*(const uint32_t *)(o + 2 + 8 * k));
				p->sack[k][1] =
					rte_be_to_cpu_32(*(const uint32_t *)(o + 6 + 8 * k));
			}
		}
		i += o[1];
	}
	p->len = m->pkt_len - 20 - doff;
	assert_true(p->len <= H_MAX_DATA);
	memcpy(p->data, pkt + 20 + doff, p->len);
	if (p->ts)
		h->last_tsval = p->tsval;
	rte_pktmbuf_free(m);
}

void
h_drain(struct h *h)
{
	while (h->head < h->nout)
		rte_pktmbuf_free(h->out[h->head++]);
	h->head = h->nout = 0;
}

void
h_advance(struct h *h, uint64_t us)
{
	h->now += us;
	tcp_process(h->e, h->now);
}

int
h_connect(struct h *h, uint16_t cport, uint16_t lport, const struct h_opts *o, uint32_t client_isn)
{
	struct h_pkt p;
	struct h_opts syn = {.mss = 1460, .ws = 7, .sackp = true, .ts = true};

	if (o == NULL)
		o = &syn;
	h->cport = cport;
	h->lport = lport;
	h->ts = o->ts;
	if (o->ts && o->raw == NULL) {
		syn = *o;
		syn.tsval = (uint32_t)(h->now / 1000);
		o = &syn;
	}
	h_send(h, F_SYN, client_isn, 0, h->cwin, o, NULL, 0);
	if (h_pending(h) == 0)
		return -1;
	h_pop(h, &p);
	if (p.flags != (F_SYN | F_ACK) || p.ack != client_isn + 1)
		return -1;
	h->s_isn = p.seq;
	h->cseq = client_isn + 1;
	h->sseq = p.seq + 1;
	h_ack(h, h->sseq, h->cwin);
	return 0;
}

struct tcp_tuple
h_tuple(const struct h *h)
{
	struct tcp_tuple t = {
		.raddr = H_CADDR, .laddr = H_SADDR, .rport = h->cport, .lport = h->lport};
	return t;
}

struct tcp_flow *
h_flow(struct h *h)
{
	struct tcp_tuple t = h_tuple(h);

	return tcp_flow_lookup(h_table, &t);
}

enum tcp_state
h_state(struct h *h)
{
	struct tcp_tuple t = h_tuple(h);

	return tcp_tuple_state(h->e, &t);
}

uint64_t
h_drops(const struct h *h, enum tcp_drop_reason r)
{
	return tcp_engine_stats(h->e)->drops[r];
}

int
h_icmp(struct h *h, uint8_t type, uint8_t code, uint16_t cport, uint32_t seq, uint16_t mtu,
       uint32_t quote_len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(h_pool);
	struct rte_ipv4_hdr *ip, *q;
	struct rte_icmp_hdr *icmp;
	struct rte_tcp_hdr *th;
	uint32_t len = sizeof(*ip) + sizeof(*icmp) + sizeof(*q) + quote_len;

	assert_non_null(m);
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(m, len);
	assert_non_null(ip);
	memset(ip, 0, len);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(len);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = rte_cpu_to_be_32(0xC61200FEu);
	ip->dst_addr = rte_cpu_to_be_32(H_SADDR);
	icmp = (struct rte_icmp_hdr *)(ip + 1);
	icmp->icmp_type = type;
	icmp->icmp_code = code;
	icmp->icmp_seq_nb = rte_cpu_to_be_16(mtu);
	q = (struct rte_ipv4_hdr *)(icmp + 1);
	q->version_ihl = RTE_IPV4_VHL_DEF;
	q->total_length = rte_cpu_to_be_16(1500);
	q->next_proto_id = IPPROTO_TCP;
	q->src_addr = rte_cpu_to_be_32(H_SADDR);
	q->dst_addr = rte_cpu_to_be_32(H_CADDR);
	th = (struct rte_tcp_hdr *)(q + 1);
	if (quote_len >= 8) {
		th->src_port = rte_cpu_to_be_16(h->lport);
		th->dst_port = rte_cpu_to_be_16(cport);
		th->sent_seq = rte_cpu_to_be_32(seq);
	}
	icmp->icmp_cksum = ~rte_raw_cksum(icmp, len - sizeof(*ip));
	m->l3_len = sizeof(*ip);
	return tcp_icmp_input(h->e, m, h->now);
}

int
h_main(const char *name, const struct CMUnitTest *tests, size_t ntests, unsigned mbufs,
       uint32_t max_flows, void (*ready)(void))
{
	char *argv[] = {
		(char *)(uintptr_t)name, "--no-huge", "--no-pci", "--no-shconf", "-m", "256",
		"--log-level=error",	 "-l",	      "0",	  NULL};
	int rc;

	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		printf("skip: EAL cannot start here: %s\n", rte_strerror(rte_errno));
		return 77;
	}
	h_pool = rte_pktmbuf_pool_create("tcp_test", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	if (h_pool == NULL) {
		printf("mbuf pool: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	for (uint32_t i = 0; i < sizeof(h_pattern); i++)
		h_pattern[i] = (uint8_t)(i * 7 + i / 251);
	rcu_register_thread();
	h_table = tcp_flow_table_create(max_flows, 1234);
	if (h_table == NULL) {
		printf("flow table: %s\n", strerror(errno));
		return 1;
	}
	if (ready != NULL)
		ready();
	rc = _cmocka_run_group_tests(name, tests, ntests, NULL, NULL);
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
	rcu_unregister_thread();
	rte_eal_cleanup();
	return rc;
}
