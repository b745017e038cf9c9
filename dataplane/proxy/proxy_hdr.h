/* Reverse proxy header rewriting: the upstream request head, the upstream response head. */
#ifndef AG_DATAPLANE_PROXY_PROXY_HDR_H
#define AG_DATAPLANE_PROXY_PROXY_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/http/h1.h"
#include "dataplane/http/site.h"

/* The names of the identity headers besides the site's identity_header. */
#define PROXY_REALM_HEADER  "X-Remote-Realm"
#define PROXY_SCHEME_HEADER "X-Remote-Auth-Scheme"
#define PROXY_VIA	    "1.1 authgate"

/* Who the gateway says the client is; user NULL for an open site. */
struct proxy_identity {
	const char *user;   /* principal, user@REALM */
	const char *scheme; /* "Negotiate", "NTLM", "Basic" */
	bool https;	    /* the client came over TLS: X-Forwarded-Proto and Forwarded say so */
};

/*
 * Is this request header one the upstream never gets from the client: hop-by-hop (RFC 9110
 * 7.6.1: Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
 * Proxy-Authorization, Proxy-Authenticate), named in the request's Connection header, framing
 * the gateway rewrites (Content-Length), the identity headers (the site's identity_header,
 * X-Remote-Realm, X-Remote-Auth-Scheme), the forwarding headers the gateway sets
 * (X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, Forwarded), or Authorization unless
 * the site forwards it.
 */
bool proxy_req_header_dropped(const struct h1_request *req, const struct site_conf *site,
			      struct h1_view name);

/*
 * The head sent upstream for req on site: request line (target with the site prefix replaced
 * by upstream_prefix when set), the client's headers minus the dropped ones, then
 * X-Forwarded-For/-Proto/-Host, Forwarded, Via, the identity headers, and the body framing
 * (Content-Length: N, or Transfer-Encoding: chunked for a chunked body, which the gateway
 * sends re-chunked). Returns its length, -EINVAL when the target does not start with the
 * site's prefix as written (a proxied target must name its site literally), -ENOSPC.
 */
long proxy_req_head(const struct h1_request *req, const struct site_conf *site,
		    const struct proxy_identity *id, uint32_t client_ip, char *out, size_t cap);

/* How a response body is delimited (RFC 9112 6.3). */
enum proxy_body {
	PROXY_BODY_NONE,    /* HEAD, 1xx, 204, 304 */
	PROXY_BODY_LENGTH,  /* Content-Length bytes */
	PROXY_BODY_CHUNKED, /* Transfer-Encoding: chunked */
	PROXY_BODY_CLOSE,   /* until the upstream closes */
};

/* An upstream response head, parsed; views into the caller's buffer. */
struct proxy_resp {
	int status;
	unsigned version_minor;
	int64_t content_length; /* -1 when absent */
	bool chunked;
	bool close; /* the upstream will not keep the connection */
	size_t head_len;
	struct h1_view reason;
	unsigned nheaders;
	struct h1_header headers[H1_MAX_HEADERS];
};

/*
 * Parses buf[0..len) as a response head. Returns 1 (r filled), 0 (incomplete: more bytes, as
 * long as len stays under max) or -1 (malformed, too large, or framing a proxy must not
 * guess: Content-Length twice with different values, Content-Length with Transfer-Encoding,
 * a coding other than chunked, obs-fold, bare CR).
 */
int proxy_resp_parse(const char *buf, size_t len, size_t max, struct proxy_resp *r);

/* The framing of r's body for a request with this method. */
enum proxy_body proxy_resp_body(const struct proxy_resp *r, bool head_request);

/*
 * The head the client gets: "HTTP/1.1 status reason", the upstream's headers minus hop-by-hop
 * ones and those its Connection names (and Persistent-Auth, which is the gateway's to say),
 * Via, the gateway's extra lines (Persistent-Auth, WWW-Authenticate), Transfer-Encoding:
 * chunked for a chunked body, Connection: close when client_close. -ENOSPC if it won't fit.
 */
long proxy_resp_head(const struct proxy_resp *r, enum proxy_body body, bool client_close,
		     const char *extra, size_t extra_len, char *out, size_t cap);

#endif
