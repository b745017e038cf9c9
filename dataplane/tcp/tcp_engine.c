/* TCP engine lifecycle, segment output, timer wheel, flow lifecycle and the application API. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_tcp.h>

#include "dataplane/tcp/tcp_cksum.h"
#include "dataplane/tcp/tcp_priv.h"

RTE_LOG_REGISTER(ag_logtype_tcp, authgate.tcp, NOTICE);

#define TCP_CWND_MAX (1u << 30)
/* A large packet's IPv4 total length must fit 16 bits, with the longest headers. */
#define TCP_TSO_MAX_BYTES (65535u - 20 - 60)
#define TCP_SYNACK_WND	  65535u
/* Linux's tcp_invalid_ratelimit: answers to invalid segments, per flow. */

void
tcp_engine_params_init(struct tcp_engine_params *p)
{
	memset(p, 0, sizeof(*p));
	p->nb_lcores = 1;
	p->mtu = 1500;
	p->max_flows = 16384;
	p->sndbuf = 256 * 1024;
	p->rcvbuf = 128 * 1024;
	p->max_half_open = 1024;
	p->syncookies = TCP_SYNCOOKIE_AUTO;
	p->pool_low_watermark = 256;
	p->rto_init_us = 1000 * 1000;
	p->rto_min_us = 200 * 1000;
	p->rto_max_us = 60 * 1000 * 1000;
	p->delack_us = 40 * 1000;
	p->max_retries = 12;
	p->syn_retries = 5;
	p->time_wait_us = 10ULL * 1000 * 1000;
	p->fin_wait2_us = 60ULL * 1000 * 1000;
	p->persist_timeout_us = 120ULL * 1000 * 1000;
	p->idle_timeout_us = 0;
	p->keepalive_us = 0;
	p->keepalive_intvl_us = 75ULL * 1000 * 1000;
	p->keepalive_probes = 9;
	p->challenge_ack_limit = 1000;
	p->rx_flow_share = 16;
	p->tso_max_bytes = TCP_TSO_MAX_BYTES;
	p->tso_max_segs = 64;
	p->seed = 0;
}

/* ---------------------------------------------------------------- mbuf helpers */

/* Drop n leading bytes of a chain; returns the new head (NULL when nothing is left). */
struct rte_mbuf *
tcp_mbuf_chop(struct rte_mbuf *m, uint32_t n)
{
	while (m != NULL && n > 0) {
		if (n >= m->data_len) {
			struct rte_mbuf *next = m->next;
			uint32_t pkt_len = m->pkt_len - m->data_len;
			uint16_t nb_segs = m->nb_segs - 1;

			n -= m->data_len;
			m->next = NULL;
			m->nb_segs = 1;
			rte_pktmbuf_free_seg(m);
			m = next;
			if (m != NULL) {
				m->pkt_len = pkt_len;
				m->nb_segs = nb_segs;
			}
		} else {
			m->data_off += n;
			m->data_len -= n;
			m->pkt_len -= n;
			n = 0;
		}
	}
	if (m != NULL && m->pkt_len == 0) {
		rte_pktmbuf_free(m);
		m = NULL;
	}
	return m;
}

/* Keep the first keep bytes of a chain; returns NULL when keep is 0. */
struct rte_mbuf *
tcp_mbuf_cut(struct rte_mbuf *m, uint32_t keep)
{
	struct rte_mbuf *s = m;
	uint32_t left = keep;
	uint16_t segs = 1;

	if (m == NULL || keep >= m->pkt_len)
		return m;
	if (keep == 0) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	while (left > s->data_len) {
		left -= s->data_len;
		s = s->next;
		segs++;
	}
	s->data_len = left;
	if (s->next != NULL) {
		rte_pktmbuf_free(s->next);
		s->next = NULL;
	}
	m->pkt_len = keep;
	m->nb_segs = segs;
	return m;
}

/* ---------------------------------------------------------------- output */

static uint32_t
ts_now(const struct tcp_engine *e)
{
	return (uint32_t)(e->now / TCP_TS_HZ_DIV);
}

/* Window to advertise (bytes), never moving the right edge left (RFC 9293 3.8.6.2.2). */
static inline uint32_t
rcv_window(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;
	uint32_t used = f->rcvq_bytes + f->ooo_bytes;
	uint32_t space = used < e->p.rcvbuf ? e->p.rcvbuf - used : 0;
	uint32_t old = seq_gt(f->rcv_adv, f->rcv_nxt) ? f->rcv_adv - f->rcv_nxt : 0;
	uint32_t max = (uint32_t)65535 << f->rcv_wscale;

	/* Receiver SWS avoidance: do not open a sliver of window. */
	if (space < f->mss && space < e->p.rcvbuf / 4)
		space = 0;
	if (space < old)
		space = old;
	return RTE_MIN(space, max);
}

/* NOP, NOP, timestamps (RFC 7323 appendix A layout): 12 bytes at o. */
static inline uint8_t
put_ts_opt(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
	uint32_t v = rte_cpu_to_be_32(tsval);
	uint32_t r = rte_cpu_to_be_32(tsecr);

	o[0] = 1;
	o[1] = 1;
	o[2] = 8;
	o[3] = 10;
	memcpy(o + 4, &v, 4);
	memcpy(o + 8, &r, 4);
	return 12;
}

/* SACK blocks for what sits out of order, after the n bytes of options already at o. */
static uint8_t
build_sack_opt(struct tcp_flow *f, uint8_t *o, uint8_t n)
{
	/* Ranges of adjacent OOO entries; the one last touched goes first (RFC 2018). */
	uint32_t lo[TCP_OOO_MAX], hi[TCP_OOO_MAX];
	unsigned int nr = 0, first = 0, max_blocks = (40 - n - 4) / 8, nb = 0;

	for (unsigned int i = 0; i < f->nb_ooo; i++) {
		const struct tcp_ooo *q = &f->ooo[i];

		if (nr > 0 && q->seq == hi[nr - 1]) {
			hi[nr - 1] = q->seq + q->len;
		} else {
			lo[nr] = q->seq;
			hi[nr] = q->seq + q->len;
			nr++;
		}
		if (i == f->ooo_last)
			first = nr - 1;
	}
	o[n] = 1;
	o[n + 1] = 1;
	o[n + 2] = 5;
	uint8_t *b = o + n + 4;
	for (int k = -1; k < (int)nr && nb < max_blocks; k++) {
		/* k == -1: the newest block; then the others from the highest down */
		unsigned int idx = k < 0 ? first : nr - 1 - (unsigned int)k;
		uint32_t l, h;

		if (k >= 0 && idx == first)
			continue;
		l = rte_cpu_to_be_32(lo[idx]);
		h = rte_cpu_to_be_32(hi[idx]);
		memcpy(b, &l, 4);
		memcpy(b + 4, &h, 4);
		b += 8;
		nb++;
	}
	o[n + 3] = (uint8_t)(2 + 8 * nb);
	n += 4 + 8 * nb;
	return n;
}

/* Options for non-SYN segments: timestamps, then SACK blocks for what sits out of order. */
static inline uint8_t
build_opts(struct tcp_flow *f, uint8_t *o, bool with_sack)
{
	uint8_t n = 0;

	if (f->flags & TF_TS)
		n = put_ts_opt(o, ts_now(f->e) + f->ts_offset, f->ts_recent);
	if (unlikely(with_sack && (f->flags & TF_SACK) && f->nb_ooo > 0))
		n = build_sack_opt(f, o, n);
	return n;
}

/*
 * rte_ipv4_phdr_cksum's sum for the flow's addresses and TCP, length 0, before folding: a
 * segment adds its length and folds (the same value, without building the pseudo-header).
 */
static uint32_t
phdr_sum(const struct tcp_tuple *t)
{
	struct {
		uint32_t src, dst;
		uint8_t zero, proto;
		uint16_t len;
	} __rte_packed psd = {
		.src = rte_cpu_to_be_32(t->laddr),
		.dst = rte_cpu_to_be_32(t->raddr),
		.proto = IPPROTO_TCP,
	};

	return __rte_raw_cksum(&psd, sizeof(psd), 0);
}

/* A segment other than the last with an odd length: see xmit_raw. */
static bool
cksum_odd_interior(const struct rte_mbuf *m)
{
	for (; m->next != NULL; m = m->next)
		if (m->data_len & 1)
			return true;
	return false;
}

/*
 * Build one segment: headers in a fresh mbuf, payload attached from the send queue
 * (indirect mbufs, zero copy) or copied when tx_linear. Sends it through the tx callback.
 */
