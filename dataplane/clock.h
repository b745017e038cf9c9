/* The dataplane's clock: microseconds from the TSC, read without a syscall. */
#ifndef AG_DATAPLANE_CLOCK_H
#define AG_DATAPLANE_CLOCK_H

#include <stdint.h>

#include <rte_cycles.h>

extern uint64_t dp_tsc_per_us;

/* Once, after EAL init and before any lcore reads the clock. */
void dp_clock_init(void);

static inline uint64_t
dp_tsc_to_us(uint64_t tsc)
{
	return tsc / dp_tsc_per_us;
}

static inline uint64_t
dp_now_us(void)
{
	return dp_tsc_to_us(rte_get_tsc_cycles());
}

#endif
