/* authgate-ctl's JSON document: an order-keeping reader with bounded depth, and a writer. */
#ifndef AG_APP_CTL_JSON_H
#define AG_APP_CTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Telemetry replies nest two or three levels; 64 leaves room without risking the stack. */
#define CTL_JSON_DEPTH_DEFAULT 64
#define CTL_JSON_DEPTH_MAX     1024

enum ctl_json_type {
	CTL_JSON_NULL,
	CTL_JSON_BOOL,
	CTL_JSON_NUMBER,
	CTL_JSON_STRING,
	CTL_JSON_ARRAY,
	CTL_JSON_OBJECT,
};

enum ctl_json_num {
	CTL_JSON_NUM_UINT,   /* integer >= 0 that fits uint64_t: u is exact */
	CTL_JSON_NUM_INT,    /* integer < 0 that fits int64_t: i is exact */
	CTL_JSON_NUM_DOUBLE, /* fraction, exponent or integer beyond 64 bits: d is the nearest */
};

struct ctl_json_member {
	char *key; /* UTF-8, NUL-terminated (the reader refuses \u0000) */
	struct ctl_json *value;
};

struct ctl_json {
	enum ctl_json_type type;
	union {
		bool boolean;
		struct {
			enum ctl_json_num kind;
			uint64_t u;
			int64_t i;
			double d;
			char *text; /* the literal as received, so output repeats it digit for digit
				     */
		} num;
		struct {
			char *s; /* UTF-8, NUL-terminated */
			size_t len;
		} str;
		struct {
			struct ctl_json **items;
			size_t n;
		} arr;
		struct {
			struct ctl_json_member *members; /* in document order */
			size_t n;
		} obj;
	};
};

struct ctl_json_error {
	size_t offset;	   /* byte offset of the problem */
	unsigned int line; /* 1-based */
	unsigned int col;  /* 1-based, in bytes */
	char msg[96];
};

/*
 * Parse len bytes of text (need not be NUL-terminated). max_depth bounds the
 * nesting of arrays and objects (0 means CTL_JSON_DEPTH_DEFAULT). Returns 0 and
 * sets *out, -EINVAL with err filled for malformed input, -ENOMEM.
 */
int ctl_json_parse(const char *text, size_t len, unsigned int max_depth, struct ctl_json **out,
		   struct ctl_json_error *err);
void ctl_json_free(struct ctl_json *v);

/* First member named key, or NULL (also when obj is not an object). */
const struct ctl_json *ctl_json_get(const struct ctl_json *obj, const char *key);
/* Detach the value of member i, leaving JSON null in its place; the caller frees it. */
struct ctl_json *ctl_json_take(struct ctl_json *obj, size_t i);
bool ctl_json_is_scalar(const struct ctl_json *v);
bool ctl_json_is_zero(const struct ctl_json *v);

/*
 * Pretty: two-space indent, one member per line, "key": value, like Python's
 * json.dumps(indent=2, ensure_ascii=False). Compact: no whitespace at all.
 * Returns 0 or -EIO.
 */
int ctl_json_write(FILE *f, const struct ctl_json *v, bool pretty);
/* One string quoted and escaped for JSON. */
int ctl_json_write_string(FILE *f, const char *s, size_t len);

#endif
