/* Content store: site lookup, open/fstat/mmap with a revalidated refcounted cache. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/mono.h"
#include "dataplane/http/date.h"
#include "dataplane/http/path.h"
#include "dataplane/http/resolver.h"
#include "dataplane/http/sigbus.h"
#include "dataplane/http/store.h"

#define STORE_BUCKETS	   256
#define STORE_LANE_BUCKETS 64

struct store_site {
	char *root; /* realpath() of the configured root */
	size_t root_len;
};

/* A path that was not found, and when we last looked. */
struct store_neg {
	uint64_t checked_ns;
	uint16_t len; /* 0: free */
	char key[STORE_NEG_KEY_MAX];
};

struct store {
	const struct site_conf *conf_sites; /* the caller's: they outlive the store */
	struct store_site *sites;	    /* index for index with conf_sites */
	unsigned nsites;
	unsigned max_files;
	unsigned nfiles;
	uint64_t revalidate_ns;
	uint64_t check_ns;
	uint64_t (*now_ns)(void);
	uint64_t syscalls;
	uint64_t neg_hits;
	uint64_t gen;		  /* tells this store's lookups from a predecessor's */
	struct store_lane *lane;  /* NULL: misses resolved here, synchronously */
	bool may_park;		  /* store_park_as() was called: misses park from now on */
	struct store_waiter park; /* under the name it gave last */
	bool resumed;		  /* store_resume() left an outcome for the next store_open() */
	struct store_done resume;
	struct store_file *buckets[STORE_BUCKETS];
	struct store_neg neg[STORE_NEG_SLOTS];
};

/*
 * A miss handed to a resolver thread. The lcore fills the first part and never writes it
 * again once posted; the resolver writes the second part; the rings order the two.
 */
struct store_lookup {
	uint64_t gen;
	uint64_t posted_ns; /* the store's clock: when it was decided, for checked_ns */
	uint64_t mono_ns;   /* CLOCK_MONOTONIC at post, for the latency counter */
	size_t key_len;
	size_t root_len;	/* full[0..root_len) is the site root's realpath */
	struct store_file *old; /* revalidation: the cached file, pinned, its identity compared */
	const char *full;	/* root + relative path */
	/* written by the resolver */
	int rc;
	bool same;		 /* old is still what the path names: no new mapping */
	struct store_file *file; /* a new mapping, the lookup's reference */
	uint64_t resolve_ns;
	unsigned syscalls;
	/* the lcore's again once answered */
	struct store_lookup *hnext; /* in flight: the lane's chain; answered: the retired list */
	struct store_waiter *waiters;
	unsigned nwaiters, capw, delivered;
	char key[]; /* key_len bytes and a NUL, then full */
};

struct store_lane {
	struct resolver *r;
	unsigned lane;
	unsigned max_inflight;
	struct store_lookup *cur;     /* answered, its waiters being handed their outcome */
	struct store_lookup *retired; /* done: freed on the next poll (store_done.lk) */
	struct store_lookup *inflight[STORE_LANE_BUCKETS];
	struct store_lane_stats stats;
};

static uint64_t store_gens;

static const struct {
	const char *ext;
	const char *type;
} store_types[] = {
	{"html", "text/html; charset=utf-8"},
	{"htm", "text/html; charset=utf-8"},
	{"txt", "text/plain; charset=utf-8"},
	{"css", "text/css"},
	{"js", "text/javascript"},
	{"json", "application/json"},
	{"xml", "application/xml"},
	{"png", "image/png"},
	{"jpg", "image/jpeg"},
	{"jpeg", "image/jpeg"},
	{"gif", "image/gif"},
	{"svg", "image/svg+xml"},
	{"ico", "image/vnd.microsoft.icon"},
	{"pdf", "application/pdf"},
	{"zip", "application/zip"},
	{"gz", "application/gzip"},
	{"tar", "application/x-tar"},
	{"cab", "application/vnd.ms-cab-compressed"},
	{"msi", "application/x-msi"},
	{"exe", "application/vnd.microsoft.portable-executable"},
	{"iso", "application/x-iso9660-image"},
};

const char *
store_content_type(const char *name, size_t len)
{
	size_t i = len, k;

	while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/')
		i--;
	if (i == 0 || name[i - 1] != '.')
		return "application/octet-stream";
	for (k = 0; k < sizeof(store_types) / sizeof(store_types[0]); k++)
		if (strlen(store_types[k].ext) == len - i &&
		    strncasecmp(store_types[k].ext, name + i, len - i) == 0)
			return store_types[k].type;
	return "application/octet-stream";
}

