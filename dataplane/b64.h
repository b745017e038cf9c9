/* Base64 (RFC 4648, standard alphabet, padded) for Authorization and WWW-Authenticate tokens. */
#ifndef AG_DATAPLANE_B64_H
#define AG_DATAPLANE_B64_H

#include <stddef.h>
#include <stdint.h>

/* Bytes needed to encode n bytes, NUL excluded. */
static inline size_t
b64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* Writes the encoding and a NUL; returns its length, or -ENOSPC when out is too small. */
long b64_encode(const uint8_t *in, size_t n, char *out, size_t out_size);
/*
 * Strict decode: padded input only, no whitespace inside, no bits after the last
 * byte. Returns the decoded length, -EINVAL for bad input, -ENOSPC when out is too small.
 */
long b64_decode(const char *in, size_t n, uint8_t *out, size_t out_size);
/*
 * Lenient, for tools reading tokens a line at a time: decodes the leading run of alphabet
 * characters of the NUL-terminated in, stopping at '=', a newline or anything else (so
 * truncated, unpadded input decodes as far as it goes). Returns the decoded length, or 0 when
 * it does not fit in out_size.
 */
size_t b64_decode_prefix(const char *in, uint8_t *out, size_t out_size);

#endif
