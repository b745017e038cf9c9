/* Active open: source port choice, SYN_SENT (RFC 9293 3.10.7.3), SYN retransmission. */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>

#include "dataplane/tcp/tcp_priv.h"

/* IANA's dynamic range (RFC 6335), so no listener of ours is ever taken as a source. */
#define TCP_EPHEMERAL_LO 49152u
#define TCP_EPHEMERAL_N	 16384u
/* Ports looked at per connect: with N lcores about one in N maps back to this one. */
#define TCP_CONNECT_TRIES 2048u

/* One engine per thread: where the last search stopped, so ports are not reused at once. */
static __thread uint32_t port_cursor;
static __thread bool port_cursor_set;

/* The callbacks of active opens live in the listener table under port 0, never matched. */
static struct tcp_listener *
connector(struct tcp_engine *e, const struct tcp_callbacks *cb)
{
	struct tcp_listener *free_slot = NULL;

	for (int i = 0; i < TCP_MAX_LISTEN; i++) {
		struct tcp_listener *l = &e->listen[i];

		if (l->used && l->port == 0 && memcmp(&l->cb, cb, sizeof(*cb)) == 0)
			return l;
		if (!l->used && free_slot == NULL)
			free_slot = l;
	}
	if (free_slot != NULL) {
		free_slot->port = 0;
		free_slot->cb = *cb;
		free_slot->arg = NULL;
		free_slot->used = true;
	}
	return free_slot;
}

static void
send_syn(struct tcp_flow *f)
{
	tcp_xmit_syn(f->e, f, (uint16_t)RTE_MIN(f->e->p.rcvbuf, 65535u));
}

int
tcp_connect(struct tcp_engine *e, const struct tcp_callbacks *cb, uint32_t laddr, uint32_t raddr,
	    uint16_t rport, void *ctx, struct tcp_flow **flow_out)
{
	struct tcp_listener *l;
	struct tcp_seg s;
	struct tcp_flow *f = NULL;
	bool local = false;

	if (cb == NULL || cb->accepted == NULL || cb->data == NULL || cb->closed == NULL ||
	    rport == 0 || raddr == 0 || flow_out == NULL)
		return -EINVAL;
	for (unsigned int i = 0; i < e->p.nb_local_addrs; i++)
		local |= e->p.local_addrs[i] == laddr;
	if (!local)
		return -EINVAL;
	l = connector(e, cb);
	if (l == NULL)
		return -ENOSPC;
	if (e->nb_flows >= e->p.max_flows) /* TIME_WAIT holds no flow: nothing to reap */
		return -ENOSPC;
	if (!port_cursor_set) {
		port_cursor = (uint32_t)tcp_siphash(e->k0, e->k1, e->now, raddr, rport);
		port_cursor_set = true;
	}
	memset(&s, 0, sizeof(s));
	s.tuple.raddr = raddr;
	s.tuple.laddr = laddr;
	s.tuple.rport = rport;
	/* What our SYN offers; the SYN-ACK decides what is used. */
	s.opts.has_ws = true;
	s.opts.sack_ok = true;
	s.opts.has_ts = true;
	s.now = e->now;
	for (uint32_t i = 0; i < TCP_CONNECT_TRIES; i++) {
		s.tuple.lport = (uint16_t)(TCP_EPHEMERAL_LO + port_cursor++ % TCP_EPHEMERAL_N);
		/* Replies are steered by the tuple's hash: only a port that maps here works. */
		if (tcp_flow_owner(e->t, &s.tuple, e->p.nb_lcores) != e->p.lcore_idx ||
		    tcp_flow_lookup(e->t, &s.tuple) != NULL || tcp_tw_lookup(e, &s.tuple) != NULL)
			continue; /* a tuple in our TIME_WAIT is not reused before its time */
		f = tcp_flow_new(e, l, &s, tcp_isn(e, &s.tuple, e->now), TCP_SYN_SENT);
		if (f != NULL)
			break;
		if (e->nb_free_ids == 0)
			return -ENOSPC;
	}
	if (f == NULL)
		return -EADDRNOTAVAIL;
	f->ts_recent = 0;
	f->ctx = ctx;
	f->flags |= TF_APP | TF_RTT_TIMING; /* closed() is owed from now on, whatever happens */
	f->rtt_seq = f->iss;
	f->rtt_start = e->now;
	e->stats.connects++;
	send_syn(f);
	f->rexmt_at = e->now + f->rto;
	tcp_timer_sched(f);
	*flow_out = f;
	return 0;
}

