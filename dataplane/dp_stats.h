/* Dataplane drop reasons and per-lcore counters: every dropped packet has a reason and a count. */
#ifndef AG_DATAPLANE_DP_STATS_H
#define AG_DATAPLANE_DP_STATS_H

#include <stdint.h>

#include <rte_common.h>

/*
 * X-macro so the enum and its names cannot drift apart. The names are what
 * telemetry and authgate-ctl print; keep them stable.
 */
#define DP_DROP_REASONS(X)                                                                         \
	X(ETH_RUNT, "eth_runt")		/* frame shorter than an Ethernet header */                \
	X(ETH_OVERSIZE, "eth_oversize") /* longer than the port's MTU allows */                    \
	X(ETH_NOT_OURS, "eth_not_ours") /* unicast to another MAC */                               \
	X(ETH_VLAN, "eth_vlan")		/* 802.1Q tagged: not configured */                        \
	X(ETH_IPV6, "eth_ipv6")		/* IPv6 is not served */                                   \
	X(ETH_TYPE, "eth_unknown_type") /* any other ethertype */                                  \
	X(ARP_TRUNCATED, "arp_truncated")                                                          \
	X(ARP_MALFORMED, "arp_malformed") /* not Ethernet/IPv4 ARP */                              \
	X(ARP_NOT_OURS, "arp_not_ours")	  /* for another address: neither learned nor answered */  \
	X(ARP_BAD_OP, "arp_bad_op")                                                                \
	X(IP_TRUNCATED, "ip_truncated") /* shorter than its header */                              \
	X(IP_VERSION, "ip_version")                                                                \
	X(IP_BAD_IHL, "ip_bad_ihl")	     /* header length below 20 bytes */                    \
	X(IP_BAD_LEN, "ip_bad_total_length") /* total length below IHL or beyond the frame */      \
	X(IP_CKSUM, "ip_bad_checksum")                                                             \
	X(IP_FRAGMENT, "ip_fragment") /* fragments are not reassembled */                          \
	X(IP_NOT_OURS, "ip_not_ours")                                                              \
	X(IP_MARTIAN_SRC, "ip_martian_source") /* source is ours, zero, multicast or broadcast */  \
	X(IP_PROTO, "ip_unsupported_proto")                                                        \
	X(ICMP_TRUNCATED, "icmp_truncated")                                                        \
	X(ICMP_CKSUM, "icmp_bad_checksum")                                                         \
	X(ICMP_TYPE, "icmp_not_echo_request")                                                      \
	X(TCP_NO_ENGINE, "tcp_no_engine")     /* no TCP engine on this lcore */                    \
	X(STEER_RING_FULL, "steer_ring_full") /* owner lcore's steering ring full */               \
	X(NO_NEIGHBOUR, "tx_no_neighbour")    /* next hop unresolved, its wait queue full */       \
	X(NEIGH_TIMEOUT, "tx_neigh_timeout")  /* waited for ARP: no answer in time, or evicted */  \
	X(NO_MBUF, "no_mbuf")		      /* pool empty when building a reply */               \
	X(TX_FULL, "tx_queue_full")	      /* rte_eth_tx_burst did not take it */

enum dp_drop_reason {
#define DP_DROP_ENUM(e, s) DP_DROP_##e,
	DP_DROP_REASONS(DP_DROP_ENUM)
#undef DP_DROP_ENUM
		DP_DROP_MAX
};

const char *dp_drop_reason_str(enum dp_drop_reason r);

/* Written only by the owning lcore; readers sum over lcores and tolerate a torn 64-bit read. */
struct dp_lcore_stats {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t polls;
	uint64_t busy_polls;
	uint64_t sleeps;
	uint64_t tx_steps;	/* paced output steps: a burst of held-back data, then a read */
	uint64_t rx_between_tx; /* frames read in those steps, between two bursts of data */
	uint64_t arp_requests_in;
	uint64_t arp_replies_in;
	uint64_t arp_replies_out;
	uint64_t arp_requests_out;
	uint64_t garp_out;
	uint64_t neigh_learned;
	uint64_t icmp_echo_in;
	uint64_t icmp_echo_out;
	uint64_t icmp_frag_needed_in; /* handed to the TCP engine, which validates (tcp drops) */
	uint64_t tcp_in;
	uint64_t steered_out;
	uint64_t steered_in;
	uint64_t drops[DP_DROP_MAX];
} __rte_cache_aligned;

#endif
