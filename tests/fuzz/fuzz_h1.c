/* libFuzzer target for the request parser, ranges, dates and path normalisation. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/http/date.h"
#include "dataplane/http/h1.h"
#include "dataplane/http/path.h"
#include "dataplane/http/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct h1_request req_a, req_b;

static void
fuzz_check(bool cond)
{
	if (!cond)
		abort();
}

static void
fuzz_views_inside(const struct h1_request *r, const char *buf, size_t len)
{
	unsigned i;

	fuzz_check(r->head_len <= len);
	fuzz_check(r->nheaders <= H1_MAX_HEADERS);
	fuzz_check(r->target.p >= buf && r->target.p + r->target.len <= buf + r->head_len);
	for (i = 0; i < r->nheaders; i++) {
		const struct h1_header *h = &r->headers[i];

		fuzz_check(h->name.len > 0);
		fuzz_check(h->name.p >= buf && h->name.p + h->name.len <= buf + r->head_len);
		fuzz_check(h->value.p >= buf && h->value.p + h->value.len <= buf + r->head_len);
	}
}

static void
fuzz_range(const struct h1_view *v, uint64_t size)
{
	struct range_set rs;
	unsigned i;

	range_parse(v->p, v->len, size, &rs);
	fuzz_check(rs.count <= RANGE_MAX);
	for (i = 0; i < rs.count; i++) {
		fuzz_check(rs.spans[i].first <= rs.spans[i].last);
		fuzz_check(rs.spans[i].last < size);
		/* sorted and disjoint: nobody gets the same bytes twice */
		if (i > 0)
			fuzz_check(rs.spans[i].first > rs.spans[i - 1].last + 1);
	}
	fuzz_check((rs.kind == RANGE_SINGLE) == (rs.count == 1));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct h1_parser pa, pb;
	enum h1_rc ra, rb;
	size_t split;

	h1_parser_init(&pa, NULL);
	ra = h1_parse(&pa, buf, size, &req_a);

	/* the same bytes split in two must give the same verdict */
	split = size > 0 ? (size_t)data[0] * 257 % (size + 1) : 0;
	h1_parser_init(&pb, NULL);
	rb = h1_parse(&pb, buf, split, &req_b);
	if (rb == H1_AGAIN)
		rb = h1_parse(&pb, buf, size, &req_b);
	if (rb == H1_ERROR || ra == H1_ERROR) {
		fuzz_check(ra == rb);
		fuzz_check(pa.err == pb.err);
	} else if (ra == H1_OK) {
		fuzz_check(rb == H1_OK);
		fuzz_check(req_a.head_len == req_b.head_len);
		fuzz_check(req_a.nheaders == req_b.nheaders);
		fuzz_check(req_a.keep_alive == req_b.keep_alive);
	} else {
		fuzz_check(rb == H1_AGAIN);
	}

	if (ra == H1_OK) {
		const struct h1_view *v;
		char path[1024];
		size_t plen;
		int64_t t;

		fuzz_views_inside(&req_a, buf, size);
		if (path_normalize(req_a.target.p, req_a.target.len, path, sizeof(path), &plen) ==
		    0) {
			fuzz_check(plen < sizeof(path) && path[0] == '/' && path[plen] == '\0');
			fuzz_check(strstr(path, "/../") == NULL && strstr(path, "//") == NULL);
			fuzz_check(memchr(path, '\\', plen) == NULL && strlen(path) == plen);
			fuzz_check(!(plen >= 3 && strcmp(path + plen - 3, "/..") == 0));
		}
		v = h1_req_header(&req_a, H1_H_RANGE);
		if (v != NULL) {
			fuzz_range(v, 0);
			fuzz_range(v, 1);
			fuzz_range(v, size);
			fuzz_range(v, UINT64_MAX);
		}
		v = h1_req_header(&req_a, H1_H_IF_MODIFIED_SINCE);
		if (v != NULL && http_date_parse(v->p, v->len, &t) == 0) {
			char d[HTTP_DATE_LEN + 1];

			http_date_fmt(t, d);
		}
		v = h1_req_header(&req_a, H1_H_IF_RANGE);
		if (v != NULL)
			range_if_range_ok(v->p, v->len, "\"a-b-c\"", 7, 0);
	} else if (size > 0 && data[0] == '/') {
		/* not a request: still give the path code raw bytes */
		char path[64];
		size_t plen;

		path_normalize(buf, size, path, sizeof(path), &plen);
	}
	return 0;
}
