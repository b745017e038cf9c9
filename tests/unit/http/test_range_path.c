/* Unit tests for byte-range arithmetic, If-Range, HTTP dates and request-target normalisation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/http/date.h"
#include "dataplane/http/path.h"
#include "dataplane/http/range.h"

struct range_row {
	const char *hdr;
	uint64_t size;
	enum range_kind kind;
	unsigned count;
	uint64_t first0, last0, first1, last1;
};

static const struct range_row range_rows[] = {
	/* single ranges */
	{"bytes=0-99", 1000, RANGE_SINGLE, 1, 0, 99},
	{"bytes=0-0", 1, RANGE_SINGLE, 1, 0, 0},
	{"bytes=0-", 1, RANGE_SINGLE, 1, 0, 0},
	{"bytes=-1", 1, RANGE_SINGLE, 1, 0, 0},
	{"bytes=1-", 1, RANGE_UNSATISFIABLE, 0},
	{"bytes=500-", 1000, RANGE_SINGLE, 1, 500, 999},
	{"bytes=-100", 1000, RANGE_SINGLE, 1, 900, 999},
	{"bytes=-5000", 1000, RANGE_SINGLE, 1, 0, 999},	     /* suffix larger than the file */
	{"bytes=900-5000", 1000, RANGE_SINGLE, 1, 900, 999}, /* last-pos past the end */
	{"bytes=999-999", 1000, RANGE_SINGLE, 1, 999, 999},
	{"BYTES=0-1", 10, RANGE_SINGLE, 1, 0, 1},
	{"bytes= 0-1 ", 10, RANGE_SINGLE, 1, 0, 1},
	/* unsatisfiable */
	{"bytes=1000-", 1000, RANGE_UNSATISFIABLE, 0},
	{"bytes=1000-2000", 1000, RANGE_UNSATISFIABLE, 0},
	{"bytes=-0", 1000, RANGE_UNSATISFIABLE, 0},
	{"bytes=2000-,3000-3001", 1000, RANGE_UNSATISFIABLE, 0},
	/* digit overflow saturates: a huge first is past the end, a huge last is the end */
	{"bytes=99999999999999999999999-", 1000, RANGE_UNSATISFIABLE, 0},
	{"bytes=0-99999999999999999999999", 1000, RANGE_SINGLE, 1, 0, 999},
	{"bytes=-99999999999999999999999", 1000, RANGE_SINGLE, 1, 0, 999},
	{"bytes=18446744073709551615-18446744073709551615", 1000, RANGE_UNSATISFIABLE, 0},
	/* zero-byte file: Range is ignored, the empty file is sent whole */
	{"bytes=0-", 0, RANGE_NONE, 0},
	{"bytes=-5", 0, RANGE_NONE, 0},
	/* invalid syntax: ignored (200) */
	{"bytes=5-1", 1000, RANGE_NONE, 0},
	{"bytes=abc", 1000, RANGE_NONE, 0},
	{"bytes=", 1000, RANGE_NONE, 0},
	{"bytes=-", 1000, RANGE_NONE, 0},
	{"bytes=1", 1000, RANGE_NONE, 0},
	{"bytes=1-2-3", 1000, RANGE_NONE, 0},
	{"bytes=0-1;x", 1000, RANGE_NONE, 0},
	{"items=0-1", 1000, RANGE_NONE, 0},
	{"bytes 0-1", 1000, RANGE_NONE, 0},
	{"bytes=0-1,5-1", 1000, RANGE_NONE, 0},
	{"bytes=+1-2", 1000, RANGE_NONE, 0},
	/* multiple ranges: sorted, overlapping and adjacent ones merged */
	{"bytes=0-9,20-29", 1000, RANGE_MULTI, 2, 0, 9, 20, 29},
	{"bytes=20-29,0-9", 1000, RANGE_MULTI, 2, 0, 9, 20, 29},
	{"bytes=0-9,10-19", 1000, RANGE_SINGLE, 1, 0, 19},
	{"bytes=0-9,5-19,-10", 1000, RANGE_MULTI, 2, 0, 19, 990, 999},
	{"bytes=0-,0-,0-", 1000, RANGE_SINGLE, 1, 0, 999},
	{"bytes=0-1, ,2000-3000,, 4-5", 1000, RANGE_MULTI, 2, 0, 1, 4, 5},
	{"bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,"
	 "28-28,30-30",
	 1000, RANGE_MULTI, 16, 0, 0, 2, 2},
	/* more than RANGE_MAX specs: the whole file instead */
	{"bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,"
	 "28-28,30-30,32-32",
	 1000, RANGE_NONE, 0},
};

