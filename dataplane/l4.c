/* Transport glue: one TCP engine per lcore, steering to the flow's owner, engine output to ports.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_random.h>
#include <rte_tcp.h>
#include <urcu-qsbr.h>

#include "dataplane/clock.h"
#include "dataplane/dp_l4.h"
#include "dataplane/tcp/tcp.h"
#include "dataplane/tcp/tcp_conf.h"

static struct tcp_flow_table *flow_table;
static struct tcp_engine *engines[DP_MAX_LCORES]; /* for telemetry: lcore i's engine */

struct tcp_flow_table *
dp_flow_table(void)
{
	return flow_table;
}

/* Engine output starts at the IPv4 header: pick the port that owns the source address. */
static void
l4_tx(void *arg, struct rte_mbuf *m)
{
	struct dp_lcore *lc = arg;
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	uint32_t src = rte_be_to_cpu_32(ip->src_addr);
	struct dp_port *port = &lc->dp->ports[0];

	for (uint16_t p = 1; p < lc->dp->nb_ports; p++)
		if (lc->dp->ports[p].addr == src)
			port = &lc->dp->ports[p];
	dp_ipv4_output(lc, port, m);
}

/*
 * Send queues come from a pool of the engine's own: when they fill it, the RX rings still have
 * mbufs, so the ACKs that free the queues arrive (sharing the port's pool deadlocked 200 busy
 * flows). Output headers and the indirect mbufs that carry queued data come from a third, small
 * pool: with headers drawn from the send-queue pool, 200 flows whose queues had taken every mbuf
 * could send nothing, so nothing was acked and nothing freed.
 */
