/* Header prediction: the fast path must leave every flow exactly as the full arrival path does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include <rte_mbuf.h>

#include "dataplane/tcp/tcp_priv.h" /* the flow's fields are what is compared */
#include "tests/unit/tcp/harness.h"

/*
 * Each script runs twice on the same virtual clock and keys: once with the fast path, once
 * with no_fast_path. After every step the flow (every field but pointers and table ids), the
 * bytes it holds queued, the engine's counters, what the app saw and every segment sent are
 * recorded; the second run must match the first step for step. A scripted client drives the
 * flow the way a peer would: it "loses" some of the server's segments, acknowledges what it
 * has with SACK blocks for what lies beyond a hole, changes its window, sends data in and out
 * of order, repeats old segments, lets timers fire, pauses the app, and closes.
 */

#define MAX_STEPS 4000
#define MS	  1000ULL

struct snap {
	struct tcp_flow flow; /* normalized: pointers and ids cleared */
	bool has_flow;
	int state;
	struct tcp_stats stats; /* fast_path cleared */
	uint64_t queued_hash;	/* send and receive queue contents */
	uint64_t out_hash;	/* every segment sent since the last step */
	unsigned int nout;
	uint32_t app_rxlen;
	uint64_t app_acked;
	int app_eof, app_closed;
};

struct trace {
	struct snap *s;
	unsigned int n;
	const struct trace *ref; /* when set: compare each step against it */
	uint64_t fast_hits;
	bool closed; /* the flow reached TIME_WAIT (or went) at the end */
};

/* What the client has of the server's stream: in order up to nxt, and ranges beyond a hole. */
struct peer {
	uint32_t nxt;
	uint32_t ooo[8][2];
	int nb_ooo;
	bool fin;
	uint64_t rng;
	int unacked;
	uint32_t last_seq, last_len; /* the client's last data segment, to repeat it */
	uint32_t srv_ack;	     /* the highest ACK the server sent: what it has of ours */
	bool srv_ack_seen;
};

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t
chain_hash(uint64_t h, const struct rte_mbuf *m)
{
	for (; m != NULL; m = m->next)
		h = fnv(h, rte_pktmbuf_mtod(m, const void *), m->data_len);
	return h;
}

static uint32_t
rnd(struct peer *c, uint32_t n)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return (uint32_t)(c->rng % n);
}

/* The client takes the server's segment [seq, seq + len) (and FIN): in order or beyond a hole. */
static void
peer_take(struct peer *c, uint32_t seq, uint32_t len, bool fin)
{
	uint32_t end = seq + len;

	if (fin && seq_geq(c->nxt, seq) && len == 0)
		c->fin = true;
	if (len == 0)
		return;
	if (seq_leq(seq, c->nxt) && seq_gt(end, c->nxt)) {
		c->nxt = end;
		c->fin = fin;
	} else if (seq_gt(seq, c->nxt) && c->nb_ooo < 8) {
		c->ooo[c->nb_ooo][0] = seq;
		c->ooo[c->nb_ooo][1] = end;
		c->nb_ooo++;
	}
	/* ranges that became in order */
	for (bool moved = true; moved;) {
		moved = false;
		for (int i = 0; i < c->nb_ooo; i++) {
			if (seq_leq(c->ooo[i][0], c->nxt)) {
				c->nxt = seq_max(c->nxt, c->ooo[i][1]);
				c->ooo[i][0] = c->ooo[c->nb_ooo - 1][0];
				c->ooo[i][1] = c->ooo[c->nb_ooo - 1][1];
				c->nb_ooo--;
				moved = true;
				break;
			}
		}
	}
	c->unacked++;
}

static const char *
flow_field(size_t off)
{
#define F(x)                                                                                       \
	{                                                                                          \
#x, offsetof(struct tcp_flow, x)                                                   \
	}
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		F(state),	  F(flags),	 F(last_rx_us),	   F(mem_at),	    F(oow_ack_at),
		F(ip_id),	  F(last_tx_us), F(persist_since), F(snd_una),	    F(snd_nxt),
		F(snd_max),	  F(snd_wnd),	 F(max_sndwnd),	   F(snd_wl1),	    F(snd_wl2),
		F(mss),		  F(cwnd),	 F(ssthresh),	   F(recover),	    F(dupacks),
		F(retries),	  F(rto_undo),	 F(undo_cwnd),	   F(rto_tsval),    F(sb),
		F(nb_sb),	  F(sacked),	 F(fack),	   F(rtx_nxt),	    F(rack_rtx_us),
		F(rack_mark),	  F(sndq_bytes), F(fin_seq),	   F(srtt),	    F(rttvar),
		F(rto),		  F(rtt_seq),	 F(rtt_start),	   F(rcv_nxt),	    F(rcv_adv),
		F(last_ack_sent), F(ts_recent),	 F(ts_recent_age), F(unacked_segs), F(rcvq_bytes),
		F(ooo),		  F(nb_ooo),	 F(ooo_bytes),	   F(rexmt_at),	    F(delack_at),
		F(linger_at),	  F(wheel_at),	 F(wheel_slot),
	};
