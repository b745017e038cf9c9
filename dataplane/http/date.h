/* HTTP-date (RFC 9110 5.6.7): IMF-fixdate output, the three historical forms on input. */
#ifndef AG_DATAPLANE_HTTP_DATE_H
#define AG_DATAPLANE_HTTP_DATE_H

#include <stddef.h>
#include <stdint.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define HTTP_DATE_LEN 29

/* Writes HTTP_DATE_LEN characters and a NUL; t is seconds since the Unix epoch. */
void http_date_fmt(int64_t t, char out[HTTP_DATE_LEN + 1]);

/*
 * The same text from a small per-thread cache: a response names "now" and its file's mtime,
 * both the same for many responses in a row. The pointer is good until this thread's next call.
 */
const char *http_date_str(int64_t t);

/* Accepts IMF-fixdate, RFC 850 and asctime forms; returns 0 or -EINVAL. */
int http_date_parse(const char *s, size_t len, int64_t *t_out);

#endif
