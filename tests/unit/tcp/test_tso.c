/* TSO unit tests: the engine's large packets cut by DPDK's own rte_gso, as net_tap does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_gso.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "tests/unit/tcp/harness.h"

#define TAP_MTU 1500
#define OPTS_NO_TS                                                                                 \
	{                                                                                          \
		.mss = 1460, .ws = 7, .sackp = true                                                \
	}

/*
 * The "device": net_tap's TX path of DPDK 22.11, built from the same pieces. A packet with
 * RTE_MBUF_F_TX_TCP_SEG is checked the way net_tap checks it (tso_segsz plus every header,
 * the Ethernet one the dataplane adds included, within the MTU), cut by rte_gso_segment(),
 * and each result summed piece by piece as tap_write_mbufs() sums its iovecs; offloaded
 * ordinary packets are summed the same way. h_pop() then verifies every checksum in full.
 */
struct dev {
	struct rte_gso_ctx gso;
	unsigned int tso_pkts;	 /* large packets the engine handed over */
	unsigned int wire_segs;	 /* segments that came out of them */
	unsigned int plain_pkts; /* ordinary packets with payload */
	uint16_t last_segsz;
	uint32_t last_tso_len; /* payload of the last large packet */
	unsigned int nb_plain;
	uint32_t plain_seq[256]; /* sequence numbers of ordinary data packets */
	uint32_t plain_len[256];
};

static struct dev dev;

static void
dev_reset(void)
{
	struct rte_gso_ctx gso = dev.gso;

	memset(&dev, 0, sizeof(dev));
	dev.gso = gso;
}

static void
ext_free(void *addr, void *opaque)
{
	(void)addr;
	(void)opaque;
}

/* net_tap's software TCP checksum: each mbuf's bytes summed as if they started a word. */
static void
tap_sum(struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	uint32_t raw, sum;
	uint16_t phdr;

	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	th->cksum = 0;
	phdr = rte_ipv4_phdr_cksum(ip, 0);
	raw = __rte_raw_cksum(th, sizeof(*th), 0);
	if (m->data_len > sizeof(*ip) + sizeof(*th))
		raw = __rte_raw_cksum((uint8_t *)(th + 1), m->data_len - sizeof(*ip) - sizeof(*th),
				      raw);
	for (struct rte_mbuf *s = m->next; s != NULL; s = s->next)
		raw = __rte_raw_cksum(rte_pktmbuf_mtod(s, void *), s->data_len, raw);
	sum = __rte_raw_cksum_reduce(raw) + phdr;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	th->cksum = (uint16_t)(sum == 0 ? 0xffff : sum);
}

static void
dev_out(struct h *h, struct rte_mbuf *m)
{
	if ((m->ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM)
		tap_sum(m);
	if (h->nout >= H_MAX_OUT) {
		rte_pktmbuf_free(m);
		fail_msg("output capture overflow");
	}
	h->out[h->nout++] = m;
}

static void
dev_tx(void *arg, struct rte_mbuf *m)
{
	struct h *h = arg;
	struct rte_mbuf *segs[64];
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)(ip + 1);
	uint32_t hlen = m->l3_len + m->l4_len;
	int n;

	if (!(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG)) {
		if (m->pkt_len > hlen && dev.nb_plain < RTE_DIM(dev.plain_seq)) {
			dev.plain_seq[dev.nb_plain] = rte_be_to_cpu_32(th->sent_seq);
			dev.plain_len[dev.nb_plain++] = m->pkt_len - hlen;
		}
		if (m->pkt_len > hlen)
			dev.plain_pkts++;
		/* what DPDK asks of a packet whose TCP checksum the port computes */
		if (m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM)
			assert_int_equal(th->cksum, rte_ipv4_phdr_cksum(ip, m->ol_flags));
		assert_true(m->pkt_len <= TAP_MTU);
		dev_out(h, m);
		return;
	}
	dev.tso_pkts++;
	dev.last_segsz = m->tso_segsz;
	dev.last_tso_len = m->pkt_len - hlen;
	/* what DPDK asks of a TSO packet, and one header for all its segments */
	assert_true(m->ol_flags & RTE_MBUF_F_TX_IPV4);
	assert_true(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM);
	assert_int_equal(m->l2_len, 0);
	assert_int_equal(m->l3_len, sizeof(*ip));
	assert_int_equal(m->l4_len, (th->data_off >> 4) * 4u);
	assert_int_equal(m->data_len, hlen);
	assert_int_equal(rte_be_to_cpu_16(ip->total_length), m->pkt_len);
	assert_int_equal(th->cksum, rte_ipv4_phdr_cksum(ip, m->ol_flags));
	assert_true(m->pkt_len - hlen > m->tso_segsz);
	/* net_tap's check: the dataplane adds 14 bytes of Ethernet header (l2_len then) */
	assert_true(m->tso_segsz + RTE_ETHER_HDR_LEN + hlen <= TAP_MTU);
	m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM; /* as net_tap does before segmenting */
	dev.gso.gso_size = (uint16_t)(m->tso_segsz + hlen);
	n = rte_gso_segment(m, &dev.gso, segs, RTE_DIM(segs));
	assert_true(n > 1);
	rte_pktmbuf_free(m);
	dev.wire_segs += (unsigned int)n;
	for (int i = 0; i < n; i++)
		dev_out(h, segs[i]);
}

