/* TCP segment arrival: validation, listener/cookie handling and the RFC 9293 state machine. */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "dataplane/tcp/tcp_cksum.h"
#include "dataplane/tcp/tcp_priv.h"

/* Returns 0 or -EINVAL for a structurally broken option list. */
static inline uint32_t
be32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return rte_be_to_cpu_32(v);
}

/*
 * Returns 0 or -EINVAL for a structurally broken option list. The SACK blocks are written only
 * up to nb_sack: nothing reads past it, and clearing them cost every segment a 32-byte store.
 */
static int
parse_opts(const uint8_t *p, uint32_t n, bool syn, struct tcp_opts *o)
{
	o->mss = 0;
	o->wscale = 0;
	o->has_ws = false;
	o->sack_ok = false;
	o->nb_sack = 0;
	/*
	 * What nearly every segment of a flow with timestamps carries (RFC 7323 appendix A:
	 * NOP, NOP, TS): read without the walk. The walk gives the same result for it.
	 */
	if (n == 12 && be32_at(p) == 0x0101080a) {
		o->has_ts = true;
		o->tsval = be32_at(p + 4);
		o->tsecr = be32_at(p + 8);
		return 0;
	}
	o->has_ts = false;
	o->tsval = 0;
	o->tsecr = 0;
	while (n > 0) {
		uint8_t kind = p[0], olen;

		if (kind == 0)
			break;
		if (kind == 1) {
			p++;
			n--;
			continue;
		}
		if (n < 2)
			return -EINVAL;
		olen = p[1];
		if (olen < 2 || olen > n)
			return -EINVAL;
		/* A known option with the wrong length is ignored, like an unknown one. */
		switch (kind) {
		case 2:
			if (olen == 4 && syn)
				o->mss = (uint16_t)((p[2] << 8) | p[3]);
			break;
		case 3:
			if (olen == 3 && syn) {
				o->has_ws = true;
				o->wscale = p[2];
			}
			break;
		case 4:
			if (olen == 2 && syn)
				o->sack_ok = true;
			break;
		case 8:
			if (olen == 10) {
				o->has_ts = true;
				o->tsval = be32_at(p + 2);
				o->tsecr = be32_at(p + 6);
			}
			break;
		case 5:
			if (!syn && olen >= 10 && (olen - 2) % 8 == 0) {
				o->nb_sack = (uint8_t)RTE_MIN((olen - 2) / 8, 4);
				for (int k = 0; k < o->nb_sack; k++) {
					o->sack[k][0] = be32_at(p + 2 + 8 * k);
					o->sack[k][1] = be32_at(p + 6 + 8 * k);
				}
			}
			break;
		default:
			break;
		}
		p += olen;
		n -= olen;
	}
	return 0;
}

/* Never a unicast sender: zero, limited broadcast, multicast (loopback is allowed for labs). */
static bool
bad_src(uint32_t a)
{
	return a == 0 || a == 0xffffffff || (a >> 28) == 0xe;
}

static bool
is_local(const struct tcp_engine *e, uint32_t a)
{
	if (e->p.nb_local_addrs == 0)
		return true;
	for (unsigned int i = 0; i < e->p.nb_local_addrs; i++)
		if (e->p.local_addrs[i] == a)
			return true;
	return false;
}

/*
 * The port's verdict on the TCP checksum. NONE means the checksum in the segment is not
 * filled in (a partial checksum from virtio, vhost or veth: the segment came from this host
 * and its data is intact), so checking it in software would refuse good segments.
 */
static bool
l4_cksum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, uint32_t l3)
{
	switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
	case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
	case RTE_MBUF_F_RX_L4_CKSUM_NONE:
		return true;
	case RTE_MBUF_F_RX_L4_CKSUM_BAD:
		return false;
	default:
		return tcp_cksum_ipv4_mbuf_verify(m, ip, l3) == 0;
	}
}

/* ---------------------------------------------------------------- no flow */

static void
input_syn(struct tcp_engine *e, struct tcp_listener *l, const struct tcp_seg *s)
{
	bool pool_low = rte_mempool_avail_count(e->p.pool) < e->p.pool_low_watermark;
	bool full;

	/* TIME_WAIT holds no flow (tcp_tw.c): it never stands in a new connection's way. */
	full = e->half_open >= e->p.max_half_open || e->nb_flows >= e->p.max_flows;
	const struct tcp_src src = tcp_src_get(e, s->tuple.raddr);
	bool cookie;

	/*
	 * One address may not take every connection (or every half-open slot) for itself. Over
	 * the connection bound its SYN is dropped quietly: the client retries in a second, by
	 * when one of its flows may have ended. Over the half-open bound it gets cookies, which
	 * hold nothing, so it cannot push others' SYNs into cookies or drops.
	 */
	if (e->p.max_conns_per_source != 0 && src.conns >= e->p.max_conns_per_source) {
		e->stats.drops[TCP_DROP_SRC_LIMIT]++;
		return;
	}
	if (e->p.max_half_open_per_source != 0 && src.half_open >= e->p.max_half_open_per_source) {
		e->stats.src_half_open_limited++;
		if (e->p.syncookies == TCP_SYNCOOKIE_NEVER) {
			e->stats.drops[TCP_DROP_SRC_LIMIT]++;
			return;
		}
		full = true;
	}

	switch (e->p.syncookies) {
	case TCP_SYNCOOKIE_ALWAYS:
		cookie = true;
		break;
	case TCP_SYNCOOKIE_NEVER:
		if (full || pool_low) {
			e->stats.drops[pool_low ? TCP_DROP_POOL_LOW : TCP_DROP_FLOW_LIMIT]++;
			return;
		}
		cookie = false;
		break;
	default:
		cookie = full || pool_low;
		break;
	}
	if (cookie) {
		e->stats.cookies_sent++;
		e->cookie_sent_at = e->now;
		tcp_send_synack(e, &s->tuple, tcp_cookie_make(e, s), s->seq + 1, s->opts.has_ws,
				s->opts.sack_ok, s->opts.has_ts, s->opts.tsval);
		return;
	}
	if (tcp_flow_new(e, l, s, tcp_isn(e, &s->tuple, s->now), TCP_SYN_RECEIVED) == NULL)
		tcp_send_rst_reply(e, s);
}

static void input_flow(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s,
		       struct rte_mbuf *m);

/* An ACK for no flow: maybe the third step of a cookie handshake. */
static void
input_cookie_ack(struct tcp_engine *e, struct tcp_listener *l, struct tcp_seg *s,
		 struct rte_mbuf *m)
{
	struct tcp_seg syn = *s;
	struct tcp_flow *f;
	uint16_t mss;
	uint8_t ws;
	bool sack;

