/* The old request-head parser and path normaliser, kept as the differential fuzzer's oracle
 * (h1_oracle.c). */
#ifndef AG_TESTS_FUZZ_H1_ORACLE_H
#define AG_TESTS_FUZZ_H1_ORACLE_H

#include "dataplane/http/h1.h"

void h1o_parser_init(struct h1_parser *p, const struct h1_limits *lim);
void h1o_parser_reset(struct h1_parser *p);
enum h1_rc h1o_parse(struct h1_parser *p, const char *buf, size_t len, struct h1_request *req);
int patho_normalize(const char *t, size_t len, char *out, size_t out_size, size_t *len_out);

#endif
