/* Reverse proxy header rewriting: the request head upstream, the response head to the client. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane/proxy/proxy_hdr.h"

static struct site_conf site;
static struct h1_parser parser;
static struct h1_request req;
static char out[16384];

static void
setup_site(const char *prefix, const char *upstream_prefix, bool fwd)
{
	memset(&site, 0, sizeof(site));
	snprintf(site.prefix, sizeof(site.prefix), "%s", prefix);
	snprintf(site.upstream_prefix, sizeof(site.upstream_prefix), "%s", upstream_prefix);
	snprintf(site.identity_header, sizeof(site.identity_header), "X-Remote-User");
	site.forward_authorization = fwd;
	site.upstreams[0].addr = 0xC6120001u;
	site.upstreams[0].port = 8081;
	site.nb_upstreams = 1;
}

static void
parse(const char *head)
{
	struct h1_limits lim;

	h1_limits_default(&lim);
	lim.accept_chunked = true;
	h1_parser_init(&parser, &lim);
	assert_int_equal(h1_parse(&parser, head, strlen(head), &req), H1_OK);
}

static const char *
build(const char *user, const char *scheme)
{
	struct proxy_identity id = {user, scheme};
	long n = proxy_req_head(&req, &site, &id, 0xC6120001u, out, sizeof(out));

	assert_true(n > 0);
	out[n] = '\0';
	return out;
}

static void
test_identity_added_client_copies_removed(void **state)
{
	const char *h;

	(void)state;
	setup_site("/app", "", false);
	parse("GET /app/x?q=1 HTTP/1.1\r\nHost: gw\r\nX-Remote-User: admin@EVIL\r\n"
	      "x-remote-user: root\r\nX-REMOTE-REALM: EVIL\r\nX-Remote-Auth-Scheme: Kerberos\r\n"
	      "X-Forwarded-For: 10.6.6.6\r\nForwarded: for=10.6.6.6\r\nX-Forwarded-Host: evil\r\n"
	      "Authorization: Negotiate abc\r\nProxy-Authorization: Basic x\r\n"
	      "Accept: */*\r\n\r\n");
	h = build("user1@AUTHGATE.TEST", "Negotiate");
	assert_non_null(strstr(h, "GET /app/x?q=1 HTTP/1.1\r\n"));
	assert_non_null(strstr(h, "\r\nX-Remote-User: user1@AUTHGATE.TEST\r\n"));
	assert_non_null(strstr(h, "\r\nX-Remote-Realm: AUTHGATE.TEST\r\n"));
	assert_non_null(strstr(h, "\r\nX-Remote-Auth-Scheme: Negotiate\r\n"));
	assert_non_null(strstr(h, "\r\nX-Forwarded-For: 198.18.0.1\r\n"));
	assert_non_null(strstr(h, "\r\nForwarded: for=198.18.0.1;proto=http\r\n"));
	assert_non_null(strstr(h, "\r\nX-Forwarded-Host: gw\r\n"));
	assert_non_null(strstr(h, "\r\nVia: 1.1 authgate\r\n"));
	assert_non_null(strstr(h, "\r\nAccept: */*\r\n"));
	assert_non_null(strstr(h, "\r\nHost: gw\r\n"));
	assert_null(strstr(h, "admin"));
	assert_null(strstr(h, "root"));
	assert_null(strstr(h, "EVIL"));
	assert_null(strstr(h, "evil"));
	assert_null(strstr(h, "Kerberos"));
	assert_null(strstr(h, "10.6.6.6"));
	assert_null(strstr(h, "Authorization"));
	assert_int_equal(strcmp(h + strlen(h) - 4, "\r\n\r\n"), 0);
	/* over HTTPS the upstream is told so, whatever the client claimed */
	{
		struct proxy_identity id = {"user1@AUTHGATE.TEST", "Negotiate", true};
		long n = proxy_req_head(&req, &site, &id, 0xC6120001u, out, sizeof(out));

		assert_true(n > 0);
		out[n] = '\0';
		assert_non_null(strstr(out, "\r\nX-Forwarded-Proto: https\r\n"));
		assert_non_null(strstr(out, "\r\nForwarded: for=198.18.0.1;proto=https\r\n"));
	}
}

