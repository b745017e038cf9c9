/* TCP engine internals shared by the engine's files: flow, engine and table layouts. */
#ifndef AG_DATAPLANE_TCP_TCP_PRIV_H
#define AG_DATAPLANE_TCP_TCP_PRIV_H

#include <sys/queue.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include <rte_jhash.h>
#include <rte_log.h>
#include <rte_spinlock.h>

#include "dataplane/tcp/tcp.h"

extern int ag_logtype_tcp;
#define TCP_LOG(level, fmt, ...)                                                                   \
	rte_log(RTE_LOG_##level, ag_logtype_tcp, "tcp: " fmt "\n", ##__VA_ARGS__)

/* Sequence space arithmetic (RFC 9293 3.4): only ever compare through these. */
static inline bool
seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}
static inline bool
seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}
static inline bool
seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}
static inline bool
seq_geq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}
static inline uint32_t
seq_max(uint32_t a, uint32_t b)
{
	return seq_gt(a, b) ? a : b;
}

#define TCP_FL_FIN 0x01
#define TCP_FL_SYN 0x02
#define TCP_FL_RST 0x04
#define TCP_FL_PSH 0x08
#define TCP_FL_ACK 0x10
#define TCP_FL_URG 0x20

#define TCP_OOO_MAX	   64 /* out-of-order segments held per flow */
#define TCP_SB_MAX	   16 /* SACKed ranges remembered per flow (sender scoreboard) */
#define TCP_MAX_LISTEN	   16
#define TCP_WHEEL_SLOTS	   4096 /* power of two */
#define TCP_WHEEL_TICK	   1000 /* µs per slot */
#define TCP_DEFAULT_MSS	   536
#define TCP_MAX_WSCALE	   14
#define TCP_TS_HZ_DIV	   1000				     /* TSval ticks in ms */
#define TCP_PAWS_IDLE_US   (24ULL * 24 * 3600 * 1000 * 1000) /* RFC 7323 5.5: 24 days */
#define TCP_PAWS_SLACK	   1000 /* TSval ticks: 1 s at Linux's 1 kHz clock, 10 s on 100 Hz ones */
#define TCP_OOW_ACK_GAP_US (500 * 1000) /* answers to invalid segments, per flow */

/* Options parsed from a received segment. */
struct tcp_opts {
	uint16_t mss;	/* 0: absent */
	uint8_t wscale; /* valid when has_ws */
	bool has_ws;
	bool sack_ok;
	bool has_ts;
	uint32_t tsval;
	uint32_t tsecr;
	uint8_t nb_sack;
	uint32_t sack[4][2]; /* [start, end) blocks from a non-SYN segment */
};

/* A received segment, parsed. len counts payload only; SYN/FIN are in flags. */
struct tcp_seg {
	struct tcp_tuple tuple;
	uint32_t seq;
	uint32_t ack;
	uint32_t len;
	uint16_t wnd;
	uint8_t flags;
	uint16_t hdr_len; /* IPv4 + TCP header bytes before the payload */
	struct tcp_opts opts;
	uint64_t now;
	bool cookie_ack; /* this ACK just created the flow from a SYN cookie */
};

struct tcp_ooo {
	uint32_t seq;
	uint32_t len;
	struct rte_mbuf *m;    /* payload only */
	struct rte_mbuf *last; /* last segment of m: appending is O(1) */
	bool fin;
};

struct tcp_listener {
	uint16_t port;
	bool used;
	struct tcp_callbacks cb;
	void *arg;
};

