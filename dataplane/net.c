/* Ethernet, ARP, IPv4 and ICMP echo: validate, answer, hand TCP on, count every drop. */
#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "dataplane/dp.h"
#include "dataplane/clock.h"
#include "dataplane/dp_l4.h"
#include "dataplane/impair.h"

static const char *const drop_names[DP_DROP_MAX] = {
#define DP_DROP_NAME(e, s) [DP_DROP_##e] = s,
	DP_DROP_REASONS(DP_DROP_NAME)
#undef DP_DROP_NAME
};

const char *
dp_drop_reason_str(enum dp_drop_reason r)
{
	return (unsigned int)r < DP_DROP_MAX ? drop_names[r] : "unknown";
}

static inline bool
on_link(const struct dp_port *port, uint32_t ip)
{
	return (ip & port->mask) == (port->addr & port->mask);
}

void
dp_tx_buffer(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m)
{
	struct dp_txbuf *tb = &lc->tx[port - lc->dp->ports];

	if (tb->n == DP_TX_BUF)
		dp_tx_flush(lc);
	tb->pkts[tb->n++] = m;
}

void
dp_tx_enqueue(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m)
{
	struct rte_mbuf *out[2];
	unsigned int n;

	if (likely(!lc->impaired))
		return dp_tx_buffer(lc, port, m);
	m->port = port->port_id; /* a delayed packet must find its port again */
	n = dp_impair_apply(&lc->tx_imp, m, dp_now_us(), out);
	for (unsigned int i = 0; i < n; i++)
		dp_tx_buffer(lc, port, out[i]);
}

void
dp_tx_flush(struct dp_lcore *lc)
{
	for (uint16_t p = 0; p < lc->dp->nb_ports; p++) {
		struct dp_txbuf *tb = &lc->tx[p];
		uint16_t sent;

		if (tb->n == 0)
			continue;
		sent = rte_eth_tx_burst(lc->dp->ports[p].port_id, lc->index, tb->pkts, tb->n);
		for (uint16_t i = 0; i < sent; i++)
			lc->stats.tx_bytes += tb->pkts[i]->pkt_len;
		lc->stats.tx_pkts += sent;
		/* the caller frees what the PMD did not take */
		for (uint16_t i = sent; i < tb->n; i++)
			dp_drop(lc, tb->pkts[i], DP_DROP_TX_FULL);
		tb->n = 0;
	}
}

void
dp_arp_send_request(struct dp_lcore *lc, struct dp_port *port, uint32_t target, bool gratuitous)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(port->pool);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;

	if (m == NULL) {
		lc->stats.drops[DP_DROP_NO_MBUF]++;
		return;
	}
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eth) + sizeof(*arp));
	arp = (struct rte_arp_hdr *)(eth + 1);
	memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	rte_ether_addr_copy(&port->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(&port->mac, &arp->arp_data.arp_sha);
	arp->arp_data.arp_sip = rte_cpu_to_be_32(port->addr);
	memset(&arp->arp_data.arp_tha, 0, sizeof(arp->arp_data.arp_tha));
	/* RFC 5227: a gratuitous ARP is a request for our own address */
	arp->arp_data.arp_tip = rte_cpu_to_be_32(gratuitous ? port->addr : target);
	if (gratuitous)
		lc->stats.garp_out++;
	else
		lc->stats.arp_requests_out++;
	dp_tx_enqueue(lc, port, m);
}

/* An IPv4 packet (data at the IP header) to mac: the Ethernet header, then the TX queue. */
static void
eth_output(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m,
	   const struct rte_ether_addr *mac)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth));

	if (eth == NULL)
		return dp_drop(lc, m, DP_DROP_NO_MBUF);
	rte_ether_addr_copy(mac, &eth->dst_addr);
	rte_ether_addr_copy(&port->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	m->l2_len = sizeof(*eth);
	dp_tx_enqueue(lc, port, m);
}

/* ARP addressed to us told us where sip is: learn it and send what waited for it. */
static void
neigh_confirmed(struct dp_lcore *lc, struct dp_port *port, uint32_t sip,
		const struct rte_ether_addr *mac, bool create)
{
	struct rte_mbuf *held[DP_NEIGH_HOLD];
	int n = dp_neigh_confirm(lc, port, sip, mac, create, dp_now_us(), held);

	for (int i = 0; i < n; i++)
		eth_output(lc, port, held[i], mac);
}

