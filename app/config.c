/* INI loader: rte_cfgfile for the values, a line index for positions, a key table per section. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>
#include <rte_cfgfile.h>

#include "app/config.h"

#define CFG_COMMENT  '#'
#define CFG_MAX_LINE 1024

/*
 * rte_cfgfile keeps no line numbers, and it silently accepts duplicate
 * sections and keys. A first pass indexes where every section and key sits
 * so that each error can name its line, and rejects what rte_cfgfile would
 * take without complaint.
 */
struct idx_key {
	char name[CFG_NAME_LEN];
	unsigned int line;
	bool used;
};

struct idx_section {
	char name[CFG_NAME_LEN];
	unsigned int line;
	struct idx_key *keys;
	unsigned int nb_keys;
};

struct cfg_ctx {
	const char *file;
	FILE *err;
	unsigned int nb_errors;
	struct idx_section *sections;
	unsigned int nb_sections;
	struct rte_cfgfile *ini;
};

enum cfg_kind {
	CK_UINT,
	CK_BOOL,
	CK_STRING,
	CK_ENUM,
	CK_IPV4,
	CK_IPV4_PREFIX,
	CK_LCORES,
	CK_NAME,  /* [A-Za-z0-9_.-]+ */
	CK_FLAGS, /* words from choices, blank or comma separated: bit i-1 for choice i; choice 0 =
		     none */
	CK_MAC,	  /* unicast Ethernet address xx:xx:xx:xx:xx:xx, stored in that form; "" = unset */
};

struct cfg_key {
	const char *name;
	enum cfg_kind kind;
	size_t off;
	size_t size;
	uint64_t min, max;
	const char *def; /* NULL: required */
	const char *const *choices;
};

struct cfg_section {
	const char *name;
	bool named; /* [name INSTANCE] */
	size_t off;
	size_t stride;
	unsigned int max;
	size_t count_off;
	size_t name_off;
	size_t name_size;
	const struct cfg_key *keys;
	bool required;
	bool name_is_path; /* NAME is a URL path prefix, not an identifier */
};

#define U(s, f, lo, hi, d)                                                                         \
	{                                                                                          \
#f, CK_UINT, offsetof(struct s, f), sizeof(((struct s *)0)->f), lo, hi, d, NULL    \
	}
#define B(s, f, d)                                                                                 \
	{                                                                                          \
#f, CK_BOOL, offsetof(struct s, f), sizeof(bool), 0, 0, d, NULL                    \
	}
#define S(s, f, kind, d)                                                                           \
	{                                                                                          \
#f, kind, offsetof(struct s, f), sizeof(((struct s *)0)->f), 0, 0, d, NULL         \
	}
#define E(s, f, ch, d)                                                                             \
	{                                                                                          \
#f, CK_ENUM, offsetof(struct s, f), sizeof(uint32_t), 0, 0, d, ch                  \
	}

static const char *const hugepage_choices[] = {"auto", "yes", "no", NULL};
static const char *const level_choices[] = {"emergency", "alert", "critical", "error", "warning",
					    "notice",	 "info",  "debug",    NULL};

static const struct cfg_key eal_keys[] = {
	S(ag_eal_conf, lcores, CK_LCORES, "0-1"),
	U(ag_eal_conf, main_lcore, 0, 127, "0"),
	U(ag_eal_conf, memory_mb, 64, 1 << 20, "512"),
	E(ag_eal_conf, hugepages, hugepage_choices, "auto"),
	S(ag_eal_conf, file_prefix, CK_NAME, "authgate"),
	B(ag_eal_conf, pci, "yes"),
	S(ag_eal_conf, extra_args, CK_STRING, ""),
	{NULL},
};

static const struct cfg_key dp_keys[] = {
	S(ag_dataplane_conf, lcores, CK_LCORES, "1"),
	U(ag_dataplane_conf, burst, 1, 512, "32"),
	U(ag_dataplane_conf, idle_sleep_us, 0, 100000, "0"),
	{NULL},
};

static const struct cfg_key log_keys[] = {
	E(ag_log_conf, level, level_choices, "info"),
	S(ag_log_conf, components, CK_STRING, ""),
	{NULL},
};

static const struct cfg_key port_keys[] = {
	S(ag_port_conf, device, CK_STRING, NULL),
	{"address", CK_IPV4_PREFIX, offsetof(struct ag_port_conf, addr), 0, 0, 0, NULL, NULL},
	{"gateway", CK_IPV4, offsetof(struct ag_port_conf, gateway), 0, 0, 0, "0.0.0.0", NULL},
	U(ag_port_conf, mtu, 68, 9600, "1500"),
	U(ag_port_conf, rx_desc, 64, 4096, "1024"),
	U(ag_port_conf, tx_desc, 64, 4096, "1024"),
	U(ag_port_conf, mbufs, 1023, 4194303, "16383"),
	U(ag_port_conf, mbuf_cache, 0, 512, "256"),
	B(ag_port_conf, garp, "yes"),
	S(ag_port_conf, mac, CK_MAC, ""),
	{NULL},
};

