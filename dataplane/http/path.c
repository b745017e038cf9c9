/* Percent-decoding and dot-segment refusal for request targets; plain C for the fuzzer. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "dataplane/http/path.h"

/*
 * Bytes copied as they are; the gaps ('#', '%', '/', '?', '\\', controls, DEL) take the
 * careful path. '.' is plain: dot segments are judged at their end.
 */
static const unsigned char path_plain[256] = {
	[0x20 ... 0x22] = 1, ['$'] = 1,		  [0x26 ... 0x2e] = 1, [0x30 ... 0x3e] = 1,
	[0x40 ... 0x5b] = 1, [0x5d ... 0x7e] = 1, [0x80 ... 0xff] = 1,
};

static int
path_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Ends the current segment: drop "." and empty ones, refuse "..". */
static int
path_end_segment(char *out, size_t *o, size_t seg)
{
	size_t n = *o - seg;

	if (n == 0) {
		/* "//": collapse */
		return 0;
	}
	if (n == 1 && out[seg] == '.') {
		*o = seg;
		return 0;
	}
	if (n == 2 && out[seg] == '.' && out[seg + 1] == '.')
		return -EINVAL;
	return 0;
}

/*
 * What the fast path makes of a byte: 0 plain, 1 '/', 2 '.', 3 anything the careful path must
 * see ('%', '?', '#', '\\', controls, DEL).
 */
static const unsigned char path_class[256] = {
	[0x00 ... 0x1f] = 3, ['#'] = 3, ['%'] = 3,  ['/'] = 1,
	['.'] = 2,	     ['?'] = 3, ['\\'] = 3, [0x7f] = 3,
};

/*
 * Most targets are already normal: origin-form, no escapes, no query, no "//" and no segment
 * that starts with a dot. Such a target is its own output; anything else takes the careful path.
 */
static bool
path_is_normal(const char *t, size_t len)
{
	size_t i;

	for (i = 1; i < len; i++) {
		unsigned k = path_class[(unsigned char)t[i]];

		if (k != 0 && (k == 3 || t[i - 1] == '/'))
			return false;
	}
	return true;
}

/* memcpy without the call, for a path of a few words; out and t do not overlap */
static inline void
path_copy(char *out, const char *t, size_t len)
{
	uint64_t w;
	size_t i;

	if (len < 8) {
		for (i = 0; i < len; i++)
			out[i] = t[i];
		return;
	}
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, t + i, 8);
		memcpy(out + i, &w, 8);
	}
	memcpy(&w, t + len - 8, 8);
	memcpy(out + len - 8, &w, 8);
}

int
path_normalize(const char *t, size_t len, char *out, size_t out_size, size_t *len_out)
{
	size_t i = 0, o = 0, seg;
	int rc;

	if (len > 0 && t[0] == '/' && len < out_size && path_is_normal(t, len)) {
		path_copy(out, t, len);
		out[len] = '\0';
		*len_out = len;
		return 0;
	}

	/* absolute-form only from a proxy client; origin-form starts with '/' */
	if (len >= 7 && t[0] != '/' &&
	    (strncasecmp(t, "http://", 7) == 0 ||
	     (len >= 8 && strncasecmp(t, "https://", 8) == 0))) {
		i = t[4] == ':' ? 7 : 8;
		/* the authority ends at the first '/', '?' or '#' */
		while (i < len && t[i] != '/' && t[i] != '?' && t[i] != '#')
			i++;
		if (i == len || t[i] != '/') {
			if (out_size < 2)
				return -ENAMETOOLONG;
			out[0] = '/';
			out[1] = '\0';
			*len_out = 1;
			return 0;
		}
	}
	if (i >= len || t[i] != '/')
		return -EINVAL;
	if (out_size < 2)
		return -ENAMETOOLONG;
	out[o++] = '/';
	i++;
	seg = o;

	for (; i < len && t[i] != '?'; i++) {
		unsigned char c = (unsigned char)t[i];

		/* the run of plain bytes: one test each while out has room for all of it */
		if (path_plain[c] && len - i < out_size - o) {
			do
				out[o++] = t[i++];
			while (i < len && path_plain[(unsigned char)t[i]]);
			i--;
			continue;
		}
		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return -EINVAL;
			hi = path_hex(t[i + 1]);
			lo = path_hex(t[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			/* an encoded '/' would make a segment boundary the client hid from us */
			if (c == '/')
				return -EINVAL;
		} else if (c == '/') {
			rc = path_end_segment(out, &o, seg);
			if (rc != 0)
				return rc;
			if (o > seg) {
				if (o + 1 >= out_size)
					return -ENAMETOOLONG;
				out[o++] = '/';
			}
			seg = o;
			continue;
		} else if (c == '#') {
			return -EINVAL;
		}
		if (c < 0x20 || c == 0x7f || c == '\\')
			return -EINVAL;
		if (o + 1 >= out_size)
			return -ENAMETOOLONG;
		out[o++] = (char)c;
	}
	rc = path_end_segment(out, &o, seg);
	if (rc != 0)
		return rc;
	out[o] = '\0';
	*len_out = o;
	return 0;
}

long
path_strip_prefix(const char *path, size_t len, const char *prefix, size_t plen)
{
	while (plen > 0 && prefix[plen - 1] == '/')
		plen--;
	if (plen == 0)
		return 0;
	if (len < plen || memcmp(path, prefix, plen) != 0)
		return -1;
	if (len > plen && path[plen] != '/')
		return -1;
	return (long)plen;
}
