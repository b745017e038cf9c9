/* The seam between IPv4 and the transport: where TCP segments leave net.c. */
#ifndef AG_DP_L4_H
#define AG_DP_L4_H

#include "dataplane/dp.h"

/* m: Ethernet frame, IPv4 validated, l2_len/l3_len set, trimmed to the datagram. Consumes m. */
void dp_l4_tcp_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m);
/* Timers and deferred work of the transport, every few loop iterations. */
void dp_l4_process(struct dp_lcore *lc, uint64_t now_tsc);

#endif
