/* TCP termination engine: the API between the dataplane, applications and the flow table. */
#ifndef AG_DATAPLANE_TCP_TCP_H
#define AG_DATAPLANE_TCP_TCP_H

/*
 * Model
 * -----
 * One struct tcp_engine per dataplane lcore. The engine does no I/O and never reads a clock:
 * the dataplane hands it IPv4/TCP packets (tcp_input), receives segments to send through the
 * tx callback, and calls tcp_process() every loop iteration with the current time in µs.
 *
 * Every flow lives in one struct tcp_flow_table shared by all engines (liburcu cds_lfht,
 * urcu-qsbr flavour). A flow is written only by its owner engine; any thread may read flows
 * under rcu_read_lock(). What the engine assumes from its caller:
 *   - every thread calling tcp_* functions is a registered urcu-qsbr reader
 *     (rcu_register_thread) and online;
 *   - the lcore calls rcu_quiescent_state() between loop iterations, never inside a tcp_*
 *     call, and goes rcu_thread_offline() around any sleep;
 *   - so a struct tcp_flow pointer obtained inside a callback or a lookup stays valid until
 *     the caller's next quiescent state, even if the flow closes meanwhile. Flows are freed
 *     with call_rcu() only after cds_lfht_del() succeeded.
 *   - the dataplane steers every segment of a 4-tuple (SYN included) to the lcore named by
 *     tcp_flow_owner(); an engine drops segments for flows it does not own.
 *
 * Applications attach to a listening port with callbacks. Callbacks run inside tcp_input()
 * or tcp_process() and may call tcp_send*(), tcp_shutdown(), tcp_abort(), tcp_recv_pause()
 * and tcp_recv_resume() on the flow they were given.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

struct tcp_engine;
struct tcp_flow;
struct tcp_flow_table;

/* A connection's addresses as seen from the gateway; all fields host byte order. */
struct tcp_tuple {
	uint32_t raddr; /* remote (client) IPv4 */
	uint32_t laddr; /* local IPv4 */
	uint16_t rport;
	uint16_t lport;
};

enum tcp_state {
	TCP_CLOSED = 0,	  /* not in the table any more; being freed after a grace period */
	TCP_LISTEN,	  /* unused for flows: listeners are per-port entries, kept for symmetry */
	TCP_SYN_SENT,	  /* active open: our SYN sent, no SYN-ACK yet; app not told yet */
	TCP_SYN_RECEIVED, /* SYN-ACK sent, counts as half-open, app not told yet */
	TCP_ESTABLISHED,  /* app accepted; data both ways */
	TCP_FIN_WAIT_1,	  /* app shut down, our FIN sent but not acked */
	TCP_FIN_WAIT_2,	  /* our FIN acked, peer may still send */
	TCP_CLOSE_WAIT,	  /* peer FIN received, app may still send */
	TCP_CLOSING,	  /* both FINs sent, ours not acked (simultaneous close) */
	TCP_LAST_ACK,	  /* peer closed first, our FIN sent, waiting for its ACK */
	TCP_TIME_WAIT,	  /* we closed first; kept to absorb late segments, app already told */
	TCP_STATE_MAX
};

enum tcp_close_reason {
	TCP_CLOSE_NORMAL = 0, /* both directions finished */
	TCP_CLOSE_RESET,      /* peer sent an acceptable RST */
	TCP_CLOSE_TIMEOUT,    /* retransmissions exhausted */
	TCP_CLOSE_ABORTED,    /* the application called tcp_abort() */
	TCP_CLOSE_IDLE,	      /* idle, keep-alive or FIN_WAIT_2 timeout */
	TCP_CLOSE_SHUTDOWN,   /* engine destroyed */
	TCP_CLOSE_REASON_MAX
};

