/* Ethernet/ARP/IPv4 input and the neighbour table, driven frame by frame (TCP is mocked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/dp.h"
#include "dataplane/dp_l4.h"

#define GW_IP	 0xC6120001u /* 198.18.0.1, the router */
#define OUR_IP	 0xC6120002u /* 198.18.0.2 */
#define PEER_IP	 0xC612000Au /* 198.18.0.10 */
#define OTHER_IP 0xC612000Bu /* 198.18.0.11 */

static struct rte_mempool *pool;
static struct dp dp;
static struct dp_port_conf port_conf = {.mtu = 1500};
static unsigned int tcp_in;

static const struct rte_ether_addr our_mac = {{0x02, 0, 0, 0, 0, 0x02}};
static const struct rte_ether_addr peer_mac = {{0x02, 0, 0, 0, 0, 0x0a}};

/* The TCP engine is not under test: count what reaches it. */
void
dp_l4_tcp_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m)
{
	(void)lc;
	(void)port;
	tcp_in++;
	rte_pktmbuf_free(m);
}

static struct dp_lcore *
lcore(void)
{
	return &dp.lcores[0];
}

static struct dp_port *
port(void)
{
	return &dp.ports[0];
}

static int
setup(void **state)
{
	(void)state;
	memset(&dp, 0, sizeof(dp));
	dp.nb_ports = 1;
	dp.nb_lcores = 1;
	dp.lcores[0].dp = &dp;
	port()->conf = &port_conf;
	port()->mac = our_mac;
	port()->addr = OUR_IP;
	port()->mask = 0xffffff00u;
	port()->gateway = GW_IP;
	port()->pool = pool;
	tcp_in = 0;
	return dp_neigh_init(port());
}

static int
teardown(void **state)
{
	struct dp_txbuf *tb = &lcore()->tx[0];

	(void)state;
	for (unsigned int i = 0; i < tb->n; i++)
		rte_pktmbuf_free(tb->pkts[i]);
	tb->n = 0;
	dp_neigh_free(port());
	return 0;
}

static struct rte_mbuf *
ipv4_frame(const struct rte_ether_addr *src_mac, uint32_t src, uint32_t dst, uint64_t ol_flags,
	   bool bad_cksum)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;

	assert_non_null(m);
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eth) + sizeof(*ip) + 20);
	memset(eth, 0, m->pkt_len);
	eth->dst_addr = our_mac;
	eth->src_addr = *src_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(sizeof(*ip) + 20);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(src);
	ip->dst_addr = rte_cpu_to_be_32(dst);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	if (bad_cksum)
		ip->hdr_checksum ^= 0x5a5a;
	m->ol_flags = ol_flags;
	return m;
}

static void
rx(struct rte_mbuf *m)
{
	dp_net_input(lcore(), port(), m);
}

static uint64_t
drops(enum dp_drop_reason r)
{
	return lcore()->stats.drops[r];
}

/* virtio/vhost/veth: IP_CKSUM_NONE means the header checksum was never filled in. */
static void
test_ip_cksum_flags(void **state)
{
	(void)state;
	rx(ipv4_frame(&peer_mac, PEER_IP, OUR_IP, RTE_MBUF_F_RX_IP_CKSUM_NONE, true));
	assert_int_equal(tcp_in, 1);
	rx(ipv4_frame(&peer_mac, PEER_IP, OUR_IP, RTE_MBUF_F_RX_IP_CKSUM_GOOD, true));
	assert_int_equal(tcp_in, 2);
	rx(ipv4_frame(&peer_mac, PEER_IP, OUR_IP, RTE_MBUF_F_RX_IP_CKSUM_BAD, false));
	rx(ipv4_frame(&peer_mac, PEER_IP, OUR_IP, RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN, true));
	assert_int_equal(tcp_in, 2);
	assert_int_equal(drops(DP_DROP_IP_CKSUM), 2);
	rx(ipv4_frame(&peer_mac, PEER_IP, OUR_IP, RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN, false));
	assert_int_equal(tcp_in, 3);
}

int
main(void)
{
	char *argv[] = {"test_net", "--no-huge",	 "--no-pci", "--no-shconf", "-m",
			"64",	    "--log-level=error", "-l",	     "0",	    NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ip_cksum_flags, setup, teardown),
	};

	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		printf("skip: EAL cannot start here: %s\n", rte_strerror(rte_errno));
		return 77;
	}
	pool = rte_pktmbuf_pool_create("net_test", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (pool == NULL) {
		printf("mbuf pool: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