	/*
	 * Cookies are only taken while they are being issued (RFC 4987 4.1; Linux's
	 * tcp_synq_no_recent_overflow): with none sent in the last two periods, an ACK for no
	 * flow is just that, and an ACK flood cannot forge connections when no SYN flood is on.
	 */
	if (e->p.syncookies == TCP_SYNCOOKIE_NEVER || e->cookie_sent_at == 0 ||
	    e->now - e->cookie_sent_at > 2 * TCP_COOKIE_PERIOD_US) {
		tcp_send_rst_reply(e, s);
		tcp_drop(e, m, TCP_DROP_NO_FLOW);
		return;
	}
	if (tcp_cookie_check(e, s, &mss, &ws, &sack) != 0) {
		e->stats.cookies_rejected++;
		/*
		 * The cookie is checked against seq - 1 as the peer's ISN, which only holds for the
		 * first segment after the handshake. A later data segment that overtook it (the
		 * bare ACK lost, reordering) must not reset a connection the peer believes open:
		 * drop it quietly and let the retransmission of the first one complete the
		 * handshake. A segment without data that fails is answered with a RST as RFC 9293
		 * says.
		 */
		if (s->len == 0)
			tcp_send_rst_reply(e, s);
		tcp_drop(e, m, TCP_DROP_COOKIE);
		return;
	}
	if (e->nb_flows >= e->p.max_flows) {
		tcp_send_rst_reply(e, s);
		tcp_drop(e, m, TCP_DROP_FLOW_LIMIT);
		return;
	}
	/* Cookies collected while under the bound must not take the source past it. */
	if (e->p.max_conns_per_source != 0) {
		if (tcp_src_get(e, s->tuple.raddr).conns >= e->p.max_conns_per_source) {
			e->stats.refused++;
			tcp_send_rst_reply(e, s);
			tcp_drop(e, m, TCP_DROP_SRC_LIMIT);
			return;
		}
	}
	/* Rebuild the SYN the cookie stands for. */
	syn.seq = s->seq - 1;
	syn.opts.mss = mss;
	syn.opts.has_ws = ws != 15;
	syn.opts.wscale = ws;
	syn.opts.sack_ok = sack;
	syn.opts.has_ts = s->opts.has_ts;
	syn.opts.tsval = s->opts.tsval;
	f = tcp_flow_new(e, l, &syn, s->ack - 1, TCP_ESTABLISHED);
	if (f == NULL) {
		tcp_send_rst_reply(e, s);
		tcp_drop(e, m, TCP_DROP_FLOW_LIMIT);
		return;
	}
	e->stats.cookies_accepted++;
	f->flags |= TF_COOKIE;
	f->snd_una = s->ack;
	f->snd_wnd = (uint32_t)s->wnd << f->snd_wscale;
	f->max_sndwnd = f->snd_wnd;
	f->snd_wl1 = s->seq;
	f->snd_wl2 = s->ack;
	f->rcv_adv = f->rcv_nxt + RTE_MIN(e->p.rcvbuf, 65535u);
	s->cookie_ack = true;
	input_flow(e, f, s, m);
}

static void
input_noflow(struct tcp_engine *e, struct tcp_seg *s, struct rte_mbuf *m)
{
	struct tcp_listener *l;

	if (s->flags & TCP_FL_RST) {
		e->stats.rst_in++;
		tcp_drop(e, m, TCP_DROP_NO_FLOW);
		return;
	}
	l = tcp_listener_find(e, s->tuple.lport);
	if (l == NULL) {
		tcp_send_rst_reply(e, s);
		tcp_drop(e, m, TCP_DROP_NO_LISTENER);
		return;
	}
	if ((s->flags & (TCP_FL_SYN | TCP_FL_ACK)) == TCP_FL_SYN) {
		input_syn(e, l, s);
		rte_pktmbuf_free(m); /* data on a SYN is not kept: the peer resends it */
		return;
	}
	if ((s->flags & (TCP_FL_SYN | TCP_FL_ACK)) == TCP_FL_ACK) {
		input_cookie_ack(e, l, s, m);
		return;
	}
	tcp_send_rst_reply(e, s);
	tcp_drop(e, m, TCP_DROP_NO_FLOW);
}

/* ---------------------------------------------------------------- flow: ACK */

static void
cc_new_ack(struct tcp_flow *f, uint32_t acked)
{
	uint32_t smss = tcp_smss(f);

	if (f->cwnd < f->ssthresh)
		f->cwnd += RTE_MIN(acked, 2 * smss); /* RFC 3465 byte counting, L = 2 */
	else
		f->cwnd += RTE_MAX(1u, (uint32_t)((uint64_t)smss * RTE_MIN(acked, smss) / f->cwnd));
	if (f->cwnd > (1u << 30))
		f->cwnd = 1u << 30;
}

/*
 * After a tail loss probe, a SACK covering everything we sent beyond snd_una, with nothing
 * more to send, says the hole is lost: waiting for three duplicate ACKs that cannot come
 * would only end in an RTO (RFC 5827 early retransmit, with RFC 8985's probe as the trigger).
 */
static bool
tail_lost(const struct tcp_flow *f)
{
	return (f->flags & (TF_SACK | TF_TLP_DONE)) == (TF_SACK | TF_TLP_DONE) && f->nb_sb > 0 &&
	       seq_geq(f->fack, f->snd_nxt) && seq_geq(f->snd_nxt, f->snd_una + f->sndq_bytes);
}

/*
 * The timeout was needless: the peer had the data, the ACKs were late. Give back what it took
 * (RFC 4015): cwnd and ssthresh as before, and go on after what is in flight instead of
 * sending it all again.
 */
static void
rto_undo(struct tcp_engine *e, struct tcp_flow *f)
{
	f->cwnd = RTE_MAX(f->cwnd, f->undo_cwnd);
	f->ssthresh = RTE_MAX(f->ssthresh, f->undo_ssthresh);
	f->snd_nxt = f->snd_max;
	f->retries = 0;
	f->rto_undo = RTO_UNDO_NONE;
	e->stats.rto_spurious++;
}

/*
 * An ACK that moves snd_una after a timeout. Eifel (RFC 3522): it echoes a TSval older than
 * the retransmission's, so it acknowledges the original transmission, and the RTT it shows
 * is sampled (unambiguous with timestamps, RFC 7323). F-RTO (RFC 5682) without timestamps:
 * the first such ACK lets two new segments out instead of the go-back-N resend; if the next
 * ACK moves snd_una again, data never resent was acknowledged. Returns true when F-RTO now
 * waits for that second ACK (the caller sends the new segments).
 */
static bool
rto_undo_on_ack(struct tcp_engine *e, struct tcp_flow *f, const struct tcp_seg *s)
{
	switch (f->rto_undo) {
	case RTO_UNDO_EIFEL:
		if (s->opts.has_ts && seq_lt(s->opts.tsecr, f->rto_tsval)) {
			uint32_t ticks =
				(uint32_t)(e->now / TCP_TS_HZ_DIV) + f->ts_offset - s->opts.tsecr;

			if (ticks < 60000)
				tcp_rtt_sample(f, ticks * 1000u);
			rto_undo(e, f);
		}
		f->rto_undo = RTO_UNDO_NONE;
		return false;
	case RTO_UNDO_FRTO_1:
		f->rto_undo = RTO_UNDO_NONE;
		/* step 2b: only below the old flight, and with new data to show the path */
		if (seq_lt(s->ack, f->rto_recover) &&
		    (f->state == TCP_ESTABLISHED || f->state == TCP_CLOSE_WAIT) &&
		    seq_lt(f->rto_recover, f->snd_una + f->sndq_bytes)) {
			f->rto_undo = RTO_UNDO_FRTO_2;
			return true;
		}
		return false;
	case RTO_UNDO_FRTO_2:
		rto_undo(e, f);
		return false;
	default:
		return false;
	}
}

/*
 * A duplicate ACK after a timeout: F-RTO's answer is that the segments are really lost
 * (RFC 5682 step 3a): resume the conventional go-back-N from snd_una, in slow start from at
 * most three segments. Eifel keeps waiting for the ACK that covers the retransmission.
 */
static void
rto_undo_on_dupack(struct tcp_flow *f, uint32_t smss)
{
	if (f->rto_undo == RTO_UNDO_FRTO_2) {
		f->cwnd = RTE_MIN(f->cwnd, 3 * smss);
		f->snd_nxt = f->snd_una;
	}
	if (f->rto_undo != RTO_UNDO_EIFEL)
		f->rto_undo = RTO_UNDO_NONE;
}

/*
 * SACK recovery resends each hole once; a lost retransmission used to wait for the RTO (200
 * ms at least, then backoff). RFC 8985's time rule finds it: data sent after the resend has
 * been SACKed, and the resend has had an RTT and a reordering window (SRTT/4) to arrive, so
 * it is lost. Every hole resent before then is due again: rtx_nxt goes back to snd_una and
 * the output resends those still not SACKed.
 */