/* Flow flags (f->flags). */
#define TF_ACKNOW      0x0001  /* send an ACK at the end of this input */
#define TF_DELACK      0x0002  /* an ACK is owed, delayed */
#define TF_FIN_QUEUED  0x0004  /* the app shut down: FIN follows the queued data */
#define TF_FIN_RCVD    0x0008  /* peer FIN consumed (rcv_nxt counts it) */
#define TF_EOF_SENT    0x0010  /* app was told about the FIN */
#define TF_PAUSED      0x0020  /* app stopped reading (or consumed only part) */
#define TF_APP	       0x0040  /* app accepted the flow; closed() is owed */
#define TF_TS	       0x0080  /* timestamps negotiated */
#define TF_SACK	       0x0100  /* peer sent SACK-permitted */
#define TF_WS	       0x0200  /* window scaling negotiated */
#define TF_RECOVERY    0x0400  /* NewReno fast recovery */
#define TF_PERSIST     0x0800  /* rexmt timer is the persist timer */
#define TF_RTT_TIMING  0x1000  /* rtt_seq is being timed */
#define TF_IN_DELIVER  0x2000  /* inside the data callback: do not re-enter */
#define TF_COOKIE      0x4000  /* created from a SYN cookie */
#define TF_FIN_SENT    0x8000  /* our FIN has a sequence number (fin_seq) */
#define TF_OUT_PENDING 0x10000 /* app queued data during input: output once at the end */
#define TF_TLP_ARMED   0x20000 /* rexmt timer is a tail loss probe (RFC 8985 7) */
#define TF_TLP_DONE    0x40000 /* a probe went out since snd_una last moved */
#define TF_FULL_ACKED  0x80000 /* an ACK covered a full segment: the path is no black hole */

/* On e->tx_wait: the caller's segment budget (tcp_tx_budget) ran out. */
#define TF_TX_WAIT 0x100000

/* tcp_flow.rto_undo: how the first RTO of an episode may still prove spurious */
#define RTO_UNDO_NONE	0
#define RTO_UNDO_EIFEL	1 /* timestamps: the first ACK's TSecr tells (RFC 3522) */
#define RTO_UNDO_FRTO_1 2 /* F-RTO: waiting for the first ACK (RFC 5682 step 2) */
#define RTO_UNDO_FRTO_2 3 /* F-RTO: two new segments sent, the second ACK tells (step 3) */

struct tcp_flow {
	struct cds_lfht_node node; /* in the table, keyed by tuple */
	struct rcu_head rcu;
	struct tcp_tuple tuple;
	unsigned long hash;
	uint32_t id;
	uint32_t gen;
	uint16_t owner;
	uint8_t state; /* enum tcp_state; read by other threads */
	uint8_t close_reason;
	uint32_t flags;
	struct tcp_engine *e;
	struct tcp_listener *l;
	void *ctx;
	uint64_t created_us;
	uint64_t last_rx_us;
	uint64_t mem_at;	/* an app send found the pool empty: call acked() again then */
	uint64_t oow_ack_at;	/* last answer to an invalid segment (RFC 5961 limits), 0: none */
	uint16_t ip_id;		/* next IPv4 ID of this flow's segments */
	uint32_t phdr_sum;	/* pseudo-header sum without the length (rte_raw_cksum, unfolded) */
	uint64_t last_tx_us;	/* data or FIN last sent (RFC 5681 4.1 restart after idle) */
	uint64_t persist_since; /* the send window closed with data waiting (µs), 0: open */

	/* send side */
	uint32_t iss;
	uint32_t snd_una;
	uint32_t snd_nxt;
	uint32_t snd_max; /* highest sequence sent + 1 */
	uint32_t snd_wnd; /* bytes, already scaled */
	uint32_t max_sndwnd;
	uint32_t snd_wl1;
	uint32_t snd_wl2;
	uint8_t snd_wscale;
	uint8_t rcv_wscale;
	uint16_t mss; /* peer MSS clamped to our MTU: payload bytes per segment, no options */
	uint32_t cwnd;
	uint32_t ssthresh;
	uint32_t recover; /* RFC 6582 */
	uint8_t dupacks;
	uint8_t retries; /* RTO expirations without progress */
	/*
	 * Spurious RTO detection (tcp_engine.c rto_undo_*): what the first timeout of an
	 * episode took away, and how to tell whether it was needed. RTO_UNDO_EIFEL: with
	 * timestamps, an ACK echoing a TSval older than rto_tsval (our retransmission's) acks
	 * the original (RFC 3522). RTO_UNDO_FRTO_1/2: without them, F-RTO (RFC 5682): new data
	 * instead of go-back-N after the first ACK, and the second ACK decides.
	 */
	uint8_t rto_undo;
	uint32_t undo_cwnd;
	uint32_t undo_ssthresh;
	uint32_t rto_tsval;
	uint32_t rto_recover; /* snd_max when the RTO fired */
	uint8_t ka_probes;
	/* RFC 6675 scoreboard: ranges above snd_una the peer holds; sorted, disjoint */
	uint32_t sb[TCP_SB_MAX][2];
	uint8_t nb_sb;
	uint32_t sacked;  /* bytes in sb */
	uint32_t fack;	  /* highest SACKed sequence + 1 (snd_una when none) */
	uint32_t rtx_nxt; /* next hole byte to retransmit in SACK recovery */
	/*
	 * RFC 8985's rule for retransmissions: the last hole resent at rack_rtx_us, when
	 * snd_nxt was rack_mark; data from rack_mark on was sent after it. 0: none pending.
	 */
	uint64_t rack_rtx_us;
	uint32_t rack_mark;
	struct rte_mbuf *sndq_head; /* chunks of unacked + unsent data, linked by m->next */
	struct rte_mbuf *sndq_tail;
	uint32_t sndq_bytes; /* bytes from snd_una to the end of the queue */
	uint32_t fin_seq;    /* valid with TF_FIN_SENT */