static int
l4_lcore_pools(struct dp *dp, struct dp_lcore *lc, bool linear, uint16_t mtu)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	const struct dp_port_conf *pc = dp->ports[0].conf;
	unsigned int nb_hdr = RTE_MAX(pc->mbufs / 2, 1023u);
	unsigned int socket = rte_lcore_to_socket_id(lc->lcore_id);
	/* linear output copies the payload behind the headers: a whole packet per mbuf */
	uint16_t room = RTE_PKTMBUF_HEADROOM + (linear ? RTE_MAX(mtu, (uint16_t)128) : 128);

	snprintf(name, sizeof(name), "tcp_hdr_%u", lc->lcore_id);
	lc->hdr_pool = rte_pktmbuf_pool_create(name, nb_hdr, pc->mbuf_cache, 0, room, socket);
	if (lc->hdr_pool == NULL) {
		DP_LOG(ERR, "lcore %u: TCP header pool of %u: %s (raise [eal] memory_mb?)",
		       lc->lcore_id, nb_hdr, rte_strerror(rte_errno));
		return -rte_errno;
	}
	snprintf(name, sizeof(name), "tcp_tx_%u", lc->lcore_id);
	lc->tx_pool =
		rte_pktmbuf_pool_create(name, pc->mbufs, pc->mbuf_cache, 0,
					dp->ports[0].pool->elt_size - sizeof(struct rte_mbuf) -
						rte_pktmbuf_priv_size(dp->ports[0].pool),
					socket);
	if (lc->tx_pool == NULL) {
		DP_LOG(ERR, "lcore %u: TCP output pool of %u: %s (raise [eal] memory_mb?)",
		       lc->lcore_id, pc->mbufs, rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

/* The parameters of lcore lc's engine: the ports' addresses and smallest MTU, [tcp], pools. */
static void
l4_engine_params(struct dp *dp, struct dp_lcore *lc, const struct tcp_conf *tc, bool offload,
		 bool linear, struct tcp_engine_params *p)
{
	tcp_engine_params_init(p);
	p->table = flow_table;
	p->lcore_idx = lc->index;
	p->nb_lcores = dp->nb_lcores;
	for (uint16_t k = 0; k < dp->nb_ports && k < RTE_DIM(p->local_addrs); k++)
		p->local_addrs[p->nb_local_addrs++] = dp->ports[k].addr;
	p->mtu = dp->ports[0].conf->mtu;
	for (uint16_t k = 1; k < dp->nb_ports; k++)
		if (dp->ports[k].conf->mtu < p->mtu)
			p->mtu = dp->ports[k].conf->mtu;
	p->pool = lc->tx_pool;
	p->hdr_pool = lc->hdr_pool;
	p->tx = l4_tx;
	p->tx_arg = lc;
	p->csum_offload = offload;
	p->tx_linear = linear;
	tcp_conf_apply(tc, dp->nb_lcores, p);
	p->tso = offload && !linear && dp_ports_tso(dp, &p->tso_mtu, &p->tso_max_bytes);
	/* shed new connections while an eighth of the pool is all that is left */
	p->pool_low_watermark = dp->ports[0].conf->mbufs / 8;
	/* and keep an eighth of the receive pool for segments that free memory (ACKs) */
	p->rx_low_watermark = dp->ports[0].conf->mbufs / 8;
	/* p->seed stays 0: each engine draws its keys from getrandom() */
}

/* Whether port.c enabled multi-segment TX (it does whenever the PMD offers it). */
static bool
l4_port_multi_seg(const struct dp_port *port)
{
	struct rte_eth_conf conf;

	return rte_eth_dev_conf_get(port->port_id, &conf) == 0 &&
	       (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
}

int
dp_l4_init(struct dp *dp, const struct tcp_conf *tc)
{
	bool offload = true, linear = false;
	uint16_t mtu = dp->ports[0].conf->mtu;

	flow_table = tcp_flow_table_create(tc->max_flows, rte_rand());
	if (flow_table == NULL) {
		DP_LOG(ERR, "flow table of %u: %s", tc->max_flows, strerror(errno));
		return -errno;
	}
	for (uint16_t p = 0; p < dp->nb_ports; p++)
		offload &= dp->ports[p].tx_ip_cksum && dp->ports[p].tx_tcp_cksum;
	/*
	 * A PMD without MULTI_SEGS sends only the first mbuf of a chain (af_xdp, some virtual
	 * and older NICs): one such port and every engine builds one-mbuf packets (a copy).
	 */
	for (uint16_t p = 0; p < dp->nb_ports; p++) {
		mtu = RTE_MAX(mtu, dp->ports[p].conf->mtu);
		if (!l4_port_multi_seg(&dp->ports[p])) {
			DP_LOG(INFO, "port %s has no multi-segment TX: TCP output is linearized",
			       dp->ports[p].conf->name);
			linear = true;
		}
	}
	if (!linear)
		DP_LOG(INFO, "TCP output: header mbuf + zero-copy payload chains");

	for (uint16_t i = 0; i < dp->nb_lcores; i++) {
		struct dp_lcore *lc = &dp->lcores[i];
		struct tcp_engine_params p;
		int rc;

		rc = l4_lcore_pools(dp, lc, linear, mtu);
		if (rc < 0)
			return rc;
		l4_engine_params(dp, lc, tc, offload, linear, &p);
		lc->tcp = tcp_engine_create(&p);
		if (lc->tcp == NULL) {
			DP_LOG(ERR, "lcore %u: TCP engine: %s", lc->lcore_id,
			       rte_strerror(rte_errno));
			return -rte_errno;
		}
		engines[i] = lc->tcp;
	}
	tcp_telemetry_init(flow_table, engines, dp->nb_lcores, dp_now_us);
	return 0;
}

/* Called on each lcore before it stops: flows are aborted by their owner. */
void
dp_l4_lcore_fini(struct dp_lcore *lc)
{
	if (lc->tcp != NULL) {
		/* closed callbacks run here and still use the applications' state */
		engines[lc->index] = NULL;
		tcp_engine_destroy(lc->tcp);
		lc->tcp = NULL;
	}
}

void
dp_l4_fini(void)
{
	if (flow_table == NULL)
		return;
	/* engines freed their flows with call_rcu: let those run before the table goes */
	rcu_barrier_qsbr();
	if (tcp_flow_table_destroy(flow_table) == 0)
		flow_table = NULL;
}

/* The tuple a TCP segment or an ICMP error about one (net.c passes both) belongs to. */
static int
l4_tuple(struct rte_mbuf *m, bool icmp, struct tcp_tuple *tuple)
{
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;
	int rc;

	if (icmp) {
		rte_pktmbuf_adj(m, m->l2_len);
		rc = tcp_icmp_tuple(m, tuple);
		rte_pktmbuf_prepend(m, m->l2_len);
		return rc;
	}
	if (rte_pktmbuf_data_len(m) < m->l2_len + m->l3_len + 4)
		return -EINVAL;
	ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, m->l2_len);
	th = rte_pktmbuf_mtod_offset(m, const struct rte_tcp_hdr *, m->l2_len + m->l3_len);
	tuple->raddr = rte_be_to_cpu_32(ip->src_addr);
	tuple->laddr = rte_be_to_cpu_32(ip->dst_addr);
	tuple->rport = rte_be_to_cpu_16(th->src_port);
	tuple->lport = rte_be_to_cpu_16(th->dst_port);
	return 0;
}

/*
 * TCP segments and ICMP "fragmentation needed" about our segments (RFC 5927) both go to the
 * owner of the flow: an ICMP acted on elsewhere would write a flow another lcore owns.
 */
void
dp_l4_tcp_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip;
	struct tcp_tuple tuple;
	uint16_t owner;
	bool icmp;

	if (lc->tcp == NULL)
		return dp_drop(lc, m, DP_DROP_TCP_NO_ENGINE);
	ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, m->l2_len);
	icmp = ip->next_proto_id == IPPROTO_ICMP;
	if (lc->dp->nb_lcores > 1) {
		/* a device hashing with our key and RETA already did the work (port.c) */
		if (!icmp && port->rss == DP_RSS_NIC && (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH))
			owner = tcp_rss_owner(m->hash.rss, lc->dp->nb_lcores);
		else if (l4_tuple(m, icmp, &tuple) == 0)
			owner = tcp_flow_owner(flow_table, &tuple, lc->dp->nb_lcores);
		else
			owner = lc->index; /* too short: the engine counts it */
		if (owner != lc->index) {
			/* the device put it here; the owner's ring takes it there */
			struct dp_steerbuf *b = &lc->steer_out[owner];

			b->pkts[b->n++] = m;
			lc->steer_pending |= 1u << owner;
			if (b->n == DP_STEER_BUF)
				dp_l4_steer_flush(lc);
			return;
		}
	}
	rte_pktmbuf_adj(m, m->l2_len);
	if (icmp)
		tcp_icmp_input(lc->tcp, m, dp_now_us());
	else
		tcp_input(lc->tcp, m, dp_now_us());
}

