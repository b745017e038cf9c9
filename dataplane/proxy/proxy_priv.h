/* Inside the reverse proxy: per-lcore state, upstream entries and their counters. */
#ifndef AG_DATAPLANE_PROXY_PROXY_PRIV_H
#define AG_DATAPLANE_PROXY_PROXY_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/dp_conf.h"
#include "dataplane/proxy/proxy.h"

#define PX_MAX_UPSTREAMS    64 /* distinct HOST:PORT on one lcore, all sites together */
#define HTTP_PROXY_HEAD_MAX (96 * 1024)
#define PX_HIST_BUCKETS	    32 /* bucket i: latencies below 2^i µs */

/* A latency histogram in powers of two of µs; the owner writes, readers sum. */
struct px_hist {
	uint64_t n[PX_HIST_BUCKETS];
};

static inline void
px_hist_add(struct px_hist *h, uint64_t us)
{
	unsigned int b = 0;

	while (b + 1 < PX_HIST_BUCKETS && (1ull << b) <= us)
		b++;
	h->n[b]++;
}

struct px_up_stats {
	uint64_t requests;  /* requests sent on a connection to it */
	uint64_t responses; /* complete responses relayed */
	uint64_t connects;
	uint64_t reused; /* requests that took a pooled keep-alive connection */
	uint64_t queued; /* requests that waited for a connection (max_upstream_conns) */
	uint64_t marked_down;
	uint64_t status_class[6];
	uint64_t errors[PROXY_E_MAX];
	struct px_hist ttfb; /* request start to the first response byte */
};

struct px_conn;
struct proxy_exchange;

/*
 * An upstream's health, one entry per HOST:PORT that every lcore shares: a backend that refuses
 * connections is down for all of them after upstream_max_fails refusals, wherever they came
 * from (kept per lcore, N lcores took up to N times that many failed requests). Fields are
 * read and written atomically; entries are never removed.
 */
struct px_health {
	uint32_t addr;
	uint16_t port;
	uint32_t fails;		/* failed connects in a row, from any lcore */
	uint64_t down_until_us; /* marked down until then (dp_now_us) */
};

/* One upstream (HOST:PORT) on one lcore: its pool, its shared health, its counters. */
struct px_up {
	uint32_t addr;
	uint16_t port;
	struct px_conn *idle; /* LIFO: the warmest connection first */
	uint32_t nb_idle;
	uint32_t nb_open;
	struct px_health *h;
	struct proxy_exchange *wait_head, *wait_tail; /* waiting for a connection, FIFO */
	uint32_t nb_waiting;
	struct px_up_stats st;
};

struct px_lcore_stats {
	uint64_t exchanges;
	uint64_t active; /* gauge */
	uint64_t client_aborts;
	uint64_t bad_chunked;
	uint64_t answered[6];	      /* our own 4xx/5xx answers by class */
	uint64_t errors[PROXY_E_MAX]; /* with no upstream chosen yet */
};

struct proxy_exchange;

struct px_lcore {
	struct tcp_engine *tcp;
	uint16_t lcore;
	bool draining;
	unsigned int rr;
	int64_t now_s;
	struct proxy_exchange *exchanges;
	uint32_t nb_waiting; /* over all upstreams */
	unsigned int nb_ups;
	struct px_up ups[PX_MAX_UPSTREAMS];
	struct px_lcore_stats st;
};

extern struct px_lcore *px_lcores[DP_MAX_LCORES];
extern unsigned int px_nb_lcores;

/* proxy_tel.c */
void px_telemetry_init(void);

#endif
