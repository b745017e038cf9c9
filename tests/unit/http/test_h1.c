/* Unit tests for the HTTP/1.1 request-head parser: splits, malformed table, limits, keep-alive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/http/h1.h"

struct outcome {
	enum h1_rc rc;
	enum h1_err err;
	struct h1_request req;
};

static void
parse_whole(const char *buf, size_t len, const struct h1_limits *lim, struct outcome *o)
{
	struct h1_parser p;

	h1_parser_init(&p, lim);
	memset(&o->req, 0, sizeof(o->req));
	o->rc = h1_parse(&p, buf, len, &o->req);
	o->err = p.err;
}

static void
assert_view_eq(struct h1_view a, struct h1_view b)
{
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
}

/* Same parse, every split point, with the buffer moved between the two calls. */
static void
check_all_splits(const char *buf, size_t len, const struct h1_limits *lim)
{
	struct outcome whole, part;
	size_t k, i;

	parse_whole(buf, len, lim, &whole);
	assert_int_not_equal(whole.rc, H1_AGAIN);
	for (k = 0; k < len; k++) {
		struct h1_parser p;
		char *first = malloc(k + 1), *second = malloc(len);
		enum h1_rc rc;

		memcpy(first, buf, k);
		h1_parser_init(&p, lim);
		memset(&part.req, 0, sizeof(part.req));
		rc = h1_parse(&p, first, k, &part.req);
		free(first);
		if (rc == H1_ERROR) {
			/* an error may show early but must be the same error */
			assert_int_equal(whole.rc, H1_ERROR);
			assert_string_equal(h1_err_str(p.err), h1_err_str(whole.err));
			free(second);
			continue;
		}
		if (rc == H1_OK) {
			/* the head ended before the split: only a body was cut */
			assert_int_equal(whole.rc, H1_OK);
			assert_true(whole.req.head_len <= k);
			free(second);
			continue;
		}
		assert_int_equal(rc, H1_AGAIN);
		memcpy(second, buf, len);
		rc = h1_parse(&p, second, len, &part.req);
		assert_int_equal(rc, whole.rc);
		assert_string_equal(h1_err_str(p.err), h1_err_str(whole.err));
		if (rc == H1_OK) {
			const struct h1_request *a = &whole.req, *b = &part.req;

			assert_int_equal(a->method, b->method);
			assert_view_eq(a->method_name, b->method_name);
			assert_view_eq(a->target, b->target);
			assert_int_equal(a->version_minor, b->version_minor);
			assert_int_equal(a->keep_alive, b->keep_alive);
			assert_int_equal(a->content_length, b->content_length);
			assert_int_equal(a->head_len, b->head_len);
			assert_int_equal(a->nheaders, b->nheaders);
			for (i = 0; i < H1_H__COUNT; i++)
				assert_int_equal(a->idx[i], b->idx[i]);
			for (i = 0; i < a->nheaders; i++) {
				assert_view_eq(a->headers[i].name, b->headers[i].name);
				assert_view_eq(a->headers[i].value, b->headers[i].value);
				assert_int_equal(a->headers[i].id, b->headers[i].id);
			}
		}
		free(second);
	}
}

static const char *const good_requests[] = {
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /pkg/file.cab HTTP/1.1\r\nHost: dp.example\r\nRange: bytes=0-99\r\n"
	"Authorization: Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnag\r\nConnection: keep-alive\r\n\r\n",
	"HEAD /x HTTP/1.0\r\n\r\n",
	"GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\nUser-Agent: Microsoft BITS/7.8\r\n\r\n",
	"\r\n\r\nOPTIONS * HTTP/1.1\nHost: a\n\n",
	"GET http://h.example/a?b=c HTTP/1.1\r\nhOsT: h.example:8080\r\nIf-None-Match: \"x\"\r\n"
	"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nX-Empty:\r\nX-Sp:  v  \t\r\n\r\n",
	"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"GET / HTTP/1.9\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
	/* errors, split too */
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
	"GET /\x01 HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
};

static void
test_every_split(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good_requests) / sizeof(good_requests[0]); i++)
		check_all_splits(good_requests[i], strlen(good_requests[i]), NULL);
}

