/* Inside the HTTP service: its per-lcore and per-connection state, shared by its files. */
#ifndef AG_DATAPLANE_HTTP_SVC_PRIV_H
#define AG_DATAPLANE_HTTP_SVC_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/auth_gate.h"
#include "dataplane/dp_conf.h"
#include "dataplane/http/http.h"
#include "dataplane/http_svc.h"

struct tcp_flow;
struct tls_conn;
struct proxy_exchange;
struct accesslog_rec;

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
	uint64_t log_dropped;	    /* access log ring full */
	uint64_t drain_idle_closed; /* SIGTERM: idle keep-alive connections closed */
	uint64_t drain_finished;    /* SIGTERM: connections closed after their last response */
	uint64_t send_timeouts;	    /* a response no byte of which was acked for send_timeout_s */
	uint64_t store_parked;	    /* requests that waited for a store lookup */
	uint64_t store_busy;	    /* the lookup queue was full: 503 */
	uint64_t store_stale;	    /* a lookup's answer found its request gone */
	uint64_t store_timeouts;    /* a lookup not answered in the park timeout: 503 */
};

/* One per dataplane lcore, written by that lcore. */
struct ha_lcore {
	struct store *store;
	struct store *pending_store; /* a reload's, handed over by the main thread */
	struct store *retired_store; /* the one it replaced, for the main thread to destroy */
	struct store_lane *lane;     /* misses go to the resolver threads (NULL: looked up here) */
	struct http_conn_conf conn_conf; /* per lcore: its stats pointer is this lcore's */
	struct http_stats hstats;	 /* requests, parse errors by reason, status classes */
	struct ha_flow *flows;
	int64_t now_s; /* wall clock for Date, refreshed by the tick */
	uint16_t lcore;
	bool draining;		/* SIGTERM: every response is the connection's last */
	bool extbuf_ok;		/* file pages may go to the ports as external mbufs */
	struct tcp_engine *tcp; /* this lcore's, to stop listening */
	struct ha_stats stats;
	struct gate_stats gate;
};

/* One connection. */
struct ha_flow {
	struct ha_lcore *app;
	struct tcp_flow *flow;
	struct http_conn conn;
	char *rx;
	uint32_t rx_len;
	uint32_t rx_cap;
	struct http_response *resp; /* being sent; NULL when idle */
	size_t head_off;
	unsigned int slice;
	size_t slice_off;
	struct ha_ext *ext;
	uint32_t requests;
	uint64_t idle_since_us; /* last response finished (keep-alive timeout) */
	uint64_t progress_us;	/* the response in flight last had bytes acked (send timeout) */
	uint64_t head_since_us; /* first byte of the pending request head (header timeout) */
	bool peer_fin;
	bool closing;		      /* FIN queued: nothing more is parsed */
	bool parked;		      /* a request waits for a verdict; rx must not move */
	bool store_parked;	      /* ... or for the content store: parked is set too */
	char *park_extra;	      /* the auth headers its response owes (store_parked) */
	uint64_t store_id;	      /* flow id and generation: the name store lookups answer */
	uint32_t seq;		      /* the parked request's number, echoed by its verdict */
	const struct site_conf *site; /* the parked request's */
	bool ntlm_started;	      /* the control plane may hold an NTLM context for this flow */
	uint64_t parked_since_us;
	size_t parked_consumed;
	struct h1_request parked_req;
	struct gate_flow auth;
	struct tls_conn *tls; /* NULL on the plain HTTP port */
	bool tls_pulling;     /* tls_pull runs: a nested call asks it to go round again */
	bool tls_again;
	bool dead; /* closed while tls_pull ran: it frees the connection on its way out */
	struct ha_flow *prev, *next; /* this lcore's connections, for the timeout sweep */
	struct proxy_exchange *px;   /* a proxied request in flight: it owns rx's body bytes */
	bool px_body_pending;	     /* a proxied request's body not yet taken (answered instead) */
	bool px_feeding;	     /* inside proxy_client_rx: rx is not ours to parse yet */
	bool px_next_pending;	     /* the exchange ended meanwhile: parse what follows after */
	struct accesslog_rec *px_log; /* its access-log line, posted when it ends */
};

/* The content store's lookup threads; NULL when [http] store_threads = 0. */
extern struct resolver *store_resolver;

/* The service's lcores, for telemetry (NULL where it does not run). */
extern struct ha_lcore *ha_lcores[DP_MAX_LCORES];
extern unsigned int ha_nb_lcores;

/* http_log.c: one access-log line for req (NULL: unparseable) with this status and body. */
void ha_log_request(struct accesslog *log, struct ha_flow *h, const struct h1_request *req,
		    int status, uint64_t bytes);

/* The access-log line of a request whose status comes later (proxied); NULL: no log. */
struct accesslog_rec *ha_log_prepare(struct accesslog *log, struct ha_flow *h,
				     const struct h1_request *req);
/* Posts and frees it (rec may be NULL); up_ip 0: no upstream answered. */
void ha_log_post(struct accesslog *log, struct ha_flow *h, struct accesslog_rec *rec, int status,
		 uint64_t bytes, uint32_t up_ip, uint16_t up_port, uint16_t up_status);

/* http_tel.c: /authgate/http/stats and the gate's share of /authgate/auth/stats. */
void ha_telemetry_init(void);

#endif