	/* RTT, RFC 6298, µs */
	uint32_t srtt;
	uint32_t rttvar;
	uint32_t rto;
	uint32_t rtt_seq;
	uint64_t rtt_start;

	/* receive side */
	uint32_t irs;
	uint32_t rcv_nxt;
	uint32_t rcv_adv; /* right edge of the window we advertised */
	uint32_t last_ack_sent;
	uint32_t ts_recent;
	uint64_t ts_recent_age;
	uint32_t ts_offset;
	uint32_t unacked_segs;	    /* full segments since the last ACK we sent */
	struct rte_mbuf *rcvq;	    /* in-order bytes not consumed by the app (one chain) */
	struct rte_mbuf *rcvq_last; /* last segment of rcvq */
	uint32_t rcvq_bytes;
	struct tcp_ooo ooo[TCP_OOO_MAX];
	uint8_t nb_ooo;
	uint8_t ooo_last; /* index of the most recently touched OOO entry for SACK block 1 */
	uint32_t ooo_bytes;

	/* timers: absolute µs, 0 = off; the wheel entry fires at the earliest */
	uint64_t rexmt_at; /* RTO, persist or SYN-ACK retransmission */
	uint64_t delack_at;
	uint64_t linger_at; /* TIME_WAIT, FIN_WAIT_2, idle, keep-alive */
	uint64_t wheel_at;  /* when the wheel entry is due, 0 = not on the wheel */
	uint32_t wheel_slot;
	TAILQ_ENTRY(tcp_flow) wheel_link;
	TAILQ_ENTRY(tcp_flow) eng_link; /* all flows of the engine */
	TAILQ_ENTRY(tcp_flow) txw_link; /* flows waiting for TX budget, in turn */
	struct tcp_flow *own_next;	/* bucket chain of the owner's index (tcp_own_*) */
};

/* What a connection keeps in TIME_WAIT (tcp_tw.c): no flow, no id, no queues. */
struct tcp_tw {
	struct tcp_tuple tuple;
	uint32_t snd_nxt; /* ours, after our FIN */
	uint32_t rcv_nxt; /* after the peer's FIN */
	uint32_t rcv_wnd; /* the window we last advertised (bytes) */
	uint32_t ts_recent;
	uint32_t ts_offset;
	uint16_t win; /* rcv_wnd as the header carries it (scaled) */
	bool ts;      /* timestamps were negotiated */
	uint64_t ts_recent_age;
	uint64_t oow_ack_at;
	uint64_t expire_at;
	struct tcp_tw *hnext; /* bucket chain, or the free list */
	TAILQ_ENTRY(tcp_tw) age;
};

TAILQ_HEAD(tcp_flow_list, tcp_flow);

struct tcp_flow_slot {
	struct tcp_flow *flow; /* rcu_assign_pointer / rcu_dereference */
	uint32_t gen;
};

struct tcp_flow_table {
	struct cds_lfht *ht;
	uint64_t seed;
	uint32_t rss_key_be[TCP_RSS_KEY_LEN / 4]; /* the symmetric key, rte_softrss_be's form */
	uint32_t max_flows;
	uint32_t next_base; /* atomically carved into per-engine id ranges */
	uint32_t count;	    /* atomic */
	struct tcp_flow_slot *slots;
	/* per-source counts of every engine (tcp_src.c) */
	rte_spinlock_t src_lock;
	struct tcp_src *src;
	uint32_t src_mask;
	uint64_t src_k0, src_k1;
};