static int
xmit_raw(struct tcp_engine *e, const struct tcp_tuple *tp, uint32_t seq, uint32_t ack,
	 uint8_t flags, uint16_t win, const uint8_t *opts, uint8_t optlen, struct tcp_flow *src,
	 uint32_t off, uint32_t len, uint16_t tso_segsz)
{
	uint32_t nb_segs = 1;

	struct rte_mbuf *m = rte_pktmbuf_alloc(e->p.hdr_pool);
	struct rte_mbuf *last;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;
	uint16_t hlen = sizeof(*ip) + sizeof(*th) + optlen;

	if (m == NULL) {
		e->stats.no_mbuf++;
		return -ENOBUFS;
	}
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(m, hlen);
	th = (struct rte_tcp_hdr *)(ip + 1);
	last = m;
	if (len > 0) {
		struct rte_mbuf *c = src->sndq_head;

		while (off >= c->data_len) {
			off -= c->data_len;
			c = c->next;
		}
		for (uint32_t left = len; left > 0; c = c->next, off = 0) {
			uint32_t n = RTE_MIN(left, (uint32_t)c->data_len - off);

			if (e->p.tx_linear && last == m && rte_pktmbuf_tailroom(m) >= n) {
				memcpy(rte_pktmbuf_append(m, n),
				       rte_pktmbuf_mtod_offset(c, void *, off), n);
			} else {
				/*
				 * Not reset: rte_pktmbuf_attach writes every field an mbuf from
				 * the pool may hold stale (a pooled mbuf is direct, refcnt 1).
				 */
				struct rte_mbuf *mi = rte_mbuf_raw_alloc(e->p.hdr_pool);

				if (mi == NULL) {
					e->stats.no_mbuf++;
					rte_pktmbuf_free(m);
					return -ENOBUFS;
				}
				rte_pktmbuf_attach(mi, c);
				mi->data_off += off;
				mi->data_len = n;
				mi->pkt_len = n;
				last->next = mi;
				last = mi;
				m->nb_segs++;
				m->pkt_len += n;
			}
			left -= n;
		}
	}
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16(m->pkt_len);
	if (tso_segsz != 0 && len > tso_segsz)
		nb_segs = (len + tso_segsz - 1) / tso_segsz;
	else
		tso_segsz = 0;
	/* the port numbers the segments of a large packet on from its ID */
	ip->packet_id =
		rte_cpu_to_be_16(src != NULL ? src->ip_id : tcp_ip_id_stateless(e, tp, seq));
	if (src != NULL)
		src->ip_id = (uint16_t)(src->ip_id + nb_segs);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->hdr_checksum = 0;
	ip->src_addr = rte_cpu_to_be_32(tp->laddr);
	ip->dst_addr = rte_cpu_to_be_32(tp->raddr);
	th->src_port = rte_cpu_to_be_16(tp->lport);
	th->dst_port = rte_cpu_to_be_16(tp->rport);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32((flags & TCP_FL_ACK) ? ack : 0);
	th->data_off = (uint8_t)(((sizeof(*th) + optlen) / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(win);
	th->cksum = 0;
	th->tcp_urp = 0;
	if (optlen == 12)
		memcpy(th + 1, opts, 12); /* timestamps alone: a fixed copy, no call */
	else if (optlen > 0)
		memcpy(th + 1, opts, optlen);
	m->l2_len = 0;
	m->l3_len = sizeof(*ip);
	m->l4_len = sizeof(*th) + optlen;
	/*
	 * DPDK 22.11's software "offloads" (net_tap's TX path, rte_raw_cksum_mbuf) sum each
	 * segment as if it started on a 16-bit boundary: a chain with an odd-length segment
	 * before its last gets a wrong checksum. Such a packet (the segment that spans an
	 * odd-length response head and the file after it) is summed here; the rest offload.
	 * net_tap segments a large packet (rte_gso) into chains that it sums the same way:
	 * tso_len() never builds one with an odd-length piece before its last.
	 */
	if (tso_segsz != 0) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_SEG;
		m->tso_segsz = tso_segsz;
		/* with TCP_SEG: the pseudo-header sum without the length, as DPDK asks */
		th->cksum = __rte_raw_cksum_reduce(src->phdr_sum);
		e->stats.tso_out++;
	} else if (e->p.csum_offload && likely(!cksum_odd_interior(m))) {
		m->ol_flags |=
			RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
		/* rte_ipv4_phdr_cksum's value: the flow's sum of the rest plus the length */
		th->cksum =
			src != NULL
				? __rte_raw_cksum_reduce(
					  src->phdr_sum +
					  rte_cpu_to_be_16((uint16_t)(m->pkt_len - sizeof(*ip))))
				: rte_ipv4_phdr_cksum(ip, m->ol_flags);
	} else {
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		th->cksum = tcp_cksum_ipv4_mbuf(m, ip, sizeof(*ip));
	}
	e->stats.seg_out += nb_segs;
	e->stats.bytes_out += len;
	if (len > 0 && e->tx_budget != UINT32_MAX)
		e->tx_budget -= RTE_MIN(e->tx_budget, nb_segs);
	if (flags & TCP_FL_RST)
		e->stats.rst_out++;
	e->p.tx(e->p.tx_arg, m);
	return 0;
}

/*
 * A segment of flow f; ACK fields, window and options filled from the flow. tso_segsz != 0:
 * a large packet the port cuts into segments of that size.
 */
static int
xmit_seg(struct tcp_flow *f, uint32_t seq, uint32_t len, uint8_t flags, uint16_t tso_segsz)
{
	uint8_t opts[40];
	uint8_t optlen;
	uint32_t win = 0;

	if (flags & TCP_FL_ACK) {
		/* Round up: rounding down could pull the right edge below what we promised. */
		win = RTE_MIN((rcv_window(f) + (1u << f->rcv_wscale) - 1) >> f->rcv_wscale, 65535u)
		      << f->rcv_wscale;
		f->rcv_adv = seq_max(f->rcv_adv, f->rcv_nxt + win);
		f->last_ack_sent = f->rcv_nxt;
		f->flags &= ~(TF_ACKNOW | TF_DELACK);
		f->delack_at = 0;
		f->unacked_segs = 0;
	}
	optlen = build_opts(f, opts, len == 0 && !(flags & (TCP_FL_RST | TCP_FL_FIN)));
	return xmit_raw(f->e, &f->tuple, seq, f->rcv_nxt, flags, (uint16_t)(win >> f->rcv_wscale),
			opts, optlen, f, seq - f->snd_una, len, tso_segsz);
}

static int
xmit(struct tcp_flow *f, uint32_t seq, uint32_t len, uint8_t flags)
{
	return xmit_seg(f, seq, len, flags, 0);
}

void
tcp_send_ack(struct tcp_flow *f)
{
	xmit(f, f->snd_nxt, 0, TCP_FL_ACK);
}

void
tcp_send_bare_ack(struct tcp_engine *e, const struct tcp_tuple *tp, uint32_t seq, uint32_t ack,
		  uint16_t win, bool ts, uint32_t ts_offset, uint32_t ts_recent)
{
	uint8_t o[12];
	uint8_t n = ts ? put_ts_opt(o, ts_now(e) + ts_offset, ts_recent) : 0;

	xmit_raw(e, tp, seq, ack, TCP_FL_ACK, win, o, n, NULL, 0, 0, 0);
}

/* xorshift64*: not a secret, only unpredictable enough to blur a count (seeded from keys). */
static uint32_t
engine_rand(struct tcp_engine *e)
{
	e->rng ^= e->rng >> 12;
	e->rng ^= e->rng << 25;
	e->rng ^= e->rng >> 27;
	return (uint32_t)((e->rng * 0x2545f4914f6cdd1dULL) >> 32);
}

void
tcp_send_oow_ack(struct tcp_flow *f)
{
	if (!tcp_oow_slot(&f->oow_ack_at, f->e->now)) {
		f->e->stats.oow_acks_limited++;
		return;
	}
	tcp_send_ack(f);
}

/*
 * RFC 5961 section 7. The per-flow limit comes first: a budget shared by every flow and
 * reset on the second is the CVE-2016-5696 side channel (an attacker counts the challenge
 * ACKs its own connection gets to learn whether its spoofed RSTs hit another flow's window).
 * One per flow per 500 ms leaves its own connection nothing to count; the engine-wide budget
 * (against floods over many flows) is redrawn every second so that it reveals nothing either.
 */
bool
tcp_challenge_budget(struct tcp_engine *e)
{
	uint64_t sec = e->now / 1000000;

	if (sec != e->challenge_sec) {
		uint32_t lim = RTE_MAX(e->p.challenge_ack_limit, 1u);

		e->challenge_sec = sec;
		e->challenge_left = (lim + 1) / 2 + engine_rand(e) % lim;
	}
	if (e->challenge_left == 0)
		return false;
	e->challenge_left--;
	return true;
}

void
tcp_send_challenge_ack(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;

	if (!tcp_oow_slot(&f->oow_ack_at, f->e->now) || !tcp_challenge_budget(e)) {
		e->stats.challenge_acks_limited++;
		return;
	}
	e->stats.challenge_acks++;
	tcp_send_ack(f);
}

/* The options of a SYN or SYN-ACK: MSS, SACK-permitted, timestamps, window scale. */
static uint8_t
syn_opts(struct tcp_engine *e, const struct tcp_tuple *tp, bool ws, bool sack, bool ts,
	 uint32_t tsecr, uint8_t *o)
{
	uint8_t n = 0;
	uint16_t mss = rte_cpu_to_be_16(e->local_mss);

	o[n++] = 2;
	o[n++] = 4;
	memcpy(o + n, &mss, 2);
	n += 2;
	if (ts) {
		uint32_t v = rte_cpu_to_be_32(ts_now(e) + tcp_ts_offset(e, tp));
		uint32_t r = rte_cpu_to_be_32(tsecr);

		if (sack) {
			o[n++] = 4;
			o[n++] = 2;
		} else {
			o[n++] = 1;
			o[n++] = 1;
		}
		o[n++] = 8;
		o[n++] = 10;
		memcpy(o + n, &v, 4);
		memcpy(o + n + 4, &r, 4);
		n += 8;
	} else if (sack) {
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 4;
		o[n++] = 2;
	}
	if (ws) {
		o[n++] = 1;
		o[n++] = 3;
		o[n++] = 3;
		o[n++] = e->rcv_wscale;
	}
	return n;
}

void
tcp_send_synack(struct tcp_engine *e, const struct tcp_tuple *tp, uint32_t iss, uint32_t ack,
		bool ws, bool sack, bool ts, uint32_t tsecr)
{
	uint8_t o[40];
	uint8_t n = syn_opts(e, tp, ws, sack, ts, tsecr, o);

	xmit_raw(e, tp, iss, ack, TCP_FL_SYN | TCP_FL_ACK, RTE_MIN(e->p.rcvbuf, TCP_SYNACK_WND), o,
		 n, NULL, 0, 0, 0);
}

/* An active open's SYN: it offers every option (the SYN-ACK decides what is used). */
int
tcp_xmit_syn(struct tcp_engine *e, struct tcp_flow *f, uint16_t win)
{
	uint8_t o[40];
	uint8_t n = syn_opts(e, &f->tuple, true, true, true, 0, o);

	return xmit_raw(e, &f->tuple, f->iss, 0, TCP_FL_SYN, win, o, n, f, 0, 0, 0);
}

/* RFC 9293 3.10.7.1: the reset for a segment that belongs to no connection. */
void
tcp_send_rst_reply(struct tcp_engine *e, const struct tcp_seg *s)
{
	if (s->flags & TCP_FL_RST)
		return;
	if (s->flags & TCP_FL_ACK)
		xmit_raw(e, &s->tuple, s->ack, 0, TCP_FL_RST, 0, NULL, 0, NULL, 0, 0, 0);
	else
		xmit_raw(e, &s->tuple, 0,
			 s->seq + s->len + !!(s->flags & TCP_FL_SYN) + !!(s->flags & TCP_FL_FIN),
			 TCP_FL_RST | TCP_FL_ACK, 0, NULL, 0, NULL, 0, 0, 0);
}

static void
syn_ack_flow(struct tcp_flow *f)
{
	tcp_send_synack(f->e, &f->tuple, f->iss, f->rcv_nxt, f->flags & TF_WS, f->flags & TF_SACK,
			f->flags & TF_TS, f->ts_recent);
	f->rcv_adv = f->rcv_nxt + RTE_MIN(f->e->p.rcvbuf, TCP_SYNACK_WND);
	f->last_ack_sent = f->rcv_nxt;
}

void
tcp_retransmit_una(struct tcp_flow *f)
{
	uint32_t len = RTE_MIN(tcp_smss(f), f->sndq_bytes);
	uint8_t flags = TCP_FL_ACK;

	f->flags &= ~TF_RTT_TIMING; /* Karn: no sample from a retransmitted segment */
	f->e->stats.retransmits++;
	f->rack_rtx_us = f->e->now;
	f->rack_mark = f->snd_nxt;
	if ((f->flags & TF_FIN_SENT) && f->snd_una + len == f->fin_seq)
		flags |= TCP_FL_FIN;
	if (len == 0 && !(flags & TCP_FL_FIN))
		return;
	xmit(f, f->snd_una, len, flags | (len == f->sndq_bytes && len ? TCP_FL_PSH : 0));
}

/* ---------------------------------------------------------------- SACK scoreboard */

void
tcp_sb_clear(struct tcp_flow *f)
{
	f->nb_sb = 0;
	f->sacked = 0;
	f->fack = f->snd_una;
}

static void
sb_recount(struct tcp_flow *f)
{
	f->sacked = 0;
	f->fack = f->snd_una;
	for (unsigned int i = 0; i < f->nb_sb; i++) {
		f->sacked += f->sb[i][1] - f->sb[i][0];
		f->fack = seq_max(f->fack, f->sb[i][1]);
	}
}

/* Forget what snd_una passed, then merge the segment's SACK blocks (RFC 2018, 6675). */
void
tcp_sb_update(struct tcp_flow *f, const struct tcp_opts *o)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < f->nb_sb; i++) {
		if (seq_leq(f->sb[i][1], f->snd_una))
			continue;
		f->sb[n][0] = seq_max(f->sb[i][0], f->snd_una);
		f->sb[n][1] = f->sb[i][1];
		n++;
	}
	f->nb_sb = (uint8_t)n;
	for (unsigned int k = 0; k < o->nb_sack; k++) {
		uint32_t lo = o->sack[k][0], hi = o->sack[k][1];
		unsigned int i = 0, j;

		/* D-SACK, stale or bogus blocks say nothing about holes */
		if (!seq_lt(lo, hi) || seq_leq(hi, f->snd_una) || seq_gt(hi, f->snd_max))
			continue;
		lo = seq_max(lo, f->snd_una);
		while (i < f->nb_sb && seq_lt(f->sb[i][1], lo))
			i++;
		/* merge every range touching [lo, hi) into one at i */
		j = i;
		while (j < f->nb_sb && seq_leq(f->sb[j][0], hi)) {
			lo = seq_lt(f->sb[j][0], lo) ? f->sb[j][0] : lo;
			hi = seq_max(hi, f->sb[j][1]);
			j++;
		}
		if (j == i && f->nb_sb == TCP_SB_MAX)
			continue; /* full: the peer repeats blocks, we catch up later */
		memmove(&f->sb[i + 1], &f->sb[j], (f->nb_sb - j) * sizeof(f->sb[0]));
		f->nb_sb = (uint8_t)(f->nb_sb - (j - i) + 1);
		f->sb[i][0] = lo;
		f->sb[i][1] = hi;
	}
	sb_recount(f);
}