static const char *const syncookie_choices[] = {"auto", "always", "never", NULL};

static const struct cfg_key tcp_keys[] = {
	U(ag_tcp_conf, max_flows, 64, 4194304, "65536"),
	U(ag_tcp_conf, sndbuf, 4096, 64 << 20, "262144"),
	U(ag_tcp_conf, rcvbuf, 4096, 64 << 20, "131072"),
	U(ag_tcp_conf, max_half_open, 16, 1 << 20, "4096"),
	E(ag_tcp_conf, syncookies, syncookie_choices, "auto"),
	U(ag_tcp_conf, rto_min_ms, 10, 1000, "200"),
	U(ag_tcp_conf, time_wait_ms, 0, 240000, "10000"),
	U(ag_tcp_conf, idle_timeout_s, 0, 86400, "300"),
	U(ag_tcp_conf, keepalive_s, 0, 86400, "0"),
	{NULL},
};

static const struct cfg_key diag_keys[] = {
	U(ag_diag_conf, echo_port, 0, 65535, "0"),
	U(ag_diag_conf, discard_port, 0, 65535, "0"),
	U(ag_diag_conf, chargen_port, 0, 65535, "0"),
	{NULL},
};

static const struct cfg_key http_keys[] = {
	U(ag_http_conf, port, 0, 65535, "80"),
	U(ag_http_conf, max_request_line, 256, 1 << 20, "8192"),
	U(ag_http_conf, max_header_bytes, 1024, 1 << 20, "65536"),
	U(ag_http_conf, max_headers, 8, 256, "100"),
	U(ag_http_conf, max_body, 0, 1 << 30, "1048576"),
	U(ag_http_conf, header_timeout_s, 1, 3600, "10"),
	U(ag_http_conf, keepalive_timeout_s, 1, 86400, "60"),
	U(ag_http_conf, max_requests, 0, 1 << 30, "10000"),
	S(ag_http_conf, access_log, CK_STRING, ""),
	{NULL},
};

static const char *const site_auth_choices[] = {"none", "negotiate", "ntlm", "basic", NULL};
static const char *const trust_kind_choices[] = {"kerberos", "ntlm", "basic", NULL};

static const struct cfg_key site_keys[] = {
	S(ag_site_conf, root, CK_STRING, NULL),
	{"auth", CK_FLAGS, offsetof(struct ag_site_conf, auth), sizeof(uint32_t), 0, 0, "none",
	 site_auth_choices},
	{NULL},
};

static const struct cfg_key auth_keys[] = {
	B(ag_auth_conf, persist_non_ntlm, "yes"),
	B(ag_auth_conf, persist_single_request, "no"),
	U(ag_auth_conf, max_session_age_s, 1, 7 * 86400, "36000"),
	U(ag_auth_conf, max_auth_failures, 1, 1000, "5"),
	U(ag_auth_conf, retry_after_s, 1, 3600, "5"),
	U(ag_auth_conf, max_token_bytes, 1024, 65536, "49152"),
	B(ag_auth_conf, allow_basic_over_http, "no"),
	S(ag_auth_conf, default_trust, CK_STRING, ""),
	S(ag_auth_conf, ntlm_service, CK_STRING, ""),
	U(ag_auth_conf, ntlm_ctx_timeout_s, 1, 3600, "30"),
	U(ag_auth_conf, basic_cache_ttl_s, 0, 3600, "0"),
	U(ag_auth_conf, basic_cache_entries, 16, 65536, "4096"),
	{NULL},
};

static const struct cfg_key trust_keys[] = {
	E(ag_trust_conf, kind, trust_kind_choices, "kerberos"),
	S(ag_trust_conf, keytab, CK_STRING, ""),
	U(ag_trust_conf, max_concurrent_api, 1, 150, "10"),
	U(ag_trust_conf, timeout_s, 1, 3600, "45"),
	U(ag_trust_conf, warning_threshold_s, 0, 3600, "0"),
	U(ag_trust_conf, workers, 1, 64, "2"),
	B(ag_trust_conf, replay_cache, "yes"),
	S(ag_trust_conf, netbios_name, CK_STRING, ""),
	S(ag_trust_conf, user_file, CK_STRING, ""),
	{NULL},
};

static const struct cfg_key impair_keys[] = {
	U(ag_impair_conf, loss_permille, 0, 1000, "0"),
	U(ag_impair_conf, duplicate_permille, 0, 1000, "0"),
	U(ag_impair_conf, reorder_permille, 0, 1000, "0"),
	U(ag_impair_conf, delay_us, 0, 1000000, "0"),
	{NULL},
};

