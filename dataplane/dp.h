/* Dataplane shape: ports, per-lcore state and the entry points app/ calls. */
#ifndef AG_DATAPLANE_DP_H
#define AG_DATAPLANE_DP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/app.h"
#include "dataplane/dp_conf.h"
#include "dataplane/dp_stats.h"
#include "dataplane/impair.h"

#define DP_MAX_BURST  512
#define DP_TX_BUF     64
#define DP_NEIGH_SIZE 1024 /* slots per port, power of two */
#define DP_NEIGH_HOLD 4	   /* packets that wait for one unresolved neighbour */

struct dp_neigh_table;
struct tcp_engine;

/* Who decides which lcore a received TCP segment goes to (port.c, port_rss_setup). */
enum dp_rss_mode {
	DP_RSS_OFF,	 /* one queue: no choice to make */
	DP_RSS_NIC,	 /* the device hashes with our key and RETA: it lands on its owner */
	DP_RSS_SOFTWARE, /* the device spreads as it likes: the tuple's owner is computed */
};

struct dp_port {
	uint16_t port_id;
	const struct dp_port_conf *conf;
	char driver[32];
	struct rte_ether_addr mac;
	uint32_t addr; /* host byte order */
	uint32_t mask;
	uint32_t gateway;
	struct rte_mempool *pool;
	uint16_t nb_queues;
	bool tx_ip_cksum;  /* port computes IPv4 header checksums */
	bool tx_tcp_cksum; /* port computes TCP checksums */
	bool rx_cksum;	   /* port reports checksum status in ol_flags */

	/* TSO, chosen by port.c's port_tso() */
	bool tx_tso;		/* port segments large TCP packets (the engines may use it) */
	const char *tso_why;	/* why not, for authgate-ctl ports */
	uint16_t tso_mtu;	/* largest IPv4 packet its segmentation takes (net_tap: mtu - 14) */
	uint32_t tso_max_bytes; /* payload per large packet its descriptors can carry */

	volatile bool link_up;
	struct dp_neigh_table *neigh; /* DP_NEIGH_SIZE entries */
	enum dp_rss_mode rss;
	uint16_t reta_size;  /* the device's redirection table, 0: none programmed */
	char rss_why[96];    /* for the log and authgate-ctl ports: why this mode */
	uint8_t rss_key[64]; /* what the device was given (rss_conf keeps a pointer) */
};

struct dp_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[DP_TX_BUF];
};

#define DP_STEER_BUF 32

/* Segments for another lcore, gathered over one poll and handed over in one ring operation. */
struct dp_steerbuf {
	uint16_t n;
	struct rte_mbuf *pkts[DP_STEER_BUF];
};

struct dp;

/* One per dataplane lcore; written only by that lcore after launch. */
struct dp_lcore {
	struct dp *dp; /* the dataplane it belongs to: ports, the other lcores */
	unsigned int lcore_id;
	uint16_t index; /* 0..nb_dp_lcores-1: its RX and TX queue on every port */
	uint32_t burst;
	uint32_t idle_sleep_us;
	uint32_t tx_step; /* data segments per output step, UINT32_MAX: not paced */
	struct dp_txbuf tx[DP_MAX_PORTS];
	struct rte_ring *steer; /* packets other lcores hand to this one (flow owner) */
	uint32_t steer_pending; /* bit i: steer_out[i] holds packets */
	struct dp_steerbuf steer_out[DP_MAX_LCORES];
	struct tcp_engine *tcp;
	struct rte_mempool *tx_pool;  /* the engine's own: its send queues cannot starve RX */
	struct rte_mempool *hdr_pool; /* its output headers: full send queues cannot starve them */
	void *app_state[DP_MAX_APPS]; /* what each registered application keeps on this lcore */
	uint64_t app_next_tick_us[DP_MAX_APPS];
	bool drained;  /* its apps were told to drain */
	bool impaired; /* [impair] set: both directions go through the injector */
	struct dp_impair rx_imp, tx_imp;
	uint64_t garp_next_tsc;
	unsigned int garp_left;
	struct dp_lcore_stats stats;
} __rte_cache_aligned;

struct dp {
	const struct dp_conf *cfg;
	const char *config_path; /* for /authgate/info */
	struct dp_port ports[DP_MAX_PORTS];
	uint16_t nb_ports;
	struct dp_lcore lcores[DP_MAX_LCORES];
	uint16_t nb_lcores;
	uint64_t start_tsc;
};

