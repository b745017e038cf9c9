/* TIME_WAIT: the few words a finished connection keeps to absorb its late segments. */
#include <errno.h>
#include <stdlib.h>

#include "dataplane/tcp/tcp_priv.h"

/*
 * A connection we closed first has told its app, freed its queues and has nothing left but
 * to answer the peer's retransmitted FIN and to keep a duplicate of itself from being taken
 * for a new connection (RFC 9293 3.6, RFC 1337). That needs the tuple, both sequence
 * numbers, the timestamps and a timer: an entry of under 100 bytes instead of a flow of
 * several KiB with its table slot and id. Entries live in a table private to the owning
 * engine (steering sends every segment of a tuple to one lcore, so no one else looks here),
 * hashed with the engine's key, and on an age list: every entry waits time_wait_us from its
 * last FIN, so the list stays sorted by expiry and the timer is its head.
 */

static uint32_t
tw_bucket(const struct tcp_engine *e, const struct tcp_tuple *t)
{
	uint64_t a = ((uint64_t)t->laddr << 32) | t->raddr;
	uint64_t b = ((uint64_t)t->lport << 16) | t->rport;

	return (uint32_t)tcp_siphash(e->k0, e->k1, a, b, 0x7477) & e->tw_mask;
}

static bool
tuple_eq(const struct tcp_tuple *a, const struct tcp_tuple *b)
{
	return a->raddr == b->raddr && a->laddr == b->laddr && a->rport == b->rport &&
	       a->lport == b->lport;
}

int
tcp_tw_init(struct tcp_engine *e)
{
	uint32_t cap = e->p.max_time_wait != 0 ? e->p.max_time_wait : e->p.max_flows;
	uint32_t nb = 1;

	TAILQ_INIT(&e->tw_age);
	while (nb < cap && nb < (1u << 31))
		nb <<= 1;
	e->tw_mem = calloc(cap, sizeof(*e->tw_mem));
	e->tw_bucket = calloc(nb, sizeof(*e->tw_bucket));
	if (e->tw_mem == NULL || e->tw_bucket == NULL) {
		tcp_tw_fini(e);
		return -ENOMEM;
	}
	e->tw_cap = cap;
	e->tw_mask = nb - 1;
	for (uint32_t i = cap; i-- > 0;) {
		e->tw_mem[i].hnext = e->tw_free;
		e->tw_free = &e->tw_mem[i];
	}
	return 0;
}

void
tcp_tw_fini(struct tcp_engine *e)
{
	free(e->tw_mem);
	free(e->tw_bucket);
	e->tw_mem = e->tw_free = NULL;
	e->tw_bucket = NULL;
	e->tw_cap = 0;
	e->nb_tw = 0;
}

struct tcp_tw *
tcp_tw_lookup(struct tcp_engine *e, const struct tcp_tuple *t)
{
	if (e->nb_tw == 0)
		return NULL;
	for (struct tcp_tw *w = e->tw_bucket[tw_bucket(e, t)]; w != NULL; w = w->hnext)
		if (tuple_eq(&w->tuple, t))
			return w;
	return NULL;
}

static void
tw_free(struct tcp_engine *e, struct tcp_tw *w)
{
	struct tcp_tw **pp = &e->tw_bucket[tw_bucket(e, &w->tuple)];

	while (*pp != w)
		pp = &(*pp)->hnext;
	*pp = w->hnext;
	TAILQ_REMOVE(&e->tw_age, w, age);
	w->hnext = e->tw_free;
	e->tw_free = w;
	e->nb_tw--;
	e->stats.flows_by_state[TCP_TIME_WAIT]--;
}

/*
 * The entry table is full and another connection finishes: one entry gives way early. The
 * oldest that has timestamps goes first (PAWS on a later incarnation of its tuple rejects its
 * duplicates, and RFC 6191 reuse needs them anyway); with none among the eight oldest, the
 * oldest goes. The table only bounds memory: it never refuses a new connection.
 */
static void
tw_reap(struct tcp_engine *e)
{
	struct tcp_tw *w, *victim = NULL;
	unsigned int n = 0;

	TAILQ_FOREACH(w, &e->tw_age, age)
	{
		if (w->ts) {
			victim = w;
			break;
		}
		if (++n == 8)
			break;
	}
	if (victim == NULL)
		victim = TAILQ_FIRST(&e->tw_age);
	e->stats.time_wait_reaped++;
	tw_free(e, victim);
}

void
tcp_tw_enter(struct tcp_engine *e, const struct tcp_flow *f)
{
	struct tcp_tw *w;
	uint32_t b;

	if (e->tw_cap == 0 || e->p.time_wait_us == 0)
		return;
	if (e->tw_free == NULL)
		tw_reap(e);
	w = e->tw_free;
	e->tw_free = w->hnext;
	w->tuple = f->tuple;
	w->snd_nxt = f->snd_max;
	w->rcv_nxt = f->rcv_nxt;
	w->rcv_wnd = seq_gt(f->rcv_adv, f->rcv_nxt) ? f->rcv_adv - f->rcv_nxt : 0;
	w->win = (uint16_t)RTE_MIN(w->rcv_wnd >> f->rcv_wscale, 65535u);
	w->ts = (f->flags & TF_TS) != 0;
	w->ts_recent = f->ts_recent;
	w->ts_recent_age = f->ts_recent_age;
	w->ts_offset = f->ts_offset;
	w->oow_ack_at = f->oow_ack_at;
	w->expire_at = e->now + e->p.time_wait_us;
	b = tw_bucket(e, &w->tuple);
	w->hnext = e->tw_bucket[b];
	e->tw_bucket[b] = w;
	TAILQ_INSERT_TAIL(&e->tw_age, w, age);
	e->nb_tw++;
	e->stats.flows_by_state[TCP_TIME_WAIT]++;
}

