/* INI engine: rte_cfgfile for the values, a line index for positions, key tables from modules. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <rte_cfgfile.h>

#include "common/ini.h"

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

struct ini_ctx {
	const char *file;
	FILE *err;
	unsigned int nb_errors;
	struct idx_section *sections;
	unsigned int nb_sections;
	struct rte_cfgfile *ini;
};

void
ini_error(struct ini_ctx *ctx, unsigned int line, const char *section, const char *key,
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
index_add_key(struct ini_ctx *ctx, struct idx_section *sec, const char *name, unsigned int line)
{
	struct idx_key *keys;

	for (unsigned int i = 0; i < sec->nb_keys; i++) {
		if (strcmp(sec->keys[i].name, name) == 0) {
			ini_error(ctx, line, sec->name, name,
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
index_file(struct ini_ctx *ctx, FILE *f)
{
	char buf[CFG_MAX_LINE + 2];
	unsigned int line = 0;
	struct idx_section *cur = NULL;

	while (fgets(buf, sizeof(buf), f) != NULL) {
		char *s, *eq, *c;
		size_t len = strlen(buf);

		line++;
		if (len == sizeof(buf) - 1 && buf[len - 1] != '\n') {
			ini_error(ctx, line, NULL, NULL, "line longer than %d characters",
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
				ini_error(ctx, line, NULL, NULL,
					  "malformed section header (expected [name])");
				cur = NULL;
				continue;
			}
			*close = '\0';
			s = trim(s + 1);
			if (*s == '\0' || strlen(s) >= CFG_NAME_LEN) {
				ini_error(ctx, line, NULL, NULL, "section name empty or too long");
				cur = NULL;
				continue;
			}
			cur = NULL;
			for (unsigned int i = 0; i < ctx->nb_sections; i++) {
				if (strcmp(ctx->sections[i].name, s) == 0) {
					ini_error(ctx, line, s, NULL,
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
			ini_error(ctx, line, cur ? cur->name : NULL, NULL,
				  "expected 'key = value' or '[section]'");
			continue;
		}
		*eq = '\0';
		s = trim(s);
		if (*s == '\0') {
			ini_error(ctx, line, cur ? cur->name : NULL, NULL,
				  "missing key before '='");
			continue;
		}
		if (strlen(s) >= CFG_NAME_LEN) {
			ini_error(ctx, line, cur ? cur->name : NULL, NULL, "key name too long");
			continue;
		}
		if (strlen(trim(eq + 1)) >= CFG_VALUE_LEN) {
			ini_error(ctx, line, cur ? cur->name : NULL, s,
				  "value longer than %d characters", CFG_VALUE_LEN - 1);
			continue;
		}
		if (*trim(eq + 1) == '\0' && cur != NULL) {
			/* rte_cfgfile would refuse the whole file without saying where */
			ini_error(ctx, line, cur->name, s,
				  "empty value (leave the key out to get its default)");
			continue;
		}
		if (cur == NULL) {
			ini_error(ctx, line, NULL, s, "key outside any section");
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

int
ini_parse_lcores(const char *v, uint16_t *ids, uint16_t max, uint16_t *nb_out)
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

static uint64_t
load_uint(const void *src, size_t size)
{
	return size == 1   ? *(const uint8_t *)src
	       : size == 2 ? *(const uint16_t *)src
	       : size == 4 ? *(const uint32_t *)src
			   : *(const uint64_t *)src;
}

static void
choice_list(const char *const *choices, char *list, size_t size)
{
	list[0] = '\0';
	for (unsigned int i = 0; choices[i] != NULL; i++) {
		strncat(list, i ? ", " : "", size - strlen(list) - 1);
		strncat(list, choices[i], size - strlen(list) - 1);
	}
}

static void
store_string(struct ini_ctx *ctx, const char *section, const struct ini_key *k, const char *v,
	     unsigned int line, void *dst)
{
	if (strlen(v) >= k->size) {
		ini_error(ctx, line, section, k->name, "longer than %zu characters", k->size - 1);
		return;
	}
	snprintf(dst, k->size, "%s", v);
}

static void
parse_value(struct ini_ctx *ctx, const char *section, const struct ini_key *k, const char *v,
	    unsigned int line, void *base)
{
	void *dst = (char *)base + k->off;
	uint64_t n;

	switch (k->kind) {
	case INI_UINT:
		if (parse_u64(v, &n) < 0) {
			ini_error(ctx, line, section, k->name, "'%s' is not a non-negative integer",
				  v);
			return;
		}
		if (n < k->min || n > k->max) {
			ini_error(ctx, line, section, k->name,
				  "%" PRIu64 " is out of range %" PRIu64 "..%" PRIu64, n, k->min,
				  k->max);
			return;
		}
		store_uint(dst, k->size, k->scale > 1 ? n * k->scale : n);
		return;
	case INI_BOOL:
		if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") ||
		    !strcmp(v, "1")) {
			*(bool *)dst = true;
		} else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
			   !strcasecmp(v, "off") || !strcmp(v, "0")) {
			*(bool *)dst = false;
		} else {
			ini_error(ctx, line, section, k->name, "'%s' is not yes or no", v);
		}
		return;
	case INI_NAME:
		if (*v != '\0' && !is_name(v)) {
			ini_error(ctx, line, section, k->name,
				  "'%s' may hold only letters, digits, '_', '.' and '-'", v);
			return;
		}
		/* fall through */
	case INI_STRING:
		store_string(ctx, section, k, v, line, dst);
		return;
	case INI_ENUM:
		for (unsigned int i = 0; k->choices[i] != NULL; i++) {
			if (strcasecmp(v, k->choices[i]) == 0) {
				store_uint(dst, k->size, i);
				return;
			}
		}
		{
			char list[256];

			choice_list(k->choices, list, sizeof(list));
			ini_error(ctx, line, section, k->name, "'%s' is not one of: %s", v, list);
		}
		return;
	case INI_FLAGS: {
		char copy[INI_STR], *save = NULL, *w;
		uint32_t bits = 0;

		snprintf(copy, sizeof(copy), "%s", v);
		for (w = strtok_r(copy, " \t,", &save); w != NULL;
		     w = strtok_r(NULL, " \t,", &save)) {
			unsigned int i;

			for (i = 0; k->choices[i] != NULL; i++)
				if (strcasecmp(w, k->choices[i]) == 0)
					break;
			if (k->choices[i] == NULL) {
				char list[256];

				choice_list(k->choices, list, sizeof(list));
				ini_error(ctx, line, section, k->name, "'%s' is not one of: %s", w,
					  list);
				return;
			}
			if (i > 0)
				bits |= 1u << (i - 1);
		}
		*(uint32_t *)dst = bits;
		return;
	}
	case INI_MAC: {
		unsigned int b[6] = {0};
		bool ok = strlen(v) == 17;

		if (*v == '\0') {
			*(char *)dst = '\0';
			return;
		}
		/* exactly six two-digit hex octets joined by ':' (sscanf alone takes " 1"
		 * or "+1")
		 */
		for (unsigned int i = 0; ok && i < 17; i++)
			ok = i % 3 == 2 ? v[i] == ':' : isxdigit((unsigned char)v[i]) != 0;
		if (!ok || sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4],
				  &b[5]) != 6) {
			ini_error(ctx, line, section, k->name,
				  "'%s' is not a MAC address like 02:00:00:00:00:01", v);
			return;
		}
		if (b[0] & 1) {
			ini_error(ctx, line, section, k->name,
				  "%s is a multicast address: a port needs a unicast one", v);
			return;
		}
		if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0) {
			ini_error(ctx, line, section, k->name, "the all-zero address is not valid");
			return;
		}
		snprintf(dst, k->size, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3],
			 b[4], b[5]);
		return;
	}
	case INI_IPV4:
		if (parse_ipv4(v, dst) < 0)
			ini_error(ctx, line, section, k->name, "'%s' is not an IPv4 address", v);
		return;
	case INI_IPV4_PREFIX: {
		char addr[32];
		const char *slash = strchr(v, '/');
		uint64_t plen;
		uint32_t *addr_out = dst;
		uint8_t *len_out = (uint8_t *)base + k->aux_off;

		if (slash == NULL || (size_t)(slash - v) >= sizeof(addr)) {
			ini_error(ctx, line, section, k->name,
				  "'%s' is not ADDRESS/PREFIX (e.g. 198.18.0.2/24)", v);
			return;
		}
		memcpy(addr, v, slash - v);
		addr[slash - v] = '\0';
		if (parse_ipv4(addr, addr_out) < 0) {
			ini_error(ctx, line, section, k->name, "'%s' is not an IPv4 address", addr);
			return;
		}
		if (parse_u64(slash + 1, &plen) < 0 || plen < 1 || plen > 32) {
			ini_error(ctx, line, section, k->name, "prefix length '%s' is not 1..32",
				  slash + 1);
			return;
		}
		*len_out = (uint8_t)plen;
		return;
	}
	case INI_LCORES: {
		int rc = ini_parse_lcores(v, NULL, 128, NULL);
		if (rc < 0) {
			ini_error(ctx, line, section, k->name,
				  "'%s' is not an lcore list like 1 or 1-3 or 1,3 (%s)", v,
				  rc == -ERANGE ? "lcore ids are 0..127" : "bad syntax");
			return;
		}
		store_string(ctx, section, k, v, line, dst);
		return;
	}
	}
}

