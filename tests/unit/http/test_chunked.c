/* Chunked request-body decoder: what it takes, what it refuses, resumption at any byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane/http/chunked.h"

/* Decodes s whole (step 0) or step bytes at a time; the data into out. Returns the last rc. */
static enum chunked_rc
decode(const char *s, size_t len, size_t step, size_t max_data, char *out, size_t *out_len,
       size_t *consumed)
{
	struct chunked c;
	enum chunked_rc rc = CHUNKED_AGAIN;
	size_t pos = 0, avail = 0;

	chunked_init(&c);
	*out_len = 0;
	while (pos < len) {
		size_t used, off, dlen;

		avail = step == 0 ? len : (avail < pos + step ? pos + step : avail);
		if (avail > len)
			avail = len;
		rc = chunked_parse(&c, (const uint8_t *)s + pos, avail - pos, max_data, &used, &off,
				   &dlen);
		assert_true(used <= avail - pos);
		if (rc == CHUNKED_DATA) {
			assert_true(off + dlen <= used);
			assert_true(dlen <= max_data);
			memcpy(out + *out_len, s + pos + off, dlen);
			*out_len += dlen;
		}
		pos += used;
		if (rc == CHUNKED_DONE || rc == CHUNKED_ERROR)
			break;
		if (rc == CHUNKED_AGAIN && avail == len)
			break;
	}
	*consumed = pos;
	return rc;
}

static void
expect_body(const char *wire, const char *body, size_t tail)
{
	static const size_t steps[] = {0, 1, 2, 3, 7};
	static const size_t maxes[] = {1 << 20, 1, 3};
	char out[4096];

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		for (size_t j = 0; j < sizeof(maxes) / sizeof(maxes[0]); j++) {
			size_t out_len, consumed;
			enum chunked_rc rc = decode(wire, strlen(wire), steps[i], maxes[j], out,
						    &out_len, &consumed);

			assert_int_equal(rc, CHUNKED_DONE);
			assert_int_equal(out_len, strlen(body));
			assert_memory_equal(out, body, out_len);
			/* what follows the body is the next request's, not ours */
			assert_int_equal(consumed, strlen(wire) - tail);
		}
}

static void
expect_refused(const char *wire)
{
	static const size_t steps[] = {0, 1};
	char out[8192];

	for (size_t i = 0; i < 2; i++) {
		size_t out_len, consumed;
		enum chunked_rc rc =
			decode(wire, strlen(wire), steps[i], 1 << 20, out, &out_len, &consumed);

		if (rc != CHUNKED_ERROR)
			fail_msg("accepted (rc %d, step %zu): %s", rc, steps[i], wire);
	}
}

static void
test_accepts(void **state)
{
	(void)state;
	expect_body("5\r\nhello\r\n0\r\n\r\n", "hello", 0);
	expect_body("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0);
	expect_body("A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0);
	expect_body("a\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0);
	expect_body("0005\r\nhello\r\n000\r\n\r\n", "hello", 0);
	expect_body("5;name=value;x=\"q s\"\r\nhello\r\n0;last\r\n\r\n", "hello", 0);
	expect_body("5\r\nhello\r\n0\r\nChecksum: abc\r\nX-T:\r\n\r\n", "hello", 0);
	expect_body("0\r\n\r\n", "", 0);
	expect_body("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", "abc", 18);
}

static void
test_refuses_smuggling_forms(void **state)
{
	char big[8192];

	(void)state;
	expect_refused("-1\r\n");
	expect_refused("+5\r\nhello\r\n0\r\n\r\n");
	expect_refused(" 5\r\nhello\r\n0\r\n\r\n");
	expect_refused("5 \r\nhello\r\n0\r\n\r\n");
	expect_refused("0x5\r\nhello\r\n0\r\n\r\n");
	expect_refused("5\nhello\r\n0\r\n\r\n");	  /* bare LF after the size */
	expect_refused("5\rhello\r\n0\r\n\r\n");	  /* bare CR */
	expect_refused("5\r\nhelloX\r\n0\r\n\r\n");	  /* the size lies: no CRLF after data */
	expect_refused("5\r\nhello\n0\r\n\r\n");	  /* bare LF after data */
	expect_refused("\r\n");				  /* no size */
	expect_refused(";ext\r\n");			  /* extension, no size */
	expect_refused("g\r\n");			  /* not hex */
	expect_refused("5\r\nhello\r\n0\r\nbad\r\n\r\n"); /* trailer without colon */
	expect_refused("5\r\nhello\r\n0\r\nA: b\r\n c\r\n\r\n"); /* obs-fold in trailers */
	expect_refused("5\r\nhello\r\n0\r\n: v\r\n\r\n");	 /* empty field name */
	expect_refused("5\r\nhello\r\n0\r\nA: \x01\r\n\r\n");	 /* control byte */
	expect_refused("5;a\x01\r\nhello\r\n0\r\n\r\n");	 /* control byte in extension */
	expect_refused("10000000000000000\r\n");		 /* over 2^60 */
	expect_refused("fffffffffffffffffffffffffff\r\n");
	memset(big, 'a', sizeof(big));
	memcpy(big, "5;", 2);
	big[sizeof(big) - 1] = '\0';
	expect_refused(big); /* an extension past CHUNKED_LINE_MAX */
}

static void
test_error_is_sticky(void **state)
{
	struct chunked c;
	size_t used, off, dlen;

	(void)state;
	chunked_init(&c);
	assert_int_equal(
		chunked_parse(&c, (const uint8_t *)"5;a\0b\r\n", 7, 100, &used, &off, &dlen),
		CHUNKED_ERROR); /* NUL in an extension */
	chunked_init(&c);
	assert_int_equal(chunked_parse(&c, (const uint8_t *)"zz", 2, 100, &used, &off, &dlen),
			 CHUNKED_ERROR);
	assert_int_equal(chunked_parse(&c, (const uint8_t *)"5\r\n", 3, 100, &used, &off, &dlen),
			 CHUNKED_ERROR);
}

static void
test_trailer_bound(void **state)
{
	static char wire[2 * CHUNKED_TRAILER_MAX];
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(wire, sizeof(wire), "0\r\n");
	while (n + 12 < sizeof(wire) - 8)
		n += (size_t)snprintf(wire + n, sizeof(wire) - n, "X-A: bbbb\r\n");
	snprintf(wire + n, sizeof(wire) - n, "\r\n");
	expect_refused(wire);
}

static void
test_data_total_and_zero_room(void **state)
{
	struct chunked c;
	size_t used, off, dlen;

	(void)state;
	chunked_init(&c);
	/* no room: nothing of the data is consumed, the caller comes back */
	assert_int_equal(
		chunked_parse(&c, (const uint8_t *)"3\r\nabc\r\n", 8, 0, &used, &off, &dlen),
		CHUNKED_AGAIN);
	assert_int_equal(used, 3);
	assert_int_equal(
		chunked_parse(&c, (const uint8_t *)"abc\r\n0\r\n\r\n", 10, 100, &used, &off, &dlen),
		CHUNKED_DATA);
	assert_int_equal(dlen, 3);
	assert_int_equal(c.data_total, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_refuses_smuggling_forms),
		cmocka_unit_test(test_error_is_sticky),
		cmocka_unit_test(test_trailer_bound),
		cmocka_unit_test(test_data_total_and_zero_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