void
tcp_tw_expire(struct tcp_engine *e)
{
	struct tcp_tw *w;

	while ((w = TAILQ_FIRST(&e->tw_age)) != NULL && w->expire_at <= e->now)
		tw_free(e, w);
}

/* The peer's FIN again: wait the whole time from now (RFC 9293 3.10.7.4, TIME-WAIT). */
static void
tw_restart(struct tcp_engine *e, struct tcp_tw *w)
{
	w->expire_at = e->now + e->p.time_wait_us;
	TAILQ_REMOVE(&e->tw_age, w, age);
	TAILQ_INSERT_TAIL(&e->tw_age, w, age);
}

static void
tw_ack(struct tcp_engine *e, struct tcp_tw *w)
{
	tcp_send_bare_ack(e, &w->tuple, w->snd_nxt, w->rcv_nxt, w->win, w->ts, w->ts_offset,
			  w->ts_recent);
}

/* Answers to invalid segments: one per entry per 500 ms, as for a flow (tcp_oow_slot). */
static void
tw_oow_ack(struct tcp_engine *e, struct tcp_tw *w)
{
	if (!tcp_oow_slot(&w->oow_ack_at, e->now)) {
		e->stats.oow_acks_limited++;
		return;
	}
	tw_ack(e, w);
}

static void
tw_challenge_ack(struct tcp_engine *e, struct tcp_tw *w)
{
	if (!tcp_oow_slot(&w->oow_ack_at, e->now) || !tcp_challenge_budget(e)) {
		e->stats.challenge_acks_limited++;
		return;
	}
	e->stats.challenge_acks++;
	tw_ack(e, w);
}

/*
 * A segment for a tuple in TIME_WAIT, answered as the flow would have answered it. Returns
 * false when the entry gave way to a new connection (RFC 6191): the caller then treats the
 * segment as one for no flow. The segment is consumed otherwise.
 */
bool
tcp_tw_input(struct tcp_engine *e, struct tcp_tw *w, const struct tcp_seg *s, struct rte_mbuf *m)
{
	uint32_t seglen = s->len + !!(s->flags & TCP_FL_SYN) + !!(s->flags & TCP_FL_FIN);

	if ((s->flags & (TCP_FL_SYN | TCP_FL_ACK | TCP_FL_RST)) == TCP_FL_SYN &&
	    (seq_gt(s->seq, w->rcv_nxt) ||
	     (w->ts && s->opts.has_ts && seq_gt(s->opts.tsval, w->ts_recent)))) {
		/* RFC 6191: a new incarnation may reuse the tuple if it is newer. */
		tw_free(e, w);
		return false;
	}
	if (w->ts && tcp_paws_reject(w->ts_recent, w->ts_recent_age, s, e->now)) {
		tw_oow_ack(e, w);
		tcp_drop(e, m, TCP_DROP_PAWS);
		return true;
	}
	if (!tcp_seq_in_window(w->rcv_nxt, w->rcv_wnd, s->seq, seglen)) {
		if (!(s->flags & TCP_FL_RST)) {
			if (s->len > 0)
				e->stats.dup_acks_out++;
			if (s->flags & TCP_FL_FIN)
				tw_restart(e, w);
			/* A FIN or data we have: its ACK was lost, answer every time. */
			if (seglen > 0 && !(s->flags & TCP_FL_SYN) &&
			    seq_leq(s->seq + seglen, w->rcv_nxt))
				tw_ack(e, w);
			else
				tw_oow_ack(e, w);
		}
		tcp_drop(e, m, TCP_DROP_OUT_OF_WINDOW);
		return true;
	}
	if (s->flags & TCP_FL_RST) {
		e->stats.rst_in++;
		/* RFC 1337: a RST, even an exact one, does not end TIME_WAIT early. */
		if (s->seq == w->rcv_nxt) {
			tcp_drop(e, m, TCP_DROP_STATE);
			return true;
		}
		tw_challenge_ack(e, w);
		tcp_drop(e, m, TCP_DROP_CHALLENGE);
		return true;
	}
	if (s->flags & TCP_FL_SYN) {
		tw_challenge_ack(e, w);
		tcp_drop(e, m, TCP_DROP_CHALLENGE);
		return true;
	}
	if (!(s->flags & TCP_FL_ACK)) {
		tcp_drop(e, m, TCP_DROP_NO_ACK);
		return true;
	}
	if (seq_gt(s->ack, w->snd_nxt)) {
		tw_oow_ack(e, w);
		tcp_drop(e, m, TCP_DROP_BAD_ACK);
		return true;
	}
	if (w->ts && s->opts.has_ts && seq_leq(s->seq, w->rcv_nxt)) {
		w->ts_recent = s->opts.tsval;
		w->ts_recent_age = e->now;
	}
	/* In window with data or a FIN: nothing is taken any more, the ACK says so again. */
	if (s->len > 0 || (s->flags & TCP_FL_FIN)) {
		tw_ack(e, w);
		tw_restart(e, w);
	}
	rte_pktmbuf_free(m);
	return true;
}

enum tcp_state
tcp_tuple_state(struct tcp_engine *e, const struct tcp_tuple *t)
{
	struct tcp_flow *f = tcp_flow_lookup(e->t, t);

	if (f != NULL && CMM_LOAD_SHARED(f->state) != TCP_CLOSED)
		return f->state;
	return tcp_tw_lookup(e, t) != NULL ? TCP_TIME_WAIT : TCP_CLOSED;
}

uint32_t
tcp_engine_nb_time_wait(const struct tcp_engine *e)
{
	return e->nb_tw;
}