/* The one dataplane; read it only where no struct dp * is at hand (signals, telemetry). */
extern struct dp dp_main;
extern volatile bool dp_force_quit;
extern int ag_logtype_dp;

#define DP_LOG(level, fmt, ...)                                                                    \
	rte_log(RTE_LOG_##level, ag_logtype_dp, "dp: " fmt "\n", ##__VA_ARGS__)

/* port.c: bring every configured port up in the skeleton's order. Returns 0 or -errno. */
int dp_ports_init(struct dp *dp, const struct dp_conf *cfg);
void dp_ports_close(struct dp *dp);
/*
 * Before EAL init, on the main thread: net_tap finds no free realtime signal for its RX
 * trigger, so the kernel raises none per received frame (see port.c). 0 or -errno.
 */
int dp_tap_rx_signal_off(void);
/* Offload flags as DPDK names them, space-separated ("none"); returns the length. */
size_t dp_port_offloads_str(uint64_t offloads, bool tx, char *buf, size_t len);
/*
 * Whether every port segments large TCP packets (the engines send through any of them); then
 * the smallest segmentation MTU goes to *mtu_out and *max_bytes is lowered to what all take.
 */
bool dp_ports_tso(const struct dp *dp, uint16_t *mtu_out, uint32_t *max_bytes);
const char *dp_rss_mode_str(enum dp_rss_mode m);
/* Poll link state from the main lcore; logs changes. */
void dp_ports_check_link(struct dp *dp);

/* lcore.c */
int dp_lcores_init(struct dp *dp, const struct dp_conf *cfg);
int dp_lcore_main(void *arg);

/* net.c: one received frame, any protocol; consumes m. */
void dp_net_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m);
/* Send an IPv4 packet whose data starts at the IP header: resolves the next hop, adds Ethernet. */
void dp_ipv4_output(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m);
void dp_arp_send_request(struct dp_lcore *lc, struct dp_port *port, uint32_t target,
			 bool gratuitous);
void dp_tx_enqueue(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m);
void dp_tx_flush(struct dp_lcore *lc);
/* Past the fault injector: straight into the TX buffer. */
void dp_tx_buffer(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m);

/*
 * neigh.c: IPv4 → MAC per port, learned only from ARP addressed to us; entries age and are
 * evicted LRU; any lcore may write, readers never block. Times are dp_now_us().
 */
int dp_neigh_init(struct dp_port *port);
void dp_neigh_free(struct dp_port *port);
/*
 * Next hop for m. 0: send m to *mac_out now. -EAGAIN: m waits for the ARP answer (the entry
 * holds it). -ENOBUFS: too many wait already, m is not taken. *request: send an ARP request
 * for ip now (rate-limited here: one per address per second, a budget per port).
 */
int dp_neigh_resolve(struct dp_lcore *lc, struct dp_port *port, uint32_t ip, struct rte_mbuf *m,
		     uint64_t now, struct rte_ether_addr *mac_out, bool *request);
/*
 * ARP addressed to us says ip is at mac: create (an ARP request) or only update/complete an
 * existing entry (a reply). The packets that waited move to held_out[DP_NEIGH_HOLD] for the
 * caller to send; returns how many, or -ENOENT (no entry and create is false).
 */
int dp_neigh_confirm(struct dp_lcore *lc, struct dp_port *port, uint32_t ip,
		     const struct rte_ether_addr *mac, bool create, uint64_t now,
		     struct rte_mbuf **held_out);
/* ARP not addressed to us claims ip is at mac: true when that contradicts us and we should ask. */
bool dp_neigh_contradicts(struct dp_port *port, uint32_t ip, const struct rte_ether_addr *mac,
			  uint64_t now);
int dp_neigh_lookup(struct dp_port *port, uint32_t ip, struct rte_ether_addr *mac_out);
typedef void (*dp_neigh_walk_cb)(uint32_t ip, const struct rte_ether_addr *mac, uint64_t age_ms,
				 void *arg);
void dp_neigh_walk(struct dp_port *port, dp_neigh_walk_cb cb, void *arg);

/* telemetry.c */
int dp_telemetry_init(struct dp *dp);

static inline void
dp_drop(struct dp_lcore *lc, struct rte_mbuf *m, enum dp_drop_reason r)
{
	lc->stats.drops[r]++;
	rte_pktmbuf_free(m);
}

#endif
