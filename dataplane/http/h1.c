/* HTTP/1.1 request-head parser: request line, field lines, limits and anti-smuggling rules. */
#include <errno.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "dataplane/http/h1.h"

/* tchar from RFC 9110 5.6.2: what a method or a field name may be made of. */
static const uint8_t h1_tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
	['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
	['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
	['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
	['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
	['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
	['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
	['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static const struct {
	const char *name;
	int status;
} h1_errs[H1_E__COUNT] = {
	[H1_E_NONE] = {"none", 0},
	[H1_E_REQUEST_LINE_TOO_LONG] = {"request-line-too-long", 414},
	[H1_E_HEADERS_TOO_LARGE] = {"headers-too-large", 431},
	[H1_E_TOO_MANY_HEADERS] = {"too-many-headers", 431},
	[H1_E_TOO_MANY_EMPTY_LINES] = {"too-many-empty-lines", 400},
	[H1_E_BAD_REQUEST_LINE] = {"bad-request-line", 400},
	[H1_E_BAD_METHOD] = {"bad-method", 400},
	[H1_E_BAD_TARGET] = {"bad-target", 400},
	[H1_E_BAD_VERSION] = {"bad-version", 400},
	[H1_E_VERSION_UNSUPPORTED] = {"version-unsupported", 505},
	[H1_E_BARE_CR] = {"bare-cr", 400},
	[H1_E_NUL] = {"nul-byte", 400},
	[H1_E_CTL_CHAR] = {"control-char", 400},
	[H1_E_OBS_FOLD] = {"obs-fold", 400},
	[H1_E_SPACE_BEFORE_COLON] = {"space-before-colon", 400},
	[H1_E_BAD_HEADER_NAME] = {"bad-header-name", 400},
	[H1_E_DUP_HOST] = {"duplicate-host", 400},
	[H1_E_DUP_CONTENT_LENGTH] = {"duplicate-content-length", 400},
	[H1_E_DUP_AUTHORIZATION] = {"duplicate-authorization", 400},
	[H1_E_BAD_CONTENT_LENGTH] = {"bad-content-length", 400},
	[H1_E_TE_WITH_CL] = {"transfer-encoding-with-content-length", 400},
	[H1_E_TE_HTTP10] = {"transfer-encoding-on-http10", 400},
	[H1_E_BAD_TE] = {"bad-transfer-encoding", 400},
	[H1_E_CHUNKED] = {"chunked-body-unsupported", 501},
	[H1_E_TE_NOT_CHUNKED] = {"transfer-coding-not-chunked", 501},
	[H1_E_MISSING_HOST] = {"missing-host", 400},
	[H1_E_BAD_HOST] = {"bad-host", 400},
	[H1_E_EXPECT] = {"expectation-failed", 417},
};

/*
 * A byte a request target may hold (RFC 9112 3.2: visible ASCII; what it means is the path
 * code's business), and one a field value may hold (RFC 9110 5.5: VCHAR, obs-text, SP, HTAB).
 * Per-byte tables: the head of every request is scanned through them.
 */
static const uint8_t h1_target_byte[256] = {[0x21 ... 0x7e] = 1};
static const uint8_t h1_value_byte[256] = {
	['\t'] = 1, [' '] = 1, [0x21 ... 0x7e] = 1, [0x80 ... 0xff] = 1};
/* reg-name, IPv4 and IP-literal bytes of a Host value (RFC 3986 3.2.2, loosely) */
static const uint8_t h1_host_byte[256] = {
	['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1, ['-'] = 1, ['.'] = 1,	['_'] = 1,
	['~'] = 1,	   ['!'] = 1,	      ['$'] = 1,	 ['&'] = 1, ['\''] = 1, ['('] = 1,
	[')'] = 1,	   ['*'] = 1,	      ['+'] = 1,	 [','] = 1, [';'] = 1,	['='] = 1,
	[':'] = 1,	   ['['] = 1,	      [']'] = 1,	 ['%'] = 1,
};

/*
 * Eight bytes at a time: which bytes of the word (their high bits) are below lo or above 0x7e,
 * the lowest one exactly (those above it may be flagged by its borrow)? Most of a head is
 * printable ASCII, so a run is skipped a word at a time and the byte tables judge only the word
 * that stops it. lo <= 0x80 (the borrow trick needs it).
 */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "h1_skip_printable() takes the lowest byte of a word to come first"
#endif
#define H1_ONES 0x0101010101010101ull
#define H1_HIGH 0x8080808080808080ull

static inline uint64_t
h1_word_outside(uint64_t x, unsigned lo)
{
	uint64_t below = (x - H1_ONES * lo) & ~x & H1_HIGH;
	uint64_t above = ((x + H1_ONES * (0x7f - 0x7e)) | x) & H1_HIGH;

	return below | above;
}

/*
 * The first index from i on whose byte is outside [lo, 0x7e], or the start of the last short
 * word (fewer than 8 bytes before len): the byte tables judge from there. A borrow or a carry
 * only runs from a flagged byte to the ones above it, so the lowest flag of a word is exact
 * (the word is loaded little-endian: its lowest byte comes first). before: how many bytes
 * before s the caller's buffer holds (the tail may be read as its last sixteen).
 */
static inline uint32_t
h1_skip_printable(const char *s, uint32_t before, uint32_t i, uint32_t len, unsigned lo)
{
	uint64_t x, m;

#ifdef __SSE2__
	/*
	 * Sixteen bytes a compare: a signed compare below lo also flags 0x80-0xff, which the word
	 * test flags too (above 0x7e); the byte tables decide about those.
	 */
	const __m128i below = _mm_set1_epi8((char)lo), del = _mm_set1_epi8(0x7f);
	unsigned k;

	while (len - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));

		k = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmplt_epi8(v, below), _mm_cmpeq_epi8(v, del)));
		if (k != 0)
			return i + (uint32_t)__builtin_ctz(k);
		i += 16;
	}
	if (i < len && (uint64_t)before + len >= 16) {
		/* the last sixteen bytes, those before i masked off: nothing past len is read */
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + len - 16));

		k = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmplt_epi8(v, below), _mm_cmpeq_epi8(v, del)));
		k >>= 16 - (len - i);
		return k != 0 ? i + (uint32_t)__builtin_ctz(k) : len;
	}