static const struct cfg_section sections[] = {
	{"eal", false, offsetof(struct ag_config, eal), 0, 1, 0, 0, 0, eal_keys, false},
	{"dataplane", false, offsetof(struct ag_config, dp), 0, 1, 0, 0, 0, dp_keys, false},
	{"log", false, offsetof(struct ag_config, log), 0, 1, 0, 0, 0, log_keys, false},
	{"port", true, offsetof(struct ag_config, ports), sizeof(struct ag_port_conf), AG_MAX_PORTS,
	 offsetof(struct ag_config, nb_ports), offsetof(struct ag_port_conf, name),
	 sizeof(((struct ag_port_conf *)0)->name), port_keys, true},
	{"tcp", false, offsetof(struct ag_config, tcp), 0, 1, 0, 0, 0, tcp_keys, false},
	{"diag", false, offsetof(struct ag_config, diag), 0, 1, 0, 0, 0, diag_keys, false},
	{"http", false, offsetof(struct ag_config, http), 0, 1, 0, 0, 0, http_keys, false},
	{"site", true, offsetof(struct ag_config, sites), sizeof(struct ag_site_conf), AG_MAX_SITES,
	 offsetof(struct ag_config, nb_sites), offsetof(struct ag_site_conf, prefix),
	 sizeof(((struct ag_site_conf *)0)->prefix), site_keys, false, true},
	{"auth", false, offsetof(struct ag_config, auth), 0, 1, 0, 0, 0, auth_keys, false},
	{"trust", true, offsetof(struct ag_config, trusts), sizeof(struct ag_trust_conf),
	 AG_MAX_TRUSTS, offsetof(struct ag_config, nb_trusts),
	 offsetof(struct ag_trust_conf, realm), sizeof(((struct ag_trust_conf *)0)->realm),
	 trust_keys, false},
	{"impair", false, offsetof(struct ag_config, impair), 0, 1, 0, 0, 0, impair_keys, false},
};

static void __attribute__((format(printf, 5, 6)))
cfg_error(struct cfg_ctx *ctx, unsigned int line, const char *section, const char *key,
	  const char *fmt, ...)
{
	va_list ap;

	ctx->nb_errors++;
	if (ctx->err == NULL)
		return;
	fprintf(ctx->err, "%s", ctx->file);
	if (line > 0)
		fprintf(ctx->err, ":%u", line);
	fputs(":", ctx->err);
	if (section != NULL)
		fprintf(ctx->err, " [%s]", section);
	if (key != NULL)
		fprintf(ctx->err, " %s:", key);
	fputc(' ', ctx->err);
	va_start(ap, fmt);
	vfprintf(ctx->err, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->err);
}

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int
index_add_key(struct cfg_ctx *ctx, struct idx_section *sec, const char *name, unsigned int line)
{
	struct idx_key *keys;

	for (unsigned int i = 0; i < sec->nb_keys; i++) {
		if (strcmp(sec->keys[i].name, name) == 0) {
			cfg_error(ctx, line, sec->name, name,
				  "duplicate key (first set on line %u)", sec->keys[i].line);
			return 0;
		}
	}
	keys = realloc(sec->keys, (sec->nb_keys + 1) * sizeof(*keys));
	if (keys == NULL)
		return -ENOMEM;
	sec->keys = keys;
	memset(&keys[sec->nb_keys], 0, sizeof(keys[0]));
	snprintf(keys[sec->nb_keys].name, CFG_NAME_LEN, "%s", name);
	keys[sec->nb_keys].line = line;
	sec->nb_keys++;
	return 0;
}

static int
index_file(struct cfg_ctx *ctx, FILE *f)
{
	char buf[CFG_MAX_LINE + 2];
	unsigned int line = 0;
	struct idx_section *cur = NULL;

	while (fgets(buf, sizeof(buf), f) != NULL) {
		char *s, *eq, *c;
		size_t len = strlen(buf);

		line++;
		if (len == sizeof(buf) - 1 && buf[len - 1] != '\n') {
			cfg_error(ctx, line, NULL, NULL, "line longer than %d characters",
				  CFG_MAX_LINE);
			int ch;
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
			continue;
		}
		c = strchr(buf, CFG_COMMENT);
		if (c != NULL)
			*c = '\0';
		s = trim(buf);
		if (*s == '\0')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			struct idx_section *secs;

			if (close == NULL || *trim(close + 1) != '\0') {
				cfg_error(ctx, line, NULL, NULL,
					  "malformed section header (expected [name])");
				cur = NULL;
				continue;
			}
			*close = '\0';
			s = trim(s + 1);
			if (*s == '\0' || strlen(s) >= CFG_NAME_LEN) {
				cfg_error(ctx, line, NULL, NULL, "section name empty or too long");
				cur = NULL;
				continue;
			}
			cur = NULL;
			for (unsigned int i = 0; i < ctx->nb_sections; i++) {
				if (strcmp(ctx->sections[i].name, s) == 0) {
					cfg_error(ctx, line, s, NULL,
						  "duplicate section (first on line %u)",
						  ctx->sections[i].line);
					cur = &ctx->sections[i];
				}
			}
			if (cur != NULL)
				continue;
			secs = realloc(ctx->sections, (ctx->nb_sections + 1) * sizeof(*secs));
			if (secs == NULL)
				return -ENOMEM;
			ctx->sections = secs;
			cur = &secs[ctx->nb_sections++];
			memset(cur, 0, sizeof(*cur));
			snprintf(cur->name, sizeof(cur->name), "%s", s);
			cur->line = line;
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			cfg_error(ctx, line, cur ? cur->name : NULL, NULL,
				  "expected 'key = value' or '[section]'");
			continue;
		}
		*eq = '\0';
		s = trim(s);
		if (*s == '\0') {
			cfg_error(ctx, line, cur ? cur->name : NULL, NULL,
				  "missing key before '='");
			continue;
		}
		if (strlen(s) >= CFG_NAME_LEN) {
			cfg_error(ctx, line, cur ? cur->name : NULL, NULL, "key name too long");
			continue;
		}
		if (strlen(trim(eq + 1)) >= CFG_VALUE_LEN) {
			cfg_error(ctx, line, cur ? cur->name : NULL, s,
				  "value longer than %d characters", CFG_VALUE_LEN - 1);
			continue;
		}
		if (cur == NULL) {
			cfg_error(ctx, line, NULL, s, "key outside any section");
			continue;
		}
		if (index_add_key(ctx, cur, s, line) < 0)
			return -ENOMEM;
	}
	if (ferror(f))
		return -EIO;
	return 0;
}

