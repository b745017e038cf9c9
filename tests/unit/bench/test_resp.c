/* Unit tests for bresp: every split of the input parses the same, framing, flags and errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/burst/resp.h"

struct sink {
	char body[65536];
	size_t len;
};

static void
collect(void *arg, const char *data, size_t len)
{
	struct sink *s = arg;

	assert_true(s->len + len <= sizeof(s->body));
	memcpy(s->body + s->len, data, len);
	s->len += len;
}

/* Feeds msg in pieces of `step` bytes; returns the bresp_feed result and the bytes used. */
static int
feed_steps(struct bresp *r, const char *msg, size_t len, size_t step, struct sink *s,
	   size_t *used_total)
{
	size_t off = 0;
	int rc = BRESP_AGAIN;

	*used_total = 0;
	while (off < len) {
		size_t n = len - off < step ? len - off : step, used = 0;

		rc = bresp_feed(r, msg + off, n, &used, collect, s);
		if (rc < 0)
			return rc;
		*used_total += used;
		if (rc == BRESP_OK)
			return rc;
		assert_int_equal(used, n);
		off += n;
	}
	return rc;
}

static const char ranged[] = "HTTP/1.1 206 Partial Content\r\n"
			     "Content-Range: bytes 65536-65545/67108864\r\n"
			     "Content-Length: 10\r\n"
			     "Persistent-Auth: true\r\n"
			     "WWW-Authenticate: Negotiate oYG3MIG0oAMKAQChCwYJKoZIgvcSAQICooGf\r\n"
			     "\r\n"
			     "0123456789";

static void
test_206_every_split(void **state)
{
	size_t step;

	(void)state;
	for (step = 1; step <= sizeof(ranged); step++) {
		struct bresp r;
		struct sink s = {.len = 0};
		size_t used;

		bresp_reset(&r, false);
		assert_int_equal(feed_steps(&r, ranged, sizeof(ranged) - 1, step, &s, &used),
				 BRESP_OK);
		assert_int_equal(used, sizeof(ranged) - 1);
		assert_int_equal(r.status, 206);
		assert_int_equal(r.content_length, 10);
		assert_true(r.flags & BRESP_F_HAS_RANGE);
		assert_int_equal(r.range_first, 65536);
		assert_int_equal(r.range_last, 65545);
		assert_int_equal(r.range_total, 67108864);
		assert_true(r.flags & BRESP_F_PERSIST_TRUE);
		assert_true(r.flags & BRESP_F_NEGOTIATE);
		assert_false(r.flags & BRESP_F_CLOSE);
		assert_int_equal(s.len, 10);
		assert_memory_equal(s.body, "0123456789", 10);
		assert_int_equal(r.body_seen, 10);
	}
}

static void
test_stops_at_end_of_response(void **state)
{
	char two[512];
	struct bresp r;
	struct sink s = {.len = 0};
	size_t used = 0, n;

	(void)state;
	n = (size_t)snprintf(two, sizeof(two), "%sHTTP/1.1 200 OK\r\n", ranged);
	bresp_reset(&r, false);
	assert_int_equal(bresp_feed(&r, two, n, &used, collect, &s), BRESP_OK);
	assert_int_equal(used, sizeof(ranged) - 1);
	/* the rest is the next response's */
	bresp_reset(&r, false);
	assert_int_equal(bresp_feed(&r, two + used, n - used, &used, collect, &s), BRESP_AGAIN);
}

static void
test_head_has_no_body(void **state)
{
	static const char m[] = "HTTP/1.1 200 OK\r\nContent-Length: 67108864\r\n\r\n";
	struct bresp r;
	struct sink s = {.len = 0};
	size_t used;

	(void)state;
	bresp_reset(&r, true);
	assert_int_equal(feed_steps(&r, m, sizeof(m) - 1, 7, &s, &used), BRESP_OK);
	assert_int_equal(r.content_length, 67108864);
	assert_int_equal(s.len, 0);
}

static void
test_401_challenge_and_close(void **state)
{
	static const char m[] = "HTTP/1.1 401 Unauthorized\r\n"
				"www-authenticate:   Negotiate  \r\n"
				"Connection: keep-alive, Close\r\n"
				"Persistent-Auth: false\r\n"
				"Content-Length: 17\r\n\r\n"
				"401 Unauthorized\n";
	struct bresp r;
	struct sink s = {.len = 0};
	size_t used;

	(void)state;
	bresp_reset(&r, false);
	assert_int_equal(feed_steps(&r, m, sizeof(m) - 1, 3, &s, &used), BRESP_OK);
	assert_int_equal(r.status, 401);
	assert_true(r.flags & BRESP_F_NEGOTIATE);
	assert_true(r.flags & BRESP_F_CLOSE);
	assert_true(r.flags & BRESP_F_PERSIST_FALSE);
	assert_false(r.flags & BRESP_F_PERSIST_TRUE);
	assert_int_equal(s.len, 17);
}