/* Bytes SACKed in [snd_una, upto). */
static uint32_t
sb_sacked_below(const struct tcp_flow *f, uint32_t upto)
{
	uint32_t n = 0;

	for (unsigned int i = 0; i < f->nb_sb && seq_lt(f->sb[i][0], upto); i++)
		n += (seq_lt(f->sb[i][1], upto) ? f->sb[i][1] : upto) - f->sb[i][0];
	return n;
}

/* The caller's budget for this round is spent: f waits its turn (tcp_tx_resume). */
static bool
tx_held(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;

	if (likely(e->tx_budget > 0))
		return false;
	if (!(f->flags & TF_TX_WAIT)) {
		f->flags |= TF_TX_WAIT;
		TAILQ_INSERT_TAIL(&e->tx_wait, f, txw_link);
		e->stats.tx_budget_waits++;
	}
	return true;
}

/*
 * SACK recovery (RFC 6675, simplified as FreeBSD does): what lies beyond the highest SACK
 * is in flight, holes below it are lost, and retransmitted holes are in flight again.
 * Fill the pipe up to cwnd with holes first, then new data.
 */
static bool
output_sack_recovery(struct tcp_flow *f, uint32_t end, uint32_t smss)
{
	uint32_t pipe, rtx_out;
	bool sent = false;

	if (seq_lt(f->rtx_nxt, f->snd_una))
		f->rtx_nxt = f->snd_una;
	rtx_out = (f->rtx_nxt - f->snd_una) - sb_sacked_below(f, f->rtx_nxt);
	pipe = (seq_gt(f->snd_nxt, f->fack) ? f->snd_nxt - f->fack : 0) + rtx_out;
	while (pipe < f->cwnd) {
		uint32_t seq = f->rtx_nxt, len, limit = f->fack;

		for (unsigned int i = 0; i < f->nb_sb; i++) {
			if (seq_geq(seq, f->sb[i][0]) && seq_lt(seq, f->sb[i][1]))
				seq = f->sb[i][1];
			else if (seq_lt(seq, f->sb[i][0])) {
				limit = f->sb[i][0];
				break;
			}
		}
		/* RFC 6675 IsLost: a hole is lost once DupThresh segments were SACKed above it;
		 * before that it may only be reordered. */
		if (seq_lt(seq, f->fack) && seq_lt(seq, end) &&
		    (seq == f->snd_una || f->sacked - sb_sacked_below(f, seq) >= 3 * smss)) {
			len = RTE_MIN(RTE_MIN(smss, limit - seq), end - seq);
			if (tx_held(f) || xmit(f, seq, len, TCP_FL_ACK) != 0)
				break;
			f->e->stats.retransmits++;
			f->flags &= ~TF_RTT_TIMING;
			f->rtx_nxt = seq + len;
			f->rack_rtx_us = f->e->now;
			f->rack_mark = f->snd_nxt;
			pipe += len;
			sent = true;
			continue;
		}
		/* past every hole: remember it; a hole not yet lost is looked at again later */
		if (seq_geq(seq, f->fack) || seq_geq(seq, end))
			f->rtx_nxt = seq_max(seq, f->rtx_nxt);
		/* new data, within the peer's window */
		if (seq_geq(f->snd_nxt, end) || seq_geq(f->snd_nxt, f->snd_una + f->snd_wnd))
			break;
		len = RTE_MIN(RTE_MIN(smss, end - f->snd_nxt),
			      f->snd_una + f->snd_wnd - f->snd_nxt);
		if (tx_held(f) ||
		    xmit(f, f->snd_nxt, len,
			 TCP_FL_ACK | (len == end - f->snd_nxt ? TCP_FL_PSH : 0)) != 0)
			break;
		f->snd_nxt += len;
		pipe += len;
		sent = true;
	}
	return sent;
}

