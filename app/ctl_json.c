/* The JSON reader and writer behind authgate-ctl: strict RFC 8259, key order kept. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "app/ctl_json.h"

struct json_parser {
	const char *p;
	const char *end;
	const char *start;
	unsigned int depth;
	unsigned int max_depth;
	int rc;
	struct ctl_json_error *err;
};

static struct ctl_json *parse_value(struct json_parser *jp);

/* Records the first failure only; later callers just unwind. */
static void
fail_at(struct json_parser *jp, const char *at, int rc, const char *fmt, ...)
{
	va_list ap;

	if (jp->rc != 0)
		return;
	jp->rc = rc;
	if (jp->err == NULL)
		return;
	jp->err->offset = (size_t)(at - jp->start);
	jp->err->line = 1;
	jp->err->col = 1;
	for (const char *c = jp->start; c < at; c++) {
		if (*c == '\n') {
			jp->err->line++;
			jp->err->col = 1;
		} else {
			jp->err->col++;
		}
	}
	va_start(ap, fmt);
	vsnprintf(jp->err->msg, sizeof(jp->err->msg), fmt, ap);
	va_end(ap);
}

#define FAIL(jp, ...)  fail_at((jp), (jp)->p, -EINVAL, __VA_ARGS__)
#define FAIL_NOMEM(jp) fail_at((jp), (jp)->p, -ENOMEM, "out of memory")

