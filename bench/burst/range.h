/* brange: which byte ranges a BITS-like client asks for, and reading Content-Range back. */
#ifndef AG_BENCH_BURST_RANGE_H
#define AG_BENCH_BURST_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* Blocks of range_size bytes that cover a file of size bytes (the last one may be short). */
uint64_t brange_blocks(uint64_t size, uint64_t range_size);

/*
 * The n-th range (0-based) of client `client`: each client starts at its own block, spread
 * evenly over the file, and then walks consecutive blocks, wrapping at the end, as BITS walks
 * a file. *first_out and *last_out are inclusive byte offsets. Returns 0 or -EINVAL (empty
 * file, zero range size).
 */
int brange_pick(uint64_t size, uint64_t range_size, uint64_t client, uint64_t clients, uint64_t n,
		uint64_t *first_out, uint64_t *last_out);

/* "bytes=FIRST-LAST" into buf; returns the length, or -ENOSPC. */
int brange_format(char *buf, size_t len, uint64_t first, uint64_t last);

/*
 * Parses a Content-Range value "bytes FIRST-LAST/TOTAL" (TOTAL may be "*"; then *total_out is
 * UINT64_MAX). Returns 0 or -EINVAL for anything else, including the unsatisfiable form
 * "bytes *" "/TOTAL" of a 416.
 */
int brange_parse_content_range(const char *v, size_t len, uint64_t *first_out, uint64_t *last_out,
			       uint64_t *total_out);

/* Parses a decimal without sign or overflow; returns 0 or -EINVAL/-ERANGE. */
int brange_parse_u64(const char *p, size_t len, uint64_t *out);

/* Parses sizes such as 65536, 64K, 64k, 1M, 1G (powers of 1024); returns 0 or -EINVAL. */
int brange_parse_size(const char *s, uint64_t *out);

#endif