void
tcp_syn_sent_timeout(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;

	if (++f->retries > e->p.syn_retries) {
		e->stats.connect_timeouts++;
		tcp_flow_release(f, TCP_CLOSE_TIMEOUT, true);
		return;
	}
	f->flags &= ~TF_RTT_TIMING; /* Karn: an answer may be to either SYN */
	e->stats.retransmits++;
	send_syn(f);
	f->rto = RTE_MIN(f->rto * 2, e->p.rto_max_us);
	f->rexmt_at = e->now + f->rto;
}

void
tcp_syn_sent_input(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s, struct rte_mbuf *m)
{
	void *ctx;
	int rc;

	/* Data on a SYN-ACK is not kept: our ACK says rcv_nxt, the peer sends it again. */
	rte_pktmbuf_free(m);
	if ((s->flags & TCP_FL_ACK) && (seq_leq(s->ack, f->iss) || seq_gt(s->ack, f->snd_max))) {
		/* not an answer to our SYN: RST for it (RFC 9293), the connection waits on */
		tcp_send_rst_reply(e, s);
		e->stats.drops[TCP_DROP_BAD_ACK]++;
		return;
	}
	if (s->flags & TCP_FL_RST) {
		e->stats.rst_in++;
		/* Only a RST that acknowledges our SYN refuses the connection (RFC 5961 3). */
		if (!(s->flags & TCP_FL_ACK)) {
			e->stats.drops[TCP_DROP_STATE]++;
			return;
		}
		e->stats.connect_refused++;
		tcp_flow_release(f, TCP_CLOSE_RESET, true);
		return;
	}
	if ((s->flags & (TCP_FL_SYN | TCP_FL_ACK)) != (TCP_FL_SYN | TCP_FL_ACK)) {
		/* a bare SYN (simultaneous open) or an ACK alone: not taken, our SYN is resent */
		e->stats.drops[TCP_DROP_STATE]++;
		return;
	}
	tcp_flow_syn_opts(f, s);
	f->irs = s->seq;
	f->rcv_nxt = s->seq + 1;
	f->rcv_adv = f->rcv_nxt + RTE_MIN(e->p.rcvbuf, 65535u);
	f->last_ack_sent = f->rcv_nxt;
	f->snd_una = s->ack;
	f->snd_wnd = s->wnd; /* never scaled on a SYN (RFC 7323 2.2) */
	f->max_sndwnd = f->snd_wnd;
	f->snd_wl1 = s->seq;
	f->snd_wl2 = s->ack;
	tcp_handshake_acked(f);
	f->last_rx_us = e->now;
	tcp_set_state(f, TCP_ESTABLISHED);
	f->flags |= TF_ACKNOW;

	ctx = f->ctx;
	rc = f->l->cb.accepted(f, f->l->arg, &ctx);
	if (f->state == TCP_CLOSED)
		return; /* the app aborted it from inside accepted() */
	if (rc != 0) {
		e->stats.refused++;
		tcp_abort(f);
		return;
	}
	f->ctx = ctx;
	e->stats.accepted++;
	if (e->p.keepalive_us || e->p.idle_timeout_us)
		f->linger_at =
			e->now + (e->p.keepalive_us ? e->p.keepalive_us : e->p.idle_timeout_us);
	tcp_output(f);
}