#else
	(void)before;
#endif
	while (len - i >= 8) {
		memcpy(&x, s + i, 8);
		m = h1_word_outside(x, lo);
		if (m != 0)
			return i + (uint32_t)__builtin_ctzll(m) / 8;
		i += 8;
	}
	return i;
}

/*
 * The next LF in buf[from..len), or NULL. Sixteen bytes a compare with SSE2 (x86-64 always has
 * it); the last piece is the buffer's last sixteen bytes again, with those before from masked
 * off, so nothing past len is read. Inline: libc's memchr cost more in the call than the search
 * on heads of a few short lines.
 */
static inline const char *
h1_find_lf(const char *buf, uint32_t from, uint32_t len)
{
#ifdef __SSE2__
	const __m128i lf = _mm_set1_epi8('\n');
	uint32_t i = from;
	unsigned m;

	/* a caller that passes fewer bytes than last time gets no line, not a wild read */
	if (i >= len)
		return NULL;
	while (len - i >= 16) {
		m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
			_mm_loadu_si128((const __m128i *)(const void *)(buf + i)), lf));
		if (m != 0)
			return buf + i + __builtin_ctz(m);
		i += 16;
	}
	if (i == len)
		return NULL;
	if (len >= 16) {
		m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
			_mm_loadu_si128((const __m128i *)(const void *)(buf + len - 16)), lf));
		m >>= 16 - (len - i);
		return m != 0 ? buf + i + __builtin_ctz(m) : NULL;
	}
	return memchr(buf + i, '\n', len - i);
#else
	return from < len ? memchr(buf + from, '\n', len - from) : NULL;
#endif
}

static const char *const h1_methods[] = {
	[H1_M_OTHER] = "",	    [H1_M_GET] = "GET",	    [H1_M_HEAD] = "HEAD",
	[H1_M_OPTIONS] = "OPTIONS", [H1_M_POST] = "POST",   [H1_M_PUT] = "PUT",
	[H1_M_DELETE] = "DELETE",   [H1_M_PATCH] = "PATCH", [H1_M_TRACE] = "TRACE",
	[H1_M_CONNECT] = "CONNECT",
};