static void
load_section(struct ini_ctx *ctx, const struct ini_section *desc, struct idx_section *idx,
	     void *base)
{
	const char *secname = idx ? idx->name : desc->name;

	for (const struct ini_key *k = desc->keys; k->name != NULL; k++) {
		struct idx_key *ik = idx ? index_find_key(idx, k->name) : NULL;
		const char *v;

		if (ik == NULL) {
			if (k->def == NULL) {
				ini_error(ctx, idx ? idx->line : 0, secname, k->name,
					  "required key is missing");
				continue;
			}
			parse_value(ctx, secname, k, k->def, 0, base);
			continue;
		}
		ik->used = true;
		v = rte_cfgfile_get_entry(ctx->ini, idx->name, k->name);
		if (v == NULL) {
			ini_error(ctx, ik->line, secname, k->name, "rte_cfgfile lost this key");
			continue;
		}
		parse_value(ctx, secname, k, v, ik->line, base);
	}
}

unsigned int
ini_line(struct ini_ctx *ctx, const char *section, const char *key)
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

static void
mark_used(struct idx_section *idx)
{
	for (unsigned int k = 0; k < idx->nb_keys; k++)
		idx->keys[k].used = true;
}

/* Does the instance name fit the section's rule? Reports it when not. */
static bool
instance_ok(struct ini_ctx *ctx, const struct ini_section *desc, struct idx_section *idx,
	    const char *inst)
{
	if (desc->name_is_path) {
		if (inst[0] != '/' || strlen(inst) >= desc->name_size ||
		    strstr(inst, "..") != NULL || strpbrk(inst, " \t%?#\\") != NULL) {
			ini_error(ctx, idx->line, idx->name, NULL,
				  "expected [%s /PREFIX]: a URL path starting with '/', "
				  "without '..', blanks, '%%', '?', '#' or '\\', at most "
				  "%zu characters",
				  desc->name, desc->name_size - 1);
			return false;
		}
	} else if (!is_name(inst) || strlen(inst) >= desc->name_size) {
		ini_error(ctx, idx->line, idx->name, NULL,
			  "expected [%s NAME] with a NAME of at most %zu letters, "
			  "digits, '_', '.' or '-'",
			  desc->name, desc->name_size - 1);
		return false;
	}
	return true;
}