/* Flows of one client address on one engine (addr 0: free slot; 0.0.0.0 never connects). */
struct tcp_src {
	uint32_t addr;
	uint32_t conns;	    /* flows not in TIME_WAIT */
	uint32_t half_open; /* of them, in SYN_RECEIVED */
};

struct tcp_engine {
	struct tcp_stats stats;
	struct tcp_engine_params p;
	struct tcp_flow_table *t;
	uint64_t now;
	uint64_t wheel_tick; /* last tick processed */
	struct tcp_flow_list wheel[TCP_WHEEL_SLOTS];
	struct tcp_flow_list flows;
	struct tcp_flow_list tx_wait; /* flows with data the budget held back (TF_TX_WAIT) */
	uint32_t tx_budget;	      /* data segments left this round (UINT32_MAX: no bound) */
	/* TIME_WAIT entries: hashed by tuple, and by age (= by expiry) */
	struct tcp_tw *tw_mem;
	struct tcp_tw *tw_free;
	struct tcp_tw **tw_bucket;
	TAILQ_HEAD(, tcp_tw) tw_age;
	uint32_t tw_mask;
	uint32_t tw_cap;
	uint32_t nb_tw;
	uint32_t nb_flows;
	uint32_t half_open;
	uint32_t id_base;
	uint32_t *free_ids; /* stack of free slot indexes in [id_base, id_base + max_flows) */
	uint32_t nb_free_ids;
	uint8_t rcv_wscale;	   /* our window scale for rcvbuf */
	struct tcp_flow *cur_flow; /* flow whose segment is being processed */
	uint16_t local_mss;	   /* MTU - 40 */
	uint64_t challenge_sec;	   /* the second challenge_left is for */
	uint32_t challenge_left;   /* challenge ACKs this engine may still send in that second */
	uint64_t rng;
	uint64_t k0, k1;   /* siphash key: ISNs, timestamp offsets, stateless IP IDs */
	uint64_t ck0, ck1; /* SYN cookie master key; each 64 s period uses a key derived from it */
	struct {
		uint64_t period; /* the cookie period this slot's key is for */
		uint64_t k0, k1;
	} ckey[2];		 /* by period parity: the current and the previous period */
	uint64_t cookie_sent_at; /* last SYN cookie sent (µs), 0: never */
	uint64_t rx_check_at;	 /* next look at the receive pool for pruning (µs) */
	struct tcp_listener listen[TCP_MAX_LISTEN];
	/*
	 * The flows this engine owns, hashed by tuple (the table's hash): tcp_input finds its own
	 * flows here without the shared table's lock-free walk. Written and read by the owner only.
	 */
	struct tcp_flow **own;
	uint32_t own_mask;
	uint64_t own_key[4]; /* the index's hash: secret, from the engine's keys */
};

/* tcp_hash.c */
uint64_t tcp_siphash(uint64_t k0, uint64_t k1, uint64_t a, uint64_t b, uint64_t c);
uint32_t tcp_isn(const struct tcp_engine *e, const struct tcp_tuple *t, uint64_t now);
uint32_t tcp_ts_offset(const struct tcp_engine *e, const struct tcp_tuple *t);
/* The first IPv4 ID of a flow, and the ID of a segment sent without one (SYN-ACK, RST). */
uint16_t tcp_ip_id_first(const struct tcp_engine *e, const struct tcp_tuple *t);
uint16_t tcp_ip_id_stateless(const struct tcp_engine *e, const struct tcp_tuple *t, uint32_t seq);
uint32_t tcp_cookie_make(struct tcp_engine *e, const struct tcp_seg *s);
/* Returns 0 and fills *mss, *ws (15: none), *sack when seg's ACK carries a valid cookie. */
int tcp_cookie_check(struct tcp_engine *e, const struct tcp_seg *s, uint16_t *mss, uint8_t *ws,
		     bool *sack);
/* SYN cookie validity: a cookie is checked in the period it was made in and the next one. */
#define TCP_COOKIE_PERIOD_US (64ULL * 1000 * 1000)

