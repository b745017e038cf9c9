/* Unit tests for the content store and http_serve/http_conn: bytes in, response bytes out. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/http/http.h"

static char tmpdir[256];
static char outside[256];

static void
write_file(const char *rel, const char *data, size_t len)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static int
setup(void **state)
{
	char p[512];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/authgate-http-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(outside, sizeof(outside), "/tmp/authgate-out-XXXXXX");
	if (mkdtemp(outside) == NULL)
		return -1;
	snprintf(p, sizeof(p), "%s/pkg", tmpdir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/pkg/sub", tmpdir);
	mkdir(p, 0755);
	write_file("pkg/a.txt", "0123456789abcdefghij", 20);
	write_file("pkg/empty.bin", "", 0);
	write_file("pkg/sub/p.cab", "CAB", 3);
	snprintf(p, sizeof(p), "%s/secret", outside);
	FILE *f = fopen(p, "w");
	fputs("secret", f);
	fclose(f);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", tmpdir, outside);
	return system(cmd) == 0 ? 0 : -1;
}

static struct store *
make_store(void)
{
	/* the store keeps the sites: they outlive it */
	static struct site_conf sites[2];
	struct store_conf conf = {0};
	struct store *st;

	snprintf(sites[0].root, sizeof(sites[0].root), "%.*s/pkg", (int)sizeof(sites[0].root) - 5,
		 tmpdir);
	strcpy(sites[0].prefix, "/pkg");
	strcpy(sites[1].prefix, "/other/");
	strcpy(sites[1].root, sites[0].root);
	conf.sites = sites;
	conf.nsites = 2;
	conf.revalidate_ns = 0;
	st = store_create(&conf);
	assert_non_null(st);
	return st;
}

/* All responses for the input, concatenated as they would go on the wire. */
struct wire {
	char *buf;
	size_t len;
	unsigned responses;
	bool closed;
	size_t consumed;
};

