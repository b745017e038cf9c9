/* Reverse proxy: an application of the loop that carries requests of proxied sites upstream. */
#ifndef AG_DATAPLANE_PROXY_PROXY_H
#define AG_DATAPLANE_PROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/http/h1.h"
#include "dataplane/http/site.h"
#include "dataplane/proxy/proxy_hdr.h"

struct tcp_flow;
struct proxy_exchange;

/* Why an exchange failed; one counter each per upstream. */
enum proxy_err {
	PROXY_E_REFUSED = 0,	  /* 502: the upstream answered our SYN with RST */
	PROXY_E_CONNECT_TIMEOUT,  /* 502: no SYN-ACK within connect_timeout_ms */
	PROXY_E_CONNECT_FAILED,	  /* 502: no source port or flow for the connect */
	PROXY_E_CLOSED_EARLY,	  /* 502: the upstream closed or reset before a whole head */
	PROXY_E_BAD_RESPONSE,	  /* 502: the response head could not be parsed or framed */
	PROXY_E_RESPONSE_TIMEOUT, /* 504: no response within response_timeout_s */
	PROXY_E_ALL_DOWN,	  /* 503: every upstream of the site is marked down */
	PROXY_E_TRUNCATED, /* the response broke off (reset, early close, stall): client reset */
	PROXY_E_BAD_REQUEST_BODY, /* 400: the client's chunked body is malformed */
	PROXY_E_BAD_TARGET,	  /* 400: the target does not name the site as written */
	PROXY_E_NO_MEMORY,	  /* 503 */
	PROXY_E_QUEUE_TIMEOUT, /* 503: waited response_timeout_s for a free upstream connection */
	PROXY_E_MAX
};

const char *proxy_err_str(enum proxy_err e);

/* How an exchange ended, for the HTTP service and its access log. */
struct proxy_result {
	int status;	  /* what the client got (0: nothing, the connection is reset) */
	bool close;	  /* FIN the client connection once what is queued is sent */
	bool reset;	  /* reset the client connection now */
	uint64_t bytes;	  /* response body bytes sent to the client */
	uint32_t up_addr; /* the upstream that answered (0: none) */
	uint16_t up_port;
	int up_status; /* the upstream's status (0: none) */
};

/* What the proxy calls back into the HTTP service with; arg is the service's connection. */
struct proxy_hooks {
	/*
	 * The client's byte I/O, as the service does it (plain TCP, or TLS on an HTTPS
	 * listener): queue bytes (returns how many, 0 when full, or -errno), and how many more
	 * it would take now. The proxy never writes to the client flow itself.
	 */
	int (*send)(void *arg, const void *buf, size_t len);
	uint32_t (*send_space)(void *arg);
	/* The exchange can take request body bytes again: call proxy_client_rx(). */
	void (*want_rx)(void *arg);
	/* The exchange is over and freed; its pointer must not be used again. */
	void (*done)(void *arg, const struct proxy_result *res);
};

struct proxy_start {
	struct tcp_flow *client;
	const struct h1_request *req; /* views valid during proxy_begin() only */
	const struct site_conf *site; /* copied: a reload may free it */
	struct proxy_identity id;
	const char *extra; /* the gateway's own response lines (Persistent-Auth, ...) */
	bool client_close; /* the client connection ends after this response anyway */
	const struct proxy_hooks *hooks;
	void *arg;
};

/*
 * Registers the proxy with the loop and its telemetry (/authgate/proxy/upstreams). Call from
 * main before the lcores start, when any site has an upstream.
 */
int proxy_register(void);

/*
 * On a dataplane lcore: starts an exchange for a request the gate let through. Returns 0 with
 * *ex_out set, or the status the caller answers itself (400: target, 503: every upstream
 * down, no memory, or the proxy does not run here). The request body (Content-Length or
 * chunked) is read by proxy_client_rx() from the bytes after the head; the response goes to
 * the client flow directly. done() never runs inside proxy_begin().
 */
int proxy_begin(const struct proxy_start *s, struct proxy_exchange **ex_out);

/* Request body bytes from the client (buf[0..len) follows the head). Returns bytes taken. */
size_t proxy_client_rx(struct proxy_exchange *ex, const char *buf, size_t len);
/* The client acknowledged bytes: more of the response may go. */
void proxy_client_acked(struct proxy_exchange *ex);
/* The client connection closed: the exchange is dropped without done(). */
void proxy_client_closed(struct proxy_exchange *ex);

#endif