#undef F
	const char *best = "?";
	size_t best_off = 0;

	for (size_t i = 0; i < RTE_DIM(fields); i++)
		if (fields[i].off <= off && fields[i].off >= best_off) {
			best = fields[i].name;
			best_off = fields[i].off;
		}
	return best;
}

static void
record(struct h *h, struct trace *t, struct peer *c)
{
	struct snap s;
	struct tcp_flow *f = h_flow(h);
	uint64_t oh = 1469598103934665603ULL;
	struct h_pkt p;

	memset(&s, 0, sizeof(s));
	s.nout = h_pending(h);
	while (h_pending(h) > 0) {
		h_pop(h, &p); /* checks both checksums */
		oh = fnv(oh, &p, offsetof(struct h_pkt, data));
		oh = fnv(oh, p.data, p.len);
		if (c != NULL)
			peer_take(c, p.seq + ((p.flags & F_SYN) ? 1 : 0), p.len,
				  (p.flags & F_FIN) != 0);
		if (c != NULL && (p.flags & F_FIN) && p.len > 0 && seq_geq(c->nxt, p.seq + p.len))
			c->fin = true;
		if (c != NULL && (p.flags & F_ACK) &&
		    (!c->srv_ack_seen || seq_gt(p.ack, c->srv_ack))) {
			c->srv_ack = p.ack;
			c->srv_ack_seen = true;
		}
	}
	s.out_hash = oh;
	s.state = h_state(h);
	if (f != NULL && f->state != TCP_CLOSED) {
		uint64_t qh = 1469598103934665603ULL;

		s.has_flow = true;
		memcpy(&s.flow, f, sizeof(*f));
		qh = chain_hash(qh, f->sndq_head);
		qh = chain_hash(qh, f->rcvq);
		for (unsigned int i = 0; i < f->nb_ooo; i++)
			qh = chain_hash(qh, f->ooo[i].m);
		s.queued_hash = qh;
		memset(&s.flow.node, 0, sizeof(s.flow.node));
		memset(&s.flow.rcu, 0, sizeof(s.flow.rcu));
		s.flow.hash = 0;
		s.flow.id = 0;
		s.flow.gen = 0;
		s.flow.e = NULL;
		s.flow.l = NULL;
		s.flow.ctx = NULL;
		s.flow.sndq_head = s.flow.sndq_tail = NULL;
		s.flow.rcvq = s.flow.rcvq_last = NULL;
		for (unsigned int i = 0; i < TCP_OOO_MAX; i++)
			s.flow.ooo[i].m = s.flow.ooo[i].last = NULL;
		memset(&s.flow.wheel_link, 0, sizeof(s.flow.wheel_link));
		memset(&s.flow.eng_link, 0, sizeof(s.flow.eng_link));
		memset(&s.flow.txw_link, 0, sizeof(s.flow.txw_link));
		s.flow.own_next = NULL;
	}
	memcpy(&s.stats, tcp_engine_stats(h->e), sizeof(s.stats));
	t->fast_hits = s.stats.fast_path;
	s.stats.fast_path = 0;
	s.app_rxlen = h->app.rxlen;
	s.app_acked = h->app.acked;
	s.app_eof = h->app.eof;
	s.app_closed = h->app.closed;

