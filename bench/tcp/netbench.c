/* Instructions net.c spends per frame in and out (bench/tcp/callgrind.sh adds them to a request).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <valgrind/callgrind.h>

#include "dataplane/clock.h"
#include "dataplane/dp.h"
#include "dataplane/dp_l4.h"

#define OUR_IP	0xC6120002u /* 198.18.0.2 */
#define PEER_IP 0xC612000Au /* 198.18.0.10 */

static struct dp dp;
static struct dp_port_conf port_conf = {.mtu = 1500};
static struct rte_mempool *pool;
static struct rte_mbuf *reached[64];
static unsigned int nreached;

static const struct rte_ether_addr our_mac = {{0x02, 0, 0, 0, 0, 0x02}};
static const struct rte_ether_addr peer_mac = {{0x02, 0, 0, 0, 0, 0x0a}};

/*
 * Where net.c hands a TCP segment on. With one lcore l4.c computes no owner and calls
 * tcp_input, which reqbench counts: keep the mbuf so that freeing it is not counted here.
 */
void
dp_l4_tcp_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m)
{
	(void)lc;
	(void)port;
	reached[nreached++] = m;
}

/* A client's segment as a port receives it: Ethernet, IPv4, TCP, payload; checksums flagged. */
static struct rte_mbuf *
client_frame(uint16_t payload)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;
	uint16_t len = sizeof(*ip) + sizeof(*th) + payload;

	if (m == NULL || rte_pktmbuf_append(m, sizeof(*eth) + len) == NULL)
		abort();
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	memset(eth, 0, m->pkt_len);
	eth->dst_addr = our_mac;
	eth->src_addr = peer_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(len);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(PEER_IP);
	ip->dst_addr = rte_cpu_to_be_32(OUR_IP);
	th = (struct rte_tcp_hdr *)(ip + 1);
	th->src_port = rte_cpu_to_be_16(40001);
	th->dst_port = rte_cpu_to_be_16(80);
	th->data_off = 5 << 4;
	m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	return m;
}

/* A segment as the TCP engine hands it to net.c: at the IP header, Ethernet room ahead. */
static struct rte_mbuf *
engine_segment(uint16_t payload)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ipv4_hdr *ip;
	uint16_t len = sizeof(*ip) + sizeof(struct rte_tcp_hdr) + payload;

	if (m == NULL || rte_pktmbuf_append(m, len) == NULL)
		abort();
	ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	memset(ip, 0, len);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(len);
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(OUR_IP);
	ip->dst_addr = rte_cpu_to_be_32(PEER_IP);
	m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
	return m;
}

static int
port_setup(struct dp_port *port)
{
	struct rte_eth_conf conf = {0};

	/* net_null: a device whose TX takes every frame, so the burst call is what is left */
	if (rte_eth_dev_configure(0, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(0, 0, 512, SOCKET_ID_ANY, NULL, pool) != 0 ||
	    rte_eth_tx_queue_setup(0, 0, 512, SOCKET_ID_ANY, NULL) != 0 ||
	    rte_eth_dev_start(0) != 0)
		return -1;
	port->port_id = 0;
	port->conf = &port_conf;
	port->mac = our_mac;
	port->addr = OUR_IP;
	port->mask = 0xffffff00u;
	port->pool = pool;
	return dp_neigh_init(port);
}

int
main(int argc, char **argv)
{
	char *eal[] = {"netbench", "--no-huge", "--no-pci", "--no-shconf",	"-m",
		       "128",	   "-l",	"0",	    "--vdev=net_null0", "--log-level=error",
		       NULL};
	unsigned int n = argc > 1 ? (unsigned int)atoi(argv[1]) : 20000;
	/* which half callgrind counts: "in" (the default) or "out" */
	bool count_out = argc > 2 && strcmp(argv[2], "out") == 0;
	struct dp_lcore *lc = &dp.lcores[0];
	struct dp_port *port = &dp.ports[0];
	struct rte_mbuf *in[32], *out[32], *held[DP_NEIGH_HOLD];

	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	pool = rte_pktmbuf_pool_create("netbench", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	dp.nb_ports = 1;
	dp.nb_lcores = 1;
	lc->dp = &dp;
	if (pool == NULL || port_setup(port) != 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	/* the peer is known, as it is once its SYN came in (a real lab learns it by ARP) */
	if (dp_neigh_confirm(lc, port, PEER_IP, &peer_mac, true, dp_now_us(), held) != 0) {
		fprintf(stderr, "neighbour setup failed\n");
		return 1;
	}

	for (unsigned int done = 0; done < n; done += 32) {
		/* a burst in: the request and the ACKs; a burst out: the responses */
		for (unsigned int i = 0; i < 32; i++) {
			in[i] = client_frame(i % 2 ? 0 : 54);
			out[i] = engine_segment(1448);
		}
		nreached = 0;
		if (!count_out)
			CALLGRIND_START_INSTRUMENTATION;
		for (unsigned int i = 0; i < 32; i++)
			dp_net_input(lc, port, in[i]);
		CALLGRIND_STOP_INSTRUMENTATION;
		if (nreached != 32) {
			fprintf(stderr, "netbench: %u of 32 frames reached TCP\n", nreached);
			return 1;
		}
		rte_pktmbuf_free_bulk(reached, nreached);
		/* the peer answers ARP: keep its entry fresh, as its replies would */
		if (dp_neigh_confirm(lc, port, PEER_IP, &peer_mac, false, dp_now_us(), held) != 0)
			return 1;
		if (count_out)
			CALLGRIND_START_INSTRUMENTATION;
		for (unsigned int i = 0; i < 32; i++)
			dp_ipv4_output(lc, port, out[i]);
		dp_tx_flush(lc);
		CALLGRIND_STOP_INSTRUMENTATION;
	}
	/* every segment went out (ARP requests to refresh the entry may come on top) */
	if (lc->stats.tx_pkts < lc->stats.rx_pkts) {
		fprintf(stderr, "netbench: %lu in, %lu out\n", (unsigned long)lc->stats.rx_pkts,
			(unsigned long)lc->stats.tx_pkts);
		return 1;
	}
	printf("frames_in=%lu frames_out=%lu\n", (unsigned long)lc->stats.rx_pkts,
	       (unsigned long)lc->stats.rx_pkts);
	return 0;
}