/* Why a received segment was dropped; one counter each in struct tcp_stats. */
enum tcp_drop_reason {
	TCP_DROP_SHORT = 0,	 /* shorter than a TCP header or than its data offset */
	TCP_DROP_BAD_CSUM,	 /* TCP checksum wrong (software check or NIC verdict) */
	TCP_DROP_BAD_DOFF,	 /* data offset < 5 */
	TCP_DROP_BAD_OPTIONS,	 /* an option runs past the header or has length < 2 */
	TCP_DROP_BAD_FLAGS,	 /* SYN+FIN, SYN+RST, no flags, ... */
	TCP_DROP_BAD_ADDR,	 /* source is broadcast/multicast/zero, or port 0 */
	TCP_DROP_NOT_OWNER,	 /* flow belongs to another lcore: steering is wrong */
	TCP_DROP_NO_LISTENER,	 /* no flow and nobody listens on the port (RST sent) */
	TCP_DROP_NO_FLOW,	 /* no flow, not a SYN (RST sent unless it was a RST) */
	TCP_DROP_COOKIE,	 /* ACK for no flow whose SYN cookie did not verify */
	TCP_DROP_FLOW_LIMIT,	 /* max flows reached or out of memory for a new flow */
	TCP_DROP_POOL_LOW,	 /* mbuf pool below the watermark: new connection shed */
	TCP_DROP_PAWS,		 /* timestamp older than ts_recent (RFC 7323) */
	TCP_DROP_OUT_OF_WINDOW,	 /* sequence not acceptable: duplicate or beyond window */
	TCP_DROP_BAD_ACK,	 /* ACK for data never sent or far in the past */
	TCP_DROP_NO_ACK,	 /* synchronized state and no ACK bit */
	TCP_DROP_CHALLENGE,	 /* in-window SYN/RST answered with a challenge ACK (RFC 5961) */
	TCP_DROP_OOO_FULL,	 /* out-of-order queue full */
	TCP_DROP_STATE,		 /* data after the peer's FIN, or segment in a closing state */
	TCP_DROP_RX_POOL_LOW,	 /* payload for a flow not reading, receive pool low (ACK kept) */
	TCP_DROP_RX_SHARE,	 /* payload held would take the flow past its share of the pool */
	TCP_DROP_SRC_LIMIT,	 /* connection refused: its source has max_conns_per_source */
	TCP_DROP_ICMP_MALFORMED, /* ICMP frag-needed: not type 3/4, or quote too short / not TCP */
	TCP_DROP_ICMP_NO_FLOW,	 /* ICMP quotes a tuple we have no flow for (or not ours) */
	TCP_DROP_ICMP_SEQ,	 /* ICMP quotes a sequence number outside snd_una..snd_max */
	TCP_DROP_ICMP_MTU,	 /* ICMP's MTU would not lower the flow's MSS (or is 0) */
	TCP_DROP_REASON_MAX
};

const char *tcp_state_str(enum tcp_state s);
const char *tcp_drop_reason_str(enum tcp_drop_reason r);
const char *tcp_close_reason_str(enum tcp_close_reason r);

/* Per engine, written only by the owner lcore; readers sum engines and tolerate tearing. */
struct tcp_stats {
	uint64_t seg_in;
	uint64_t seg_out;
	uint64_t bytes_in;	/* payload bytes accepted in order */
	uint64_t bytes_out;	/* payload bytes sent, retransmissions included */
	uint64_t retransmits;	/* segments retransmitted (all causes) */
	uint64_t rto_expired;	/* retransmission timer expirations */
	uint64_t rto_spurious;	/* of them, found needless afterwards and undone (Eifel, F-RTO) */
	uint64_t rack_rtx_lost; /* lost retransmissions resent without waiting for the RTO */
	uint64_t fast_retransmits; /* entries into fast recovery */
	uint64_t dup_acks_in;
	uint64_t dup_acks_out; /* immediate ACKs for out-of-order/duplicate data */
	uint64_t ooo_segments;
	uint64_t ooo_pruned; /* out-of-order mbufs freed because the receive pool ran low */
	uint64_t cookies_sent;
	uint64_t cookies_accepted;
	uint64_t cookies_rejected;
	uint64_t src_half_open_limited; /* SYNs over max_half_open_per_source: cookie or drop */
	uint64_t rst_in;
	uint64_t rst_out;
	uint64_t challenge_acks;
	uint64_t challenge_acks_limited; /* RFC 5961 challenge ACKs not sent: over a limit */
	uint64_t oow_acks_limited; /* ACKs for out-of-window/PAWS/unsent-ACK segments not sent */
	uint64_t persist_probes;
	uint64_t time_wait_reaped;  /* TIME_WAIT entries ended early: the entry table was full */
	uint64_t persist_timeouts;  /* flows reset: zero window for persist_timeout_us */
	uint64_t tlp_probes;	    /* tail loss probes (RFC 8985) */
	uint64_t early_retransmits; /* recoveries entered from a probe's SACK, not 3 dup ACKs */
	uint64_t keepalive_probes;
	uint64_t pmtu_lowered;	 /* validated ICMP frag-needed lowered a flow's MSS (RFC 5927) */
	uint64_t pmtu_blackhole; /* MSS lowered after RTOs of full-size segments (RFC 4821) */
	uint64_t accepted;
	uint64_t refused;	   /* app refused or flow creation failed */
	uint64_t connects;	   /* active opens started (tcp_connect) */
	uint64_t connect_refused;  /* an active open answered with RST */
	uint64_t connect_timeouts; /* an active open's SYNs all unanswered */
	uint64_t closed[TCP_CLOSE_REASON_MAX];
	uint64_t no_mbuf;	  /* output segment lost: pool empty */
	uint64_t send_nobufs;	  /* app sends cut short by an empty pool (retried by timer) */
	uint64_t tx_budget_waits; /* flows that had to wait for the next round's TX budget */
	uint64_t tso_out;	  /* large packets handed to the port (their segments: seg_out) */
	uint64_t fast_path;	  /* segments taken by header prediction (tcp_input.c) */
	uint64_t drops[TCP_DROP_REASON_MAX];
	int64_t flows_by_state[TCP_STATE_MAX]; /* gauge of flows this engine owns */
} __rte_cache_aligned;

