/* rte_telemetry commands under /authgate/: ports, drops, lcores, neighbours, info. */
#include <ctype.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_telemetry.h>
#include <rte_version.h>

#include "common/counters.h"
#include "dataplane/dp.h"
#include "dataplane/tcp/tcp.h"

static void
sum_stats(struct dp_lcore_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (uint16_t i = 0; i < dp_main.nb_lcores; i++)
		counters_add(sum, &dp_main.lcores[i].stats, sizeof(*sum));
}

static void
ip_str(uint32_t ip, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

/* Adds a per-lcore pool's free and in-use mbufs (an lcore without that pool adds nothing). */
static void
pool_count(const struct rte_mempool *mp, uint64_t *free_out, uint64_t *used_out)
{
	if (mp == NULL)
		return;
	*free_out += rte_mempool_avail_count(mp);
	*used_out += rte_mempool_in_use_count(mp);
}

/* A counter of the kernel interface behind a port (net_tap, net_af_xdp, ...); -1: none. */
static int64_t
kernel_if_counter(const char *ifname, const char *name)
{
	char path[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, name);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * What the device side lost before the engine saw it. For a port with a kernel interface the
 * kernel's own count comes first: on net_tap the frames the kernel queued for us and dropped
 * because the ring was full are the tap's TX drops (the kernel transmits toward us); on
 * net_af_xdp and net_af_packet they are the interface's RX drops. Then the PMD's extended
 * counters that name a drop, a miss or an error (non-zero only).
 */
static void
port_device_drops(const struct dp_port *port, struct rte_tel_data *p)
{
	struct rte_eth_dev_info info;
	char ifname[IF_NAMESIZE];
	int n;

	if (rte_eth_dev_info_get(port->port_id, &info) == 0 && info.if_index != 0 &&
	    if_indextoname(info.if_index, ifname) != NULL) {
		bool tap = strcmp(port->driver, "net_tap") == 0;
		int64_t v = kernel_if_counter(ifname, tap ? "tx_dropped" : "rx_dropped");

		rte_tel_data_add_dict_string(p, "kernel_if", ifname);
		if (v >= 0)
			rte_tel_data_add_dict_u64(p, "kernel_drops_toward_port", (uint64_t)v);
	}
	n = rte_eth_xstats_get(port->port_id, NULL, 0);
	if (n <= 0 || n > 1024)
		return;
	struct rte_eth_xstat *xs = calloc((size_t)n, sizeof(*xs));
	struct rte_eth_xstat_name *names = calloc((size_t)n, sizeof(*names));

	if (xs != NULL && names != NULL && rte_eth_xstats_get(port->port_id, xs, n) == n &&
	    rte_eth_xstats_get_names(port->port_id, names, n) == n) {
		for (int i = 0; i < n; i++) {
			char key[RTE_ETH_XSTATS_NAME_SIZE + 8];
			const char *nm = names[xs[i].id].name;

			if (xs[i].value == 0 ||
			    (strstr(nm, "drop") == NULL && strstr(nm, "miss") == NULL &&
			     strstr(nm, "err") == NULL && strstr(nm, "nombuf") == NULL))
				continue;
			snprintf(key, sizeof(key), "xstat_%s", nm);
			rte_tel_data_add_dict_u64(p, key, xs[i].value);
		}
	}
	free(xs);
	free(names);
}

static int
tel_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	for (uint16_t i = 0; i < dp_main.nb_ports; i++) {
		struct dp_port *port = &dp_main.ports[i];
		struct rte_tel_data *p = rte_tel_data_alloc();
		struct rte_eth_stats st;
		char buf[64];

		if (p == NULL)
			return -ENOMEM;
		memset(&st, 0, sizeof(st));
		rte_eth_stats_get(port->port_id, &st);
		rte_tel_data_start_dict(p);
		rte_tel_data_add_dict_int(p, "port_id", port->port_id);
		rte_tel_data_add_dict_string(p, "driver", port->driver);
		snprintf(buf, sizeof(buf), RTE_ETHER_ADDR_PRT_FMT,
			 RTE_ETHER_ADDR_BYTES(&port->mac));
		rte_tel_data_add_dict_string(p, "mac", buf);
		ip_str(port->addr, buf, sizeof(buf));
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%u",
			 port->conf->prefix_len);
		rte_tel_data_add_dict_string(p, "address", buf);
		rte_tel_data_add_dict_int(p, "mtu", port->conf->mtu);
		rte_tel_data_add_dict_string(p, "link", port->link_up ? "up" : "down");
		rte_tel_data_add_dict_int(p, "queues", port->nb_queues);
		/* nic: flows arrive on their owner's queue; software: lcores steer by tuple */
		rte_tel_data_add_dict_string(p, "rss", dp_rss_mode_str(port->rss));
		rte_tel_data_add_dict_string(p, "rss_detail", port->rss_why);
		/* the secret half of the symmetric key: local, root-only socket (tests place flows)
		 */
		rte_tel_data_add_dict_int(p, "rss_pattern", tcp_rss_pattern());
		{
			struct rte_eth_conf conf;
			bool multi = rte_eth_dev_conf_get(port->port_id, &conf) == 0 &&
				     (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS);

			/* no: the TCP engines copy payload into one mbuf per packet */
			rte_tel_data_add_dict_string(p, "tx_multi_seg", multi ? "yes" : "no");
			if (rte_eth_dev_conf_get(port->port_id, &conf) == 0) {
				char buf[RTE_TEL_MAX_STRING_LEN];

				dp_port_offloads_str(conf.rxmode.offloads, false, buf, sizeof(buf));
				rte_tel_data_add_dict_string(p, "rx_offloads", buf);
				dp_port_offloads_str(conf.txmode.offloads, true, buf, sizeof(buf));
				rte_tel_data_add_dict_string(p, "tx_offloads", buf);
			}
			/* what the TCP engines do with it: the port sums, or they do */
			rte_tel_data_add_dict_string(
				p, "tcp_tx_checksum",
				port->tx_ip_cksum && port->tx_tcp_cksum ? "port" : "software");
			rte_tel_data_add_dict_string(p, "tcp_rx_checksum",
						     port->rx_cksum ? "port verdict" : "software");
			/* large packets the port segments, or MSS-sized ones and why */
			rte_tel_data_add_dict_string(p, "tcp_tso",
						     port->tx_tso ? "port" : port->tso_why);
		}
		rte_tel_data_add_dict_u64(p, "rx_packets", st.ipackets);
		rte_tel_data_add_dict_u64(p, "rx_bytes", st.ibytes);
		rte_tel_data_add_dict_u64(p, "rx_missed", st.imissed);
		rte_tel_data_add_dict_u64(p, "rx_errors", st.ierrors);
		rte_tel_data_add_dict_u64(p, "rx_nombuf", st.rx_nombuf);
		rte_tel_data_add_dict_u64(p, "tx_packets", st.opackets);
		rte_tel_data_add_dict_u64(p, "tx_bytes", st.obytes);
		rte_tel_data_add_dict_u64(p, "tx_errors", st.oerrors);
		port_device_drops(port, p);
		{
			/* the gateway's own drops, every reason (authgate-ctl drops splits them) */
			struct dp_lcore_stats sum;
			uint64_t total = 0;

			sum_stats(&sum);
			for (int r = 0; r < DP_DROP_MAX; r++)
				total += sum.drops[r];
			rte_tel_data_add_dict_u64(p, "dataplane_drops_all_ports", total);
		}
		rte_tel_data_add_dict_u64(p, "mbufs_free", rte_mempool_avail_count(port->pool));
		rte_tel_data_add_dict_u64(p, "mbufs_in_use", rte_mempool_in_use_count(port->pool));
		{
			uint64_t tx_free = 0, tx_used = 0, hdr_free = 0, hdr_used = 0;
			for (uint16_t l = 0; l < dp_main.nb_lcores; l++) {
				pool_count(dp_main.lcores[l].tx_pool, &tx_free, &tx_used);
				pool_count(dp_main.lcores[l].hdr_pool, &hdr_free, &hdr_used);
			}
			rte_tel_data_add_dict_u64(p, "tcp_tx_mbufs_free", tx_free);
			rte_tel_data_add_dict_u64(p, "tcp_tx_mbufs_in_use", tx_used);
			rte_tel_data_add_dict_u64(p, "tcp_hdr_mbufs_free", hdr_free);
			rte_tel_data_add_dict_u64(p, "tcp_hdr_mbufs_in_use", hdr_used);
		}
		rte_tel_data_add_dict_container(d, port->conf->name, p, 0);
	}
	return 0;
}