	if (t->n >= MAX_STEPS)
		fail_msg("script longer than %d steps", MAX_STEPS);
	if (t->ref != NULL) {
		const struct snap *r = &t->ref->s[t->n];

		if (t->n >= t->ref->n)
			fail_msg("step %u: the reference run ended earlier", t->n);
		if (r->has_flow != s.has_flow || r->state != s.state)
			fail_msg("step %u: flow %d/state %d, reference %d/%d", t->n, s.has_flow,
				 s.state, r->has_flow, r->state);
		for (size_t i = 0; i < sizeof(s.flow); i++)
			if (((const uint8_t *)&s.flow)[i] != ((const uint8_t *)&r->flow)[i])
				fail_msg("step %u: flow differs at byte %zu (%s)", t->n, i,
					 flow_field(i));
		if (memcmp(&s.stats, &r->stats, sizeof(s.stats)) != 0)
			fail_msg("step %u: engine counters differ", t->n);
		if (s.out_hash != r->out_hash || s.nout != r->nout)
			fail_msg("step %u: output differs (%u segments, reference %u)", t->n,
				 s.nout, r->nout);
		if (s.queued_hash != r->queued_hash)
			fail_msg("step %u: queued bytes differ", t->n);
		if (s.app_rxlen != r->app_rxlen || s.app_acked != r->app_acked ||
		    s.app_eof != r->app_eof || s.app_closed != r->app_closed)
			fail_msg("step %u: what the app saw differs", t->n);
	}
	t->s[t->n++] = s;
}

/* A client ACK of everything in order, with SACK blocks (when negotiated) for what lies beyond. */
static void
peer_ack(struct h *h, struct peer *c, bool sack, uint16_t win)
{
	uint8_t raw[40];
	uint8_t n = 0;
	struct h_opts o = {.ws = -1};
	int nb = 0;

	if (h->ts) {
		uint32_t v = rte_cpu_to_be_32((uint32_t)(h->now / 1000));
		uint32_t r = rte_cpu_to_be_32(h->last_tsval);

		raw[n++] = 1;
		raw[n++] = 1;
		raw[n++] = 8;
		raw[n++] = 10;
		memcpy(raw + n, &v, 4);
		memcpy(raw + n + 4, &r, 4);
		n += 8;
	}
	if (sack && c->nb_ooo > 0) {
		int max = h->ts ? 3 : 4;
		uint8_t *hdr = raw + n;

		raw[n++] = 1;
		raw[n++] = 1;
		raw[n++] = 5;
		n++;
		for (int i = c->nb_ooo - 1; i >= 0 && nb < max; i--, nb++) {
			uint32_t l = rte_cpu_to_be_32(c->ooo[i][0]);
			uint32_t r = rte_cpu_to_be_32(c->ooo[i][1]);

			memcpy(raw + n, &l, 4);
			memcpy(raw + n + 4, &r, 4);
			n += 8;
		}
		hdr[3] = (uint8_t)(2 + 8 * nb);
	}
	o.raw = raw;
	o.rawlen = n;
	h->sseq = c->nxt + (c->fin ? 1 : 0);
	h_send(h, F_ACK, h->cseq, h->sseq, win, &o, NULL, 0);
	c->unacked = 0;
}

struct script {
	bool ts;
	bool sack;
	uint64_t seed;
	unsigned int steps;
	uint32_t loss_pct;
	bool clean; /* no reordering, repeats, window changes, PAWS or pauses */
};

static bool no_fast_path;
static const struct script *cur_script;

static void
tweak(struct tcp_engine_params *p)
{
	p->no_fast_path = no_fast_path;
	/*
	 * Odd seeds run with a receive pool that is "low" and a 7-mbuf share per flow, so that
	 * payload for a paused app is dropped (rx_pool_low, rx_share) and out-of-order queues
	 * pruned: what the fast path must leave to the full path.
	 */
	if (cur_script->seed & 1) {
		p->rx_low_watermark = 16000;
		p->rx_flow_share = 2340;
	}
}

