/* Content store: URL-prefix sites mapped to directories, files cached as refcounted mmaps. */
#ifndef AG_DATAPLANE_HTTP_STORE_H
#define AG_DATAPLANE_HTTP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dataplane/http/site.h"

struct store_conf {
	const struct site_conf *sites; /* kept by the store: they must outlive it */
	unsigned nsites;
	unsigned max_files; /* cached entries before eviction; 0 means 1024 */
	/*
	 * How long a cached file is trusted before its path is stat()ed again, in ns.
	 * 0 checks on every open (tests); the dataplane uses about a second to keep syscalls
	 * off the per-request path.
	 */
	uint64_t revalidate_ns;
	/*
	 * How long store_file_check() trusts its last fstat() of a file, in ns (0: every call).
	 * The dataplane checks each response's file before queueing its last bytes; a hot file
	 * served thousands of times a second needs one fstat() per interval, not per response.
	 */
	uint64_t check_ns;
	/* The monotonic clock in ns; NULL: CLOCK_MONOTONIC_COARSE (tests bring their own). */
	uint64_t (*now_ns)(void);
};

/*
 * Paths that were not found are remembered for revalidate_ns too (a 404 costs no syscall
 * until then), in a table of their own that never evicts a file: a client asking for made-up
 * names cannot push the served files out of the cache.
 */
#define STORE_NEG_SLOTS	  256
#define STORE_NEG_KEY_MAX 96

#define STORE_ETAG_MAX 64

/*
 * An opened file. Read-only for users; alive until the last store_file_put(), so a response
 * in flight keeps its mapping even after the store re-mapped or dropped the path.
 */
struct store_file {
	unsigned refcnt;     /* the cache holds one reference while the file is cached */
	const uint8_t *data; /* size bytes, or NULL when size == 0 */
	uint64_t size;
	int64_t mtime; /* seconds, for Last-Modified and If-Modified-Since */
	const char *content_type;
	char etag[STORE_ETAG_MAX]; /* strong, quotes included */
	size_t etag_len;
	/* identity for revalidation */
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns;
	uint64_t checked_ns; /* monotonic time of the last stat() of the path */
	int fd;		     /* kept open so store_file_check() can detect in-place changes */
	uint64_t fstat_ns;   /* monotonic time of store_file_check()'s last fstat() */
	uint64_t check_ns;   /* the store's check_ns */
	uint64_t (*now_ns)(void);
	bool stale; /* a check saw it changed: it stays so */
	char *key;  /* normalised URL path */
	struct store_file *next;
};

struct store;

/* Returns NULL with errno set (ENOENT: a root is missing, EINVAL: bad conf, ENOMEM). */
struct store *store_create(const struct store_conf *conf);

/* Drops the cache's references; files still held by responses live until their put. */
void store_destroy(struct store *st);

/*
 * Opens the file for a normalised path (see path_normalize). Returns 0 and a new reference,
 * or -ENOENT (no site, no file, vanished, a directory, not a regular file, a symlink leaving
 * the root) or -ENOMEM/-EIO. Not thread-safe: one store per lcore.
 */
int store_open(struct store *st, const char *path, size_t len, struct store_file **file_out);

void store_file_get(struct store_file *f);
void store_file_put(struct store_file *f);

/*
 * -ESTALE when the file behind an open mapping was changed in place (size or mtime), 0 when
 * it is intact. The sender calls it before finishing a response so that torn data is never
 * delivered as if it were whole: it aborts the connection instead.
 */
int store_file_check(struct store_file *f);

/* Content-Type for a file name by extension; application/octet-stream by default. */
const char *store_content_type(const char *name, size_t len);

/* Cached entries, for tests and telemetry. */
unsigned store_cached(const struct store *st);
/* Syscalls the store made (realpath counts one), and 404s answered from the cache. */
uint64_t store_syscalls(const struct store *st);
uint64_t store_negative_hits(const struct store *st);

#endif