static inline int
h1_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool
h1_mem_ieq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++)
		if (b[i] == '\0' || h1_lower((unsigned char)a[i]) != b[i])
			return false;
	return b[alen] == '\0';
}

bool
h1_view_ieq(struct h1_view v, const char *s)
{
	size_t i;

	for (i = 0; i < v.len; i++)
		if (s[i] == '\0' ||
		    h1_lower((unsigned char)v.p[i]) != h1_lower((unsigned char)s[i]))
			return false;
	return s[v.len] == '\0';
}

bool
h1_list_has_token(struct h1_view v, const char *tok)
{
	size_t i = 0, start, end;

	while (i < v.len) {
		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
			i++;
		start = i;
		while (i < v.len && v.p[i] != ',')
			i++;
		end = i;
		while (end > start && (v.p[end - 1] == ' ' || v.p[end - 1] == '\t'))
			end--;
		if (end > start && h1_view_ieq((struct h1_view){v.p + start, end - start}, tok))
			return true;
	}
	return false;
}

const char *
h1_err_str(enum h1_err err)
{
	if ((unsigned)err >= H1_E__COUNT)
		return "unknown";
	return h1_errs[err].name;
}

int
h1_err_status(enum h1_err err)
{
	if ((unsigned)err >= H1_E__COUNT || err == H1_E_NONE)
		return 400;
	return h1_errs[err].status;
}

const char *
h1_method_str(enum h1_method m)
{
	if ((unsigned)m >= sizeof(h1_methods) / sizeof(h1_methods[0]))
		return "";
	return h1_methods[m];
}

void
h1_limits_default(struct h1_limits *lim)
{
	lim->max_request_line = H1_DEFAULT_MAX_REQUEST_LINE;
	lim->max_header_bytes = H1_DEFAULT_MAX_HEADER_BYTES;
	lim->max_headers = H1_DEFAULT_MAX_HEADERS;
	lim->accept_chunked = false;
}

void
h1_parser_reset(struct h1_parser *p)
{
	struct h1_limits lim = p->lim;

	memset(p, 0, offsetof(struct h1_parser, hname));
	p->lim = lim;
	p->state = H1_S_REQUEST_LINE;
	p->content_length = -1;
	memset(p->idx, 0xff, sizeof(p->idx)); /* every int -1 */
}

void
h1_parser_init(struct h1_parser *p, const struct h1_limits *lim)
{
	if (lim != NULL)
		p->lim = *lim;
	else
		h1_limits_default(&p->lim);
	if (p->lim.max_headers > H1_MAX_HEADERS)
		p->lim.max_headers = H1_MAX_HEADERS;
	h1_parser_reset(p);
}

static enum h1_rc
h1_fail(struct h1_parser *p, enum h1_err err)
{
	p->state = H1_S_ERROR;
	p->err = err;
	return H1_ERROR;
}

/* Methods are case-sensitive (RFC 9110 9.1); the length picks the candidates. */
static enum h1_method
h1_method_lookup(const char *s, size_t len)
{
	switch (len) {
	case 3:
		return memcmp(s, "GET", 3) == 0	  ? H1_M_GET
		       : memcmp(s, "PUT", 3) == 0 ? H1_M_PUT
						  : H1_M_OTHER;
	case 4:
		return memcmp(s, "HEAD", 4) == 0   ? H1_M_HEAD
		       : memcmp(s, "POST", 4) == 0 ? H1_M_POST
						   : H1_M_OTHER;
	case 5:
		return memcmp(s, "PATCH", 5) == 0   ? H1_M_PATCH
		       : memcmp(s, "TRACE", 5) == 0 ? H1_M_TRACE
						    : H1_M_OTHER;
	case 6:
		return memcmp(s, "DELETE", 6) == 0 ? H1_M_DELETE : H1_M_OTHER;
	case 7:
		return memcmp(s, "OPTIONS", 7) == 0   ? H1_M_OPTIONS
		       : memcmp(s, "CONNECT", 7) == 0 ? H1_M_CONNECT
						      : H1_M_OTHER;
	default:
		return H1_M_OTHER;
	}
}

