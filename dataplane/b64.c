/* Base64 encode/decode, strict about what it accepts: tokens come from the network. */
#include <errno.h>
#include <stdbool.h>

#include "dataplane/b64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long
b64_encode(const uint8_t *in, size_t n, char *out, size_t out_size)
{
	size_t need = b64_encoded_len(n), o = 0;

	if (out_size < need + 1)
		return -ENOSPC;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return (long)o;
}

static int
sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
b64_decode(const char *in, size_t n, uint8_t *out, size_t out_size)
{
	size_t o = 0;

	if (n == 0 || n % 4 != 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		int a = sextet(in[i]), b = sextet(in[i + 1]);
		int c = in[i + 2] == '=' ? -2 : sextet(in[i + 2]);
		int d = in[i + 3] == '=' ? -2 : sextet(in[i + 3]);
		bool last = i + 4 == n;
		uint32_t v;

		/* padding only at the very end, and "x=y=" is never valid */
		if (a < 0 || b < 0 || c == -1 || d == -1 || (!last && (c < 0 || d < 0)) ||
		    (c == -2 && d != -2))
			return -EINVAL;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)(c < 0 ? 0 : c) << 6 |
		    (uint32_t)(d < 0 ? 0 : d);
		/* bits below the last byte must be zero, or two strings decode alike */
		if ((c == -2 && (b & 15) != 0) || (c >= 0 && d == -2 && (c & 3) != 0))
			return -EINVAL;
		if (o + (c < 0 ? 1 : d < 0 ? 2 : 3) > out_size)
			return -ENOSPC;
		out[o++] = (uint8_t)(v >> 16);
		if (c >= 0)
			out[o++] = (uint8_t)(v >> 8);
		if (d >= 0)
			out[o++] = (uint8_t)v;
	}
	return (long)o;
}

size_t
b64_decode_prefix(const char *in, uint8_t *out, size_t out_size)
{
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0, v;

	for (; *in != '\0' && (v = sextet(*in)) >= 0; in++) {
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == out_size)
				return 0;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}
