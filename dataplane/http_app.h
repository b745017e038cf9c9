/* HTTP service on the TCP engine, one instance per dataplane lcore. */
#ifndef AG_HTTP_APP_H
#define AG_HTTP_APP_H

#include <stdint.h>

#include "app/config.h"
#include "dataplane/http/http.h"

struct tcp_engine;
struct ha_flow;

/* Written by the owner lcore only; telemetry sums them. */
struct ha_stats {
	uint64_t connections;
	uint64_t active; /* gauge */
	uint64_t responses;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t header_timeouts;
	uint64_t idle_closes;
	uint64_t aborted_responses; /* connection ended with a response in flight */
	uint64_t torn_files;	    /* a file changed while its body was sent: connection reset */
	uint64_t no_memory;
	uint64_t respond_errors;
	/* auth */
	uint64_t challenges;  /* 401 with a Negotiate challenge */
	uint64_t validations; /* tokens sent to the control plane */
	uint64_t auth_ok;
	uint64_t auth_failed;
	uint64_t auth_busy;	   /* 503: the trust's semaphore could not be had in time */
	uint64_t bad_tokens;	   /* not base64: refused on the lcore */
	uint64_t ring_full;	   /* job ring full: 503 */
	uint64_t persisted_hits;   /* requests served on persisted authentication */
	uint64_t persisted_flows;  /* gauge: connections authenticated right now */
	uint64_t identity_changes; /* other credentials on an authenticated flow */
	uint64_t expired_sessions;
	uint64_t revoked_sessions;
	uint64_t stale_verdicts; /* for a flow that closed or moved on: dropped */
	uint64_t parked_timeouts;
	uint64_t failure_closes;  /* max_auth_failures reached */
	uint64_t log_dropped;	  /* access log ring full */
	uint64_t ntlm_challenges; /* 401 carrying an NTLM Type 2 */
	uint64_t basic_refused;	  /* Basic over plain HTTP while allow_basic_over_http = no */
};

struct ha_lcore {
	struct store *store;
	struct http_conn_conf conn_conf; /* per lcore: its stats pointer is this lcore's */
	struct http_stats hstats;	 /* requests, parse errors by reason, status classes */
	uint64_t next_tick_us;
	struct ha_flow *flows;
	int64_t now_s; /* wall clock for Date, refreshed by ha_lcore_tick */
	uint16_t lcore;
	struct ha_stats stats;
};

struct accesslog;

int ha_init(const struct ag_config *cfg);
/* Before the lcores start; producer i is lcore i. */
void ha_set_accesslog(struct accesslog *al);
/* Listens on [http] port on this lcore's engine (nothing when the port is 0). */
int ha_lcore_init(struct ha_lcore *app, struct tcp_engine *e, uint16_t lcore);
/* Verdicts from the control plane for this lcore's parked requests. */
void ha_lcore_verdicts(struct ha_lcore *app);
void ha_lcore_fini(struct ha_lcore *app);
void ha_lcore_tick(struct ha_lcore *app, uint64_t now_us);

#endif
