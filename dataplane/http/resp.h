/* Response head builder into a caller buffer, error responses and multipart/byteranges framing. */
#ifndef AG_DATAPLANE_HTTP_RESP_H
#define AG_DATAPLANE_HTTP_RESP_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* BITS refuses multipart parts whose MIME headers are longer than this. */
#define RESP_PART_HEAD_MAX 180
#define RESP_BOUNDARY_LEN  24

/*
 * Appends never write past cap; once something did not fit, overflow stays set and
 * resp_finish() reports -ENOSPC, so callers check once at the end.
 */
struct resp_buf {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

void resp_init(struct resp_buf *r, char *buf, size_t cap);

/* Inline: every response head is a dozen of these, most with a constant length. */
static inline void
resp_append(struct resp_buf *r, const char *s, size_t len)
{
	if (r->overflow || r->cap - r->len < len) {
		r->overflow = true;
		return;
	}
	memcpy(r->buf + r->len, s, len);
	r->len += len;
}

void resp_appendf(struct resp_buf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "HTTP/1.1 <status> <reason>\r\n" then Date and Server. now is seconds since the epoch. */
void resp_status(struct resp_buf *r, int status, int64_t now);
void resp_header(struct resp_buf *r, const char *name, const char *value);
/* "Content-Length: <value>\r\n" */
void resp_content_length(struct resp_buf *r, uint64_t value);
void resp_header_date(struct resp_buf *r, const char *name, int64_t t);

static inline void
resp_connection(struct resp_buf *r, bool keep_alive)
{
	if (keep_alive)
		resp_append(r, "Connection: keep-alive\r\n", 24);
	else
		resp_append(r, "Connection: close\r\n", 19);
}

/* Ends the head with the empty line; returns the head length or -ENOSPC. */
static inline long
resp_finish(struct resp_buf *r)
{
	resp_append(r, "\r\n", 2);
	if (r->overflow)
		return -ENOSPC;
	return (long)r->len;
}

const char *resp_reason(int status);

/*
 * A complete error response: head and a one-line text/plain body (omitted for HEAD and for
 * statuses that have none). extra is raw header lines, each ending in CRLF, may be NULL.
 * 405 carries Allow: GET, HEAD, OPTIONS. Returns the length or -ENOSPC.
 */
long resp_error(char *buf, size_t cap, int status, bool keep_alive, bool head_only, int64_t now,
		const char *extra, size_t extra_len);

/* A boundary that depends on seed (e.g. the ETag), RESP_BOUNDARY_LEN chars plus NUL. */
void resp_boundary(const char *seed, size_t seed_len, char out[RESP_BOUNDARY_LEN + 1]);

/* "\r\n--B\r\nContent-Type: T\r\nContent-Range: bytes F-L/S\r\n\r\n"; -ENOSPC if > cap. */
long resp_part_head(char *buf, size_t cap, const char *boundary, const char *type, uint64_t first,
		    uint64_t last, uint64_t size);

/* "\r\n--B--\r\n" */
long resp_part_tail(char *buf, size_t cap, const char *boundary);

#endif