/* Application callbacks for one listening port. */
struct tcp_callbacks {
	/*
	 * A handshake completed. Return 0 and set *ctx_out (may be NULL) to keep the connection,
	 * or -errno to refuse it (the peer gets a RST). Required.
	 */
	int (*accepted)(struct tcp_flow *f, void *listen_arg, void **ctx_out);
	/*
	 * In-order bytes. m is the payload (possibly a chain), still owned by the engine: read
	 * it, take references with rte_mbuf_refcnt_update() if the bytes must outlive the call,
	 * and return how many leading bytes were consumed (0..pkt_len). Anything left pauses
	 * delivery until tcp_recv_resume(); unconsumed bytes close the receive window.
	 * m == NULL means the peer sent FIN (end of stream); the return value is then ignored.
	 */
	uint32_t (*data)(struct tcp_flow *f, void *ctx, struct rte_mbuf *m);
	/* Bytes of our data were acknowledged: send space grew. Optional. */
	void (*acked)(struct tcp_flow *f, void *ctx, uint32_t bytes);
	/*
	 * The connection is over for the application, exactly once per accepted flow. The flow
	 * pointer stays readable until the next quiescent state but must not be used for I/O.
	 */
	void (*closed)(struct tcp_flow *f, void *ctx, enum tcp_close_reason reason);
};

enum tcp_syncookie_mode {
	TCP_SYNCOOKIE_AUTO = 0, /* cookies once half-open flows pass max_half_open or pool low */
	TCP_SYNCOOKIE_ALWAYS,	/* never keep state for a SYN */
	TCP_SYNCOOKIE_NEVER,	/* refuse (drop) SYNs over the bound instead */
};