static void
test_fields(void **state)
{
	const char *s = good_requests[5];
	struct outcome o;
	const struct h1_view *v;

	(void)state;
	parse_whole(s, strlen(s), NULL, &o);
	assert_int_equal(o.rc, H1_OK);
	assert_int_equal(o.req.method, H1_M_GET);
	assert_true(h1_view_ieq(o.req.target, "http://h.example/a?b=c"));
	v = h1_req_header(&o.req, H1_H_HOST);
	assert_non_null(v);
	assert_true(h1_view_ieq(*v, "h.example:8080"));
	v = h1_req_header(&o.req, H1_H_IF_NONE_MATCH);
	assert_true(h1_view_ieq(*v, "\"x\""));
	assert_null(h1_req_header(&o.req, H1_H_RANGE));
	assert_int_equal(o.req.nheaders, 5);
	assert_true(h1_view_ieq(o.req.headers[3].value, ""));
	assert_true(h1_view_ieq(o.req.headers[4].value, "v"));
	assert_int_equal(o.req.head_len, strlen(s));
	assert_int_equal(o.req.content_length, -1);

	s = good_requests[6];
	parse_whole(s, strlen(s), NULL, &o);
	assert_int_equal(o.rc, H1_OK);
	assert_int_equal(o.req.method, H1_M_POST);
	assert_int_equal(o.req.content_length, 5);
	/* the body is not part of the head */
	assert_int_equal(o.req.head_len, strlen(s) - 5);

	s = good_requests[7];
	parse_whole(s, strlen(s), NULL, &o);
	assert_int_equal(o.rc, H1_OK);
	assert_int_equal(o.req.version_minor, 1);
	assert_true(o.req.expect_continue);
}

static void
test_keep_alive(void **state)
{
	static const struct {
		const char *req;
		bool keep_alive;
	} rows[] = {
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, CLOSE\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.0\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
		{"GET / HTTP/1.0\r\nconnection: Keep-Alive , te\r\n\r\n", true},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true},
	};
	struct outcome o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		parse_whole(rows[i].req, strlen(rows[i].req), NULL, &o);
		assert_int_equal(o.rc, H1_OK);
		if (o.req.keep_alive != rows[i].keep_alive)
			fail_msg("row %zu: keep_alive %d", i, o.req.keep_alive);
	}
}

struct bad_row {
	const char *req;
	size_t len; /* 0: strlen */
	int status;
	enum h1_err err;
};

#define ROW(r, s, e)                                                                               \
	{                                                                                          \
		r, sizeof(r) - 1, s, e                                                             \
	}