static void
wire_add(struct wire *w, const void *p, size_t n)
{
	w->buf = realloc(w->buf, w->len + n + 1);
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static struct wire
run(struct store *st, const char *in, size_t len, const struct http_opts *opts, uint64_t max_body)
{
	struct http_conn_conf conf = {.max_body = max_body};
	struct http_conn c;
	struct http_response *resp = malloc(sizeof(*resp));
	struct wire w = {0};
	size_t off = 0, used;
	unsigned i;

	h1_limits_default(&conf.limits);
	http_conn_init(&c, &conf);
	wire_add(&w, "", 0);
	while (!w.closed) {
		int rc = http_conn_next(&c, in + off, len - off, st, opts, resp, &used);

		off += used;
		if (rc == 0)
			break;
		w.responses++;
		wire_add(&w, resp->head, resp->head_len);
		for (i = 0; i < resp->nslices; i++)
			wire_add(&w, resp->slices[i].base, resp->slices[i].len);
		w.closed = resp->close;
		http_response_release(resp);
	}
	w.consumed = off;
	free(resp);
	return w;
}

static struct wire
run_s(struct store *st, const char *in)
{
	struct http_opts o = {.now = 784111777};

	return run(st, in, strlen(in), &o, 1024);
}

static const char *
body_of(const struct wire *w)
{
	const char *b = strstr(w->buf, "\r\n\r\n");

	assert_non_null(b);
	return b + 4;
}

static void
test_get_head_options_405(void **state)
{
	struct store *st = make_store();
	struct wire w;

	(void)state;
	w = run_s(st, "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(w.responses, 1);
	assert_false(w.closed);
	assert_non_null(strstr(w.buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(w.buf, "\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
	assert_non_null(strstr(w.buf, "\r\nServer: authgate\r\n"));
	assert_non_null(strstr(w.buf, "\r\nContent-Length: 20\r\n"));
	assert_non_null(strstr(w.buf, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
	assert_non_null(strstr(w.buf, "\r\nAccept-Ranges: bytes\r\n"));
	assert_non_null(strstr(w.buf, "\r\nETag: \""));
	assert_non_null(strstr(w.buf, "\r\nLast-Modified: "));
	assert_non_null(strstr(w.buf, "\r\nConnection: keep-alive\r\n"));
	assert_string_equal(body_of(&w), "0123456789abcdefghij");
	free(w.buf);

	w = run_s(st, "HEAD /pkg/a.txt HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(w.buf, "\r\nContent-Length: 20\r\n"));
	assert_string_equal(body_of(&w), "");
	free(w.buf);

	w = run_s(st, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(w.buf, "\r\nAllow: GET, HEAD, OPTIONS\r\n"));
	assert_non_null(strstr(w.buf, "\r\nContent-Length: 0\r\n"));
	free(w.buf);

	w = run_s(st, "DELETE /pkg/a.txt HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(w.buf, "\r\nAllow: GET, HEAD, OPTIONS\r\n"));
	assert_false(w.closed);
	free(w.buf);

	w = run_s(st, "get /pkg/a.txt HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 405 "));
	free(w.buf);

	w = run_s(st, "GET * HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 400 "));
	free(w.buf);

	/* absolute-form and the prefix with a trailing slash in the conf */
	w = run_s(st, "GET http://x/other/sub/p.cab HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(w.buf, "Content-Type: application/vnd.ms-cab-compressed\r\n"));
	assert_string_equal(body_of(&w), "CAB");
	free(w.buf);
	store_destroy(st);
}

static void
test_not_found_and_traversal(void **state)
{
	static const struct {
		const char *target;
		const char *status;
	} rows[] = {
		{"/pkg/missing", "404"},
		{"/nosite/a.txt", "404"},
		{"/pkg", "404"},
		{"/pkg/", "404"},
		{"/pkg/sub", "404"},
		{"/pkg/sub/", "404"},
		{"/pkgx/a.txt", "404"},
		{"/pkg/../pkg/a.txt", "400"},
		{"/pkg/%2e%2e/pkg/a.txt", "400"},
		{"/pkg/%2E%2E/secret", "400"},
		{"/pkg/a.txt%00.html", "400"},
		{"/pkg\\a.txt", "400"},
		{"/pkg/%zz", "400"},
		{"/pkg/a.txt?download=1", "200"},
		{"/pkg//sub/./p.cab", "200"},
		{"/pkg/%61.txt", "200"},
	};
	struct store *st = make_store();
	char req[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct wire w;
		char want[32];

		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", rows[i].target);
		w = run_s(st, req);
		snprintf(want, sizeof(want), "HTTP/1.1 %s ", rows[i].status);
		if (strncmp(w.buf, want, strlen(want)) != 0)
			fail_msg("%s: got %.20s want %s", rows[i].target, w.buf, want);
		free(w.buf);
	}
	store_destroy(st);
}

static void
test_ranges(void **state)
{
	struct store *st = make_store();
	struct wire w;
	char *p;
	long clen;

	(void)state;
	w = run_s(st, "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=2-5\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 206 Partial Content\r\n"));
	assert_non_null(strstr(w.buf, "\r\nContent-Range: bytes 2-5/20\r\n"));
	assert_non_null(strstr(w.buf, "\r\nContent-Length: 4\r\n"));
	assert_string_equal(body_of(&w), "2345");
	free(w.buf);

	w = run_s(st, "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=-3\r\n\r\n");
	assert_non_null(strstr(w.buf, "\r\nContent-Range: bytes 17-19/20\r\n"));
	assert_string_equal(body_of(&w), "hij");
	free(w.buf);

	w = run_s(st, "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=20-\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 416 Range Not Satisfiable\r\n"));
	assert_non_null(strstr(w.buf, "\r\nContent-Range: bytes */20\r\n"));
	assert_non_null(strstr(w.buf, "\r\nContent-Length: 0\r\n"));
	assert_false(w.closed);
	assert_string_equal(body_of(&w), "");
	free(w.buf);

	/* invalid Range is ignored */
	w = run_s(st, "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=9-2\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 200 OK\r\n"));
	free(w.buf);

	/* HEAD ignores Range */
	w = run_s(st, "HEAD /pkg/a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 200 OK\r\n"));
	free(w.buf);

	/* If-Range with a stale validator: whole file */
	w = run_s(st, "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\n"
		      "If-Range: \"stale\"\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 200 OK\r\n"));
	assert_string_equal(body_of(&w), "0123456789abcdefghij");
	free(w.buf);

	/* multipart/byteranges */
	w = run_s(st, "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1,-2\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 206 Partial Content\r\n"));
	p = strstr(w.buf, "Content-Type: multipart/byteranges; boundary=");
	assert_non_null(p);
	{
		char boundary[64], expect[512];
		const char *b = body_of(&w);

		sscanf(p + strlen("Content-Type: multipart/byteranges; boundary="), "%63[^\r]",
		       boundary);
		snprintf(expect, sizeof(expect),
			 "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Range: bytes 0-1/20\r\n\r\n01"
			 "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Range: bytes 18-19/20\r\n\r\nij"
			 "\r\n--%s--\r\n",
			 boundary, boundary, boundary);
		assert_string_equal(b, expect);
		clen = strtol(strstr(w.buf, "Content-Length: ") + 16, NULL, 10);
		assert_int_equal(clen, strlen(b));
	}
	free(w.buf);
	store_destroy(st);
}

static void
test_part_head_limit(void **state)
{
	char buf[512], boundary[RESP_BOUNDARY_LEN + 1];
	long n;

	(void)state;
	resp_boundary("\"x\"", 3, boundary);
	/* the longest type we emit, with 20-digit positions */
	n = resp_part_head(buf, sizeof(buf), boundary, store_content_type("x.exe", 5),
			   UINT64_MAX - 2, UINT64_MAX - 1, UINT64_MAX);
	assert_true(n > 0);
	assert_true(n <= RESP_PART_HEAD_MAX);
}

static void
test_conditionals(void **state)
{
	struct store *st = make_store();
	struct store_file *f;
	struct wire w;
	char req[512], etag[STORE_ETAG_MAX];

	(void)state;
	assert_int_equal(store_open(st, "/pkg/a.txt", 10, &f), 0);
	memcpy(etag, f->etag, f->etag_len);
	etag[f->etag_len] = '\0';
	store_file_put(f);

	snprintf(req, sizeof(req),
		 "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: %s\r\n\r\n", etag);
	w = run_s(st, req);
	assert_non_null(strstr(w.buf, "HTTP/1.1 304 Not Modified\r\n"));
	assert_non_null(strstr(w.buf, etag));
	assert_string_equal(body_of(&w), "");
	assert_null(strstr(w.buf, "Content-Length"));
	free(w.buf);

	snprintf(req, sizeof(req),
		 "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"zz\", W/%s\r\n\r\n", etag);
	w = run_s(st, req);
	assert_non_null(strstr(w.buf, "HTTP/1.1 304 "));
	free(w.buf);

	w = run_s(st, "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: *\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 304 "));
	free(w.buf);

	w = run_s(st, "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\n"
		      "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 304 "));
	free(w.buf);

	w = run_s(st, "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\n"
		      "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 200 "));
	free(w.buf);

	/* If-None-Match wins over If-Modified-Since */
	w = run_s(st, "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"zz\"\r\n"
		      "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n");
	assert_non_null(strstr(w.buf, "HTTP/1.1 200 "));
	free(w.buf);

	/* If-Range with the current ETag honours the range */
	snprintf(req, sizeof(req),
		 "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-0\r\nIf-Range: %s\r\n\r\n",
		 etag);
	w = run_s(st, req);
	assert_non_null(strstr(w.buf, "HTTP/1.1 206 "));
	assert_string_equal(body_of(&w), "0");
	free(w.buf);
	store_destroy(st);
}