/* tcp_src.c */
int tcp_src_init(struct tcp_flow_table *t);
void tcp_src_fini(struct tcp_flow_table *t);
/* addr's counts over the whole gateway (zeros when it holds nothing). */
struct tcp_src tcp_src_get(struct tcp_engine *e, uint32_t addr);
/* Adds conns and half_open (each +1, 0 or -1) to addr's counts. */
void tcp_src_count(struct tcp_engine *e, uint32_t addr, int conns, int half_open);

/* tcp_tw.c */
int tcp_tw_init(struct tcp_engine *e);
void tcp_tw_fini(struct tcp_engine *e);
struct tcp_tw *tcp_tw_lookup(struct tcp_engine *e, const struct tcp_tuple *t);
/* Records f's TIME_WAIT (reaping the oldest entry when the table is full). */
void tcp_tw_enter(struct tcp_engine *e, const struct tcp_flow *f);
/* Frees the entries whose time is up. */
void tcp_tw_expire(struct tcp_engine *e);
bool tcp_tw_input(struct tcp_engine *e, struct tcp_tw *w, const struct tcp_seg *s,
		  struct rte_mbuf *m);

/* tcp_flowtab.c */
static inline unsigned long
tcp_tuple_hash(const struct tcp_flow_table *t, const struct tcp_tuple *tp)
{
	return rte_jhash_3words(tp->raddr, tp->laddr, ((uint32_t)tp->rport << 16) | tp->lport,
				(uint32_t)t->seed);
}
int tcp_own_init(struct tcp_engine *e);
void tcp_own_fini(struct tcp_engine *e);
void tcp_own_add(struct tcp_engine *e, struct tcp_flow *f);
void tcp_own_del(struct tcp_engine *e, struct tcp_flow *f);

/*
 * The owner index's bucket hash: multiply-shift over the tuple's three 32-bit words with
 * random 64-bit keys (Thorup's strongly universal scheme: for tuples chosen without knowing
 * the keys, two collide in a bucket with probability about 1 / buckets), a few instructions
 * where the shared table's jhash costs thirty.
 */
static inline uint32_t
tcp_own_hash(const struct tcp_engine *e, const struct tcp_tuple *tp)
{
	uint64_t h = e->own_key[0] + e->own_key[1] * tp->raddr + e->own_key[2] * tp->laddr +
		     e->own_key[3] * (((uint32_t)tp->rport << 16) | tp->lport);

	return (uint32_t)(h >> 32);
}

/* A flow of this engine by tuple, NULL when it owns none. */
static inline struct tcp_flow *
tcp_own_find(const struct tcp_engine *e, const struct tcp_tuple *tp)
{
	struct tcp_flow *f = e->own[tcp_own_hash(e, tp) & e->own_mask];

	for (; f != NULL; f = f->own_next)
		if (f->tuple.raddr == tp->raddr && f->tuple.rport == tp->rport &&
		    f->tuple.lport == tp->lport && f->tuple.laddr == tp->laddr)
			return f;
	return NULL;
}
int tcp_table_reserve(struct tcp_flow_table *t, uint32_t n, uint32_t *base_out);
int tcp_table_add(struct tcp_flow_table *t, struct tcp_flow *f);
void tcp_table_del(struct tcp_flow_table *t, struct tcp_flow *f);

/* tcp_engine.c: output, timers, flow lifecycle */
void tcp_output(struct tcp_flow *f);
void tcp_send_ack(struct tcp_flow *f);
void tcp_send_challenge_ack(struct tcp_flow *f);
/* An ACK answering an invalid segment, at most one per flow per 500 ms. */
void tcp_send_oow_ack(struct tcp_flow *f);
void tcp_send_synack(struct tcp_engine *e, const struct tcp_tuple *tp, uint32_t iss, uint32_t ack,
		     bool ws, bool sack, bool ts, uint32_t tsecr);
void tcp_send_rst_reply(struct tcp_engine *e, const struct tcp_seg *s);
void tcp_retransmit_una(struct tcp_flow *f);
void tcp_sb_update(struct tcp_flow *f, const struct tcp_opts *o);
void tcp_sb_clear(struct tcp_flow *f);
void tcp_timer_sched(struct tcp_flow *f);
void tcp_flow_release(struct tcp_flow *f, enum tcp_close_reason r, bool notify);
/* The flow becomes a TIME_WAIT entry and is released (the app told first). */
void tcp_enter_time_wait(struct tcp_flow *f);
/* An ACK of no flow: TIME_WAIT's answer. */
void tcp_send_bare_ack(struct tcp_engine *e, const struct tcp_tuple *tp, uint32_t seq, uint32_t ack,
		       uint16_t win, bool ts, uint32_t ts_offset, uint32_t ts_recent);
