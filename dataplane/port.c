/* Port bring-up and teardown: configure, queues, start, in the order the DPDK skeleton uses. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_random.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dataplane/dp.h"
#include "dataplane/tcp/tcp.h"

RTE_LOG_REGISTER(ag_logtype_dp, authgate.dp, INFO);

#define PORT_RETA_MAX 2048 /* the largest redirection table programmed (ice has 2048) */

/*
 * net_tap (DPDK 22.11) asks the kernel for a realtime signal on every frame it queues toward
 * us (O_ASYNC, F_SETSIG), so that an empty rx burst costs no read(2). It takes the first
 * signal from SIGRTMIN+1 whose handler is SIG_DFL; when there is none it logs "All rt-signals
 * are in use" and reads on every burst instead. The signals are queued one per frame and each
 * interrupts a thread of ours: measured in bench/README.md, a poll-mode lcore is better off
 * paying the read. Ignoring them all before the tap is created (EAL init) turns it off;
 * nothing in the gateway uses realtime signals.
 */
int
dp_tap_rx_signal_off(void)
{
	for (int sig = SIGRTMIN + 1; sig < SIGRTMAX; sig++) {
		struct sigaction sa;

		if (sigaction(sig, NULL, &sa) != 0)
			return -errno;
		if (sa.sa_handler != SIG_DFL)
			continue;
		sa = (struct sigaction){.sa_handler = SIG_IGN};
		if (sigaction(sig, &sa, NULL) != 0)
			return -errno;
	}
	return 0;
}

/* Room for a full frame at this MTU in one segment: no scatter on the RX path. */
static uint16_t
mbuf_data_room(uint32_t mtu)
{
	uint32_t need = mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 2 * RTE_VLAN_HLEN;

	if (need < RTE_MBUF_DEFAULT_DATAROOM)
		need = RTE_MBUF_DEFAULT_DATAROOM;
	return (uint16_t)(need + RTE_PKTMBUF_HEADROOM);
}

size_t
dp_port_offloads_str(uint64_t offloads, bool tx, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int bit = 0; bit < 64 && n < len; bit++) {
		uint64_t f = 1ULL << bit;

		if (!(offloads & f))
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "",
				      tx ? rte_eth_dev_tx_offload_name(f)
					 : rte_eth_dev_rx_offload_name(f));
	}
	if (n == 0)
		snprintf(buf, len, "none");
	return n;
}

static int
port_find(const char *device, uint16_t *port_id_out)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	const char *comma = strchr(device, ',');
	size_t len = comma ? (size_t)(comma - device) : strlen(device);
	uint16_t pid;

	if (len >= sizeof(name))
		return -ENAMETOOLONG;
	memcpy(name, device, len);
	name[len] = '\0';
	if (rte_eth_dev_get_port_by_name(name, &pid) != 0)
		return -ENODEV;
	*port_id_out = pid;
	return 0;
}

/*
 * The configured MAC, or the device's own. A load generator that starts sending at once
 * (net_pcap replays its file as soon as the port starts) must know the address in advance.
 * Drivers that cannot take an address (net_pcap has no mac_addr_set) still get it: the port
 * runs promiscuous and dp_net_input() drops frames for other MACs, counted as eth_not_ours.
 */
static int
port_set_mac(struct dp_port *port, const struct dp_port_conf *pc)
{
	struct rte_ether_addr want;
	int rc;

	if (pc->mac[0] != '\0') {
		if (rte_ether_unformat_addr(pc->mac, &want) != 0)
			return -EINVAL; /* the config loader validated it */
		rc = rte_eth_dev_default_mac_addr_set(port->port_id, &want);
		if (rc == 0)
			goto own_filter;
		if (rc != -ENOTSUP) {
			DP_LOG(ERR, "port %s: mac %s: %s", pc->name, pc->mac, rte_strerror(-rc));
			return rc;
		}
		rc = rte_eth_promiscuous_enable(port->port_id);
		if (rc != 0 && rte_eth_promiscuous_get(port->port_id) != 1) {
			DP_LOG(ERR, "port %s: %s cannot set mac %s nor run promiscuous: %s",
			       pc->name, port->driver, pc->mac, rte_strerror(-rc));
			return rc;
		}
		DP_LOG(INFO, "port %s: %s cannot set its MAC; %s is applied in software", pc->name,
		       port->driver, pc->mac);
		port->mac = want;
		return 0;
	}
own_filter:
	rc = rte_eth_macaddr_get(port->port_id, &port->mac);
	if (rc != 0)
		return rc;
	/* Unicast to our MAC and broadcast is all we serve; promiscuous would only add drops. */
	rte_eth_promiscuous_disable(port->port_id);
	return 0;
}

