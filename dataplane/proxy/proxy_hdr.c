/* Header rewriting for the reverse proxy: pure functions over views, unit-tested alone. */
#include "dataplane/proxy/proxy_hdr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/http/path.h"
#include "dataplane/http/resp.h"

/* Fields of one hop only (RFC 9110 7.6.1), and the old Proxy-Connection. */
static const char *const hop_by_hop[] = {
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"TE",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
	"Proxy-Authorization",
	"Proxy-Authenticate",
	NULL,
};

/* Set by the gateway only: what a client sends under these names is a lie. */
static const char *const forwarding[] = {
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",  "Forwarded",
	"Content-Length",  PROXY_REALM_HEADER,	PROXY_SCHEME_HEADER, NULL,
};

static bool
in_list(struct h1_view name, const char *const *list)
{
	for (unsigned int i = 0; list[i] != NULL; i++)
		if (h1_view_ieq(name, list[i]))
			return true;
	return false;
}

/* Is name one of the tokens of any Connection header among headers[0..n)? */
static bool
named_by_connection(const struct h1_header *headers, unsigned int n, struct h1_view name)
{
	char tok[128];

	if (name.len >= sizeof(tok))
		return false;
	memcpy(tok, name.p, name.len);
	tok[name.len] = '\0';
	for (unsigned int i = 0; i < n; i++)
		if (h1_view_ieq(headers[i].name, "Connection") &&
		    h1_list_has_token(headers[i].value, tok))
			return true;
	return false;
}

bool
proxy_req_header_dropped(const struct h1_request *req, const struct site_conf *site,
			 struct h1_view name)
{
	if (in_list(name, hop_by_hop) || in_list(name, forwarding))
		return true;
	if (h1_view_ieq(name, site->identity_header))
		return true;
	if (h1_view_ieq(name, "Authorization") && !site->forward_authorization)
		return true;
	return named_by_connection(req->headers, req->nheaders, name);
}

/* resp_buf (dataplane/http/resp.c) holds the head: bounded, one overflow check at the end. */
static void
puts_(struct resp_buf *o, const char *s)
{
	resp_append(o, s, strlen(s));
}

static void
put_header(struct resp_buf *o, struct h1_view name, struct h1_view value)
{
	resp_append(o, name.p, name.len);
	resp_append(o, ": ", 2);
	resp_append(o, value.p, value.len);
	resp_append(o, "\r\n", 2);
}

/* A user or realm as a header value: only what a field value may hold (no CR, LF, NUL, CTL). */
static void
put_safe(struct resp_buf *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		resp_append(o, (ch < 0x20 || ch == 0x7f) ? "?" : &s[i], 1);
	}
}

