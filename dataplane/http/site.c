/* Site selection, shared by the auth gate and the content store. */
#include "dataplane/http/path.h"
#include "dataplane/http/site.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "site_prefix_match() takes the lowest byte of a word to come first"
#endif

/*
 * path_strip_prefix(path, len, prefix, strlen(prefix)) in one pass over the prefix, without
 * measuring it first: every request selects a site, some twice.
 */
static long
site_prefix_match(const char *prefix, const char *path, size_t len)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
	size_t k = 0, plen;
	uint64_t a, b, d, m;

	/*
	 * Eight bytes a step while both have them (prefix is a SITE_PREFIX_MAX array): stop at
	 * the first byte that differs or is the prefix's NUL. Each byte's test stays in its byte
	 * (no carry leaves it), and a word is loaded lowest byte first.
	 */
	while (k + 8 <= len && k + 8 <= SITE_PREFIX_MAX) {
		memcpy(&a, prefix + k, 8);
		memcpy(&b, path + k, 8);
		d = a ^ b;
		/* high bit of each byte: it differs, or the prefix's byte is NUL */
		m = (((d & low7) + low7) | d | ~(((a & low7) + low7) | a)) & ~low7;
		if (m != 0) {
			k += (size_t)__builtin_ctzll(m) / 8;
			break;
		}
		k += 8;
	}
	while (k < len && prefix[k] != '\0' && prefix[k] == path[k])
		k++;
	/* what the path did not match may only be the prefix's trailing slashes */
	for (plen = k; prefix[plen] == '/'; plen++)
		;
	if (prefix[plen] != '\0')
		return -1;
	plen = k;
	while (plen > 0 && prefix[plen - 1] == '/')
		plen--;
	if (plen == 0)
		return 0;
	if (len > plen && path[plen] != '/')
		return -1;
	return (long)plen;
}

int
site_select(const struct site_conf *sites, unsigned int n, const char *path, size_t len,
	    long *rest_out)
{
	int best = -1;
	long best_rest = -1;

	/* longest prefix wins, so "/pkg/big" can be its own site inside "/pkg" */
	for (unsigned int i = 0; i < n; i++) {
		long r = site_prefix_match(sites[i].prefix, path, len);

		if (r >= 0 && (best < 0 || r > best_rest)) {
			best = (int)i;
			best_rest = r;
		}
	}
	if (rest_out != NULL)
		*rest_out = best_rest;
	return best;
}

static int
resolve4(const char *host, uint32_t *addr_out)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	struct in_addr a;

	if (inet_pton(AF_INET, host, &a) == 1) {
		*addr_out = ntohl(a.s_addr);
		return 0;
	}
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
		return -1;
	*addr_out = ntohl(((const struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr);
	freeaddrinfo(res);
	return 0;
}

int
site_upstreams_parse(const char *list, struct site_upstream *out, unsigned int max, char *err,
		     size_t errlen)
{
	const char *p = list;
	unsigned int n = 0;

	while (*p != '\0') {
		char item[SITE_RULE_MAX], *colon, *end;
		size_t len;
		unsigned long port;

		p += strspn(p, " \t,");
		len = strcspn(p, " \t,");
		if (len == 0)
			break;
		if (len >= sizeof(item)) {
			snprintf(err, errlen, "'%.*s' is too long", (int)len, p);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		p += len;
		colon = strrchr(item, ':');
		if (colon == NULL || colon == item) {
			snprintf(err, errlen, "'%s' is not HOST:PORT", item);
			return -1;
		}
		*colon = '\0';
		port = strtoul(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end != '\0' || port == 0 || port > 65535) {
			snprintf(err, errlen, "'%s' has no valid port (1-65535)", colon + 1);
			return -1;
		}
		if (n == max) {
			snprintf(err, errlen, "more than %u upstreams", max);
			return -1;
		}
		if (resolve4(item, &out[n].addr) != 0) {
			snprintf(err, errlen,
				 "'%s' is neither an IPv4 address nor a name that resolves", item);
			return -1;
		}
		if (out[n].addr == 0 || out[n].addr >= 0xe0000000u) {
			snprintf(err, errlen, "'%s' is not a unicast address", item);
			return -1;
		}
		out[n].port = (uint16_t)port;
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "no HOST:PORT given");
		return -1;
	}
	return (int)n;
}
