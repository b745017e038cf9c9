/* Neighbour table per port: IPv4 → MAC learned from ARP, written rarely, read without locks. */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_seqlock.h>
#include <rte_spinlock.h>

#include "dataplane/dp.h"

/*
 * Entries are never removed, only overwritten, so a slot found by probing
 * stays the slot of that address. Each entry has a seqlock: lcores reading a
 * next hop on the TX path never block, and the rare writer (an ARP packet,
 * on any lcore) takes the seqlock's own spinlock. New slots are claimed under
 * one table lock so two lcores cannot claim the same slot for two addresses.
 */
struct dp_neigh_entry {
	rte_seqlock_t lock;
	uint32_t ip; /* 0: free; written once under claim_lock */
	struct rte_ether_addr mac;
	uint64_t updated_tsc;
} __rte_cache_aligned;

static rte_spinlock_t claim_lock = RTE_SPINLOCK_INITIALIZER;

int
dp_neigh_init(struct dp_port *port)
{
	port->neigh = rte_zmalloc("neigh", sizeof(struct dp_neigh_entry) * DP_NEIGH_SIZE,
				  RTE_CACHE_LINE_SIZE);
	if (port->neigh == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; i < DP_NEIGH_SIZE; i++)
		rte_seqlock_init(&port->neigh[i].lock);
	return 0;
}

void
dp_neigh_free(struct dp_port *port)
{
	rte_free(port->neigh);
	port->neigh = NULL;
}

static struct dp_neigh_entry *
neigh_slot(struct dp_port *port, uint32_t ip, bool claim)
{
	uint32_t h = rte_hash_crc_4byte(ip, 0x9e3779b9);

	for (unsigned int i = 0; i < DP_NEIGH_SIZE; i++) {
		struct dp_neigh_entry *e = &port->neigh[(h + i) & (DP_NEIGH_SIZE - 1)];
		uint32_t cur = __atomic_load_n(&e->ip, __ATOMIC_ACQUIRE);

		if (cur == ip)
			return e;
		if (cur != 0)
			continue;
		if (!claim)
			return NULL;
		rte_spinlock_lock(&claim_lock);
		cur = __atomic_load_n(&e->ip, __ATOMIC_ACQUIRE);
		if (cur == 0) {
			rte_seqlock_write_lock(&e->lock);
			e->updated_tsc = 0;
			memset(&e->mac, 0, sizeof(e->mac));
			rte_seqlock_write_unlock(&e->lock);
			__atomic_store_n(&e->ip, ip, __ATOMIC_RELEASE);
		}
		rte_spinlock_unlock(&claim_lock);
		if (cur == 0 || cur == ip)
			return e;
	}
	return NULL; /* full: the caller counts a miss */
}

bool
dp_neigh_learn(struct dp_port *port, uint32_t ip, const struct rte_ether_addr *mac, uint64_t now)
{
	struct dp_neigh_entry *e = neigh_slot(port, ip, true);
	bool changed;

	if (e == NULL)
		return false;
	rte_seqlock_write_lock(&e->lock);
	changed = !rte_is_same_ether_addr(&e->mac, mac) || e->updated_tsc == 0;
	rte_ether_addr_copy(mac, &e->mac);
	e->updated_tsc = now;
	rte_seqlock_write_unlock(&e->lock);
	return changed;
}

int
dp_neigh_lookup(struct dp_port *port, uint32_t ip, struct rte_ether_addr *mac_out)
{
	struct dp_neigh_entry *e = neigh_slot(port, ip, false);
	struct rte_ether_addr mac;
	uint64_t updated;
	uint32_t sn;

	if (e == NULL)
		return -ENOENT;
	do {
		sn = rte_seqlock_read_begin(&e->lock);
		mac = e->mac;
		updated = e->updated_tsc;
	} while (rte_seqlock_read_retry(&e->lock, sn));
	if (updated == 0)
		return -ENOENT;
	*mac_out = mac;
	return 0;
}

void
dp_neigh_walk(struct dp_port *port, dp_neigh_walk_cb cb, void *arg)
{
	uint64_t now = rte_get_tsc_cycles(), hz = rte_get_tsc_hz();

	for (unsigned int i = 0; i < DP_NEIGH_SIZE; i++) {
		struct dp_neigh_entry *e = &port->neigh[i];
		struct rte_ether_addr mac;
		uint64_t updated;
		uint32_t ip = __atomic_load_n(&e->ip, __ATOMIC_ACQUIRE), sn;

		if (ip == 0)
			continue;
		do {
			sn = rte_seqlock_read_begin(&e->lock);
			mac = e->mac;
			updated = e->updated_tsc;
		} while (rte_seqlock_read_retry(&e->lock, sn));
		if (updated != 0)
			cb(ip, &mac, (now - updated) * 1000 / hz, arg);
	}
}
