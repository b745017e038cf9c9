/* Basic verified-credential cache: salted SHA-256 keys, TTL, LRU, eviction on a new password. */
#ifndef AG_CONTROL_BASIC_CACHE_H
#define AG_CONTROL_BASIC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/basic.h"
#include "control/krb5_worker.h"

#define BASIC_CACHE_KEY_LEN	32 /* SHA-256 */
#define BASIC_CACHE_TTL_MAX_S	3600
#define BASIC_CACHE_ENTRIES_MIN 16
#define BASIC_CACHE_ENTRIES_MAX 65536 /* ~330 bytes each */

struct basic_cache_config {
	uint32_t ttl_s;	  /* how long a KDC-verified success answers for itself; 1..3600 */
	uint32_t entries; /* capacity; the least recently used entry goes when full */
	/* monotonic nanoseconds; NULL = CLOCK_MONOTONIC. Tests drive expiry with their own. */
	uint64_t (*clock)(void *arg);
	void *clock_arg;
};

struct basic_cache_stats {
	uint64_t hits;	    /* answered from the cache: no KDC call, no semaphore slot */
	uint64_t misses;    /* looked up and not found (or expired): went to the KDC */
	uint64_t evictions; /* removed for room, or because the principal's password changed */
	uint64_t expired;   /* removed because the TTL (or the TGT) ended */
	uint64_t inserts;   /* KDC-verified successes stored */
	uint32_t live;
};

/* What a hit answers with: the verified principal and when its TGT ends. */
struct basic_cache_hit {
	char principal[KW_PRINCIPAL_MAX];
	int64_t expires_at;
	uint64_t groups; /* the verdict's group bits when it was stored */
};

struct basic_cache;

/*
 * NULL with errno set: EINVAL for a ttl of 0 or a size out of range (a ttl of 0 means "no
 * cache": do not create one), ENOMEM, or getrandom's error for the per-process salt.
 */
struct basic_cache *basic_cache_create(const struct basic_cache_config *cfg);
void basic_cache_destroy(struct basic_cache *c);

/*
 * key_out = SHA-256(salt, realm, user, password), every field length-prefixed. The salt is
 * random per cache, so a key means nothing outside this process. Temporaries are wiped;
 * the caller wipes key_out when done with it.
 */
void basic_cache_key(const struct basic_cache *c, const char *realm, const struct basic_view *bv,
		     uint8_t key_out[BASIC_CACHE_KEY_LEN]);

/*
 * 0 and *hit_out filled when key was verified within the TTL and its TGT has not ended
 * (now_s: Unix seconds); -ENOENT otherwise (counted as a miss). *started_out (may be NULL)
 * is the cache clock at the lookup, to hand to basic_cache_record with the verdict.
 */
int basic_cache_lookup(struct basic_cache *c, const uint8_t key[BASIC_CACHE_KEY_LEN], int64_t now_s,
		       struct basic_cache_hit *hit_out, uint64_t *started_out);

/*
 * After the KDC answered: stores key only when v is a success (KW_OK, so after
 * krb5_verify_init_creds); refusals and errors are never cached. A success whose key
 * differs from the principal's other entries evicts them: a new password means the old one
 * is gone. started is basic_cache_lookup's *started_out: a success that began before
 * another password of the same principal was verified is not stored (it may be the old
 * one). Returns true when stored.
 */
bool basic_cache_record(struct basic_cache *c, const uint8_t key[BASIC_CACHE_KEY_LEN],
			uint64_t started, const struct kw_verdict *v);

/* Drops every entry of principal (case ignored: an operator's revocation); returns how many. */
unsigned int basic_cache_forget(struct basic_cache *c, const char *principal);
void basic_cache_get_stats(struct basic_cache *c, struct basic_cache_stats *stats_out);

#endif