/* One run of the client script. */
static void
run(const struct script *sc, bool fast, struct trace *t)
{
	static uint8_t rx[1 << 22];
	struct h h;
	struct peer c = {.rng = sc->seed};
	struct h_opts syn = {.mss = 1460, .ws = 7, .sackp = sc->sack, .ts = sc->ts};
	uint16_t win = 65535;
	uint32_t sent = 0;
	bool closing = false, client_fin = false;

	no_fast_path = !fast;
	cur_script = sc;
	h_init(&h, tweak);
	h.app.rx = rx;
	assert_int_equal(h_connect(&h, 40000, H_APP_PORT, &syn, 1000000), 0);
	c.nxt = h.sseq;
	assert_non_null(h.app.flow);
	record(&h, t, &c);
	for (unsigned int i = 0; i < sc->steps && h.app.flow != NULL; i++) {
		uint32_t r = rnd(&c, 100);
		struct tcp_flow *f = h.app.flow;

		/* clean: the server sends, the client acks, the client sends, time passes */
		if (sc->clean && r >= 55 && r < 71)
			r = 20 + r % 20;

		if (r < 20 && !closing) {
			/* the server sends: the app writes a response */
			uint32_t n = 1 + rnd(&c, 30000);

			n = (uint32_t)tcp_send(f, h_pattern + (sent % 4096), n);
			sent += n;
		} else if (r < 40) {
			/* the client reads what arrived and acknowledges it */
			peer_ack(&h, &c, sc->sack, win);
		} else if (r < 55 && !closing) {
			/* in-order client data */
			uint32_t n = 1 + rnd(&c, 1448);

			c.last_seq = h.cseq;
			c.last_len = n;
			h.sseq = c.nxt + (c.fin ? 1 : 0);
			h_data(&h, h_pattern + 7, n);
		} else if (r < 60 && !closing) {
			/* two segments reordered: the later first (out of order), then the hole */
			uint32_t a = 1 + rnd(&c, 1000), b = 1 + rnd(&c, 1000);
			struct h_opts o = {.ws = -1, .ts = h.ts};

			o.tsval = (uint32_t)(h.now / 1000);
			o.tsecr = h.last_tsval;
			h_send(&h, F_ACK, h.cseq + a, h.sseq, win, &o, h_pattern + 3, b);
			record(&h, t, &c);
			h_send(&h, F_ACK | F_PSH, h.cseq, h.sseq, win, &o, h_pattern + 11, a);
			h.cseq += a + b;
		} else if (r < 63 && c.last_len > 0) {
			/* an old segment again (its ACK was lost) */
			struct h_opts o = {.ws = -1, .ts = h.ts};

			o.tsval = (uint32_t)(h.now / 1000);
			o.tsecr = h.last_tsval;
			h_send(&h, F_ACK, c.last_seq, h.sseq, win, &o, h_pattern + 7, c.last_len);
		} else if (r < 66) {
			/* the window changes (and changes back) */
			static const uint16_t wins[] = {400, 20, 0, 65535, 65535, 65535, 65535};

			win = wins[rnd(&c, RTE_DIM(wins))];
			h.cwin = win;
			peer_ack(&h, &c, sc->sack, win);
		} else if (r < 68 && h.ts) {
			/*
			 * A segment from the past (PAWS) that would otherwise be predicted: an ACK
			 * of new data, or data at rcv_nxt.
			 */
			struct h_opts o = {.ws = -1, .ts = true};
			uint32_t n = rnd(&c, 2) ? 0 : 1 + rnd(&c, 500);

			o.tsval = (uint32_t)(h.now / 1000) - 5000000;
			o.tsecr = h.last_tsval;
			if (n == 0)
				h.sseq = c.nxt + (c.fin ? 1 : 0);
			h_send(&h, F_ACK, h.cseq, h.sseq, win, &o, h_pattern + 9, n);
		} else if (r < 71) {
			/* the app stops reading after a few bytes, or reads again */
			if (h.app.consume_max == UINT32_MAX && rnd(&c, 4) == 0) {
				h.app.consume_max = 100;
			} else {
				h.app.consume_max = UINT32_MAX;
				tcp_recv_resume(f);
			}
		} else if (r < 80) {
			/* time passes: delayed ACKs, tail loss probes, RTOs, persist */
			h_advance(&h, 1 + rnd(&c, rnd(&c, 8) == 0 ? 250 : 20) * MS);
		} else if (r < 90) {
			peer_ack(&h, &c, sc->sack, win);
		} else if (r < 92 && !closing && i > sc->steps / 2) {
			/* the server closes after what it has queued */
			closing = true;
			tcp_shutdown(f);
		} else if (r < 93 && !closing && i > sc->steps / 2) {
			/* the client closes */
			/* a bare FIN or one with data, acknowledging what the client has */
			struct h_opts o = {.ws = -1, .ts = h.ts};
			uint32_t n = rnd(&c, 2) ? 0 : 1 + rnd(&c, 1000);

			o.tsval = (uint32_t)(h.now / 1000);
			o.tsecr = h.last_tsval;
			closing = true;
			client_fin = true;
			if (rnd(&c, 2))
				h.sseq = c.nxt + (c.fin ? 1 : 0);
			h_send(&h, F_ACK | F_FIN, h.cseq, h.sseq, win, &o, h_pattern + 5, n);
			h.cseq += n + 1;
		} else {
			h_advance(&h, 200);
		}
		/* the network loses some of the server's segments before the client sees them */
		while (sc->loss_pct > 0 && h_pending(&h) > 1 && rnd(&c, 100) < sc->loss_pct) {
			struct h_pkt p;

			h_pop(&h, &p);
		}
		record(&h, t, &c);
	}
	/* Both sides finish: the server's FIN after its data, the client's, the last ACKs. */
	if (h.app.flow != NULL) {
		h.app.consume_max = UINT32_MAX;
		tcp_recv_resume(h.app.flow);
		tcp_shutdown(h.app.flow);
	}
	win = 65535;
	h.cwin = win;
	record(&h, t, &c);
	for (int k = 0; k < 400 && h_state(&h) != TCP_TIME_WAIT && h_state(&h) != TCP_CLOSED; k++) {
		uint32_t dend = client_fin ? h.cseq - 1 : h.cseq;

		if (c.srv_ack_seen && seq_lt(c.srv_ack, h.cseq) && k % 2 == 1) {
			/*
			 * The client sends what the server has not acknowledged again (this
			 * client ignores the server's window, and the server dropped the rest).
			 */
			struct h_opts o = {.ws = -1, .ts = h.ts};
			uint32_t n = RTE_MIN(dend - c.srv_ack, 1400u);
			bool fin = client_fin && c.srv_ack + n == dend;

			o.tsval = (uint32_t)(h.now / 1000);
			o.tsecr = h.last_tsval;
			h.sseq = c.nxt + (c.fin ? 1 : 0);
			h_send(&h, F_ACK | (fin ? F_FIN : 0), c.srv_ack, h.sseq, win, &o, h_pattern,
			       n);
		} else if (!client_fin && c.fin) {
			struct h_opts o = {.ws = -1, .ts = h.ts};

			o.tsval = (uint32_t)(h.now / 1000);
			o.tsecr = h.last_tsval;
			h.sseq = c.nxt + 1;
			h_send(&h, F_ACK | F_FIN, h.cseq, h.sseq, win, &o, NULL, 0);
			h.cseq++;
			client_fin = true;
		} else {
			peer_ack(&h, &c, sc->sack, win);
		}
		record(&h, t, &c);
		h_advance(&h, 20 * MS);
		record(&h, t, &c);
	}
	t->closed = h_state(&h) == TCP_TIME_WAIT || h_state(&h) == TCP_CLOSED;
	h_fini(&h);
}

