/* Per-source accounting: connections and half-open flows per client address, per engine. */
#include <rte_common.h>
#include <rte_malloc.h>

#include "dataplane/tcp/tcp_priv.h"

/*
 * Open addressing with linear probing, keyed by a keyed hash of the address (a peer cannot
 * choose addresses that collide), backward-shift deletion so lookups never meet tombstones.
 * Twice as many slots as the engine may own flows: the table never fills.
 */

int
tcp_src_init(struct tcp_engine *e)
{
	uint32_t n = 64;

	while (n < 2 * e->p.max_flows)
		n <<= 1;
	e->src = rte_zmalloc("tcp_src", sizeof(*e->src) * n, 0);
	if (e->src == NULL)
		return -ENOMEM;
	e->src_mask = n - 1;
	return 0;
}

void
tcp_src_fini(struct tcp_engine *e)
{
	rte_free(e->src);
	e->src = NULL;
}

static uint32_t
src_slot(const struct tcp_engine *e, uint32_t addr)
{
	return (uint32_t)tcp_siphash(e->k0, e->k1, addr, 0x5352430000000000ULL, 0) & e->src_mask;
}

const struct tcp_src *
tcp_src_find(const struct tcp_engine *e, uint32_t addr)
{
	for (uint32_t i = src_slot(e, addr);; i = (i + 1) & e->src_mask) {
		const struct tcp_src *s = &e->src[i];

		if (s->addr == 0)
			return NULL;
		if (s->addr == addr)
			return s;
	}
}

static void
src_delete(struct tcp_engine *e, uint32_t hole)
{
	for (uint32_t j = (hole + 1) & e->src_mask; e->src[j].addr != 0;
	     j = (j + 1) & e->src_mask) {
		uint32_t home = src_slot(e, e->src[j].addr);

		/* move j into the hole unless its home lies cyclically in (hole, j] */
		if (((j - home) & e->src_mask) >= ((j - hole) & e->src_mask)) {
			e->src[hole] = e->src[j];
			hole = j;
		}
	}
	e->src[hole] = (struct tcp_src){0};
}

void
tcp_src_count(struct tcp_engine *e, uint32_t addr, int conns, int half_open)
{
	uint32_t i = src_slot(e, addr);
	struct tcp_src *s;

	for (;; i = (i + 1) & e->src_mask) {
		s = &e->src[i];
		if (s->addr == addr || s->addr == 0)
			break;
	}
	if (s->addr == 0) {
		if (conns <= 0 && half_open <= 0)
			return; /* nothing to take from: accounting started after this flow */
		s->addr = addr;
	}
	s->conns = (uint32_t)RTE_MAX((int64_t)s->conns + conns, 0);
	s->half_open = (uint32_t)RTE_MAX((int64_t)s->half_open + half_open, 0);
	if (s->conns == 0 && s->half_open == 0)
		src_delete(e, i);
}