static void
rack_check_retransmits(struct tcp_engine *e, struct tcp_flow *f)
{
	uint64_t wait = (uint64_t)f->srtt + f->srtt / 4;

	if (f->rack_rtx_us == 0 || !(f->flags & TF_RECOVERY) || f->srtt == 0 ||
	    !seq_gt(f->fack, f->rack_mark) || e->now - f->rack_rtx_us < RTE_MAX(wait, 1000u) ||
	    !seq_gt(f->rtx_nxt, f->snd_una))
		return;
	f->rack_rtx_us = 0;
	f->rtx_nxt = f->snd_una;
	e->stats.rack_rtx_lost++;
}

/* Window update (RFC 9293 3.10.7.4); swnd is the segment's window, scaled. */
static inline void
window_update(struct tcp_engine *e, struct tcp_flow *f, const struct tcp_seg *s, uint32_t swnd)
{
	if (seq_lt(f->snd_wl1, s->seq) || (f->snd_wl1 == s->seq && seq_leq(f->snd_wl2, s->ack))) {
		f->snd_wnd = swnd;
		f->snd_wl1 = s->seq;
		f->snd_wl2 = s->ack;
		if (swnd > f->max_sndwnd)
			f->max_sndwnd = swnd;
		if (swnd > 0)
			f->persist_since = 0; /* the window opened: progress */
		if (swnd > 0 && (f->flags & TF_PERSIST)) {
			f->flags &= ~(TF_PERSIST | TF_TLP_ARMED);
			f->rexmt_at = 0;
			f->rto = RTE_MAX(f->srtt ? f->rto : e->p.rto_init_us, e->p.rto_min_us);
		}
	}
}

/*
 * snd_una moves to ack (beyond it, at most snd_max): the RTT sample, the acked bytes off the
 * send queue. Returns the bytes of data acknowledged (not our SYN or FIN).
 */
static inline uint32_t
ack_advance(struct tcp_engine *e, struct tcp_flow *f, uint32_t ack, uint32_t smss)
{
	uint32_t acked = ack - f->snd_una;
	uint32_t data_acked;

	if ((f->flags & TF_RTT_TIMING) && seq_gt(ack, f->rtt_seq)) {
		f->flags &= ~TF_RTT_TIMING;
		tcp_rtt_sample(f, (uint32_t)(e->now - f->rtt_start));
	}
	f->retries = 0;
	if (acked >= smss)
		f->flags |= TF_FULL_ACKED;
	data_acked = RTE_MIN(acked, f->sndq_bytes);
	tcp_sndq_drop(f, data_acked);
	f->snd_una = ack;
	if (seq_lt(f->snd_nxt, f->snd_una))
		f->snd_nxt = f->snd_una;
	return data_acked;
}