/*
 * TSO: the TCP engines hand the port packets of up to 64 KiB that it cuts into segments. It
 * needs the port's TCP checksums and chains (the payload stays on the send queue). Decided
 * once, logged, and shown by authgate-ctl ports (tcp_tso).
 */
static void
port_tso(struct dp_port *port, const struct dp_conf *cfg, const struct dp_port_conf *pc,
	 const struct rte_eth_dev_info *info, struct rte_eth_conf *conf)
{
	uint64_t need = RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
			RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	uint32_t room = mbuf_data_room(pc->mtu) - RTE_PKTMBUF_HEADROOM;

	if (!(info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO))
		port->tso_why = "not offered";
	else if (pc->tso == DP_TSO_NO)
		port->tso_why = "off (tso = no)";
	else if ((conf->txmode.offloads & need) != need)
		port->tso_why = "needs TCP checksum and multi-segment offloads";
	else if (dp_impair_enabled(&cfg->impair))
		/* the injector would lose a whole large packet where a wire loses one segment */
		port->tso_why = "off ([impair] is set)";
	if (port->tso_why != NULL) {
		DP_LOG(INFO, "port %s: TSO %s: TCP output in MSS-sized segments", pc->name,
		       port->tso_why);
		return;
	}
	conf->txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
	port->tx_tso = true;
	/*
	 * net_tap segments with rte_gso and drops the packet when tso_segsz plus every header,
	 * the Ethernet one included, exceeds the MTU (DPDK 22.11 to 26.x): its segments must
	 * be 14 bytes short of a full MSS.
	 */
	port->tso_mtu = (uint16_t)pc->mtu;
	if (strcmp(info->driver_name, "net_tap") == 0)
		port->tso_mtu = (uint16_t)(pc->mtu - RTE_ETHER_HDR_LEN);
	/* a chain is a header and a piece per send-queue mbuf, maybe one more at each end */
	port->tso_max_bytes = UINT32_MAX;
	if (info->tx_desc_lim.nb_seg_max > 3)
		port->tso_max_bytes = (uint32_t)(info->tx_desc_lim.nb_seg_max - 3) * room;
	DP_LOG(INFO, "port %s: TSO on: IPv4 segments up to %u bytes, %u payload bytes a packet",
	       pc->name, port->tso_mtu, RTE_MIN(port->tso_max_bytes, 65535u));
}

bool
dp_ports_tso(const struct dp *dp, uint16_t *mtu_out, uint32_t *max_bytes)
{
	uint16_t mtu = UINT16_MAX;

	for (uint16_t p = 0; p < dp->nb_ports; p++) {
		const struct dp_port *port = &dp->ports[p];

		if (!port->tx_tso)
			return false;
		mtu = RTE_MIN(mtu, port->tso_mtu);
		*max_bytes = RTE_MIN(*max_bytes, port->tso_max_bytes);
	}
	*mtu_out = mtu;
	return dp->nb_ports > 0;
}

const char *
dp_rss_mode_str(enum dp_rss_mode m)
{
	switch (m) {
	case DP_RSS_OFF:
		return "off";
	case DP_RSS_NIC:
		return "nic";
	case DP_RSS_SOFTWARE:
		return "software";
	}
	return "?";
}

static void port_rss_software(struct dp_port *port, const char *fmt, ...) __rte_format_printf(2, 3);

static void
port_rss_software(struct dp_port *port, const char *fmt, ...)
{
	va_list ap;

	port->rss = DP_RSS_SOFTWARE;
	port->reta_size = 0;
	va_start(ap, fmt);
	vsnprintf(port->rss_why, sizeof(port->rss_why), fmt, ap);
	va_end(ap);
}