/* The size the port cuts f's large packets into: even, so no piece it makes has an odd length. */
static uint16_t
tso_segsz(const struct tcp_flow *f, uint32_t smss)
{
	uint32_t dev = f->e->p.tso_mtu - 40 - ((f->flags & TF_TS) ? 12 : 0);

	return (uint16_t)(RTE_MIN(smss, dev) & ~1u);
}

/*
 * How much of [snd_nxt, snd_nxt + len) one large packet may carry: net_tap (and DPDK 22.11's
 * software checksum) sums each piece of a chain as if it started on a 16-bit boundary, so a
 * piece of odd length must end a segment. Pieces before it are even and the port cuts at
 * even offsets (segsz is even), so every segment up to the last whole one before the odd
 * piece ends is summed right; the segment spanning it goes out on its own (xmit_raw sums it).
 */
static uint32_t
tso_even_len(const struct tcp_flow *f, uint32_t len, uint32_t segsz)
{
	const struct rte_mbuf *c = f->sndq_head;
	uint32_t off = f->snd_nxt - f->snd_una, done = 0;

	while (off >= c->data_len) {
		off -= c->data_len;
		c = c->next;
	}
	for (; done < len; c = c->next, off = 0) {
		uint32_t n = RTE_MIN(len - done, (uint32_t)c->data_len - off);

		done += n;
		if ((n & 1) && done < len)
			return done / segsz * segsz;
	}
	return len;
}

/*
 * Payload for one large packet of new data, 0 when it should be an ordinary segment: whole
 * segments only (the last may be short when it empties the queue), within the port's limits
 * and the caller's pacing budget (counted in the port's segments).
 */
static uint32_t
tso_len(struct tcp_flow *f, uint32_t avail, uint32_t usable, uint16_t segsz)
{
	struct tcp_engine *e = f->e;
	uint32_t cap = RTE_MIN(e->p.tso_max_bytes, (uint32_t)e->p.tso_max_segs * segsz);
	uint32_t len;

	if (e->tx_budget != UINT32_MAX)
		cap = (uint32_t)RTE_MIN((uint64_t)cap, (uint64_t)e->tx_budget * segsz);
	len = RTE_MIN(RTE_MIN(avail, usable), cap);
	if (len < avail)
		len -= len % segsz;
	if (len <= segsz)
		return 0;
	len = tso_even_len(f, len, segsz);
	return len > segsz ? len : 0;
}

/* Normal transmission: new data (or go-back-N resends) as cwnd and the peer's window allow. */
static bool
output_window(struct tcp_flow *f, uint32_t end, uint32_t win, uint32_t smss)
{
	struct tcp_engine *e = f->e;
	bool sent = false;

	for (;;) {
		uint32_t inflight, avail, usable, len, limit = end, sacked = 0, tso;
		uint16_t segsz;
		uint8_t flags = TCP_FL_ACK;

		/*
		 * Resending after an RTO with the scoreboard kept: what the peer SACKed is
		 * skipped, not sent again, and does not count as in flight.
		 */
		if (f->nb_sb > 0 && seq_lt(f->snd_nxt, f->snd_max)) {
			for (unsigned int i = 0; i < f->nb_sb; i++) {
				if (seq_geq(f->snd_nxt, f->sb[i][0]) &&
				    seq_lt(f->snd_nxt, f->sb[i][1])) {
					f->snd_nxt = f->sb[i][1];
				} else if (seq_lt(f->snd_nxt, f->sb[i][0])) {
					limit = f->sb[i][0];
					break;
				}
			}
			if (seq_gt(limit, end))
				limit = end;
			sacked = sb_sacked_below(f, f->snd_nxt);
		}
		inflight = f->snd_nxt - f->snd_una - sacked;

		if (seq_geq(f->snd_nxt, end)) {
			if ((f->flags & TF_FIN_QUEUED) && f->snd_nxt == end &&
			    (!(f->flags & TF_FIN_SENT) || f->snd_nxt == f->fin_seq)) {
				xmit(f, f->snd_nxt, 0, TCP_FL_ACK | TCP_FL_FIN);
				f->fin_seq = f->snd_nxt;
				f->flags |= TF_FIN_SENT;
				f->snd_nxt++;
				sent = true;
			}
			break;
		}
		avail = end - f->snd_nxt;
		usable = win > inflight ? win - inflight : 0;
		len = RTE_MIN(RTE_MIN(avail, smss), usable);
		if (seq_lt(limit, end))
			len = RTE_MIN(len, limit - f->snd_nxt); /* up to the next SACKed range */
		if (len == 0)
			break;
		/* new data only (snd_max moves after the loop): resends go as ordinary segments */
		segsz = 0;
		if (e->p.tso && seq_geq(f->snd_nxt, f->snd_max) && avail > smss && usable > smss) {
			segsz = tso_segsz(f, smss);
			tso = tso_len(f, avail, usable, segsz);
			if (tso != 0)
				len = tso;
			else
				segsz = 0;
		}
		/* Sender SWS avoidance: a runt only when it empties the queue or nothing flies. */
		if (len < smss && len < avail && inflight > 0)
			break;
		if (tx_held(f))
			break;
		if (len == avail) {
			flags |= TCP_FL_PSH;
			if (f->flags & TF_FIN_QUEUED)
				flags |= TCP_FL_FIN;
		}
		if (!(f->flags & TF_RTT_TIMING) && f->snd_nxt == f->snd_max) {
			f->flags |= TF_RTT_TIMING;
			f->rtt_seq = f->snd_nxt;
			f->rtt_start = e->now;
		}
		if (seq_lt(f->snd_nxt, f->snd_max))
			e->stats.retransmits++;
		if (xmit_seg(f, f->snd_nxt, len, flags, segsz) != 0)
			break;
		f->snd_nxt += len;
		if (flags & TCP_FL_FIN) {
			f->fin_seq = f->snd_nxt;
			f->flags |= TF_FIN_SENT;
			f->snd_nxt++;
		}
		sent = true;
		if (flags & TCP_FL_FIN)
			break;
	}
	return sent;
}

/* Send what the windows allow, then an ACK if one is owed and nothing carried it. */
void
tcp_output(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;
	uint32_t end, win, smss;
	bool sent = false;

	f->flags &= ~TF_OUT_PENDING;
	if (f->state < TCP_ESTABLISHED || f->state == TCP_TIME_WAIT)
		goto ack;
	smss = tcp_smss(f);
	end = f->snd_una + f->sndq_bytes;
	/*
	 * RFC 5681 4.1: after sending nothing for longer than the RTO, the window the flow had
	 * says nothing about the path any more; restart from the initial window.
	 */
	if (f->snd_una == f->snd_max && f->last_tx_us != 0 && e->now - f->last_tx_us > f->rto)
		f->cwnd = RTE_MIN(f->cwnd, tcp_initial_window(smss));
	/*
	 * Nothing new to send and no FIN or recovery to act on (an ACK of everything sent):
	 * output_window would find that out and send nothing; skip to the ACK.
	 */
	if (seq_geq(f->snd_nxt, end) && !(f->flags & (TF_FIN_QUEUED | TF_RECOVERY)))
		goto idle;
	/* RFC 3042 limited transmit: two segments beyond cwnd on duplicate ACKs, no more. */
	win = RTE_MIN(f->cwnd + RTE_MIN(f->dupacks, 2u) * smss * !(f->flags & TF_RECOVERY),
		      f->snd_wnd);
	/* Our FIN going out does not end recovery: holes below it still need the scoreboard. */
	if ((f->flags & (TF_RECOVERY | TF_SACK)) == (TF_RECOVERY | TF_SACK) && f->nb_sb > 0)
		sent = output_sack_recovery(f, end, smss);
	else
		sent = output_window(f, end, win, smss);
idle:
	if (seq_gt(f->snd_nxt, f->snd_max))
		f->snd_max = f->snd_nxt;
	if (sent)
		f->last_tx_us = e->now;
	if (sent && (f->rexmt_at == 0 || (f->flags & TF_PERSIST))) {
		f->flags &= ~TF_PERSIST;
		tcp_arm_rexmt(f);
	}
	/* Zero window with data waiting and nothing in flight: probe (persist timer). */
	if (f->snd_wnd == 0 && seq_lt(f->snd_nxt, end) && f->snd_nxt == f->snd_una &&
	    f->rexmt_at == 0) {
		f->flags |= TF_PERSIST;
		f->rexmt_at = e->now + f->rto;
		if (f->persist_since == 0)
			f->persist_since = e->now;
	}
ack:
	if (!sent && (f->flags & TF_ACKNOW) && f->state != TCP_SYN_RECEIVED)
		tcp_send_ack(f);
	if (f->state != TCP_CLOSED)
		tcp_timer_sched(f);
}

