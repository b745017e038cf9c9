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
/* Last-Modified, ETag and Content-Type lines: 46 + 60 + the longest type in the table */
#define STORE_HDRS_MAX 192

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
	size_t key_len;
	/*
	 * "Last-Modified: ...\r\nETag: ...\r\n" (the first validators_len bytes, what a 304
	 * carries) then "Content-Type: ...\r\n": formatted once per mapping, not per response.
	 */
	size_t validators_len;
	size_t hdrs_len;
	char hdrs[STORE_HDRS_MAX];
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
/*
 * Drops a reference. The last one frees the file, munmap and close included: where a reaper
 * is set, on the reaper's thread (the lcore that sent the last byte pays a list push, not a
 * TLB shootdown); otherwise here.
 */
void store_file_put(struct store_file *f);

/*
 * The reaper (the resolver's threads): wake(arg) is called after a file was queued for it.
 * NULL hands freeing back to the last put; the caller then runs store_reap() once more.
 */
void store_reaper_set(void (*wake)(void *), void *arg);
/* Files queued for the reaper? */
bool store_reap_pending(void);
/* Frees every file queued for the reaper; returns how many. Any thread. */
unsigned store_reap(void);

/*
 * -ESTALE when the file behind an open mapping was changed in place (size or mtime), 0 when
 * it is intact. The sender calls it before finishing a response so that torn data is never
 * delivered as if it were whole: it aborts the connection instead.
 */
int store_file_check(struct store_file *f);

/* Content-Type for a file name by extension; application/octet-stream by default. */
const char *store_content_type(const char *name, size_t len);

/*
 * --- Misses off the lcore ---
 *
 * With a lane attached (store_attach), a miss or a revalidation does not block the calling
 * thread: store_open() posts a lookup to a resolver thread (resolver.h) and answers
 * -EINPROGRESS, and the caller parks the request under the name it gave store_park_as().
 * store_lane_poll() takes the answers back: it installs them in the cache (hits, 404s,
 * same-file reuse all as with the synchronous path) and hands each parked request its
 * outcome. Lookups of one path coalesce: the second request for it waits on the first's.
 * -EBUSY means the lane's queue is full (the caller answers 503). Without a lane, or before
 * the first store_park_as(), store_open() resolves synchronously as before.
 */
struct resolver;
struct store_lane;
struct store_lookup;

/* Who waits for a lookup: the caller's names, so that a request gone meanwhile is told apart. */
struct store_waiter {
	uint64_t id;
	uint32_t seq;
};

/* One parked request's outcome. */
struct store_done {
	struct store_waiter w;
	int rc;			 /* 0: file is a reference of the waiter's own; else -errno */
	struct store_file *file; /* the caller drops it (store_file_put) if it no longer wants it */
	const struct store_lookup *lk; /* for store_resume(); valid until the next poll */
};

/* Lcore-written counters of a lane; telemetry sums them. */
struct store_lane_stats {
	uint64_t posted;	 /* lookups handed to the resolver */
	uint64_t coalesced;	 /* requests that joined a lookup already in flight */
	uint64_t completed;	 /* answers taken back */
	uint64_t queue_full;	 /* refused: max_inflight lookups already out (503) */
	uint64_t delivered;	 /* outcomes handed to parked requests */
	uint64_t latency_ns_sum; /* post to answer taken, summed over completed */
	uint64_t latency_ns_max;
	uint64_t resolve_ns_sum; /* time the resolver spent in the syscalls, summed */
	uint64_t inflight;	 /* gauge */
};

/*
 * The lcore side of lane `lane` of r: at most max_inflight lookups out at once (0: 256).
 * It outlives the stores attached to it (a reload swaps the store, not the lane); lookups
 * still out when it is destroyed are freed by resolver_destroy().
 */
struct store_lane *store_lane_create(struct resolver *r, unsigned lane, unsigned max_inflight);
void store_lane_destroy(struct store_lane *l);
const struct store_lane_stats *store_lane_stats(const struct store_lane *l);

/* From now on st's misses go to l (NULL: synchronous again). */
void store_attach(struct store *st, struct store_lane *l);

/*
 * From now on a miss of st parks (with a lane attached) under this name instead of
 * blocking: name every request before it reaches store_open().
 */
void store_park_as(struct store *st, uint64_t id, uint32_t seq);

/* Answers taken back, installed into st, and up to n outcomes for parked requests. */
unsigned store_lane_poll(struct store_lane *l, struct store *st, struct store_done *out,
			 unsigned n);

/*
 * The next store_open() of d's path on st answers d's outcome (taking d->file): the request
 * it parked runs again and finds what was looked up for it, cached or not. store_resume_end()
 * drops the outcome if that request did not get to store_open() after all.
 */
void store_resume(struct store *st, struct store_done *d);
void store_resume_end(struct store *st);

/* The resolver's side (resolver.c): does the blocking work of one lookup, any thread. */
void store_lookup_run(struct store_lookup *lk);
/* Frees a lookup never answered (shutdown): drops what it holds. */
void store_lookup_free(struct store_lookup *lk);

/* Cached entries, for tests and telemetry. */
unsigned store_cached(const struct store *st);
/* Syscalls the store made (realpath counts one), and 404s answered from the cache. */
uint64_t store_syscalls(const struct store *st);
uint64_t store_negative_hits(const struct store *st);

#endif