/*
 * Eight bytes a step (byte-wise FNV-1a cost more than the rest of a cache hit); the tail is the
 * last eight bytes again, overlapping, when there are that many. Unkeyed, as FNV was: a chain
 * is as long as a client can make it either way, and the cache holds files that exist.
 */
static unsigned
store_hash(const char *s, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15ull;
	uint64_t h = k ^ len, w = 0;
	size_t i = 0;

	for (; len - i >= 8; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	if (i < len) {
		if (len >= 8) {
			memcpy(&w, s + len - 8, 8);
		} else {
			w = 0;
			for (; i < len; i++)
				w = w << 8 | (unsigned char)s[i];
		}
		h = (h ^ w) * k;
	}
	h ^= h >> 32;
	h *= k;
	return (unsigned)(h >> 56) % STORE_BUCKETS;
}

struct store *
store_create(const struct store_conf *conf)
{
	struct store *st;
	unsigned i;
	int err;

	if (conf == NULL || (conf->nsites > 0 && conf->sites == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->max_files = conf->max_files ? conf->max_files : 1024;
	st->revalidate_ns = conf->revalidate_ns;
	st->check_ns = conf->check_ns;
	st->now_ns = conf->now_ns != NULL ? conf->now_ns : ag_mono_coarse_ns;
	st->gen = __atomic_add_fetch(&store_gens, 1, __ATOMIC_RELAXED);
	st->sites = calloc(conf->nsites ? conf->nsites : 1, sizeof(*st->sites));
	if (st->sites == NULL) {
		err = ENOMEM;
		goto fail;
	}
	st->conf_sites = conf->sites;
	for (i = 0; i < conf->nsites; i++) {
		const struct site_conf *sc = &conf->sites[i];
		struct store_site *s = &st->sites[i];

		if (sc->prefix[0] != '/' || (sc->root[0] == '\0' && sc->nb_upstreams == 0)) {
			err = EINVAL;
			goto fail;
		}
		if (sc->root[0] == '\0') {
			st->nsites++; /* proxied: selectable, never opened here */
			continue;
		}
		s->root = realpath(sc->root, NULL);
		st->nsites++;
		if (s->root == NULL) {
			err = errno;
			goto fail;
		}
		s->root_len = strlen(s->root);
	}
	return st;

fail:
	store_destroy(st);
	errno = err;
	return NULL;
}

static void
store_file_free(struct store_file *f)
{
	if (f->data != NULL) {
		/* before munmap: the address range may be someone else's a moment later */
		sigbus_unregister(f->data, f->size);
		munmap((void *)(uintptr_t)f->data, f->size);
	}
	if (f->fd >= 0)
		close(f->fd);
	free(f->key);
	free(f);
}

void
store_file_get(struct store_file *f)
{
	__atomic_add_fetch(&f->refcnt, 1, __ATOMIC_RELAXED);
}

/*
 * Files waiting for the reaper, a push-only stack taken whole (no ABA: nothing pops one). A
 * file whose last reference went is in no bucket, so its next link is free for this.
 */
static struct store_file *reap_head;
static void (*reap_wake)(void *);
static void *reap_arg;

void
store_reaper_set(void (*wake)(void *), void *arg)
{
	__atomic_store_n(&reap_arg, arg, __ATOMIC_RELAXED);
	__atomic_store_n(&reap_wake, wake, __ATOMIC_RELEASE);
}

bool
store_reap_pending(void)
{
	return __atomic_load_n(&reap_head, __ATOMIC_RELAXED) != NULL;
}

unsigned
store_reap(void)
{
	struct store_file *f, *next;
	unsigned n = 0;

	/* a load, not an exchange, on every pass of a resolver thread with nothing queued */
	if (!store_reap_pending())
		return 0;
	f = __atomic_exchange_n(&reap_head, NULL, __ATOMIC_ACQUIRE);

	for (; f != NULL; f = next, n++) {
		next = f->next;
		store_file_free(f);
	}
	return n;
}

void
store_file_put(struct store_file *f)
{
	void (*wake)(void *);

	if (f == NULL)
		return;
	/* the sender may release on another thread than the one that opened */
	if (__atomic_sub_fetch(&f->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	wake = __atomic_load_n(&reap_wake, __ATOMIC_ACQUIRE);
	if (wake == NULL) {
		store_file_free(f);
		return;
	}
	f->next = __atomic_load_n(&reap_head, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&reap_head, &f->next, f, true, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED))
		;
	wake(__atomic_load_n(&reap_arg, __ATOMIC_RELAXED));
}

void
store_destroy(struct store *st)
{
	unsigned i;

	if (st == NULL)
		return;
	store_resume_end(st);
	for (i = 0; i < STORE_BUCKETS; i++) {
		struct store_file *f = st->buckets[i], *next;

		for (; f != NULL; f = next) {
			next = f->next;
			f->next = NULL;
			store_file_put(f);
		}
	}
	for (i = 0; i < st->nsites; i++) {
		free(st->sites[i].root);
	}
	free(st->sites);
	free(st);
}

unsigned
store_cached(const struct store *st)
{
	return st->nfiles;
}

uint64_t
store_syscalls(const struct store *st)
{
	return st->syscalls;
}

uint64_t
store_negative_hits(const struct store *st)
{
	return st->neg_hits;
}

/* The negative entry for path: the slot it has or would take. */
static struct store_neg *
store_neg_slot(struct store *st, const char *path, size_t len, bool *match)
{
	struct store_neg *n = &st->neg[store_hash(path, len) % STORE_NEG_SLOTS];

	*match = n->len != 0 && n->len == len && memcmp(n->key, path, len) == 0;
	return n;
}

static const struct store_site *
store_site_for(const struct store *st, const char *path, size_t len, long *rest_out)
{
	int i = site_select(st->conf_sites, st->nsites, path, len, rest_out);

	return i < 0 ? NULL : &st->sites[i];
}

/*
 * Resolves full (root + relative path) and refuses what is outside the root (its first
 * root_len bytes) once symlinks are followed. Returns an open fd or -errno; counts syscalls.
 */
static int
store_resolve_fd(const char *full, size_t root_len, struct stat *sb, unsigned *syscalls)
{
	char *real = NULL;
	int fd = -1, rc;

	(*syscalls)++; /* realpath: an lstat per component, at least */
	real = realpath(full, NULL);
	if (real == NULL) {
		rc = errno == ENOMEM ? -ENOMEM : -ENOENT;
		goto cleanup;
	}
	if (strncmp(real, full, root_len) != 0 ||
	    (real[root_len] != '/' && !(root_len == 1 && full[0] == '/'))) {
		rc = -ENOENT;
		goto cleanup;
	}
	/* O_NOFOLLOW: the final component was resolved above; a swap since then is refused */
	*syscalls += 2; /* open, fstat */
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		rc = errno == ENOMEM ? -ENOMEM : -ENOENT;
		goto cleanup;
	}
	if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
		rc = -ENOENT;
		goto cleanup;
	}
	rc = fd;
	fd = -1;

cleanup:
	if (fd >= 0)
		close(fd);
	free(real);
	return rc;
}

/* The site's file rel, resolved on the calling thread. */
static int
store_open_fd(struct store *st, const struct store_site *site, const char *rel, size_t rel_len,
	      struct stat *sb)
{
	char full[PATH_MAX];
	unsigned calls = 0;
	int rc;

	if (site->root == NULL)
		return -ENOENT;
	if (site->root_len + rel_len + 1 > sizeof(full))
		return -ENOENT;
	memcpy(full, site->root, site->root_len);
	memcpy(full + site->root_len, rel, rel_len);
	full[site->root_len + rel_len] = '\0';
	rc = store_resolve_fd(full, site->root_len, sb, &calls);
	st->syscalls += calls;
	return rc;
}

static bool
store_same(const struct store_file *f, const struct stat *sb)
{
	return f->dev == sb->st_dev && f->ino == sb->st_ino && f->size == (uint64_t)sb->st_size &&
	       f->mtime_ns == (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

/* The file's own header lines, the same in every response about it while it is mapped. */
static void
store_format_hdrs(struct store_file *f)
{
	char date[HTTP_DATE_LEN + 1];
	int n;

	http_date_fmt(f->mtime, date);
	n = snprintf(f->hdrs, sizeof(f->hdrs), "Last-Modified: %s\r\nETag: %s\r\n", date, f->etag);
	f->validators_len = (size_t)n;
	n += snprintf(f->hdrs + n, sizeof(f->hdrs) - (size_t)n, "Content-Type: %s\r\n",
		      f->content_type);
	f->hdrs_len = (size_t)n;
}

static int
store_map(const char *key, size_t len, int fd, const struct stat *sb, struct store_file **f_out)
{
	struct store_file *f;
	int rc;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->fd = fd;
	f->key = strndup(key, len);
	f->key_len = len;
	if (f->key == NULL) {
		f->fd = -1;
		store_file_free(f);
		return -ENOMEM;
	}
	f->size = (uint64_t)sb->st_size;
	/* mmap of 0 bytes is EINVAL: an empty file simply has no data */
	if (f->size > 0) {
		void *m = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);

		if (m == MAP_FAILED) {
			f->fd = -1;
			store_file_free(f);
			return -EIO;
		}
		/* a truncation while we send it must cost a reset, not the process (sigbus.h) */
		rc = sigbus_register(m, f->size);
		if (rc != 0) {
			munmap(m, f->size);
			f->fd = -1;
			store_file_free(f);
			return rc == -ENOSPC ? -ENOMEM : -EIO;
		}
		f->data = m;
	}
	f->dev = sb->st_dev;
	f->ino = sb->st_ino;
	f->mtime = sb->st_mtim.tv_sec;
	f->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
	f->content_type = store_content_type(key, len);
	f->etag_len = (size_t)snprintf(f->etag, sizeof(f->etag), "\"%llx-%llx-%llx\"",
				       (unsigned long long)f->ino, (unsigned long long)f->size,
				       (unsigned long long)f->mtime_ns);
	store_format_hdrs(f);
	f->refcnt = 1;
	*f_out = f;
	return 0;
}

static void
store_unlink(struct store *st, struct store_file **pp)
{
	struct store_file *f = *pp;

	*pp = f->next;
	f->next = NULL;
	st->nfiles--;
	store_file_put(f);
}

/* Frees a slot: the oldest entry of the fullest chain is a cheap stand-in for LRU. */
static void
store_evict_one(struct store *st)
{
	unsigned i, best = 0, best_n = 0;

	for (i = 0; i < STORE_BUCKETS; i++) {
		unsigned n = 0;
		struct store_file *f;

		for (f = st->buckets[i]; f != NULL; f = f->next)
			n++;
		if (n > best_n) {
			best_n = n;
			best = i;
		}
	}
	if (best_n > 0) {
		struct store_file **pp = &st->buckets[best];

		while ((*pp)->next != NULL)
			pp = &(*pp)->next;
		store_unlink(st, pp);
	}
}

/* A path not found: remembered for revalidate_ns (a colliding path takes the slot over). */
static void
store_neg_note(struct store *st, const char *path, size_t len, uint64_t now)
{
	bool match;
	struct store_neg *n;

	if (len > STORE_NEG_KEY_MAX || st->revalidate_ns == 0)
		return;
	n = store_neg_slot(st, path, len, &match);
	n->checked_ns = now;
	n->len = (uint16_t)len;
	memcpy(n->key, path, len);
}

static void
store_neg_forget(struct store *st, const char *path, size_t len)
{
	bool match;
	struct store_neg *n;

	if (len > STORE_NEG_KEY_MAX)
		return;
	n = store_neg_slot(st, path, len, &match);
	if (match)
		n->len = 0; /* it exists now */
}

/* The cache takes a reference of its own to f, checked at now. */
static void
store_insert(struct store *st, unsigned b, struct store_file *f, uint64_t now)
{
	f->checked_ns = now;
	f->fstat_ns = now;
	f->check_ns = st->check_ns;
	f->now_ns = st->now_ns;
	if (st->nfiles >= st->max_files)
		store_evict_one(st);
	store_file_get(f);
	f->next = st->buckets[b];
	st->buckets[b] = f;
	st->nfiles++;
}

/* memcmp(a, b, len) == 0 without the call: a cached key is a short path, looked up per request */
static inline bool
store_key_eq(const char *a, const char *b, size_t len)
{
	uint64_t x, y;
	size_t i;

	if (len < 8)
		return memcmp(a, b, len) == 0;
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return false;
	}
	/* the last eight bytes again, overlapping what was compared */
	memcpy(&x, a + len - 8, 8);
	memcpy(&y, b + len - 8, 8);
	return x == y;
}

static inline struct store_file **
store_find(struct store *st, unsigned b, const char *path, size_t len)
{
	struct store_file **pp;

	for (pp = &st->buckets[b]; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->key_len == len && store_key_eq((*pp)->key, path, len))
			break;
	return pp;
}

static int store_post(struct store *st, const struct store_site *site, const char *path, size_t len,
		      size_t rest, struct store_file *cached, uint64_t now,
		      const struct store_waiter *w);
static int store_take_resume(struct store *st, const char *path, size_t len,
			     struct store_file **file_out);

int
store_open(struct store *st, const char *path, size_t len, struct store_file **file_out)
{
	const struct store_site *site;
	struct store_file **pp, *f = NULL;
	struct stat sb;
	uint64_t now;
	long rest;
	unsigned b;
	int fd, rc;

	now = st->now_ns();
	b = store_hash(path, len);
	pp = store_find(st, b, path, len);

	/*
	 * A cached path passed the site checks below when it was cached, and the sites are the
	 * store's for its lifetime (a reload makes a new store): a fresh hit needs no site.
	 */
	if (*pp != NULL && now - (*pp)->checked_ns < st->revalidate_ns) {
		store_file_get(*pp);
		*file_out = *pp;
		return 0;
	}

	site = store_site_for(st, path, len, &rest);
	if (site == NULL)
		return -ENOENT;
	/* "/pkg" itself and "/pkg/" are directories; no listings */
	if ((size_t)rest >= len || path[len - 1] == '/')
		return -ENOENT;

	if (*pp == NULL && len <= STORE_NEG_KEY_MAX) {
		bool match;
		struct store_neg *n = store_neg_slot(st, path, len, &match);

		if (match && now - n->checked_ns < st->revalidate_ns) {
			st->neg_hits++;
			return -ENOENT;
		}
	}
	/*
	 * A resumed request finds its outcome installed above, as a rule; here when it could
	 * not be (not cacheable, or a reload's new store): it gets what was looked up for it.
	 */
	if (st->resumed) {
		rc = store_take_resume(st, path, len, file_out);
		if (rc != -EAGAIN)
			return rc;
	}
	if (st->may_park && st->lane != NULL)
		return store_post(st, site, path, len, (size_t)rest, *pp, now, &st->park);

	fd = store_open_fd(st, site, path + rest, len - (size_t)rest, &sb);
	if (fd < 0) {
		/* vanished or now refused: forget it; responses in flight keep their mapping */
		if (*pp != NULL)
			store_unlink(st, pp);
		if (fd == -ENOENT)
			store_neg_note(st, path, len, now);
		return fd;
	}
	store_neg_forget(st, path, len);
	if (*pp != NULL) {
		if (store_same(*pp, &sb)) {
			st->syscalls++;
			close(fd);
			(*pp)->checked_ns = now;
			store_file_get(*pp);
			*file_out = *pp;
			return 0;
		}
		store_unlink(st, pp);
	}

	st->syscalls++; /* mmap */
	rc = store_map(path, len, fd, &sb, &f);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	store_insert(st, b, f, now);
	/* the cache took its own: the one store_map made is the caller's */
	*file_out = f;
	return 0;
}

/* --- misses off the lcore --- */

struct store_lane *
store_lane_create(struct resolver *r, unsigned lane, unsigned max_inflight)
{
	struct store_lane *l;

	if (r == NULL || lane >= resolver_lanes(r)) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->r = r;
	l->lane = lane;
	l->max_inflight = max_inflight ? max_inflight : 256;
	/* an answer always finds room on its way back: the lane never has more out */
	if (l->max_inflight > resolver_capacity(r))
		l->max_inflight = resolver_capacity(r);
	return l;
}

void
store_lookup_free(struct store_lookup *lk)
{
	if (lk == NULL)
		return;
	store_file_put(lk->file);
	store_file_put(lk->old);
	free(lk->waiters);
	free(lk);
}

static void
store_lane_free_retired(struct store_lane *l)
{
	while (l->retired != NULL) {
		struct store_lookup *lk = l->retired;

		l->retired = lk->hnext;
		store_lookup_free(lk);
	}
}

void
store_lane_destroy(struct store_lane *l)
{
	if (l == NULL)
		return;
	store_lane_free_retired(l);
	if (l->cur != NULL) {
		/* answered, not every waiter told: nobody will ask any more */
		store_lookup_free(l->cur);
		l->cur = NULL;
	}
	/* the ones still out belong to the resolver's rings now: resolver_destroy frees them */
	free(l);
}

const struct store_lane_stats *
store_lane_stats(const struct store_lane *l)
{
	return &l->stats;
}

void
store_attach(struct store *st, struct store_lane *l)
{
	st->lane = l;
}

void
store_park_as(struct store *st, uint64_t id, uint32_t seq)
{
	st->park.id = id;
	st->park.seq = seq;
	st->may_park = true;
}

static int
store_add_waiter(struct store_lookup *lk, const struct store_waiter *w)
{
	if (lk->nwaiters == lk->capw) {
		unsigned cap = lk->capw ? lk->capw * 2 : 4;
		struct store_waiter *nw = realloc(lk->waiters, cap * sizeof(*nw));

		if (nw == NULL)
			return -ENOMEM;
		lk->waiters = nw;
		lk->capw = cap;
	}
	lk->waiters[lk->nwaiters++] = *w;
	return 0;
}

/*
 * A miss to the resolver: -EINPROGRESS (the caller parks under w), -EBUSY (the lane is full),
 * -ENOENT (nothing to look up), -ENOMEM.
 */
static int
store_post(struct store *st, const struct store_site *site, const char *path, size_t len,
	   size_t rest, struct store_file *cached, uint64_t now, const struct store_waiter *w)
{
	struct store_lane *l = st->lane;
	unsigned h = store_hash(path, len) % STORE_LANE_BUCKETS;
	size_t rel_len = len - rest;
	struct store_lookup *lk;
	char *full;

	for (lk = l->inflight[h]; lk != NULL; lk = lk->hnext) {
		if (lk->gen == st->gen && lk->key_len == len && memcmp(lk->key, path, len) == 0) {
			/* the same path is being looked up: wait for that answer */
			if (store_add_waiter(lk, w) != 0)
				return -ENOMEM;
			l->stats.coalesced++;
			return -EINPROGRESS;
		}
	}
	if (site->root == NULL || site->root_len + rel_len + 1 > PATH_MAX)
		return -ENOENT;
	if (l->stats.inflight >= l->max_inflight) {
		l->stats.queue_full++;
		return -EBUSY;
	}
	lk = calloc(1, sizeof(*lk) + len + 1 + site->root_len + rel_len + 1);
	if (lk == NULL || store_add_waiter(lk, w) != 0) {
		free(lk);
		return -ENOMEM;
	}
	lk->gen = st->gen;
	lk->posted_ns = now;
	lk->mono_ns = ag_mono_ns();
	lk->key_len = len;
	memcpy(lk->key, path, len);
	full = lk->key + len + 1;
	memcpy(full, site->root, site->root_len);
	memcpy(full + site->root_len, path + rest, rel_len);
	lk->full = full;
	lk->root_len = site->root_len;
	if (cached != NULL) {
		/* revalidation: kept alive while the resolver compares it with the path */
		store_file_get(cached);
		lk->old = cached;
	}
	lk->hnext = l->inflight[h];
	l->inflight[h] = lk;
	if (resolver_post(l->r, l->lane, lk) != 0) {
		l->inflight[h] = lk->hnext;
		store_lookup_free(lk);
		l->stats.queue_full++;
		return -EBUSY;
	}
	l->stats.posted++;
	l->stats.inflight++;
	return -EINPROGRESS;
}

void
store_lookup_run(struct store_lookup *lk)
{
	uint64_t t0 = ag_mono_ns();
	struct stat sb;
	int fd;

	fd = store_resolve_fd(lk->full, lk->root_len, &sb, &lk->syscalls);
	if (fd < 0) {
		lk->rc = fd;
	} else if (lk->old != NULL && store_same(lk->old, &sb)) {
		/* only the identity fields are read: they never change once mapped */
		lk->syscalls++;
		close(fd);
		lk->same = true;
		lk->rc = 0;
	} else {
		lk->syscalls++; /* mmap */
		lk->rc = store_map(lk->key, lk->key_len, fd, &sb, &lk->file);
		if (lk->rc != 0)
			close(fd);
	}
	lk->resolve_ns = ag_mono_ns() - t0;
}

const char *
store_lookup_path(const struct store_lookup *lk)
{
	return lk->full;
}

/* An answer into st's cache, as the synchronous path would have left it. */
static void
store_install(struct store *st, struct store_lookup *lk)
{
	bool mine = st != NULL && st->gen == lk->gen;
	unsigned b = store_hash(lk->key, lk->key_len);
	struct store_file **pp = mine ? store_find(st, b, lk->key, lk->key_len) : NULL;

	if (!mine)
		return; /* a reload replaced the store: the outcome still goes to its waiters */
	st->syscalls += lk->syscalls;
	if (lk->rc != 0) {
		if (*pp != NULL)
			store_unlink(st, pp);
		if (lk->rc == -ENOENT)
			store_neg_note(st, lk->key, lk->key_len, lk->posted_ns);
		return;
	}
	store_neg_forget(st, lk->key, lk->key_len);
	if (lk->same) {
		if (*pp == lk->old) {
			lk->old->checked_ns = lk->posted_ns;
		} else if (*pp == NULL) {
			/* evicted meanwhile, yet unchanged: back in */
			store_insert(st, b, lk->old, lk->posted_ns);
		}
		return;
	}
	if (*pp != NULL)
		store_unlink(st, pp);
	store_insert(st, b, lk->file, lk->posted_ns);
}

unsigned
store_lane_poll(struct store_lane *l, struct store *st, struct store_done *out, unsigned n)
{
	unsigned k = 0;

	if (l->retired != NULL)
		store_lane_free_retired(l);
	while (k < n) {
		struct store_lookup *lk = l->cur;

		if (lk == NULL) {
			struct store_lookup **pp;
			uint64_t lat;

			if (l->stats.inflight == 0 || resolver_take(l->r, l->lane, &lk, 1) == 0)
				break;
			pp = &l->inflight[store_hash(lk->key, lk->key_len) % STORE_LANE_BUCKETS];
			while (*pp != lk)
				pp = &(*pp)->hnext;
			*pp = lk->hnext;
			lk->hnext = NULL;
			l->stats.inflight--;
			l->stats.completed++;
			lat = ag_mono_ns() - lk->mono_ns;
			l->stats.latency_ns_sum += lat;
			if (lat > l->stats.latency_ns_max)
				l->stats.latency_ns_max = lat;
			l->stats.resolve_ns_sum += lk->resolve_ns;
			if (st != NULL)
				store_install(st, lk);
			l->cur = lk;
		}
		while (k < n && lk->delivered < lk->nwaiters) {
			struct store_done *d = &out[k++];

			d->w = lk->waiters[lk->delivered++];
			d->rc = lk->rc;
			d->file = NULL;
			d->lk = lk;
			if (lk->rc == 0) {
				d->file = lk->same ? lk->old : lk->file;
				store_file_get(d->file);
			}
			l->stats.delivered++;
		}
		if (lk->delivered == lk->nwaiters) {
			lk->hnext = l->retired;
			l->retired = lk;
			l->cur = NULL;
		}
	}
	return k;
}

void
store_resume(struct store *st, struct store_done *d)
{
	store_resume_end(st);
	st->resume = *d;
	st->resumed = true;
	d->file = NULL; /* the store holds it now */
}

void
store_resume_end(struct store *st)
{
	if (!st->resumed)
		return;
	st->resumed = false;
	store_file_put(st->resume.file);
	st->resume.file = NULL;
}

/* The outcome store_resume() left, if path is the one it was for; -EAGAIN if not. */
static int
store_take_resume(struct store *st, const char *path, size_t len, struct store_file **file_out)
{
	const struct store_lookup *lk = st->resume.lk;
	int rc = st->resume.rc;

	if (lk == NULL || lk->key_len != len || memcmp(lk->key, path, len) != 0)
		return -EAGAIN;
	st->resumed = false;
	if (rc == 0)
		*file_out = st->resume.file;
	st->resume.file = NULL;
	return rc;
}

int
store_file_check(struct store_file *f)
{
	struct stat sb;
	uint64_t now;

	if (f->stale)
		return -ESTALE;
	/* the store's lcore is the only one that checks its files: no race on these fields */
	now = f->check_ns > 0 ? f->now_ns() : 0;
	if (f->check_ns > 0 && now - f->fstat_ns < f->check_ns)
		return 0;
	f->fstat_ns = now;
	if (fstat(f->fd, &sb) != 0 || (uint64_t)sb.st_size != f->size ||
	    (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec != f->mtime_ns) {
		f->stale = true;
		return -ESTALE;
	}
	return 0;
}
