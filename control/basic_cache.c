/* Basic verified-credential cache: a mutex-protected hash table with LRU order and a TTL. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <nettle/sha2.h>

#include "common/mono.h"
#include "control/basic_cache.h"

#define BC_SALT_LEN 32

/*
 * One KDC-verified success. Reachable three ways: by key (the lookup), by principal (a new
 * password evicts the old ones), and in LRU order (capacity). No password, only its salted
 * hash; the principal is what the verdict already names.
 */
struct bc_entry {
	uint8_t key[BASIC_CACHE_KEY_LEN];
	char principal[KW_PRINCIPAL_MAX];
	uint64_t phash;		/* of principal: its bucket in by_principal */
	uint64_t stored;	/* cache clock when the KDC verified it; the TTL runs from here */
	int64_t expires_at;	/* TGT end (Unix s): a hit never outlives the ticket it stood for */
	uint64_t groups;	/* the verdict's require_group bits */
	struct bc_entry *knext; /* key bucket chain; the free list when unused */
	struct bc_entry *pnext; /* principal bucket chain */
	struct bc_entry *newer, *older; /* LRU: head is the most recently used */
};

struct basic_cache {
	pthread_mutex_t lock;
	uint64_t ttl_ns;
	uint32_t capacity;
	uint32_t mask; /* buckets - 1 */
	uint64_t (*clock)(void *arg);
	void *clock_arg;
	uint8_t salt[BC_SALT_LEN];
	struct bc_entry *entries;
	struct bc_entry **by_key;
	struct bc_entry **by_principal;
	struct bc_entry *free_list;
	struct bc_entry *newest, *oldest;
	struct basic_cache_stats stats;
};

static uint64_t
bc_mono_ns(void *arg)
{
	(void)arg;
	return ag_mono_ns();
}

