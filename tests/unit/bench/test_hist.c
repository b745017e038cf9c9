/* Unit tests for bhist: bucket bounds, nearest-rank percentiles, merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bench/burst/hist.h"

static void
test_buckets_are_contiguous_and_tight(void **state)
{
	unsigned int i;
	uint64_t v;

	(void)state;
	/* each bucket starts right after the previous one ends */
	for (i = 1; i < BHIST_BUCKETS; i++)
		assert_int_equal(bhist_bucket(bhist_bucket_high(i - 1) + 1), i);
	/* every value lands in a bucket whose bound is within 1/32 above it */
	for (v = 0; v < 1000000; v += 1 + v / 97) {
		uint64_t high = bhist_bucket_high(bhist_bucket(v));

		assert_true(high >= v);
		assert_true(high - v <= v / 32 + 1);
	}
	assert_int_equal(bhist_bucket(UINT64_MAX), BHIST_BUCKETS - 1);
}

static void
test_small_values_exact(void **state)
{
	struct bhist h;
	uint64_t v;

	(void)state;
	bhist_init(&h);
	for (v = 1; v <= 50; v++)
		bhist_add(&h, v);
	/* nearest rank on 1..50: p50 is the 25th value, p90 the 45th, p100 the max */
	assert_int_equal(bhist_percentile(&h, 50), 25);
	assert_int_equal(bhist_percentile(&h, 90), 45);
	assert_int_equal(bhist_percentile(&h, 99), 50);
	assert_int_equal(bhist_percentile(&h, 100), 50);
	assert_int_equal(bhist_percentile(&h, 2), 1);
	assert_int_equal(h.min, 1);
	assert_int_equal(h.max, 50);
	assert_int_equal(h.sum, 1275);
}

static void
test_percentiles_within_bucket_error(void **state)
{
	struct bhist h;
	uint64_t v;
	const double ps[] = {50, 90, 99, 99.9};
	unsigned int i;

	(void)state;
	bhist_init(&h);
	/* 1..100000 us: the p-th percentile is p * 1000 */
	for (v = 1; v <= 100000; v++)
		bhist_add(&h, v);
	for (i = 0; i < 4; i++) {
		uint64_t want = (uint64_t)(ps[i] * 1000), got = bhist_percentile(&h, ps[i]);

		assert_true(got >= want);
		assert_true(got <= want + want / 32 + 1);
	}
	assert_int_equal(bhist_percentile(&h, 100), 100000);
}

static void
test_one_outlier(void **state)
{
	struct bhist h;
	unsigned int i;

	(void)state;
	bhist_init(&h);
	for (i = 0; i < 999; i++)
		bhist_add(&h, 10);
	bhist_add(&h, 5000000);
	assert_int_equal(bhist_percentile(&h, 99), 10);
	assert_int_equal(bhist_percentile(&h, 99.9), 10);
	/* the max is exact, not a bucket bound */
	assert_int_equal(bhist_percentile(&h, 100), 5000000);
}

static void
test_merge_and_empty(void **state)
{
	struct bhist a, b;

	(void)state;
	bhist_init(&a);
	bhist_init(&b);
	assert_int_equal(bhist_percentile(&a, 50), 0);
	bhist_add(&a, 3);
	bhist_add(&b, 7);
	bhist_add(&b, 9);
	bhist_merge(&a, &b);
	assert_int_equal(a.count, 3);
	assert_int_equal(a.min, 3);
	assert_int_equal(a.max, 9);
	assert_int_equal(bhist_percentile(&a, 50), 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets_are_contiguous_and_tight),
		cmocka_unit_test(test_small_values_exact),
		cmocka_unit_test(test_percentiles_within_bucket_error),
		cmocka_unit_test(test_one_outlier),
		cmocka_unit_test(test_merge_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
