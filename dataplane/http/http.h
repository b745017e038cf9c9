/* The glue the TCP layer calls: request in, response head plus zero-copy body slices out. */
#ifndef AG_DATAPLANE_HTTP_HTTP_H
#define AG_DATAPLANE_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/http/h1.h"
#include "dataplane/http/range.h"
#include "dataplane/http/resp.h"
#include "dataplane/http/store.h"

/* Room for the head, the auth headers the gate adds, and a short error body. */
#define HTTP_HEAD_MAX	(8 * 1024)
#define HTTP_MAX_SLICES (2 * RANGE_MAX + 1)

/* Counters for one lcore; written by its owner only, summed by telemetry. */
struct http_stats {
	uint64_t requests;
	uint64_t parse_errors[H1_E__COUNT];
	uint64_t status_class[6]; /* [2] = 2xx ... [5] = 5xx */
	uint64_t body_bytes_discarded;
};

struct http_opts {
	int64_t now;		   /* seconds since the epoch, for Date */
	const char *extra_headers; /* raw lines, each ending in CRLF (WWW-Authenticate, ...) */
	size_t extra_len;
	bool force_close; /* answer Connection: close whatever the client asked */
	/* the target as the caller normalised it (NUL-terminated), or NULL: normalised here */
	const char *path;
	size_t path_len;
};

enum http_slice_kind {
	HTTP_SLICE_FILE,   /* points into the mapped file: send without copying */
	HTTP_SLICE_INLINE, /* points into http_response.parts: small, copy it */
};

struct http_slice {
	const void *base;
	size_t len;
	enum http_slice_kind kind;
};

/*
 * What to send, in order: head[0..head_len), then the slices. file (if not NULL) is a
 * reference that keeps the FILE slices valid; the sender drops it with
 * http_response_release() once the bytes are acknowledged (or hands a store_file_get()
 * reference to each external mbuf). Before the last FILE byte goes out the sender should call
 * store_file_check(file) and abort the connection if it fails: the file changed in place.
 */
struct http_response {
	int status;
	bool close; /* close the connection once this response is sent */
	size_t head_len;
	uint64_t body_len; /* sum of the slices */
	unsigned nslices;
	struct store_file *file;
	struct http_slice slices[HTTP_MAX_SLICES];
	char head[HTTP_HEAD_MAX];
	char parts[RANGE_MAX * RESP_PART_HEAD_MAX + 64];
};

/*
 * Decides the status for one parsed request and builds the response: GET/HEAD from the store
 * (200, 206, 304, 404, 416, multipart/byteranges), OPTIONS (200 with Allow), other methods
 * 405, bad targets 400. Returns 0, or -ENOSPC when the extra headers do not fit (the response
 * is then a 500). Never touches a socket. With a store that parks (store_park_as):
 * -EINPROGRESS (the file is being looked up: park the request and run it again once
 * store_lane_poll answers) or -EBUSY (the lookup queue is full: answer 503), resp unset.
 */
int http_serve(const struct h1_request *req, struct store *st, const struct http_opts *opts,
	       struct http_response *resp);

/* Builds an error response (with a small text body unless head_only). */
/* Drops the first n of the *len bytes of a receive buffer; the rest moves to the front. */
void http_rx_drop(char *buf, uint32_t *len, size_t n);

void http_error(int status, bool keep_alive, bool head_only, const struct http_opts *opts,
		struct http_response *resp);

/* Releases the file reference; the response may then be reused. */
void http_response_release(struct http_response *resp);

/* --- connection level: pipelining, body discard, close decisions --- */

struct http_conn_conf {
	struct h1_limits limits;
	uint64_t max_body;	  /* request bodies up to this are read and dropped, beyond: 413 */
	struct http_stats *stats; /* may be NULL */
	/*
	 * The caller decides per request what happens to its body (some sites proxy it):
	 * http_conn_parse() leaves it alone and the caller calls http_conn_body() next.
	 */
	bool body_to_caller;
};

struct http_conn {
	const struct http_conn_conf *conf;
	struct h1_parser parser;
	uint64_t discard; /* body bytes of the previous request still to drop */
	bool closing;	  /* an error was answered: the stream is no longer trusted */
};

enum http_conn_rc {
	HTTP_CONN_AGAIN,   /* need more bytes (consumed ones may still be dropped) */
	HTTP_CONN_REQUEST, /* req is ready: authenticate, then http_conn_respond() */
	HTTP_CONN_ERROR,   /* refused: http_conn_error() builds the answer, then close */
};

void http_conn_init(struct http_conn *c, const struct http_conn_conf *conf);

/*
 * Looks at the unconsumed receive bytes buf[0..len). *consumed says how many the caller may
 * drop now (leftover body bytes and, with HTTP_CONN_REQUEST, the request head; req views
 * stay valid only until the caller drops them, so serve before compacting). Call again with
 * the remaining bytes to get the next pipelined request, in order.
 */
enum http_conn_rc http_conn_parse(struct http_conn *c, const char *buf, size_t len,
				  size_t *consumed, struct h1_request *req, int *status_out);

/*
 * With body_to_caller, after HTTP_CONN_REQUEST: forwarded (a proxy reads the body itself from
 * the bytes after the head) returns HTTP_CONN_REQUEST; otherwise the body is read and dropped
 * as without body_to_caller (HTTP_CONN_REQUEST), or refused: HTTP_CONN_ERROR with 413 (over
 * max_body) or 501 (chunked).
 */
enum http_conn_rc http_conn_body(struct http_conn *c, const struct h1_request *req, bool forwarded,
				 int *status_out);

/* http_serve() plus the connection's keep-alive decision; counts the status. */
int http_conn_respond(struct http_conn *c, const struct h1_request *req, struct store *st,
		      const struct http_opts *opts, struct http_response *resp);

/* The answer for HTTP_CONN_ERROR: always Connection: close. */
void http_conn_error(struct http_conn *c, int status, const struct http_opts *opts,
		     struct http_response *resp);

/*
 * Everything above in one call for callers without an auth step (tests, open sites):
 * returns 1 with resp filled (send it; close after if resp->close), 0 when more bytes are
 * needed. *consumed as for http_conn_parse().
 */
int http_conn_next(struct http_conn *c, const char *buf, size_t len, struct store *st,
		   const struct http_opts *opts, struct http_response *resp, size_t *consumed);

#endif
