/* The dataplane's clock. */
#include "dataplane/clock.h"

uint64_t dp_tsc_per_us = 1;

void
dp_clock_init(void)
{
	uint64_t hz = rte_get_tsc_hz() / 1000000;

	dp_tsc_per_us = hz ? hz : 1;
}
