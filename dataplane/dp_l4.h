/* The seam between IPv4 and the transport: where TCP segments leave net.c. */
#ifndef AG_DP_L4_H
#define AG_DP_L4_H

#include "dataplane/dp.h"

struct tcp_flow_table;

/* Flow table and one TCP engine per dataplane lcore, diagnostics listeners from [diag]. */
int dp_l4_init(struct dp *dp, const struct ag_config *cfg);
/* On the lcore itself, as it stops: its engine aborts the flows it owns. */
void dp_l4_lcore_fini(struct dp_lcore *lc);
/* After every lcore stopped. */
void dp_l4_fini(void);

/* m: Ethernet frame, IPv4 validated, l2_len/l3_len set, trimmed to the datagram. Consumes m. */
void dp_l4_tcp_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m);
/* Timers of the transport; every loop iteration. */
void dp_l4_process(struct dp_lcore *lc, uint64_t now_tsc);

uint64_t dp_now_us(void);
struct tcp_flow_table *dp_flow_table(void);

#endif