static uint64_t fake_ns = 1000000000ull;

static uint64_t
fake_now(void)
{
	return fake_ns;
}

/*
 * The dataplane's store trusts what it saw for an interval: a 404 costs no syscall until then,
 * nor does a per-response check. What changed is still noticed once the interval is over: a
 * path that appeared, a file rewritten in place, a file removed.
 */
static void
test_store_caches_within_interval(void **state)
{
	static struct site_conf sites[1];
	struct store_conf conf = {0};
	struct store *st;
	struct store_file *a, *b;
	uint64_t calls;
	char p[512];

	(void)state;
	snprintf(sites[0].root, sizeof(sites[0].root), "%.*s/pkg", (int)sizeof(sites[0].root) - 5,
		 tmpdir);
	strcpy(sites[0].prefix, "/pkg");
	conf.sites = sites;
	conf.nsites = 1;
	conf.revalidate_ns = 1000000000ull;
	conf.check_ns = 10000000ull;
	conf.now_ns = fake_now;
	st = store_create(&conf);
	assert_non_null(st);
	snprintf(p, sizeof(p), "%s/pkg/late.txt", tmpdir);
	unlink(p);

	/* 404 twice: the second from the cache */
	assert_int_equal(store_open(st, "/pkg/late.txt", 13, &a), -ENOENT);
	calls = store_syscalls(st);
	assert_true(calls > 0);
	assert_int_equal(store_open(st, "/pkg/late.txt", 13, &a), -ENOENT);
	assert_int_equal(store_syscalls(st), calls);
	assert_int_equal(store_negative_hits(st), 1);
	/* a 404 never takes a file's place */
	assert_int_equal(store_cached(st), 0);

	/* the file appears: noticed once the interval is over */
	write_file("pkg/late.txt", "first", 5);
	fake_ns += 500000000ull;
	assert_int_equal(store_open(st, "/pkg/late.txt", 13, &a), -ENOENT);
	fake_ns += 600000000ull;
	assert_int_equal(store_open(st, "/pkg/late.txt", 13, &a), 0);
	assert_memory_equal(a->data, "first", 5);

	/* checks within check_ns cost nothing; a rewrite in place is seen after it */
	calls = store_syscalls(st);
	assert_int_equal(store_file_check(a), 0);
	write_file("pkg/late.txt", "second!", 7);
	fake_ns += 20000000ull;
	assert_int_equal(store_file_check(a), -ESTALE);
	assert_int_equal(store_file_check(a), -ESTALE); /* and stays stale */
	assert_int_equal(store_syscalls(st), calls);

	/* served from the cache (the old mapping) within revalidate_ns, then re-mapped */
	assert_int_equal(store_open(st, "/pkg/late.txt", 13, &b), 0);
	assert_ptr_equal(a, b);
	store_file_put(b);
	fake_ns += 1000000000ull;
	assert_int_equal(store_open(st, "/pkg/late.txt", 13, &b), 0);
	assert_ptr_not_equal(a, b);
	assert_int_equal(b->size, 7);
	store_file_put(b);
	store_file_put(a);

	/* removed: 404 once the interval is over */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(store_open(st, "/pkg/late.txt", 13, &b), 0);
	store_file_put(b);
	fake_ns += 1000000000ull;
	assert_int_equal(store_open(st, "/pkg/late.txt", 13, &b), -ENOENT);
	assert_int_equal(store_cached(st), 0);
	store_destroy(st);
}