/*
 * name (len >= 4 bytes, all tchar or all field-value bytes) against want (lowercase letters and
 * '-', as long) with whole-word loads: OR 0x20 lowers a letter and leaves '-' alone, and the
 * only other byte that ORs to a letter or to '-' is a letter's capital or CR, which is neither
 * a tchar nor a value byte.
 */
static inline bool
h1_name_is(const char *name, const char *want, size_t len)
{
	uint64_t a, b;
	uint32_t c, d;
	size_t i;

	if (len < 8) {
		memcpy(&c, name, 4);
		memcpy(&d, want, 4);
		if ((c | 0x20202020u) != d)
			return false;
		memcpy(&c, name + len - 4, 4);
		memcpy(&d, want + len - 4, 4);
		return (c | 0x20202020u) == d;
	}
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&a, name + i, 8);
		memcpy(&b, want + i, 8);
		if ((a | 0x2020202020202020ull) != b)
			return false;
	}
	if (i == len)
		return true;
	memcpy(&a, name + len - 8, 8);
	memcpy(&b, want + len - 8, 8);
	return (a | 0x2020202020202020ull) == b;
}

/* The fields the parser or the gateway acts on; the name's length picks the candidates. */
static enum h1_hdr_id
h1_header_id(const char *name, size_t len)
{
	switch (len) {
	case 4:
		return h1_name_is(name, "host", 4) ? H1_H_HOST : H1_H_OTHER;
	case 5:
		return h1_name_is(name, "range", 5) ? H1_H_RANGE : H1_H_OTHER;
	case 6:
		return h1_name_is(name, "expect", 6) ? H1_H_EXPECT : H1_H_OTHER;
	case 8:
		return h1_name_is(name, "if-range", 8) ? H1_H_IF_RANGE : H1_H_OTHER;
	case 10:
		return h1_name_is(name, "connection", 10) ? H1_H_CONNECTION : H1_H_OTHER;
	case 13:
		return h1_name_is(name, "authorization", 13)   ? H1_H_AUTHORIZATION
		       : h1_name_is(name, "if-none-match", 13) ? H1_H_IF_NONE_MATCH
							       : H1_H_OTHER;
	case 14:
		return h1_name_is(name, "content-length", 14) ? H1_H_CONTENT_LENGTH : H1_H_OTHER;
	case 17:
		return h1_name_is(name, "transfer-encoding", 17)   ? H1_H_TRANSFER_ENCODING
		       : h1_name_is(name, "if-modified-since", 17) ? H1_H_IF_MODIFIED_SINCE
								   : H1_H_OTHER;
	default:
		return H1_H_OTHER;
	}
}

/* line excludes the line terminator; a CR left inside it is a bare CR. */
static enum h1_err
h1_request_line(struct h1_parser *p, const char *buf, uint32_t off, uint32_t len)
{
	const char *line = buf + off;
	uint32_t i = 0, t0, v0;
	uint64_t w;

	if (len >= 4 && memcmp(line, "GET ", 4) == 0) {
		/* most requests: what the loop and the lookup below would find */
		i = 3;
		p->meth = H1_M_GET;
	} else {
		while (i < len && h1_tchar[(unsigned char)line[i]])
			i++;
		if (i == len)
			return H1_E_BAD_REQUEST_LINE;
		if (line[i] != ' ' || i == 0) {
			if (line[i] == '\0')
				return H1_E_NUL;
			return line[i] == ' ' || line[i] == '\t' ? H1_E_BAD_REQUEST_LINE
								 : H1_E_BAD_METHOD;
		}
		p->meth = h1_method_lookup(line, i);
	}
	p->method = (struct h1_span){off, i};

	t0 = ++i;
	i = h1_skip_printable(line, off, i, len, 0x21);
	while (i < len && h1_target_byte[(unsigned char)line[i]])
		i++;
	if (i < len && line[i] != ' ') {
		if (line[i] == '\0')
			return H1_E_NUL;
		return line[i] == '\r' ? H1_E_BARE_CR : H1_E_BAD_TARGET;
	}
	if (i == t0)
		return H1_E_BAD_REQUEST_LINE;
	if (i == len)
		return H1_E_BAD_VERSION; /* HTTP/0.9 has no version: not served */
	p->target = (struct h1_span){off + t0, i - t0};

	v0 = ++i;
	if (len - v0 == 8) {
		memcpy(&w, line + v0, 8);
		if (memcmp(&w, "HTTP/1.1", 8) == 0) {
			p->version_minor = 1;
			return H1_E_NONE;
		}
	}
	if (len - v0 != 8 || memcmp(line + v0, "HTTP/", 5) != 0 || line[v0 + 6] != '.' ||
	    line[v0 + 5] < '0' || line[v0 + 5] > '9' || line[v0 + 7] < '0' || line[v0 + 7] > '9') {
		for (i = v0; i < len; i++) {
			if (line[i] == '\0')
				return H1_E_NUL;
			if (line[i] == '\r')
				return H1_E_BARE_CR;
		}
		return H1_E_BAD_VERSION;
	}
	if (line[v0 + 5] != '1')
		return H1_E_VERSION_UNSUPPORTED;
	/* a higher 1.x minor is understood as 1.1 (RFC 9110 6.2) */
	p->version_minor = line[v0 + 7] == '0' ? 0 : 1;
	return H1_E_NONE;
}

