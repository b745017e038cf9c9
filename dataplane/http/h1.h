/* HTTP/1.1 request-head parser: a resumable line-level state machine over zero-copy views. */
#ifndef AG_DATAPLANE_HTTP_H1_H
#define AG_DATAPLANE_HTTP_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Compile-time ceiling for h1_limits.max_headers; the request keeps a fixed array. */
#define H1_MAX_HEADERS 128

#define H1_DEFAULT_MAX_REQUEST_LINE (8 * 1024)
#define H1_DEFAULT_MAX_HEADER_BYTES (64 * 1024)
#define H1_DEFAULT_MAX_HEADERS	    100

/* Return contract of h1_parse(). */
enum h1_rc {
	H1_OK,	  /* a full request head parsed; req->head_len bytes consumed */
	H1_AGAIN, /* the head is incomplete: call again with the same bytes plus more */
	H1_ERROR, /* the request is refused: h1_err_status(p->err) is the status to answer */
};

/* Why a request was refused; each has an HTTP status (h1_err_status) and a name (h1_err_str). */
enum h1_err {
	H1_E_NONE,
	H1_E_REQUEST_LINE_TOO_LONG, /* 414: request line above max_request_line */
	H1_E_HEADERS_TOO_LARGE,	    /* 431: header section above max_header_bytes */
	H1_E_TOO_MANY_HEADERS,	    /* 431: more than max_headers field lines */
	H1_E_TOO_MANY_EMPTY_LINES,  /* 400: a flood of CRLF before the request line */
	H1_E_BAD_REQUEST_LINE,	    /* 400: not "method SP target SP version" */
	H1_E_BAD_METHOD,	    /* 400: method is not a token */
	H1_E_BAD_TARGET,	    /* 400: empty target or a byte outside visible ASCII */
	H1_E_BAD_VERSION,	    /* 400: version is not HTTP/DIGIT.DIGIT */
	H1_E_VERSION_UNSUPPORTED,   /* 505: a major version other than 1 */
	H1_E_BARE_CR,		    /* 400: CR not followed by LF */
	H1_E_NUL,		    /* 400: NUL byte anywhere in the head */
	H1_E_CTL_CHAR,		    /* 400: other control byte in a field value */
	H1_E_OBS_FOLD,		 /* 400: a line starting with whitespace (obsolete line folding) */
	H1_E_SPACE_BEFORE_COLON, /* 400: whitespace between field name and colon */
	H1_E_BAD_HEADER_NAME,	 /* 400: empty or non-token field name, or no colon */
	H1_E_DUP_HOST,		 /* 400: more than one Host */
	H1_E_DUP_CONTENT_LENGTH, /* 400: more than one Content-Length, even equal */
	H1_E_DUP_AUTHORIZATION,	 /* 400: more than one Authorization */
	H1_E_BAD_CONTENT_LENGTH, /* 400: Content-Length not 1*DIGIT or overflowing */
	H1_E_TE_WITH_CL,	 /* 400: Transfer-Encoding and Content-Length together */
	H1_E_TE_HTTP10,		 /* 400: Transfer-Encoding on an HTTP/1.0 request */
	H1_E_BAD_TE,		 /* 400: Transfer-Encoding whose final coding is not chunked */
	H1_E_TE_NOT_CHUNKED,	 /* 501: with accept_chunked, any coding besides one "chunked" */
	H1_E_CHUNKED,		 /* 501: chunked request bodies are not supported */
	H1_E_MISSING_HOST,	 /* 400: HTTP/1.1 without Host */
	H1_E_BAD_HOST,		 /* 400: Host value with bytes a host[:port] cannot hold */
	H1_E_EXPECT,		 /* 417: Expect other than 100-continue */
	H1_E__COUNT,
};

enum h1_method {
	H1_M_OTHER, /* a valid token we do not know: answered 405 */
	H1_M_GET,
	H1_M_HEAD,
	H1_M_OPTIONS,
	H1_M_POST,
	H1_M_PUT,
	H1_M_DELETE,
	H1_M_PATCH,
	H1_M_TRACE,
	H1_M_CONNECT,
};

/* Headers the gateway acts on, indexed so nobody rescans the array. */
enum h1_hdr_id {
	H1_H_OTHER,
	H1_H_HOST,
	H1_H_CONNECTION,
	H1_H_CONTENT_LENGTH,
	H1_H_TRANSFER_ENCODING,
	H1_H_AUTHORIZATION,
	H1_H_RANGE,
	H1_H_IF_RANGE,
	H1_H_IF_NONE_MATCH,
	H1_H_IF_MODIFIED_SINCE,
	H1_H_EXPECT,
	H1_H__COUNT,
};

