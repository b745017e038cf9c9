/* Per-lcore counters summed by readers, and names telemetry accepts. */
#ifndef AG_COMMON_COUNTERS_H
#define AG_COMMON_COUNTERS_H

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Adds one owner's counters into a sum. The structs summed this way are 64-bit fields only,
 * each written by its owner lcore: a relaxed load per field is all a reader needs.
 */
static inline void
counters_add(void *sum, const void *copy, size_t size)
{
	uint64_t *dst = sum;
	const uint64_t *src = copy;

	for (size_t k = 0; k < size / sizeof(uint64_t); k++)
		dst[k] += __atomic_load_n(&src[k], __ATOMIC_RELAXED);
}

/* Telemetry names take letters, digits and '_': other characters become '_'. */
static inline const char *
counters_tel_name(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < size; i++)
		out[i] = isalnum((unsigned char)in[i]) ? in[i] : '_';
	out[i] = '\0';
	return out;
}

#endif
