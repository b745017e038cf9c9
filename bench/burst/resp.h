/* bresp: a resumable HTTP/1.1 response parser for the load generator (head, then body). */
#ifndef AG_BENCH_BURST_RESP_H
#define AG_BENCH_BURST_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest header line kept; longer lines are skipped and only fail when their value is needed. */
#define BRESP_LINE_MAX 2048

enum bresp_state {
	BRESP_STATUS,	   /* reading the status line into line[] */
	BRESP_HEADER,	   /* reading a header line (or the empty line) into line[] */
	BRESP_BODY_LENGTH, /* head done, body_left bytes of Content-Length body to go */
	BRESP_BODY_EOF,	   /* head done, no framing: the body ends when the server closes */
	BRESP_CHUNK_SIZE,  /* chunked: reading a chunk-size line into line[] */
	BRESP_CHUNK_DATA,  /* chunked: body_left bytes of chunk data to go */
	BRESP_CHUNK_CRLF,  /* chunked: the CRLF after chunk data */
	BRESP_TRAILER,	   /* chunked: trailer lines until the empty one */
	BRESP_DONE,	   /* the whole response is in; bytes after it belong to the next one */
	BRESP_ERROR,	   /* malformed; err says why, the connection cannot be reused */
};

/* Return values of bresp_feed besides a negative error. */
#define BRESP_AGAIN 0 /* consumed all input, response not complete */
#define BRESP_OK    1 /* response complete; *used tells where it ended */

enum bresp_err {
	BRESP_E_NONE = 0,
	BRESP_E_STATUS,	  /* status line is not "HTTP/1.x NNN ..." */
	BRESP_E_HEADER,	  /* header line without a colon, or bare CR/NUL */
	BRESP_E_LENGTH,	  /* Content-Length missing a number, duplicated with another value */
	BRESP_E_RANGE,	  /* Content-Range present but unreadable */
	BRESP_E_CHUNK,	  /* bad chunk size line */
	BRESP_E_TOO_LONG, /* a line we must read is longer than BRESP_LINE_MAX */
	BRESP_E_EOF,	  /* the server closed before the response was complete */
};

/* Header facts the client acts on. */
#define BRESP_F_PERSIST_TRUE  0x01 /* Persistent-Auth: true */
#define BRESP_F_PERSIST_FALSE 0x02 /* Persistent-Auth: false */
#define BRESP_F_NEGOTIATE     0x04 /* a WWW-Authenticate: Negotiate challenge (or mutual token) */
#define BRESP_F_CLOSE	      0x08 /* Connection: close */
#define BRESP_F_CHUNKED	      0x10 /* Transfer-Encoding: chunked */
#define BRESP_F_HAS_LENGTH    0x20 /* Content-Length present */
#define BRESP_F_HAS_RANGE     0x40 /* Content-Range: bytes a-b/total present */
#define BRESP_F_BASIC	      0x80 /* a WWW-Authenticate: Basic challenge */

struct bresp {
	enum bresp_state state;
	enum bresp_err err;
	bool head_request; /* the request was HEAD: no body whatever the headers say */
	int status;
	unsigned int flags;
	int64_t content_length;
	uint64_t range_first, range_last, range_total; /* valid with BRESP_F_HAS_RANGE */
	int retry_after_s;			       /* -1 when absent */
	uint64_t body_left;
	uint64_t body_seen; /* body bytes handed to the callback so far */
	size_t line_len;
	bool line_truncated;
	char line[BRESP_LINE_MAX];
};

/* Called with each piece of body (decoded, without chunk framing), in order. */
typedef void (*bresp_body_cb)(void *arg, const char *data, size_t len);

void bresp_reset(struct bresp *r, bool head_request);
/*
 * Feeds n bytes. Returns BRESP_OK when the response is complete (*used = bytes that belonged to
 * it), BRESP_AGAIN when all n were consumed and more are needed, or -EPROTO (r->err says why).
 */
int bresp_feed(struct bresp *r, const char *p, size_t n, size_t *used, bresp_body_cb cb, void *arg);
/* EOF from the peer: a response without framing ends at EOF; returns BRESP_OK or -EPROTO. */
int bresp_eof(struct bresp *r);
const char *bresp_err_str(enum bresp_err e);

#endif