/* FNV-1a: principals are not secret, and the key bucket already uses the salted hash. */
static uint64_t
bc_principal_hash(const char *p)
{
	uint64_t h = 14695981039346656037ull;

	for (; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

static uint32_t
bc_key_bucket(const struct basic_cache *c, const uint8_t key[BASIC_CACHE_KEY_LEN])
{
	uint32_t b;

	memcpy(&b, key, sizeof(b));
	return b & c->mask;
}

/* Constant time, although the keys are salted hashes: nothing to learn from early exits. */
static bool
bc_key_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;

	for (size_t i = 0; i < BASIC_CACHE_KEY_LEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

struct basic_cache *
basic_cache_create(const struct basic_cache_config *cfg)
{
	struct basic_cache *c;
	uint32_t buckets = 1;

	if (cfg == NULL || cfg->ttl_s == 0 || cfg->ttl_s > BASIC_CACHE_TTL_MAX_S ||
	    cfg->entries < BASIC_CACHE_ENTRIES_MIN || cfg->entries > BASIC_CACHE_ENTRIES_MAX) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	while (buckets < cfg->entries)
		buckets <<= 1;
	c->capacity = cfg->entries;
	c->mask = buckets - 1;
	c->ttl_ns = (uint64_t)cfg->ttl_s * 1000000000ull;
	c->clock = cfg->clock != NULL ? cfg->clock : bc_mono_ns;
	c->clock_arg = cfg->clock_arg;
	c->entries = calloc(cfg->entries, sizeof(*c->entries));
	c->by_key = calloc(buckets, sizeof(*c->by_key));
	c->by_principal = calloc(buckets, sizeof(*c->by_principal));
	if (c->entries == NULL || c->by_key == NULL || c->by_principal == NULL) {
		basic_cache_destroy(c);
		errno = ENOMEM;
		return NULL;
	}
	if (getrandom(c->salt, sizeof(c->salt), 0) != (ssize_t)sizeof(c->salt)) {
		int err = errno != 0 ? errno : EIO;

		basic_cache_destroy(c);
		errno = err;
		return NULL;
	}
	for (uint32_t i = 0; i < cfg->entries; i++) {
		c->entries[i].knext = c->free_list;
		c->free_list = &c->entries[i];
	}
	return c;
}

void
basic_cache_destroy(struct basic_cache *c)
{
	if (c == NULL)
		return;
	/* salted hashes of passwords: nothing of them stays in freed memory */
	if (c->entries != NULL)
		explicit_bzero(c->entries, (size_t)c->capacity * sizeof(*c->entries));
	pthread_mutex_destroy(&c->lock);
	explicit_bzero(c->salt, sizeof(c->salt));
	free(c->entries);
	free(c->by_key);
	free(c->by_principal);
	free(c);
}

static void
bc_len_prefixed(struct sha256_ctx *h, const void *p, size_t n)
{
	uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};

	sha256_update(h, sizeof(len), len);
	sha256_update(h, n, p);
}

void
basic_cache_key(const struct basic_cache *c, const char *realm, const struct basic_view *bv,
		uint8_t key_out[BASIC_CACHE_KEY_LEN])
{
	struct sha256_ctx h;

	sha256_init(&h);
	sha256_update(&h, sizeof(c->salt), c->salt);
	bc_len_prefixed(&h, realm, strlen(realm));
	bc_len_prefixed(&h, bv->user, bv->user_len);
	bc_len_prefixed(&h, bv->password, bv->password_len);
	sha256_digest(&h, BASIC_CACHE_KEY_LEN, key_out);
	/* the context's buffer may still hold the tail of the password */
	explicit_bzero(&h, sizeof(h));
}

static void
bc_lru_unlink(struct basic_cache *c, struct bc_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
bc_lru_push(struct basic_cache *c, struct bc_entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest != NULL)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
}

static void
bc_remove(struct basic_cache *c, struct bc_entry *e)
{
	struct bc_entry **pp;

	for (pp = &c->by_key[bc_key_bucket(c, e->key)]; *pp != e; pp = &(*pp)->knext)
		;
	*pp = e->knext;
	for (pp = &c->by_principal[e->phash & c->mask]; *pp != e; pp = &(*pp)->pnext)
		;
	*pp = e->pnext;
	bc_lru_unlink(c, e);
	explicit_bzero(e, sizeof(*e));
	e->knext = c->free_list;
	c->free_list = e;
	c->stats.live--;
}

static struct bc_entry *
bc_find(struct basic_cache *c, const uint8_t key[BASIC_CACHE_KEY_LEN])
{
	struct bc_entry *e;

	for (e = c->by_key[bc_key_bucket(c, key)]; e != NULL; e = e->knext)
		if (bc_key_equal(e->key, key))
			return e;
	return NULL;
}

static bool
bc_expired(const struct basic_cache *c, const struct bc_entry *e, uint64_t now, int64_t now_s)
{
	return now - e->stored >= c->ttl_ns || (e->expires_at != 0 && e->expires_at <= now_s);
}

int
basic_cache_lookup(struct basic_cache *c, const uint8_t key[BASIC_CACHE_KEY_LEN], int64_t now_s,
		   struct basic_cache_hit *hit_out, uint64_t *started_out)
{
	struct bc_entry *e;
	uint64_t now;
	int ret = -ENOENT;

	pthread_mutex_lock(&c->lock);
	now = c->clock(c->clock_arg);
	if (started_out != NULL)
		*started_out = now;
	e = bc_find(c, key);
	if (e != NULL && bc_expired(c, e, now, now_s)) {
		bc_remove(c, e);
		c->stats.expired++;
		e = NULL;
	}
	if (e != NULL) {
		/* recency only orders capacity evictions; the TTL still runs from verification */
		bc_lru_unlink(c, e);
		bc_lru_push(c, e);
		memcpy(hit_out->principal, e->principal, sizeof(hit_out->principal));
		hit_out->expires_at = e->expires_at;
		hit_out->groups = e->groups;
		c->stats.hits++;
		ret = 0;
	} else {
		c->stats.misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

bool
basic_cache_record(struct basic_cache *c, const uint8_t key[BASIC_CACHE_KEY_LEN], uint64_t started,
		   const struct kw_verdict *v)
{
	struct bc_entry *e, *next;
	uint64_t phash, now;

	/* only what krb5_verify_init_creds accepted: a refusal must be asked again */
	if (v->reason != KW_OK || v->principal[0] == '\0' ||
	    strnlen(v->principal, KW_PRINCIPAL_MAX) == KW_PRINCIPAL_MAX)
		return false;
	phash = bc_principal_hash(v->principal);
	pthread_mutex_lock(&c->lock);
	now = c->clock(c->clock_arg);
	for (e = c->by_principal[phash & c->mask]; e != NULL; e = e->pnext) {
		/*
		 * Another password of this principal verified after this validation began: this
		 * one may be the old password, and its success must not push the new one out.
		 */
		if (e->phash == phash && strcmp(e->principal, v->principal) == 0 &&
		    !bc_key_equal(e->key, key) && e->stored > started) {
			pthread_mutex_unlock(&c->lock);
			return false;
		}
	}
	for (e = c->by_principal[phash & c->mask]; e != NULL; e = next) {
		next = e->pnext;
		if (e->phash != phash || strcmp(e->principal, v->principal) != 0)
			continue;
		/*
		 * The same key verified again (two misses raced) is replaced: its TTL starts
		 * afresh. Another key means a new password was verified: the old one is gone at the
		 * KDC.
		 */
		if (!bc_key_equal(e->key, key))
			c->stats.evictions++;
		bc_remove(c, e);
	}
	if (c->free_list == NULL) {
		bc_remove(c, c->oldest);
		c->stats.evictions++;
	}
	e = c->free_list;
	c->free_list = e->knext;
	memcpy(e->key, key, BASIC_CACHE_KEY_LEN);
	memcpy(e->principal, v->principal, strlen(v->principal) + 1);
	e->phash = phash;
	e->stored = now;
	e->expires_at = v->expires_at;
	e->groups = v->groups;
	e->knext = c->by_key[bc_key_bucket(c, key)];
	c->by_key[bc_key_bucket(c, key)] = e;
	e->pnext = c->by_principal[phash & c->mask];
	c->by_principal[phash & c->mask] = e;
	bc_lru_push(c, e);
	c->stats.live++;
	c->stats.inserts++;
	pthread_mutex_unlock(&c->lock);
	return true;
}

unsigned int
basic_cache_forget(struct basic_cache *c, const char *principal)
{
	struct bc_entry *e, *older;
	unsigned int n = 0;

	/* every entry, not the principal's bucket: a revocation may differ in case */
	pthread_mutex_lock(&c->lock);
	for (e = c->newest; e != NULL; e = older) {
		older = e->older;
		if (strcasecmp(e->principal, principal) == 0) {
			bc_remove(c, e);
			c->stats.evictions++;
			n++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

void
basic_cache_get_stats(struct basic_cache *c, struct basic_cache_stats *stats_out)
{
	pthread_mutex_lock(&c->lock);
	*stats_out = c->stats;
	pthread_mutex_unlock(&c->lock);
}