/* ---------------------------------------------------------------- RTT */

/*
 * The handshake's SYN (or SYN-ACK) was acknowledged: its RTT timed if it went once, else
 * (RFC 6298 5.7: it was retransmitted) the RTO starts low again; retransmission state reset.
 */
void
tcp_handshake_acked(struct tcp_flow *f)
{
	if (f->flags & TF_RTT_TIMING) {
		f->flags &= ~TF_RTT_TIMING;
		tcp_rtt_sample(f, (uint32_t)(f->e->now - f->rtt_start));
	} else {
		f->rto = RTE_MAX(f->e->p.rto_init_us, f->e->p.rto_min_us);
	}
	f->retries = 0;
	f->rexmt_at = 0;
}

/* ---------------------------------------------------------------- timer wheel */

static void
wheel_remove(struct tcp_flow *f)
{
	if (f->wheel_at == 0)
		return;
	TAILQ_REMOVE(&f->e->wheel[f->wheel_slot], f, wheel_link);
	f->wheel_at = 0;
}

static void
wheel_insert(struct tcp_flow *f, uint64_t at)
{
	struct tcp_engine *e = f->e;
	/* Rounded up: a slot only fires entries that are really due when it is scanned. */
	uint64_t tick = (at + TCP_WHEEL_TICK - 1) / TCP_WHEEL_TICK;

	if (tick <= e->wheel_tick)
		tick = e->wheel_tick + 1;
	f->wheel_at = at;
	f->wheel_slot = (uint32_t)(tick & (TCP_WHEEL_SLOTS - 1));
	TAILQ_INSERT_TAIL(&e->wheel[f->wheel_slot], f, wheel_link);
}

/* The earlier of two timer times, 0 meaning off. */
static inline uint64_t
timer_min(uint64_t a, uint64_t b)
{
	return a == 0 || (b != 0 && b < a) ? b : a;
}

void
tcp_timer_sched(struct tcp_flow *f)
{
	uint64_t at =
		timer_min(timer_min(f->rexmt_at, f->delack_at), timer_min(f->linger_at, f->mem_at));

	if (at == f->wheel_at)
		return;
	wheel_remove(f);
	if (at != 0)
		wheel_insert(f, at);
}

/* RFC 8985 7.3: new data if the windows allow, else the last segment again. */
static void
tlp_fire(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;
	uint32_t smss = tcp_smss(f);
	uint32_t end = f->snd_una + f->sndq_bytes;
	uint32_t sent_end = seq_lt(f->snd_max, end) ? f->snd_max : end;
	uint32_t seq, len;
	uint8_t flags = TCP_FL_ACK | TCP_FL_PSH;

	f->flags &= ~TF_TLP_ARMED;
	f->flags |= TF_TLP_DONE;
	e->stats.tlp_probes++;
	if (seq_lt(f->snd_nxt, end) && f->snd_nxt == f->snd_max &&
	    seq_lt(f->snd_nxt, f->snd_una + f->snd_wnd)) {
		seq = f->snd_nxt;
		len = RTE_MIN(RTE_MIN(smss, end - seq), f->snd_una + f->snd_wnd - seq);
		if (xmit(f, seq, len, flags) == 0) {
			f->snd_nxt += len;
			f->snd_max = f->snd_nxt;
		}
	} else if (seq_gt(sent_end, f->snd_una)) {
		len = RTE_MIN(smss, sent_end - f->snd_una);
		seq = sent_end - len;
		if ((f->flags & TF_FIN_SENT) && sent_end == f->fin_seq)
			flags |= TCP_FL_FIN;
		e->stats.retransmits++;
		f->flags &= ~TF_RTT_TIMING;
		xmit(f, seq, len, flags);
	} else {
		tcp_retransmit_una(f); /* only our FIN is outstanding */
	}
	f->rexmt_at = e->now + f->rto;
}

static void
rexmt_expired(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;
	uint32_t smss = tcp_smss(f);

	if ((f->flags & TF_TLP_ARMED) && f->snd_una != f->snd_max) {
		tlp_fire(f);
		return;
	}
	f->flags &= ~TF_TLP_ARMED;

	if (f->state == TCP_SYN_SENT) {
		tcp_syn_sent_timeout(f);
		return;
	}
	if (f->state == TCP_SYN_RECEIVED) {
		if (++f->retries > e->p.syn_retries) {
			tcp_flow_release(f, TCP_CLOSE_TIMEOUT, false);
			return;
		}
		f->flags &= ~TF_RTT_TIMING;
		e->stats.retransmits++;
		syn_ack_flow(f);
		f->rto = RTE_MIN(f->rto * 2, e->p.rto_max_us);
		f->rexmt_at = e->now + f->rto;
		return;
	}
	if ((f->flags & TF_PERSIST) || (f->snd_wnd == 0 && f->snd_una == f->snd_nxt)) {
		/*
		 * A peer that never reads keeps our queue (and the app's response) forever if
		 * probing never ends: its answers say the window is still shut, not progress.
		 */
		if (f->persist_since == 0)
			f->persist_since = e->now;
		if (e->p.persist_timeout_us != 0 &&
		    e->now - f->persist_since >= e->p.persist_timeout_us) {
			e->stats.persist_timeouts++;
			xmit(f, f->snd_nxt, 0, TCP_FL_RST | TCP_FL_ACK);
			tcp_flow_release(f, TCP_CLOSE_TIMEOUT, true);
			return;
		}
		/* Window probe: an ACK the peer must answer with its current window. */
		f->flags |= TF_PERSIST;
		e->stats.persist_probes++;
		xmit(f, f->snd_una - 1, 0, TCP_FL_ACK);
		f->rto = RTE_MIN(f->rto * 2, e->p.rto_max_us);
		f->rexmt_at = e->now + f->rto;
		return;
	}
	if (f->snd_una == f->snd_max)
		return;
	if (++f->retries > e->p.max_retries) {
		xmit(f, f->snd_nxt, 0, TCP_FL_RST | TCP_FL_ACK);
		tcp_flow_release(f, TCP_CLOSE_TIMEOUT, true);
		return;
	}
	e->stats.rto_expired++;
	/*
	 * The first timeout of an episode may be a delay, not a loss (a busy peer, a queue that
	 * drained late): keep what it takes away so that the ACKs that follow can give it back
	 * (tcp_input.c rto_undo_*). Not from inside fast recovery, and not twice in a row.
	 */
	if (f->retries == 1 && f->rto_undo == RTO_UNDO_NONE && !(f->flags & TF_RECOVERY)) {
		f->undo_cwnd = f->cwnd;
		f->undo_ssthresh = f->ssthresh;
		f->rto_recover = f->snd_max;
		f->rto_tsval = ts_now(e) + f->ts_offset; /* what the retransmission carries */
		f->rto_undo = (f->flags & TF_TS) ? RTO_UNDO_EIFEL : RTO_UNDO_FRTO_1;
	} else {
		f->rto_undo = RTO_UNDO_NONE;
	}
	/*
	 * RFC 4821-style black-hole fallback: a path that drops full-size segments and sends no
	 * ICMP (filtered) times out every one of them. After every second RTO in a row of a
	 * full-size segment, step the MSS down (1024, then TCP_PMTU_MIN_MSS) so the flow
	 * still delivers. Only while no ACK ever covered a full segment: once one did, the
	 * path carries that size and timeouts are loss (a 5% loss lab run lowered the MSS of
	 * many flows and took 4 times longer). Not raised again: flows are short.
	 */
	if (f->retries % TCP_BLACKHOLE_RTOS == 0 && f->sndq_bytes >= smss &&
	    !(f->flags & TF_FULL_ACKED) && f->mss > TCP_PMTU_MIN_MSS) {
		f->mss = f->mss > TCP_BLACKHOLE_MSS ? TCP_BLACKHOLE_MSS : TCP_PMTU_MIN_MSS;
		e->stats.pmtu_blackhole++;
		smss = tcp_smss(f);
	}
	/* RFC 5681 (4): ssthresh from the flight, restart from one segment (loss window). */
	f->ssthresh = RTE_MAX((f->snd_max - f->snd_una) / 2, 2 * smss);
	f->cwnd = smss;
	f->flags &= ~(TF_RECOVERY | TF_RTT_TIMING | TF_TLP_DONE);
	f->recover = f->snd_max;
	f->dupacks = 0;
	/*
	 * RFC 6675 5.1: the scoreboard is kept, so the resend skips what the peer SACKed
	 * instead of sending it all again. A peer that reneged (dropped SACKed data) lets the
	 * next RTO expire too: from the second one in a row, it is go-back-N of everything.
	 */
	if (f->retries > 1)
		tcp_sb_clear(f);
	f->snd_nxt = f->snd_una;
	f->rto = RTE_MIN(f->rto * 2, e->p.rto_max_us);
	f->rexmt_at = 0;
	tcp_retransmit_una(f);
	f->snd_nxt = f->snd_una + RTE_MIN(smss, f->sndq_bytes);
	if ((f->flags & TF_FIN_SENT) && f->snd_nxt == f->fin_seq)
		f->snd_nxt++;
	f->rexmt_at = e->now + f->rto;
}

