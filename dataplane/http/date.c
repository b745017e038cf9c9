/* HTTP-date formatting and parsing without locale, time zone or libc time state. */
#include <errno.h>
#include <string.h>

#include "dataplane/http/date.h"

static const char http_wkday[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char http_month[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm). */
static int64_t
http_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
http_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void
http_put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

void
http_date_fmt(int64_t t, char out[HTTP_DATE_LEN + 1])
{
	int64_t days, secs, y;
	unsigned m, d, wd;

	/* clamp to years 0..9999 so the fixed-width form always fits */
	if (t < -62167219200LL)
		t = -62167219200LL;
	if (t > 253402300799LL)
		t = 253402300799LL;
	days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	secs = t - days * 86400;
	http_civil_from_days(days, &y, &m, &d);
	wd = (unsigned)(((days % 7) + 7) % 7);

	memcpy(out, http_wkday[wd], 3);
	out[3] = ',';
	out[4] = ' ';
	http_put2(out + 5, d);
	out[7] = ' ';
	memcpy(out + 8, http_month[m - 1], 3);
	out[11] = ' ';
	http_put2(out + 12, (unsigned)(y / 100));
	http_put2(out + 14, (unsigned)(y % 100));
	out[16] = ' ';
	http_put2(out + 17, (unsigned)(secs / 3600));
	out[19] = ':';
	http_put2(out + 20, (unsigned)(secs / 60 % 60));
	out[22] = ':';
	http_put2(out + 23, (unsigned)(secs % 60));
	memcpy(out + 25, " GMT", 5);
}

const char *
http_date_str(int64_t t)
{
	/*
	 * Two ways per set: "now" and a file's mtime that land in one set must not evict each
	 * other on every response (a direct-mapped cache did, for one mtime in eight).
	 */
	static __thread struct {
		struct {
			int64_t t;
			char s[HTTP_DATE_LEN + 1];
		} way[2];
		unsigned char last; /* the way used last: the other one is replaced */
	} cache[8];
	unsigned set = (unsigned)t & 7, w;

	for (w = 0; w < 2; w++) {
		/* a zeroed way holds no text: t = 0 is formatted each time, which is fine */
		if (cache[set].way[w].t == t && cache[set].way[w].s[0] != '\0') {
			cache[set].last = (unsigned char)w;
			return cache[set].way[w].s;
		}
	}
	w = cache[set].last ^ 1u;
	http_date_fmt(t, cache[set].way[w].s);
	cache[set].way[w].t = t;
	cache[set].last = (unsigned char)w;
	return cache[set].way[w].s;
}

struct http_date_cursor {
	const char *s;
	size_t len, i;
};

static int
http_digits(struct http_date_cursor *c, unsigned min, unsigned max, int *v_out)
{
	unsigned n = 0;
	int v = 0;

	while (c->i < c->len && n < max && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
		v = v * 10 + (c->s[c->i] - '0');
		c->i++;
		n++;
	}
	if (n < min)
		return -EINVAL;
	*v_out = v;
	return 0;
}

static int
http_lit(struct http_date_cursor *c, const char *lit)
{
	size_t n = strlen(lit);

	if (c->len - c->i < n || memcmp(c->s + c->i, lit, n) != 0)
		return -EINVAL;
	c->i += n;
	return 0;
}

static int
http_month_name(struct http_date_cursor *c, unsigned *m_out)
{
	unsigned m;

	if (c->len - c->i < 3)
		return -EINVAL;
	for (m = 0; m < 12; m++) {
		if (memcmp(c->s + c->i, http_month[m], 3) == 0) {
			c->i += 3;
			*m_out = m + 1;
			return 0;
		}
	}
	return -EINVAL;
}

static int
http_time_of_day(struct http_date_cursor *c, int *h, int *mi, int *se)
{
	if (http_digits(c, 2, 2, h) || http_lit(c, ":") || http_digits(c, 2, 2, mi) ||
	    http_lit(c, ":") || http_digits(c, 2, 2, se))
		return -EINVAL;
	/* 60 allows a leap second, which then counts as the next second */
	if (*h > 23 || *mi > 59 || *se > 60)
		return -EINVAL;
	return 0;
}

int
http_date_parse(const char *s, size_t len, int64_t *t_out)
{
	struct http_date_cursor c = {s, len, 0};
	int d, y, h, mi, se;
	unsigned m;
	size_t comma;

	/* the weekday is redundant: skip it, the comma tells which form follows */
	while (c.i < len && ((s[c.i] >= 'A' && s[c.i] <= 'Z') || (s[c.i] >= 'a' && s[c.i] <= 'z')))
		c.i++;
	if (c.i < 3)
		return -EINVAL;
	comma = c.i;
	if (c.i < len && s[c.i] == ',') {
		c.i++;
		if (http_lit(&c, " ") || http_digits(&c, 2, 2, &d))
			return -EINVAL;
		if (c.i < len && s[c.i] == ' ') {
			/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
			c.i++;
			if (http_month_name(&c, &m) || http_lit(&c, " ") ||
			    http_digits(&c, 4, 4, &y) || http_lit(&c, " "))
				return -EINVAL;
		} else {
			/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
			if (comma <= 3 || http_lit(&c, "-") || http_month_name(&c, &m) ||
			    http_lit(&c, "-") || http_digits(&c, 2, 2, &y) || http_lit(&c, " "))
				return -EINVAL;
			/* RFC 9110: a two-digit year more than 50 years ahead is in the past */
			y += y >= 70 ? 1900 : 2000;
		}
		if (http_time_of_day(&c, &h, &mi, &se) || http_lit(&c, " GMT"))
			return -EINVAL;
	} else {
		/* asctime: Sun Nov  6 08:49:37 1994 */
		if (http_lit(&c, " ") || http_month_name(&c, &m) || http_lit(&c, " "))
			return -EINVAL;
		if (c.i < len && s[c.i] == ' ')
			c.i++;
		if (http_digits(&c, 1, 2, &d) || http_lit(&c, " ") ||
		    http_time_of_day(&c, &h, &mi, &se) || http_lit(&c, " ") ||
		    http_digits(&c, 4, 4, &y))
			return -EINVAL;
	}
	if (c.i != len || d < 1 || d > 31)
		return -EINVAL;
	*t_out = http_days_from_civil(y, m, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}
