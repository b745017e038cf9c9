/* Request-to-response decisions (methods, conditionals, ranges) and per-connection sequencing. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "dataplane/http/date.h"
#include "dataplane/http/http.h"
#include "dataplane/http/path.h"

static const struct http_opts http_default_opts;

/* If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ is ignored on both sides. */
static bool
http_inm_matches(struct h1_view v, const char *etag, size_t etag_len)
{
	size_t i = 0, start;

	while (i < v.len) {
		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
			i++;
		if (i == v.len)
			break;
		if (v.p[i] == '*')
			return true;
		if (v.len - i >= 2 && v.p[i] == 'W' && v.p[i + 1] == '/')
			i += 2;
		if (i == v.len || v.p[i] != '"')
			return false;
		start = i++;
		while (i < v.len && v.p[i] != '"')
			i++;
		if (i == v.len)
			return false;
		i++;
		if (i - start == etag_len && memcmp(v.p + start, etag, etag_len) == 0)
			return true;
	}
	return false;
}

static bool
http_not_modified(const struct h1_request *req, const struct store_file *f)
{
	const struct h1_view *inm = h1_req_header(req, H1_H_IF_NONE_MATCH);
	const struct h1_view *ims = h1_req_header(req, H1_H_IF_MODIFIED_SINCE);
	int64_t t;

	if (inm != NULL)
		return http_inm_matches(*inm, f->etag, f->etag_len);
	/* If-Modified-Since is ignored when If-None-Match is present (RFC 9110 13.1.3) */
	if (ims != NULL && http_date_parse(ims->p, ims->len, &t) == 0)
		return f->mtime <= t;
	return false;
}

static void
http_reset(struct http_response *resp)
{
	resp->status = 0;
	resp->close = false;
	resp->head_len = 0;
	resp->body_len = 0;
	resp->nslices = 0;
	resp->file = NULL;
}

void
http_rx_drop(char *buf, uint32_t *len, size_t n)
{
	if (n == 0)
		return;
	memmove(buf, buf + n, *len - n);
	*len -= (uint32_t)n;
	/* what moved up leaves a copy behind it: Authorization values must not linger */
	explicit_bzero(buf + *len, n);
}

void
http_error(int status, bool keep_alive, bool head_only, const struct http_opts *opts,
	   struct http_response *resp)
{
	long n;

	if (opts == NULL)
		opts = &http_default_opts;
	http_reset(resp);
	resp->status = status;
	resp->close = !keep_alive;
	n = resp_error(resp->head, sizeof(resp->head), status, keep_alive, head_only, opts->now,
		       opts->extra_headers, opts->extra_len);
	if (n < 0) {
		/* the caller's extra headers did not fit: say so without them */
		resp->status = 500;
		resp->close = true;
		n = resp_error(resp->head, sizeof(resp->head), 500, false, head_only, opts->now,
			       NULL, 0);
	}
	resp->head_len = (size_t)n;
}

void
http_response_release(struct http_response *resp)
{
	store_file_put(resp->file);
	resp->file = NULL;
	resp->nslices = 0;
}

static void
http_slice(struct http_response *resp, const void *base, size_t len, enum http_slice_kind kind)
{
	resp->slices[resp->nslices++] = (struct http_slice){base, len, kind};
	resp->body_len += len;
}

/* The headers every answer about the file carries (RFC 9110 15.4.5 for 304). */
static void
http_validators(struct resp_buf *r, const struct store_file *f)
{
	resp_append(r, f->hdrs, f->validators_len);
}