static void
linger_expired(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;
	uint64_t idle_at;

	switch (f->state) {
	case TCP_FIN_WAIT_2:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		xmit(f, f->snd_nxt, 0, TCP_FL_RST | TCP_FL_ACK);
		tcp_flow_release(f, TCP_CLOSE_IDLE, true);
		return;
	default:
		break;
	}
	if (e->p.keepalive_us != 0) {
		idle_at = f->last_rx_us + e->p.keepalive_us +
			  (uint64_t)f->ka_probes * e->p.keepalive_intvl_us;
		if (idle_at > e->now) {
			f->linger_at = idle_at;
			return;
		}
		if (f->ka_probes >= e->p.keepalive_probes) {
			xmit(f, f->snd_nxt, 0, TCP_FL_RST | TCP_FL_ACK);
			tcp_flow_release(f, TCP_CLOSE_IDLE, true);
			return;
		}
		f->ka_probes++;
		e->stats.keepalive_probes++;
		xmit(f, f->snd_una - 1, 0, TCP_FL_ACK);
		f->linger_at = e->now + e->p.keepalive_intvl_us;
		return;
	}
	if (e->p.idle_timeout_us != 0) {
		idle_at = f->last_rx_us + e->p.idle_timeout_us;
		if (idle_at > e->now) {
			f->linger_at = idle_at;
			return;
		}
		xmit(f, f->snd_nxt, 0, TCP_FL_RST | TCP_FL_ACK);
		tcp_flow_release(f, TCP_CLOSE_IDLE, true);
	}
}

static bool can_send(const struct tcp_flow *f);

static void
flow_timer(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;

	if (f->delack_at != 0 && f->delack_at <= e->now) {
		f->delack_at = 0;
		f->flags |= TF_ACKNOW;
	}
	if (f->linger_at != 0 && f->linger_at <= e->now) {
		f->linger_at = 0;
		linger_expired(f);
		if (f->state == TCP_CLOSED)
			return;
	}
	if (f->rexmt_at != 0 && f->rexmt_at <= e->now) {
		f->rexmt_at = 0;
		rexmt_expired(f);
		if (f->state == TCP_CLOSED)
			return;
	}
	if (f->mem_at != 0 && f->mem_at <= e->now) {
		/* The app stopped on an empty pool: let it try again, as if data were acked. */
		f->mem_at = 0;
		if (f->l->cb.acked != NULL && (f->flags & TF_APP) && can_send(f)) {
			f->l->cb.acked(f, f->ctx, 0);
			if (f->state == TCP_CLOSED)
				return;
		}
	}
	if (f->flags & TF_ACKNOW)
		tcp_output(f);
	tcp_timer_sched(f);
}

void
tcp_process(struct tcp_engine *e, uint64_t now_us)
{
	uint64_t tick = now_us / TCP_WHEEL_TICK;
	uint64_t n;

	e->now = now_us;
	if (tick <= e->wheel_tick)
		return;
	tcp_tw_expire(e); /* at timer-wheel resolution, like every other timer */
	n = RTE_MIN(tick - e->wheel_tick, (uint64_t)TCP_WHEEL_SLOTS);
	for (uint64_t i = 1; i <= n; i++) {
		struct tcp_flow_list *slot = &e->wheel[(tick - n + i) & (TCP_WHEEL_SLOTS - 1)];
		struct tcp_flow_list due;
		struct tcp_flow *f;

		/* Detach the slot first: handlers reschedule flows, maybe into this slot. */
		TAILQ_INIT(&due);
		TAILQ_CONCAT(&due, slot, wheel_link);
		while ((f = TAILQ_FIRST(&due)) != NULL) {
			TAILQ_REMOVE(&due, f, wheel_link);
			if (f->wheel_at <= now_us) {
				f->wheel_at = 0;
				flow_timer(f);
			} else {
				TAILQ_INSERT_TAIL(slot, f, wheel_link);
			}
		}
	}
	e->wheel_tick = tick;
}

/* ---------------------------------------------------------------- flow lifecycle */

struct tcp_listener *
tcp_listener_find(struct tcp_engine *e, uint16_t port)
{
	for (int i = 0; i < TCP_MAX_LISTEN; i++)
		if (e->listen[i].used && e->listen[i].port == port)
			return &e->listen[i];
	return NULL;
}

/*
 * What the peer's SYN (passive open) or SYN-ACK (active open) offered decides what the flow
 * uses: window scaling, SACK, timestamps, the MSS clamped to ours, and the initial window.
 */
void
tcp_flow_syn_opts(struct tcp_flow *f, const struct tcp_seg *s)
{
	struct tcp_engine *e = f->e;

	f->flags &= ~(TF_WS | TF_SACK | TF_TS);
	if (s->opts.has_ws) {
		f->flags |= TF_WS;
		f->snd_wscale = RTE_MIN(s->opts.wscale, TCP_MAX_WSCALE);
		f->rcv_wscale = e->rcv_wscale;
	} else {
		f->snd_wscale = 0;
		f->rcv_wscale = 0;
	}
	if (s->opts.sack_ok)
		f->flags |= TF_SACK;
	if (s->opts.has_ts) {
		f->flags |= TF_TS;
		f->ts_recent = s->opts.tsval;
		f->ts_recent_age = e->now;
	}
	f->mss = RTE_MAX(RTE_MIN(s->opts.mss ? s->opts.mss : TCP_DEFAULT_MSS, e->local_mss), 88);
	f->cwnd = tcp_initial_window(tcp_smss(f));
}

struct tcp_flow *
tcp_flow_new(struct tcp_engine *e, struct tcp_listener *l, const struct tcp_seg *s, uint32_t iss,
	     enum tcp_state st)
{
	struct tcp_flow *f;
	uint32_t id;

	if (e->nb_free_ids == 0) {
		e->stats.drops[TCP_DROP_FLOW_LIMIT]++;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		e->stats.drops[TCP_DROP_FLOW_LIMIT]++;
		return NULL;
	}
	id = e->free_ids[--e->nb_free_ids];
	f->id = id;
	f->gen = ++e->t->slots[id].gen;
	f->owner = e->p.lcore_idx;
	f->e = e;
	f->l = l;
	f->tuple = s->tuple;
	f->created_us = e->now;
	f->last_rx_us = e->now;
	f->state = TCP_CLOSED;
	f->iss = iss;
	f->snd_una = iss;
	f->snd_nxt = iss + 1;
	f->snd_max = iss + 1;
	f->recover = iss;
	f->irs = s->seq;
	f->rcv_nxt = s->seq + 1;
	tcp_flow_syn_opts(f, s);
	f->ts_offset = tcp_ts_offset(e, &f->tuple);
	f->ip_id = tcp_ip_id_first(e, &f->tuple);
	f->phdr_sum = phdr_sum(&f->tuple);
	f->rto = e->p.rto_init_us;
	f->ssthresh = TCP_CWND_MAX;
	if (tcp_table_add(e->t, f) != 0) {
		e->free_ids[e->nb_free_ids++] = id;
		free(f);
		return NULL;
	}
	tcp_own_add(e, f);
	TAILQ_INSERT_TAIL(&e->flows, f, eng_link);
	e->nb_flows++;
	e->stats.flows_by_state[TCP_CLOSED]++;
	tcp_set_state(f, st);
	if (st == TCP_SYN_RECEIVED) {
		e->half_open++;
		f->flags |= TF_RTT_TIMING;
		f->rtt_seq = iss;
		f->rtt_start = e->now;
		syn_ack_flow(f);
		f->rexmt_at = e->now + f->rto;
		tcp_timer_sched(f);
	}
	return f;
}

/* Returns 0 when the app keeps the flow; otherwise the flow is reset and released. */
int
tcp_flow_accept(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;
	void *ctx = NULL;
	int rc;

	rc = f->l->cb.accepted(f, f->l->arg, &ctx);
	if (f->state == TCP_CLOSED)
		return -ECONNABORTED; /* the app aborted it from inside accepted() */
	if (rc != 0) {
		e->stats.refused++;
		xmit(f, f->snd_nxt, 0, TCP_FL_RST | TCP_FL_ACK);
		tcp_flow_release(f, TCP_CLOSE_ABORTED, false);
		return rc;
	}
	f->ctx = ctx;
	f->flags |= TF_APP;
	e->stats.accepted++;
	if (e->p.keepalive_us || e->p.idle_timeout_us)
		f->linger_at =
			e->now + (e->p.keepalive_us ? e->p.keepalive_us : e->p.idle_timeout_us);
	return 0;
}

static void
flow_free_queues(struct tcp_flow *f)
{
	tcp_sndq_drop(f, f->sndq_bytes);
	rte_pktmbuf_free(f->rcvq);
	f->rcvq = NULL;
	f->rcvq_last = NULL;
	f->rcvq_bytes = 0;
	for (unsigned int i = 0; i < f->nb_ooo; i++)
		rte_pktmbuf_free(f->ooo[i].m);
	f->nb_ooo = 0;
	f->ooo_bytes = 0;
}

