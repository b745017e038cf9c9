/* Lab fault injection: the state one direction of one lcore keeps. */
#ifndef AG_DATAPLANE_IMPAIR_H
#define AG_DATAPLANE_IMPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#define DP_IMPAIR_QUEUE 16384 /* delayed packets held per direction and lcore */

struct dp_impair_conf {
	uint32_t loss_permille;
	uint32_t duplicate_permille;
	uint32_t reorder_permille; /* share sent at once, overtaking the delayed ones */
	uint32_t delay_us;
};

struct dp_impair_stats {
	uint64_t lost;
	uint64_t duplicated;
	uint64_t delayed;
	uint64_t reordered;
	uint64_t overflow; /* queue full: dropped */
};

struct dp_impair {
	struct dp_impair_conf conf;
	struct {
		struct rte_mbuf *m;
		uint64_t due_us;
	} * q;
	uint32_t head, tail;
	struct dp_impair_stats stats;
};

static inline bool
dp_impair_enabled(const struct dp_impair_conf *c)
{
	return c->loss_permille || c->duplicate_permille || c->delay_us;
}

int dp_impair_init(struct dp_impair *im, const struct dp_impair_conf *conf, unsigned int socket);
void dp_impair_fini(struct dp_impair *im);
/* Consumes m; writes the 0..2 packets to pass on now into out. */
unsigned int dp_impair_apply(struct dp_impair *im, struct rte_mbuf *m, uint64_t now_us,
			     struct rte_mbuf **out);
/* Delayed packets whose time has come, oldest first. */
unsigned int dp_impair_due(struct dp_impair *im, uint64_t now_us, struct rte_mbuf **out,
			   unsigned int max);

#endif