static void
test_ranges(void **state)
{
	struct range_set rs;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(range_rows) / sizeof(range_rows[0]); i++) {
		const struct range_row *r = &range_rows[i];
		enum range_kind k = range_parse(r->hdr, strlen(r->hdr), r->size, &rs);

		if (k != r->kind || rs.kind != k || rs.count != r->count)
			fail_msg("row %zu (%s): kind %d count %u, want %d %u", i, r->hdr, k,
				 rs.count, r->kind, r->count);
		if (r->count >= 1 &&
		    (rs.spans[0].first != r->first0 || rs.spans[0].last != r->last0))
			fail_msg("row %zu: span0 %lu-%lu", i, (unsigned long)rs.spans[0].first,
				 (unsigned long)rs.spans[0].last);
		if (r->count >= 2 &&
		    (rs.spans[1].first != r->first1 || rs.spans[1].last != r->last1))
			fail_msg("row %zu: span1 %lu-%lu", i, (unsigned long)rs.spans[1].first,
				 (unsigned long)rs.spans[1].last);
	}
}

static void
test_if_range(void **state)
{
	const char *etag = "\"1a-2b-3c\"";
	int64_t mtime = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	(void)state;
	assert_true(range_if_range_ok(etag, strlen(etag), etag, strlen(etag), mtime));
	assert_false(range_if_range_ok("\"other\"", 7, etag, strlen(etag), mtime));
	assert_false(range_if_range_ok("W/\"1a-2b-3c\"", 12, etag, strlen(etag), mtime));
	assert_true(
		range_if_range_ok("Sun, 06 Nov 1994 08:49:37 GMT", 29, etag, strlen(etag), mtime));
	assert_false(
		range_if_range_ok("Sun, 06 Nov 1994 08:49:38 GMT", 29, etag, strlen(etag), mtime));
	assert_false(range_if_range_ok("yesterday", 9, etag, strlen(etag), mtime));
	assert_false(range_if_range_ok("", 0, etag, strlen(etag), mtime));
}

/* The cached text is always the formatted time, whatever order times come in (sets collide). */
static void
test_date_cache(void **state)
{
	/* 8 apart: one set; three of them overflow its two ways */
	static const int64_t ts[] = {784111777, 784111785, 0,  784111793,
				     8,		784111777, 16, 951782400};
	char want[HTTP_DATE_LEN + 1];

	(void)state;
	for (unsigned round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
			http_date_fmt(ts[i], want);
			assert_string_equal(http_date_str(ts[i]), want);
			/* "now" and a file's mtime alternating, as responses ask for them */
			http_date_fmt(ts[i] + 8 * round, want);
			assert_string_equal(http_date_str(ts[i] + 8 * round), want);
		}
	}
}

