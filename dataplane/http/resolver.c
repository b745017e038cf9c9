/* Resolver threads: take the lanes' lookups, run them (realpath/open/fstat/mmap), answer back. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_ring.h>

#include "common/ctlring.h"
#include "common/idle.h"
#include "common/mono.h"
#include "dataplane/http/resolver.h"
#include "dataplane/http/store.h"

#define RESOLVER_MAX_THREADS 64
#define RESOLVER_IDLE_US     100
/*
 * Naps while idle grow from the first to the last: busy, a miss waits little; idle, a thread
 * costs 4000 wake-ups a second and an idle miss waits a quarter of a millisecond more at
 * worst (1 ms measured 1.1 ms average latency in the lab). No syscall on the lcore.
 */
#define RESOLVER_NAP_MIN_US 20
#define RESOLVER_NAP_MAX_US 250
/*
 * After this many naps at the longest with nothing to do (about 16 ms), a thread sleeps until
 * an lcore posts: an idle gateway's resolvers then cost nothing. The lcore that posts wakes a
 * sleeper (one futex call); while lookups keep coming nobody sleeps and posting stays a ring
 * enqueue.
 */
#define RESOLVER_NAPS_BEFORE_SLEEP 64

struct resolver_lane {
	struct rte_ring *req;	   /* lcore → threads: one producer, any thread takes */
	struct rte_ring *reply;	   /* threads → lcore: any thread answers, one consumer */
	pthread_mutex_t takers;	   /* the threads' side of req (common/ctlring.h) */
	pthread_mutex_t answerers; /* the threads' side of reply */
};

struct resolver {
	unsigned nthreads;
	unsigned nlanes;
	unsigned capacity;
	bool stop;
	struct ag_idle idle; /* threads idle for a while sleep here until a post */
	void (*before)(const char *path, void *arg);
	void *before_arg;
	uint64_t resolved;
	uint64_t busy_ns;
	pthread_t threads[RESOLVER_MAX_THREADS];
	struct resolver_lane lanes[];
};

/*
 * rte_ring_init on memory of our own rather than rte_ring_create: no EAL memzone, so the
 * unit tests run it without EAL, and the names need not be unique.
 */
