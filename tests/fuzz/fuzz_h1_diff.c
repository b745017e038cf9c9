/* libFuzzer target: the request parser and path_normalize() against their old versions. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/http/h1.h"
#include "dataplane/http/path.h"
#include "dataplane/http/site.h"
#include "tests/fuzz/h1_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The fast paths must change nothing a client can see: the same verdict, the same error, the
 * same views, whether the head comes in one piece or two. The input's length picks the limits
 * (small ones reach the size errors) and accept_chunked, so the corpus of fuzz_h1 seeds it.
 */
static struct h1_request req_old, req_new;

static void
diff_check(bool cond)
{
	if (!cond)
		abort();
}

static void
diff_same_request(const struct h1_request *a, const struct h1_request *b)
{
	unsigned i;

	diff_check(a->method == b->method);
	diff_check(a->method_name.p == b->method_name.p &&
		   a->method_name.len == b->method_name.len);
	diff_check(a->target.p == b->target.p && a->target.len == b->target.len);
	diff_check(a->version_minor == b->version_minor);
	diff_check(a->keep_alive == b->keep_alive);
	diff_check(a->expect_continue == b->expect_continue);
	diff_check(a->chunked == b->chunked);
	diff_check(a->content_length == b->content_length);
	diff_check(a->head_len == b->head_len);
	diff_check(a->nheaders == b->nheaders);
	diff_check(memcmp(a->idx, b->idx, sizeof(a->idx)) == 0);
	for (i = 0; i < a->nheaders; i++) {
		const struct h1_header *x = &a->headers[i], *y = &b->headers[i];

		diff_check(x->id == y->id);
		diff_check(x->name.p == y->name.p && x->name.len == y->name.len);
		diff_check(x->value.p == y->value.p && x->value.len == y->value.len);
	}
}

/* Feeds buf[0..cut) then all of it; returns the final verdict. */
static enum h1_rc
diff_feed(bool old, struct h1_parser *p, const struct h1_limits *lim, const char *buf, size_t size,
	  size_t cut, struct h1_request *req)
{
	enum h1_rc rc;

	if (old)
		h1o_parser_init(p, lim);
	else
		h1_parser_init(p, lim);
	if (cut < size) {
		rc = old ? h1o_parse(p, buf, cut, req) : h1_parse(p, buf, cut, req);
		if (rc != H1_AGAIN)
			return rc;
	}
	return old ? h1o_parse(p, buf, size, req) : h1_parse(p, buf, size, req);
}

static void
diff_path(const char *t, size_t len, size_t out_size)
{
	char a[512], b[512];
	size_t la = 0, lb = 0;
	int ra, rb;

	ra = patho_normalize(t, len, a, out_size, &la);
	rb = path_normalize(t, len, b, out_size, &lb);
	diff_check(ra == rb);
	if (ra == 0) {
		diff_check(la == lb);
		diff_check(memcmp(a, b, la + 1) == 0);
	}
}

/* site_select() matches a prefix as path_strip_prefix() does; prefix: bytes of the input */
static void
diff_site(const char *prefix, size_t plen, const char *path, size_t len)
{
	static struct site_conf site;
	long want, rest = -2;
	int i;

	if (plen >= sizeof(site.prefix))
		plen = sizeof(site.prefix) - 1;
	memcpy(site.prefix, prefix, plen);
	site.prefix[plen] = '\0';
	want = path_strip_prefix(path, len, site.prefix, strlen(site.prefix));
	i = site_select(&site, 1, path, len, &rest);
	diff_check(i == (want >= 0 ? 0 : -1));
	diff_check(rest == want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct h1_limits lim;
	struct h1_parser po, pn;
	enum h1_rc ro, rn;
	size_t cut;

	h1_limits_default(&lim);
	if (size & 1) {
		lim.max_request_line = 40;
		lim.max_header_bytes = 160;
		lim.max_headers = 3;
	}
	lim.accept_chunked = (size & 2) != 0;

	ro = diff_feed(true, &po, &lim, buf, size, size, &req_old);
	rn = diff_feed(false, &pn, &lim, buf, size, size, &req_new);
	diff_check(ro == rn);
	if (ro == H1_ERROR)
		diff_check(po.err == pn.err);
	else if (ro == H1_OK)
		diff_same_request(&req_old, &req_new);

	/* in two pieces, cut where the first byte says: the same as in one */
	cut = size > 0 ? (size_t)data[0] * 257 % (size + 1) : 0;
	rn = diff_feed(false, &pn, &lim, buf, size, cut, &req_new);
	diff_check(ro == rn);
	if (ro == H1_ERROR)
		diff_check(po.err == pn.err);
	else if (ro == H1_OK)
		diff_same_request(&req_old, &req_new);

	if (ro == H1_OK) {
		char path[512];
		size_t plen;

		diff_path(req_old.target.p, req_old.target.len, 512);
		diff_path(req_old.target.p, req_old.target.len, 1 + size % 24);
		if (path_normalize(req_old.target.p, req_old.target.len, path, sizeof(path),
				   &plen) == 0) {
			/* the target's own leading bytes as the prefix: near misses and matches */
			diff_site(path, plen - plen / 3, path, plen);
			diff_site(path, plen, path, plen);
			diff_site(buf + size / 2, size - size / 2, path, plen);
		}
	}
	/* raw bytes as path and prefix: whatever the halves hold */
	diff_site(buf, size / 2, buf + size / 2, size - size / 2);
	/* raw bytes as a target too: the path code sees more than parsed targets that way */
	diff_path(buf, size, 512);
	diff_path(buf, size, 1 + size % 24);
	return 0;
}