static void
load_binding(struct ini_ctx *ctx, const struct ini_binding *b)
{
	const struct ini_section *desc = b->section;
	char *module = b->base;
	unsigned int count = 0;
	size_t nl = strlen(desc->name);

	if (!desc->named) {
		struct idx_section *idx = NULL;

		for (unsigned int i = 0; i < ctx->nb_sections; i++)
			if (strcmp(ctx->sections[i].name, desc->name) == 0)
				idx = &ctx->sections[i];
		load_section(ctx, desc, idx, module + desc->off);
		return;
	}
	for (unsigned int i = 0; i < ctx->nb_sections; i++) {
		struct idx_section *idx = &ctx->sections[i];
		const char *inst;
		char *base;

		if (strncmp(idx->name, desc->name, nl) != 0 ||
		    (idx->name[nl] != ' ' && idx->name[nl] != '\0'))
			continue;
		inst = idx->name[nl] == ' ' ? idx->name + nl + 1 : "";
		if (!instance_ok(ctx, desc, idx, inst)) {
			mark_used(idx);
			continue;
		}
		if (count == desc->max) {
			ini_error(ctx, idx->line, idx->name, NULL,
				  "too many [%s] sections (at most %u)", desc->name, desc->max);
			mark_used(idx);
			continue;
		}
		base = module + desc->off + count * desc->stride;
		memset(base, 0, desc->stride);
		snprintf(base + desc->name_off, desc->name_size, "%s", inst);
		load_section(ctx, desc, idx, base);
		count++;
	}
	*(unsigned int *)(module + desc->count_off) = count;
	if (count == 0 && desc->required)
		ini_error(ctx, 0, NULL, NULL, "no [%s NAME] section: at least one is required",
			  desc->name);
}