/* RFC 5961's engine-wide challenge ACK budget: true when one more may go this second. */
bool tcp_challenge_budget(struct tcp_engine *e);
struct tcp_flow *tcp_flow_new(struct tcp_engine *e, struct tcp_listener *l, const struct tcp_seg *s,
			      uint32_t iss, enum tcp_state st);
int tcp_flow_accept(struct tcp_flow *f);
/* The options the peer's SYN or SYN-ACK offered, taken into f (and its initial window). */
void tcp_flow_syn_opts(struct tcp_flow *f, const struct tcp_seg *s);
void tcp_deliver(struct tcp_flow *f);
void tcp_handshake_acked(struct tcp_flow *f);
struct rte_mbuf *tcp_mbuf_chop(struct rte_mbuf *m, uint32_t n);
struct rte_mbuf *tcp_mbuf_cut(struct rte_mbuf *m, uint32_t keep);
/* Payload bytes per segment: the MSS less the options every segment carries. */
static inline uint32_t
tcp_smss(const struct tcp_flow *f)
{
	return f->mss - ((f->flags & TF_TS) ? 12 : 0);
}
/* RTOs in a row of a full-size segment before the MSS steps down (RFC 4821 black hole). */
#define TCP_BLACKHOLE_RTOS 2
/* The first step down: fits tunnels and VPNs of 1064+ bytes MTU. */
#define TCP_BLACKHOLE_MSS 1024
struct tcp_listener *tcp_listener_find(struct tcp_engine *e, uint16_t port);
int tcp_xmit_syn(struct tcp_engine *e, struct tcp_flow *f, uint16_t win);

/* tcp_connect.c: active open */
void tcp_syn_sent_input(struct tcp_engine *e, struct tcp_flow *f, struct tcp_seg *s,
			struct rte_mbuf *m);
void tcp_syn_sent_timeout(struct tcp_flow *f);

/* An RTT sample (µs) into SRTT, RTTVAR and the RTO (RFC 6298 2.2-2.4). */
static inline void
tcp_rtt_sample(struct tcp_flow *f, uint32_t r)
{
	struct tcp_engine *e = f->e;

	if (r == 0)
		r = 1;
	if (f->srtt == 0) {
		f->srtt = r;
		f->rttvar = r / 2;
	} else {
		uint32_t d = f->srtt > r ? f->srtt - r : r - f->srtt;

		f->rttvar = (3 * f->rttvar + d) / 4;
		f->srtt = (7 * f->srtt + r) / 8;
	}
	f->rto = f->srtt + RTE_MAX((uint32_t)TCP_WHEEL_TICK, 4 * f->rttvar);
	f->rto = RTE_MAX(f->rto, e->p.rto_min_us);
	f->rto = RTE_MIN(f->rto, e->p.rto_max_us);
}

#define TCP_TLP_MIN_US	  10000
#define TCP_TLP_DELACK_US 200000 /* RFC 8985 WCDelAckT: a lone segment may wait for it */

/*
 * Arm the retransmission timer for data in flight: a tail loss probe at 2 SRTT when that
 * comes before the RTO (once per flight, not in recovery), else the RTO itself.
 */
static inline void
tcp_arm_rexmt(struct tcp_flow *f)
{
	struct tcp_engine *e = f->e;

	f->flags &= ~TF_TLP_ARMED;
	if (f->srtt != 0 && !(f->flags & (TF_TLP_DONE | TF_RECOVERY | TF_PERSIST)) &&
	    f->state >= TCP_ESTABLISHED) {
		uint64_t pto = 2ULL * f->srtt;

		if (f->snd_max - f->snd_una <= tcp_smss(f))
			pto += TCP_TLP_DELACK_US;
		pto = RTE_MAX(pto, (uint64_t)TCP_TLP_MIN_US);
		if (pto < f->rto) {
			f->rexmt_at = e->now + pto;
			f->flags |= TF_TLP_ARMED;
			return;
		}
	}
	f->rexmt_at = e->now + f->rto;
}