/* Every request has one: four bytes a step, judged together (a bad one is rare). */
static bool
h1_host_valid(const char *v, size_t len)
{
	const unsigned char *u = (const unsigned char *)v;
	uint8_t ok = 1;
	size_t i = 0;

	for (; i + 4 <= len; i += 4)
		ok &= h1_host_byte[u[i]] & h1_host_byte[u[i + 1]] & h1_host_byte[u[i + 2]] &
		      h1_host_byte[u[i + 3]];
	for (; i < len; i++)
		ok &= h1_host_byte[u[i]];
	return ok != 0;
}

static enum h1_err
h1_content_length(struct h1_parser *p, const char *v, size_t len)
{
	int64_t n = 0;
	size_t i;

	if (len == 0 || len > 18)
		return H1_E_BAD_CONTENT_LENGTH;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return H1_E_BAD_CONTENT_LENGTH;
		n = n * 10 + (v[i] - '0');
	}
	p->content_length = n;
	return H1_E_NONE;
}

/* The last transfer coding must be chunked (RFC 9112 6.3), otherwise the length is unknown. */
static bool
h1_te_final_chunked(const char *v, size_t len)
{
	size_t end = len, start;

	while (end > 0 && (v[end - 1] == ' ' || v[end - 1] == '\t' || v[end - 1] == ','))
		end--;
	start = end;
	while (start > 0 && v[start - 1] != ',' && v[start - 1] != ' ' && v[start - 1] != '\t')
		start--;
	return h1_mem_ieq(v + start, end - start, "chunked");
}

