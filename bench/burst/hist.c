/* bhist: log-linear histogram buckets and nearest-rank percentiles. */
#include <math.h>
#include <string.h>

#include "hist.h"

#define SUB	 (1u << BHIST_SUB_BITS)
#define HALF_SUB (SUB / 2)

void
bhist_init(struct bhist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned int
bhist_bucket(uint64_t v)
{
	unsigned int msb, shift;

	if (v < SUB)
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);
	if (msb > BHIST_MAX_EXP)
		return BHIST_BUCKETS - 1;
	/* keep the top BHIST_SUB_BITS bits: the leading one picks the group, the rest the bucket */
	shift = msb - (BHIST_SUB_BITS - 1);
	return SUB + (msb - BHIST_SUB_BITS) * HALF_SUB + (unsigned int)((v >> shift) - HALF_SUB);
}

uint64_t
bhist_bucket_high(unsigned int i)
{
	unsigned int group, shift;

	if (i < SUB)
		return i;
	group = (i - SUB) / HALF_SUB;
	shift = group + 1;
	return ((uint64_t)(HALF_SUB + (i - SUB) % HALF_SUB + 1) << shift) - 1;
}

void
bhist_add(struct bhist *h, uint64_t v)
{
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->buckets[bhist_bucket(v)]++;
}

void
bhist_merge(struct bhist *into, const struct bhist *from)
{
	unsigned int i;

	into->count += from->count;
	into->sum += from->sum;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
	for (i = 0; i < BHIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
}

uint64_t
bhist_percentile(const struct bhist *h, double p)
{
	uint64_t rank, seen = 0, high;
	unsigned int i;

	if (h->count == 0)
		return 0;
	if (p <= 0)
		return h->min;
	if (p > 100)
		p = 100;
	/*
	 * nearest rank: the ceil(p/100 * n)-th smallest value, at least the first; the slack keeps
	 * 99.9 % of 1000 at rank 999 although 0.999 * 1000 is a hair above 999 in binary
	 */
	rank = (uint64_t)ceil(p / 100.0 * (double)h->count - 1e-9);
	if (rank == 0)
		rank = 1;
	for (i = 0; i < BHIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			high = bhist_bucket_high(i);
			return high > h->max ? h->max : high;
		}
	}
	return h->max;
}
