/* Response heads: status line, standard headers, error bodies, multipart part headers. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/http/date.h"
#include "dataplane/http/resp.h"

const char *
resp_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 411:
		return "Length Required";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 416:
		return "Range Not Satisfiable";
	case 417:
		return "Expectation Failed";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

void
resp_init(struct resp_buf *r, char *buf, size_t cap)
{
	r->buf = buf;
	r->cap = cap;
	r->len = 0;
	r->overflow = false;
}

void
resp_appendf(struct resp_buf *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->len, r->cap - r->len, fmt, ap);
	va_end(ap);
	/* vsnprintf needs room for its NUL even though we do not keep it */
	if (n < 0 || (size_t)n >= r->cap - r->len) {
		r->overflow = true;
		return;
	}
	r->len += (size_t)n;
}

/*
 * The headers of every response are appended piece by piece: vsnprintf took more than half of
 * the instructions of a whole keep-alive GET (bench/tcp/callgrind.sh).
 */
static void
resp_name(struct resp_buf *r, const char *name)
{
	resp_append(r, name, strlen(name));
	resp_append(r, ": ", 2);
}

void
resp_header(struct resp_buf *r, const char *name, const char *value)
{
	resp_name(r, name);
	resp_append(r, value, strlen(value));
	resp_append(r, "\r\n", 2);
}

static const char resp_pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
				 "31323334353637383940414243444546474849505152535455565758596061"
				 "62636465666768697071727374757677787980818283848586878889909192"
				 "93949596979899";

void
resp_content_length(struct resp_buf *r, uint64_t value)
{
	static const char name[] = "Content-Length: ";
	/* up to 20 digits end at d[22], CRLF follows; 22 bytes from the first digit stay inside */
	char d[48] = {0};
	size_t n = 0;

	d[22] = '\r';
	d[23] = '\n';
	/* two digits a division */
	while (value >= 100) {
		n += 2;
		memcpy(d + 22 - n, resp_pairs + 2 * (value % 100), 2);
		value /= 100;
	}
	if (value >= 10) {
		n += 2;
		memcpy(d + 22 - n, resp_pairs + 2 * value, 2);
	} else {
		d[21 - n++] = (char)('0' + value);
	}
	if (r->overflow || r->cap - r->len < sizeof(name) - 1 + 22) {
		resp_append(r, name, sizeof(name) - 1);
		resp_append(r, d + 22 - n, n + 2);
		return;
	}
	memcpy(r->buf + r->len, name, sizeof(name) - 1);
	r->len += sizeof(name) - 1;
	/* a fixed-size copy, cheaper than one of n + 2: the bytes past the CRLF are overwritten */
	memcpy(r->buf + r->len, d + 22 - n, 22);
	r->len += n + 2;
}

void
resp_header_date(struct resp_buf *r, const char *name, int64_t t)
{
	resp_name(r, name);
	resp_append(r, http_date_str(t), HTTP_DATE_LEN);
	resp_append(r, "\r\n", 2);
}

/* "HTTP/1.1 <code> <reason>\r\nDate: <date>\r\nServer: authgate\r\n" */
static void
resp_status_text(struct resp_buf *r, int status, int64_t now)
{
	static const char server[] = "\r\nServer: authgate\r\n";

	if (status >= 100 && status <= 999) {
		char code[5] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10),
				(char)('0' + status % 10), ' ', '\0'};
		const char *reason = resp_reason(status);

		resp_append(r, "HTTP/1.1 ", 9);
		resp_append(r, code, 4);
		resp_append(r, reason, strlen(reason));
		resp_append(r, "\r\nDate: ", 8);
	} else {
		resp_appendf(r, "HTTP/1.1 %03d %s\r\nDate: ", status, resp_reason(status));
	}
	resp_append(r, http_date_str(now), HTTP_DATE_LEN);
	resp_append(r, server, sizeof(server) - 1);
}

/*
 * The statuses a file answer uses: their status line with Date and Server is kept per thread
 * for the current second. Others (a 401 or 503 between them) are written as they come and do
 * not take the place of the one kept.
 */
static bool
resp_status_kept(int status)
{
	return status == 200 || status == 206 || status == 304 || status == 404 || status == 416;
}

/* Room for the longest kept status line with Date and Server (416's: 91 bytes). */
#define RESP_LEAD_MAX 96

void
resp_status(struct resp_buf *r, int status, int64_t now)
{
	static __thread struct {
		int64_t now;
		int status;
		size_t len;
		char text[RESP_LEAD_MAX];
	} lead;
	struct resp_buf l;

	if (status == lead.status && now == lead.now && lead.len > 0) {
		if (r->overflow || r->cap - r->len < RESP_LEAD_MAX) {
			resp_append(r, lead.text, lead.len);
			return;
		}
		/* a fixed-size copy: what lies past lead.len is overwritten by the next header */
		memcpy(r->buf + r->len, lead.text, RESP_LEAD_MAX);
		r->len += lead.len;
		return;
	}
	if (!resp_status_kept(status)) {
		resp_status_text(r, status, now);
		return;
	}
	resp_init(&l, lead.text, sizeof(lead.text));
	resp_status_text(&l, status, now);
	if (l.overflow) {
		lead.len = 0;
		resp_status_text(r, status, now);
		return;
	}
	lead.len = l.len;
	lead.status = status;
	lead.now = now;
	resp_append(r, lead.text, lead.len);
}

long
resp_error(char *buf, size_t cap, int status, bool keep_alive, bool head_only, int64_t now,
	   const char *extra, size_t extra_len)
{
	struct resp_buf r;
	char body[64];
	int blen;

	blen = snprintf(body, sizeof(body), "%d %s\n", status, resp_reason(status));
	resp_init(&r, buf, cap);
	resp_status(&r, status, now);
	if (status == 405)
		resp_append(&r, "Allow: GET, HEAD, OPTIONS\r\n", 27);
	/* exactly one Retry-After: the caller's (the configured one) when it brings its own */
	if (status == 503 &&
	    (extra == NULL || memmem(extra, extra_len, "Retry-After:", 12) == NULL))
		resp_append(&r, "Retry-After: 5\r\n", 16);
	if (extra != NULL)
		resp_append(&r, extra, extra_len);
	if (status == 304) {
		resp_connection(&r, keep_alive);
		return resp_finish(&r);
	}
	resp_header(&r, "Content-Type", "text/plain; charset=utf-8");
	resp_content_length(&r, (uint64_t)blen);
	resp_connection(&r, keep_alive);
	if (resp_finish(&r) < 0)
		return -ENOSPC;
	if (!head_only)
		resp_append(&r, body, (size_t)blen);
	return r.overflow ? -ENOSPC : (long)r.len;
}

void
resp_boundary(const char *seed, size_t seed_len, char out[RESP_BOUNDARY_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 */
	size_t i;

	for (i = 0; i < seed_len; i++)
		h = (h ^ (unsigned char)seed[i]) * 1099511628211ULL;
	memcpy(out, "authgate", 8);
	for (i = 0; i < 16; i++)
		out[8 + i] = hex[(h >> (4 * i)) & 0xf];
	out[RESP_BOUNDARY_LEN] = '\0';
}

long
resp_part_head(char *buf, size_t cap, const char *boundary, const char *type, uint64_t first,
	       uint64_t last, uint64_t size)
{
	int n;

	n = snprintf(buf, cap,
		     "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64
		     "/%" PRIu64 "\r\n\r\n",
		     boundary, type, first, last, size);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

long
resp_part_tail(char *buf, size_t cap, const char *boundary)
{
	int n = snprintf(buf, cap, "\r\n--%s--\r\n", boundary);

	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}
