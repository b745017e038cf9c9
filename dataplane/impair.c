/* Lab fault injection on the gateway's own link: loss, duplication, delay and reordering,
 * netem-style. */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_random.h>

#include "dataplane/impair.h"

/*
 * netem's model, which the lab tests are written against: each packet is
 * lost with probability loss; otherwise it is delayed by delay_us, except
 * that a reorder share of packets goes out at once and so overtakes the
 * delayed ones; a duplicate share is sent twice. Delayed packets wait in a
 * FIFO (their due times are monotonic because the delay is constant).
 */

static inline bool
chance(uint32_t permille)
{
	return permille != 0 && (rte_rand() % 1000) < permille;
}

int
dp_impair_init(struct dp_impair *im, const struct dp_impair_conf *conf, unsigned int socket)
{
	memset(im, 0, sizeof(*im));
	im->conf = *conf;
	if (!dp_impair_enabled(conf))
		return 0;
	im->q = rte_zmalloc_socket("impair", sizeof(*im->q) * DP_IMPAIR_QUEUE, 0, socket);
	return im->q == NULL ? -ENOMEM : 0;
}

void
dp_impair_fini(struct dp_impair *im)
{
	if (im->q == NULL)
		return;
	while (im->head != im->tail) {
		rte_pktmbuf_free(im->q[im->head % DP_IMPAIR_QUEUE].m);
		im->head++;
	}
	rte_free(im->q);
	im->q = NULL;
}

static void
hold(struct dp_impair *im, struct rte_mbuf *m, uint64_t due)
{
	if (im->tail - im->head == DP_IMPAIR_QUEUE) {
		im->stats.overflow++;
		rte_pktmbuf_free(m);
		return;
	}
	im->q[im->tail % DP_IMPAIR_QUEUE].m = m;
	im->q[im->tail % DP_IMPAIR_QUEUE].due_us = due;
	im->tail++;
	im->stats.delayed++;
}

unsigned int
dp_impair_apply(struct dp_impair *im, struct rte_mbuf *m, uint64_t now_us, struct rte_mbuf **out)
{
	unsigned int n = 0;
	struct rte_mbuf *dup = NULL;

	if (chance(im->conf.loss_permille)) {
		im->stats.lost++;
		rte_pktmbuf_free(m);
		return 0;
	}
	if (chance(im->conf.duplicate_permille)) {
		dup = rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX);
		if (dup != NULL)
			im->stats.duplicated++;
	}
	for (struct rte_mbuf *p = m; p != NULL; p = p == m ? dup : NULL) {
		if (im->conf.delay_us == 0 || chance(im->conf.reorder_permille)) {
			if (im->conf.delay_us != 0)
				im->stats.reordered++;
			out[n++] = p;
		} else {
			hold(im, p, now_us + im->conf.delay_us);
		}
	}
	return n;
}

unsigned int
dp_impair_due(struct dp_impair *im, uint64_t now_us, struct rte_mbuf **out, unsigned int max)
{
	unsigned int n = 0;

	while (n < max && im->head != im->tail &&
	       im->q[im->head % DP_IMPAIR_QUEUE].due_us <= now_us) {
		out[n++] = im->q[im->head % DP_IMPAIR_QUEUE].m;
		im->head++;
	}
	return n;
}