/*
 * One multi-producer ring operation per owner and poll, not one per segment: the ring's head
 * is a cache line every lcore writes. Buffers are per owner, so a flow's segments keep their
 * order.
 */
void
dp_l4_steer_flush(struct dp_lcore *lc)
{
	uint32_t pending = lc->steer_pending;

	while (pending != 0) {
		unsigned int owner = (unsigned int)__builtin_ctz(pending);
		struct dp_steerbuf *b = &lc->steer_out[owner];
		unsigned int k = rte_ring_mp_enqueue_burst(lc->dp->lcores[owner].steer,
							   (void **)b->pkts, b->n, NULL);

		pending &= pending - 1;
		lc->stats.steered_out += k;
		for (unsigned int i = k; i < b->n; i++)
			dp_drop(lc, b->pkts[i], DP_DROP_STEER_RING_FULL);
		b->n = 0;
	}
	lc->steer_pending = 0;
}

void
dp_l4_process(struct dp_lcore *lc, uint64_t now_us)
{
	if (lc->tcp != NULL)
		tcp_process(lc->tcp, now_us);
}

void
dp_l4_tx_budget(struct dp_lcore *lc, uint32_t segs)
{
	if (lc->tcp != NULL)
		tcp_tx_budget(lc->tcp, segs);
}

void
dp_l4_tx_resume(struct dp_lcore *lc)
{
	if (lc->tcp != NULL)
		tcp_tx_resume(lc->tcp);
}

bool
dp_l4_tx_waiting(const struct dp_lcore *lc)
{
	return lc->tcp != NULL && tcp_tx_waiting(lc->tcp);
}