/* Builds the multipart/byteranges body as slices; returns the Content-Length. */
static int
http_multipart(struct http_response *resp, const struct store_file *f, const struct range_set *rs,
	       const char *boundary, bool head_only)
{
	size_t used = 0;
	unsigned i;
	long n;

	for (i = 0; i < rs->count; i++) {
		const struct range_span *s = &rs->spans[i];

		n = resp_part_head(resp->parts + used, sizeof(resp->parts) - used, boundary,
				   f->content_type, s->first, s->last, f->size);
		if (n < 0 || n > RESP_PART_HEAD_MAX)
			return -ENOSPC;
		http_slice(resp, resp->parts + used, (size_t)n, HTTP_SLICE_INLINE);
		used += (size_t)n;
		http_slice(resp, f->data + s->first, (size_t)(s->last - s->first + 1),
			   HTTP_SLICE_FILE);
	}
	n = resp_part_tail(resp->parts + used, sizeof(resp->parts) - used, boundary);
	if (n < 0)
		return -ENOSPC;
	http_slice(resp, resp->parts + used, (size_t)n, HTTP_SLICE_INLINE);
	if (head_only) {
		/* HEAD reports the length GET would have, but sends nothing */
		resp->nslices = 0;
	}
	return 0;
}

static int
http_serve_file(const struct h1_request *req, struct store_file *f, const struct http_opts *opts,
		bool keep_alive, struct http_response *resp)
{
	bool head_only = req->method == H1_M_HEAD;
	const struct h1_view *rv = h1_req_header(req, H1_H_RANGE);
	const struct h1_view *ir = h1_req_header(req, H1_H_IF_RANGE);
	struct range_set rs; /* not zeroed: 16 spans, and only the first count are read */
	char boundary[RESP_BOUNDARY_LEN + 1];
	struct resp_buf r;
	long n;

	rs.kind = RANGE_NONE;
	rs.count = 0;
	if (http_not_modified(req, f)) {
		resp->status = 304;
	} else {
		/* Range is defined for GET only (RFC 9110 14.2) */
		if (rv != NULL && req->method == H1_M_GET &&
		    (ir == NULL ||
		     range_if_range_ok(ir->p, ir->len, f->etag, f->etag_len, f->mtime)))
			range_parse(rv->p, rv->len, f->size, &rs);
		switch (rs.kind) {
		case RANGE_SINGLE:
		case RANGE_MULTI:
			resp->status = 206;
			break;
		case RANGE_UNSATISFIABLE:
			resp->status = 416;
			break;
		default:
			resp->status = 200;
		}
	}

	resp_init(&r, resp->head, sizeof(resp->head));
	resp_status(&r, resp->status, opts->now);
	resp_append(&r, "Accept-Ranges: bytes\r\n", 22);
	if (resp->status == 200) {
		/* the common answer: the file's own header lines were formatted when it was mapped
		 */
		resp_append(&r, f->hdrs, f->hdrs_len);
		if (f->size > 0 && !head_only)
			http_slice(resp, f->data, (size_t)f->size, HTTP_SLICE_FILE);
		resp_content_length(&r, f->size);
	} else if (resp->status == 416) {
		resp_appendf(&r, "Content-Range: bytes */%" PRIu64 "\r\n", f->size);
		resp_header(&r, "Content-Length", "0");
	} else if (resp->status == 304) {
		http_validators(&r, f);
	} else {
		http_validators(&r, f);
		if (rs.kind == RANGE_MULTI) {
			resp_boundary(f->etag, f->etag_len, boundary);
			if (http_multipart(resp, f, &rs, boundary, head_only) != 0)
				goto nospace;
			resp_appendf(&r, "Content-Type: multipart/byteranges; boundary=%s\r\n",
				     boundary);
		} else {
			uint64_t first = 0, len = f->size;

			resp_append(&r, f->hdrs + f->validators_len,
				    f->hdrs_len - f->validators_len);
			if (rs.kind == RANGE_SINGLE) {
				first = rs.spans[0].first;
				len = rs.spans[0].last - first + 1;
				resp_appendf(&r,
					     "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64
					     "\r\n",
					     first, rs.spans[0].last, f->size);
			}
			if (len > 0)
				http_slice(resp, f->data + first, (size_t)len, HTTP_SLICE_FILE);
			else
				resp->body_len = 0;
			if (head_only)
				resp->nslices = 0;
		}
		resp_content_length(&r, resp->body_len);
	}
	resp_connection(&r, keep_alive);
	if (opts->extra_headers != NULL)
		resp_append(&r, opts->extra_headers, opts->extra_len);
	n = resp_finish(&r);
	if (n < 0)
		goto nospace;
	resp->head_len = (size_t)n;
	if (head_only || resp->status == 304 || resp->status == 416) {
		resp->nslices = 0;
		resp->body_len = 0;
	}
	if (resp->nslices > 0)
		resp->file = f;
	else
		store_file_put(f);
	return 0;

nospace:
	store_file_put(f);
	http_error(500, false, head_only, opts, resp);
	return -ENOSPC;
}