static void
differential(const struct script *sc)
{
	struct trace fast = {.s = calloc(MAX_STEPS, sizeof(struct snap))};
	struct trace full = {.s = calloc(MAX_STEPS, sizeof(struct snap)), .ref = &fast};

	assert_non_null(fast.s);
	assert_non_null(full.s);
	run(sc, true, &fast);
	run(sc, false, &full);
	printf("# seed %lu: %u steps, %lu of %lu segments predicted, end state %s\n",
	       (unsigned long)sc->seed, fast.n, (unsigned long)fast.fast_hits,
	       (unsigned long)fast.s[fast.n - 1].stats.seg_in,
	       tcp_state_str((enum tcp_state)fast.s[fast.n - 1].state));
	assert_int_equal(full.n, fast.n);
	assert_int_equal(full.fast_hits, 0);
	assert_true(fast.closed);
	/* the comparison says something only if the fast path ran (loss keeps it rare) */
	assert_true(fast.fast_hits >= 10);
	free(fast.s);
	free(full.s);
}

static void
test_fastpath_ts_sack(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct script sc = {.ts = true, .sack = true, .seed = seed * 7919, .steps = 900};

		differential(&sc);
	}
}

static void
test_fastpath_ts_sack_loss(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct script sc = {.ts = true,
				    .sack = true,
				    .seed = seed * 104729,
				    .steps = 900,
				    .loss_pct = 8};

		differential(&sc);
	}
}

static void
test_fastpath_plain_loss(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct script sc = {.seed = seed * 15485863, .steps = 900, .loss_pct = 8};

		differential(&sc);
	}
}

static void
test_fastpath_ts_nosack_loss(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct script sc = {
			.ts = true, .seed = seed * 32452843, .steps = 900, .loss_pct = 5};

		differential(&sc);
	}
}

/*
 * A plain download and upload, no loss: almost everything is predicted, and the state after
 * each segment is the full path's.
 */
static void
test_fastpath_clean_transfer(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct script sc = {.ts = seed & 1,
				    .sack = seed & 2,
				    .seed = seed,
				    .steps = 1500,
				    .clean = true};

		differential(&sc);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fastpath_clean_transfer),
		cmocka_unit_test(test_fastpath_ts_sack),
		cmocka_unit_test(test_fastpath_ts_sack_loss),
		cmocka_unit_test(test_fastpath_plain_loss),
		cmocka_unit_test(test_fastpath_ts_nosack_loss),
	};

	return h_main("test_fastpath", tests, RTE_DIM(tests), 16383, 4096, NULL);
}