static struct idx_key *
index_find_key(struct idx_section *sec, const char *name)
{
	for (unsigned int i = 0; i < sec->nb_keys; i++)
		if (strcmp(sec->keys[i].name, name) == 0)
			return &sec->keys[i];
	return NULL;
}

static int
parse_u64(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (*v == '\0' || *v == '-' || *v == '+' || isspace((unsigned char)*v))
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 0);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = n;
	return 0;
}

static int
parse_ipv4(const char *v, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, v, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

/* Parses an EAL-style lcore list ("1", "1-3", "1,3,5-6") into ids. */
static int
parse_lcores(const char *v, uint16_t *ids, uint16_t max, uint16_t *nb_out)
{
	uint16_t nb = 0;
	const char *p = v;

	if (*p == '\0')
		return -EINVAL;
	while (*p != '\0') {
		char *end;
		unsigned long lo, hi;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		lo = strtoul(p, &end, 10);
		hi = lo;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			hi = strtoul(p, &end, 10);
			p = end;
		}
		if (lo > hi || hi > 127)
			return -ERANGE;
		for (unsigned long i = lo; i <= hi; i++) {
			for (uint16_t j = 0; j < nb; j++)
				if (ids != NULL && ids[j] == i)
					return -EEXIST;
			if (nb == max)
				return -E2BIG;
			if (ids != NULL)
				ids[nb] = (uint16_t)i;
			nb++;
		}
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return -EINVAL;
	}
	if (nb_out != NULL)
		*nb_out = nb;
	return 0;
}

static bool
is_name(const char *v)
{
	if (*v == '\0')
		return false;
	for (; *v != '\0'; v++)
		if (!isalnum((unsigned char)*v) && strchr("_.-", *v) == NULL)
			return false;
	return true;
}

static void
store_uint(void *dst, size_t size, uint64_t n)
{
	switch (size) {
	case 1:
		*(uint8_t *)dst = (uint8_t)n;
		break;
	case 2:
		*(uint16_t *)dst = (uint16_t)n;
		break;
	case 4:
		*(uint32_t *)dst = (uint32_t)n;
		break;
	default:
		*(uint64_t *)dst = n;
		break;
	}
}