static void
test_open_site_strips_too(void **state)
{
	const char *h;

	(void)state;
	setup_site("/", "", false);
	parse("GET /x HTTP/1.1\r\nHost: gw\r\nX-Remote-User: admin\r\n\r\n");
	h = build(NULL, NULL);
	assert_null(strstr(h, "X-Remote-User"));
	assert_null(strstr(h, "admin"));
}

static void
test_custom_identity_header(void **state)
{
	const char *h;

	(void)state;
	setup_site("/app", "", false);
	snprintf(site.identity_header, sizeof(site.identity_header), "REMOTE_USER");
	parse("GET /app/ HTTP/1.1\r\nHost: gw\r\nremote_user: admin\r\nX-Remote-User: x\r\n\r\n");
	h = build("u@R", "Basic");
	assert_non_null(strstr(h, "\r\nREMOTE_USER: u@R\r\n"));
	assert_null(strstr(h, "admin"));
	/* the default name is not special any more; the client's copy passes as any header */
	assert_non_null(strstr(h, "\r\nX-Remote-User: x\r\n"));
}

static void
test_hop_by_hop_and_connection_tokens(void **state)
{
	const char *h;

	(void)state;
	setup_site("/app", "", false);
	parse("POST /app/u HTTP/1.1\r\nHost: gw\r\nConnection: keep-alive, X-Secret\r\n"
	      "X-Secret: s3cr3t\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X\r\n"
	      "Upgrade: websocket\r\nProxy-Connection: keep-alive\r\nContent-Length: 5\r\n\r\n");
	h = build(NULL, NULL);
	assert_null(strstr(h, "Connection"));
	assert_null(strstr(h, "s3cr3t"));
	assert_null(strstr(h, "Keep-Alive"));
	assert_null(strstr(h, "TE:"));
	assert_null(strstr(h, "Trailer"));
	assert_null(strstr(h, "Upgrade"));
	assert_non_null(strstr(h, "\r\nContent-Length: 5\r\n"));
}

static void
test_chunked_framing_and_authorization(void **state)
{
	const char *h;

	(void)state;
	setup_site("/app", "", true);
	parse("PUT /app/f HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n"
	      "Authorization: Basic dTpw\r\n\r\n");
	h = build("u@R", "Basic");
	assert_non_null(strstr(h, "\r\nTransfer-Encoding: chunked\r\n"));
	assert_null(strstr(h, "Content-Length"));
	assert_non_null(strstr(h, "\r\nAuthorization: Basic dTpw\r\n"));
}

static void
test_target_rewrite(void **state)
{
	(void)state;
	setup_site("/app", "/", false);
	parse("GET /app/x/y?z HTTP/1.1\r\nHost: gw\r\n\r\n");
	assert_non_null(strstr(build(NULL, NULL), "GET /x/y?z HTTP/1.1\r\n"));
	parse("GET /app HTTP/1.1\r\nHost: gw\r\n\r\n");
	assert_non_null(strstr(build(NULL, NULL), "GET / HTTP/1.1\r\n"));
	parse("GET /app?q HTTP/1.1\r\nHost: gw\r\n\r\n");
	assert_non_null(strstr(build(NULL, NULL), "GET /?q HTTP/1.1\r\n"));
	setup_site("/app/", "/backend/", false);
	parse("GET /app/x HTTP/1.1\r\nHost: gw\r\n\r\n");
	assert_non_null(strstr(build(NULL, NULL), "GET /backend/x HTTP/1.1\r\n"));
	/* the site prefix must be there as written: no rewrite of what the gate did not see */
	setup_site("/app", "/b", false);
	parse("GET /%61pp/x HTTP/1.1\r\nHost: gw\r\n\r\n");
	assert_int_equal(proxy_req_head(&req, &site, NULL, 1, out, sizeof(out)), -EINVAL);
	parse("GET /appx HTTP/1.1\r\nHost: gw\r\n\r\n");
	assert_int_equal(proxy_req_head(&req, &site, NULL, 1, out, sizeof(out)), -EINVAL);
}