/* Drop n acknowledged bytes from the head of the send queue. */
static inline void
tcp_sndq_drop(struct tcp_flow *f, uint32_t n)
{
	f->sndq_bytes -= n;
	while (n > 0 && f->sndq_head != NULL) {
		struct rte_mbuf *c = f->sndq_head;

		if (n >= c->data_len) {
			n -= c->data_len;
			f->sndq_head = c->next;
			c->next = NULL;
			rte_pktmbuf_free_seg(c);
		} else {
			c->data_off += n;
			c->data_len -= n;
			c->pkt_len = c->data_len;
			n = 0;
		}
	}
	if (f->sndq_head == NULL)
		f->sndq_tail = NULL;
}

/* RFC 6928 initial window. */
static inline uint32_t
tcp_initial_window(uint32_t smss)
{
	return RTE_MIN(10 * smss, RTE_MAX(2 * smss, 14600u));
}

static inline void
tcp_drop(struct tcp_engine *e, struct rte_mbuf *m, enum tcp_drop_reason r)
{
	e->stats.drops[r]++;
	rte_pktmbuf_free(m);
}

/*
 * RFC 9293 3.10.7.4's acceptability of a segment (seq, seglen) against the receive window
 * [rcv_nxt, rcv_nxt + wnd): for a flow and for a TIME_WAIT entry alike.
 */
static inline bool
tcp_seq_in_window(uint32_t rcv_nxt, uint32_t wnd, uint32_t seq, uint32_t seglen)
{
	/*
	 * A bare ACK at the right edge is accepted (RFC 9293 asks for seq < edge): a peer that
	 * filled the window sends its ACKs from there, and dropping them would leave a closed
	 * window and a full send queue waiting on each other forever.
	 */
	if (seglen == 0)
		return seq_geq(seq, rcv_nxt) && seq_leq(seq, rcv_nxt + wnd);
	/* Data at rcv_nxt with a closed window still carries a valid ACK (RFC 9293 3.10.7.4). */
	if (wnd == 0)
		return seq == rcv_nxt;
	return seq_gt(seq + seglen, rcv_nxt) && seq_lt(seq, rcv_nxt + wnd);
}

/*
 * PAWS (RFC 7323 5.3), with slack: a segment delayed behind a retransmission carries an older
 * TSval than the one that filled the hole, and reordering by a few ms must not drop it. PAWS
 * is there for duplicates from a previous sequence wrap, seconds old. Segments without
 * timestamps, and RSTs, are let through.
 */
static inline bool
tcp_paws_reject(uint32_t ts_recent, uint64_t ts_recent_age, const struct tcp_seg *s, uint64_t now)
{
	return s->opts.has_ts && !(s->flags & TCP_FL_RST) &&
	       (int32_t)(ts_recent - s->opts.tsval) > TCP_PAWS_SLACK &&
	       now - ts_recent_age < TCP_PAWS_IDLE_US;
}

/*
 * One answer to an invalid segment per flow (or TIME_WAIT entry) per 500 ms, as Linux does
 * (tcp_oow_rate_limited): two stacks answering each other's stale segments cannot loop, and
 * a spoofer gets no more than two ACKs a second sent to the real peer for any number of
 * forged segments. *last_at is when the last one went (0: never); true takes the slot.
 */
static inline bool
tcp_oow_slot(uint64_t *last_at, uint64_t now)
{
	if (*last_at != 0 && now - *last_at < TCP_OOW_ACK_GAP_US)
		return false;
	*last_at = now;
	return true;
}

static inline void
tcp_set_state(struct tcp_flow *f, enum tcp_state s)
{
	/* Per-source counts follow every transition: none can be missed. */
	bool was = f->state != TCP_CLOSED && f->state != TCP_TIME_WAIT;
	bool is = s != TCP_CLOSED && s != TCP_TIME_WAIT;
	int conns = (int)is - (int)was;
	int half = (int)(s == TCP_SYN_RECEIVED) - (int)(f->state == TCP_SYN_RECEIVED);

	if (conns != 0 || half != 0)
		tcp_src_count(f->e, f->tuple.raddr, conns, half);
	f->e->stats.flows_by_state[f->state]--;
	f->e->stats.flows_by_state[s]++;
	CMM_STORE_SHARED(f->state, s);
}

#endif
