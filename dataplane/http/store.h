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
};

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
	char *key;	     /* normalised URL path */
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
int store_file_check(const struct store_file *f);

/* Content-Type for a file name by extension; application/octet-stream by default. */
const char *store_content_type(const char *name, size_t len);

/* Cached entries, for tests and telemetry. */
unsigned store_cached(const struct store *st);

#endif
