/* Range: bytes= arithmetic (RFC 9110 14) and If-Range evaluation against one representation. */
#ifndef AG_DATAPLANE_HTTP_RANGE_H
#define AG_DATAPLANE_HTTP_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* More ranges than this and the whole representation is sent (200) instead. */
#define RANGE_MAX 16

enum range_kind {
	RANGE_NONE,	     /* no usable Range: send the whole representation, 200 */
	RANGE_SINGLE,	     /* one span: 206 with Content-Range */
	RANGE_MULTI,	     /* several spans, ascending, disjoint: 206 multipart/byteranges */
	RANGE_UNSATISFIABLE, /* valid syntax, nothing inside the file: 416 bytes * / size */
};

/* Inclusive byte positions, first <= last < size. */
struct range_span {
	uint64_t first;
	uint64_t last;
};

struct range_set {
	enum range_kind kind;
	unsigned count;
	struct range_span spans[RANGE_MAX];
};

/*
 * Evaluates the value of a Range header against a representation of size bytes.
 * Invalid syntax, other units, an empty file and more than RANGE_MAX specs give RANGE_NONE
 * (RFC 9110 lets a server ignore Range). Overlapping or adjacent spans are merged and
 * sorted so a client cannot make us send the same bytes many times.
 */
enum range_kind range_parse(const char *v, size_t len, uint64_t size, struct range_set *out);

/*
 * If-Range (RFC 9110 13.1.5): true when the Range may be honoured. v is an entity-tag
 * (strong comparison with etag; weak tags never match) or an HTTP-date (must equal mtime).
 */
bool range_if_range_ok(const char *v, size_t len, const char *etag, size_t etag_len, int64_t mtime);

#endif