/*
 * Flow ownership follows the device's RSS when the device takes our symmetric key and a
 * redirection table: both directions of a flow then arrive on its owner's queue and nothing
 * is steered (dp_l4_tcp_input reads the owner from the mbuf's hash). A device that cannot
 * (net_tap has a fixed key and no RETA; af_packet's fanout, memif, pcap, af_xdp on a veth
 * have neither) spreads as it likes and the owner is computed from the tuple, with the same
 * function (tcp_flow_owner), so a flow has one owner whatever port it uses.
 */
static void
port_rss_conf(struct dp_port *port, const struct rte_eth_dev_info *info, struct rte_eth_conf *conf,
	      uint16_t nb_queues)
{
	struct rte_eth_rss_conf *rc = &conf->rx_adv_conf.rss_conf;
	uint64_t hf = info->flow_type_rss_offloads;

	if (nb_queues <= 1) {
		port->rss = DP_RSS_OFF;
		snprintf(port->rss_why, sizeof(port->rss_why), "one queue");
		return;
	}
	if (hf == 0) {
		port_rss_software(port, "%s has no RSS", info->driver_name);
		return;
	}
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	rc->rss_hf = hf & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP);
	if (!(hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP))
		port_rss_software(port, "%s does not hash IPv4/TCP ports", info->driver_name);
	else if (info->hash_key_size < 16 || info->hash_key_size > sizeof(port->rss_key))
		port_rss_software(port, "%s RSS key of %u bytes", info->driver_name,
				  info->hash_key_size);
	else if (info->reta_size < TCP_RSS_RETA_MIN || info->reta_size > PORT_RETA_MAX ||
		 !rte_is_power_of_2(info->reta_size))
		port_rss_software(port, "%s has no RETA of 2^n >= 64 entries (%u)",
				  info->driver_name, info->reta_size);
	if (port->rss == DP_RSS_SOFTWARE)
		return;
	tcp_rss_sym_key(port->rss_key, info->hash_key_size);
	rc->rss_key = port->rss_key;
	rc->rss_key_len = info->hash_key_size;
	/* the hash in the mbuf names the owner without hashing again */
	if (info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH)
		conf->rxmode.offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
	port->rss = DP_RSS_NIC;
	port->reta_size = info->reta_size;
}

/* RETA entry i of reta, a table of groups of RTE_ETH_RETA_GROUP_SIZE. */
static uint16_t *
reta_at(struct rte_eth_rss_reta_entry64 *reta, uint16_t i)
{
	return &reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
}

