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
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/clock.h"
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
static const struct rte_ether_addr gw_mac = {{0x02, 0, 0, 0, 0, 0x01}};
static const struct rte_ether_addr peer_mac = {{0x02, 0, 0, 0, 0, 0x0a}};
static const struct rte_ether_addr evil_mac = {{0x02, 0xee, 0xee, 0xee, 0xee, 0xee}};
static const struct rte_ether_addr bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
static const struct rte_ether_addr zero_mac;

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

/* What the dataplane queued for transmission, one frame each. */
struct out {
	bool arp;
	uint16_t op;
	uint32_t tip;
	bool ip;
	uint32_t dst;
	struct rte_ether_addr dmac;
};

/* Takes the frames queued for transmission (at most max), returns how many there were. */
static unsigned int
sent(struct out *o, unsigned int max)
{
	struct dp_txbuf *tb = &lcore()->tx[0];
	unsigned int n = tb->n;

	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = tb->pkts[i];
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);

		if (o != NULL && i < max) {
			memset(&o[i], 0, sizeof(o[i]));
			o[i].dmac = eth->dst_addr;
			if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
				const struct rte_arp_hdr *a = (const struct rte_arp_hdr *)(eth + 1);

				o[i].arp = true;
				o[i].op = rte_be_to_cpu_16(a->arp_opcode);
				o[i].tip = rte_be_to_cpu_32(a->arp_data.arp_tip);
			} else {
				const struct rte_ipv4_hdr *ip =
					(const struct rte_ipv4_hdr *)(eth + 1);

				o[i].ip = true;
				o[i].dst = rte_be_to_cpu_32(ip->dst_addr);
			}
		}
		rte_pktmbuf_free(m);
	}
	tb->n = 0;
	return n;
}

static struct rte_mbuf *
arp_frame(uint16_t op, const struct rte_ether_addr *eth_dst, const struct rte_ether_addr *sha,
	  uint32_t sip, const struct rte_ether_addr *tha, uint32_t tip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *a;

	assert_non_null(m);
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eth) + sizeof(*a));
	eth->dst_addr = *eth_dst;
	eth->src_addr = *sha;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	a = (struct rte_arp_hdr *)(eth + 1);
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(op);
	a->arp_data.arp_sha = *sha;
	a->arp_data.arp_sip = rte_cpu_to_be_32(sip);
	a->arp_data.arp_tha = *tha;
	a->arp_data.arp_tip = rte_cpu_to_be_32(tip);
	return m;
}

/* An IPv4 packet the dataplane sends: data at the IP header, as the TCP engine hands it. */
static struct rte_mbuf *
out_packet(uint32_t dst)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ipv4_hdr *ip;

	assert_non_null(m);
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(m, sizeof(*ip) + 20);
	memset(ip, 0, m->pkt_len);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(m->pkt_len);
	ip->src_addr = rte_cpu_to_be_32(OUR_IP);
	ip->dst_addr = rte_cpu_to_be_32(dst);
	return m;
}

static bool
known(uint32_t ip, struct rte_ether_addr *mac)
{
	return dp_neigh_lookup(port(), ip, mac) == 0;
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

/* An ICMP error from a router: type/code, next-hop MTU, quoting a segment we sent. */
static struct rte_mbuf *
icmp_frame(uint8_t type, uint8_t code, uint16_t mtu, bool bad_cksum)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip, *q;
	struct rte_icmp_hdr *icmp;
	uint16_t icmp_len = sizeof(*icmp) + sizeof(*q) + 8;

	assert_non_null(m);
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eth) + sizeof(*ip) + icmp_len);
	memset(eth, 0, m->pkt_len);
	eth->dst_addr = our_mac;
	eth->src_addr = gw_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(sizeof(*ip) + icmp_len);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = rte_cpu_to_be_32(GW_IP);
	ip->dst_addr = rte_cpu_to_be_32(OUR_IP);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp = (struct rte_icmp_hdr *)(ip + 1);
	icmp->icmp_type = type;
	icmp->icmp_code = code;
	icmp->icmp_seq_nb = rte_cpu_to_be_16(mtu);
	q = (struct rte_ipv4_hdr *)(icmp + 1);
	q->version_ihl = RTE_IPV4_VHL_DEF;
	q->total_length = rte_cpu_to_be_16(1500);
	q->next_proto_id = IPPROTO_TCP;
	q->src_addr = rte_cpu_to_be_32(OUR_IP);
	q->dst_addr = rte_cpu_to_be_32(PEER_IP);
	icmp->icmp_cksum = ~rte_raw_cksum(icmp, icmp_len);
	if (bad_cksum)
		icmp->icmp_cksum ^= 0x1234;
	return m;
}

/*
 * Path MTU: "fragmentation needed" goes on to the TCP engine (which checks the quote against
 * its flows, RFC 5927); other unreachables and broken ICMP stop here.
 */