static void
test_store_lifecycle(void **state)
{
	struct store *st = make_store();
	struct store_file *a, *b, *c, *e;
	char etag[STORE_ETAG_MAX], p[512], q[512];
	struct timespec ts[2];

	(void)state;
	assert_int_equal(store_open(st, "/pkg/a.txt", 10, &a), 0);
	assert_int_equal(store_open(st, "/pkg/a.txt", 10, &b), 0);
	/* cached, and the ETag is stable */
	assert_ptr_equal(a, b);
	assert_int_equal(store_cached(st), 1);
	memcpy(etag, a->etag, a->etag_len + 1);
	store_file_put(b);
	assert_int_equal(store_file_check(a), 0);

	/* rewrite in place with a different size and mtime: re-mapped, old mapping still alive */
	write_file("pkg/a.txt", "changed!", 8);
	snprintf(p, sizeof(p), "%s/pkg/a.txt", tmpdir);
	ts[0].tv_sec = ts[1].tv_sec = 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	utimensat(AT_FDCWD, p, ts, 0);
	assert_int_equal(store_file_check(a), -ESTALE);
	assert_int_equal(store_open(st, "/pkg/a.txt", 10, &c), 0);
	assert_ptr_not_equal(a, c);
	assert_int_equal(c->size, 8);
	assert_memory_equal(c->data, "changed!", 8);
	assert_string_not_equal(c->etag, etag);
	assert_int_equal(c->mtime, 1000000000);
	assert_int_equal(a->size, 20);
	assert_memory_equal(a->data, "changed!", 8); /* shared mapping: why check() exists */
	store_file_put(a);

	/* replaced by rename (the safe way): new inode, in-flight mapping keeps old bytes */
	snprintf(q, sizeof(q), "%s/pkg/new.tmp", tmpdir);
	write_file("pkg/new.tmp", "renamed", 7);
	assert_int_equal(rename(q, p), 0);
	assert_int_equal(store_open(st, "/pkg/a.txt", 10, &b), 0);
	assert_ptr_not_equal(b, c);
	assert_memory_equal(b->data, "renamed", 7);
	assert_memory_equal(c->data, "changed!", 8);
	store_file_put(b);

	/* deleted: 404, the held reference stays readable */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(store_open(st, "/pkg/a.txt", 10, &b), -ENOENT);
	assert_int_equal(store_cached(st), 0);
	assert_memory_equal(c->data, "changed!", 8);
	store_file_put(c);
	write_file("pkg/a.txt", "0123456789abcdefghij", 20);

	/* zero-byte file */
	assert_int_equal(store_open(st, "/pkg/empty.bin", 14, &e), 0);
	assert_int_equal(e->size, 0);
	assert_null(e->data);
	assert_string_equal(e->content_type, "application/octet-stream");
	store_file_put(e);
	{
		struct wire w = run_s(st, "GET /pkg/empty.bin HTTP/1.1\r\nHost: a\r\n"
					  "Range: bytes=0-\r\n\r\n");

		assert_non_null(strstr(w.buf, "HTTP/1.1 200 OK\r\n"));
		assert_non_null(strstr(w.buf, "\r\nContent-Length: 0\r\n"));
		assert_string_equal(body_of(&w), "");
		free(w.buf);
	}

	/* directories are not served */
	assert_int_equal(store_open(st, "/pkg/sub", 8, &e), -ENOENT);
	store_destroy(st);
}