static const struct bad_row bad_rows[] = {
	ROW("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, H1_E_DUP_HOST),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, H1_E_DUP_HOST),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400,
	    H1_E_DUP_CONTENT_LENGTH),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic a\r\nAUTHORIZATION: Basic b\r\n\r\n",
	    400, H1_E_DUP_AUTHORIZATION),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	    400, H1_E_TE_WITH_CL),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
	    400, H1_E_TE_WITH_CL),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501, H1_E_CHUNKED),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
	    H1_E_CHUNKED),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400,
	    H1_E_BAD_TE),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400, H1_E_BAD_TE),
	ROW("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, H1_E_TE_HTTP10),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400,
	    H1_E_BAD_CONTENT_LENGTH),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n\r\n", 400,
	    H1_E_BAD_CONTENT_LENGTH),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400,
	    H1_E_BAD_CONTENT_LENGTH),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, H1_E_BAD_CONTENT_LENGTH),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400,
	    H1_E_BAD_CONTENT_LENGTH),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400,
	    H1_E_BAD_CONTENT_LENGTH),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, H1_E_OBS_FOLD),
	ROW("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", 400, H1_E_OBS_FOLD),
	ROW("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, H1_E_SPACE_BEFORE_COLON),
	ROW("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, H1_E_SPACE_BEFORE_COLON),
	ROW("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400, H1_E_BAD_HEADER_NAME),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, H1_E_BAD_HEADER_NAME),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nBad(Name): x\r\n\r\n", 400, H1_E_BAD_HEADER_NAME),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, H1_E_BARE_CR),
	ROW("GET / HTTP/1.1\rHost: a\r\n\r\n", 400, H1_E_BARE_CR),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400, H1_E_NUL),
	ROW("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", 400, H1_E_NUL),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01"
	    "b\r\n\r\n",
	    400, H1_E_CTL_CHAR),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400, H1_E_CTL_CHAR),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[31m\r\n\r\n", 400, H1_E_CTL_CHAR),
	ROW("GET / HTTP/1.1\r\n\r\n", 400, H1_E_MISSING_HOST),
	ROW("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, H1_E_BAD_HOST),
	ROW("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, H1_E_BAD_HOST),
	ROW("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, H1_E_BAD_METHOD),
	ROW("G\x80T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, H1_E_BAD_METHOD),
	ROW(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, H1_E_BAD_REQUEST_LINE),
	ROW("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, H1_E_BAD_REQUEST_LINE),
	ROW("GET\r\n\r\n", 400, H1_E_BAD_REQUEST_LINE),
	ROW("GET /\r\n\r\n", 400, H1_E_BAD_VERSION),
	ROW("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, H1_E_BAD_VERSION),
	ROW("GET / http/1.1\r\nHost: a\r\n\r\n", 400, H1_E_BAD_VERSION),
	ROW("GET / HTTP/1\r\nHost: a\r\n\r\n", 400, H1_E_BAD_VERSION),
	ROW("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, H1_E_BAD_VERSION),
	ROW("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, H1_E_VERSION_UNSUPPORTED),
	ROW("GET / HTTP/0.9\r\n\r\n", 505, H1_E_VERSION_UNSUPPORTED),
	ROW("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400, H1_E_BAD_TARGET),
	ROW("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, H1_E_BAD_TARGET),
	ROW("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417, H1_E_EXPECT),
	ROW("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / "
	    "HTTP/1.1\r\n",
	    400, H1_E_TOO_MANY_EMPTY_LINES),
};

static void
test_malformed_table(void **state)
{
	struct outcome o;
	size_t i;

	(void)state;
	assert_true(sizeof(bad_rows) / sizeof(bad_rows[0]) >= 40);
	for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		const struct bad_row *r = &bad_rows[i];

		parse_whole(r->req, r->len, NULL, &o);
		if (o.rc != H1_ERROR || h1_err_status(o.err) != r->status || o.err != r->err)
			fail_msg("row %zu: rc %d status %d reason %s, want %d %s", i, o.rc,
				 h1_err_status(o.err), h1_err_str(o.err), r->status,
				 h1_err_str(r->err));
		/* and the same verdict whatever the segmentation */
		check_all_splits(r->req, r->len, NULL);
	}
}

static char *
repeat(const char *head, char c, size_t n, const char *tail)
{
	size_t h = strlen(head), t = strlen(tail);
	char *s = malloc(h + n + t + 1);

	memcpy(s, head, h);
	memset(s + h, c, n);
	memcpy(s + h + n, tail, t + 1);
	return s;
}

static void
test_limits(void **state)
{
	struct h1_limits lim;
	struct outcome o;
	char *s;
	size_t i, len;

	(void)state;
	/* request line exactly at 8 KiB passes, one more byte is 414 even before the LF */
	s = repeat("GET /", 'a', 8192 - 14, " HTTP/1.1\r\nHost: a\r\n\r\n");
	parse_whole(s, strlen(s), NULL, &o);
	assert_int_equal(o.rc, H1_OK);
	free(s);
	s = repeat("GET /", 'a', 8192 - 13, " HTTP/1.1\r\nHost: a\r\n\r\n");
	parse_whole(s, strlen(s), NULL, &o);
	assert_int_equal(o.rc, H1_ERROR);
	assert_int_equal(h1_err_status(o.err), 414);
	/* 8300 bytes the parser may read: the head, then NULs (the limit is hit first) */
	{
		char *pad = calloc(1, 8300);

		assert_non_null(pad);
		memcpy(pad, s, strlen(s));
		parse_whole(pad, 8300, NULL, &o);
		free(pad);
	}
	assert_int_equal(o.rc, H1_ERROR);
	assert_int_equal(h1_err_status(o.err), 414);
	free(s);

	/* a 48 KiB Kerberos token fits the default 64 KiB header budget */
	s = repeat("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Negotiate ", 'Y', 48 * 1024,
		   "\r\n\r\n");
	parse_whole(s, strlen(s), NULL, &o);
	assert_int_equal(o.rc, H1_OK);
	assert_int_equal(h1_req_header(&o.req, H1_H_AUTHORIZATION)->len, 48 * 1024 + 10);
	free(s);
	s = repeat("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Negotiate ", 'Y', 70 * 1024,
		   "\r\n\r\n");
	parse_whole(s, strlen(s), NULL, &o);
	assert_int_equal(o.rc, H1_ERROR);
	assert_int_equal(h1_err_status(o.err), 431);
	/* refused without waiting for the end of the line */
	parse_whole(s, 66 * 1024, NULL, &o);
	assert_int_equal(o.rc, H1_ERROR);
	assert_int_equal(o.err, H1_E_HEADERS_TOO_LARGE);
	free(s);

	/* header count and custom limits */
	h1_limits_default(&lim);
	lim.max_headers = 3;
	lim.max_request_line = 16;
	lim.max_header_bytes = 64;
	parse_whole("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 39, &lim, &o);
	assert_int_equal(o.rc, H1_OK);
	parse_whole("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 45, &lim, &o);
	assert_int_equal(o.rc, H1_ERROR);
	assert_int_equal(o.err, H1_E_TOO_MANY_HEADERS);
	assert_int_equal(h1_err_status(o.err), 431);
	parse_whole("GET /0123 HTTP/1.1\r\nHost: a\r\n\r\n", 29, &lim, &o);
	assert_int_equal(o.err, H1_E_REQUEST_LINE_TOO_LONG);
	s = repeat("GET / HTTP/1.1\r\nHost: ", 'h', 60, "\r\n\r\n");
	check_all_splits(s, strlen(s), &lim);
	parse_whole(s, strlen(s), &lim, &o);
	assert_int_equal(o.err, H1_E_HEADERS_TOO_LARGE);
	free(s);

	/* default count limit: 100 fields pass, 101 do not */
	for (i = 100; i <= 101; i++) {
		char *b = malloc(64 + i * 8), *p = b;
		size_t k;

		p += sprintf(p, "GET / HTTP/1.1\r\nHost: a\r\n");
		for (k = 1; k < i; k++)
			p += sprintf(p, "X%zu: y\r\n", k % 1000);
		p += sprintf(p, "\r\n");
		len = (size_t)(p - b);
		parse_whole(b, len, NULL, &o);
		assert_int_equal(o.rc, i == 100 ? H1_OK : H1_ERROR);
		free(b);
	}
}

static void
test_pipelined_heads(void **state)
{
	const char *s = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nHEAD /b HTTP/1.1\r\nHost: a\r\n\r\n"
			"GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /d";
	static const char *const targets[] = {"/a", "/b", "/c"};
	struct h1_parser p;
	struct h1_request req;
	size_t off = 0, len = strlen(s), i;

	(void)state;
	h1_parser_init(&p, NULL);
	for (i = 0; i < 3; i++) {
		assert_int_equal(h1_parse(&p, s + off, len - off, &req), H1_OK);
		assert_true(h1_view_ieq(req.target, targets[i]));
		assert_int_equal(req.keep_alive, i < 2);
		off += req.head_len;
		h1_parser_reset(&p);
	}
	assert_int_equal(h1_parse(&p, s + off, len - off, &req), H1_AGAIN);
	/* an error is sticky */
	h1_parser_reset(&p);
	assert_int_equal(h1_parse(&p, "BAD(\r\n", 6, &req), H1_ERROR);
	assert_int_equal(h1_parse(&p, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, &req), H1_ERROR);
}

/*
 * A caller that hands over fewer bytes than on its last call (a contract breach, or a bug
 * upstream) must get no request, and no search that starts past the end of its buffer.
 * The buffer is exactly as long as what is passed, so ASan sees any read beyond it.
 */
static void
test_shorter_buffer(void **state)
{
	static const char head[] = "GET /index.html HTTP/1.1\r\nHost: gw.example\r\nAccept: */*";
	struct h1_request req;
	struct h1_parser p;
	char *buf;

	(void)state;
	buf = malloc(sizeof(head) - 1);
	assert_non_null(buf);
	memcpy(buf, head, sizeof(head) - 1);
	h1_parser_init(&p, NULL);
	assert_int_equal(h1_parse(&p, buf, sizeof(head) - 1, &req), H1_AGAIN);
	/* refused or still incomplete, as the parser sees fit; never read past 20 or 0 bytes */
	assert_int_not_equal(h1_parse(&p, buf, 20, &req), H1_OK);
	assert_int_not_equal(h1_parse(&p, buf, 0, &req), H1_OK);
	free(buf);
}

static void
test_err_str(void **state)
{
	int e;

	(void)state;
	for (e = 0; e < H1_E__COUNT; e++) {
		assert_non_null(h1_err_str((enum h1_err)e));
		assert_string_not_equal(h1_err_str((enum h1_err)e), "unknown");
	}
	assert_string_equal(h1_err_str(H1_E__COUNT), "unknown");
	assert_string_equal(h1_err_str(H1_E_DUP_HOST), "duplicate-host");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split),    cmocka_unit_test(test_fields),
		cmocka_unit_test(test_keep_alive),     cmocka_unit_test(test_malformed_table),
		cmocka_unit_test(test_limits),	       cmocka_unit_test(test_pipelined_heads),
		cmocka_unit_test(test_shorter_buffer), cmocka_unit_test(test_err_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