int
http_serve(const struct h1_request *req, struct store *st, const struct http_opts *opts,
	   struct http_response *resp)
{
	bool head_only = req->method == H1_M_HEAD;
	bool keep_alive;
	char path[4096];
	const char *npath;
	size_t plen;
	struct store_file *f;
	int rc;

	if (opts == NULL)
		opts = &http_default_opts;
	keep_alive = req->keep_alive && !opts->force_close;
	http_reset(resp);

	if (req->target.len == 1 && req->target.p[0] == '*') {
		/* asterisk-form is only meaningful for OPTIONS (RFC 9112 3.2.4) */
		if (req->method != H1_M_OPTIONS) {
			http_error(400, keep_alive, head_only, opts, resp);
			return 0;
		}
	}
	if (req->method == H1_M_OPTIONS) {
		struct resp_buf r;
		long n;

		resp_init(&r, resp->head, sizeof(resp->head));
		resp->status = 200;
		resp_status(&r, 200, opts->now);
		resp_append(&r, "Allow: GET, HEAD, OPTIONS\r\nAccept-Ranges: bytes\r\n", 49);
		resp_header(&r, "Content-Length", "0");
		resp_connection(&r, keep_alive);
		if (opts->extra_headers != NULL)
			resp_append(&r, opts->extra_headers, opts->extra_len);
		n = resp_finish(&r);
		if (n < 0) {
			http_error(500, false, false, opts, resp);
			return -ENOSPC;
		}
		resp->head_len = (size_t)n;
		resp->close = !keep_alive;
		return 0;
	}
	if (req->method != H1_M_GET && req->method != H1_M_HEAD) {
		http_error(405, keep_alive, false, opts, resp);
		return 0;
	}

	if (opts->path != NULL) {
		npath = opts->path;
		plen = opts->path_len;
	} else {
		rc = path_normalize(req->target.p, req->target.len, path, sizeof(path), &plen);
		if (rc != 0) {
			http_error(rc == -ENAMETOOLONG ? 414 : 400, keep_alive, head_only, opts,
				   resp);
			return 0;
		}
		npath = path;
	}
	rc = store_open(st, npath, plen, &f);
	if (rc != 0) {
		if (rc == -EINPROGRESS || rc == -EBUSY)
			return rc; /* no response: the caller parks the request, or answers 503 */
		http_error(rc == -ENOENT ? 404 : 500, keep_alive, head_only, opts, resp);
		return 0;
	}
	resp->close = !keep_alive;
	return http_serve_file(req, f, opts, keep_alive, resp);
}

/* --- connection level --- */

void
http_conn_init(struct http_conn *c, const struct http_conn_conf *conf)
{
	c->conf = conf;
	h1_parser_init(&c->parser, &conf->limits);
	c->discard = 0;
	c->closing = false;
}

enum http_conn_rc
http_conn_parse(struct http_conn *c, const char *buf, size_t len, size_t *consumed,
		struct h1_request *req, int *status_out)
{
	size_t used = 0;
	enum h1_rc rc;

	*consumed = 0;
	if (c->closing) {
		*status_out = 400;
		return HTTP_CONN_ERROR;
	}
	if (c->discard > 0) {
		used = len < c->discard ? len : (size_t)c->discard;
		c->discard -= used;
		if (c->conf->stats != NULL)
			c->conf->stats->body_bytes_discarded += used;
		*consumed = used;
		if (c->discard > 0)
			return HTTP_CONN_AGAIN;
	}