static void
tso_tap(struct tcp_engine_params *p)
{
	p->tx = dev_tx;
	p->csum_offload = true;
	p->tso = true;
	p->tso_mtu = TAP_MTU - RTE_ETHER_HDR_LEN;
}

static void
tso_no_csum(struct tcp_engine_params *p)
{
	tso_tap(p);
	p->csum_offload = false;
}

static const struct tcp_stats *
stats(struct h *h)
{
	return tcp_engine_stats(h->e);
}

/* Pops every pending data segment into buf at its offset from base; returns how many. */
static unsigned int
pop_data(struct h *h, uint32_t base, uint8_t *buf, uint32_t *hi, uint32_t *max_len)
{
	struct h_pkt p;
	unsigned int n = 0;

	while (h_pending(h)) {
		h_pop(h, &p);
		if (p.len == 0)
			continue;
		memcpy(buf + (p.seq - base), p.data, p.len);
		if (p.seq + p.len - base > *hi)
			*hi = p.seq + p.len - base;
		*max_len = RTE_MAX(*max_len, p.len);
		n++;
	}
	return n;
}

/*
 * New data the window allows for many segments goes out as one large packet per output
 * round: header once, tso_segsz of the flow's size short of net_tap's MTU check, whole
 * segments only until the last of the queue; the device's segments follow each other
 * without gaps, the last one alone carries PSH; a whole download arrives byte-exact.
 */
static void
test_tso_download(void **state)
{
	static uint8_t got[1 << 18];
	struct h h;
	struct h_pkt p;
	struct h_opts o = OPTS_NO_TS;
	uint32_t base, hi = 0, max_len = 0, size = 200000;
	unsigned int segs;

	(void)state;
	dev_reset();
	h_init(&h, tso_tap);
	assert_int_equal(h_connect(&h, 41001, H_APP_PORT, &o, 1), 0);
	h.app.flow = h_flow(&h);
	base = h.sseq;
	assert_int_equal(tcp_send(h.app.flow, h_pattern, size), size);

	/* IW10: 10 MSS of window; 1446-byte segments (1500 - 14 - 40), 10 of them */
	assert_int_equal(dev.tso_pkts, 1);
	assert_int_equal(dev.last_segsz, 1446);
	assert_int_equal(dev.last_tso_len, 10 * 1446);
	assert_int_equal(h_pending(&h), 10);
	for (int i = 0; i < 10; i++) {
		h_pop(&h, &p);
		assert_int_equal(p.seq, base + (uint32_t)i * 1446);
		assert_int_equal(p.len, 1446);
		assert_int_equal(p.flags, F_ACK);
		assert_memory_equal(p.data, h_pattern + i * 1446, 1446);
	}
	assert_int_equal(stats(&h)->seg_out, 1 + 10); /* the SYN-ACK, then the port's segments */
	/* the peer acknowledges everything: the window grows, the next packets are larger */
	hi = 10 * 1446;
	while (hi < size) {
		h_ack(&h, base + hi, 65535);
		segs = pop_data(&h, base, got, &hi, &max_len);
		assert_true(segs > 0);
	}
	assert_int_equal(hi, size);
	assert_true(max_len <= 1446);
	assert_memory_equal(got + 10 * 1446, h_pattern + 10 * 1446, size - 10 * 1446);
	assert_true(dev.tso_pkts >= 3);
	assert_int_equal(stats(&h)->tso_out, dev.tso_pkts);
	assert_int_equal(stats(&h)->retransmits, 0);
	h_ack(&h, base + size, 65535);
	assert_int_equal(h.app.acked, size);
	h_fini(&h);
}

static void
ack_sack(struct h *h, uint32_t ack, uint32_t lo, uint32_t hi)
{
	uint8_t raw[12] = {1, 1, 5, 10};
	struct h_opts o = {.ws = -1, .raw = raw, .rawlen = 12};

	for (int j = 0; j < 4; j++) {
		raw[4 + j] = (uint8_t)(lo >> (24 - 8 * j));
		raw[8 + j] = (uint8_t)(hi >> (24 - 8 * j));
	}
	h_send(h, F_ACK, h->cseq, ack, 65535, &o, NULL, 0);
}