static struct rte_ring *
resolver_ring(unsigned count, unsigned flags)
{
	ssize_t size = rte_ring_get_memsize(count);
	struct rte_ring *r;

	if (size < 0)
		return NULL;
	r = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL((size_t)size, RTE_CACHE_LINE_SIZE));
	if (r == NULL)
		return NULL;
	if (rte_ring_init(r, "store_lookups", count, flags) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

/* One lookup from any lane, round robin from where this thread last found one. */
static bool
resolver_one(struct resolver *r, unsigned *next)
{
	for (unsigned i = 0; i < r->nlanes; i++) {
		struct resolver_lane *l = &r->lanes[(*next + i) % r->nlanes];
		void *p;
		uint64_t t0;

		if (ag_ctlring_take(l->req, &l->takers, &p) != 0)
			continue;
		*next = (*next + i + 1) % r->nlanes;
		t0 = ag_mono_ns();
		if (r->before != NULL)
			r->before(store_lookup_path(p), r->before_arg);
		store_lookup_run(p);
		__atomic_add_fetch(&r->busy_ns, ag_mono_ns() - t0, __ATOMIC_RELAXED);
		__atomic_add_fetch(&r->resolved, 1, __ATOMIC_RELAXED);
		/* the lane keeps fewer out than the ring holds: this only waits on a race */
		while (ag_ctlring_post(l->reply, &l->answerers, p) != 0)
			usleep(RESOLVER_IDLE_US);
		return true;
	}
	return false;
}

static bool
resolver_pending(void *arg)
{
	const struct resolver *r = arg;

	if (__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
		return true;
	for (unsigned i = 0; i < r->nlanes; i++)
		if (rte_ring_count(r->lanes[i].req) > 0)
			return true;
	return store_reap_pending();
}

/* store_file_put's wake: a file to unmap and close. */
static void
resolver_wake(void *arg)
{
	struct resolver *r = arg;

	ag_idle_post(&r->idle);
}

static void *
resolver_main(void *arg)
{
	struct resolver *r = arg;
	unsigned next = 0, nap = RESOLVER_NAP_MIN_US, idle = 0;

	pthread_setname_np(pthread_self(), "ag-store");
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		/* the lcores' last references: munmap and close here, never on them */
		if (store_reap() > 0 || resolver_one(r, &next)) {
			nap = RESOLVER_NAP_MIN_US;
			idle = 0;
			continue;
		}
		if (nap == RESOLVER_NAP_MAX_US && ++idle >= RESOLVER_NAPS_BEFORE_SLEEP) {
			ag_idle_sleep(&r->idle, resolver_pending, r, NULL);
			nap = RESOLVER_NAP_MIN_US;
			idle = 0;
			continue;
		}
		usleep(nap);
		nap = nap * 2 > RESOLVER_NAP_MAX_US ? RESOLVER_NAP_MAX_US : nap * 2;
	}
	return NULL;
}

static void
resolver_free(struct resolver *r)
{
	for (unsigned i = 0; i < r->nlanes; i++) {
		void *p;

		if (r->lanes[i].req != NULL)
			while (rte_ring_dequeue(r->lanes[i].req, &p) == 0)
				store_lookup_free(p);
		if (r->lanes[i].reply != NULL)
			while (rte_ring_dequeue(r->lanes[i].reply, &p) == 0)
				store_lookup_free(p);
		free(r->lanes[i].req);
		free(r->lanes[i].reply);
		pthread_mutex_destroy(&r->lanes[i].takers);
		pthread_mutex_destroy(&r->lanes[i].answerers);
	}
	free(r);
}

struct resolver *
resolver_create(const struct resolver_conf *conf)
{
	struct resolver *r;
	unsigned count;
	int rc;

	if (conf == NULL || conf->threads == 0 || conf->threads > RESOLVER_MAX_THREADS ||
	    conf->lanes == 0 || conf->queue == 0 || conf->queue > (1u << 20)) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r) + conf->lanes * sizeof(r->lanes[0]));
	if (r == NULL)
		return NULL;
	r->nlanes = conf->lanes;
	r->before = conf->before;
	r->before_arg = conf->before_arg;
	/* a ring of count slots holds count - 1 */
	count = rte_align32pow2(conf->queue + 1);
	r->capacity = count - 1;
	for (unsigned i = 0; i < r->nlanes; i++) {
		pthread_mutex_init(&r->lanes[i].takers, NULL);
		pthread_mutex_init(&r->lanes[i].answerers, NULL);
		r->lanes[i].req = resolver_ring(count, RING_F_SP_ENQ | RING_F_SC_DEQ);
		r->lanes[i].reply = resolver_ring(count, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (r->lanes[i].req == NULL || r->lanes[i].reply == NULL) {
			resolver_free(r);
			errno = ENOMEM;
			return NULL;
		}
	}
	store_reaper_set(resolver_wake, r);
	for (; r->nthreads < conf->threads; r->nthreads++) {
		rc = pthread_create(&r->threads[r->nthreads], NULL, resolver_main, r);
		if (rc != 0) {
			resolver_destroy(r);
			errno = rc;
			return NULL;
		}
	}
	return r;
}

void
resolver_destroy(struct resolver *r)
{
	if (r == NULL)
		return;
	__atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);
	ag_idle_wake(&r->idle, INT_MAX);
	for (unsigned i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	/* from here the last put frees where it happens; what was queued goes now */
	store_reaper_set(NULL, NULL);
	store_reap();
	resolver_free(r);
}

unsigned
resolver_lanes(const struct resolver *r)
{
	return r->nlanes;
}

unsigned
resolver_capacity(const struct resolver *r)
{
	return r->capacity;
}

int
resolver_post(struct resolver *r, unsigned lane, struct store_lookup *lk)
{
	if (lane >= r->nlanes || rte_ring_sp_enqueue(r->lanes[lane].req, lk) != 0)
		return -ENOBUFS;
	ag_idle_post(&r->idle);
	return 0;
}

unsigned
resolver_take(struct resolver *r, unsigned lane, struct store_lookup **out, unsigned n)
{
	return rte_ring_sc_dequeue_burst(r->lanes[lane].reply, (void **)out, n, NULL);
}

void
resolver_stats(const struct resolver *r, struct resolver_stats *out)
{
	out->resolved = __atomic_load_n(&r->resolved, __ATOMIC_RELAXED);
	out->busy_ns = __atomic_load_n(&r->busy_ns, __ATOMIC_RELAXED);
	out->sleeping = ag_idle_sleepers(&r->idle);
	out->wakes = ag_idle_wakes(&r->idle);
}
