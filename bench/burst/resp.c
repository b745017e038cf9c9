/* bresp: resumable HTTP/1.1 response parsing, byte-exact across any split of the input. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "range.h"
#include "resp.h"

void
bresp_reset(struct bresp *r, bool head_request)
{
	r->state = BRESP_STATUS;
	r->err = BRESP_E_NONE;
	r->head_request = head_request;
	r->status = 0;
	r->flags = 0;
	r->content_length = -1;
	r->range_first = r->range_last = r->range_total = 0;
	r->retry_after_s = -1;
	r->body_left = 0;
	r->body_seen = 0;
	r->line_len = 0;
	r->line_truncated = false;
}

const char *
bresp_err_str(enum bresp_err e)
{
	switch (e) {
	case BRESP_E_NONE:
		return "none";
	case BRESP_E_STATUS:
		return "bad status line";
	case BRESP_E_HEADER:
		return "bad header line";
	case BRESP_E_LENGTH:
		return "bad Content-Length";
	case BRESP_E_RANGE:
		return "bad Content-Range";
	case BRESP_E_CHUNK:
		return "bad chunk size";
	case BRESP_E_TOO_LONG:
		return "line too long";
	case BRESP_E_EOF:
		return "closed mid-response";
	}
	return "?";
}

static int
fail(struct bresp *r, enum bresp_err e)
{
	r->state = BRESP_ERROR;
	r->err = e;
	return -EPROTO;
}

static void
trim(const char **v, size_t *len)
{
	while (*len > 0 && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*len)--;
	}
	while (*len > 0 && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
		(*len)--;
}

static bool
token_in(const char *v, size_t len, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	/* comma-separated list, case-insensitive: "keep-alive, close" */
	while (i < len) {
		size_t j = i, a, b;

		while (j < len && v[j] != ',')
			j++;
		a = i;
		b = j;
		while (a < b && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (b - a == tl && strncasecmp(v + a, tok, tl) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

static bool
name_is(const char *n, size_t nlen, const char *want)
{
	return nlen == strlen(want) && strncasecmp(n, want, nlen) == 0;
}

static int
parse_status(struct bresp *r)
{
	const char *l = r->line;

	if (r->line_truncated)
		return fail(r, BRESP_E_TOO_LONG);
	/* "HTTP/1.1 206 Partial Content"; the reason phrase may be empty */
	if (r->line_len < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') ||
	    l[8] != ' ' || l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' ||
	    l[11] > '9' || (r->line_len > 12 && l[12] != ' '))
		return fail(r, BRESP_E_STATUS);
	r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (l[7] == '0')
		r->flags |= BRESP_F_CLOSE; /* HTTP/1.0 without keep-alive negotiation */
	return 0;
}

static int
parse_header(struct bresp *r)
{
	const char *colon = memchr(r->line, ':', r->line_len), *v;
	size_t nlen, vlen;

	if (colon == NULL || colon == r->line)
		return fail(r, BRESP_E_HEADER);
	nlen = (size_t)(colon - r->line);
	v = colon + 1;
	vlen = r->line_len - nlen - 1;
	trim(&v, &vlen);
	if (name_is(r->line, nlen, "content-length")) {
		uint64_t n;

		if (r->line_truncated || brange_parse_u64(v, vlen, &n) < 0 || n > INT64_MAX)
			return fail(r, BRESP_E_LENGTH);
		if ((r->flags & BRESP_F_HAS_LENGTH) && (uint64_t)r->content_length != n)
			return fail(r, BRESP_E_LENGTH);
		r->content_length = (int64_t)n;
		r->flags |= BRESP_F_HAS_LENGTH;
	} else if (name_is(r->line, nlen, "content-range")) {
		if (r->line_truncated)
			return fail(r, BRESP_E_RANGE);
		/* a 416 says "bytes *" "/SIZE", no range: note nothing, the status says it */
		if (brange_parse_content_range(v, vlen, &r->range_first, &r->range_last,
					       &r->range_total) == 0)
			r->flags |= BRESP_F_HAS_RANGE;
		else if (r->status == 206)
			return fail(r, BRESP_E_RANGE);
	} else if (name_is(r->line, nlen, "persistent-auth")) {
		if (vlen == 4 && strncasecmp(v, "true", 4) == 0)
			r->flags |= BRESP_F_PERSIST_TRUE;
		else if (vlen == 5 && strncasecmp(v, "false", 5) == 0)
			r->flags |= BRESP_F_PERSIST_FALSE;
	} else if (name_is(r->line, nlen, "www-authenticate")) {
		/* "Negotiate" alone is a challenge, "Negotiate <token>" the mutual-auth answer */
		if (vlen >= 9 && strncasecmp(v, "Negotiate", 9) == 0 && (vlen == 9 || v[9] == ' '))
			r->flags |= BRESP_F_NEGOTIATE;
		else if (vlen >= 5 && strncasecmp(v, "Basic", 5) == 0 && (vlen == 5 || v[5] == ' '))
			r->flags |= BRESP_F_BASIC;
	} else if (name_is(r->line, nlen, "connection")) {
		if (token_in(v, vlen, "close"))
			r->flags |= BRESP_F_CLOSE;
		else if (token_in(v, vlen, "keep-alive"))
			r->flags &= ~BRESP_F_CLOSE;
	} else if (name_is(r->line, nlen, "transfer-encoding")) {
		if (token_in(v, vlen, "chunked"))
			r->flags |= BRESP_F_CHUNKED;
	} else if (name_is(r->line, nlen, "retry-after")) {
		uint64_t s;

		if (brange_parse_u64(v, vlen, &s) == 0)
			r->retry_after_s = s > 3600 ? 3600 : (int)s;
	}
	return 0;
}

/* The empty line ended the head: decide how the body is framed (RFC 9112 section 6.3). */
static void
head_done(struct bresp *r)
{
	if (r->status < 200) {
		/* an interim response: the real one follows */
		bool head = r->head_request;

		bresp_reset(r, head);
		return;
	}
	if (r->head_request || r->status == 204 || r->status == 304) {
		r->state = BRESP_DONE;
	} else if (r->flags & BRESP_F_CHUNKED) {
		r->state = BRESP_CHUNK_SIZE;
	} else if (r->flags & BRESP_F_HAS_LENGTH) {
		r->body_left = (uint64_t)r->content_length;
		r->state = r->body_left ? BRESP_BODY_LENGTH : BRESP_DONE;
	} else {
		r->flags |= BRESP_F_CLOSE;
		r->state = BRESP_BODY_EOF;
	}
}

static int
parse_chunk_size(struct bresp *r)
{
	uint64_t v = 0;
	size_t i;

	if (r->line_truncated)
		return fail(r, BRESP_E_CHUNK);
	for (i = 0; i < r->line_len; i++) {
		char c = r->line[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned int)(c - 'A' + 10);
		else
			break;
		if (v >> 60)
			return fail(r, BRESP_E_CHUNK);
		v = v * 16 + d;
	}
	if (i == 0 ||
	    (i < r->line_len && r->line[i] != ';' && r->line[i] != ' ' && r->line[i] != '\t'))
		return fail(r, BRESP_E_CHUNK);
	r->body_left = v;
	r->state = v ? BRESP_CHUNK_DATA : BRESP_TRAILER;
	return 0;
}

/* A complete line is in line[] (CRLF stripped): act on it according to the state. */
static int
line_done(struct bresp *r)
{
	int rc = 0;

	switch (r->state) {
	case BRESP_STATUS:
		rc = parse_status(r);
		if (rc == 0)
			r->state = BRESP_HEADER;
		break;
	case BRESP_HEADER:
		if (r->line_len == 0)
			head_done(r);
		else
			rc = parse_header(r);
		break;
	case BRESP_CHUNK_SIZE:
		rc = parse_chunk_size(r);
		break;
	case BRESP_TRAILER:
		if (r->line_len == 0)
			r->state = BRESP_DONE;
		break;
	default:
		break;
	}
	r->line_len = 0;
	r->line_truncated = false;
	return rc;
}

int
bresp_feed(struct bresp *r, const char *p, size_t n, size_t *used, bresp_body_cb cb, void *arg)
{
	size_t i = 0;

	while (i < n && r->state != BRESP_DONE) {
		switch (r->state) {
		case BRESP_STATUS:
		case BRESP_HEADER:
		case BRESP_CHUNK_SIZE:
		case BRESP_TRAILER: {
			/* copy up to the LF; lines end in CRLF, a bare LF is tolerated */
			const char *lf = memchr(p + i, '\n', n - i);
			size_t take = lf ? (size_t)(lf - (p + i)) : n - i;
			size_t room = BRESP_LINE_MAX - r->line_len;

			if (memchr(p + i, '\0', take) != NULL)
				return fail(r, BRESP_E_HEADER);
			if (take > room) {
				if (r->state == BRESP_STATUS)
					return fail(r, BRESP_E_TOO_LONG);
				memcpy(r->line + r->line_len, p + i, room);
				r->line_len += room;
				r->line_truncated = true;
			} else {
				memcpy(r->line + r->line_len, p + i, take);
				r->line_len += take;
			}
			i += take;
			if (lf == NULL)
				break;
			i++; /* the LF */
			/* a truncated line lost its CR with the tail */
			if (r->line_len > 0 && r->line[r->line_len - 1] == '\r' &&
			    !r->line_truncated)
				r->line_len--;
			if (memchr(r->line, '\r', r->line_len) != NULL)
				return fail(r, BRESP_E_HEADER);
			if (line_done(r) < 0)
				return -EPROTO;
			break;
		}
		case BRESP_BODY_LENGTH:
		case BRESP_CHUNK_DATA:
		case BRESP_BODY_EOF: {
			size_t take = n - i;

			if (r->state != BRESP_BODY_EOF && take > r->body_left)
				take = (size_t)r->body_left;
			if (cb != NULL && take > 0)
				cb(arg, p + i, take);
			r->body_seen += take;
			i += take;
			if (r->state == BRESP_BODY_EOF)
				break;
			r->body_left -= take;
			if (r->body_left == 0)
				r->state = r->state == BRESP_CHUNK_DATA ? BRESP_CHUNK_CRLF
									: BRESP_DONE;
			break;
		}
		case BRESP_CHUNK_CRLF:
			/* "\r\n" after the data; accept a lone "\n" too */
			if (p[i] == '\r' && r->line_len == 0) {
				r->line_len = 1;
				i++;
			} else if (p[i] == '\n') {
				r->line_len = 0;
				r->state = BRESP_CHUNK_SIZE;
				i++;
			} else {
				return fail(r, BRESP_E_CHUNK);
			}
			break;
		case BRESP_DONE:
			break;
		case BRESP_ERROR:
			return -EPROTO;
		}
	}
	*used = i;
	return r->state == BRESP_DONE ? BRESP_OK : BRESP_AGAIN;
}

int
bresp_eof(struct bresp *r)
{
	if (r->state == BRESP_DONE)
		return BRESP_OK;
	if (r->state == BRESP_BODY_EOF) {
		r->state = BRESP_DONE;
		return BRESP_OK;
	}
	if (r->state != BRESP_ERROR)
		fail(r, BRESP_E_EOF);
	return -EPROTO;
}