static void
skip_ws(struct json_parser *jp)
{
	while (jp->p < jp->end &&
	       (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

/* Describes the byte found where something else was expected. */
static void
fail_unexpected(struct json_parser *jp, const char *expected)
{
	unsigned char c;

	if (jp->p >= jp->end) {
		FAIL(jp, "unexpected end of input, expected %s", expected);
		return;
	}
	c = (unsigned char)*jp->p;
	if (c >= 0x21 && c < 0x7f)
		FAIL(jp, "unexpected '%c', expected %s", c, expected);
	else
		FAIL(jp, "unexpected byte 0x%02x, expected %s", c, expected);
}

static struct ctl_json *
new_node(struct json_parser *jp, enum ctl_json_type type)
{
	struct ctl_json *v = calloc(1, sizeof(*v));

	if (v == NULL) {
		FAIL_NOMEM(jp);
		return NULL;
	}
	v->type = type;
	return v;
}

static struct ctl_json *
parse_literal(struct json_parser *jp, const char *word, enum ctl_json_type type, bool b)
{
	size_t n = strlen(word);
	struct ctl_json *v;

	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0) {
		FAIL(jp, "invalid literal, expected %s", word);
		return NULL;
	}
	v = new_node(jp, type);
	if (v == NULL)
		return NULL;
	v->boolean = b;
	jp->p += n;
	return v;
}

static bool
is_digit(const struct json_parser *jp)
{
	return jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9';
}

static struct ctl_json *
parse_number(struct json_parser *jp)
{
	const char *begin = jp->p;
	bool neg = false, integral = true, overflow = false;
	uint64_t mag = 0;
	struct ctl_json *v;
	size_t len;

	if (*jp->p == '-') {
		neg = true;
		jp->p++;
	}
	if (!is_digit(jp)) {
		fail_unexpected(jp, "a digit");
		return NULL;
	}
	if (*jp->p == '0') {
		jp->p++;
		if (is_digit(jp)) {
			FAIL(jp, "leading zeros are not allowed in numbers");
			return NULL;
		}
	} else {
		while (is_digit(jp)) {
			unsigned int d = (unsigned int)(*jp->p - '0');

			if (mag > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				mag = mag * 10 + d;
			jp->p++;
		}
	}
	if (jp->p < jp->end && *jp->p == '.') {
		integral = false;
		jp->p++;
		if (!is_digit(jp)) {
			fail_unexpected(jp, "a digit after '.'");
			return NULL;
		}
		while (is_digit(jp))
			jp->p++;
	}
	if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
		integral = false;
		jp->p++;
		if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
			jp->p++;
		if (!is_digit(jp)) {
			fail_unexpected(jp, "a digit in the exponent");
			return NULL;
		}
		while (is_digit(jp))
			jp->p++;
	}

	v = new_node(jp, CTL_JSON_NUMBER);
	if (v == NULL)
		return NULL;
	len = (size_t)(jp->p - begin);
	v->num.text = strndup(begin, len);
	if (v->num.text == NULL) {
		free(v);
		FAIL_NOMEM(jp);
		return NULL;
	}
	if (integral && !overflow && !neg) {
		v->num.kind = CTL_JSON_NUM_UINT;
		v->num.u = mag;
		v->num.d = (double)mag;
	} else if (integral && !overflow && mag <= (uint64_t)INT64_MAX + 1) {
		v->num.kind = CTL_JSON_NUM_INT;
		/* -2^63 has no positive twin, so negate in unsigned arithmetic */
		v->num.i = (int64_t)(~mag + 1);
		v->num.d = -(double)mag;
	} else {
		v->num.kind = CTL_JSON_NUM_DOUBLE;
		/* the literal is plain C-locale syntax; strtod sees it NUL-terminated */
		v->num.d = strtod(v->num.text, NULL);
	}
	return v;
}

static int
hex4(struct json_parser *jp, uint32_t *out)
{
	uint32_t cp = 0;

	if (jp->end - jp->p < 4) {
		FAIL(jp, "truncated \\u escape");
		return -EINVAL;
	}
	for (int k = 0; k < 4; k++) {
		char c = jp->p[k];

		cp <<= 4;
		if (c >= '0' && c <= '9')
			cp |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			cp |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			cp |= (uint32_t)(c - 'A' + 10);
		else {
			fail_at(jp, jp->p + k, -EINVAL, "invalid hex digit in \\u escape");
			return -EINVAL;
		}
	}
	jp->p += 4;
	*out = cp;
	return 0;
}

static size_t
utf8_put(char *dst, uint32_t cp)
{
	if (cp < 0x80) {
		dst[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		dst[0] = (char)(0xc0 | (cp >> 6));
		dst[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		dst[0] = (char)(0xe0 | (cp >> 12));
		dst[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		dst[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	dst[0] = (char)(0xf0 | (cp >> 18));
	dst[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	dst[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	dst[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), or 0. */
static size_t
utf8_valid_len(const unsigned char *p, const unsigned char *end)
{
	size_t n;
	uint32_t cp, min;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
		min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
		min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* On success jp->p is past the closing quote; the decoded text is never longer than the input. */
static int
parse_string_raw(struct json_parser *jp, char **out, size_t *len_out)
{
	const char *scan;
	char *buf, *w;

	jp->p++; /* opening quote */
	for (scan = jp->p; scan < jp->end && *scan != '"'; scan++)
		if (*scan == '\\' && scan + 1 < jp->end)
			scan++;
	buf = malloc((size_t)(scan - jp->p) + 1);
	if (buf == NULL) {
		FAIL_NOMEM(jp);
		return -ENOMEM;
	}
	w = buf;
	for (;;) {
		unsigned char c;

		if (jp->p >= jp->end) {
			FAIL(jp, "unterminated string");
			goto error;
		}
		c = (unsigned char)*jp->p;
		if (c == '"') {
			jp->p++;
			break;
		}
		if (c < 0x20) {
			FAIL(jp, "control character 0x%02x in string must be escaped", c);
			goto error;
		}
		if (c >= 0x80) {
			size_t n = utf8_valid_len((const unsigned char *)jp->p,
						  (const unsigned char *)jp->end);

			if (n == 0) {
				FAIL(jp, "invalid UTF-8 in string");
				goto error;
			}
			memcpy(w, jp->p, n);
			w += n;
			jp->p += n;
			continue;
		}
		if (c != '\\') {
			*w++ = (char)c;
			jp->p++;
			continue;
		}
		jp->p++;
		if (jp->p >= jp->end) {
			FAIL(jp, "unterminated string");
			goto error;
		}
		switch (*jp->p++) {
		case '"':
			*w++ = '"';
			break;
		case '\\':
			*w++ = '\\';
			break;
		case '/':
			*w++ = '/';
			break;
		case 'b':
			*w++ = '\b';
			break;
		case 'f':
			*w++ = '\f';
			break;
		case 'n':
			*w++ = '\n';
			break;
		case 'r':
			*w++ = '\r';
			break;
		case 't':
			*w++ = '\t';
			break;
		case 'u': {
			const char *esc = jp->p - 2;
			uint32_t cp, lo;

			if (hex4(jp, &cp) != 0)
				goto error;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				fail_at(jp, esc, -EINVAL, "lone low surrogate in \\u escape");
				goto error;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (jp->end - jp->p < 2 || jp->p[0] != '\\' || jp->p[1] != 'u') {
					fail_at(jp, esc, -EINVAL,
						"high surrogate not followed by a low one");
					goto error;
				}
				jp->p += 2;
				if (hex4(jp, &lo) != 0)
					goto error;
				if (lo < 0xdc00 || lo > 0xdfff) {
					fail_at(jp, esc, -EINVAL,
						"high surrogate not followed by a low one");
					goto error;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0) {
				/* keys and values are C strings; a NUL would silently cut them */
				fail_at(jp, esc, -EINVAL, "\\u0000 in strings is not supported");
				goto error;
			}
			/* \uXXXX is 6 input bytes and at most 3 output bytes, a pair 12 → 4 */
			w += utf8_put(w, cp);
			break;
		}
		default:
			fail_at(jp, jp->p - 1, -EINVAL, "invalid escape '\\%c'", jp->p[-1]);
			goto error;
		}
	}
	*w = '\0';
	*out = buf;
	*len_out = (size_t)(w - buf);
	return 0;

error:
	free(buf);
	return jp->rc;
}

static struct ctl_json *
parse_string(struct json_parser *jp)
{
	struct ctl_json *v = new_node(jp, CTL_JSON_STRING);

	if (v == NULL)
		return NULL;
	if (parse_string_raw(jp, &v->str.s, &v->str.len) != 0) {
		free(v);
		return NULL;
	}
	return v;
}

static int
grow(struct json_parser *jp, void **items, size_t n, size_t *cap, size_t size)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	p = realloc(*items, ncap * size);
	if (p == NULL) {
		FAIL_NOMEM(jp);
		return -ENOMEM;
	}
	*items = p;
	*cap = ncap;
	return 0;
}

static struct ctl_json *
parse_array(struct json_parser *jp)
{
	struct ctl_json *v = new_node(jp, CTL_JSON_ARRAY);
	size_t cap = 0;

	if (v == NULL)
		return NULL;
	jp->p++;
	skip_ws(jp);
	if (jp->p < jp->end && *jp->p == ']') {
		jp->p++;
		return v;
	}
	for (;;) {
		struct ctl_json *item;

		if (grow(jp, (void **)&v->arr.items, v->arr.n, &cap, sizeof(*v->arr.items)) != 0)
			goto error;
		item = parse_value(jp);
		if (item == NULL)
			goto error;
		v->arr.items[v->arr.n++] = item;
		skip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == ']') {
			jp->p++;
			return v;
		}
		fail_unexpected(jp, "',' or ']' in array");
		goto error;
	}
error:
	ctl_json_free(v);
	return NULL;
}

static struct ctl_json *
parse_object(struct json_parser *jp)
{
	struct ctl_json *v = new_node(jp, CTL_JSON_OBJECT);
	size_t cap = 0;

	if (v == NULL)
		return NULL;
	jp->p++;
	skip_ws(jp);
	if (jp->p < jp->end && *jp->p == '}') {
		jp->p++;
		return v;
	}
	for (;;) {
		struct ctl_json_member *m;
		size_t klen;

		skip_ws(jp);
		if (jp->p >= jp->end || *jp->p != '"') {
			fail_unexpected(jp, "a string as object key");
			goto error;
		}
		if (grow(jp, (void **)&v->obj.members, v->obj.n, &cap, sizeof(*v->obj.members)) !=
		    0)
			goto error;
		m = &v->obj.members[v->obj.n];
		if (parse_string_raw(jp, &m->key, &klen) != 0)
			goto error;
		m->value = NULL;
		v->obj.n++;
		skip_ws(jp);
		if (jp->p >= jp->end || *jp->p != ':') {
			fail_unexpected(jp, "':' after object key");
			goto error;
		}
		jp->p++;
		m->value = parse_value(jp);
		if (m->value == NULL)
			goto error;
		skip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == '}') {
			jp->p++;
			return v;
		}
		fail_unexpected(jp, "',' or '}' in object");
		goto error;
	}
error:
	ctl_json_free(v);
	return NULL;
}

static struct ctl_json *
parse_value(struct json_parser *jp)
{
	struct ctl_json *v;

	skip_ws(jp);
	if (jp->p >= jp->end) {
		fail_unexpected(jp, "a value");
		return NULL;
	}
	switch (*jp->p) {
	case '{':
	case '[':
		/* the recursion below is what the depth bound protects */
		if (jp->depth >= jp->max_depth) {
			FAIL(jp, "nesting deeper than %u levels", jp->max_depth);
			return NULL;
		}
		jp->depth++;
		v = *jp->p == '{' ? parse_object(jp) : parse_array(jp);
		jp->depth--;
		return v;
	case '"':
		return parse_string(jp);
	case 't':
		return parse_literal(jp, "true", CTL_JSON_BOOL, true);
	case 'f':
		return parse_literal(jp, "false", CTL_JSON_BOOL, false);
	case 'n':
		return parse_literal(jp, "null", CTL_JSON_NULL, false);
	case '-':
	case '0' ... '9':
		return parse_number(jp);
	default:
		fail_unexpected(jp, "a value");
		return NULL;
	}
}

int
ctl_json_parse(const char *text, size_t len, unsigned int max_depth, struct ctl_json **out,
	       struct ctl_json_error *err)
{
	struct json_parser jp = {
		.p = text,
		.end = text + len,
		.start = text,
		.max_depth = max_depth ? max_depth : CTL_JSON_DEPTH_DEFAULT,
		.err = err,
	};
	struct ctl_json *v;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (jp.max_depth > CTL_JSON_DEPTH_MAX)
		jp.max_depth = CTL_JSON_DEPTH_MAX;
	skip_ws(&jp);
	if (jp.p >= jp.end) {
		FAIL(&jp, "empty document");
		return jp.rc;
	}
	v = parse_value(&jp);
	if (v == NULL)
		return jp.rc;
	skip_ws(&jp);
	if (jp.p < jp.end) {
		FAIL(&jp, "trailing data after the JSON value");
		ctl_json_free(v);
		return jp.rc;
	}
	*out = v;
	return 0;
}

void
ctl_json_free(struct ctl_json *v)
{
	if (v == NULL)
		return;
	switch (v->type) {
	case CTL_JSON_NUMBER:
		free(v->num.text);
		break;
	case CTL_JSON_STRING:
		free(v->str.s);
		break;
	case CTL_JSON_ARRAY:
		for (size_t i = 0; i < v->arr.n; i++)
			ctl_json_free(v->arr.items[i]);
		free(v->arr.items);
		break;
	case CTL_JSON_OBJECT:
		for (size_t i = 0; i < v->obj.n; i++) {
			free(v->obj.members[i].key);
			ctl_json_free(v->obj.members[i].value);
		}
		free(v->obj.members);
		break;
	default:
		break;
	}
	free(v);
}

const struct ctl_json *
ctl_json_get(const struct ctl_json *obj, const char *key)
{
	if (obj == NULL || obj->type != CTL_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->obj.n; i++)
		if (strcmp(obj->obj.members[i].key, key) == 0)
			return obj->obj.members[i].value;
	return NULL;
}

struct ctl_json *
ctl_json_take(struct ctl_json *obj, size_t i)
{
	struct ctl_json *v, *hole;

	if (obj == NULL || obj->type != CTL_JSON_OBJECT || i >= obj->obj.n)
		return NULL;
	hole = calloc(1, sizeof(*hole));
	if (hole == NULL)
		return NULL;
	hole->type = CTL_JSON_NULL;
	v = obj->obj.members[i].value;
	obj->obj.members[i].value = hole;
	return v;
}

bool
ctl_json_is_scalar(const struct ctl_json *v)
{
	return v->type != CTL_JSON_ARRAY && v->type != CTL_JSON_OBJECT;
}

bool
ctl_json_is_zero(const struct ctl_json *v)
{
	if (v->type != CTL_JSON_NUMBER)
		return false;
	switch (v->num.kind) {
	case CTL_JSON_NUM_UINT:
		return v->num.u == 0;
	case CTL_JSON_NUM_INT:
		return v->num.i == 0;
	default:
		return v->num.d == 0.0;
	}
}

int
ctl_json_write_string(FILE *f, const char *s, size_t len)
{
	putc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20)
				fprintf(f, "\\u%04x", c);
			else
				putc(c, f);
		}
	}
	putc('"', f);
	return ferror(f) ? -EIO : 0;
}

static void
indent(FILE *f, unsigned int level)
{
	for (unsigned int i = 0; i < level; i++)
		fputs("  ", f);
}

/* Depth is bounded by the reader that built v. */
static void
write_value(FILE *f, const struct ctl_json *v, bool pretty, unsigned int level)
{
	switch (v->type) {
	case CTL_JSON_NULL:
		fputs("null", f);
		break;
	case CTL_JSON_BOOL:
		fputs(v->boolean ? "true" : "false", f);
		break;
	case CTL_JSON_NUMBER:
		fputs(v->num.text, f);
		break;
	case CTL_JSON_STRING:
		ctl_json_write_string(f, v->str.s, v->str.len);
		break;
	case CTL_JSON_ARRAY:
		if (v->arr.n == 0) {
			fputs("[]", f);
			break;
		}
		putc('[', f);
		for (size_t i = 0; i < v->arr.n; i++) {
			if (i > 0)
				putc(',', f);
			if (pretty) {
				putc('\n', f);
				indent(f, level + 1);
			}
			write_value(f, v->arr.items[i], pretty, level + 1);
		}
		if (pretty) {
			putc('\n', f);
			indent(f, level);
		}
		putc(']', f);
		break;
	case CTL_JSON_OBJECT:
		if (v->obj.n == 0) {
			fputs("{}", f);
			break;
		}
		putc('{', f);
		for (size_t i = 0; i < v->obj.n; i++) {
			const struct ctl_json_member *m = &v->obj.members[i];

			if (i > 0)
				putc(',', f);
			if (pretty) {
				putc('\n', f);
				indent(f, level + 1);
			}
			ctl_json_write_string(f, m->key, strlen(m->key));
			fputs(pretty ? ": " : ":", f);
			write_value(f, m->value, pretty, level + 1);
		}
		if (pretty) {
			putc('\n', f);
			indent(f, level);
		}
		putc('}', f);
		break;
	}
}

int
ctl_json_write(FILE *f, const struct ctl_json *v, bool pretty)
{
	write_value(f, v, pretty, 0);
	return ferror(f) ? -EIO : 0;
}
