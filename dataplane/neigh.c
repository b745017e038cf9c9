/* Neighbour table per port: IPv4 → MAC from ARP addressed to us; bounded, aged, LRU-evicted. */
#include <errno.h>
#include <string.h>

#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_random.h>
#include <rte_seqlock.h>
#include <rte_spinlock.h>

#include "dataplane/clock.h"
#include "dataplane/dp.h"

/*
 * Who may write an entry (the rules that keep a spoofer from redirecting traffic):
 *   - an ARP request addressed to us creates or updates the sender's entry (RFC 826: it is
 *     about to talk to us and we answer it anyway);
 *   - an ARP reply addressed to us updates or completes an entry we have, never creates one;
 *   - nothing else: not IPv4 traffic, not ARP for other addresses, not gratuitous ARP. An ARP
 *     packet not addressed to us that contradicts an entry only makes us ask the address again
 *     (dp_neigh_contradicts), and the answer addressed to us decides.
 *
 * Layout: DP_NEIGH_SIZE entries in buckets of NEIGH_WAYS, the bucket chosen by a keyed hash of
 * the address. A full bucket evicts its least recently used entry: one never used for output
 * before one that is, so an ARP flood of made-up senders cannot push out the router.
 *
 * Concurrency: every lcore reads entries without locks through each entry's seqlock; writers
 * (ARP input, a miss on output, eviction: rare) take the table's spinlock, then the entry's
 * seqlock. used_us is written on the output path without either (relaxed, approximate).
 */
#define NEIGH_WAYS	    8
#define NEIGH_BUCKETS	    (DP_NEIGH_SIZE / NEIGH_WAYS)
#define NEIGH_REACHABLE_US  (60ULL * 1000 * 1000)  /* after this, used but asked again */
#define NEIGH_STALE_US	    (600ULL * 1000 * 1000) /* after this, not used any more */
#define NEIGH_RETRY_US	    (1000ULL * 1000)	   /* ARP requests per address */
#define NEIGH_HOLD_US	    (3ULL * 1000 * 1000)   /* held packets wait this long for an answer */
#define NEIGH_HOLD_PORT	    64			   /* packets held per port, all addresses */
#define NEIGH_REQ_PER_SEC   100			   /* ARP requests per port per second */
#define NEIGH_USED_GRAIN_US (1000ULL * 1000)	   /* used_us is refreshed at most this often */

enum neigh_state {
	NEIGH_FREE = 0,	  /* slot unused */
	NEIGH_INCOMPLETE, /* asked, no answer yet: packets may wait in held[] */
	NEIGH_REACHABLE,  /* MAC known, confirmed at confirmed_us */
};

struct dp_neigh_entry {
	rte_seqlock_t lock; /* guards ip, state, mac, confirmed_us for readers */
	uint32_t ip;
	uint8_t state;
	bool asked; /* an ARP request went out at req_us */
	struct rte_ether_addr mac;
	uint64_t confirmed_us;
	uint64_t created_us;
	uint64_t used_us; /* last output through it, 0: never (relaxed) */
	uint64_t req_us;
	uint64_t held_since_us;
	uint8_t nb_held;
	struct rte_mbuf *held[DP_NEIGH_HOLD];
} __rte_cache_aligned;

struct dp_neigh_table {
	rte_spinlock_t lock;
	uint32_t seed;
	uint32_t nb_held;
	uint64_t req_sec; /* the second req_left counts for */
	uint32_t req_left;
	struct dp_neigh_entry e[DP_NEIGH_SIZE];
};

/* What a reader saw of an entry, consistent. */
struct neigh_view {
	uint32_t ip;
	uint8_t state;
	struct rte_ether_addr mac;
	uint64_t confirmed_us;
};

int
dp_neigh_init(struct dp_port *port)
{
	struct dp_neigh_table *t = rte_zmalloc("neigh", sizeof(*t), RTE_CACHE_LINE_SIZE);

	if (t == NULL)
		return -ENOMEM;
	rte_spinlock_init(&t->lock);
	t->seed = (uint32_t)rte_rand();
	t->req_sec = UINT64_MAX;
	for (unsigned int i = 0; i < DP_NEIGH_SIZE; i++)
		rte_seqlock_init(&t->e[i].lock);
	port->neigh = t;
	return 0;
}

static void
drop_held(struct dp_lcore *lc, struct dp_neigh_table *t, struct dp_neigh_entry *e)
{
	for (unsigned int i = 0; i < e->nb_held; i++) {
		if (lc != NULL)
			dp_drop(lc, e->held[i], DP_DROP_NEIGH_TIMEOUT);
		else
			rte_pktmbuf_free(e->held[i]);
	}
	t->nb_held -= e->nb_held;
	e->nb_held = 0;
}