static void
parse_value(struct cfg_ctx *ctx, const char *section, const struct cfg_key *k, const char *v,
	    unsigned int line, void *base)
{
	void *dst = (char *)base + k->off;
	uint64_t n;

	switch (k->kind) {
	case CK_UINT:
		if (parse_u64(v, &n) < 0) {
			cfg_error(ctx, line, section, k->name, "'%s' is not a non-negative integer",
				  v);
			return;
		}
		if (n < k->min || n > k->max) {
			cfg_error(ctx, line, section, k->name,
				  "%" PRIu64 " is out of range %" PRIu64 "..%" PRIu64, n, k->min,
				  k->max);
			return;
		}
		store_uint(dst, k->size, n);
		return;
	case CK_BOOL:
		if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") ||
		    !strcmp(v, "1")) {
			*(bool *)dst = true;
		} else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
			   !strcasecmp(v, "off") || !strcmp(v, "0")) {
			*(bool *)dst = false;
		} else {
			cfg_error(ctx, line, section, k->name, "'%s' is not yes or no", v);
		}
		return;
	case CK_NAME:
		if (*v != '\0' && !is_name(v)) {
			cfg_error(ctx, line, section, k->name,
				  "'%s' may hold only letters, digits, '_', '.' and '-'", v);
			return;
		}
		/* fall through */
	case CK_STRING:
		if (strlen(v) >= k->size) {
			cfg_error(ctx, line, section, k->name, "longer than %zu characters",
				  k->size - 1);
			return;
		}
		snprintf(dst, k->size, "%s", v);
		return;
	case CK_ENUM:
		for (unsigned int i = 0; k->choices[i] != NULL; i++) {
			if (strcasecmp(v, k->choices[i]) == 0) {
				*(uint32_t *)dst = i;
				return;
			}
		}
		{
			char list[256] = "";
			for (unsigned int i = 0; k->choices[i] != NULL; i++) {
				strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
				strncat(list, k->choices[i], sizeof(list) - strlen(list) - 1);
			}
			cfg_error(ctx, line, section, k->name, "'%s' is not one of: %s", v, list);
		}
		return;
	case CK_FLAGS: {
		char copy[AG_CFG_STR], *save = NULL, *w;
		uint32_t bits = 0;

		snprintf(copy, sizeof(copy), "%s", v);
		for (w = strtok_r(copy, " \t,", &save); w != NULL;
		     w = strtok_r(NULL, " \t,", &save)) {
			unsigned int i;

			for (i = 0; k->choices[i] != NULL; i++)
				if (strcasecmp(w, k->choices[i]) == 0)
					break;
			if (k->choices[i] == NULL) {
				cfg_error(ctx, line, section, k->name, "'%s' is not one of: %s", w,
					  "none, negotiate, ntlm, basic");
				return;
			}
			if (i > 0)
				bits |= 1u << (i - 1);
		}
		*(uint32_t *)dst = bits;
		return;
	}
	case CK_MAC: {
		unsigned int b[6] = {0};
		bool ok = strlen(v) == 17;

		if (*v == '\0') {
			*(char *)dst = '\0';
			return;
		}
		/* exactly six two-digit hex octets joined by ':' (sscanf alone takes " 1" or "+1")
		 */
		for (unsigned int i = 0; ok && i < 17; i++)
			ok = i % 3 == 2 ? v[i] == ':' : isxdigit((unsigned char)v[i]) != 0;
		if (!ok || sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4],
				  &b[5]) != 6) {
			cfg_error(ctx, line, section, k->name,
				  "'%s' is not a MAC address like 02:00:00:00:00:01", v);
			return;
		}
		if (b[0] & 1) {
			cfg_error(ctx, line, section, k->name,
				  "%s is a multicast address: a port needs a unicast one", v);
			return;
		}
		if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0) {
			cfg_error(ctx, line, section, k->name, "the all-zero address is not valid");
			return;
		}
		snprintf(dst, k->size, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3],
			 b[4], b[5]);
		return;
	}
	case CK_IPV4:
		if (parse_ipv4(v, dst) < 0)
			cfg_error(ctx, line, section, k->name, "'%s' is not an IPv4 address", v);
		return;
	case CK_IPV4_PREFIX: {
		char addr[32];
		const char *slash = strchr(v, '/');
		uint64_t plen;
		struct ag_port_conf *pc = base;

		if (slash == NULL || (size_t)(slash - v) >= sizeof(addr)) {
			cfg_error(ctx, line, section, k->name,
				  "'%s' is not ADDRESS/PREFIX (e.g. 198.18.0.2/24)", v);
			return;
		}
		memcpy(addr, v, slash - v);
		addr[slash - v] = '\0';
		if (parse_ipv4(addr, &pc->addr) < 0) {
			cfg_error(ctx, line, section, k->name, "'%s' is not an IPv4 address", addr);
			return;
		}
		if (parse_u64(slash + 1, &plen) < 0 || plen < 1 || plen > 32) {
			cfg_error(ctx, line, section, k->name, "prefix length '%s' is not 1..32",
				  slash + 1);
			return;
		}
		pc->prefix_len = (uint8_t)plen;
		return;
	}
	case CK_LCORES: {
		int rc = parse_lcores(v, NULL, AG_MAX_DP_LCORES * 8, NULL);
		if (rc < 0) {
			cfg_error(ctx, line, section, k->name,
				  "'%s' is not an lcore list like 1 or 1-3 or 1,3 (%s)", v,
				  rc == -ERANGE ? "lcore ids are 0..127" : "bad syntax");
			return;
		}
		if (strlen(v) >= k->size) {
			cfg_error(ctx, line, section, k->name, "longer than %zu characters",
				  k->size - 1);
			return;
		}
		snprintf(dst, k->size, "%s", v);
		return;
	}
	}
}

static void
load_section(struct cfg_ctx *ctx, const struct cfg_section *desc, struct idx_section *idx,
	     void *base)
{
	const char *secname = idx ? idx->name : desc->name;

	for (const struct cfg_key *k = desc->keys; k->name != NULL; k++) {
		struct idx_key *ik = idx ? index_find_key(idx, k->name) : NULL;
		const char *v;

		if (ik == NULL) {
			if (k->def == NULL) {
				cfg_error(ctx, idx ? idx->line : 0, secname, k->name,
					  "required key is missing");
				continue;
			}
			parse_value(ctx, secname, k, k->def, 0, base);
			continue;
		}
		ik->used = true;
		v = rte_cfgfile_get_entry(ctx->ini, idx->name, k->name);
		if (v == NULL) {
			cfg_error(ctx, ik->line, secname, k->name, "rte_cfgfile lost this key");
			continue;
		}
		parse_value(ctx, secname, k, v, ik->line, base);
	}
	if (idx == NULL)
		return;
	for (unsigned int i = 0; i < idx->nb_keys; i++) {
		if (!idx->keys[i].used)
			cfg_error(ctx, idx->keys[i].line, idx->name, idx->keys[i].name,
				  "unknown key");
	}
}

