/* bhist: a log-linear latency histogram (microseconds) with percentiles, mergeable per thread. */
#ifndef AG_BENCH_BURST_HIST_H
#define AG_BENCH_BURST_HIST_H

#include <stdint.h>

/*
 * Values below 2^BHIST_SUB_BITS are exact; above, each power of two is split into
 * 2^BHIST_SUB_BITS / 2 buckets, so a bucket is at most 1/32 (3.1 %) of its value wide.
 */
#define BHIST_SUB_BITS 6
#define BHIST_MAX_EXP  40 /* values up to 2^40 us (12 days) */
#define BHIST_BUCKETS                                                                              \
	((1u << BHIST_SUB_BITS) +                                                                  \
	 (BHIST_MAX_EXP - BHIST_SUB_BITS + 1) * (1u << (BHIST_SUB_BITS - 1)))

struct bhist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t buckets[BHIST_BUCKETS];
};

void bhist_init(struct bhist *h);
void bhist_add(struct bhist *h, uint64_t v);
void bhist_merge(struct bhist *into, const struct bhist *from);
/* Bucket index of v, and the largest value that falls in bucket i. */
unsigned int bhist_bucket(uint64_t v);
uint64_t bhist_bucket_high(unsigned int i);
/*
 * The p-th percentile (0 < p <= 100): the smallest recorded bucket bound below which at least
 * p % of the values lie (nearest-rank), clamped to the real max. 0 when empty.
 */
uint64_t bhist_percentile(const struct bhist *h, double p);

#endif