static void
test_icmp_frag_needed_reaches_tcp(void **state)
{
	(void)state;
	rx(icmp_frame(3, 4, 1280, false));
	assert_int_equal(tcp_in, 1);
	assert_int_equal(lcore()->stats.icmp_frag_needed_in, 1);
	rx(icmp_frame(3, 4, 1280, true));
	assert_int_equal(drops(DP_DROP_ICMP_CKSUM), 1);
	rx(icmp_frame(3, 1, 0, false)); /* host unreachable: not acted on */
	assert_int_equal(drops(DP_DROP_ICMP_TYPE), 1);
	assert_int_equal(tcp_in, 1);
	assert_int_equal(lcore()->stats.icmp_frag_needed_in, 1);
}

/* ---------------------------------------------------------------- neighbours */

/* One spoofed IPv4 packet claiming the router's address must not redirect traffic for it. */
static void
test_ipv4_does_not_redirect_router(void **state)
{
	struct rte_ether_addr mac;
	struct out o[8];

	(void)state;
	/* we resolve the router: the packet waits, the reply to our request completes it */
	dp_ipv4_output(lcore(), port(), out_packet(0x08080808));
	assert_int_equal(sent(o, 8), 1);
	assert_true(o[0].arp && o[0].op == RTE_ARP_OP_REQUEST && o[0].tip == GW_IP);
	rx(arp_frame(RTE_ARP_OP_REPLY, &our_mac, &gw_mac, GW_IP, &our_mac, OUR_IP));
	assert_int_equal(sent(o, 8), 1);
	assert_true(o[0].ip && o[0].dst == 0x08080808);
	assert_true(rte_is_same_ether_addr(&o[0].dmac, &gw_mac));
	/* the spoof: an IPv4 packet "from the router" out of another MAC */
	rx(ipv4_frame(&evil_mac, GW_IP, OUR_IP, 0, false));
	assert_int_equal(tcp_in, 1);
	assert_true(known(GW_IP, &mac));
	assert_true(rte_is_same_ether_addr(&mac, &gw_mac));
	dp_ipv4_output(lcore(), port(), out_packet(0x08080808));
	assert_int_equal(sent(o, 8), 1);
	assert_true(rte_is_same_ether_addr(&o[0].dmac, &gw_mac));
	/* and IPv4 from an unknown on-link host teaches nothing either */
	rx(ipv4_frame(&peer_mac, PEER_IP, OUR_IP, 0, false));
	assert_false(known(PEER_IP, &mac));
}

/* ARP is learned only when addressed to us: requests create, replies complete what we asked. */
static void
test_arp_learning_rules(void **state)
{
	struct rte_ether_addr mac;
	struct out o[8];

	(void)state;
	/* a request for someone else teaches nothing */
	rx(arp_frame(RTE_ARP_OP_REQUEST, &bcast, &peer_mac, PEER_IP, &zero_mac, OTHER_IP));
	assert_false(known(PEER_IP, &mac));
	assert_int_equal(drops(DP_DROP_ARP_NOT_OURS), 1);
	/* nor does a reply to someone else, or an unsolicited reply to us */
	rx(arp_frame(RTE_ARP_OP_REPLY, &bcast, &peer_mac, PEER_IP, &gw_mac, OTHER_IP));
	rx(arp_frame(RTE_ARP_OP_REPLY, &our_mac, &peer_mac, PEER_IP, &our_mac, OUR_IP));
	assert_false(known(PEER_IP, &mac));
	assert_int_equal(sent(NULL, 0), 0);
	/* a request for our address: learned and answered */
	rx(arp_frame(RTE_ARP_OP_REQUEST, &bcast, &peer_mac, PEER_IP, &zero_mac, OUR_IP));
	assert_true(known(PEER_IP, &mac) && rte_is_same_ether_addr(&mac, &peer_mac));
	assert_int_equal(sent(o, 8), 1);
	assert_true(o[0].arp && o[0].op == RTE_ARP_OP_REPLY && o[0].tip == PEER_IP);
	/* a gratuitous ARP claiming the peer's address is not believed: we ask the address */
	rx(arp_frame(RTE_ARP_OP_REQUEST, &bcast, &evil_mac, PEER_IP, &zero_mac, PEER_IP));
	assert_true(known(PEER_IP, &mac) && rte_is_same_ether_addr(&mac, &peer_mac));
	assert_int_equal(sent(o, 8), 1);
	assert_true(o[0].arp && o[0].op == RTE_ARP_OP_REQUEST && o[0].tip == PEER_IP);
	rx(arp_frame(RTE_ARP_OP_REPLY, &bcast, &evil_mac, PEER_IP, &zero_mac, PEER_IP));
	assert_true(known(PEER_IP, &mac) && rte_is_same_ether_addr(&mac, &peer_mac));
	/* the answer to our question is addressed to us: a moved host is followed */
	rx(arp_frame(RTE_ARP_OP_REPLY, &our_mac, &evil_mac, PEER_IP, &our_mac, OUR_IP));
	assert_true(known(PEER_IP, &mac) && rte_is_same_ether_addr(&mac, &evil_mac));
}