static void
test_dates(void **state)
{
	static const char *const same[] = {
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
	};
	static const char *const bad[] = {
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 06 Nov 1994 08:49:37",
		"Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 Foo 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT",
		"Sun, 32 Nov 1994 08:49:37 GMT",
		"",
		"Sun",
		"1994-11-06T08:49:37Z",
		"Sun, 06 Nov 1994 08:49:37 GMTx",
	};
	char out[HTTP_DATE_LEN + 1];
	int64_t t;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(http_date_parse(same[i], strlen(same[i]), &t), 0);
		assert_int_equal(t, 784111777);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (http_date_parse(bad[i], strlen(bad[i]), &t) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
	http_date_fmt(784111777, out);
	assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	http_date_fmt(0, out);
	assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
	http_date_fmt(951782400, out); /* leap day */
	assert_string_equal(out, "Tue, 29 Feb 2000 00:00:00 GMT");
	http_date_fmt(1798761600, out);
	assert_string_equal(out, "Fri, 01 Jan 2027 00:00:00 GMT");
	assert_int_equal(http_date_parse(out, strlen(out), &t), 0);
	assert_int_equal(t, 1798761600);
}

struct path_row {
	const char *target;
	int rc;
	const char *out;
};

static const struct path_row path_rows[] = {
	{"/", 0, "/"},
	{"/pkg/a.cab", 0, "/pkg/a.cab"},
	{"/pkg/a.cab?x=1&y=/../..", 0, "/pkg/a.cab"},
	{"/pkg//a.cab", 0, "/pkg/a.cab"},
	{"/pkg/./a.cab", 0, "/pkg/a.cab"},
	{"/pkg/.", 0, "/pkg/"},
	{"/pkg/", 0, "/pkg/"},
	{"/a%20b", 0, "/a b"},
	{"/%41%62", 0, "/Ab"},
	{"/%2e/x", 0, "/x"},
	{"/..a/b..", 0, "/..a/b.."},
	{"/...", 0, "/..."},
	{"http://dp.example/pkg/x?y", 0, "/pkg/x"},
	{"HTTPS://dp.example:443/pkg/x", 0, "/pkg/x"},
	{"http://dp.example", 0, "/"},
	{"http://dp.example?q", 0, "/"},
	{"/..", -EINVAL, NULL},
	{"/../etc/passwd", -EINVAL, NULL},
	{"/pkg/../../etc/passwd", -EINVAL, NULL},
	{"/pkg/..", -EINVAL, NULL},
	{"/%2e%2e/etc/passwd", -EINVAL, NULL},
	{"/%2E%2e/etc/passwd", -EINVAL, NULL},
	{"/.%2E/etc/passwd", -EINVAL, NULL},
	{"/pkg/%2e%2e", -EINVAL, NULL},
	{"/pkg/..%2fetc", -EINVAL, NULL},
	{"/pkg%2F..%2F..", -EINVAL, NULL},
	{"/pkg\\..\\x", -EINVAL, NULL},
	{"/pkg%5c..%5cx", -EINVAL, NULL},
	{"/a%00b", -EINVAL, NULL},
	{"/a%0d%0aX: y", -EINVAL, NULL},
	{"/a%", -EINVAL, NULL},
	{"/a%2", -EINVAL, NULL},
	{"/a%zz", -EINVAL, NULL},
	{"/a%%41", -EINVAL, NULL},
	{"/a#frag", -EINVAL, NULL},
	{"a/b", -EINVAL, NULL},
	{"", -EINVAL, NULL},
	{"*", -EINVAL, NULL},
	{"http://h/../x", -EINVAL, NULL},
};

static void
test_paths(void **state)
{
	char out[256];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(path_rows) / sizeof(path_rows[0]); i++) {
		const struct path_row *r = &path_rows[i];
		int rc = path_normalize(r->target, strlen(r->target), out, sizeof(out), &len);

		if (rc != r->rc)
			fail_msg("row %zu (%s): rc %d want %d", i, r->target, rc, r->rc);
		if (rc == 0) {
			assert_string_equal(out, r->out);
			assert_int_equal(len, strlen(r->out));
		}
	}
	/* an embedded NUL in the raw target is refused too */
	assert_int_equal(path_normalize("/a\0b", 4, out, sizeof(out), &len), -EINVAL);
	assert_int_equal(path_normalize("/abcdef", 7, out, 4, &len), -ENAMETOOLONG);
	assert_int_equal(path_normalize("/abc", 4, out, 5, &len), 0);
}

static void
test_prefix(void **state)
{
	(void)state;
	assert_int_equal(path_strip_prefix("/pkg/a", 6, "/pkg", 4), 4);
	assert_int_equal(path_strip_prefix("/pkg/a", 6, "/pkg/", 5), 4);
	assert_int_equal(path_strip_prefix("/pkg", 4, "/pkg", 4), 4);
	assert_int_equal(path_strip_prefix("/pkgx/a", 7, "/pkg", 4), -1);
	assert_int_equal(path_strip_prefix("/pk", 3, "/pkg", 4), -1);
	assert_int_equal(path_strip_prefix("/anything", 9, "/", 1), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges), cmocka_unit_test(test_if_range),
		cmocka_unit_test(test_dates),  cmocka_unit_test(test_date_cache),
		cmocka_unit_test(test_paths),  cmocka_unit_test(test_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