/* After start: the RETA, then key and RETA read back, since some PMDs accept and ignore. */
static void
port_rss_program(struct dp_port *port, uint16_t nb_queues)
{
	struct rte_eth_rss_reta_entry64 reta[PORT_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
	uint8_t key[sizeof(port->rss_key)];
	struct rte_eth_rss_conf got = {.rss_key = key, .rss_key_len = sizeof(key)};
	uint16_t size = port->reta_size;
	int rc;

	if (port->rss != DP_RSS_NIC)
		return;
	memset(reta, 0, sizeof(reta));
	for (uint16_t i = 0; i < size; i++) {
		reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
		*reta_at(reta, i) = tcp_rss_reta_entry(i, nb_queues);
	}
	rc = rte_eth_dev_rss_reta_update(port->port_id, reta, size);
	if (rc != 0) {
		port_rss_software(port, "%s RETA update: %s", port->driver, rte_strerror(-rc));
		return;
	}
	rc = rte_eth_dev_rss_hash_conf_get(port->port_id, &got);
	if (rc != 0 || got.rss_key_len < 16 || memcmp(key, port->rss_key, 16) != 0) {
		port_rss_software(port, "%s did not keep the symmetric key", port->driver);
		return;
	}
	memset(reta, 0, sizeof(reta));
	for (uint16_t g = 0; g < size / RTE_ETH_RETA_GROUP_SIZE; g++)
		reta[g].mask = ~0ULL;
	if (rte_eth_dev_rss_reta_query(port->port_id, reta, size) == 0) {
		for (uint16_t i = 0; i < size; i++) {
			if (*reta_at(reta, i) != tcp_rss_reta_entry(i, nb_queues)) {
				port_rss_software(port, "%s did not keep the RETA", port->driver);
				return;
			}
		}
	}
	snprintf(port->rss_why, sizeof(port->rss_why),
		 "symmetric Toeplitz key, RETA of %u entries over %u queues", size, nb_queues);
}

static int
port_init(struct dp *dp, struct dp_port *port, const struct dp_port_conf *pc, uint16_t nb_queues)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t rx_desc = pc->rx_desc, tx_desc = pc->tx_desc;
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = port_find(pc->device, &port->port_id);
	if (rc < 0) {
		DP_LOG(ERR, "port %s: no device '%s' (is the driver loaded, the address right?)",
		       pc->name, pc->device);
		return rc;
	}
	port->conf = pc;
	port->addr = pc->addr;
	port->mask = pc->prefix_len == 32 ? ~0u : ~(~0u >> pc->prefix_len);
	port->gateway = pc->gateway;
	port->nb_queues = nb_queues;

	rc = rte_eth_dev_info_get(port->port_id, &info);
	if (rc != 0) {
		DP_LOG(ERR, "port %s: dev_info: %s", pc->name, rte_strerror(-rc));
		return rc;
	}
	snprintf(port->driver, sizeof(port->driver), "%s", info.driver_name);
	if (nb_queues > info.max_rx_queues || nb_queues > info.max_tx_queues) {
		DP_LOG(ERR, "port %s: %u dataplane lcores need %u queues, %s has %u rx / %u tx",
		       pc->name, nb_queues, nb_queues, info.driver_name, info.max_rx_queues,
		       info.max_tx_queues);
		return -EINVAL;
	}
	if (pc->mtu > info.max_mtu || pc->mtu < info.min_mtu) {
		DP_LOG(ERR, "port %s: mtu %u outside %s's range %u..%u", pc->name, pc->mtu,
		       info.driver_name, info.min_mtu, info.max_mtu);
		return -EINVAL;
	}

	snprintf(pool_name, sizeof(pool_name), "mb_%.20s", pc->name);
	port->pool = rte_pktmbuf_pool_create(pool_name, pc->mbufs, pc->mbuf_cache, 0,
					     mbuf_data_room(pc->mtu),
					     rte_eth_dev_socket_id(port->port_id));
	if (port->pool == NULL) {
		DP_LOG(ERR, "port %s: mbuf pool of %u: %s (raise [eal] memory_mb?)", pc->name,
		       pc->mbufs, rte_strerror(rte_errno));
		return -rte_errno;
	}

	conf.rxmode.mtu = pc->mtu;
	port_rss_conf(port, &info, &conf, nb_queues);
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM) {
		conf.rxmode.offloads |= info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM;
		port->rx_cksum = true;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		port->tx_ip_cksum = true;
	}
	/*
	 * net_tap "offloads" checksums by summing in software segment by segment, wrong in
	 * 22.11 for a chain with an odd-length segment before its last: the TCP engine sums
	 * those packets itself (tcp_engine.c, xmit_raw) and offloads the others.
	 */
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
		port->tx_tcp_cksum = true;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	port_tso(port, dp->cfg, pc, &info, &conf);

	rc = rte_eth_dev_configure(port->port_id, nb_queues, nb_queues, &conf);
	if (rc != 0 && conf.rx_adv_conf.rss_conf.rss_key != NULL) {
		port_rss_software(port, "device refused the key (%s)", rte_strerror(-rc));
		conf.rx_adv_conf.rss_conf.rss_key = NULL;
		conf.rx_adv_conf.rss_conf.rss_key_len = 0;
		rc = rte_eth_dev_configure(port->port_id, nb_queues, nb_queues, &conf);
	}
	if (rc != 0) {
		DP_LOG(ERR, "port %s: configure: %s", pc->name, rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port->port_id, &rx_desc, &tx_desc);
	if (rc != 0) {
		DP_LOG(ERR, "port %s: descriptors: %s", pc->name, rte_strerror(-rc));
		return rc;
	}
	/* every RX queue holds rx_desc of the pool: a pool they take whole receives nothing */
	if ((uint32_t)nb_queues * rx_desc >= pc->mbufs) {
		DP_LOG(ERR,
		       "port %s: mbufs = %u leaves nothing to receive into once %u RX queue(s) of "
		       "%u descriptors are filled: raise mbufs above %u or lower rx_desc",
		       pc->name, pc->mbufs, nb_queues, rx_desc, (uint32_t)nb_queues * rx_desc);
		return -EINVAL;
	}
	for (uint16_t q = 0; q < nb_queues; q++) {
		struct rte_eth_rxconf rxq = info.default_rxconf;
		struct rte_eth_txconf txq = info.default_txconf;

		rxq.offloads = conf.rxmode.offloads;
		txq.offloads = conf.txmode.offloads;
		rc = rte_eth_rx_queue_setup(port->port_id, q, rx_desc,
					    rte_eth_dev_socket_id(port->port_id), &rxq, port->pool);
		if (rc < 0) {
			DP_LOG(ERR, "port %s: rx queue %u: %s", pc->name, q, rte_strerror(-rc));
			return rc;
		}
		rc = rte_eth_tx_queue_setup(port->port_id, q, tx_desc,
					    rte_eth_dev_socket_id(port->port_id), &txq);
		if (rc < 0) {
			DP_LOG(ERR, "port %s: tx queue %u: %s", pc->name, q, rte_strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_dev_start(port->port_id);
	if (rc < 0) {
		DP_LOG(ERR, "port %s: start: %s", pc->name, rte_strerror(-rc));
		return rc;
	}
	port_rss_program(port, nb_queues);
	rc = port_set_mac(port, pc);
	if (rc < 0)
		return rc;
	rc = dp_neigh_init(port);
	if (rc < 0)
		return rc;

	DP_LOG(INFO,
	       "port %s: %s (%s) " RTE_ETHER_ADDR_PRT_FMT " %u.%u.%u.%u/%u mtu %u, %u queue(s)",
	       pc->name, pc->device, port->driver, RTE_ETHER_ADDR_BYTES(&port->mac), pc->addr >> 24,
	       (pc->addr >> 16) & 0xff, (pc->addr >> 8) & 0xff, pc->addr & 0xff, pc->prefix_len,
	       pc->mtu, nb_queues);
	{
		char rx[256], tx[256];

		/* the choice, once: authgate-ctl ports shows it too */
		dp_port_offloads_str(conf.rxmode.offloads, false, rx, sizeof(rx));
		dp_port_offloads_str(conf.txmode.offloads, true, tx, sizeof(tx));
		DP_LOG(INFO, "port %s: rx offloads %s; tx offloads %s", pc->name, rx, tx);
	}
	DP_LOG(INFO, "port %s: flow steering %s: %s", pc->name, dp_rss_mode_str(port->rss),
	       port->rss_why);
	RTE_SET_USED(dp);
	return 0;
}

int
dp_ports_init(struct dp *dp, const struct dp_conf *cfg)
{
	int rc;

	dp->cfg = cfg;
	/* a secret symmetric key: clients cannot aim their flows at one lcore (tcp.h) */
	tcp_rss_set_pattern(tcp_rss_pick_pattern(rte_rand()));
	for (unsigned int i = 0; i < cfg->nb_ports; i++) {
		rc = port_init(dp, &dp->ports[i], &cfg->ports[i], cfg->nb_lcores);
		if (rc < 0)
			return rc;
		dp->nb_ports++;
	}
	dp_ports_check_link(dp);
	return 0;
}

void
dp_ports_check_link(struct dp *dp)
{
	for (uint16_t i = 0; i < dp->nb_ports; i++) {
		struct dp_port *port = &dp->ports[i];
		struct rte_eth_link link;
		char text[RTE_ETH_LINK_MAX_STR_LEN];

		if (rte_eth_link_get_nowait(port->port_id, &link) != 0)
			continue;
		if ((bool)link.link_status == port->link_up)
			continue;
		port->link_up = link.link_status;
		rte_eth_link_to_str(text, sizeof(text), &link);
		DP_LOG(INFO, "port %s: %s", port->conf->name, text);
	}
}

void
dp_ports_close(struct dp *dp)
{
	for (uint16_t i = 0; i < dp->nb_ports; i++) {
		struct dp_port *port = &dp->ports[i];
		struct rte_eth_stats st;

		if (rte_eth_stats_get(port->port_id, &st) == 0)
			DP_LOG(INFO,
			       "port %s: rx %" PRIu64 " tx %" PRIu64 " missed %" PRIu64
			       " rx errors %" PRIu64 " tx errors %" PRIu64,
			       port->conf->name, st.ipackets, st.opackets, st.imissed, st.ierrors,
			       st.oerrors);
		rte_eth_dev_stop(port->port_id);
		rte_eth_dev_close(port->port_id);
		dp_neigh_free(port);
	}
	dp->nb_ports = 0;
}
