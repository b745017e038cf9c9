/* brange: range plans for BITS-like clients and Content-Range parsing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "range.h"

uint64_t
brange_blocks(uint64_t size, uint64_t range_size)
{
	if (range_size == 0)
		return 0;
	return size / range_size + (size % range_size != 0);
}

int
brange_pick(uint64_t size, uint64_t range_size, uint64_t client, uint64_t clients, uint64_t n,
	    uint64_t *first_out, uint64_t *last_out)
{
	uint64_t blocks = brange_blocks(size, range_size);
	uint64_t start, block, first, last;

	if (blocks == 0 || clients == 0)
		return -EINVAL;
	/*
	 * Spread the starting blocks over the whole file so that many clients touch different
	 * pages (what a real burst does once clients drift apart); (client * blocks) / clients
	 * cannot overflow for any sane file and client count, but guard the product anyway.
	 */
	if (client != 0 && blocks > UINT64_MAX / client)
		start = client % blocks;
	else
		start = client * blocks / clients;
	block = (start + n) % blocks;
	first = block * range_size;
	last = first + range_size - 1;
	if (last >= size)
		last = size - 1;
	*first_out = first;
	*last_out = last;
	return 0;
}

int
brange_format(char *buf, size_t len, uint64_t first, uint64_t last)
{
	int n = snprintf(buf, len, "bytes=%llu-%llu", (unsigned long long)first,
			 (unsigned long long)last);

	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int
brange_parse_u64(const char *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned int d;

		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		d = (unsigned int)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
brange_parse_content_range(const char *v, size_t len, uint64_t *first_out, uint64_t *last_out,
			   uint64_t *total_out)
{
	const char *end = v + len, *dash, *slash;
	uint64_t first, last, total;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end - v < 6 || strncasecmp(v, "bytes", 5) != 0 || (v[5] != ' ' && v[5] != '\t'))
		return -EINVAL;
	v += 6;
	while (v < end && *v == ' ')
		v++;
	dash = memchr(v, '-', (size_t)(end - v));
	slash = memchr(v, '/', (size_t)(end - v));
	if (dash == NULL || slash == NULL || dash > slash)
		return -EINVAL;
	if (brange_parse_u64(v, (size_t)(dash - v), &first) < 0 ||
	    brange_parse_u64(dash + 1, (size_t)(slash - dash - 1), &last) < 0 || last < first)
		return -EINVAL;
	if (end - slash == 2 && slash[1] == '*')
		total = UINT64_MAX;
	else if (brange_parse_u64(slash + 1, (size_t)(end - slash - 1), &total) < 0 ||
		 last >= total)
		return -EINVAL;
	*first_out = first;
	*last_out = last;
	*total_out = total;
	return 0;
}

int
brange_parse_size(const char *s, uint64_t *out)
{
	size_t len = strlen(s);
	uint64_t v, mult = 1;

	if (len == 0)
		return -EINVAL;
	switch (s[len - 1]) {
	case 'k':
	case 'K':
		mult = 1024;
		break;
	case 'm':
	case 'M':
		mult = 1024 * 1024;
		break;
	case 'g':
	case 'G':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		break;
	}
	if (mult != 1)
		len--;
	if (brange_parse_u64(s, len, &v) < 0 || v > UINT64_MAX / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}