void
dp_neigh_free(struct dp_port *port)
{
	struct dp_neigh_table *t = port->neigh;

	if (t == NULL)
		return;
	for (unsigned int i = 0; i < DP_NEIGH_SIZE; i++)
		drop_held(NULL, t, &t->e[i]);
	rte_free(t);
	port->neigh = NULL;
}

static struct dp_neigh_entry *
bucket(struct dp_neigh_table *t, uint32_t ip)
{
	return &t->e[(rte_hash_crc_4byte(ip, t->seed) % NEIGH_BUCKETS) * NEIGH_WAYS];
}

static void
read_entry(struct dp_neigh_entry *e, struct neigh_view *v)
{
	uint32_t sn;

	do {
		sn = rte_seqlock_read_begin(&e->lock);
		v->ip = e->ip;
		v->state = e->state;
		v->mac = e->mac;
		v->confirmed_us = e->confirmed_us;
	} while (rte_seqlock_read_retry(&e->lock, sn));
}

/* The entry for ip, read consistently into v; NULL when there is none. */
static struct dp_neigh_entry *
find(struct dp_neigh_table *t, uint32_t ip, struct neigh_view *v)
{
	struct dp_neigh_entry *b = bucket(t, ip);

	for (unsigned int i = 0; i < NEIGH_WAYS; i++) {
		read_entry(&b[i], v);
		if (v->state != NEIGH_FREE && v->ip == ip)
			return &b[i];
	}
	return NULL;
}

/* Under the table lock: a slot for ip in its bucket, a free one or the LRU one emptied. */
static struct dp_neigh_entry *
claim(struct dp_lcore *lc, struct dp_neigh_table *t, uint32_t ip, uint64_t now)
{
	struct dp_neigh_entry *b = bucket(t, ip), *victim = NULL;

	for (unsigned int i = 0; i < NEIGH_WAYS && victim == NULL; i++)
		if (b[i].state == NEIGH_FREE)
			victim = &b[i];
	if (victim == NULL) {
		/* least recently used; among the never used (0), the oldest */
		victim = &b[0];
		for (unsigned int i = 1; i < NEIGH_WAYS; i++) {
			uint64_t iu = __atomic_load_n(&b[i].used_us, __ATOMIC_RELAXED);
			uint64_t vu = __atomic_load_n(&victim->used_us, __ATOMIC_RELAXED);

			if (iu < vu || (iu == vu && b[i].created_us < victim->created_us))
				victim = &b[i];
		}
	}
	drop_held(lc, t, victim);
	rte_seqlock_write_lock(&victim->lock);
	victim->ip = ip;
	victim->state = NEIGH_INCOMPLETE;
	memset(&victim->mac, 0, sizeof(victim->mac));
	victim->confirmed_us = 0;
	rte_seqlock_write_unlock(&victim->lock);
	victim->asked = false;
	victim->created_us = now;
	victim->held_since_us = 0;
	__atomic_store_n(&victim->used_us, 0, __ATOMIC_RELAXED);
	return victim;
}

/* Under the table lock: whether to send an ARP request for e now (and note that we do). */
static bool
may_request(struct dp_neigh_table *t, struct dp_neigh_entry *e, uint64_t now)
{
	uint64_t sec = now / (1000 * 1000);

	if (e->asked && now - e->req_us < NEIGH_RETRY_US)
		return false;
	if (sec != t->req_sec || t->req_left == 0) {
		if (sec == t->req_sec)
			return false;
		t->req_sec = sec;
		t->req_left = NEIGH_REQ_PER_SEC;
	}
	t->req_left--;
	e->asked = true;
	e->req_us = now;
	return true;
}