static void
arp_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp;
	uint32_t sip, tip;
	uint16_t op;
	bool to_us;

	if (rte_pktmbuf_data_len(m) < sizeof(*eth) + sizeof(*arp))
		return dp_drop(lc, m, DP_DROP_ARP_TRUNCATED);
	arp = (struct rte_arp_hdr *)(eth + 1);
	if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4)
		return dp_drop(lc, m, DP_DROP_ARP_MALFORMED);
	op = rte_be_to_cpu_16(arp->arp_opcode);
	sip = rte_be_to_cpu_32(arp->arp_data.arp_sip);
	tip = rte_be_to_cpu_32(arp->arp_data.arp_tip);
	if (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY)
		return dp_drop(lc, m, DP_DROP_ARP_BAD_OP);
	if (rte_is_multicast_ether_addr(&arp->arp_data.arp_sha) || sip == port->addr)
		return dp_drop(lc, m, DP_DROP_ARP_MALFORMED);

	to_us = tip == port->addr;
	if (op == RTE_ARP_OP_REPLY)
		lc->stats.arp_replies_in++;
	else
		lc->stats.arp_requests_in++;
	/*
	 * Learned only when addressed to us and from our link (probes with sip 0 teach nothing):
	 * a request creates the sender's entry, a reply only completes or updates one. ARP for
	 * other addresses, gratuitous ARP included, is never believed; when it contradicts an
	 * entry we ask the address ourselves and the answer addressed to us decides.
	 */
	if (sip != 0 && on_link(port, sip)) {
		if (to_us)
			neigh_confirmed(lc, port, sip, &arp->arp_data.arp_sha,
					op == RTE_ARP_OP_REQUEST);
		else if (dp_neigh_contradicts(port, sip, &arp->arp_data.arp_sha, dp_now_us()))
			dp_arp_send_request(lc, port, sip, false);
	}
	if (!to_us)
		return dp_drop(lc, m, DP_DROP_ARP_NOT_OURS);
	if (op == RTE_ARP_OP_REPLY) {
		rte_pktmbuf_free(m);
		return;
	}

	/* answer in place */
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	rte_ether_addr_copy(&arp->arp_data.arp_sha, &arp->arp_data.arp_tha);
	arp->arp_data.arp_tip = arp->arp_data.arp_sip;
	rte_ether_addr_copy(&port->mac, &arp->arp_data.arp_sha);
	arp->arp_data.arp_sip = rte_cpu_to_be_32(port->addr);
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&port->mac, &eth->src_addr);
	/* trailing padding of a minimum-size frame is not part of the reply */
	rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - (sizeof(*eth) + sizeof(*arp)));
	m->ol_flags = 0;
	lc->stats.arp_replies_out++;
	dp_tx_enqueue(lc, port, m);
}

/* RFC 792 destination unreachable, code: fragmentation needed and DF set (RFC 1191) */
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED  4

static void
icmp_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
	   uint16_t ihl)
{
	uint16_t len = rte_be_to_cpu_16(ip->total_length) - ihl;
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)((char *)ip + ihl);
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint32_t tmp;

	if (len < sizeof(*icmp))
		return dp_drop(lc, m, DP_DROP_ICMP_TRUNCATED);
	if (rte_raw_cksum(icmp, len) != 0xffff)
		return dp_drop(lc, m, DP_DROP_ICMP_CKSUM);
	if (icmp->icmp_type == ICMP_DEST_UNREACH && icmp->icmp_code == ICMP_FRAG_NEEDED) {
		/* path MTU: the TCP engine checks it against the flow it quotes (RFC 5927) */
		lc->stats.icmp_frag_needed_in++;
		m->l2_len = sizeof(*eth);
		m->l3_len = ihl;
		return dp_l4_tcp_input(lc, port, m);
	}
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0)
		return dp_drop(lc, m, DP_DROP_ICMP_TYPE);
	lc->stats.icmp_echo_in++;

	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = ~rte_raw_cksum(icmp, len);
	tmp = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = tmp;
	ip->time_to_live = 64;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&port->mac, &eth->src_addr);
	m->ol_flags = 0;
	lc->stats.icmp_echo_out++;
	dp_tx_enqueue(lc, port, m);
}

/* The port's verdict on the IPv4 header checksum; NONE (not filled in, data intact) is good. */
static bool
ip_cksum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, uint16_t ihl)
{
	switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
	case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
	case RTE_MBUF_F_RX_IP_CKSUM_NONE:
		return true;
	case RTE_MBUF_F_RX_IP_CKSUM_BAD:
		return false;
	default:
		return rte_raw_cksum(ip, ihl) == 0xffff;
	}
}

