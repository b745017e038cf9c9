/* btok: Authorization header values for many client principals, minted ahead of the clock. */
#ifndef AG_BENCH_BURST_TOK_H
#define AG_BENCH_BURST_TOK_H

#include <stddef.h>
#include <stdint.h>

struct btok_pool;

struct btok_conf {
	const char *keytab_dir;	      /* holds <principal>.keytab per user */
	const char *principal_format; /* printf format with one %u: "user%u" */
	unsigned int users;	      /* principals 1..users */
	const char *spn;	      /* GSS host-based service name, "HTTP@gw.authgate.test" */
};

/* A pool of SPNEGO tokens; NULL with errno set when no credential could be acquired. */
struct btok_pool *btok_pool_create(const struct btok_conf *conf, char *err, size_t errlen);
void btok_pool_free(struct btok_pool *p);

/*
 * Mints per_user tokens for every user with `threads` threads (each with its own credentials and
 * MEMORY ccaches). Returns 0 or -errno (err says what GSS-API said).
 */
int btok_mint(struct btok_pool *p, unsigned int per_user, unsigned int threads, char *err,
	      size_t errlen);

/*
 * "Negotiate <base64>" for user (1-based). Each call hands out a token nobody else got; when the
 * pre-minted ones run out it mints one now (counted by btok_late) under a lock. NULL on failure.
 * Safe to call from several threads.
 */
const char *btok_take(struct btok_pool *p, unsigned int user);
uint64_t btok_minted(const struct btok_pool *p);
uint64_t btok_late(const struct btok_pool *p);

/* RFC 4648 base64 of n bytes into out (room for 4 * ceil(n / 3) + 1); returns the length. */
size_t btok_base64(const unsigned char *in, size_t n, char *out);

#endif