struct tcp_engine_params {
	struct tcp_flow_table *table; /* shared by all engines (required) */
	uint16_t lcore_idx;	      /* this engine's owner index, 0..nb_lcores-1 */
	uint16_t nb_lcores;
	uint32_t local_addrs[8]; /* host order; segments to other addresses are dropped */
	unsigned int nb_local_addrs;
	uint16_t mtu;		  /* IPv4 MTU of the port, 576..9000 */
	struct rte_mempool *pool; /* copied send data (send queues) come from here */
	/*
	 * Output headers and the indirect mbufs that carry send-queue data (NULL: pool). Give
	 * it a pool of its own: when send queues may take every mbuf of `pool`, the engine
	 * still has mbufs to send what is queued, and the ACKs that free it come back.
	 */
	struct rte_mempool *hdr_pool;
	/*
	 * Takes ownership of m: data at the IPv4 header, RTE_PKTMBUF_HEADROOM in front for the
	 * Ethernet header, l2_len 0, l3_len/l4_len set. m is a chain (header mbuf + indirect
	 * mbufs onto the send queue) unless tx_linear is set.
	 */
	void (*tx)(void *arg, struct rte_mbuf *m);
	void *tx_arg;
	/*
	 * Port computes IPv4 and TCP checksums: the engine sets RTE_MBUF_F_TX_IPV4|IP_CKSUM|
	 * TCP_CKSUM and the pseudo-header checksum. Otherwise both are computed in software.
	 */
	bool csum_offload;
	/* Copy payload into the header mbuf so every output mbuf is one segment. */
	bool tx_linear;
	/*
	 * Port segments large packets (RTE_ETH_TX_OFFLOAD_TCP_TSO); taken only with csum_offload
	 * and without tx_linear. New data that the windows allow for several segments goes out
	 * as one packet (RTE_MBUF_F_TX_TCP_SEG, tso_segsz = the flow's segment size) of at most
	 * tso_max_bytes payload and tso_max_segs segments; resends are ordinary segments.
	 */
	bool tso;
	uint32_t tso_max_bytes; /* payload per large packet, capped so the IPv4 length fits */
	uint16_t tso_max_segs;	/* segments the port cuts one packet into (net_tap: 64) */
	/*
	 * Largest IPv4 packet the port's segmentation may produce (0: mtu). net_tap (DPDK 22.11
	 * to 26.x) checks tso_segsz plus every header, Ethernet included, against the MTU: it
	 * needs mtu - 14, or it drops the packet.
	 */
	uint16_t tso_mtu;
	uint32_t max_flows; /* flows this engine may own (TIME_WAIT is not a flow) */
	/*
	 * TIME_WAIT entries (about 100 bytes each, no flow) this engine keeps; when full, the
	 * oldest gives way (time_wait_reaped). 0: as many as max_flows.
	 */
	uint32_t max_time_wait;
	uint32_t sndbuf;	/* bytes queued per flow, unacked included */
	uint32_t rcvbuf;	/* receive window and per-flow receive memory bound */
	uint32_t max_half_open; /* SYN_RECEIVED flows before cookies take over */
	enum tcp_syncookie_mode syncookies;
	/*
	 * Per client address, every engine on the table together (0: no bound). Connections
	 * exclude TIME_WAIT; a
	 * SYN over the bound is dropped, a cookie ACK over it reset (src_limit). A source over
	 * its half-open bound gets SYN cookies (or, with cookies never, its SYN is dropped).
	 */
	uint32_t max_conns_per_source;
	uint32_t max_half_open_per_source;
	uint32_t pool_low_watermark; /* free mbufs under which new connections are shed */
	/*
	 * Free mbufs in a received segment's own pool under which its payload is dropped
	 * (its ACK still processed) when it would be held: the flow's app is not reading, or
	 * the data is out of order. 0: never.
	 */
	uint32_t rx_low_watermark;
	/*
	 * One flow holds at most (size of the receive pool) / rx_flow_share received mbufs
	 * (out-of-order queue and unread data together). 0: no bound.
	 */
	uint32_t rx_flow_share;
	uint32_t rto_init_us; /* RFC 6298: 1 s */
	uint32_t rto_min_us;  /* RFC 6298 says 1 s; Linux uses 200 ms */
	uint32_t rto_max_us;
	uint32_t delack_us;    /* delayed ACK timer */
	uint8_t max_retries;   /* RTO expirations in a row before the flow is dropped */
	uint8_t syn_retries;   /* SYN-ACK retransmissions */
	uint64_t time_wait_us; /* TIME_WAIT hold (a new SYN may recycle it, RFC 6191) */
	uint64_t fin_wait2_us; /* FIN_WAIT_2 without the peer's FIN */
	/*
	 * Zero send window (persist) for this long without the window opening: RST. Probe
	 * answers that keep the window shut are not progress. 0 = probe forever.
	 */
	uint64_t persist_timeout_us;
	uint64_t idle_timeout_us; /* no segment received for this long: RST (0 = off) */
	uint64_t keepalive_us;	  /* idle before keep-alive probes (0 = off) */
	uint64_t keepalive_intvl_us;
	uint8_t keepalive_probes;
	/*
	 * RFC 5961 challenge ACKs per second for the whole engine, on top of one per flow per
	 * 500 ms; each second's budget is drawn at random from [limit/2, 3 limit/2).
	 */
	uint32_t challenge_ack_limit;
	/*
	 * 0 (the default): the keys for ISNs, timestamp offsets and SYN cookies come from
	 * getrandom(), 128 bits each. Non-zero: derived from this seed (reproducible tests only).
	 */
	uint64_t seed;
	/*
	 * Send every segment through the full arrival path, never the header-prediction fast
	 * path (tcp_input.c). For tests that compare the two; false in production.
	 */
	bool no_fast_path;
};