static void
test_symlinks(void **state)
{
	struct store *st = make_store();
	struct store_file *f;
	char link[512], target[512];

	(void)state;
	snprintf(link, sizeof(link), "%s/pkg/escape", tmpdir);
	snprintf(target, sizeof(target), "%s/secret", outside);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(store_open(st, "/pkg/escape", 11, &f), -ENOENT);
	snprintf(link, sizeof(link), "%s/pkg/up", tmpdir);
	assert_int_equal(symlink("../../", link), 0);
	assert_int_equal(store_open(st, "/pkg/up/etc/passwd", 18, &f), -ENOENT);
	/* a link that stays inside the root is fine */
	snprintf(link, sizeof(link), "%s/pkg/alias.txt", tmpdir);
	assert_int_equal(symlink("sub/p.cab", link), 0);
	assert_int_equal(store_open(st, "/pkg/alias.txt", 14, &f), 0);
	assert_memory_equal(f->data, "CAB", 3);
	store_file_put(f);
	store_destroy(st);
}

static void
test_pipeline_and_bodies(void **state)
{
	struct store *st = make_store();
	struct http_opts o = {.now = 784111777};
	const char *in;
	struct wire w;
	const char *s1, *s2, *s3;

	(void)state;
	in = "GET /pkg/sub/p.cab HTTP/1.1\r\nHost: a\r\n\r\n"
	     "POST /pkg/a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
	     "HEAD /pkg/missing HTTP/1.1\r\nHost: a\r\n\r\n"
	     "GET /pkg/a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-2\r\nConnection: close\r\n\r\n"
	     "GET /never HTTP/1.1\r\nHost: a\r\n\r\n";
	w = run(st, in, strlen(in), &o, 1024);
	assert_int_equal(w.responses, 4);
	assert_true(w.closed);
	s1 = strstr(w.buf, "HTTP/1.1 405 ");
	s2 = strstr(w.buf, "HTTP/1.1 404 ");
	s3 = strstr(w.buf, "HTTP/1.1 206 ");
	assert_true(strncmp(w.buf, "HTTP/1.1 200 ", 13) == 0);
	assert_non_null(s1);
	assert_non_null(s2);
	assert_non_null(s3);
	assert_true(s1 < s2 && s2 < s3);
	assert_non_null(strstr(w.buf, "CAB"));
	assert_non_null(strstr(s3, "Connection: close\r\n"));
	assert_string_equal(body_of(&(struct wire){.buf = (char *)s3}), "012");
	free(w.buf);

	/* body arriving in pieces: discarded across calls */
	{
		struct http_conn_conf conf = {.max_body = 100};
		struct http_conn c;
		struct http_response *r = malloc(sizeof(*r));
		const char *a = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234";
		const char *b = "56789GET /pkg/sub/p.cab HTTP/1.1\r\nHost: a\r\n\r\n";
		size_t used;

		h1_limits_default(&conf.limits);
		http_conn_init(&c, &conf);
		assert_int_equal(http_conn_next(&c, a, strlen(a), st, &o, r, &used), 1);
		assert_int_equal(r->status, 405);
		http_response_release(r);
		assert_int_equal(http_conn_next(&c, a + used, strlen(a) - used, st, &o, r, &used),
				 0);
		assert_int_equal(used, 5);
		assert_int_equal(http_conn_next(&c, b, strlen(b), st, &o, r, &used), 1);
		assert_int_equal(r->status, 200);
		assert_int_equal(used, strlen(b));
		http_response_release(r);
		free(r);
	}

	/* too large a body: 413 and close */
	in = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n";
	w = run(st, in, strlen(in), &o, 1024);
	assert_int_equal(w.responses, 1);
	assert_true(w.closed);
	assert_non_null(strstr(w.buf, "HTTP/1.1 413 "));
	free(w.buf);

	/* a parse error answers once and closes; nothing after it is parsed */
	in = "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET /pkg/a.txt HTTP/1.1\r\nHost: "
	     "a\r\n\r\n";
	w = run(st, in, strlen(in), &o, 1024);
	assert_int_equal(w.responses, 1);
	assert_true(w.closed);
	assert_non_null(strstr(w.buf, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(w.buf, "Connection: close\r\n"));
	free(w.buf);

	/* HTTP/1.0 closes by default */
	in = "GET /pkg/sub/p.cab HTTP/1.0\r\n\r\nGET /pkg/sub/p.cab HTTP/1.0\r\n\r\n";
	w = run(st, in, strlen(in), &o, 1024);
	assert_int_equal(w.responses, 1);
	assert_true(w.closed);
	free(w.buf);

	/* extra headers from the auth gate */
	o.extra_headers = "Persistent-Auth: true\r\nWWW-Authenticate: Negotiate oRQwEqADCgEA\r\n";
	o.extra_len = strlen(o.extra_headers);
	in = "GET /pkg/sub/p.cab HTTP/1.1\r\nHost: a\r\n\r\n";
	w = run(st, in, strlen(in), &o, 1024);
	assert_non_null(strstr(w.buf, "\r\nPersistent-Auth: true\r\nWWW-Authenticate: Negotiate"));
	assert_string_equal(body_of(&w), "CAB");
	free(w.buf);
	store_destroy(st);
}

static unsigned int
count_of(const char *hay, size_t len, const char *needle)
{
	unsigned int n = 0;

	for (const char *p = hay; (p = memmem(p, len - (size_t)(p - hay), needle, strlen(needle)));
	     p++)
		n++;
	return n;
}

/* A 503 carries exactly one Retry-After: the caller's when it gives one, else the default. */
static void
test_retry_after_once(void **state)
{
	struct http_response resp;
	struct http_opts opts = {0};

	(void)state;
	http_error(503, true, false, &opts, &resp);
	assert_int_equal(count_of(resp.head, resp.head_len, "Retry-After:"), 1);
	assert_non_null(memmem(resp.head, resp.head_len, "Retry-After: 5\r\n", 16));
	opts.extra_headers = "Retry-After: 30\r\n";
	opts.extra_len = strlen(opts.extra_headers);
	http_error(503, true, false, &opts, &resp);
	assert_int_equal(count_of(resp.head, resp.head_len, "Retry-After:"), 1);
	assert_non_null(memmem(resp.head, resp.head_len, "Retry-After: 30\r\n", 17));
}

/* Dropping consumed bytes leaves none of them behind the data that moves up (credentials). */
static void
test_rx_drop_wipes(void **state)
{
	char buf[64];
	uint32_t len;
	const char *req = "GET / HTTP/1.1\r\nAuthorization: Basic c2VjcmV0\r\n\r\nGET";

	(void)state;
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, req, strlen(req));
	len = (uint32_t)strlen(req);
	http_rx_drop(buf, &len, len - 3);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "GET", 3);
	for (size_t i = 3; i < strlen(req); i++)
		assert_int_equal(buf[i], 0);
	assert_null(memmem(buf, sizeof(buf), "c2VjcmV0", 8));
}