static void
notify_closed(struct tcp_flow *f, enum tcp_close_reason r)
{
	if (!(f->flags & TF_APP))
		return;
	f->flags &= ~TF_APP;
	if (f->l->cb.closed != NULL)
		f->l->cb.closed(f, f->ctx, r);
}

/*
 * The app is told first (it may release f from its callback), then what TIME_WAIT needs is
 * copied into a small entry and the flow goes: its slot, id and memory serve the next
 * connection at once (tcp_tw.c).
 */
void
tcp_enter_time_wait(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;

	if (f->state == TCP_TIME_WAIT || f->state == TCP_CLOSED)
		return;
	tcp_set_state(f, TCP_TIME_WAIT);
	e->stats.closed[TCP_CLOSE_NORMAL]++;
	notify_closed(f, TCP_CLOSE_NORMAL);
	if (f->state == TCP_CLOSED)
		return;
	tcp_tw_enter(e, f);
	tcp_flow_release(f, TCP_CLOSE_NORMAL, false);
}

void
tcp_flow_release(struct tcp_flow *f, enum tcp_close_reason r, bool notify)
{
	struct tcp_engine *e = f->e;
	bool counted = f->state == TCP_TIME_WAIT; /* counted when it entered TIME_WAIT */

	if (f->state == TCP_CLOSED)
		return;
	if (f->state == TCP_SYN_RECEIVED)
		e->half_open--;
	if (f->flags & TF_TX_WAIT) {
		TAILQ_REMOVE(&e->tx_wait, f, txw_link);
		f->flags &= ~TF_TX_WAIT;
	}
	wheel_remove(f);
	f->rexmt_at = f->delack_at = f->linger_at = 0;
	tcp_set_state(f, TCP_CLOSED);
	if (!counted)
		e->stats.closed[r]++;
	if (notify)
		notify_closed(f, r);
	f->flags &= ~TF_APP;
	flow_free_queues(f);
	TAILQ_REMOVE(&e->flows, f, eng_link);
	tcp_own_del(e, f);
	e->nb_flows--;
	e->stats.flows_by_state[TCP_CLOSED]--;
	e->free_ids[e->nb_free_ids++] = f->id;
	/* Memory stays valid for the caller until its next quiescent state. */
	tcp_table_del(e->t, f);
}

/* Hand in-order bytes to the app until it stops consuming; then the FIN, once. */
void
tcp_deliver(struct tcp_flow *f)
{
	uint32_t win_before, consumed = 0;

	if ((f->flags & (TF_PAUSED | TF_IN_DELIVER)) || !(f->flags & TF_APP))
		return;
	/* Nothing queued and no FIN to report: nothing below would act (every pure ACK). */
	if (f->rcvq == NULL && !(f->flags & TF_FIN_RCVD))
		return;
	win_before = seq_gt(f->rcv_adv, f->rcv_nxt) ? f->rcv_adv - f->rcv_nxt : 0;
	f->flags |= TF_IN_DELIVER;
	while (f->rcvq != NULL) {
		uint32_t have = f->rcvq_bytes;
		uint32_t n = f->l->cb.data(f, f->ctx, f->rcvq);

		if (f->state == TCP_CLOSED)
			return;
		n = RTE_MIN(n, have);
		consumed += n;
		if (n == have) {
			/* all of it: one bulk free instead of a walk that frees segment by segment
			 */
			rte_pktmbuf_free(f->rcvq);
			f->rcvq = NULL;
		} else {
			f->rcvq = tcp_mbuf_chop(f->rcvq, n);
		}
		f->rcvq_bytes -= n;
		if (f->rcvq == NULL)
			f->rcvq_last = NULL;
		if (n < have) {
			f->flags |= TF_PAUSED;
			break;
		}
		if (f->flags & TF_PAUSED)
			break;
	}
	f->flags &= ~TF_IN_DELIVER;
	if (f->rcvq == NULL && (f->flags & TF_FIN_RCVD) && !(f->flags & TF_EOF_SENT) &&
	    (f->flags & TF_APP)) {
		f->flags |= TF_EOF_SENT;
		f->l->cb.data(f, f->ctx, NULL);
		if (f->state == TCP_CLOSED)
			return;
	}
	/* Window update once the app made room worth announcing (RFC 1122 4.2.3.3). */
	if (consumed > 0 && f->state != TCP_TIME_WAIT &&
	    win_before < RTE_MAX(f->e->p.rcvbuf / 4, 2u * f->mss) &&
	    rcv_window(f) >= win_before + RTE_MIN(f->e->p.rcvbuf / 2, 2u * f->mss))
		f->flags |= TF_ACKNOW;
}

/* ---------------------------------------------------------------- engine */

/*
 * The engine's secrets: ISN/timestamp key (k0, k1) and SYN cookie master key (ck0, ck1),
 * 128 bits each, from getrandom(). A seed (tests only) derives them reproducibly instead.
 */
static int
engine_keys(struct tcp_engine *e, uint64_t seed)
{
	uint64_t k[4];

	if (seed == 0) {
		size_t got = 0;

		while (got < sizeof(k)) {
			ssize_t n = getrandom((uint8_t *)k + got, sizeof(k) - got, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rte_errno = n < 0 ? errno : EIO;
				return -rte_errno;
			}
			got += (size_t)n;
		}
	} else {
		/* splitmix64 spreads the seed into independent words */
		for (int i = 0; i < 4; i++) {
			uint64_t z = seed + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL;

			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
			k[i] = z ^ (z >> 31);
		}
	}
	e->k0 = k[0];
	e->k1 = k[1];
	e->ck0 = k[2];
	e->ck1 = k[3];
	memset(k, 0, sizeof(k));
	return 0;
}