/*
 * One segment of a large packet lost: the peer SACKs what came after it. The hole goes out
 * again as one ordinary segment of exactly the lost bytes (no TSO flag), the scoreboard and
 * in-flight accounting follow the bytes, and new data resumes in large packets afterwards.
 */
static void
test_tso_loss_in_burst(void **state)
{
	static uint8_t got[1 << 18];
	struct h h;
	struct h_pkt p;
	struct h_opts o = OPTS_NO_TS;
	uint32_t base, hole, hi, max_len = 0, size = 100000;
	unsigned int tso_before;
	bool resent = false;

	(void)state;
	dev_reset();
	h_init(&h, tso_tap);
	assert_int_equal(h_connect(&h, 41002, H_APP_PORT, &o, 1), 0);
	h.app.flow = h_flow(&h);
	base = h.sseq;
	assert_int_equal(tcp_send(h.app.flow, h_pattern, size), size);
	assert_int_equal(dev.tso_pkts, 1);
	/* the peer gets segments 0, 1, then 3..9: segment 2 is lost */
	for (int i = 0; i < 10; i++) {
		h_pop(&h, &p);
		if (i != 2)
			memcpy(got + (p.seq - base), p.data, p.len);
	}
	hole = base + 2 * 1446;
	hi = 10 * 1446;
	h_ack(&h, hole, 65535);
	pop_data(&h, base, got, &hi, &max_len); /* new data that ACK let out arrives */
	tso_before = dev.tso_pkts;
	for (int k = 0; k < 3; k++) {
		ack_sack(&h, hole, hole + 1446, base + hi);
		pop_data(&h, base, got, &hi, &max_len);
	}
	/* fast retransmit: one ordinary MSS-sized segment from the hole (snd_una) */
	for (unsigned int i = 0; i < dev.nb_plain; i++)
		if (dev.plain_seq[i] == hole && dev.plain_len[i] == 1460)
			resent = true;
	assert_true(resent);
	assert_int_equal(stats(&h)->fast_retransmits, 1);
	assert_int_equal(stats(&h)->retransmits, 1);
	assert_int_equal(dev.tso_pkts, tso_before);
	/* no other hole: the peer acknowledges all it has until the download is complete */
	while (hi < size || h_pending(&h)) {
		h_ack(&h, base + hi, 65535);
		pop_data(&h, base, got, &hi, &max_len);
	}
	h_ack(&h, base + size, 65535);
	assert_int_equal(hi, size);
	assert_true(max_len <= 1460);
	assert_memory_equal(got, h_pattern, size);
	assert_true(dev.tso_pkts > tso_before); /* large packets again after recovery */
	assert_int_equal(stats(&h)->retransmits, 1);
	assert_int_equal(stats(&h)->rto_expired, 0);
	assert_int_equal(h.app.acked, size);
	h_fini(&h);
}

/*
 * A retransmission timeout after a large packet was lost whole: go-back-N resends ordinary
 * segments (snd_nxt below snd_max), never a large packet, and the flow then recovers.
 */
static void
test_tso_rto_resends_plain(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = OPTS_NO_TS;
	uint32_t base, size = 30000;
	unsigned int tso_before;

	(void)state;
	dev_reset();
	h_init(&h, tso_tap);
	assert_int_equal(h_connect(&h, 41003, H_APP_PORT, &o, 1), 0);
	h.app.flow = h_flow(&h);
	base = h.sseq;
	assert_int_equal(tcp_send(h.app.flow, h_pattern, size), size);
	assert_int_equal(dev.tso_pkts, 1);
	h_drain(&h);	      /* all ten lost */
	h_advance(&h, 20000); /* the tail loss probe: new data, an ordinary segment, lost too */
	assert_int_equal(stats(&h)->tlp_probes, 1);
	h_drain(&h);
	tso_before = dev.tso_pkts;
	h_advance(&h, 1100000);
	assert_int_equal(stats(&h)->rto_expired, 1);
	assert_int_equal(h_pending(&h), 1); /* cwnd 1 after the RTO */
	h_pop(&h, &p);
	assert_int_equal(p.seq, base);
	assert_int_equal(p.len, 1460);
	assert_int_equal(dev.tso_pkts, tso_before);
	assert_int_equal(stats(&h)->retransmits, 1);
	h_fini(&h);
}

/*
 * A chain piece of odd length before the end of a large packet would make net_tap's sum
 * wrong on the segment that holds it (tap_sum above sums the way it does and h_pop checks
 * the real checksum). Here a 3001-byte buffer is followed by another: the first large
 * packet stops at the last whole segment before 3001, the segment across the boundary goes
 * out alone (summed by the engine), and large packets resume behind it.
 */