/* A few packets wait for the answer; ARP requests for one address are rate-limited. */
static void
test_unresolved_hold_and_rate_limit(void **state)
{
	struct out o[16];
	unsigned int n;

	(void)state;
	for (int i = 0; i < 10; i++)
		dp_ipv4_output(lcore(), port(), out_packet(PEER_IP));
	n = sent(o, 16);
	assert_int_equal(n, 1);
	assert_true(o[0].arp && o[0].tip == PEER_IP);
	assert_int_equal(drops(DP_DROP_NO_NEIGHBOUR), 10 - DP_NEIGH_HOLD);
	rx(arp_frame(RTE_ARP_OP_REPLY, &our_mac, &peer_mac, PEER_IP, &our_mac, OUR_IP));
	n = sent(o, 16);
	assert_int_equal(n, DP_NEIGH_HOLD);
	for (unsigned int i = 0; i < n; i++)
		assert_true(o[i].ip && rte_is_same_ether_addr(&o[i].dmac, &peer_mac));
}

#define S (1000ULL * 1000)

/* Entries age: used while fresh, refreshed past reachable, unusable once stale. */
static void
test_neigh_aging(void **state)
{
	struct rte_ether_addr mac;
	struct rte_mbuf *held[DP_NEIGH_HOLD];
	struct rte_mbuf *m = out_packet(PEER_IP);
	bool req;

	(void)state;
	assert_int_equal(dp_neigh_confirm(lcore(), port(), PEER_IP, &peer_mac, true, 1 * S, held),
			 0);
	assert_int_equal(dp_neigh_resolve(lcore(), port(), PEER_IP, m, 30 * S, &mac, &req), 0);
	assert_false(req);
	assert_int_equal(dp_neigh_resolve(lcore(), port(), PEER_IP, m, 62 * S, &mac, &req), 0);
	assert_true(req); /* still used, and asked again */
	assert_int_equal(dp_neigh_resolve(lcore(), port(), PEER_IP, m, 62 * S + 500000, &mac, &req),
			 0);
	assert_false(req); /* one request per second */
	assert_int_equal(dp_neigh_resolve(lcore(), port(), PEER_IP, m, 63 * S, &mac, &req), 0);
	assert_true(req);
	/* no answer for ten minutes: the entry is not used any more, the packet waits */
	assert_int_equal(dp_neigh_resolve(lcore(), port(), PEER_IP, m, 700 * S, &mac, &req),
			 -EAGAIN);
	assert_true(req);
	/* and is dropped if no answer comes within a few seconds */
	m = out_packet(PEER_IP);
	assert_int_equal(dp_neigh_resolve(lcore(), port(), PEER_IP, m, 705 * S, &mac, &req),
			 -EAGAIN);
	assert_int_equal(drops(DP_DROP_NEIGH_TIMEOUT), 1);
	assert_int_equal(
		dp_neigh_confirm(lcore(), port(), PEER_IP, &peer_mac, false, 706 * S, held), 1);
	rte_pktmbuf_free(held[0]);
}

/* A full table evicts the least recently used entry, never one in use (the router). */
static void
test_neigh_lru_eviction(void **state)
{
	struct rte_ether_addr mac;
	struct rte_mbuf *held[DP_NEIGH_HOLD];
	struct rte_mbuf *m = out_packet(GW_IP);
	unsigned int found = 0;
	bool req;

	(void)state;
	dp_neigh_confirm(lcore(), port(), GW_IP, &gw_mac, true, 1 * S, held);
	for (uint32_t i = 0; i < 4 * DP_NEIGH_SIZE; i++) {
		uint64_t now = 2 * S + i * 1000;

		assert_int_equal(dp_neigh_confirm(lcore(), port(), 0x0a000000u + i, &peer_mac, true,
						  now, held),
				 0);
		if (i % 64 == 0)
			assert_int_equal(
				dp_neigh_resolve(lcore(), port(), GW_IP, m, now, &mac, &req), 0);
	}
	assert_true(known(GW_IP, &mac) && rte_is_same_ether_addr(&mac, &gw_mac));
	/* the newest entries are there, the oldest made room */
	assert_true(known(0x0a000000u + 4 * DP_NEIGH_SIZE - 1, &mac));
	assert_false(known(0x0a000000u, &mac));
	for (uint32_t i = 0; i < 4 * DP_NEIGH_SIZE; i++)
		found += known(0x0a000000u + i, &mac);
	assert_true(found < DP_NEIGH_SIZE && found > DP_NEIGH_SIZE / 2);
	rte_pktmbuf_free(m);
}

int
main(void)
{
	char *argv[] = {"test_net", "--no-huge",	 "--no-pci", "--no-shconf", "-m",
			"64",	    "--log-level=error", "-l",	     "0",	    NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ip_cksum_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_frag_needed_reaches_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv4_does_not_redirect_router, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_arp_learning_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unresolved_hold_and_rate_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_neigh_aging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_neigh_lru_eviction, setup, teardown),
	};

	/* net.c reads the clock; frozen at 0 here, the neighbour API is given times directly */
	dp_tsc_per_us = UINT64_MAX;
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