struct tcp_engine *
tcp_engine_create(const struct tcp_engine_params *p)
{
	struct tcp_engine *e;

	if (p == NULL || p->table == NULL || p->pool == NULL || p->tx == NULL || p->mtu < 576 ||
	    p->max_flows == 0 || p->nb_local_addrs > RTE_DIM(p->local_addrs) || p->sndbuf == 0 ||
	    p->rcvbuf < 4096) {
		rte_errno = EINVAL;
		return NULL;
	}
	e = rte_zmalloc("tcp_engine", sizeof(*e), RTE_CACHE_LINE_SIZE);
	if (e == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	e->p = *p;
	if (e->p.hdr_pool == NULL)
		e->p.hdr_pool = e->p.pool;
	e->t = p->table;
	e->free_ids = rte_malloc("tcp_ids", sizeof(uint32_t) * p->max_flows, 0);
	if (e->free_ids == NULL) {
		rte_errno = ENOMEM;
		goto fail;
	}
	if (tcp_table_reserve(e->t, p->max_flows, &e->id_base) != 0) {
		rte_errno = ENOSPC;
		goto fail;
	}
	for (uint32_t i = 0; i < p->max_flows; i++)
		e->free_ids[i] = e->id_base + p->max_flows - 1 - i;
	e->nb_free_ids = p->max_flows;
	for (int i = 0; i < TCP_WHEEL_SLOTS; i++)
		TAILQ_INIT(&e->wheel[i]);
	TAILQ_INIT(&e->flows);
	TAILQ_INIT(&e->tx_wait);
	e->tx_budget = UINT32_MAX;
	e->local_mss = RTE_MIN(p->mtu, 9000) - 40;
	/* large packets need the port to sum them, and chains to carry them */
	e->p.tso = p->tso && p->csum_offload && !p->tx_linear && p->tso_max_segs >= 2;
	if (e->p.tso_mtu == 0 || e->p.tso_mtu > p->mtu)
		e->p.tso_mtu = p->mtu;
	e->p.tso_max_bytes = RTE_MIN(p->tso_max_bytes, TCP_TSO_MAX_BYTES);
	while (e->rcv_wscale < TCP_MAX_WSCALE && (p->rcvbuf >> e->rcv_wscale) > 65535)
		e->rcv_wscale++;
	if (engine_keys(e, p->seed) != 0)
		goto fail;
	if (tcp_tw_init(e) != 0 || tcp_own_init(e) != 0) {
		rte_errno = ENOMEM;
		goto fail;
	}
	e->rng = tcp_siphash(e->k0, e->k1, 0, 0, 4) | 1;
	for (int i = 0; i < 4; i++)
		e->own_key[i] = tcp_siphash(e->k0, e->k1, 0, 1, (uint64_t)i);
	return e;
fail:
	tcp_own_fini(e);
	tcp_tw_fini(e);
	rte_free(e->free_ids);
	rte_free(e);
	return NULL;
}

void
tcp_engine_destroy(struct tcp_engine *e)
{
	struct tcp_flow *f;

	if (e == NULL)
		return;
	while ((f = TAILQ_FIRST(&e->flows)) != NULL) {
		if (f->state != TCP_TIME_WAIT && f->state != TCP_SYN_RECEIVED)
			xmit(f, f->snd_nxt, 0, TCP_FL_RST | TCP_FL_ACK);
		tcp_flow_release(f, TCP_CLOSE_SHUTDOWN, true);
	}
	/* The id range is not returned to the table: engines live as long as the process. */
	tcp_own_fini(e);
	tcp_tw_fini(e);
	rte_free(e->free_ids);
	rte_free(e);
}

void
tcp_tx_budget(struct tcp_engine *e, uint32_t segs)
{
	e->tx_budget = segs;
}

uint32_t
tcp_tx_resume(struct tcp_engine *e)
{
	uint64_t before = e->stats.seg_out;
	struct tcp_flow *f;

	/* a flow the budget stops again goes back to the tail, so the loop ends with it */
	while (e->tx_budget > 0 && (f = TAILQ_FIRST(&e->tx_wait)) != NULL) {
		TAILQ_REMOVE(&e->tx_wait, f, txw_link);
		f->flags &= ~TF_TX_WAIT;
		tcp_output(f);
	}
	return (uint32_t)(e->stats.seg_out - before);
}

bool
tcp_tx_waiting(const struct tcp_engine *e)
{
	return !TAILQ_EMPTY(&e->tx_wait);
}

const struct tcp_stats *
tcp_engine_stats(const struct tcp_engine *e)
{
	return &e->stats;
}

uint32_t
tcp_engine_nb_flows(const struct tcp_engine *e)
{
	return e->nb_flows;
}

int
tcp_listen(struct tcp_engine *e, uint16_t lport, const struct tcp_callbacks *cb, void *arg)
{
	if (cb == NULL || cb->accepted == NULL || cb->data == NULL || lport == 0)
		return -EINVAL;
	if (tcp_listener_find(e, lport) != NULL)
		return -EEXIST;
	for (int i = 0; i < TCP_MAX_LISTEN; i++) {
		if (!e->listen[i].used) {
			e->listen[i].port = lport;
			e->listen[i].cb = *cb;
			e->listen[i].arg = arg;
			e->listen[i].used = true;
			return 0;
		}
	}
	return -ENOSPC;
}

int
tcp_unlisten(struct tcp_engine *e, uint16_t lport)
{
	struct tcp_listener *l = tcp_listener_find(e, lport);

	if (l == NULL)
		return -ENOENT;
	/* Existing flows keep pointing at l; only new SYNs are refused. */
	l->used = false;
	return 0;
}

/* ---------------------------------------------------------------- application API */

/*
 * Inside the processing of this flow's own segment, sends are batched: the engine outputs
 * once at the end, so several small tcp_send() calls do not leave runt segments.
 */
static void
output_or_defer(struct tcp_flow *f)
{
	if (f->e->cur_flow == f)
		f->flags |= TF_OUT_PENDING;
	else
		tcp_output(f);
}

static bool
can_send(const struct tcp_flow *f)
{
	return (f->state == TCP_ESTABLISHED || f->state == TCP_CLOSE_WAIT) &&
	       !(f->flags & TF_FIN_QUEUED);
}

uint32_t
tcp_send_space(const struct tcp_flow *f)
{
	if (!can_send(f) || f->sndq_bytes >= f->e->p.sndbuf)
		return 0;
	return f->e->p.sndbuf - f->sndq_bytes;
}

/*
 * The pool ran dry under an app send. ACKs for what is queued call acked() again; with
 * nothing queued none will come, so a timer does: without it an app that stops when a
 * send comes up short (echo, a response pump) waits forever on a flow that is otherwise
 * healthy, and the peer sees a live connection that never moves.
 */
#define TCP_MEM_RETRY_US 2000

static void
send_nobufs(struct tcp_flow *f)
{
	f->e->stats.send_nobufs++;
	if (f->mem_at == 0) {
		f->mem_at = f->e->now + TCP_MEM_RETRY_US;
		tcp_timer_sched(f);
	}
}

static void
sndq_append(struct tcp_flow *f, struct rte_mbuf *c)
{
	c->next = NULL;
	if (f->sndq_tail != NULL)
		f->sndq_tail->next = c;
	else
		f->sndq_head = c;
	f->sndq_tail = c;
	f->sndq_bytes += c->data_len;
}

int
tcp_send(struct tcp_flow *f, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t n, done = 0;

	if (!can_send(f))
		return -ENOTCONN;
	n = (uint32_t)RTE_MIN((size_t)tcp_send_space(f), len);
	while (done < n) {
		struct rte_mbuf *c = f->sndq_tail;
		uint32_t room = 0;

		/* Fill the tail chunk when it is our own copy buffer. */
		if (c != NULL && RTE_MBUF_DIRECT(c) && !RTE_MBUF_HAS_EXTBUF(c))
			room = rte_pktmbuf_tailroom(c);
		if (room == 0) {
			c = rte_pktmbuf_alloc(f->e->p.pool);
			if (c == NULL)
				break;
			c->data_off = 0;
			room = rte_pktmbuf_tailroom(c);
			sndq_append(f, c);
		}
		room = RTE_MIN(room, n - done);
		memcpy(rte_pktmbuf_mtod_offset(c, uint8_t *, c->data_len), p + done, room);
		c->data_len += room;
		c->pkt_len = c->data_len;
		f->sndq_bytes += room;
		done += room;
	}
	if (done < n)
		send_nobufs(f);
	if (done == 0 && n > 0)
		return -ENOBUFS;
	if (done > 0)
		output_or_defer(f);
	return (int)done;
}

#define TCP_EXT_CHUNK 61440 /* below the 16-bit buf_len of an mbuf, page multiple */

int
tcp_send_ext(struct tcp_flow *f, void *buf, rte_iova_t buf_iova, size_t len,
	     struct rte_mbuf_ext_shared_info *shinfo)
{
	uint32_t n, done = 0;

	if (!can_send(f))
		return -ENOTCONN;
	if (shinfo == NULL || shinfo->free_cb == NULL)
		return -EINVAL;
	n = (uint32_t)RTE_MIN((size_t)tcp_send_space(f), len);
	while (done < n) {
		uint32_t clen = RTE_MIN(n - done, (uint32_t)TCP_EXT_CHUNK);
		struct rte_mbuf *c = rte_pktmbuf_alloc(f->e->p.pool);

		if (c == NULL)
			break;
		rte_mbuf_ext_refcnt_update(shinfo, 1);
		rte_pktmbuf_attach_extbuf(c, (uint8_t *)buf + done,
					  buf_iova == RTE_BAD_IOVA ? RTE_BAD_IOVA : buf_iova + done,
					  (uint16_t)clen, shinfo);
		c->data_len = (uint16_t)clen;
		c->pkt_len = clen;
		sndq_append(f, c);
		done += clen;
	}
	if (done < n)
		send_nobufs(f);
	if (done == 0 && n > 0)
		return -ENOBUFS;
	if (done > 0)
		output_or_defer(f);
	return (int)done;
}

int
tcp_shutdown(struct tcp_flow *f)
{
	if (f->flags & TF_FIN_QUEUED)
		return 0;
	if (f->state == TCP_ESTABLISHED)
		tcp_set_state(f, TCP_FIN_WAIT_1);
	else if (f->state == TCP_CLOSE_WAIT)
		tcp_set_state(f, TCP_LAST_ACK);
	else
		return -ENOTCONN;
	f->flags |= TF_FIN_QUEUED;
	output_or_defer(f);
	return 0;
}

void
tcp_abort(struct tcp_flow *f)
{
	if (f->state == TCP_CLOSED)
		return;
	if (f->state != TCP_TIME_WAIT && f->state != TCP_SYN_RECEIVED)
		xmit(f, f->snd_nxt, 0, TCP_FL_RST | TCP_FL_ACK);
	tcp_flow_release(f, TCP_CLOSE_ABORTED, true);
}

void
tcp_recv_pause(struct tcp_flow *f)
{
	f->flags |= TF_PAUSED;
}

void
tcp_recv_resume(struct tcp_flow *f)
{
	if (f->state == TCP_CLOSED || !(f->flags & TF_PAUSED))
		return;
	f->flags &= ~TF_PAUSED;
	if (f->flags & TF_IN_DELIVER)
		return; /* the running delivery loop picks it up */
	tcp_deliver(f);
	if (f->state != TCP_CLOSED && (f->flags & TF_ACKNOW))
		tcp_output(f);
}

const struct tcp_tuple *
tcp_flow_tuple(const struct tcp_flow *f)
{
	return &f->tuple;
}

enum tcp_state
tcp_flow_state(const struct tcp_flow *f)
{
	return (enum tcp_state)CMM_LOAD_SHARED(f->state);
}

uint32_t
tcp_flow_id(const struct tcp_flow *f)
{
	return f->id;
}

uint32_t
tcp_flow_gen(const struct tcp_flow *f)
{
	return f->gen;
}

uint16_t
tcp_flow_owner_idx(const struct tcp_flow *f)
{
	return f->owner;
}

void *
tcp_flow_ctx(const struct tcp_flow *f)
{
	return f->ctx;
}

void
tcp_flow_set_ctx(struct tcp_flow *f, void *ctx)
{
	f->ctx = ctx;
}