/* Line of KEY in SECTION (or of the section, or 0), for errors found after loading. */
static unsigned int
line_of(struct cfg_ctx *ctx, const char *section, const char *key)
{
	for (unsigned int i = 0; i < ctx->nb_sections; i++) {
		struct idx_key *k;

		if (strcmp(ctx->sections[i].name, section) != 0)
			continue;
		k = key ? index_find_key(&ctx->sections[i], key) : NULL;
		return k ? k->line : ctx->sections[i].line;
	}
	return 0;
}

/* Cross-section rules: the things no single key can check alone. */
static void
check_config(struct cfg_ctx *ctx, struct ag_config *cfg)
{
	uint16_t eal_ids[128], nb_eal = 0;
	char sec[192];

	if (parse_lcores(cfg->eal.lcores, eal_ids, 128, &nb_eal) < 0)
		return; /* already reported */
	if (parse_lcores(cfg->dp.lcores, cfg->dp.lcore_ids, AG_MAX_DP_LCORES, &cfg->dp.nb_lcores) <
	    0) {
		cfg_error(ctx, line_of(ctx, "dataplane", "lcores"), "dataplane", "lcores",
			  "'%s' is not a list of at most %d distinct lcores", cfg->dp.lcores,
			  AG_MAX_DP_LCORES);
		return;
	}
	bool main_found = false;
	for (uint16_t j = 0; j < nb_eal; j++)
		main_found |= eal_ids[j] == cfg->eal.main_lcore;
	if (!main_found)
		cfg_error(ctx, line_of(ctx, "eal", "main_lcore"), "eal", "main_lcore",
			  "lcore %u is not in eal lcores '%s'", cfg->eal.main_lcore,
			  cfg->eal.lcores);
	for (uint16_t i = 0; i < cfg->dp.nb_lcores; i++) {
		bool found = false;
		for (uint16_t j = 0; j < nb_eal; j++)
			found |= eal_ids[j] == cfg->dp.lcore_ids[i];
		if (!found)
			cfg_error(ctx, line_of(ctx, "dataplane", "lcores"), "dataplane", "lcores",
				  "lcore %u is not in eal lcores '%s'", cfg->dp.lcore_ids[i],
				  cfg->eal.lcores);
		if (cfg->dp.lcore_ids[i] == cfg->eal.main_lcore)
			cfg_error(ctx, line_of(ctx, "dataplane", "lcores"), "dataplane", "lcores",
				  "lcore %u is the main lcore, which runs the control plane",
				  cfg->eal.main_lcore);
	}
	{
		const uint32_t dports[] = {cfg->diag.echo_port, cfg->diag.discard_port,
					   cfg->diag.chargen_port};
		const char *const dnames[] = {"echo_port", "discard_port", "chargen_port"};
		for (int i = 0; i < 3; i++)
			if (dports[i] != 0 && dports[i] == cfg->http.port)
				cfg_error(ctx, line_of(ctx, "diag", dnames[i]), "diag", dnames[i],
					  "port %u is also the [http] port", dports[i]);
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < i; j++)
				if (dports[i] != 0 && dports[i] == dports[j])
					cfg_error(ctx, line_of(ctx, "diag", dnames[i]), "diag",
						  dnames[i], "port %u is also %s", dports[i],
						  dnames[j]);
	}
	if (cfg->http.access_log[0] != '\0') {
		char dir[AG_CFG_STR];
		char *slash;
		struct stat st;

		snprintf(dir, sizeof(dir), "%s", cfg->http.access_log);
		slash = strrchr(dir, '/');
		if (dir[0] != '/' || slash == NULL)
			cfg_error(ctx, line_of(ctx, "http", "access_log"), "http", "access_log",
				  "'%s' is not an absolute path", cfg->http.access_log);
		else if ((*(slash == dir ? slash + 1 : slash) = '\0', stat(dir, &st) != 0) ||
			 !S_ISDIR(st.st_mode))
			cfg_error(ctx, line_of(ctx, "http", "access_log"), "http", "access_log",
				  "directory '%s' does not exist", dir);
	}
	for (unsigned int i = 0; i < cfg->nb_trusts; i++) {
		const struct ag_trust_conf *t = &cfg->trusts[i];

		snprintf(sec, sizeof(sec), "trust %s", t->realm);
		if (t->keytab[0] != '\0' && access(t->keytab, R_OK) != 0)
			cfg_error(ctx, line_of(ctx, sec, "keytab"), sec, "keytab",
				  "cannot read '%s': %s", t->keytab, strerror(errno));
		if (t->user_file[0] != '\0' && access(t->user_file, R_OK) != 0)
			cfg_error(ctx, line_of(ctx, sec, "user_file"), sec, "user_file",
				  "cannot read '%s': %s", t->user_file, strerror(errno));
		if (t->kind == 1 && t->netbios_name[0] == '\0')
			cfg_error(ctx, line_of(ctx, sec, "kind"), sec, "netbios_name",
				  "an ntlm trust needs its NetBIOS domain name");
		if (strlen(t->netbios_name) > 15)
			cfg_error(ctx, line_of(ctx, sec, "netbios_name"), sec, "netbios_name",
				  "'%s' is longer than 15 characters", t->netbios_name);
	}
	for (unsigned int i = 0; i < cfg->nb_sites; i++) {
		struct stat st;
		const struct ag_site_conf *site = &cfg->sites[i];

		snprintf(sec, sizeof(sec), "site %s", site->prefix);
		if (site->auth != AG_AUTH_NONE && cfg->nb_trusts == 0)
			cfg_error(ctx, line_of(ctx, sec, "auth"), sec, "auth",
				  "authentication needs at least one [trust REALM] section");

		snprintf(sec, sizeof(sec), "site %s", site->prefix);
		if (site->root[0] != '/')
			cfg_error(ctx, line_of(ctx, sec, "root"), sec, "root",
				  "'%s' is not an absolute path", site->root);
		else if (stat(site->root, &st) != 0 || !S_ISDIR(st.st_mode))
			cfg_error(ctx, line_of(ctx, sec, "root"), sec, "root",
				  "'%s' is not a directory", site->root);
	}
	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		const struct ag_port_conf *p = &cfg->ports[i];
		uint32_t mask = p->prefix_len == 32 ? ~0u : ~(~0u >> p->prefix_len);

		snprintf(sec, sizeof(sec), "port %s", p->name);
		if (p->gateway != 0 && (p->gateway & mask) != (p->addr & mask))
			cfg_error(ctx, line_of(ctx, sec, "gateway"), sec, "gateway",
				  "outside the port's subnet");
		for (unsigned int j = 0; j < i; j++)
			if (cfg->ports[j].addr == p->addr)
				cfg_error(ctx, line_of(ctx, sec, "address"), sec, "address",
					  "the same address as [port %s]", cfg->ports[j].name);
	}
}