/*
 * The head's pieces have fast paths (a status line cached per second, fixed-size copies): the
 * bytes must be the same as the plain appends', and a buffer with too little room must still
 * overflow cleanly rather than be written past.
 */
static void
test_head_pieces(void **state)
{
	static const char want200[] = "HTTP/1.1 200 OK\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
				      "Server: authgate\r\n";
	static const char want206[] = "HTTP/1.1 206 Partial Content\r\n"
				      "Date: Tue, 14 Nov 2023 22:13:21 GMT\r\nServer: authgate\r\n";
	static const uint64_t values[] = {0, 7, 1024, 65536, UINT64_MAX};
	char buf[256], want[64];
	struct resp_buf r;
	size_t cap;
	unsigned i;

	(void)state;
	/* twice: once formatted, once from the per-thread copy; then another status and second */
	for (i = 0; i < 2; i++) {
		resp_init(&r, buf, sizeof(buf));
		resp_status(&r, 200, 1700000000);
		assert_int_equal(r.len, sizeof(want200) - 1);
		assert_memory_equal(buf, want200, r.len);
	}
	resp_init(&r, buf, sizeof(buf));
	resp_status(&r, 206, 1700000001);
	assert_int_equal(r.len, sizeof(want206) - 1);
	assert_memory_equal(buf, want206, r.len);
	resp_init(&r, buf, sizeof(buf));
	resp_status(&r, 200, 1700000000);
	assert_memory_equal(buf, want200, sizeof(want200) - 1);
	/* every cap from too small to enough: exact bytes or overflow, never a byte past cap */
	for (cap = 0; cap <= sizeof(want200) + 8; cap++) {
		memset(buf, 'x', sizeof(buf));
		resp_init(&r, buf, cap);
		resp_status(&r, 200, 1700000000);
		assert_true(buf[cap] == 'x');
		assert_int_equal(r.overflow, cap < sizeof(want200) - 1);
		if (!r.overflow)
			assert_memory_equal(buf, want200, sizeof(want200) - 1);
	}

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int n = snprintf(want, sizeof(want), "Content-Length: %llu\r\n",
				 (unsigned long long)values[i]);

		for (cap = (size_t)n - 2; cap <= (size_t)n + 40; cap++) {
			memset(buf, 'x', sizeof(buf));
			resp_init(&r, buf, cap);
			resp_content_length(&r, values[i]);
			assert_true(buf[cap] == 'x');
			assert_int_equal(r.overflow, cap < (size_t)n);
			if (!r.overflow) {
				assert_int_equal(r.len, n);
				assert_memory_equal(buf, want, (size_t)n);
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_head_options_405),
		cmocka_unit_test(test_not_found_and_traversal),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_part_head_limit),
		cmocka_unit_test(test_conditionals),
		cmocka_unit_test(test_store_lifecycle),
		cmocka_unit_test(test_store_caches_within_interval),
		cmocka_unit_test(test_symlinks),
		cmocka_unit_test(test_pipeline_and_bodies),
		cmocka_unit_test(test_retry_after_once),
		cmocka_unit_test(test_rx_drop_wipes),
		cmocka_unit_test(test_head_pieces),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
