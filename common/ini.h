/* INI engine: key tables that modules declare for their own structs, loaded with file:line errors.
 */
#ifndef AG_COMMON_INI_H
#define AG_COMMON_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define INI_STR 256 /* the longest value a key takes */

enum ini_kind {
	INI_UINT,	 /* min..max, stored in 1, 2, 4 or 8 bytes, times scale when scale > 1 */
	INI_BOOL,	 /* yes/no, true/false, on/off, 1/0 into a bool */
	INI_STRING,	 /* at most size - 1 characters */
	INI_ENUM,	 /* one word of choices: its index, stored in size bytes */
	INI_IPV4,	 /* dotted quad, host byte order, uint32_t */
	INI_IPV4_PREFIX, /* ADDRESS/LEN: uint32_t at off, uint8_t length at aux_off */
	INI_LCORES,	 /* an EAL lcore list ("1", "1-3", "1,3"), kept as text */
	INI_NAME,	 /* [A-Za-z0-9_.-]+ (or empty) */
	INI_FLAGS,	 /* words of choices, blank or comma separated: bit i-1 for choice i */
	INI_MAC,	 /* unicast Ethernet address, stored as xx:xx:xx:xx:xx:xx; "" = unset */
};

/* One key of a section, written at offsetof(module struct, field). */
struct ini_key {
	const char *name;
	enum ini_kind kind;
	size_t off;
	size_t size;
	uint64_t min, max;
	const char *def; /* NULL: the key is required */
	const char *const *choices;
	uint64_t scale; /* INI_UINT: the stored value is the written one times this (0 = 1) */
	size_t aux_off; /* INI_IPV4_PREFIX: where the prefix length goes */
};

#define INI_FIELD_SIZE(s, f) sizeof(((struct s *)0)->f)
#define INI_U(s, f, lo, hi, d)                                                                     \
	{                                                                                          \
#f, INI_UINT, offsetof(struct s, f), INI_FIELD_SIZE(s, f), lo, hi, d, NULL, 0, 0   \
	}
/* seconds written, nanoseconds stored (a uint64_t field) */
#define INI_SECONDS_NS(s, f, name, lo, hi, d)                                                      \
	{                                                                                          \
		name, INI_UINT, offsetof(struct s, f), INI_FIELD_SIZE(s, f), lo, hi, d, NULL,      \
			1000000000ull, 0                                                           \
	}
#define INI_B(s, f, d)                                                                             \
	{                                                                                          \
#f, INI_BOOL, offsetof(struct s, f), sizeof(bool), 0, 0, d, NULL, 0, 0             \
	}
#define INI_S(s, f, kind, d)                                                                       \
	{                                                                                          \
#f, kind, offsetof(struct s, f), INI_FIELD_SIZE(s, f), 0, 0, d, NULL, 0, 0         \
	}
#define INI_E(s, f, ch, d)                                                                         \
	{                                                                                          \
#f, INI_ENUM, offsetof(struct s, f), INI_FIELD_SIZE(s, f), 0, 0, d, ch, 0, 0       \
	}
#define INI_END                                                                                    \
	{                                                                                          \
		NULL                                                                               \
	}

struct ini_ctx;

/*
 * A section as a module declares it, relative to the module's own struct. A named section
 * ([port NAME]) is an array in that struct: max entries of stride bytes at off, the NAME
 * written at name_off of each, the count at count_off.
 */
struct ini_section {
	const char *name;
	const struct ini_key *keys;
	size_t off;
	bool named;
	bool required;	   /* named: at least one instance */
	bool name_is_path; /* named: NAME is a URL path prefix, not an identifier */
	size_t stride;
	unsigned int max;
	size_t count_off;
	size_t name_off;
	size_t name_size;
	/* after every section loaded without error: checks across this module's keys */
	void (*check)(struct ini_ctx *ctx, void *module_conf);
};

/* A module's sections bound to where its struct lives for this load. */
struct ini_binding {
	const struct ini_section *section;
	void *base;
};

/*
 * Loads FILE into every binding: defaults first, then the file's values. Every problem goes
 * to err as "FILE:LINE: [section] key: reason" (all of them), then the check callbacks run
 * and finally check(ctx, arg) for rules across modules. Returns 0, -EINVAL when the file is
 * invalid, or -errno when it cannot be read.
 */
int ini_load(const char *file, const struct ini_binding *b, unsigned int nb, FILE *err,
	     void (*check)(struct ini_ctx *ctx, void *arg), void *arg);

/* Fills the defaults of a key table into one instance of its struct. */
void ini_defaults(const struct ini_key *keys, void *instance);
/*
 * 0 when every number and choice of instance is within its key's range, else -EINVAL with
 * "KEY must be MIN..MAX" (or "KEY is not a known choice") in why.
 */
int ini_validate(const struct ini_key *keys, const void *instance, char *why, size_t size);

/* Line of KEY in SECTION ("trust CORP"), of the section when KEY is NULL or absent, or 0. */
unsigned int ini_line(struct ini_ctx *ctx, const char *section, const char *key);
/* One error "FILE:LINE: [section] key: ..." found by a check; line 0 omits it. */
void ini_error(struct ini_ctx *ctx, unsigned int line, const char *section, const char *key,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Parses an EAL-style lcore list into ids (NULL: count only). 0 or -EINVAL/-ERANGE/-EEXIST/-E2BIG.
 */
int ini_parse_lcores(const char *v, uint16_t *ids, uint16_t max, uint16_t *nb_out);

/* The bindings as INI text, defaults filled in; a section bound twice is written once. */
void ini_dump(const struct ini_binding *b, unsigned int nb, FILE *out);

#endif