static void
test_identity_cannot_inject_lines(void **state)
{
	const char *h;

	(void)state;
	setup_site("/", "", false);
	parse("GET / HTTP/1.1\r\nHost: gw\r\n\r\n");
	h = build("evil\r\nX-Admin: 1@R", "Basic");
	assert_null(strstr(h, "\r\nX-Admin"));
	assert_int_equal(proxy_req_head(&req, &site, NULL, 1, out, 40), -ENOSPC);
}

static struct proxy_resp resp;

static int
rparse(const char *s)
{
	return proxy_resp_parse(s, strlen(s), 65536, &resp);
}

static void
test_response_parse(void **state)
{
	(void)state;
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), 1);
	assert_int_equal(resp.head_len, 38);
	assert_int_equal(proxy_resp_body(&resp, false), PROXY_BODY_LENGTH);
	assert_int_equal(proxy_resp_body(&resp, true), PROXY_BODY_NONE);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 1);
	assert_int_equal(proxy_resp_body(&resp, false), PROXY_BODY_CHUNKED);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\n\r\n"), 1);
	assert_int_equal(proxy_resp_body(&resp, false), PROXY_BODY_CLOSE);
	assert_int_equal(rparse("HTTP/1.1 204 No Content\r\n\r\n"), 1);
	assert_int_equal(proxy_resp_body(&resp, false), PROXY_BODY_NONE);
	assert_int_equal(rparse("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"), 1);
	assert_int_equal(proxy_resp_body(&resp, false), PROXY_BODY_NONE);
	assert_int_equal(rparse("HTTP/1.1 200\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
			 1);
	assert_int_equal(rparse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"), 1);
	assert_true(resp.close);
	assert_int_equal(
		rparse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n"),
		1);
	assert_false(resp.close);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"), 1);
	assert_true(resp.close);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"), 0);
	/* what a proxy must not guess at */
	assert_int_equal(
		rparse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), -1);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: "
				"chunked\r\n\r\n"),
			 -1);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), -1);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"), -1);
	assert_int_equal(rparse("HTTP/1.1 200 OK\nContent-Length: 5\r\n\r\n"), -1);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n"), -1);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nA b\r\n\r\n"), -1);
	assert_int_equal(rparse("HTTP/1.1 2000 OK\r\n\r\n"), -1);
	assert_int_equal(rparse("HTTP/2 200 OK\r\n\r\n"), -1);
	assert_int_equal(rparse("ICY 200 OK\r\n\r\n"), -1);
	assert_int_equal(proxy_resp_parse("HTTP/1.1 200 OK\r\nA: b\r\n", 23, 10, &resp), -1);
}

static void
test_response_head(void **state)
{
	const char *extra = "Persistent-Auth: true\r\n";
	long n;

	(void)state;
	assert_int_equal(
		rparse("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
		       "Keep-Alive: timeout=5\r\nPersistent-Auth: false\r\nServer: nginx\r\n"
		       "Transfer-Encoding: chunked\r\nUpgrade: h2c\r\n\r\n"),
		1);
	n = proxy_resp_head(&resp, PROXY_BODY_CHUNKED, true, extra, strlen(extra), out,
			    sizeof(out));
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "\r\nServer: nginx\r\n"));
	assert_non_null(strstr(out, "\r\nVia: 1.1 authgate\r\n"));
	assert_non_null(strstr(out, "\r\nPersistent-Auth: true\r\n"));
	assert_null(strstr(out, "Persistent-Auth: false"));
	assert_null(strstr(out, "X-Hop"));
	assert_null(strstr(out, "Keep-Alive"));
	assert_null(strstr(out, "Upgrade"));
	assert_non_null(strstr(out, "\r\nTransfer-Encoding: chunked\r\n"));
	assert_non_null(strstr(out, "\r\nConnection: close\r\n\r\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_added_client_copies_removed),
		cmocka_unit_test(test_open_site_strips_too),
		cmocka_unit_test(test_custom_identity_header),
		cmocka_unit_test(test_hop_by_hop_and_connection_tokens),
		cmocka_unit_test(test_chunked_framing_and_authorization),
		cmocka_unit_test(test_target_rewrite),
		cmocka_unit_test(test_identity_cannot_inject_lines),
		cmocka_unit_test(test_response_parse),
		cmocka_unit_test(test_response_head),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