static void
test_tso_odd_piece(void **state)
{
	static struct rte_mbuf_ext_shared_info shinfo = {.free_cb = ext_free};
	static uint8_t got[1 << 16];
	struct h h;
	struct h_pkt p;
	struct h_opts o = OPTS_NO_TS;
	uint32_t base, hi = 0, max_len = 0, size = 3001 + 40000;

	(void)state;
	dev_reset();
	rte_mbuf_ext_refcnt_set(&shinfo, 1);
	h_init(&h, tso_tap);
	assert_int_equal(h_connect(&h, 41004, H_APP_PORT, &o, 1), 0);
	h.app.flow = h_flow(&h);
	base = h.sseq;
	tcp_tx_budget(h.e, 0); /* queue both before output */
	assert_int_equal(tcp_send(h.app.flow, h_pattern, 3001), 3001);
	assert_int_equal(tcp_send_ext(h.app.flow, h_pattern + 3001, RTE_BAD_IOVA, 40000, &shinfo),
			 40000);
	tcp_tx_budget(h.e, UINT32_MAX);
	tcp_tx_resume(h.e);
	/* 2 segments, the one across 3001 alone, then 7 more in one packet: the same round */
	assert_int_equal(dev.tso_pkts, 2);
	assert_int_equal(dev.last_tso_len, 7 * 1446);
	h_pop(&h, &p);
	h_pop(&h, &p);
	assert_int_equal(p.seq, base + 1446);
	assert_int_equal(p.len, 1446);
	h_pop(&h, &p); /* across 3001: an ordinary segment, checksum right (h_pop) */
	assert_int_equal(p.seq, base + 2 * 1446);
	assert_int_equal(p.len, 1460);
	memcpy(got, h_pattern, 2 * 1446);
	hi = 2 * 1446;
	memcpy(got + hi, p.data, p.len);
	hi += p.len;
	while (hi < size) {
		pop_data(&h, base, got, &hi, &max_len);
		h_ack(&h, base + hi, 65535);
	}
	assert_memory_equal(got, h_pattern, size);
	assert_true(dev.tso_pkts >= 2);
	assert_int_equal(stats(&h)->retransmits, 0);
	h_ack(&h, base + size, 65535);
	h_fini(&h);
}

/* The caller's pacing budget counts the port's segments: a large packet never exceeds it. */
static void
test_tso_budget_and_limits(void **state)
{
	struct h h;
	struct h_opts o = OPTS_NO_TS;

	(void)state;
	dev_reset();
	h_init(&h, tso_tap);
	assert_int_equal(h_connect(&h, 41005, H_APP_PORT, &o, 1), 0);
	h.app.flow = h_flow(&h);
	tcp_tx_budget(h.e, 4);
	assert_int_equal(tcp_send(h.app.flow, h_pattern, 50000), 50000);
	assert_int_equal(dev.tso_pkts, 1);
	assert_int_equal(dev.last_tso_len, 4 * 1446);
	assert_int_equal(h_pending(&h), 4);
	assert_true(tcp_tx_waiting(h.e));
	h_drain(&h);
	tcp_tx_budget(h.e, UINT32_MAX);
	tcp_tx_resume(h.e);
	assert_int_equal(dev.tso_pkts, 2);
	assert_int_equal(dev.last_tso_len, 6 * 1446);
	h_fini(&h);

	/* without the port's checksums TSO is never used */
	dev_reset();
	h_init(&h, tso_no_csum);
	assert_int_equal(h_connect(&h, 41006, H_APP_PORT, &o, 1), 0);
	h.app.flow = h_flow(&h);
	assert_int_equal(tcp_send(h.app.flow, h_pattern, 50000), 50000);
	assert_int_equal(dev.tso_pkts, 0);
	assert_int_equal(dev.plain_pkts, 10);
	h_fini(&h);
}

/* The "NIC" cuts large packets with rte_gso from the harness's pool. */
static void
gso_ready(void)
{
	dev.gso.direct_pool = h_pool;
	dev.gso.indirect_pool = h_pool;
	dev.gso.gso_types = RTE_ETH_TX_OFFLOAD_TCP_TSO;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tso_download),
		cmocka_unit_test(test_tso_loss_in_burst),
		cmocka_unit_test(test_tso_rto_resends_plain),
		cmocka_unit_test(test_tso_odd_piece),
		cmocka_unit_test(test_tso_budget_and_limits),
	};

	return h_main("test_tso", tests, RTE_DIM(tests), 16383, 16384, gso_ready);
}