	/*
	 * No byte since the last request (a caller asks again after each response): what the
	 * parser would answer for an empty start, without the call.
	 */
	if (used == len && c->parser.state == H1_S_REQUEST_LINE && c->parser.line_start == 0)
		return HTTP_CONN_AGAIN;
	rc = h1_parse(&c->parser, buf + used, len - used, req);
	if (rc == H1_AGAIN)
		return HTTP_CONN_AGAIN;
	if (rc == H1_ERROR) {
		c->closing = true;
		if (c->conf->stats != NULL)
			c->conf->stats->parse_errors[c->parser.err]++;
		*status_out = h1_err_status(c->parser.err);
		return HTTP_CONN_ERROR;
	}
	if (c->conf->stats != NULL)
		c->conf->stats->requests++;
	h1_parser_reset(&c->parser);
	*consumed = used + req->head_len;
	if (c->conf->body_to_caller)
		return HTTP_CONN_REQUEST;
	/* nobody forwards bodies here: a large one refused, a small one drained, no chunked */
	return http_conn_body(c, req, false, status_out);
}

enum http_conn_rc
http_conn_body(struct http_conn *c, const struct h1_request *req, bool forwarded, int *status_out)
{
	if (forwarded)
		return HTTP_CONN_REQUEST;
	if (req->chunked) {
		/* nobody here reads chunked bodies: the next request's start is unknown */
		c->closing = true;
		if (c->conf->stats != NULL)
			c->conf->stats->parse_errors[H1_E_CHUNKED]++;
		*status_out = h1_err_status(H1_E_CHUNKED);
		return HTTP_CONN_ERROR;
	}
	if (req->content_length > 0 && (uint64_t)req->content_length > c->conf->max_body) {
		/* not worth reading: refuse and close rather than drain it */
		c->closing = true;
		*status_out = 413;
		return HTTP_CONN_ERROR;
	}
	if (req->content_length > 0)
		c->discard = (uint64_t)req->content_length;
	return HTTP_CONN_REQUEST;
}

static void
http_count(struct http_conn *c, int status)
{
	if (c->conf->stats != NULL && status >= 100 && status < 600)
		c->conf->stats->status_class[status / 100]++;
}

int
http_conn_respond(struct http_conn *c, const struct h1_request *req, struct store *st,
		  const struct http_opts *opts, struct http_response *resp)
{
	struct http_opts o = opts != NULL ? *opts : http_default_opts;
	int rc;

	/*
	 * A client that sent Expect: 100-continue and got a final answer may or may not send
	 * its body (RFC 9110 10.1.1): we cannot tell body from next request, so close.
	 */
	if (req->expect_continue && req->content_length > 0)
		o.force_close = true;
	if (c->closing)
		o.force_close = true;
	rc = http_serve(req, st, &o, resp);
	if (resp->close)
		c->closing = true;
	http_count(c, resp->status);
	return rc;
}

void
http_conn_error(struct http_conn *c, int status, const struct http_opts *opts,
		struct http_response *resp)
{
	c->closing = true;
	http_error(status, false, false, opts, resp);
	http_count(c, resp->status);
}

int
http_conn_next(struct http_conn *c, const char *buf, size_t len, struct store *st,
	       const struct http_opts *opts, struct http_response *resp, size_t *consumed)
{
	struct h1_request req;
	int status = 0;

	switch (http_conn_parse(c, buf, len, consumed, &req, &status)) {
	case HTTP_CONN_AGAIN:
		return 0;
	case HTTP_CONN_ERROR:
		http_conn_error(c, status, opts, resp);
		return 1;
	case HTTP_CONN_REQUEST:
	default:
		http_conn_respond(c, &req, st, opts, resp);
		return 1;
	}
}