static int
tel_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_lcore_stats sum;
	uint64_t total = 0;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	sum_stats(&sum);
	rte_tel_data_start_dict(d);
	for (int r = 0; r < DP_DROP_MAX; r++) {
		rte_tel_data_add_dict_u64(d, dp_drop_reason_str(r), sum.drops[r]);
		total += sum.drops[r];
	}
	rte_tel_data_add_dict_u64(d, "total", total);
	return 0;
}

/* clang-format off */
#define STAT_FIELDS(X)                                                                            \
	X(rx_pkts) X(rx_bytes) X(tx_pkts) X(tx_bytes) X(polls) X(busy_polls) X(sleeps)            \
	X(tx_steps) X(rx_between_tx)                                                              \
	X(arp_requests_in) X(arp_replies_in) X(arp_replies_out) X(arp_requests_out) X(garp_out)   \
	X(neigh_learned) X(icmp_echo_in) X(icmp_echo_out) X(icmp_frag_needed_in) X(tcp_in) X(steered_out) X(steered_in)
/* clang-format on */

static void
add_stats(struct rte_tel_data *d, const struct dp_lcore_stats *s)
{
	uint64_t drops = 0;
#define ADD(f) rte_tel_data_add_dict_u64(d, #f, __atomic_load_n(&s->f, __ATOMIC_RELAXED));
	STAT_FIELDS(ADD)
#undef ADD
	for (int r = 0; r < DP_DROP_MAX; r++)
		drops += __atomic_load_n(&s->drops[r], __ATOMIC_RELAXED);
	rte_tel_data_add_dict_u64(d, "drops", drops);
}