/* Returns false when the flow went away. */
static bool
process_ack(struct tcp_engine *e, struct tcp_flow *f, const struct tcp_seg *s, bool handshake)
{
	uint32_t swnd = (uint32_t)s->wnd << f->snd_wscale;
	uint32_t smss = tcp_smss(f);
	uint32_t data_acked = 0;
	bool sack_recovery = (f->flags & TF_SACK) != 0;

	if (seq_gt(s->ack, f->snd_una)) {
		uint32_t acked = s->ack - f->snd_una;
		bool frto_probe = f->rto_undo != RTO_UNDO_NONE && rto_undo_on_ack(e, f, s);

		data_acked = ack_advance(e, f, s->ack, smss);
		tcp_sb_update(f, &s->opts);
		if ((f->flags & TF_RECOVERY) && sack_recovery) {
			/* RFC 6675: the scoreboard drives retransmission; cwnd stays at ssthresh */
			if (seq_geq(s->ack, f->recover)) {
				f->flags &= ~TF_RECOVERY;
				f->dupacks = 0;
				f->cwnd = f->ssthresh;
			} else if (seq_leq(f->rtx_nxt, f->snd_una)) {
				/*
				 * Partial ACK (RFC 6582 3.2 step 4, FreeBSD's
				 * tcp_sack_partialack): the segment at snd_una was sent before
				 * the loss and is lost too. The scoreboard may be empty by now
				 * (everything SACKed got acked), and nothing else would resend it
				 * before the RTO.
				 */
				tcp_retransmit_una(f);
				f->rtx_nxt = f->snd_una + RTE_MIN(smss, f->sndq_bytes);
				f->rexmt_at = e->now + f->rto;
				f->flags &= ~TF_TLP_ARMED;
			}
			if (seq_lt(f->rtx_nxt, f->snd_una))
				f->rtx_nxt = f->snd_una;
		} else if (f->flags & TF_RECOVERY) {
			if (seq_geq(s->ack, f->recover)) {
				/* Full ACK (RFC 6582 3.2 step 3) */
				uint32_t flight = f->snd_max - f->snd_una;

				f->cwnd = RTE_MIN(f->ssthresh, RTE_MAX(flight, smss) + smss);
				f->flags &= ~TF_RECOVERY;
				f->dupacks = 0;
			} else {
				/* Partial ACK: the next hole is lost too; deflate and resend it. */
				f->snd_nxt = seq_max(f->snd_nxt, f->snd_una);
				tcp_retransmit_una(f);
				f->cwnd = f->cwnd > acked ? f->cwnd - acked : smss;
				if (acked >= smss)
					f->cwnd += smss;
				f->rexmt_at = e->now + f->rto;
				f->flags &= ~TF_TLP_ARMED;
			}
		} else {
			f->dupacks = 0;
			cc_new_ack(f, acked);
		}
		f->flags &= ~TF_TLP_DONE;
		if (frto_probe) {
			/* F-RTO step 2b: two segments never sent before, past the old flight */
			f->snd_nxt = f->snd_max;
			f->cwnd = f->snd_max - f->snd_una + 2 * smss;
		}
		if (f->snd_una == f->snd_max) {
			f->rexmt_at = 0;
			f->flags &= ~(TF_PERSIST | TF_TLP_ARMED);
		} else if (!(f->flags & TF_PERSIST)) {
			tcp_arm_rexmt(f);
		}
	} else if (!handshake && s->ack == f->snd_una && s->len == 0 &&
		   !(s->flags & (TCP_FL_SYN | TCP_FL_FIN)) &&
		   (swnd == f->snd_wnd || s->opts.nb_sack > 0) && f->snd_max != f->snd_una) {
		/* RFC 5681 duplicate ACK (one carrying SACK counts even if the window moved) */
		e->stats.dup_acks_in++;
		if (f->rto_undo != RTO_UNDO_NONE)
			rto_undo_on_dupack(f, smss);
		tcp_sb_update(f, &s->opts);
		if (f->dupacks < 255)
			f->dupacks++;
		if (f->flags & TF_RECOVERY) {
			if (!sack_recovery)
				f->cwnd += smss;
		} else if ((f->dupacks == 3 || (sack_recovery && f->sacked >= 3 * smss) ||
			    tail_lost(f)) &&
			   seq_gt(s->ack, f->recover)) {
			uint32_t flight = f->snd_max - f->snd_una;

			if (f->dupacks < 3 && f->sacked < 3 * smss)
				e->stats.early_retransmits++;
			e->stats.fast_retransmits++;
			f->recover = f->snd_max;
			f->ssthresh = RTE_MAX(flight / 2, 2 * smss);
			f->flags |= TF_RECOVERY;
			tcp_retransmit_una(f);
			f->rtx_nxt = f->snd_una + RTE_MIN(smss, f->sndq_bytes);
			f->cwnd = sack_recovery ? f->ssthresh : f->ssthresh + 3 * smss;
			f->rexmt_at = e->now + f->rto;
			f->flags &= ~TF_TLP_ARMED;
		}
	} else if (s->opts.nb_sack > 0) {
		tcp_sb_update(f, &s->opts);
	}
	if (sack_recovery)
		rack_check_retransmits(e, f);
	window_update(e, f, s, swnd);

	/* Our FIN acknowledged? */
	if ((f->flags & TF_FIN_SENT) && seq_gt(f->snd_una, f->fin_seq)) {
		switch (f->state) {
		case TCP_FIN_WAIT_1:
			tcp_set_state(f, TCP_FIN_WAIT_2);
			f->linger_at = e->now + e->p.fin_wait2_us;
			break;
		case TCP_CLOSING:
			tcp_enter_time_wait(f);
			return f->state != TCP_CLOSED;
		case TCP_LAST_ACK:
			tcp_flow_release(f, TCP_CLOSE_NORMAL, true);
			return false;
		default:
			break;
		}
	}
	if (data_acked > 0 && (f->flags & TF_APP) && f->l->cb.acked != NULL) {
		f->l->cb.acked(f, f->ctx, data_acked);
		if (f->state == TCP_CLOSED)
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------- flow: data */

/* Small segments are copied into the tail rather than chained: it bounds the mbufs a
 * paused flow can pin (a peer sending 1-byte segments would otherwise hold one 2 KiB mbuf
 * per byte of window). */
#define TCP_RCV_COALESCE 512

static void
rcvq_append(struct tcp_flow *f, struct rte_mbuf *m)
{
	struct rte_mbuf *last = rte_pktmbuf_lastseg(m);
	struct rte_mbuf *t = f->rcvq_last;

	if (t != NULL && m->nb_segs == 1 && m->pkt_len <= TCP_RCV_COALESCE && RTE_MBUF_DIRECT(t) &&
	    !RTE_MBUF_HAS_EXTBUF(t) && rte_mbuf_refcnt_read(t) == 1 &&
	    rte_pktmbuf_tailroom(t) >= m->pkt_len) {
		memcpy(rte_pktmbuf_mtod_offset(t, uint8_t *, t->data_len),
		       rte_pktmbuf_mtod(m, const uint8_t *), m->pkt_len);
		t->data_len += m->pkt_len;
		f->rcvq->pkt_len += m->pkt_len;
		f->rcvq_bytes += m->pkt_len;
		rte_pktmbuf_free(m);
		return;
	}
	if (f->rcvq == NULL) {
		f->rcvq = m;
	} else {
		f->rcvq_last->next = m;
		f->rcvq->nb_segs += m->nb_segs;
		f->rcvq->pkt_len += m->pkt_len;
	}
	f->rcvq_last = last;
	f->rcvq_bytes += m->pkt_len;
}

static void
ooo_remove(struct tcp_flow *f, unsigned int i)
{
	f->ooo_bytes -= f->ooo[i].len;
	memmove(&f->ooo[i], &f->ooo[i + 1], (f->nb_ooo - i - 1) * sizeof(f->ooo[0]));
	f->nb_ooo--;
	if (f->ooo_last >= f->nb_ooo)
		f->ooo_last = f->nb_ooo ? f->nb_ooo - 1 : 0;
}

/* Received mbufs the flow holds: unread in-order data and the out-of-order queue. */
static uint32_t
flow_rx_mbufs(const struct tcp_flow *f)
{
	uint32_t n = f->rcvq != NULL ? f->rcvq->nb_segs : 0;

	for (unsigned int i = 0; i < f->nb_ooo; i++)
		n += f->ooo[i].m->nb_segs;
	return n;
}

/* The most received mbufs one flow may hold from m's pool (its share). */
static uint32_t
flow_rx_share(const struct tcp_engine *e, const struct rte_mbuf *m)
{
	if (e->p.rx_flow_share == 0)
		return UINT32_MAX;
	return RTE_MAX(m->pool->size / e->p.rx_flow_share, 4u);
}

/* Frees OOO entries from index i up, highest sequence first; returns the mbufs freed. */
static uint32_t
ooo_prune_from(struct tcp_flow *f, unsigned int i, uint32_t want)
{
	uint32_t freed = 0;

	while (f->nb_ooo > i && freed < want) {
		struct tcp_ooo *q = &f->ooo[f->nb_ooo - 1];

		freed += q->m->nb_segs;
		rte_pktmbuf_free(q->m);
		ooo_remove(f, f->nb_ooo - 1);
	}
	f->e->stats.ooo_pruned += freed;
	return freed;
}

/*
 * The receive pool is low: every flow's out-of-order queue goes first (RFC 2018 lets a
 * receiver drop SACKed data; the sender keeps it until it is cumulatively acked). In-order
 * data is what frees memory once the app reads it; out-of-order data only waits for a hole.
 * Looked at once per millisecond at most, so a low pool does not walk the flows per packet.
 */
static void
rx_pressure_prune(struct tcp_engine *e, const struct rte_mbuf *m)
{
	struct tcp_flow *f;

	if (e->p.rx_low_watermark == 0 || e->now < e->rx_check_at)
		return;
	e->rx_check_at = e->now + 1000;
	if (rte_mempool_avail_count(m->pool) >= e->p.rx_low_watermark)
		return;
	TAILQ_FOREACH(f, &e->flows, eng_link)
	ooo_prune_from(f, 0, UINT32_MAX);
}

/* Appends m (last segment mlast) to entry q; false when the segment count would overflow. */
static bool
ooo_chain(struct tcp_ooo *q, struct rte_mbuf *m, struct rte_mbuf *mlast)
{
	if (q->m->nb_segs + m->nb_segs > RTE_MBUF_MAX_NB_SEGS)
		return false;
	q->last->next = m;
	q->m->nb_segs += m->nb_segs;
	q->m->pkt_len += m->pkt_len;
	q->last = mlast;
	return true;
}

/* A small segment copied into the tailroom of q's last mbuf (then freed): no mbuf held. */
static bool
ooo_copy_tail(struct tcp_ooo *q, struct rte_mbuf *m)
{
	struct rte_mbuf *t = q->last;

	if (m->nb_segs != 1 || m->pkt_len > TCP_RCV_COALESCE || !RTE_MBUF_DIRECT(t) ||
	    RTE_MBUF_HAS_EXTBUF(t) || rte_mbuf_refcnt_read(t) != 1 ||
	    rte_pktmbuf_tailroom(t) < m->pkt_len)
		return false;
	memcpy(rte_pktmbuf_mtod_offset(t, uint8_t *, t->data_len),
	       rte_pktmbuf_mtod(m, const uint8_t *), m->pkt_len);
	t->data_len += m->pkt_len;
	q->m->pkt_len += m->pkt_len;
	rte_pktmbuf_free(m);
	return true;
}

/*
 * Queue an out-of-order segment; overlaps are trimmed so entries never overlap. Memory is
 * accounted in mbufs, not bytes: a peer sending tinygrams out of order would otherwise pin
 * one 2 KiB buffer per byte. Small segments are copied into their neighbour's tail.
 */
static void
ooo_insert(struct tcp_engine *e, struct tcp_flow *f, uint32_t seq, struct rte_mbuf *m, bool fin)
{
	uint32_t len = m->pkt_len, end = seq + len, held, share;
	struct rte_mbuf *mlast;
	unsigned int i = 0;

	while (i < f->nb_ooo && seq_leq(f->ooo[i].seq + f->ooo[i].len, seq))
		i++;
	/* f->ooo[i] is the first entry ending after seq */
	if (i < f->nb_ooo && seq_leq(f->ooo[i].seq, seq)) {
		uint32_t qend = f->ooo[i].seq + f->ooo[i].len;

		if (seq_geq(qend, end)) {
			f->ooo_last = (uint8_t)i; /* duplicate of what we hold */
			rte_pktmbuf_free(m);
			return;
		}
		m = tcp_mbuf_chop(m, qend - seq);
		seq = qend;
		len = end - seq;
		i++;
	}
	/* drop entries the new segment covers entirely */
	while (i < f->nb_ooo && seq_leq(f->ooo[i].seq + f->ooo[i].len, end)) {
		rte_pktmbuf_free(f->ooo[i].m);
		ooo_remove(f, i);
	}
	if (i < f->nb_ooo && seq_lt(f->ooo[i].seq, end)) {
		len = f->ooo[i].seq - seq;
		m = tcp_mbuf_cut(m, len);
		fin = false;
	}
	if (m == NULL)
		return;
	if (f->ooo_bytes + len > e->p.rcvbuf) {
		tcp_drop(e, m, TCP_DROP_OOO_FULL);
		return;
	}
	e->stats.ooo_segments++;
	/* Contiguous data shares one entry, so the entry count bounds holes, not segments. */
	if (i > 0 && f->ooo[i - 1].seq + f->ooo[i - 1].len == seq && !f->ooo[i - 1].fin &&
	    ooo_copy_tail(&f->ooo[i - 1], m)) {
		m = NULL;
	} else {
		/* Over its share: entries above this one go first (they wait longest). */
		held = flow_rx_mbufs(f);
		share = flow_rx_share(e, m);
		if (held + m->nb_segs > share)
			held -= ooo_prune_from(f, i, held + m->nb_segs - share);
		if (held + m->nb_segs > share) {
			e->stats.ooo_segments--;
			tcp_drop(e, m, TCP_DROP_RX_SHARE);
			return;
		}
	}
	if (i > 0 && f->ooo[i - 1].seq + f->ooo[i - 1].len == seq && !f->ooo[i - 1].fin &&
	    (m == NULL || ooo_chain(&f->ooo[i - 1], m, rte_pktmbuf_lastseg(m)))) {
		struct tcp_ooo *p = &f->ooo[i - 1];

		p->len += len;
		p->fin = fin;
		f->ooo_bytes += len;
		f->ooo_last = (uint8_t)(i - 1);
		if (i < f->nb_ooo && p->seq + p->len == f->ooo[i].seq && !p->fin &&
		    ooo_chain(p, f->ooo[i].m, f->ooo[i].last)) {
			uint32_t nlen = f->ooo[i].len;

			p->len += nlen;
			p->fin = f->ooo[i].fin;
			f->ooo[i].m = NULL;
			ooo_remove(f, i);
			f->ooo_bytes += nlen; /* still held, now through p */
			f->ooo_last = (uint8_t)(i - 1);
		}
		return;
	}
	mlast = rte_pktmbuf_lastseg(m);
	if (i < f->nb_ooo && seq + len == f->ooo[i].seq && !fin &&
	    m->nb_segs + f->ooo[i].m->nb_segs <= RTE_MBUF_MAX_NB_SEGS) {
		mlast->next = f->ooo[i].m;
		m->nb_segs += f->ooo[i].m->nb_segs;
		m->pkt_len += f->ooo[i].m->pkt_len;
		f->ooo[i].seq = seq;
		f->ooo[i].len += len;
		f->ooo[i].m = m;
		f->ooo_bytes += len;
		f->ooo_last = (uint8_t)i;
		return;
	}
	if (f->nb_ooo >= TCP_OOO_MAX) {
		e->stats.ooo_segments--;
		tcp_drop(e, m, TCP_DROP_OOO_FULL);
		return;
	}
	memmove(&f->ooo[i + 1], &f->ooo[i], (f->nb_ooo - i) * sizeof(f->ooo[0]));
	f->ooo[i] = (struct tcp_ooo){.seq = seq, .len = len, .m = m, .last = mlast, .fin = fin};
	f->nb_ooo++;
	f->ooo_bytes += len;
	f->ooo_last = (uint8_t)i;
}

/* Move what became in order from the OOO queue; returns true when a FIN came with it. */
static bool
ooo_pull(struct tcp_engine *e, struct tcp_flow *f)
{
	bool fin = false;

	while (f->nb_ooo > 0 && seq_leq(f->ooo[0].seq, f->rcv_nxt)) {
		struct tcp_ooo q = f->ooo[0];
		uint32_t end = q.seq + q.len;

		ooo_remove(f, 0);
		if (seq_leq(end, f->rcv_nxt)) {
			rte_pktmbuf_free(q.m);
			continue;
		}
		q.m = tcp_mbuf_chop(q.m, f->rcv_nxt - q.seq);
		e->stats.bytes_in += q.m->pkt_len;
		f->rcv_nxt = end;
		rcvq_append(f, q.m);
		if (q.fin) {
			fin = true;
			break;
		}
	}
	return fin;
}

static void
process_fin(struct tcp_engine *e, struct tcp_flow *f)
{
	f->rcv_nxt++;
	f->flags |= TF_FIN_RCVD | TF_ACKNOW;
	/* Anything still out of order beyond the FIN is bogus. */
	while (f->nb_ooo > 0) {
		rte_pktmbuf_free(f->ooo[0].m);
		ooo_remove(f, 0);
	}
	switch (f->state) {
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
		tcp_set_state(f, TCP_CLOSE_WAIT);
		break;
	case TCP_FIN_WAIT_1:
		/* Our FIN is not acked yet (else we would be in FIN_WAIT_2): simultaneous close. */
		tcp_set_state(f, TCP_CLOSING);
		break;
	case TCP_FIN_WAIT_2:
		tcp_send_ack(f);
		tcp_deliver(f);
		if (f->state != TCP_CLOSED)
			tcp_enter_time_wait(f);
		break;
	default:
		break;
	}
	(void)e;
}

/* ---------------------------------------------------------------- flow: arrival */

static bool
seq_acceptable(const struct tcp_flow *f, const struct tcp_seg *s, uint32_t seglen)
{
	uint32_t wnd = seq_gt(f->rcv_adv, f->rcv_nxt) ? f->rcv_adv - f->rcv_nxt : 0;

	return tcp_seq_in_window(f->rcv_nxt, wnd, s->seq, seglen);
}

/*
 * input_flow_do's stages. Each takes the payload by reference (NULL when there is none) and
 * returns true when the segment goes on to the next stage; false when it is done with, the
 * payload freed or kept.
 */

/* Before any check: the payload alone, a cookie flow accepted, a tuple reused, a SYN repeated. */
static bool
input_early(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s, struct rte_mbuf **mp)
{
	if (*mp != NULL && s->hdr_len > 0) {
		*mp = tcp_mbuf_chop(*mp, s->hdr_len);
		s->hdr_len = 0;
	}
	if (s->len == 0 && *mp != NULL) {
		rte_pktmbuf_free(*mp);
		*mp = NULL;
	}
	if (s->cookie_ack && tcp_flow_accept(f) != 0) {
		rte_pktmbuf_free(*mp);
		return false;
	}
	if (f->state == TCP_SYN_RECEIVED &&
	    (s->flags & (TCP_FL_SYN | TCP_FL_ACK | TCP_FL_RST)) == TCP_FL_SYN && s->seq == f->irs) {
		/* Our SYN-ACK was lost: send it again. */
		e->stats.retransmits++;
		f->flags &= ~TF_RTT_TIMING;
		tcp_send_synack(e, &f->tuple, f->iss, f->rcv_nxt, f->flags & TF_WS,
				f->flags & TF_SACK, f->flags & TF_TS, f->ts_recent);
		tcp_drop(e, *mp, TCP_DROP_OUT_OF_WINDOW);
		return false;
	}
	f->last_rx_us = e->now;
	f->ka_probes = 0;
	return true;
}

/* RFC 9293 3.10.7.4's first checks: PAWS, the window, RST, SYN, ACK present. */
static bool
input_acceptable(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s, struct rte_mbuf *m)
{
	uint32_t seglen = s->len + !!(s->flags & TCP_FL_SYN) + !!(s->flags & TCP_FL_FIN);

	if ((f->flags & TF_TS) && tcp_paws_reject(f->ts_recent, f->ts_recent_age, s, e->now)) {
		tcp_send_oow_ack(f);
		tcp_drop(e, m, TCP_DROP_PAWS);
		return false;
	}
	if (!seq_acceptable(f, s, seglen)) {
		if (!(s->flags & TCP_FL_RST)) {
			if (s->len > 0)
				e->stats.dup_acks_out++;
			if (s->cookie_ack && tcp_flow_accept(f) != 0) {
				rte_pktmbuf_free(m);
				return false;
			}
			/*
			 * Data or a FIN we already have is a retransmission whose ACK was
			 * lost: the peer needs the answer every time. Anything else out of
			 * window (bare ACKs, SYNs, data beyond the window) is what a spoofer
			 * or an ACK loop sends: limited per flow.
			 */
			if (seglen > 0 && !(s->flags & TCP_FL_SYN) &&
			    seq_leq(s->seq + seglen, f->rcv_nxt))
				tcp_send_ack(f);
			else
				tcp_send_oow_ack(f);
			tcp_timer_sched(f);
		}
		tcp_drop(e, m, TCP_DROP_OUT_OF_WINDOW);
		return false;
	}
	if (s->flags & TCP_FL_RST) {
		e->stats.rst_in++;
		/*
		 * RFC 5961 3.2: only an exact match resets; in window elicits a challenge.
		 * (TIME_WAIT, where RFC 1337 ignores even an exact one, is tcp_tw.c's.)
		 */
		if (s->seq == f->rcv_nxt) {
			tcp_flow_release(f, TCP_CLOSE_RESET, true);
			rte_pktmbuf_free(m);
			return false;
		}
		tcp_send_challenge_ack(f);
		tcp_drop(e, m, TCP_DROP_CHALLENGE);
		return false;
	}
	if (s->flags & TCP_FL_SYN) {
		/* RFC 5961 4.2: any SYN on a synchronized connection. */
		tcp_send_challenge_ack(f);
		tcp_drop(e, m, TCP_DROP_CHALLENGE);
		return false;
	}
	if (!(s->flags & TCP_FL_ACK)) {
		tcp_drop(e, m, TCP_DROP_NO_ACK);
		return false;
	}
	return true;
}

/* The timestamp to echo, and the payload cut to what the window takes. */
static void
input_trim(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s, struct rte_mbuf **mp)
{
	uint32_t wnd;

	/* Timestamp to echo (RFC 7323 4.3): from the segment covering last_ack_sent. */
	if ((f->flags & TF_TS) && s->opts.has_ts && seq_leq(s->seq, f->last_ack_sent)) {
		f->ts_recent = s->opts.tsval;
		f->ts_recent_age = e->now;
	}
	wnd = seq_gt(f->rcv_adv, f->rcv_nxt) ? f->rcv_adv - f->rcv_nxt : 0;
	if (s->len > 0 && seq_lt(s->seq, f->rcv_nxt)) {
		uint32_t d = f->rcv_nxt - s->seq;

		if (d >= s->len) {
			rte_pktmbuf_free(*mp);
			*mp = NULL;
			s->len = 0;
			s->seq = f->rcv_nxt;
		} else {
			*mp = tcp_mbuf_chop(*mp, d);
			s->len -= d;
			s->seq = f->rcv_nxt;
		}
		f->flags |= TF_ACKNOW;
	}
	if (s->len > 0 && seq_gt(s->seq + s->len, f->rcv_nxt + wnd)) {
		uint32_t keep = f->rcv_nxt + wnd - s->seq;

		*mp = tcp_mbuf_cut(*mp, keep);
		s->len = keep;
		s->flags &= ~TCP_FL_FIN;
		f->flags |= TF_ACKNOW;
	}
}

/* The ACK that completes a passive open: ESTABLISHED, the first RTT sample, the app told. */
static bool
input_handshake_ack(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s, struct rte_mbuf *m)
{
	if (!seq_gt(s->ack, f->snd_una) || !seq_leq(s->ack, f->snd_max)) {
		tcp_send_rst_reply(e, s);
		tcp_drop(e, m, TCP_DROP_BAD_ACK);
		return false;
	}
	e->half_open--;
	tcp_set_state(f, TCP_ESTABLISHED);
	tcp_handshake_acked(f);
	f->snd_una = s->ack;
	f->snd_wnd = (uint32_t)s->wnd << f->snd_wscale;
	f->max_sndwnd = f->snd_wnd;
	f->snd_wl1 = s->seq;
	f->snd_wl2 = s->ack;
	if (tcp_flow_accept(f) != 0) {
		rte_pktmbuf_free(m);
		return false;
	}
	return true;
}

/* The ACK field: RFC 5961 5.2's bounds, then process_ack. */
static bool
input_ack(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s, struct rte_mbuf *m,
	  bool handshake)
{
	if (seq_gt(s->ack, f->snd_max)) {
		tcp_send_oow_ack(f);
		tcp_drop(e, m, TCP_DROP_BAD_ACK);
		return false;
	}
	if (seq_lt(s->ack, f->snd_una - RTE_MAX(f->max_sndwnd, 65535u))) {
		/* RFC 5961 5.2: an ACK too old to be from the peer */
		tcp_send_challenge_ack(f);
		tcp_drop(e, m, TCP_DROP_BAD_ACK);
		return false;
	}
	if (!process_ack(e, f, s, handshake)) {
		rte_pktmbuf_free(m);
		return false;
	}
	return true;
}

/* The payload: in order to the receive queue, out of order to the OOO queue, or dropped. */
static void
input_data(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s, struct rte_mbuf *m)
{
	bool data_ok;

	/*
	 * Received data waits in the receive pool's mbufs while the app does not read it or a
	 * hole is open. Flows that stopped reading because their send queues are full could
	 * then take the whole pool, and the ACKs that would let them read again could not be
	 * received at all: 200 echo flows on a 4k-mbuf pool froze that way. Near the bottom of
	 * the pool such payload is dropped, the ACK it carried is kept; the peer sends it again.
	 */
	if (s->len > 0 && m != NULL)
		rx_pressure_prune(e, m);
	if (s->len > 0 && m != NULL && (f->flags & TF_PAUSED) && s->seq == f->rcv_nxt &&
	    flow_rx_mbufs(f) + m->nb_segs > flow_rx_share(e, m)) {
		tcp_drop(e, m, TCP_DROP_RX_SHARE);
		m = NULL;
		s->len = 0;
		s->flags &= ~TCP_FL_FIN;
	}
	if (s->len > 0 && m != NULL && e->p.rx_low_watermark != 0 &&
	    ((f->flags & TF_PAUSED) || s->seq != f->rcv_nxt) &&
	    rte_mempool_avail_count(m->pool) < e->p.rx_low_watermark) {
		tcp_drop(e, m, TCP_DROP_RX_POOL_LOW);
		m = NULL;
		s->len = 0;
		s->flags &= ~TCP_FL_FIN;
	}
	if (s->len == 0) {
		rte_pktmbuf_free(m);
		return;
	}
	data_ok = (f->state == TCP_ESTABLISHED || f->state == TCP_FIN_WAIT_1 ||
		   f->state == TCP_FIN_WAIT_2) &&
		  !(f->flags & TF_FIN_RCVD);
	if (!data_ok) {
		tcp_drop(e, m, TCP_DROP_STATE);
		s->flags &= ~TCP_FL_FIN;
		return;
	}
	/* A half-closed peer that still sends is not idle: FIN_WAIT_2 times out on silence. */
	if (f->state == TCP_FIN_WAIT_2)
		f->linger_at = e->now + e->p.fin_wait2_us;
	if (s->seq == f->rcv_nxt) {
		bool had_ooo = f->nb_ooo > 0;

		f->rcv_nxt += s->len;
		e->stats.bytes_in += s->len;
		rcvq_append(f, m);
		if (had_ooo) {
			if (ooo_pull(e, f))
				s->flags |= TCP_FL_FIN, s->seq = f->rcv_nxt, s->len = 0;
			f->flags |= TF_ACKNOW; /* a hole filled: tell the sender now */
		} else if (++f->unacked_segs >= 2 || (s->flags & TCP_FL_FIN)) {
			f->flags |= TF_ACKNOW;
		} else if (f->delack_at == 0) {
			f->delack_at = e->now + e->p.delack_us;
		}
	} else {
		ooo_insert(e, f, s->seq, m, s->flags & TCP_FL_FIN);
		s->flags &= ~TCP_FL_FIN;
		e->stats.dup_acks_out++;
		f->flags |= TF_ACKNOW; /* RFC 5681 4.2: immediate duplicate ACK */
	}
}

/* One segment for an existing flow, stage by stage; m is the whole segment. */
static void
input_flow_do(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s, struct rte_mbuf *m)
{
	bool handshake = s->cookie_ack;

	if (f->state == TCP_SYN_SENT) {
		tcp_syn_sent_input(e, f, s, m);
		return;
	}
	if (!input_early(e, f, s, &m) || !input_acceptable(e, f, s, m))
		return;
	input_trim(e, f, s, &m);
	if (f->state == TCP_SYN_RECEIVED) {
		if (!input_handshake_ack(e, f, s, m))
			return;
		handshake = true;
	}
	if (!input_ack(e, f, s, m, handshake))
		return;
	input_data(e, f, s, m);

	if ((s->flags & TCP_FL_FIN) && !(f->flags & TF_FIN_RCVD) && s->seq + s->len == f->rcv_nxt) {
		process_fin(e, f);
		if (f->state == TCP_CLOSED || f->state == TCP_TIME_WAIT)
			return;
	}
	tcp_deliver(f);
	if (f->state == TCP_CLOSED)
		return;
	tcp_output(f);
}

static void
input_flow(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s, struct rte_mbuf *m)
{
	struct tcp_flow *outer = e->cur_flow;

	e->cur_flow = f;
	input_flow_do(e, f, s, m);
	e->cur_flow = outer;
	/* The flow memory outlives a close until our next quiescent state. */
	if (f->state != TCP_CLOSED && (f->flags & TF_OUT_PENDING))
		tcp_output(f);
}

/* ---------------------------------------------------------------- fast path */

/*
 * Header prediction (RFC 793's, Van Jacobson's): on an established flow with nothing unusual
 * going on, a segment is either a pure ACK for new data or the next in-order data with
 * nothing new acknowledged. For those, every check of the full path passes the same way and
 * most of its branches do nothing; this predicate says when that is so. The full path is what
 * the flags below exclude: recovery (NewReno or SACK; the RACK rule acts only inside it), a
 * scoreboard or SACK blocks, an RTO whose undo is pending, the persist timer, a paused or
 * half-closed receiver, out-of-order data, a window change, PAWS, and every flag but ACK/PSH.
 */
#define TF_NOT_PREDICTED (TF_RECOVERY | TF_PERSIST | TF_PAUSED | TF_FIN_RCVD | TF_IN_DELIVER)

static inline bool
fast_path_ok(const struct tcp_engine *e, const struct tcp_flow *f, const struct tcp_seg *s)
{
	uint32_t wnd;

	if ((s->flags & (TCP_FL_SYN | TCP_FL_FIN | TCP_FL_RST | TCP_FL_ACK | TCP_FL_URG)) !=
		    TCP_FL_ACK ||
	    f->state != TCP_ESTABLISHED || s->seq != f->rcv_nxt || (f->flags & TF_NOT_PREDICTED) ||
	    s->opts.nb_sack != 0 || f->nb_sb != 0 || f->nb_ooo != 0 ||
	    f->rto_undo != RTO_UNDO_NONE || ((uint32_t)s->wnd << f->snd_wscale) != f->snd_wnd ||
	    e->p.no_fast_path)
		return false;
	if ((f->flags & TF_TS) && tcp_paws_reject(f->ts_recent, f->ts_recent_age, s, e->now))
		return false;
	if (s->len == 0) /* (a) a pure ACK of new data */
		return seq_gt(s->ack, f->snd_una) && seq_leq(s->ack, f->snd_max);
	/* (b) in-order data that the window takes whole, acknowledging nothing new */
	wnd = seq_gt(f->rcv_adv, f->rcv_nxt) ? f->rcv_adv - f->rcv_nxt : 0;
	return s->ack == f->snd_una && s->len <= wnd;
}

/*
 * (a): process_ack's new-ACK branch without recovery, undo or scoreboard. Returns false when
 * the app closed the flow from its acked() callback.
 */
static bool
fast_ack(struct tcp_engine *e, struct tcp_flow *f, const struct tcp_seg *s)
{
	uint32_t smss = tcp_smss(f);
	uint32_t acked = s->ack - f->snd_una;
	uint32_t data_acked = ack_advance(e, f, s->ack, smss);

	/* tcp_sb_update with no range kept and no block to merge */
	f->sacked = 0;
	f->fack = f->snd_una;
	f->dupacks = 0;
	cc_new_ack(f, acked);
	f->flags &= ~TF_TLP_DONE;
	if (f->snd_una == f->snd_max) {
		f->rexmt_at = 0;
		f->flags &= ~(TF_PERSIST | TF_TLP_ARMED);
	} else {
		tcp_arm_rexmt(f);
	}
	window_update(e, f, s, f->snd_wnd);
	if (data_acked > 0 && (f->flags & TF_APP) && f->l->cb.acked != NULL) {
		f->l->cb.acked(f, f->ctx, data_acked);
		if (f->state == TCP_CLOSED)
			return false;
	}
	return true;
}

/* (b): input_data's in-order case with nothing out of order and the app reading. */
static void
fast_data(struct tcp_engine *e, struct tcp_flow *f, const struct tcp_seg *s, struct rte_mbuf *m)
{
	window_update(e, f, s, f->snd_wnd);
	rx_pressure_prune(e, m);
	f->rcv_nxt += s->len;
	e->stats.bytes_in += s->len;
	rcvq_append(f, m);
	if (++f->unacked_segs >= 2)
		f->flags |= TF_ACKNOW;
	else if (f->delack_at == 0)
		f->delack_at = e->now + e->p.delack_us;
}

/*
 * A segment fast_path_ok() predicted: the same state and output as input_flow() gives it. It
 * keeps input_flow()'s current-flow bracket and pending output itself, called straight from
 * tcp_input(): choosing inside input_flow() instead cost 81 instructions a request (callgrind).
 */
static void
input_fast(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s, struct rte_mbuf *m)
{
	struct tcp_flow *outer = e->cur_flow;

	e->cur_flow = f;
	e->stats.fast_path++;
	if (s->len == 0) {
		rte_pktmbuf_free(m);
		m = NULL;
	} else if (likely(m->data_len > s->hdr_len)) {
		m->data_off += s->hdr_len;
		m->data_len -= s->hdr_len;
		m->pkt_len -= s->hdr_len;
	} else {
		m = tcp_mbuf_chop(m, s->hdr_len);
	}
	f->last_rx_us = e->now;
	f->ka_probes = 0;
	/* Timestamp to echo (RFC 7323 4.3), as input_trim takes it */
	if ((f->flags & TF_TS) && s->opts.has_ts && seq_leq(s->seq, f->last_ack_sent)) {
		f->ts_recent = s->opts.tsval;
		f->ts_recent_age = e->now;
	}
	if (m == NULL) {
		if (!fast_ack(e, f, s))
			goto out;
	} else {
		fast_data(e, f, s, m);
	}
	tcp_deliver(f);
	if (f->state != TCP_CLOSED)
		tcp_output(f);
out:
	e->cur_flow = outer;
	if (f->state != TCP_CLOSED && (f->flags & TF_OUT_PENDING))
		tcp_output(f);
}

/* ---------------------------------------------------------------- entry */

void
tcp_input(struct tcp_engine *e, struct rte_mbuf *m, uint64_t now_us)
{
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;
	struct tcp_seg s;
	uint32_t l3, doff;
	struct tcp_flow *f;

	e->now = now_us;
	e->stats.seg_in++;
	ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	l3 = m->l3_len ? m->l3_len : (uint32_t)(ip->version_ihl & 0xf) * 4;
	if (m->data_len < l3 + sizeof(*th)) {
		tcp_drop(e, m, TCP_DROP_SHORT);
		return;
	}
	th = (const struct rte_tcp_hdr *)((const uint8_t *)ip + l3);
	doff = (uint32_t)(th->data_off >> 4) * 4;
	if (doff < sizeof(*th)) {
		tcp_drop(e, m, TCP_DROP_BAD_DOFF);
		return;
	}
	if (l3 + doff > m->data_len || l3 + doff > m->pkt_len) {
		tcp_drop(e, m, TCP_DROP_SHORT);
		return;
	}
	if (!l4_cksum_ok(m, ip, l3)) {
		tcp_drop(e, m, TCP_DROP_BAD_CSUM);
		return;
	}
	/* Every field is written below (the SACK blocks up to nb_sack): no memset per segment. */
	s.cookie_ack = false;
	s.tuple.raddr = rte_be_to_cpu_32(ip->src_addr);
	s.tuple.laddr = rte_be_to_cpu_32(ip->dst_addr);
	s.tuple.rport = rte_be_to_cpu_16(th->src_port);
	s.tuple.lport = rte_be_to_cpu_16(th->dst_port);
	s.seq = rte_be_to_cpu_32(th->sent_seq);
	s.ack = rte_be_to_cpu_32(th->recv_ack);
	s.wnd = rte_be_to_cpu_16(th->rx_win);
	s.flags = th->tcp_flags & 0x3f;
	s.hdr_len = (uint16_t)(l3 + doff);
	s.len = m->pkt_len - l3 - doff;
	s.now = now_us;
	if (parse_opts((const uint8_t *)(th + 1), doff - sizeof(*th), s.flags & TCP_FL_SYN,
		       &s.opts) != 0) {
		tcp_drop(e, m, TCP_DROP_BAD_OPTIONS);
		return;
	}
	if (bad_src(s.tuple.raddr) || s.tuple.rport == 0 || s.tuple.lport == 0 ||
	    !is_local(e, s.tuple.laddr)) {
		tcp_drop(e, m, TCP_DROP_BAD_ADDR);
		return;
	}
	if ((s.flags & TCP_FL_SYN) && (s.flags & (TCP_FL_FIN | TCP_FL_RST))) {
		tcp_drop(e, m, TCP_DROP_BAD_FLAGS);
		return;
	}
	if (s.flags == 0) {
		tcp_drop(e, m, TCP_DROP_BAD_FLAGS);
		return;
	}

	f = tcp_own_find(e, &s.tuple);
	/* Not ours: none at all, or (steering gone wrong) another engine's. */
	if (f == NULL)
		f = tcp_flow_lookup(e->t, &s.tuple);
	if (f == NULL || CMM_LOAD_SHARED(f->state) == TCP_CLOSED) {
		struct tcp_tw *w = tcp_tw_lookup(e, &s.tuple);

		if (w != NULL && tcp_tw_input(e, w, &s, m))
			return;
		input_noflow(e, &s, m);
		return;
	}
	if (f->owner != e->p.lcore_idx) {
		tcp_drop(e, m, TCP_DROP_NOT_OWNER);
		return;
	}
	if (fast_path_ok(e, f, &s)) {
		input_fast(e, f, &s, m);
		return;
	}
	input_flow(e, f, &s, m);
}

/*
 * The segment an ICMP error quotes: outer IPv4 (l3_len), 8 bytes of ICMP, then the IPv4
 * header and at least the first 8 bytes of TCP of a segment we sent. NULL when it is not that.
 */
static const struct rte_ipv4_hdr *
icmp_quote(const struct rte_mbuf *m, const struct rte_icmp_hdr **icmp_out,
	   const struct rte_tcp_hdr **th_out)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	uint32_t l3 = m->l3_len ? m->l3_len : (uint32_t)(ip->version_ihl & 0xf) * 4;
	const struct rte_ipv4_hdr *q;
	uint32_t qihl;

	if (m->data_len < l3 + sizeof(struct rte_icmp_hdr) + sizeof(*q))
		return NULL;
	*icmp_out = (const struct rte_icmp_hdr *)((const uint8_t *)ip + l3);
	q = (const struct rte_ipv4_hdr *)(*icmp_out + 1);
	qihl = (uint32_t)(q->version_ihl & 0xf) * 4;
	if ((q->version_ihl >> 4) != 4 || qihl < sizeof(*q) || q->next_proto_id != IPPROTO_TCP)
		return NULL;
	/* RFC 792 quotes 64 bits of the datagram: ports and the sequence number */
	if (m->data_len < l3 + sizeof(struct rte_icmp_hdr) + qihl + 8)
		return NULL;
	*th_out = (const struct rte_tcp_hdr *)((const uint8_t *)q + qihl);
	return q;
}

int
tcp_icmp_tuple(const struct rte_mbuf *m, struct tcp_tuple *tuple_out)
{
	const struct rte_icmp_hdr *icmp;
	const struct rte_tcp_hdr *th;
	const struct rte_ipv4_hdr *q = icmp_quote(m, &icmp, &th);

	if (q == NULL)
		return -EINVAL;
	/* the quoted segment went from us to the peer */
	tuple_out->laddr = rte_be_to_cpu_32(q->src_addr);
	tuple_out->raddr = rte_be_to_cpu_32(q->dst_addr);
	tuple_out->lport = rte_be_to_cpu_16(th->src_port);
	tuple_out->rport = rte_be_to_cpu_16(th->dst_port);
	return 0;
}

/* A new, lower MSS for f: what was sent in larger segments goes again from snd_una. */
static void
pmtu_lower(struct tcp_flow *f, uint16_t mss)
{
	f->mss = mss;
	/*
	 * The segment that drew the ICMP was dropped, and likely every full-size one after it
	 * (RFC 5927 4.2: this is not congestion, so cwnd stays). Resend from snd_una in
	 * segments of the new size; what the peer SACKed is skipped as after an RTO.
	 */
	f->flags &= ~TF_RTT_TIMING;
	f->snd_nxt = f->snd_una;
	f->rtx_nxt = f->snd_una;
	tcp_output(f);
}

int
tcp_icmp_input(struct tcp_engine *e, struct rte_mbuf *m, uint64_t now_us)
{
	const struct rte_icmp_hdr *icmp;
	const struct rte_tcp_hdr *th;
	struct tcp_tuple tuple;
	struct tcp_flow *f;
	uint32_t seq, mss;
	uint16_t mtu;

	e->now = now_us;
	if (icmp_quote(m, &icmp, &th) == NULL || icmp->icmp_type != 3 || icmp->icmp_code != 4) {
		tcp_drop(e, m, TCP_DROP_ICMP_MALFORMED);
		return -EINVAL;
	}
	tcp_icmp_tuple(m, &tuple);
	/* next-hop MTU: the low 16 bits of the ICMP header's second word (RFC 1191) */
	mtu = rte_be_to_cpu_16(icmp->icmp_seq_nb);
	seq = rte_be_to_cpu_32(th->sent_seq);
	f = tcp_flow_lookup(e->t, &tuple);
	if (f == NULL || CMM_LOAD_SHARED(f->state) == TCP_CLOSED || f->owner != e->p.lcore_idx ||
	    f->state < TCP_ESTABLISHED) {
		tcp_drop(e, m, TCP_DROP_ICMP_NO_FLOW);
		return -ENOENT;
	}
	/*
	 * RFC 5927 4.1: only a sequence number we sent and the peer has not acknowledged. An
	 * off-path host must guess one inside the flight to shrink the flow; our snd_max is the
	 * RFC's SND.NXT (our snd_nxt moves back while resending).
	 */
	if (seq_lt(seq, f->snd_una) || seq_geq(seq, f->snd_max)) {
		tcp_drop(e, m, TCP_DROP_ICMP_SEQ);
		return -ERANGE;
	}
	/* mtu 0 is a pre-RFC 1191 router: no figure to act on (no plateau guessing) */
	mss = RTE_MAX((uint32_t)(mtu > 40 ? mtu - 40 : 0), (uint32_t)TCP_PMTU_MIN_MSS);
	if (mtu == 0 || mss >= f->mss) {
		tcp_drop(e, m, TCP_DROP_ICMP_MTU);
		return -EINVAL;
	}
	rte_pktmbuf_free(m);
	e->stats.pmtu_lowered++;
	pmtu_lower(f, (uint16_t)mss);
	return 0;
}
