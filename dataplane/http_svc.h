/* The HTTP service: HTTP/1.1 on the TCP engine behind the auth gate, an application of the loop. */
#ifndef AG_DATAPLANE_HTTP_SVC_H
#define AG_DATAPLANE_HTTP_SVC_H

#include <stdint.h>

#include "common/ini.h"
#include "dataplane/auth_gate.h"
#include "dataplane/http/http.h"

struct http_svc_conf {
	uint32_t port;
	uint32_t max_request_line; /* bytes → 414 */
	uint32_t max_header_bytes; /* bytes → 431; Kerberos tokens with big PACs need room */
	uint32_t max_headers;	   /* count → 431 */
	uint32_t max_body;	   /* request bodies up to this are read and dropped, else 413 */
	uint32_t header_timeout_s; /* a request head must arrive within this (slowloris) → 408 */
	uint32_t keepalive_timeout_s; /* idle keep-alive connections are closed after this */
	uint32_t max_requests;	      /* per connection, then Connection: close; 0 = no limit */
	char access_log[INI_STR];     /* combined-format log file; empty = off */
	uint32_t shutdown_grace_s;    /* SIGTERM: how long open connections may finish */
	uint32_t send_timeout_s;      /* a response with no byte acked for this long is reset */
	uint32_t store_threads;	      /* content-store lookups on threads; 0 = on the lcores */
	uint32_t store_queue;	      /* lookups an lcore may have out before 503 */
};

/* [http], relative to a struct http_svc_conf. */
extern const struct ini_section http_svc_conf_section;

struct accesslog;

/*
 * Registers the service with the loop (it listens on [http] port; nothing when 0) and its
 * telemetry. The confs and the access log (NULL: off) must outlive the dataplane;
 * park_timeout_s bounds the wait for a verdict (the longest trust deadline and some slack).
 */
int http_svc_register(const struct http_svc_conf *http, const struct gate_conf *gate,
		      struct accesslog *log, uint32_t park_timeout_s);

/*
 * A reload: sites, the gate's [auth] keys and [http] timeouts, max_requests apply to requests
 * from now on (parked ones keep theirs). Both confs must outlive every request that began
 * under them: keep the old ones for the longest verdict deadline. Returns how many changes
 * need a restart (port, request limits), logged; -errno when the new sites cannot be opened.
 */
int http_svc_reconfigure(const struct http_svc_conf *http, const struct gate_conf *gate);
/* The service's counters summed over its lcores (any thread; each counter read whole). */
struct http_svc_totals {
	struct http_stats http;
	struct gate_stats gate;
	uint64_t active; /* connections open */
};
void http_svc_totals(struct http_svc_totals *out);

/* On the main thread, now and then: destroys the content stores the lcores let go. */
void http_svc_collect(void);

#endif
