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

#include "dataplane/http/path.h"
#include "dataplane/http/store.h"
#include "dataplane/http/sigbus.h"

#define STORE_BUCKETS 256

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
	struct store_file *buckets[STORE_BUCKETS];
	struct store_neg neg[STORE_NEG_SLOTS];
};

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

static uint64_t
store_now_ns(void)
{
	struct timespec ts;

	/* the coarse clock is read from the vDSO: no syscall */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned
store_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h % STORE_BUCKETS;
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
	st->now_ns = conf->now_ns != NULL ? conf->now_ns : store_now_ns;
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

void
store_file_put(struct store_file *f)
{
	if (f == NULL)
		return;
	/* the sender may release on another thread than the one that opened */
	if (__atomic_sub_fetch(&f->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
		store_file_free(f);
}

void
store_destroy(struct store *st)
{
	unsigned i;

	if (st == NULL)
		return;
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
 * Resolves the file and refuses what is outside the root after symlinks are followed.
 * Returns an open fd or -errno.
 */
static int
store_open_fd(struct store *st, const struct store_site *site, const char *rel, size_t rel_len,
	      struct stat *sb)
{
	char full[PATH_MAX], *real = NULL;
	int fd = -1, rc;

	if (site->root == NULL)
		return -ENOENT;
	if (site->root_len + rel_len + 1 > sizeof(full))
		return -ENOENT;
	memcpy(full, site->root, site->root_len);
	memcpy(full + site->root_len, rel, rel_len);
	full[site->root_len + rel_len] = '\0';

	st->syscalls++; /* realpath: an lstat per component, at least */
	real = realpath(full, NULL);
	if (real == NULL) {
		rc = errno == ENOMEM ? -ENOMEM : -ENOENT;
		goto cleanup;
	}
	if (strncmp(real, site->root, site->root_len) != 0 ||
	    (real[site->root_len] != '/' && !(site->root_len == 1 && site->root[0] == '/'))) {
		rc = -ENOENT;
		goto cleanup;
	}
	/* O_NOFOLLOW: the final component was resolved above; a swap since then is refused */
	st->syscalls += 2; /* open, fstat */
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

static bool
store_same(const struct store_file *f, const struct stat *sb)
{
	return f->dev == sb->st_dev && f->ino == sb->st_ino && f->size == (uint64_t)sb->st_size &&
	       f->mtime_ns == (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
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

	site = store_site_for(st, path, len, &rest);
	if (site == NULL)
		return -ENOENT;
	/* "/pkg" itself and "/pkg/" are directories; no listings */
	if ((size_t)rest >= len || path[len - 1] == '/')
		return -ENOENT;

	now = st->now_ns();
	b = store_hash(path, len);
	for (pp = &st->buckets[b]; *pp != NULL; pp = &(*pp)->next)
		if (strlen((*pp)->key) == len && memcmp((*pp)->key, path, len) == 0)
			break;

	if (*pp != NULL && now - (*pp)->checked_ns < st->revalidate_ns) {
		store_file_get(*pp);
		*file_out = *pp;
		return 0;
	}

	if (*pp == NULL && len <= STORE_NEG_KEY_MAX) {
		bool match;
		struct store_neg *n = store_neg_slot(st, path, len, &match);

		if (match && now - n->checked_ns < st->revalidate_ns) {
			st->neg_hits++;
			return -ENOENT;
		}
	}
	fd = store_open_fd(st, site, path + rest, len - (size_t)rest, &sb);
	if (fd < 0) {
		/* vanished or now refused: forget it; responses in flight keep their mapping */
		if (*pp != NULL)
			store_unlink(st, pp);
		if (fd == -ENOENT && len <= STORE_NEG_KEY_MAX && st->revalidate_ns > 0) {
			bool match;
			struct store_neg *n = store_neg_slot(st, path, len, &match);

			/* a colliding path takes the slot over: the table only saves work */
			n->checked_ns = now;
			n->len = (uint16_t)len;
			memcpy(n->key, path, len);
		}
		return fd;
	}
	if (len <= STORE_NEG_KEY_MAX) {
		bool match;
		struct store_neg *n = store_neg_slot(st, path, len, &match);

		if (match)
			n->len = 0; /* it exists now */
	}
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
	f->checked_ns = now;
	f->fstat_ns = now;
	f->check_ns = st->check_ns;
	f->now_ns = st->now_ns;
	if (st->nfiles >= st->max_files)
		store_evict_one(st);
	f->next = st->buckets[b];
	st->buckets[b] = f;
	st->nfiles++;
	store_file_get(f);
	*file_out = f;
	return 0;
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
