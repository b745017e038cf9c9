/*
 * Revocations as an append-only list of chunks: the writer (an operator's command, under a
 * mutex) appends entries or moves an entry's end; readers (the lcores, on every verdict and
 * when the epoch moves) walk it without a lock. Entries are never removed, so a reader never
 * follows a freed pointer; a lifted or expired revocation only has its end in the past. The
 * list has no ceiling: it grows by chunks as operators revoke.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/revoke.h"

#define REVOKE_CHUNK 64

struct revocation {
	char principal[KW_PRINCIPAL_MAX];
	int64_t until; /* Unix seconds; written atomically */
};

struct revoke_chunk {
	struct revoke_chunk *next; /* published with release once complete */
	uint32_t n;		   /* entries written: published with release */
	struct revocation e[REVOKE_CHUNK];
};

static struct {
	pthread_mutex_t lock;
	struct revoke_chunk *head;
	struct revoke_chunk *tail;
	uint32_t epoch;
} rv = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct revocation *
find_exact_locked(const char *principal)
{
	for (struct revoke_chunk *c = rv.head; c != NULL; c = c->next)
		for (uint32_t i = 0; i < c->n; i++)
			if (strcmp(c->e[i].principal, principal) == 0)
				return &c->e[i];
	return NULL;
}

int
revoke_add(const char *principal, int64_t now, uint32_t ttl_s)
{
	struct revocation *r;

	if (principal == NULL || *principal == '\0' ||
	    strnlen(principal, KW_PRINCIPAL_MAX) == KW_PRINCIPAL_MAX)
		return -EINVAL;
	pthread_mutex_lock(&rv.lock);
	r = find_exact_locked(principal);
	if (r == NULL) {
		if (rv.tail == NULL || rv.tail->n == REVOKE_CHUNK) {
			struct revoke_chunk *c = calloc(1, sizeof(*c));

			if (c == NULL) {
				pthread_mutex_unlock(&rv.lock);
				return -ENOMEM;
			}
			if (rv.tail == NULL)
				__atomic_store_n(&rv.head, c, __ATOMIC_RELEASE);
			else
				__atomic_store_n(&rv.tail->next, c, __ATOMIC_RELEASE);
			rv.tail = c;
		}
		r = &rv.tail->e[rv.tail->n];
		memcpy(r->principal, principal, strlen(principal) + 1);
		r->until = now + ttl_s;
		__atomic_store_n(&rv.tail->n, rv.tail->n + 1, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&r->until, now + ttl_s, __ATOMIC_RELEASE);
	}
	__atomic_add_fetch(&rv.epoch, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rv.lock);
	return 0;
}

int
revoke_lift(const char *principal, int64_t now)
{
	struct revocation *r;
	int rc = -ENOENT;

	pthread_mutex_lock(&rv.lock);
	r = find_exact_locked(principal);
	if (r != NULL && r->until > now) {
		__atomic_store_n(&r->until, now, __ATOMIC_RELEASE);
		__atomic_add_fetch(&rv.epoch, 1, __ATOMIC_RELEASE);
		rc = 0;
	}
	pthread_mutex_unlock(&rv.lock);
	return rc;
}

bool
revoke_active(const char *principal, bool ignore_case, int64_t now)
{
	struct revoke_chunk *c = __atomic_load_n(&rv.head, __ATOMIC_ACQUIRE);

	for (; c != NULL; c = __atomic_load_n(&c->next, __ATOMIC_ACQUIRE)) {
		uint32_t n = __atomic_load_n(&c->n, __ATOMIC_ACQUIRE);

		for (uint32_t i = 0; i < n; i++) {
			const struct revocation *r = &c->e[i];

			if (__atomic_load_n(&r->until, __ATOMIC_ACQUIRE) <= now)
				continue;
			if (ignore_case ? strcasecmp(r->principal, principal) == 0
					: strcmp(r->principal, principal) == 0)
				return true;
		}
	}
	return false;
}

uint32_t
revoke_epoch(void)
{
	return __atomic_load_n(&rv.epoch, __ATOMIC_ACQUIRE);
}

void
revoke_walk(int64_t now, revoke_walk_fn fn, void *arg)
{
	struct revoke_chunk *c = __atomic_load_n(&rv.head, __ATOMIC_ACQUIRE);

	for (; c != NULL; c = __atomic_load_n(&c->next, __ATOMIC_ACQUIRE)) {
		uint32_t n = __atomic_load_n(&c->n, __ATOMIC_ACQUIRE);

		for (uint32_t i = 0; i < n; i++) {
			int64_t until = __atomic_load_n(&c->e[i].until, __ATOMIC_ACQUIRE);

			if (until > now)
				fn(c->e[i].principal, until, arg);
		}
	}
}