/* A view into the caller's receive buffer; valid while that buffer is. */
struct h1_view {
	const char *p;
	size_t len;
};

struct h1_header {
	struct h1_view name;  /* as received; compare with h1_view_ieq() */
	struct h1_view value; /* leading and trailing whitespace removed */
	enum h1_hdr_id id;
};

struct h1_limits {
	uint32_t max_request_line; /* bytes, CRLF excluded */
	uint32_t max_header_bytes; /* bytes of the header section, final CRLF included */
	uint32_t max_headers;	   /* field lines, at most H1_MAX_HEADERS */
	/*
	 * Take "Transfer-Encoding: chunked" request bodies (a proxy streams them): the value must
	 * then be exactly that one coding, on one line, on HTTP/1.1 without Content-Length.
	 * Otherwise every chunked request is refused (H1_E_CHUNKED, 501).
	 */
	bool accept_chunked;
};

struct h1_request {
	enum h1_method method;
	struct h1_view method_name;
	struct h1_view target;
	unsigned version_minor; /* HTTP/1.x */
	bool keep_alive;	/* after this request's response, per version and Connection */
	bool expect_continue;
	bool chunked;		/* a chunked body follows (only with accept_chunked) */
	int64_t content_length; /* -1 when absent */
	size_t head_len;	/* bytes of the head, leading empty lines included */
	unsigned nheaders;
	/* first occurrence of each known header, index into headers[], or -1 */
	int idx[H1_H__COUNT];
	struct h1_header headers[H1_MAX_HEADERS];
};

/* Byte offsets into the caller's buffer, so the buffer may move between calls. */
struct h1_span {
	uint32_t off;
	uint32_t len;
};

enum h1_state {
	H1_S_REQUEST_LINE, /* looking for the end of the request line; empty lines skipped */
	H1_S_HEADERS,	   /* request line accepted; field lines until the empty line */
	H1_S_DONE,	   /* H1_OK returned; h1_parser_reset() before the next request */
	H1_S_ERROR,	   /* H1_ERROR returned; sticky, the connection must close */
};

struct h1_parser {
	struct h1_limits lim;
	enum h1_state state;
	enum h1_err err;
	uint32_t line_start; /* first byte of the line being assembled */
	uint32_t scan;	     /* bytes before this were searched for LF already */
	uint32_t hdr_start;  /* first byte of the header section */
	uint32_t empty_lines;
	bool conn_close;
	bool conn_keep_alive;
	bool has_te;
	bool chunked;
	struct h1_span method, target;
	unsigned version_minor;
	enum h1_method meth;
	int64_t content_length;
	bool expect_continue;
	unsigned nheaders;
	int idx[H1_H__COUNT];
	struct h1_span hname[H1_MAX_HEADERS];
	struct h1_span hvalue[H1_MAX_HEADERS];
	uint8_t hid[H1_MAX_HEADERS];
};

/* Fills defaults: 8 KiB request line, 64 KiB headers, 100 fields. */
void h1_limits_default(struct h1_limits *lim);

/* lim may be NULL for the defaults; max_headers is clamped to H1_MAX_HEADERS. */
void h1_parser_init(struct h1_parser *p, const struct h1_limits *lim);

/* Forgets the last request, keeps the limits: call after H1_OK before the next request. */
void h1_parser_reset(struct h1_parser *p);

/*
 * Parses the request head at buf[0..len). The caller passes the whole head received so far
 * each time (the buffer may be moved or grown between calls); work already done is not
 * repeated. On H1_OK, req is filled with views into buf and req->head_len says where the
 * body or the next pipelined request starts. On H1_ERROR, p->err says why; the state
 * stays ERROR.
 */
enum h1_rc h1_parse(struct h1_parser *p, const char *buf, size_t len, struct h1_request *req);

const char *h1_err_str(enum h1_err err);
int h1_err_status(enum h1_err err);
const char *h1_method_str(enum h1_method m);

/* The first header with this id, or NULL. Inline: a response asks for four of them. */
static inline const struct h1_view *
h1_req_header(const struct h1_request *req, enum h1_hdr_id id)
{
	if ((unsigned)id >= H1_H__COUNT || id == H1_H_OTHER || req->idx[id] < 0)
		return NULL;
	return &req->headers[req->idx[id]].value;
}

/* Case-insensitive ASCII comparison of a view with a C string. */
bool h1_view_ieq(struct h1_view v, const char *s);

/* Does the comma-separated list in v contain token tok (case-insensitive)? */
bool h1_list_has_token(struct h1_view v, const char *tok);

#endif