static bool
claimed(const struct ini_binding *b, unsigned int nb, const char *name)
{
	for (unsigned int s = 0; s < nb; s++) {
		size_t nl = strlen(b[s].section->name);

		if (strncmp(name, b[s].section->name, nl) == 0 &&
		    (name[nl] == '\0' || (b[s].section->named && name[nl] == ' ')))
			return true;
	}
	return false;
}

int
ini_load(const char *file, const struct ini_binding *b, unsigned int nb, FILE *err,
	 void (*check)(struct ini_ctx *ctx, void *arg), void *arg)
{
	struct ini_ctx ctx = {.file = file, .err = err};
	struct rte_cfgfile_parameters params = {.comment_character = CFG_COMMENT};
	FILE *f;
	int rc;

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
			ini_error(&ctx, 0, NULL, NULL, "rte_cfgfile could not read the file");
			goto cleanup;
		}
		for (unsigned int i = 0; i < nb; i++)
			load_binding(&ctx, &b[i]);
		for (unsigned int i = 0; i < ctx.nb_sections; i++) {
			struct idx_section *idx = &ctx.sections[i];

			if (!claimed(b, nb, idx->name)) {
				ini_error(&ctx, idx->line, idx->name, NULL, "unknown section");
				continue;
			}
			for (unsigned int k = 0; k < idx->nb_keys; k++)
				if (!idx->keys[k].used)
					ini_error(&ctx, idx->keys[k].line, idx->name,
						  idx->keys[k].name, "unknown key");
		}
		/* checks look at whole values: only once every value loaded */
		if (ctx.nb_errors == 0) {
			for (unsigned int i = 0; i < nb; i++)
				if (b[i].section->check != NULL)
					b[i].section->check(&ctx, b[i].base);
			if (check != NULL)
				check(&ctx, arg);
		}
	}
cleanup:
	if (rc == 0 && ctx.nb_errors > 0)
		rc = -EINVAL;
	if (ctx.ini != NULL)
		rte_cfgfile_close(ctx.ini);
	for (unsigned int i = 0; i < ctx.nb_sections; i++)
		free(ctx.sections[i].keys);
	free(ctx.sections);
	return rc;
}