/* Fill p with the defaults above; the caller then sets table, pool, tx and addresses. */
void tcp_engine_params_init(struct tcp_engine_params *p);

/* Returns NULL with rte_errno set (EINVAL, ENOMEM, ENOSPC when the table has no id room). */
struct tcp_engine *tcp_engine_create(const struct tcp_engine_params *p);
/* Aborts every flow it owns (closed callbacks with TCP_CLOSE_SHUTDOWN) and frees it. */
void tcp_engine_destroy(struct tcp_engine *e);

/* m starts at a validated IPv4 header with m->l3_len set; the engine owns m afterwards. */
void tcp_input(struct tcp_engine *e, struct rte_mbuf *m, uint64_t now_us);
/*
 * ICMP "fragmentation needed" (type 3 code 4) about a segment we sent. m starts at the ICMP
 * message's outer IPv4 header with m->l3_len set; the engine owns m afterwards. Acted on only
 * when the quoted segment names a flow this engine owns and a sequence number it has sent and
 * not had acknowledged (RFC 5927 4.1): the flow's MSS drops to the reported MTU - 40 (never
 * under TCP_PMTU_MIN_MSS) and what no longer fits is sent again. Returns 0 when the MSS was
 * lowered, -errno when the message was dropped (each cause a drop reason).
 */
int tcp_icmp_input(struct tcp_engine *e, struct rte_mbuf *m, uint64_t now_us);
/* The flow an ICMP error (as for tcp_icmp_input) is about, for steering: 0 or -EINVAL. */
int tcp_icmp_tuple(const struct rte_mbuf *m, struct tcp_tuple *tuple_out);
/* Lowest MSS path MTU discovery goes to (RFC 1122 default MSS; MTU 576). */
#define TCP_PMTU_MIN_MSS 536

/*
 * Output pacing by the caller. tcp_tx_budget() sets how many data segments (payload > 0,
 * retransmissions included) the engine may hand to tx from now on; a flow that wants to send
 * more waits in turn, and tcp_tx_resume() lets the waiting flows send within the budget set
 * since (a large TSO packet counts as the segments the port cuts it into). The dataplane uses it to
 * read its port between bursts of output. The default, UINT32_MAX, never holds anything back. Pure
 * ACKs, SYN-ACKs, FINs and RSTs are never held.
 */
void tcp_tx_budget(struct tcp_engine *e, uint32_t segs);
/* Returns segments sent (an ACK a waiting flow owed included). */
uint32_t tcp_tx_resume(struct tcp_engine *e);
/* Flows waiting for budget. */
bool tcp_tx_waiting(const struct tcp_engine *e);

/* Runs due timers. Call every loop iteration (cheap when nothing is due). */
void tcp_process(struct tcp_engine *e, uint64_t now_us);
/* Counters of this engine (owner writes, readers read). */
const struct tcp_stats *tcp_engine_stats(const struct tcp_engine *e);
/*
 * Registers /authgate/tcp/stats and /authgate/flows over these engines (an array the caller
 * keeps; NULL entries are skipped) and their flow table; now_us is the engines' clock.
 */
void tcp_telemetry_init(struct tcp_flow_table *table, struct tcp_engine *const *engines,
			unsigned int nb_engines, uint64_t (*now_us)(void));
/* Flows this engine owns right now. */
uint32_t tcp_engine_nb_flows(const struct tcp_engine *e);
/* TIME_WAIT entries the engine holds (they are not flows). */
uint32_t tcp_engine_nb_time_wait(const struct tcp_engine *e);
/*
 * What the engine keeps for tuple: its flow's state, TCP_TIME_WAIT for a TIME_WAIT entry,
 * TCP_CLOSED for nothing. On the owning lcore only.
 */
enum tcp_state tcp_tuple_state(struct tcp_engine *e, const struct tcp_tuple *t);

/* Listen on lport (host order) on every local address. Returns 0, -EEXIST, -ENOSPC. */
int tcp_listen(struct tcp_engine *e, uint16_t lport, const struct tcp_callbacks *cb, void *arg);
int tcp_unlisten(struct tcp_engine *e, uint16_t lport);