static enum h1_err
h1_header_line(struct h1_parser *p, const char *buf, uint32_t off, uint32_t len)
{
	const char *line = buf + off;
	uint32_t i = 0, v0, v1;
	enum h1_hdr_id id;
	unsigned n;

	if (line[0] == ' ' || line[0] == '\t')
		return H1_E_OBS_FOLD;
	/* four name bytes a step while all four are tchar, then the byte that ends the run */
	while (len - i >= 4 &&
	       (h1_tchar[(unsigned char)line[i]] & h1_tchar[(unsigned char)line[i + 1]] &
		h1_tchar[(unsigned char)line[i + 2]] & h1_tchar[(unsigned char)line[i + 3]]))
		i += 4;
	while (i < len && h1_tchar[(unsigned char)line[i]])
		i++;
	if (i == len)
		return H1_E_BAD_HEADER_NAME;
	if (line[i] != ':') {
		if (i > 0 && (line[i] == ' ' || line[i] == '\t'))
			return H1_E_SPACE_BEFORE_COLON;
		if (line[i] == '\0')
			return H1_E_NUL;
		if (line[i] == '\r')
			return H1_E_BARE_CR;
		return H1_E_BAD_HEADER_NAME;
	}
	if (i == 0)
		return H1_E_BAD_HEADER_NAME;

	v0 = h1_skip_printable(line, off, i + 1, len, 0x20);
	while (v0 < len && h1_value_byte[(unsigned char)line[v0]])
		v0++;
	if (v0 < len) {
		if (line[v0] == '\0')
			return H1_E_NUL;
		return line[v0] == '\r' ? H1_E_BARE_CR : H1_E_CTL_CHAR;
	}
	v0 = i + 1;
	while (v0 < len && (line[v0] == ' ' || line[v0] == '\t'))
		v0++;
	v1 = len;
	while (v1 > v0 && (line[v1 - 1] == ' ' || line[v1 - 1] == '\t'))
		v1--;

	if (p->nheaders >= p->lim.max_headers)
		return H1_E_TOO_MANY_HEADERS;

	id = h1_header_id(line, i);
	switch (id) {
	case H1_H_HOST:
		if (p->idx[id] >= 0)
			return H1_E_DUP_HOST;
		if (!h1_host_valid(line + v0, v1 - v0))
			return H1_E_BAD_HOST;
		break;
	case H1_H_AUTHORIZATION:
		if (p->idx[id] >= 0)
			return H1_E_DUP_AUTHORIZATION;
		break;
	case H1_H_CONTENT_LENGTH:
		if (p->idx[id] >= 0)
			return H1_E_DUP_CONTENT_LENGTH;
		if (h1_content_length(p, line + v0, v1 - v0) != H1_E_NONE)
			return H1_E_BAD_CONTENT_LENGTH;
		break;
	case H1_H_CONNECTION: {
		struct h1_view v = {line + v0, v1 - v0};

		/*
		 * Most clients send one token: the list is that token (h1_name_is holds for a value
		 * too, its bytes checked above: CR cannot be in it).
		 */
		if (v.len == 10 && h1_name_is(v.p, "keep-alive", 10)) {
			p->conn_keep_alive = true;
			break;
		}
		if (v.len == 5 && h1_name_is(v.p, "close", 5)) {
			p->conn_close = true;
			break;
		}
		/* every Connection line counts, not only the first */
		if (h1_list_has_token(v, "close"))
			p->conn_close = true;
		if (h1_list_has_token(v, "keep-alive"))
			p->conn_keep_alive = true;
		break;
	}
	case H1_H_TRANSFER_ENCODING:
		p->has_te = true;
		break;
	default:
		break;
	}

	n = p->nheaders++;
	p->hname[n] = (struct h1_span){off, i};
	p->hvalue[n] = (struct h1_span){off + v0, v1 - v0};
	p->hid[n] = (uint8_t)id;
	if (id != H1_H_OTHER && p->idx[id] < 0)
		p->idx[id] = (int)n;
	return H1_E_NONE;
}

/* Rules that need the whole header section. */
static enum h1_err
h1_headers_done(struct h1_parser *p, const char *buf)
{
	if (p->has_te) {
		int te = p->idx[H1_H_TRANSFER_ENCODING];
		unsigned n;

		if (p->idx[H1_H_CONTENT_LENGTH] >= 0)
			return H1_E_TE_WITH_CL;
		if (p->version_minor == 0)
			return H1_E_TE_HTTP10;
		/* with several TE lines the last one holds the final coding */
		for (n = 0; n < p->nheaders; n++)
			if (p->hid[n] == H1_H_TRANSFER_ENCODING)
				te = (int)n;
		if (!h1_te_final_chunked(buf + p->hvalue[te].off, p->hvalue[te].len))
			return H1_E_BAD_TE;
		if (!p->lim.accept_chunked)
			return H1_E_CHUNKED;
		/*
		 * A proxy decodes the body and sends it on re-chunked: "gzip, chunked" would lose
		 * its gzip, and two TE lines are how smuggling starts. Exactly one "chunked".
		 */
		if (te != p->idx[H1_H_TRANSFER_ENCODING] ||
		    !h1_mem_ieq(buf + p->hvalue[te].off, p->hvalue[te].len, "chunked"))
			return H1_E_TE_NOT_CHUNKED;
		p->chunked = true;
	}
	if (p->version_minor >= 1 && p->idx[H1_H_HOST] < 0)
		return H1_E_MISSING_HOST;
	if (p->idx[H1_H_EXPECT] >= 0 && p->version_minor >= 1) {
		const struct h1_span *e = &p->hvalue[p->idx[H1_H_EXPECT]];

		if (!h1_mem_ieq(buf + e->off, e->len, "100-continue"))
			return H1_E_EXPECT;
		p->expect_continue = true;
	}
	return H1_E_NONE;
}