long
proxy_req_head(const struct h1_request *req, const struct site_conf *site,
	       const struct proxy_identity *id, uint32_t client_ip, char *out, size_t cap)
{
	struct resp_buf o;
	const char *q = memchr(req->target.p, '?', req->target.len);
	size_t pathlen = q != NULL ? (size_t)(q - req->target.p) : req->target.len;
	size_t plen = strlen(site->prefix);
	const char *proto = id != NULL && id->https ? "https" : "http";
	char ip[16];
	long rest;

	while (plen > 1 && site->prefix[plen - 1] == '/')
		plen--;
	rest = path_strip_prefix(req->target.p, pathlen, site->prefix, plen);
	if (req->target.len == 0 || req->target.p[0] != '/' || rest < 0)
		return -EINVAL;
	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", client_ip >> 24, (client_ip >> 16) & 0xff,
		 (client_ip >> 8) & 0xff, client_ip & 0xff);

	resp_init(&o, out, cap);
	resp_append(&o, req->method_name.p, req->method_name.len);
	resp_append(&o, " ", 1);
	if (site->upstream_prefix[0] != '\0') {
		size_t up = strlen(site->upstream_prefix);

		/* "/app" + "/x" under upstream_prefix "/" is "/x", not "//x" */
		while (up > 0 && site->upstream_prefix[up - 1] == '/')
			up--;
		resp_append(&o, site->upstream_prefix, up);
		if ((size_t)rest == req->target.len || req->target.p[rest] != '/')
			resp_append(&o, "/", 1);
		resp_append(&o, req->target.p + rest, req->target.len - (size_t)rest);
	} else {
		resp_append(&o, req->target.p, req->target.len);
	}
	puts_(&o, " HTTP/1.1\r\n");
	for (unsigned int i = 0; i < req->nheaders; i++) {
		const struct h1_header *h = &req->headers[i];

		if (!proxy_req_header_dropped(req, site, h->name))
			put_header(&o, h->name, h->value);
	}
	if (h1_req_header(req, H1_H_HOST) == NULL)
		resp_appendf(&o, "Host: %u.%u.%u.%u:%u\r\n", site->upstreams[0].addr >> 24,
			     (site->upstreams[0].addr >> 16) & 0xff,
			     (site->upstreams[0].addr >> 8) & 0xff, site->upstreams[0].addr & 0xff,
			     site->upstreams[0].port);
	resp_appendf(&o, "X-Forwarded-For: %s\r\nX-Forwarded-Proto: %s\r\n", ip, proto);
	if (h1_req_header(req, H1_H_HOST) != NULL)
		put_header(&o, (struct h1_view){"X-Forwarded-Host", 16},
			   *h1_req_header(req, H1_H_HOST));
	resp_appendf(&o, "Forwarded: for=%s;proto=%s\r\nVia: %s\r\n", ip, proto, PROXY_VIA);
	if (id != NULL && id->user != NULL && id->user[0] != '\0') {
		const char *at = strrchr(id->user, '@');

		puts_(&o, site->identity_header);
		resp_append(&o, ": ", 2);
		put_safe(&o, id->user, strlen(id->user));
		resp_append(&o, "\r\n", 2);
		if (at != NULL) {
			puts_(&o, PROXY_REALM_HEADER ": ");
			put_safe(&o, at + 1, strlen(at + 1));
			resp_append(&o, "\r\n", 2);
		}
		if (id->scheme != NULL)
			resp_appendf(&o, PROXY_SCHEME_HEADER ": %s\r\n", id->scheme);
	}
	if (req->chunked)
		puts_(&o, "Transfer-Encoding: chunked\r\n");
	else if (req->content_length >= 0)
		resp_appendf(&o, "Content-Length: %" PRId64 "\r\n", req->content_length);
	return resp_finish(&o);
}

/* ---------------------------------------------------------------- responses */

