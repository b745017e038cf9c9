/* Byte-range parsing, clamping, merging and If-Range. */
#include <string.h>
#include <strings.h>

#include "dataplane/http/date.h"
#include "dataplane/http/range.h"

/* Spec before clamping; suffix specs have first == UINT64_MAX as a marker. */
struct range_spec {
	bool suffix;
	uint64_t a, b;
	bool has_b;
};

static inline bool
range_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Saturates at UINT64_MAX: a huge position is still a position, never a wrap-around. */
static size_t
range_num(const char *s, size_t len, uint64_t *v_out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			v = UINT64_MAX;
		else
			v = v * 10 + d;
		i++;
	}
	*v_out = v;
	return i;
}

static int
range_span_cmp(const struct range_span *a, const struct range_span *b)
{
	return a->first < b->first ? -1 : a->first > b->first;
}

enum range_kind
range_parse(const char *v, size_t len, uint64_t size, struct range_set *out)
{
	struct range_span tmp[RANGE_MAX];
	unsigned nspec = 0, n = 0, i, j;
	size_t p = 0;

	out->kind = RANGE_NONE;
	out->count = 0;
	if (len < 6 || strncasecmp(v, "bytes=", 6) != 0)
		return RANGE_NONE;
	p = 6;

	while (p < len) {
		struct range_spec s = {0};
		size_t k;

		/* 1#range-spec: empty list elements are allowed (RFC 9110 5.6.1) */
		while (p < len && (range_ows(v[p]) || v[p] == ','))
			p++;
		if (p == len)
			break;
		if (v[p] == '-') {
			s.suffix = true;
			p++;
			k = range_num(v + p, len - p, &s.b);
			if (k == 0)
				return RANGE_NONE;
			p += k;
		} else {
			k = range_num(v + p, len - p, &s.a);
			if (k == 0 || p + k >= len || v[p + k] != '-')
				return RANGE_NONE;
			p += k + 1;
			k = range_num(v + p, len - p, &s.b);
			s.has_b = k > 0;
			p += k;
			if (s.has_b && s.b < s.a)
				return RANGE_NONE;
		}
		while (p < len && range_ows(v[p]))
			p++;
		if (p < len && v[p] != ',')
			return RANGE_NONE;
		if (++nspec > RANGE_MAX)
			return RANGE_NONE;

		/* an empty file has no satisfiable bytes; we send it whole rather than 416 */
		if (size == 0)
			continue;
		if (s.suffix) {
			if (s.b == 0)
				continue;
			tmp[n].first = s.b >= size ? 0 : size - s.b;
			tmp[n].last = size - 1;
		} else {
			if (s.a >= size)
				continue;
			tmp[n].first = s.a;
			tmp[n].last = (!s.has_b || s.b >= size) ? size - 1 : s.b;
		}
		n++;
	}
	if (nspec == 0 || size == 0)
		return RANGE_NONE;
	if (n == 0) {
		out->kind = RANGE_UNSATISFIABLE;
		return out->kind;
	}

	/* insertion sort: at most RANGE_MAX items */
	for (i = 1; i < n; i++) {
		struct range_span x = tmp[i];

		for (j = i; j > 0 && range_span_cmp(&tmp[j - 1], &x) > 0; j--)
			tmp[j] = tmp[j - 1];
		tmp[j] = x;
	}
	out->spans[0] = tmp[0];
	out->count = 1;
	for (i = 1; i < n; i++) {
		struct range_span *last = &out->spans[out->count - 1];

		if (tmp[i].first <= last->last + 1) {
			if (tmp[i].last > last->last)
				last->last = tmp[i].last;
		} else {
			out->spans[out->count++] = tmp[i];
		}
	}
	out->kind = out->count == 1 ? RANGE_SINGLE : RANGE_MULTI;
	return out->kind;
}

bool
range_if_range_ok(const char *v, size_t len, const char *etag, size_t etag_len, int64_t mtime)
{
	int64_t t;

	if (len > 0 && (v[0] == '"' || v[0] == 'W')) {
		if (len >= 2 && v[0] == 'W' && v[1] == '/')
			return false;
		return len == etag_len && memcmp(v, etag, len) == 0;
	}
	if (http_date_parse(v, len, &t) != 0)
		return false;
	return t == mtime;
}
