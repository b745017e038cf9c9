/* Chunked transfer coding decoder: byte-level state machine, data reported in place. */
#include "dataplane/http/chunked.h"

#include <string.h>

#define CHUNKED_SIZE_MAX (1ull << 60)

void
chunked_init(struct chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CHUNKED_S_SIZE;
}

static int
hexval(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool
tchar(uint8_t ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static enum chunked_rc
fail(struct chunked *c, size_t i, size_t *used)
{
	c->state = CHUNKED_S_ERROR;
	*used = i;
	return CHUNKED_ERROR;
}

enum chunked_rc
chunked_parse(struct chunked *c, const uint8_t *buf, size_t len, size_t max_data, size_t *used,
	      size_t *data_off, size_t *data_len)
{
	size_t i = 0;

	*data_off = 0;
	*data_len = 0;
	if (c->state == CHUNKED_S_ERROR)
		return fail(c, 0, used);
	while (i < len) {
		uint8_t ch = buf[i];

		switch (c->state) {
		case CHUNKED_S_SIZE: {
			int v = hexval(ch);

			if (v >= 0) {
				if (c->size >= CHUNKED_SIZE_MAX / 16)
					return fail(c, i, used);
				c->size = c->size * 16 + (uint64_t)v;
				c->ndigits++;
			} else if (c->ndigits > 0 && ch == ';') {
				c->state = CHUNKED_S_EXT;
			} else if (c->ndigits > 0 && ch == '\r') {
				c->state = CHUNKED_S_SIZE_LF;
			} else {
				/* no digit, whitespace, sign, "0x", bare LF: all refused */
				return fail(c, i, used);
			}
			break;
		}
		case CHUNKED_S_EXT:
			/* extensions are dropped: any visible byte, SP or HTAB, up to CR */
			if (ch == '\r')
				c->state = CHUNKED_S_SIZE_LF;
			else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return fail(c, i, used);
			break;
		case CHUNKED_S_SIZE_LF:
			if (ch != '\n')
				return fail(c, i, used);
			c->line = 0;
			c->ndigits = 0;
			if (c->size == 0) {
				c->state = CHUNKED_S_TRAILER;
				c->trailer_empty = true;
				c->trailer_colon = false;
			} else {
				c->left = c->size;
				c->state = CHUNKED_S_DATA;
			}
			c->size = 0;
			i++;
			continue;
		case CHUNKED_S_DATA: {
			size_t n = len - i;

			if (n > c->left)
				n = (size_t)c->left;
			if (n > max_data)
				n = max_data;
			if (n == 0) {
				*used = i;
				return CHUNKED_AGAIN; /* no room: the caller comes back */
			}
			c->left -= n;
			c->data_total += n;
			if (c->left == 0)
				c->state = CHUNKED_S_DATA_CR;
			*data_off = i;
			*data_len = n;
			*used = i + n;
			return CHUNKED_DATA;
		}
		case CHUNKED_S_DATA_CR:
			if (ch != '\r')
				return fail(c, i, used);
			c->state = CHUNKED_S_DATA_LF;
			break;
		case CHUNKED_S_DATA_LF:
			if (ch != '\n')
				return fail(c, i, used);
			c->state = CHUNKED_S_SIZE;
			i++;
			continue;
		case CHUNKED_S_TRAILER:
			if (++c->trailer > CHUNKED_TRAILER_MAX)
				return fail(c, i, used);
			if (ch == '\r') {
				if (!c->trailer_empty && !c->trailer_colon)
					return fail(c, i, used);
				c->state = CHUNKED_S_TRAILER_LF;
			} else if (c->trailer_empty && !tchar(ch)) {
				/* a field name starts the line: no whitespace (obs-fold), no CTL */
				return fail(c, i, used);
			} else if (!c->trailer_colon && ch != ':' && !tchar(ch)) {
				return fail(c, i, used);
			} else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				return fail(c, i, used);
			} else {
				if (ch == ':')
					c->trailer_colon = true;
				c->trailer_empty = false;
			}
			break;
		case CHUNKED_S_TRAILER_LF:
			if (ch != '\n')
				return fail(c, i, used);
			if (c->trailer_empty) {
				c->state = CHUNKED_S_DONE;
				*used = i + 1;
				return CHUNKED_DONE;
			}
			c->state = CHUNKED_S_TRAILER;
			c->trailer_empty = true;
			c->trailer_colon = false;
			i++;
			continue;
		case CHUNKED_S_DONE:
			*used = i;
			return CHUNKED_DONE;
		case CHUNKED_S_ERROR:
			return fail(c, i, used);
		}
		if (c->state != CHUNKED_S_TRAILER && c->state != CHUNKED_S_TRAILER_LF &&
		    ++c->line > CHUNKED_LINE_MAX)
			return fail(c, i, used);
		i++;
	}
	*used = i;
	return c->state == CHUNKED_S_DONE ? CHUNKED_DONE : CHUNKED_AGAIN;
}