static bool
tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* One field line at line[0..n), CRLF excluded. */
static int
resp_field(struct proxy_resp *r, const char *line, size_t n, size_t max_headers)
{
	size_t i = 0, v0, v1;
	struct h1_view name, value;

	while (i < n && tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i == n || line[i] != ':')
		return -1;
	name = (struct h1_view){line, i};
	v0 = i + 1;
	while (v0 < n && (line[v0] == ' ' || line[v0] == '\t'))
		v0++;
	v1 = n;
	while (v1 > v0 && (line[v1 - 1] == ' ' || line[v1 - 1] == '\t'))
		v1--;
	for (size_t k = v0; k < v1; k++) {
		unsigned char c = (unsigned char)line[k];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	value = (struct h1_view){line + v0, v1 - v0};
	if (r->nheaders >= max_headers)
		return -1;
	r->headers[r->nheaders++] = (struct h1_header){name, value, H1_H_OTHER};
	if (h1_view_ieq(name, "Content-Length")) {
		int64_t v = 0;

		if (value.len == 0 || value.len > 18)
			return -1;
		for (size_t k = 0; k < value.len; k++) {
			if (value.p[k] < '0' || value.p[k] > '9')
				return -1;
			v = v * 10 + (value.p[k] - '0');
		}
		if (r->content_length >= 0 && r->content_length != v)
			return -1;
		r->content_length = v;
	} else if (h1_view_ieq(name, "Transfer-Encoding")) {
		if (r->chunked || !h1_view_ieq(value, "chunked"))
			return -1;
		r->chunked = true;
	} else if (h1_view_ieq(name, "Connection")) {
		if (h1_list_has_token(value, "close"))
			r->close = true;
	}
	return 0;
}

int
proxy_resp_parse(const char *buf, size_t len, size_t max, struct proxy_resp *r)
{
	const char *end, *p = buf;
	size_t line_len;
	bool first = true;

	memset(r, 0, offsetof(struct proxy_resp, headers));
	r->content_length = -1;
	for (;;) {
		end = memchr(p, '\n', len - (size_t)(p - buf));
		if (end == NULL)
			return len > max ? -1 : 0;
		if ((size_t)(end + 1 - buf) > max)
			return -1;
		if (end == p || end[-1] != '\r')
			return -1; /* bare LF */
		line_len = (size_t)(end - 1 - p);
		if (memchr(p, '\r', line_len) != NULL || memchr(p, '\0', line_len) != NULL)
			return -1;
		if (first) {
			/* HTTP/1.x SP 3DIGIT [SP reason] */
			if (line_len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' ||
			    p[7] > '9' || p[8] != ' ' || p[9] < '1' || p[9] > '5' || p[10] < '0' ||
			    p[10] > '9' || p[11] < '0' || p[11] > '9' ||
			    (line_len > 12 && p[12] != ' '))
				return -1;
			r->version_minor = (unsigned)(p[7] - '0');
			r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
			r->reason = line_len > 13 ? (struct h1_view){p + 13, line_len - 13}
						  : (struct h1_view){"", 0};
			first = false;
		} else if (line_len == 0) {
			r->head_len = (size_t)(end + 1 - buf);
			break;
		} else if (p[0] == ' ' || p[0] == '\t') {
			return -1; /* obs-fold */
		} else if (resp_field(r, p, line_len, H1_MAX_HEADERS) != 0) {
			return -1;
		}
		p = end + 1;
	}
	if (r->chunked && r->content_length >= 0)
		return -1;
	if (r->version_minor == 0) {
		bool ka = false;

		for (unsigned int i = 0; i < r->nheaders; i++)
			if (h1_view_ieq(r->headers[i].name, "Connection") &&
			    h1_list_has_token(r->headers[i].value, "keep-alive"))
				ka = true;
		if (!ka)
			r->close = true;
		if (r->chunked)
			return -1; /* no chunked in HTTP/1.0 */
	}
	return 1;
}

enum proxy_body
proxy_resp_body(const struct proxy_resp *r, bool head_request)
{
	if (head_request || r->status < 200 || r->status == 204 || r->status == 304)
		return PROXY_BODY_NONE;
	if (r->chunked)
		return PROXY_BODY_CHUNKED;
	if (r->content_length >= 0)
		return PROXY_BODY_LENGTH;
	return PROXY_BODY_CLOSE;
}

long
proxy_resp_head(const struct proxy_resp *r, enum proxy_body body, bool client_close,
		const char *extra, size_t extra_len, char *out, size_t cap)
{
	struct resp_buf o;

	resp_init(&o, out, cap);
	resp_appendf(&o, "HTTP/1.1 %03d ", r->status);
	resp_append(&o, r->reason.p, r->reason.len);
	resp_append(&o, "\r\n", 2);
	for (unsigned int i = 0; i < r->nheaders; i++) {
		const struct h1_header *h = &r->headers[i];

		if (in_list(h->name, hop_by_hop) || h1_view_ieq(h->name, "Persistent-Auth") ||
		    named_by_connection(r->headers, r->nheaders, h->name))
			continue;
		put_header(&o, h->name, h->value);
	}
	resp_appendf(&o, "Via: %s\r\n", PROXY_VIA);
	if (extra != NULL)
		resp_append(&o, extra, extra_len);
	if (body == PROXY_BODY_CHUNKED)
		puts_(&o, "Transfer-Encoding: chunked\r\n");
	if (client_close)
		puts_(&o, "Connection: close\r\n");
	return resp_finish(&o);
}