/*
 * Active open to raddr:rport from laddr (one of local_addrs), host order. The source port is
 * one of 49152-65535 that no flow uses and whose tuple tcp_flow_owner() maps to this engine,
 * so the replies come back to it. The flow starts in SYN_SENT with ctx as its context; the
 * SYN is retransmitted on the RTO (initial rto_init_us, doubling) syn_retries times.
 * cb->accepted runs when the SYN-ACK arrives (*ctx_out holds ctx; -errno resets); cb->closed
 * runs exactly once whatever happens, before establishment too: TCP_CLOSE_RESET when the peer
 * refused (RST), TCP_CLOSE_TIMEOUT when no SYN was answered, TCP_CLOSE_ABORTED after
 * tcp_abort(). cb must outlive the flow; all four callbacks are required but acked.
 * Returns 0 with *flow_out set, -EINVAL, -ENOSPC (max_flows, or no room for the callbacks:
 * they share TCP_MAX_LISTEN with the listeners), -EADDRNOTAVAIL (no free source port).
 */
int tcp_connect(struct tcp_engine *e, const struct tcp_callbacks *cb, uint32_t laddr,
		uint32_t raddr, uint16_t rport, void *ctx, struct tcp_flow **flow_out);

/* Diagnostics: RFC 862 echo, discard and RFC 864 chargen; a port of 0 leaves it off. */
int tcp_diag_listen(struct tcp_engine *e, uint16_t echo_port, uint16_t discard_port,
		    uint16_t chargen_port);

/* Send path. All return bytes queued (maybe less than len, 0 when full) or -errno. */
int tcp_send(struct tcp_flow *f, const void *buf, size_t len);
/*
 * Zero-copy: queue len bytes of an external buffer described by shinfo (refcounted; see
 * rte_pktmbuf_ext_shinfo_init_helper). The engine takes its own references and drops them
 * as data is acknowledged; the caller keeps and later drops its own reference (and calls
 * free_cb itself when its drop reaches zero). The engine holds one reference per 60 KiB
 * chunk queued plus one per segment in flight, and the count is 16 bits: use one shinfo per
 * response, not one per file shared by every flow. buf_iova may be RTE_BAD_IOVA for
 * --no-huge/virtual ports.
 */
int tcp_send_ext(struct tcp_flow *f, void *buf, rte_iova_t buf_iova, size_t len,
		 struct rte_mbuf_ext_shared_info *shinfo);
/* Bytes tcp_send would accept now. */
uint32_t tcp_send_space(const struct tcp_flow *f);
/* FIN after the queued data. Returns 0 or -ENOTCONN. Receiving continues (half-close). */
int tcp_shutdown(struct tcp_flow *f);
/* RST now; the closed callback runs (TCP_CLOSE_ABORTED) before this returns. */
void tcp_abort(struct tcp_flow *f);
/* Stop delivering data (the window closes as bytes queue up) / deliver again. */
void tcp_recv_pause(struct tcp_flow *f);
void tcp_recv_resume(struct tcp_flow *f);

/* Accessors (safe to call from any thread under rcu_read_lock()). */
const struct tcp_tuple *tcp_flow_tuple(const struct tcp_flow *f);
enum tcp_state tcp_flow_state(const struct tcp_flow *f);
uint32_t tcp_flow_id(const struct tcp_flow *f);
uint32_t tcp_flow_gen(const struct tcp_flow *f);
uint16_t tcp_flow_owner_idx(const struct tcp_flow *f);
void *tcp_flow_ctx(const struct tcp_flow *f);
void tcp_flow_set_ctx(struct tcp_flow *f, void *ctx);

/*
 * Flow table. max_flows bounds all engines together (it sizes the id space); the hash table
 * starts with buckets for at least max(8192, max_flows) entries and may grow. seed keys the
 * bucket hash (the owner comes from the public symmetric RSS key). Returns NULL with errno set.
 */
struct tcp_flow_table *tcp_flow_table_create(uint32_t max_flows, uint64_t seed);
/* Every engine must be destroyed first and a grace period passed; returns -EBUSY if not empty. */
int tcp_flow_table_destroy(struct tcp_flow_table *t);
/*
 * Which of nb_lcores owns tuple: steer the segment there. It is the queue a NIC whose RSS
 * was programmed with tcp_rss_sym_key() and tcp_rss_reta_entry() puts the tuple's segments
 * in, both directions alike: tcp_rss_owner(tcp_rss_hash(symmetric key, tuple)).
 */
uint16_t tcp_flow_owner(const struct tcp_flow_table *t, const struct tcp_tuple *tuple,
			uint16_t nb_lcores);

