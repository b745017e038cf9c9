/* Per-source accounting: connections and half-open flows per client address, gateway-wide. */
#include <errno.h>
#include <stdlib.h>

#include <rte_common.h>

#include "dataplane/tcp/tcp_priv.h"

/*
 * One table for the whole gateway, in the shared flow table: a client's connections are
 * spread over the lcores by the tuple hash, so counts kept per engine let one address hold
 * the bound once per lcore. Open addressing with linear probing, keyed by a keyed hash of the
 * address (a peer cannot choose addresses that collide), backward-shift deletion so lookups
 * never meet tombstones. Twice as many slots as the gateway may hold flows: it never fills.
 * A spinlock guards it: it is taken on state changes (a few times per connection), never per
 * segment.
 */

int
tcp_src_init(struct tcp_flow_table *t)
{
	uint32_t n = 64;

	while (n < 2 * t->max_flows && n < (1u << 31))
		n <<= 1;
	t->src = calloc(n, sizeof(*t->src));
	if (t->src == NULL)
		return -ENOMEM;
	t->src_mask = n - 1;
	t->src_k0 = tcp_siphash(t->seed, 0x5352435f6b657930ULL, 0, 0, 1);
	t->src_k1 = tcp_siphash(t->seed, 0x5352435f6b657931ULL, 0, 0, 2);
	rte_spinlock_init(&t->src_lock);
	return 0;
}

void
tcp_src_fini(struct tcp_flow_table *t)
{
	free(t->src);
	t->src = NULL;
}

static uint32_t
src_slot(const struct tcp_flow_table *t, uint32_t addr)
{
	return (uint32_t)tcp_siphash(t->src_k0, t->src_k1, addr, 0x5352430000000000ULL, 0) &
	       t->src_mask;
}

/* Under src_lock. */
static struct tcp_src *
src_find(struct tcp_flow_table *t, uint32_t addr, uint32_t *slot_out)
{
	for (uint32_t i = src_slot(t, addr);; i = (i + 1) & t->src_mask) {
		struct tcp_src *s = &t->src[i];

		if (s->addr == addr || s->addr == 0) {
			*slot_out = i;
			return s;
		}
	}
}

struct tcp_src
tcp_src_get(struct tcp_engine *e, uint32_t addr)
{
	struct tcp_flow_table *t = e->t;
	struct tcp_src r = {0};
	struct tcp_src *s;
	uint32_t i;

	rte_spinlock_lock(&t->src_lock);
	s = src_find(t, addr, &i);
	if (s->addr == addr)
		r = *s;
	rte_spinlock_unlock(&t->src_lock);
	return r;
}

static void
src_delete(struct tcp_flow_table *t, uint32_t hole)
{
	for (uint32_t j = (hole + 1) & t->src_mask; t->src[j].addr != 0;
	     j = (j + 1) & t->src_mask) {
		uint32_t home = src_slot(t, t->src[j].addr);

		/* move j into the hole unless its home lies cyclically in (hole, j] */
		if (((j - home) & t->src_mask) >= ((j - hole) & t->src_mask)) {
			t->src[hole] = t->src[j];
			hole = j;
		}
	}
	t->src[hole] = (struct tcp_src){0};
}

void
tcp_src_count(struct tcp_engine *e, uint32_t addr, int conns, int half_open)
{
	struct tcp_flow_table *t = e->t;
	struct tcp_src *s;
	uint32_t i;

	rte_spinlock_lock(&t->src_lock);
	s = src_find(t, addr, &i);
	if (s->addr == 0) {
		if (conns <= 0 && half_open <= 0)
			goto out; /* nothing to take from: accounting started after this flow */
		s->addr = addr;
	}
	s->conns = (uint32_t)RTE_MAX((int64_t)s->conns + conns, 0);
	s->half_open = (uint32_t)RTE_MAX((int64_t)s->half_open + half_open, 0);
	if (s->conns == 0 && s->half_open == 0)
		src_delete(t, i);
out:
	rte_spinlock_unlock(&t->src_lock);
}