static void
test_503_retry_after(void **state)
{
	static const char m[] = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"
				"Content-Length: 0\r\n\r\n";
	struct bresp r;
	size_t used;

	(void)state;
	bresp_reset(&r, false);
	assert_int_equal(bresp_feed(&r, m, sizeof(m) - 1, &used, NULL, NULL), BRESP_OK);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.retry_after_s, 5);
}

static void
test_chunked_every_split(void **state)
{
	static const char m[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				"5\r\nhello\r\n"
				"7;ext=1\r\n, world\r\n"
				"0\r\nX-Trailer: 1\r\n\r\n";
	size_t step;

	(void)state;
	for (step = 1; step <= sizeof(m); step++) {
		struct bresp r;
		struct sink s = {.len = 0};
		size_t used;

		bresp_reset(&r, false);
		assert_int_equal(feed_steps(&r, m, sizeof(m) - 1, step, &s, &used), BRESP_OK);
		assert_int_equal(used, sizeof(m) - 1);
		assert_int_equal(s.len, 12);
		assert_memory_equal(s.body, "hello, world", 12);
	}
}

static void
test_interim_100_skipped(void **state)
{
	static const char m[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
	struct bresp r;
	size_t used;

	(void)state;
	bresp_reset(&r, false);
	assert_int_equal(bresp_feed(&r, m, sizeof(m) - 1, &used, NULL, NULL), BRESP_OK);
	assert_int_equal(r.status, 204);
	assert_int_equal(used, sizeof(m) - 1);
}

static void
test_body_until_eof(void **state)
{
	static const char m[] = "HTTP/1.0 200 OK\r\n\r\nabc";
	struct bresp r;
	struct sink s = {.len = 0};
	size_t used;

	(void)state;
	bresp_reset(&r, false);
	assert_int_equal(bresp_feed(&r, m, sizeof(m) - 1, &used, collect, &s), BRESP_AGAIN);
	assert_int_equal(bresp_eof(&r), BRESP_OK);
	assert_true(r.flags & BRESP_F_CLOSE);
	assert_int_equal(s.len, 3);
}

static void
test_eof_inside_body_is_an_error(void **state)
{
	static const char m[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
	struct bresp r;
	size_t used;

	(void)state;
	bresp_reset(&r, false);
	assert_int_equal(bresp_feed(&r, m, sizeof(m) - 1, &used, NULL, NULL), BRESP_AGAIN);
	assert_int_equal(r.state, BRESP_BODY_LENGTH);
	assert_int_equal(bresp_eof(&r), -EPROTO);
	assert_int_equal(r.err, BRESP_E_EOF);
}

static void
expect_error(const char *m, enum bresp_err want)
{
	struct bresp r;
	size_t used;

	bresp_reset(&r, false);
	assert_int_equal(bresp_feed(&r, m, strlen(m), &used, NULL, NULL), -EPROTO);
	assert_int_equal(r.err, want);
	/* an errored parser stays errored */
	assert_int_equal(bresp_feed(&r, "x", 1, &used, NULL, NULL), -EPROTO);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("HTTQ/1.1 200 OK\r\n", BRESP_E_STATUS);
	expect_error("HTTP/1.1 2x0 OK\r\n", BRESP_E_STATUS);
	expect_error("HTTP/1.1 200OK\r\n", BRESP_E_STATUS);
	expect_error("HTTP/1.1 200 OK\r\nno colon here\r\n", BRESP_E_HEADER);
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n", BRESP_E_LENGTH);
	expect_error("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n",
		     BRESP_E_LENGTH);
	expect_error("HTTP/1.1 206 Partial\r\nContent-Range: bytes 9-1/10\r\n", BRESP_E_RANGE);
	expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", BRESP_E_CHUNK);
	expect_error("HTTP/1.1 200 OK\r\nX: a\rb\r\n", BRESP_E_HEADER);
}

static void
test_long_uninteresting_header_skipped(void **state)
{
	char m[BRESP_LINE_MAX * 3];
	struct bresp r;
	size_t used, n;

	(void)state;
	n = (size_t)snprintf(m, sizeof(m), "HTTP/1.1 200 OK\r\nX-Long: ");
	memset(m + n, 'a', BRESP_LINE_MAX * 2);
	n += BRESP_LINE_MAX * 2;
	n += (size_t)snprintf(m + n, sizeof(m) - n, "\r\nContent-Length: 0\r\n\r\n");
	bresp_reset(&r, false);
	assert_int_equal(bresp_feed(&r, m, n, &used, NULL, NULL), BRESP_OK);
	assert_int_equal(r.content_length, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_206_every_split),
		cmocka_unit_test(test_stops_at_end_of_response),
		cmocka_unit_test(test_head_has_no_body),
		cmocka_unit_test(test_401_challenge_and_close),
		cmocka_unit_test(test_503_retry_after),
		cmocka_unit_test(test_chunked_every_split),
		cmocka_unit_test(test_interim_100_skipped),
		cmocka_unit_test(test_body_until_eof),
		cmocka_unit_test(test_eof_inside_body_is_an_error),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_uninteresting_header_skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
