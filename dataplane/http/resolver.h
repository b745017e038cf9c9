/* Resolver threads: the content store's blocking lookups, off the lcores, over rte_rings. */
#ifndef AG_DATAPLANE_HTTP_RESOLVER_H
#define AG_DATAPLANE_HTTP_RESOLVER_H

#include <stdint.h>

struct store_lookup;

struct resolver_conf {
	unsigned threads; /* 1..64 */
	unsigned lanes;	  /* one per lcore: a ring pair each */
	unsigned queue;	  /* lookups a lane may have out; rounded up to a power of two */
	/*
	 * Tests: runs on the resolver thread before each lookup, given its path (a slow disk on
	 * demand). NULL in the gateway.
	 */
	void (*before)(const char *path, void *arg);
	void *before_arg;
};

struct resolver_stats {
	uint64_t resolved; /* lookups done */
	uint64_t busy_ns;  /* time spent in them */
	uint32_t sleeping; /* threads asleep until a post (idle for ~16 ms) */
	uint32_t wakes;	   /* posts that woke a sleeper (plus one at shutdown) */
};

/* Starts the threads. NULL with errno set (EINVAL, ENOMEM, or pthread_create's). */
struct resolver *resolver_create(const struct resolver_conf *conf);

/*
 * Joins the threads (each finishes the lookup it holds), then frees every lookup not taken
 * back. The lanes' lcores must have stopped polling.
 */
void resolver_destroy(struct resolver *r);

unsigned resolver_lanes(const struct resolver *r);
/* Lookups a lane may have out at once: its rings never refuse that many. */
unsigned resolver_capacity(const struct resolver *r);

/* From the lane's lcore (one producer per lane): 0, or -ENOBUFS when the ring is full. */
int resolver_post(struct resolver *r, unsigned lane, struct store_lookup *lk);
/* From the lane's lcore (one consumer per lane): answered lookups, up to n. */
unsigned resolver_take(struct resolver *r, unsigned lane, struct store_lookup **out, unsigned n);

void resolver_stats(const struct resolver *r, struct resolver_stats *out);

/* store.c: the path a lookup resolves (for the test hook). */
const char *store_lookup_path(const struct store_lookup *lk);

#endif