static void
ipv4_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint32_t avail = rte_pktmbuf_data_len(m) - sizeof(*eth);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint16_t ihl, total;
	uint32_t src, dst;

	if (avail < sizeof(*ip))
		return dp_drop(lc, m, DP_DROP_IP_TRUNCATED);
	if ((ip->version_ihl >> 4) != 4)
		return dp_drop(lc, m, DP_DROP_IP_VERSION);
	ihl = (ip->version_ihl & 0xf) * 4;
	if (ihl < sizeof(*ip))
		return dp_drop(lc, m, DP_DROP_IP_BAD_IHL);
	if (ihl > avail)
		return dp_drop(lc, m, DP_DROP_IP_TRUNCATED);
	total = rte_be_to_cpu_16(ip->total_length);
	if (total < ihl || total > avail)
		return dp_drop(lc, m, DP_DROP_IP_BAD_LEN);
	if (!ip_cksum_ok(m, ip, ihl))
		return dp_drop(lc, m, DP_DROP_IP_CKSUM);
	if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
		return dp_drop(lc, m, DP_DROP_IP_FRAGMENT);
	dst = rte_be_to_cpu_32(ip->dst_addr);
	src = rte_be_to_cpu_32(ip->src_addr);
	if (dst != port->addr)
		return dp_drop(lc, m, DP_DROP_IP_NOT_OURS);
	if (src == port->addr || src == 0 || src == 0xffffffff || (src >> 28) == 0xe ||
	    (on_link(port, src) && (src | port->mask) == 0xffffffff))
		return dp_drop(lc, m, DP_DROP_IP_MARTIAN_SRC);
	/* Ethernet padding or trailing junk past the IP datagram is not payload */
	if (rte_pktmbuf_pkt_len(m) > sizeof(*eth) + total)
		rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - (sizeof(*eth) + total));

	switch (ip->next_proto_id) {
	case IPPROTO_ICMP:
		return icmp_input(lc, port, m, ip, ihl);
	case IPPROTO_TCP:
		lc->stats.tcp_in++;
		m->l2_len = sizeof(*eth);
		m->l3_len = ihl;
		return dp_l4_tcp_input(lc, port, m);
	default:
		return dp_drop(lc, m, DP_DROP_IP_PROTO);
	}
}

void
dp_net_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth;

	lc->stats.rx_pkts++;
	lc->stats.rx_bytes += rte_pktmbuf_pkt_len(m);
	/* headers are parsed from the first segment only; PMDs put them there */
	if (rte_pktmbuf_data_len(m) < sizeof(*eth))
		return dp_drop(lc, m, DP_DROP_ETH_RUNT);
	/*
	 * A NIC drops what exceeds its MTU; net_pcap (and a misconfigured peer on a tap) hand it
	 * over, chained. A tag's worth of slack keeps a full-size 802.1Q frame counted as eth_vlan.
	 */
	if (rte_pktmbuf_pkt_len(m) > port->conf->mtu + RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN)
		return dp_drop(lc, m, DP_DROP_ETH_OVERSIZE);
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (!rte_is_same_ether_addr(&eth->dst_addr, &port->mac) &&
	    !rte_is_broadcast_ether_addr(&eth->dst_addr))
		return dp_drop(lc, m, DP_DROP_ETH_NOT_OURS);
	switch (rte_be_to_cpu_16(eth->ether_type)) {
	case RTE_ETHER_TYPE_ARP:
		return arp_input(lc, port, m);
	case RTE_ETHER_TYPE_IPV4:
		return ipv4_input(lc, port, m);
	case RTE_ETHER_TYPE_VLAN:
	case RTE_ETHER_TYPE_QINQ:
		return dp_drop(lc, m, DP_DROP_ETH_VLAN);
	case RTE_ETHER_TYPE_IPV6:
		return dp_drop(lc, m, DP_DROP_ETH_IPV6);
	default:
		return dp_drop(lc, m, DP_DROP_ETH_TYPE);
	}
}

void
dp_ipv4_output(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);
	uint32_t hop = on_link(port, dst) || port->gateway == 0 ? dst : port->gateway;
	struct rte_ether_addr mac;
	bool request;
	int rc;

	rc = dp_neigh_resolve(lc, port, hop, m, dp_now_us(), &mac, &request);
	if (request)
		dp_arp_send_request(lc, port, hop, false);
	if (rc == 0)
		eth_output(lc, port, m, &mac);
	else if (rc != -EAGAIN) /* -EAGAIN: it waits for the answer */
		dp_drop(lc, m, DP_DROP_NO_NEIGHBOUR);
}
