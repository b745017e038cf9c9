/* The monotonic clock in nanoseconds, precise or coarse (the vDSO's, no syscall either way). */
#ifndef AG_COMMON_MONO_H
#define AG_COMMON_MONO_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
ag_timespec_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

static inline uint64_t
ag_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ag_timespec_ns(&ts);
}

/* Ticks in jiffies (1-4 ms): enough for revalidation intervals and session lifetimes. */
static inline uint64_t
ag_mono_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ag_timespec_ns(&ts);
}

#endif