static void
h1_fill(const struct h1_parser *p, const char *buf, uint32_t end, struct h1_request *req)
{
	unsigned n;

	req->method = p->meth;
	req->method_name = (struct h1_view){buf + p->method.off, p->method.len};
	req->target = (struct h1_view){buf + p->target.off, p->target.len};
	req->version_minor = p->version_minor;
	if (p->conn_close)
		req->keep_alive = false;
	else
		req->keep_alive = p->version_minor >= 1 || p->conn_keep_alive;
	req->expect_continue = p->expect_continue;
	req->chunked = p->chunked;
	req->content_length = p->content_length;
	req->head_len = end;
	req->nheaders = p->nheaders;
	memcpy(req->idx, p->idx, sizeof(req->idx));
	for (n = 0; n < p->nheaders; n++) {
		req->headers[n].name = (struct h1_view){buf + p->hname[n].off, p->hname[n].len};
		req->headers[n].value = (struct h1_view){buf + p->hvalue[n].off, p->hvalue[n].len};
		req->headers[n].id = (enum h1_hdr_id)p->hid[n];
	}
}

enum h1_rc
h1_parse(struct h1_parser *p, const char *buf, size_t len, struct h1_request *req)
{
	const char *lf;
	enum h1_err err;

	if (p->state == H1_S_ERROR)
		return H1_ERROR;
	if (p->state == H1_S_DONE)
		return H1_OK;
	/* offsets are 32-bit; limits keep real heads far below that */
	if (len > UINT32_MAX)
		len = UINT32_MAX;

	for (;;) {
		uint32_t ls = p->line_start, eol, n;

		if (p->scan < ls)
			p->scan = ls;
		lf = h1_find_lf(buf, p->scan, (uint32_t)len);
		if (lf == NULL) {
			/* refuse oversized heads now rather than buffering them */
			p->scan = (uint32_t)len;
			if (p->state == H1_S_REQUEST_LINE &&
			    len - ls > (size_t)p->lim.max_request_line + 1)
				return h1_fail(p, H1_E_REQUEST_LINE_TOO_LONG);
			if (p->state == H1_S_HEADERS &&
			    len - p->hdr_start > p->lim.max_header_bytes)
				return h1_fail(p, H1_E_HEADERS_TOO_LARGE);
			return H1_AGAIN;
		}
		eol = (uint32_t)(lf - buf);
		p->line_start = p->scan = eol + 1;
		/* a single LF is accepted as a terminator, its CR (if any) dropped (RFC 9112 2.2)
		 */
		n = eol - ls;
		if (n > 0 && buf[eol - 1] == '\r')
			n--;

		if (p->state == H1_S_REQUEST_LINE) {
			if (n > p->lim.max_request_line)
				return h1_fail(p, H1_E_REQUEST_LINE_TOO_LONG);
			if (n == 0) {
				/* RFC 9112 2.2 lets us skip stray CRLFs, e.g. after a body */
				if (++p->empty_lines > 16)
					return h1_fail(p, H1_E_TOO_MANY_EMPTY_LINES);
				continue;
			}
			err = h1_request_line(p, buf, ls, n);
			if (err != H1_E_NONE)
				return h1_fail(p, err);
			p->state = H1_S_HEADERS;
			p->hdr_start = p->line_start;
			continue;
		}

		/* H1_S_HEADERS */
		if (eol + 1 - p->hdr_start > p->lim.max_header_bytes)
			return h1_fail(p, H1_E_HEADERS_TOO_LARGE);
		if (n == 0) {
			err = h1_headers_done(p, buf);
			if (err != H1_E_NONE)
				return h1_fail(p, err);
			p->state = H1_S_DONE;
			h1_fill(p, buf, eol + 1, req);
			return H1_OK;
		}
		err = h1_header_line(p, buf, ls, n);
		if (err != H1_E_NONE)
			return h1_fail(p, err);
	}
}