static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_lcore_stats sum;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	sum_stats(&sum);
	rte_tel_data_start_dict(d);
	add_stats(d, &sum);
	return 0;
}

static int
tel_lcores(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	for (uint16_t i = 0; i < dp_main.nb_lcores; i++) {
		struct dp_lcore *lc = &dp_main.lcores[i];
		struct rte_tel_data *l = rte_tel_data_alloc();
		char name[32];

		if (l == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(l);
		rte_tel_data_add_dict_int(l, "lcore", lc->lcore_id);
		rte_tel_data_add_dict_int(l, "queue", lc->index);
		add_stats(l, &lc->stats);
		snprintf(name, sizeof(name), "lcore%u", lc->lcore_id);
		rte_tel_data_add_dict_container(d, name, l, 0);
	}
	return 0;
}

struct neigh_walk {
	struct rte_tel_data *d;
	const char *port;
	unsigned int n;
};

static void
neigh_add(uint32_t ip, const struct rte_ether_addr *mac, uint64_t age_ms, void *arg)
{
	struct neigh_walk *w = arg;
	struct rte_tel_data *e = rte_tel_data_alloc();
	char buf[32];

	if (e == NULL)
		return;
	rte_tel_data_start_dict(e);
	ip_str(ip, buf, sizeof(buf));
	rte_tel_data_add_dict_string(e, "ip", buf);
	rte_tel_data_add_dict_string(e, "port", w->port);
	snprintf(buf, sizeof(buf), RTE_ETHER_ADDR_PRT_FMT, RTE_ETHER_ADDR_BYTES(mac));
	rte_tel_data_add_dict_string(e, "mac", buf);
	rte_tel_data_add_dict_u64(e, "age_ms", age_ms);
	/* telemetry names allow no dots, so entries are keyed by position */
	snprintf(buf, sizeof(buf), "n%u", w->n);
	if (rte_tel_data_add_dict_container(w->d, buf, e, 0) != 0)
		rte_tel_data_free(e);
	w->n++;
}

static int
tel_neighbours(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct neigh_walk w = {.d = d};

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	for (uint16_t i = 0; i < dp_main.nb_ports; i++) {
		w.port = dp_main.ports[i].conf->name;
		dp_neigh_walk(&dp_main.ports[i], neigh_add, &w);
	}
	return 0;
}

static int
tel_info(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", "authgate 0.1.0");
	rte_tel_data_add_dict_string(d, "dpdk", rte_version());
	rte_tel_data_add_dict_string(d, "config", dp_main.config_path ? dp_main.config_path : "");
	rte_tel_data_add_dict_u64(d, "uptime_s",
				  (rte_get_tsc_cycles() - dp_main.start_tsc) / rte_get_tsc_hz());
	rte_tel_data_add_dict_int(d, "ports", dp_main.nb_ports);
	rte_tel_data_add_dict_int(d, "dataplane_lcores", dp_main.nb_lcores);
	rte_tel_data_add_dict_int(d, "pid", getpid());
	rte_tel_data_add_dict_string(d, "hugepages", rte_eal_has_hugepages() ? "yes" : "no");
	return 0;
}

static int
tel_impair(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_impair_stats rx = {0}, tx = {0};

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	for (uint16_t i = 0; i < dp_main.nb_lcores; i++) {
		counters_add(&rx, &dp_main.lcores[i].rx_imp.stats, sizeof(rx));
		counters_add(&tx, &dp_main.lcores[i].tx_imp.stats, sizeof(tx));
	}
	rte_tel_data_start_dict(d);
#define I(dir, f) rte_tel_data_add_dict_u64(d, #dir "_" #f, dir.f)
	I(rx, lost);
	I(rx, duplicated);
	I(rx, delayed);
	I(rx, reordered);
	I(rx, overflow);
	I(tx, lost);
	I(tx, duplicated);
	I(tx, delayed);
	I(tx, reordered);
	I(tx, overflow);
#undef I
	return 0;
}

int
dp_telemetry_init(struct dp *dp)
{
	RTE_SET_USED(dp);
	rte_telemetry_register_cmd("/authgate/info", tel_info, "Gateway version, config, uptime");
	rte_telemetry_register_cmd("/authgate/ports", tel_ports,
				   "Ports: address, link, rx/tx/missed/error counters, mbufs");
	rte_telemetry_register_cmd("/authgate/drops", tel_drops,
				   "Dropped packets by reason, summed over lcores");
	rte_telemetry_register_cmd("/authgate/stats", tel_stats,
				   "Dataplane packet counters, summed over lcores");
	rte_telemetry_register_cmd("/authgate/lcores", tel_lcores, "Per-lcore packet counters");
	rte_telemetry_register_cmd("/authgate/neighbours", tel_neighbours,
				   "Neighbour (ARP) table: IPv4 → MAC, age");
	rte_telemetry_register_cmd(
		"/authgate/impair", tel_impair,
		"Lab fault injection: packets lost, duplicated, delayed, reordered");
	return 0;
}
