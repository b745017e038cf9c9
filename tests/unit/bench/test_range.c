/* Unit tests for brange: range plans cover the file exactly, Content-Range and size parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bench/burst/range.h"

static void
test_blocks(void **state)
{
	(void)state;
	assert_int_equal(brange_blocks(67108864, 65536), 1024);
	assert_int_equal(brange_blocks(65537, 65536), 2);
	assert_int_equal(brange_blocks(1, 65536), 1);
	assert_int_equal(brange_blocks(0, 65536), 0);
	assert_int_equal(brange_blocks(100, 0), 0);
}

static void
test_pick_walks_consecutive_blocks_and_wraps(void **state)
{
	uint64_t f, l;

	(void)state;
	/* 10 blocks, 5 clients: client 2 starts at block 4 */
	assert_int_equal(brange_pick(1000, 100, 2, 5, 0, &f, &l), 0);
	assert_int_equal(f, 400);
	assert_int_equal(l, 499);
	assert_int_equal(brange_pick(1000, 100, 2, 5, 1, &f, &l), 0);
	assert_int_equal(f, 500);
	/* the walk wraps at the end of the file */
	assert_int_equal(brange_pick(1000, 100, 2, 5, 6, &f, &l), 0);
	assert_int_equal(f, 0);
	assert_int_equal(l, 99);
}

static void
test_pick_last_block_is_short(void **state)
{
	uint64_t f, l;

	(void)state;
	/* 1050 bytes in blocks of 100: the 11th block is 50 bytes */
	assert_int_equal(brange_pick(1050, 100, 0, 1, 10, &f, &l), 0);
	assert_int_equal(f, 1000);
	assert_int_equal(l, 1049);
	/* a range larger than the file is the whole file */
	assert_int_equal(brange_pick(10, 100, 3, 7, 4, &f, &l), 0);
	assert_int_equal(f, 0);
	assert_int_equal(l, 9);
	assert_int_equal(brange_pick(0, 100, 0, 1, 0, &f, &l), -EINVAL);
	assert_int_equal(brange_pick(10, 0, 0, 1, 0, &f, &l), -EINVAL);
}

static void
test_pick_covers_file_once(void **state)
{
	/* one client walking every block sees every byte exactly once */
	uint64_t size = 1000003, rs = 4096, blocks = brange_blocks(size, rs), n, total = 0,
		 expect = 0;

	(void)state;
	for (n = 0; n < blocks; n++) {
		uint64_t f, l;

		assert_int_equal(brange_pick(size, rs, 0, 1, n, &f, &l), 0);
		assert_int_equal(f, expect);
		total += l - f + 1;
		expect = l + 1;
	}
	assert_int_equal(total, size);
}

static void
test_pick_spreads_clients(void **state)
{
	uint64_t f, l;
	unsigned int c;

	(void)state;
	/* 5000 clients over 1024 blocks: starts go up monotonically across the file */
	uint64_t prev = 0;
	for (c = 0; c < 5000; c++) {
		assert_int_equal(brange_pick(67108864, 65536, c, 5000, 0, &f, &l), 0);
		assert_true(f >= prev);
		assert_int_equal(l - f + 1, 65536);
		prev = f;
	}
	assert_true(prev >= 67108864 - 65536 * 2);
}

static void
test_format(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(brange_format(buf, sizeof(buf), 0, 65535), 13);
	assert_string_equal(buf, "bytes=0-65535");
	assert_int_equal(brange_format(buf, 8, 0, 65535), -ENOSPC);
}

static void
test_content_range(void **state)
{
	uint64_t f, l, t;
	const char *v;

	(void)state;
	v = "bytes 65536-131071/67108864";
	assert_int_equal(brange_parse_content_range(v, strlen(v), &f, &l, &t), 0);
	assert_int_equal(f, 65536);
	assert_int_equal(l, 131071);
	assert_int_equal(t, 67108864);
	v = "  BYTES 0-0/*  ";
	assert_int_equal(brange_parse_content_range(v, strlen(v), &f, &l, &t), 0);
	assert_int_equal(t, UINT64_MAX);
	const char *bad[] = {
		"bytes */100", "bytes 5-4/100", "bytes 0-100/100", "bits 0-1/2", "bytes 0-1",
		"bytes -1/2",  "bytes 0-/2",	"bytes 0-1/2x",	   "bytes0-1/2", "",
		"bytes 1/2-3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(brange_parse_content_range(bad[i], strlen(bad[i]), &f, &l, &t),
				 -EINVAL);
}

static void
test_u64_and_size(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(brange_parse_u64("18446744073709551615", 20, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(brange_parse_u64("18446744073709551616", 20, &v), -ERANGE);
	assert_int_equal(brange_parse_u64("", 0, &v), -EINVAL);
	assert_int_equal(brange_parse_size("64K", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(brange_parse_size("1m", &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(brange_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(brange_parse_size("K", &v), -EINVAL);
	assert_int_equal(brange_parse_size("12Q", &v), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_pick_walks_consecutive_blocks_and_wraps),
		cmocka_unit_test(test_pick_last_block_is_short),
		cmocka_unit_test(test_pick_covers_file_once),
		cmocka_unit_test(test_pick_spreads_clients),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_content_range),
		cmocka_unit_test(test_u64_and_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
