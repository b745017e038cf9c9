/* Sites: URL path prefixes, each with a root and the schemes it asks for; one way to pick one. */
#ifndef AG_DATAPLANE_HTTP_SITE_H
#define AG_DATAPLANE_HTTP_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SITE_PREFIX_MAX 128
#define SITE_ROOT_MAX	256

/* The schemes a site offers, as bits; none = open. */
enum site_auth {
	SITE_AUTH_NONE = 0,
	SITE_AUTH_NEGOTIATE = 1 << 0, /* Kerberos through SPNEGO, or NTLMSSP inside it */
	SITE_AUTH_NTLM = 1 << 1,      /* raw NTLM */
	SITE_AUTH_BASIC = 1 << 2,     /* user:password, checked against the trust's KDC */
	SITE_AUTH_KERBEROS = 1 << 3,  /* Negotiate, Kerberos only: NTLMSSP inside SPNEGO refused */
};

#define SITE_RULE_MAX 256 /* one INI value */

/* IIS's extendedProtection tokenChecking: RFC 5929 channel bindings over HTTPS. */
enum site_ep {
	SITE_EP_OFF,	 /* bindings are not checked */
	SITE_EP_ALLOW,	 /* a client that sends none passes; one that sends others' fails */
	SITE_EP_REQUIRE, /* the client must send the bindings of our certificate (so plain
			  * HTTP, where there are none, refuses Negotiate and NTLM) */
};

#define SITE_UPSTREAM_MAX    8	/* HOST:PORT entries of one upstream key */
#define SITE_HEADER_NAME_MAX 64 /* identity_header */

/* One upstream of a proxied site, resolved when the configuration is loaded; host order. */
struct site_upstream {
	uint32_t addr;
	uint16_t port;
};

/*
 * One [site PREFIX] section. The store reads prefix and root; the auth gate the rest (its
 * rules live here so that one section fills one struct).
 */
struct site_conf {
	char prefix[SITE_PREFIX_MAX]; /* "/pkg" or "/"; a trailing '/' is the same site */
	char root[SITE_ROOT_MAX];     /* directory served under it */
	uint32_t auth;		      /* bits of enum site_auth */
	/* who may see it, once authenticated: words separated by blanks or commas ("" = any) */
	char require_user[SITE_RULE_MAX];  /* principals, user@REALM */
	char require_realm[SITE_RULE_MAX]; /* realms of the principal */
	char require_group[SITE_RULE_MAX]; /* SIDs (S-1-5-21-...) or DOMAIN\group names */
	uint64_t group_mask; /* its require_group entries as bits of the gate's group table */
	bool tls_only;	     /* over plain HTTP: 403 */
	uint32_t extended_protection; /* enum site_ep, over HTTPS */
	/* Reverse proxy (exclusive with root): HOST:PORT[,HOST:PORT...], IPv4 or a name */
	char upstream[SITE_RULE_MAX];
	char upstream_prefix[SITE_PREFIX_MAX]; /* replaces prefix in the forwarded target */
	uint32_t connect_timeout_ms;	       /* per connect; then the next upstream, or 502/504 */
	uint32_t response_timeout_s;	       /* request sent, no byte of response: 504 */
	uint32_t max_idle_upstream;  /* idle keep-alive connections per upstream per lcore */
	uint32_t max_upstream_conns; /* connections per upstream per lcore; more requests wait */
	uint32_t upstream_max_fails; /* failed connects in a row: the upstream is down */
	uint32_t upstream_down_s;    /* how long a down upstream is left alone */
	char identity_header[SITE_HEADER_NAME_MAX];	   /* carries user@REALM to the upstream */
	bool forward_authorization;			   /* pass the client's Authorization on */
	struct site_upstream upstreams[SITE_UPSTREAM_MAX]; /* upstream, resolved */
	unsigned int nb_upstreams;			   /* 0: not a proxied site */
};

/*
 * The site a normalised path (path_normalize) belongs to: the longest matching prefix, the
 * first of equals. Returns its index and, in *rest_out, where the path below it starts; -1
 * when no site matches.
 */
int site_select(const struct site_conf *sites, unsigned int n, const char *path, size_t len,
		long *rest_out);

/*
 * Parses an upstream list ("10.0.0.1:8080, web:80"); names are resolved now (getaddrinfo,
 * IPv4 only: call at load time, never on an lcore). Returns the count, or -1 with a reason
 * in err.
 */
int site_upstreams_parse(const char *list, struct site_upstream *out, unsigned int max, char *err,
			 size_t errlen);

#endif