int
dp_neigh_resolve(struct dp_lcore *lc, struct dp_port *port, uint32_t ip, struct rte_mbuf *m,
		 uint64_t now, struct rte_ether_addr *mac_out, bool *request)
{
	struct dp_neigh_table *t = port->neigh;
	struct dp_neigh_entry *e;
	struct neigh_view v;
	int rc;

	*request = false;
	e = find(t, ip, &v);
	if (e != NULL && v.state == NEIGH_REACHABLE && now - v.confirmed_us < NEIGH_STALE_US) {
		*mac_out = v.mac;
		if (now - __atomic_load_n(&e->used_us, __ATOMIC_RELAXED) >= NEIGH_USED_GRAIN_US ||
		    __atomic_load_n(&e->used_us, __ATOMIC_RELAXED) == 0)
			__atomic_store_n(&e->used_us, now ? now : 1, __ATOMIC_RELAXED);
		if (now - v.confirmed_us >= NEIGH_REACHABLE_US) {
			/* still used while we ask whether it is still there */
			rte_spinlock_lock(&t->lock);
			if (e->ip == ip && e->state == NEIGH_REACHABLE)
				*request = may_request(t, e, now);
			rte_spinlock_unlock(&t->lock);
		}
		return 0;
	}
	rte_spinlock_lock(&t->lock);
	e = find(t, ip, &v);
	if (e == NULL) {
		e = claim(lc, t, ip, now);
	} else if (e->state == NEIGH_REACHABLE) {
		/* stale: it has not answered for NEIGH_STALE_US; ask before using it again */
		rte_seqlock_write_lock(&e->lock);
		e->state = NEIGH_INCOMPLETE;
		rte_seqlock_write_unlock(&e->lock);
		e->asked = false;
	}
	if (e->nb_held > 0 && now - e->held_since_us >= NEIGH_HOLD_US)
		drop_held(lc, t, e); /* nobody answered for them */
	if (e->nb_held < DP_NEIGH_HOLD && t->nb_held < NEIGH_HOLD_PORT) {
		if (e->nb_held == 0)
			e->held_since_us = now;
		e->held[e->nb_held++] = m;
		t->nb_held++;
		rc = -EAGAIN;
	} else {
		rc = -ENOBUFS;
	}
	*request = may_request(t, e, now);
	rte_spinlock_unlock(&t->lock);
	return rc;
}

int
dp_neigh_confirm(struct dp_lcore *lc, struct dp_port *port, uint32_t ip,
		 const struct rte_ether_addr *mac, bool create, uint64_t now,
		 struct rte_mbuf **held_out)
{
	struct dp_neigh_table *t = port->neigh;
	struct dp_neigh_entry *e;
	struct neigh_view v;
	bool changed;
	int n;

	rte_spinlock_lock(&t->lock);
	e = find(t, ip, &v);
	if (e == NULL) {
		if (!create) {
			rte_spinlock_unlock(&t->lock);
			return -ENOENT;
		}
		e = claim(lc, t, ip, now);
	}
	changed = e->state != NEIGH_REACHABLE || !rte_is_same_ether_addr(&e->mac, mac);
	rte_seqlock_write_lock(&e->lock);
	e->mac = *mac;
	e->state = NEIGH_REACHABLE;
	e->confirmed_us = now;
	rte_seqlock_write_unlock(&e->lock);
	e->asked = false;
	n = e->nb_held;
	memcpy(held_out, e->held, n * sizeof(*held_out));
	t->nb_held -= n;
	e->nb_held = 0;
	rte_spinlock_unlock(&t->lock);
	if (changed)
		lc->stats.neigh_learned++;
	return n;
}

bool
dp_neigh_contradicts(struct dp_port *port, uint32_t ip, const struct rte_ether_addr *mac,
		     uint64_t now)
{
	struct dp_neigh_table *t = port->neigh;
	struct dp_neigh_entry *e;
	struct neigh_view v;
	bool ask = false;

	e = find(t, ip, &v);
	if (e == NULL || v.state != NEIGH_REACHABLE || rte_is_same_ether_addr(&v.mac, mac))
		return false;
	rte_spinlock_lock(&t->lock);
	if (e->ip == ip && e->state == NEIGH_REACHABLE)
		ask = may_request(t, e, now);
	rte_spinlock_unlock(&t->lock);
	return ask;
}

int
dp_neigh_lookup(struct dp_port *port, uint32_t ip, struct rte_ether_addr *mac_out)
{
	struct neigh_view v;

	if (find(port->neigh, ip, &v) == NULL || v.state != NEIGH_REACHABLE)
		return -ENOENT;
	*mac_out = v.mac;
	return 0;
}

void
dp_neigh_walk(struct dp_port *port, dp_neigh_walk_cb cb, void *arg)
{
	struct dp_neigh_table *t = port->neigh;
	uint64_t now = dp_now_us();

	for (unsigned int i = 0; i < DP_NEIGH_SIZE; i++) {
		struct neigh_view v;

		read_entry(&t->e[i], &v);
		if (v.state == NEIGH_REACHABLE)
			cb(v.ip, &v.mac, (now - v.confirmed_us) / 1000, arg);
	}
}