static void
load_all(struct cfg_ctx *ctx, struct ag_config *cfg)
{
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		const struct cfg_section *desc = &sections[s];
		unsigned int count = 0;

		if (!desc->named) {
			struct idx_section *idx = NULL;
			for (unsigned int i = 0; i < ctx->nb_sections; i++)
				if (strcmp(ctx->sections[i].name, desc->name) == 0)
					idx = &ctx->sections[i];
			load_section(ctx, desc, idx, (char *)cfg + desc->off);
			continue;
		}
		for (unsigned int i = 0; i < ctx->nb_sections; i++) {
			struct idx_section *idx = &ctx->sections[i];
			size_t nl = strlen(desc->name);
			const char *inst;
			char *base;

			if (strncmp(idx->name, desc->name, nl) != 0 ||
			    (idx->name[nl] != ' ' && idx->name[nl] != '\0'))
				continue;
			inst = idx->name[nl] == ' ' ? idx->name + nl + 1 : "";
			if (desc->name_is_path) {
				if (inst[0] != '/' || strlen(inst) >= desc->name_size ||
				    strstr(inst, "..") != NULL ||
				    strpbrk(inst, " \t%?#\\") != NULL) {
					cfg_error(ctx, idx->line, idx->name, NULL,
						  "expected [%s /PREFIX]: a URL path starting with "
						  "'/', "
						  "without '..', blanks, '%%', '?', '#' or '\\', "
						  "at most "
						  "%zu characters",
						  desc->name, desc->name_size - 1);
					for (unsigned int k = 0; k < idx->nb_keys; k++)
						idx->keys[k].used = true;
					continue;
				}
			} else if (!is_name(inst) || strlen(inst) >= desc->name_size) {
				cfg_error(ctx, idx->line, idx->name, NULL,
					  "expected [%s NAME] with a NAME of at most %zu letters, "
					  "digits, '_', '.' or '-'",
					  desc->name, desc->name_size - 1);
				for (unsigned int k = 0; k < idx->nb_keys; k++)
					idx->keys[k].used = true;
				continue;
			}
			if (count == desc->max) {
				cfg_error(ctx, idx->line, idx->name, NULL,
					  "too many [%s] sections (at most %u)", desc->name,
					  desc->max);
				for (unsigned int k = 0; k < idx->nb_keys; k++)
					idx->keys[k].used = true;
				continue;
			}
			base = (char *)cfg + desc->off + count * desc->stride;
			snprintf(base + desc->name_off, desc->name_size, "%s", inst);
			load_section(ctx, desc, idx, base);
			count++;
		}
		*(unsigned int *)((char *)cfg + desc->count_off) = count;
		if (count == 0 && desc->required)
			cfg_error(ctx, 0, NULL, NULL,
				  "no [%s NAME] section: at least one is required", desc->name);
	}
	/* sections that no table claims */
	for (unsigned int i = 0; i < ctx->nb_sections; i++) {
		bool known = false;
		for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
			size_t nl = strlen(sections[s].name);
			if (strncmp(ctx->sections[i].name, sections[s].name, nl) == 0 &&
			    (ctx->sections[i].name[nl] == '\0' ||
			     (sections[s].named && ctx->sections[i].name[nl] == ' ')))
				known = true;
		}
		if (!known)
			cfg_error(ctx, ctx->sections[i].line, ctx->sections[i].name, NULL,
				  "unknown section");
	}
}

