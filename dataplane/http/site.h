/* Sites: URL path prefixes, each with a root and the schemes it asks for; one way to pick one. */
#ifndef AG_DATAPLANE_HTTP_SITE_H
#define AG_DATAPLANE_HTTP_SITE_H

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
};

/* One [site PREFIX] section. */
struct site_conf {
	char prefix[SITE_PREFIX_MAX]; /* "/pkg" or "/"; a trailing '/' is the same site */
	char root[SITE_ROOT_MAX];     /* directory served under it */
	uint32_t auth;		      /* bits of enum site_auth */
};

/*
 * The site a normalised path (path_normalize) belongs to: the longest matching prefix, the
 * first of equals. Returns its index and, in *rest_out, where the path below it starts; -1
 * when no site matches.
 */
int site_select(const struct site_conf *sites, unsigned int n, const char *path, size_t len,
		long *rest_out);

#endif