void
ini_defaults(const struct ini_key *keys, void *instance)
{
	struct ini_ctx ctx = {.file = "(defaults)"};

	for (const struct ini_key *k = keys; k->name != NULL; k++)
		if (k->def != NULL)
			parse_value(&ctx, NULL, k, k->def, 0, instance);
}

int
ini_validate(const struct ini_key *keys, const void *instance, char *why, size_t size)
{
	for (const struct ini_key *k = keys; k->name != NULL; k++) {
		const void *src = (const char *)instance + k->off;
		uint64_t n;

		if (k->kind == INI_UINT) {
			uint64_t scale = k->scale > 1 ? k->scale : 1;

			n = load_uint(src, k->size);
			if (n < k->min * scale || n > k->max * scale) {
				snprintf(why, size, "%s must be %" PRIu64 "..%" PRIu64, k->name,
					 k->min, k->max);
				return -EINVAL;
			}
		} else if (k->kind == INI_ENUM) {
			unsigned int nc = 0;

			while (k->choices[nc] != NULL)
				nc++;
			if (load_uint(src, k->size) >= nc) {
				snprintf(why, size, "%s is not a known choice", k->name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static void
dump_keys(FILE *out, const struct ini_key *keys, const void *base)
{
	for (const struct ini_key *k = keys; k->name != NULL; k++) {
		const void *src = (const char *)base + k->off;
		char a[INET_ADDRSTRLEN];
		struct in_addr ia;

		if ((k->kind == INI_STRING || k->kind == INI_NAME || k->kind == INI_MAC) &&
		    *(const char *)src == '\0') {
			/* rte_cfgfile refuses empty values; every such key's default is empty */
			fprintf(out, "# %s =\n", k->name);
			continue;
		}
		fprintf(out, "%s = ", k->name);
		switch (k->kind) {
		case INI_UINT: {
			uint64_t n = load_uint(src, k->size);

			fprintf(out, "%" PRIu64 "\n", k->scale > 1 ? n / k->scale : n);
			break;
		}
		case INI_BOOL:
			fprintf(out, "%s\n", *(const bool *)src ? "yes" : "no");
			break;
		case INI_ENUM:
			fprintf(out, "%s\n", k->choices[load_uint(src, k->size)]);
			break;
		case INI_FLAGS: {
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
		case INI_IPV4:
			ia.s_addr = htonl(*(const uint32_t *)src);
			fprintf(out, "%s\n", inet_ntop(AF_INET, &ia, a, sizeof(a)));
			break;
		case INI_IPV4_PREFIX:
			ia.s_addr = htonl(*(const uint32_t *)src);
			fprintf(out, "%s/%u\n", inet_ntop(AF_INET, &ia, a, sizeof(a)),
				*((const uint8_t *)base + k->aux_off));
			break;
		default:
			fprintf(out, "%s\n", (const char *)src);
			break;
		}
	}
}

void
ini_dump(const struct ini_binding *b, unsigned int nb, FILE *out)
{
	for (unsigned int i = 0; i < nb; i++) {
		const struct ini_section *sec = b[i].section;
		const char *module = b[i].base;
		bool seen = false;

		for (unsigned int j = 0; j < i; j++)
			seen |= strcmp(b[j].section->name, sec->name) == 0;
		if (seen)
			continue; /* written with its first binding */
		if (!sec->named) {
			fprintf(out, "[%s]\n", sec->name);
			for (unsigned int j = i; j < nb; j++)
				if (strcmp(b[j].section->name, sec->name) == 0)
					dump_keys(out, b[j].section->keys,
						  (const char *)b[j].base + b[j].section->off);
			fputc('\n', out);
			continue;
		}
		for (unsigned int n = 0; n < *(const unsigned int *)(module + sec->count_off);
		     n++) {
			const char *inst = module + sec->off + n * sec->stride;

			fprintf(out, "[%s %s]\n", sec->name, inst + sec->name_off);
			dump_keys(out, sec->keys, inst);
			fputc('\n', out);
		}
	}
}