int
ag_config_load(const char *file, struct ag_config *cfg, FILE *err)
{
	struct cfg_ctx ctx = {.file = file, .err = err};
	struct rte_cfgfile_parameters params = {.comment_character = CFG_COMMENT};
	FILE *f;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	f = fopen(file, "r");
	if (f == NULL) {
		rc = -errno;
		if (err != NULL)
			fprintf(err, "%s: cannot open: %s\n", file, strerror(-rc));
		return rc;
	}
	rc = index_file(&ctx, f);
	fclose(f);
	if (rc < 0)
		goto cleanup;
	if (ctx.nb_errors == 0) {
		ctx.ini = rte_cfgfile_load_with_params(file, 0, &params);
		if (ctx.ini == NULL) {
			cfg_error(&ctx, 0, NULL, NULL, "rte_cfgfile could not read the file");
			goto cleanup;
		}
		load_all(&ctx, cfg);
		if (ctx.nb_errors == 0)
			check_config(&ctx, cfg);
	}
	snprintf(cfg->path, sizeof(cfg->path), "%s", file);
	rc = ctx.nb_errors ? -EINVAL : 0;
cleanup:
	if (ctx.ini != NULL)
		rte_cfgfile_close(ctx.ini);
	for (unsigned int i = 0; i < ctx.nb_sections; i++)
		free(ctx.sections[i].keys);
	free(ctx.sections);
	return rc;
}

static void
dump_section(FILE *out, const char *name, const struct cfg_key *keys, const void *base)
{
	fprintf(out, "[%s]\n", name);
	for (const struct cfg_key *k = keys; k->name != NULL; k++) {
		const void *src = (const char *)base + k->off;
		char a[INET_ADDRSTRLEN];
		struct in_addr ia;

		fprintf(out, "%s = ", k->name);
		switch (k->kind) {
		case CK_UINT: {
			uint64_t n = k->size == 1   ? *(const uint8_t *)src
				     : k->size == 2 ? *(const uint16_t *)src
				     : k->size == 4 ? *(const uint32_t *)src
						    : *(const uint64_t *)src;
			fprintf(out, "%" PRIu64 "\n", n);
			break;
		}
		case CK_BOOL:
			fprintf(out, "%s\n", *(const bool *)src ? "yes" : "no");
			break;
		case CK_ENUM:
			fprintf(out, "%s\n", k->choices[*(const uint32_t *)src]);
			break;
		case CK_FLAGS: {
			uint32_t bits = *(const uint32_t *)src;
			bool any = false;
			for (unsigned int i = 1; k->choices[i] != NULL; i++)
				if (bits & (1u << (i - 1))) {
					fprintf(out, "%s%s", any ? " " : "", k->choices[i]);
					any = true;
				}
			fprintf(out, "%s\n", any ? "" : k->choices[0]);
			break;
		}
		case CK_IPV4:
			ia.s_addr = htonl(*(const uint32_t *)src);
			fprintf(out, "%s\n", inet_ntop(AF_INET, &ia, a, sizeof(a)));
			break;
		case CK_IPV4_PREFIX: {
			const struct ag_port_conf *pc = base;
			ia.s_addr = htonl(pc->addr);
			fprintf(out, "%s/%u\n", inet_ntop(AF_INET, &ia, a, sizeof(a)),
				pc->prefix_len);
			break;
		}
		default:
			fprintf(out, "%s\n", (const char *)src);
			break;
		}
	}
	fputc('\n', out);
}

void
ag_config_dump(const struct ag_config *cfg, FILE *out)
{
	fprintf(out, "# effective configuration of %s\n", cfg->path);
	dump_section(out, "eal", eal_keys, &cfg->eal);
	dump_section(out, "dataplane", dp_keys, &cfg->dp);
	dump_section(out, "log", log_keys, &cfg->log);
	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		char name[64];
		snprintf(name, sizeof(name), "port %s", cfg->ports[i].name);
		dump_section(out, name, port_keys, &cfg->ports[i]);
	}
	dump_section(out, "tcp", tcp_keys, &cfg->tcp);
	dump_section(out, "diag", diag_keys, &cfg->diag);
	dump_section(out, "http", http_keys, &cfg->http);
	for (unsigned int i = 0; i < cfg->nb_sites; i++) {
		char name[160];
		snprintf(name, sizeof(name), "site %s", cfg->sites[i].prefix);
		dump_section(out, name, site_keys, &cfg->sites[i]);
	}
	dump_section(out, "auth", auth_keys, &cfg->auth);
	dump_section(out, "impair", impair_keys, &cfg->impair);
	for (unsigned int i = 0; i < cfg->nb_trusts; i++) {
		char name[96];
		snprintf(name, sizeof(name), "trust %s", cfg->trusts[i].realm);
		dump_section(out, name, trust_keys, &cfg->trusts[i]);
	}
}
