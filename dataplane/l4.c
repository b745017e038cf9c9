/* Transport glue: hands TCP segments to this lcore's engine, or counts them when there is none. */
#include "dataplane/dp_l4.h"

void
dp_l4_tcp_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m)
{
	RTE_SET_USED(port);
	if (lc->tcp == NULL)
		return dp_drop(lc, m, DP_DROP_TCP_NO_ENGINE);
	dp_drop(lc, m, DP_DROP_TCP_NO_ENGINE);
}

void
dp_l4_process(struct dp_lcore *lc, uint64_t now_tsc)
{
	RTE_SET_USED(lc);
	RTE_SET_USED(now_tsc);
}