/*
 * Receive-side scaling. A Toeplitz key whose bytes repeat every 16 bits hashes a tuple and
 * its mirror (addresses and ports swapped) alike, so both directions of a flow reach one
 * queue. The owner uses the hash's low TCP_RSS_RETA_MIN_LOG2 bits, which is what any
 * redirection table of a power-of-two size ≥ TCP_RSS_RETA_MIN filled with tcp_rss_reta_entry()
 * resolves to as well.
 */
#define TCP_RSS_KEY_LEN	      40 /* what the software hash keeps; 16 bytes cover IPv4/TCP */
#define TCP_RSS_RETA_MIN_LOG2 6
#define TCP_RSS_RETA_MIN      (1u << TCP_RSS_RETA_MIN_LOG2)
/* The symmetric key (the 16-bit pattern repeated), len bytes of it: NICs take 40 or 52. */
void tcp_rss_sym_key(uint8_t *key, size_t len);
/*
 * The pattern: 0x6d5a (the published one) until the gateway picks its own at start. A
 * symmetric key's hash depends on the XOR of the tuple's 16-bit words only, so a client that
 * knows the pattern can pick source ports that all land on one lcore; a secret one it cannot.
 * Set it before ports are configured and flow tables created; all of them must agree.
 */
#define TCP_RSS_PATTERN_PUBLIC 0x6d5a
void tcp_rss_set_pattern(uint16_t pattern);
uint16_t tcp_rss_pattern(void);
/*
 * A pattern drawn from seed (e.g. rte_rand()) whose hash spreads evenly over the owner bits:
 * the map from the tuple's XORed words to the low TCP_RSS_RETA_MIN_LOG2 bits has full rank.
 */
uint16_t tcp_rss_pick_pattern(uint64_t seed);
/*
 * The Toeplitz hash a NIC computes for an IPv4/TCP segment from raddr:rport to laddr:lport
 * with key (≥ 16 bytes), as DPDK's rte_softrss computes it.
 */
uint32_t tcp_rss_hash(const uint8_t *key, size_t key_len, const struct tcp_tuple *tuple);
/* The lcore a segment with this RSS hash belongs to. */
static inline uint16_t
tcp_rss_owner(uint32_t hash, uint16_t nb_lcores)
{
	if (nb_lcores <= 1)
		return 0;
	return (uint16_t)((hash & (TCP_RSS_RETA_MIN - 1)) % nb_lcores);
}
/* Entry i of a NIC's redirection table (power-of-two size ≥ TCP_RSS_RETA_MIN): a queue. */
static inline uint16_t
tcp_rss_reta_entry(uint32_t i, uint16_t nb_lcores)
{
	return tcp_rss_owner(i, nb_lcores);
}
/* The following need rcu_read_lock() held by the caller. */
struct tcp_flow *tcp_flow_lookup(struct tcp_flow_table *t, const struct tcp_tuple *tuple);
/* NULL when the flow with that id closed or its id now names another connection. */
struct tcp_flow *tcp_flow_lookup_id(struct tcp_flow_table *t, uint32_t id, uint32_t gen);
uint32_t tcp_flow_table_count(const struct tcp_flow_table *t);

/* One line of a flow listing, copied under RCU. */
struct tcp_flow_info {
	struct tcp_tuple tuple;
	enum tcp_state state;
	uint32_t id;
	uint32_t gen;
	uint16_t owner;
	uint64_t age_us;
	uint32_t cwnd;	  /* bytes */
	uint32_t srtt_us; /* 0 until the first sample */
	uint32_t snd_wnd;
	uint32_t unacked; /* bytes sent, not acknowledged */
	uint32_t sndq;	  /* bytes queued by the app, unacked included */
	uint32_t rcvq;	  /* bytes received in order, not consumed by the app */
	uint32_t ooo;	  /* out-of-order segments held */
	uint32_t rto_us;
	uint8_t retries;  /* RTO expirations in a row */
	bool recv_paused; /* app stopped reading */
};

/*
 * Calls cb for each flow (takes rcu_read_lock itself). Stops early and returns cb's value
 * when it is non-zero; returns 0 otherwise. now_us is the caller's clock, for ages.
 */
int tcp_flow_table_walk(struct tcp_flow_table *t, uint64_t now_us,
			int (*cb)(const struct tcp_flow_info *info, void *arg), void *arg);

#endif
