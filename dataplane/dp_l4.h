/* The seam between IPv4 and the transport: where TCP segments leave net.c. */
#ifndef AG_DATAPLANE_DP_L4_H
#define AG_DATAPLANE_DP_L4_H

#include "dataplane/dp.h"

struct tcp_flow_table;
struct tcp_conf;

/* Flow table and one TCP engine per dataplane lcore, as [tcp] says; their telemetry. */
int dp_l4_init(struct dp *dp, const struct tcp_conf *tc);
/* On the lcore itself, as it stops: its engine aborts the flows it owns. */
void dp_l4_lcore_fini(struct dp_lcore *lc);
/* After every lcore stopped. */
void dp_l4_fini(void);

/*
 * m: Ethernet frame, IPv4 validated, l2_len/l3_len set, trimmed to the datagram. Consumes m.
 * A segment another lcore owns waits in lc->steer_out until dp_l4_steer_flush().
 */
void dp_l4_tcp_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m);
/* Hands what dp_l4_tcp_input gathered for other lcores to their rings: after each poll. */
void dp_l4_steer_flush(struct dp_lcore *lc);
/* Timers of the transport; every loop iteration. */
void dp_l4_process(struct dp_lcore *lc, uint64_t now_us);

/*
 * Output pacing (tcp_tx_budget): data segments this lcore's engine may send until the next
 * call; resume lets the flows the budget held back send; waiting says whether any are held.
 */
void dp_l4_tx_budget(struct dp_lcore *lc, uint32_t segs);
void dp_l4_tx_resume(struct dp_lcore *lc);
bool dp_l4_tx_waiting(const struct dp_lcore *lc);

struct tcp_flow_table *dp_flow_table(void);

/* lcore.c: the registered applications, after dp_l4_init; and after every lcore stopped. */
int dp_apps_init(struct dp *dp);
void dp_apps_fini(void);

#endif
