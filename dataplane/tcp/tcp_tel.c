/* Telemetry of the TCP engines: /authgate/tcp/stats and /authgate/flows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_telemetry.h>
#include <urcu-qsbr.h>

#include "common/counters.h"
#include "dataplane/tcp/tcp.h"

static struct {
	struct tcp_flow_table *table;
	struct tcp_engine *const *engines;
	unsigned int nb_engines;
	uint64_t (*now_us)(void);
} tel;

static void
ip_str(uint32_t ip, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

static int
tel_tcp_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct tcp_stats sum;
	struct rte_tel_data *drops, *states, *closed;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	memset(&sum, 0, sizeof(sum));
	for (unsigned int i = 0; i < tel.nb_engines; i++)
		if (tel.engines[i] != NULL)
			counters_add(&sum, tcp_engine_stats(tel.engines[i]), sizeof(sum));
	drops = rte_tel_data_alloc();
	states = rte_tel_data_alloc();
	closed = rte_tel_data_alloc();
	if (drops == NULL || states == NULL || closed == NULL) {
		rte_tel_data_free(drops);
		rte_tel_data_free(states);
		rte_tel_data_free(closed);
		return -ENOMEM;
	}
	rte_tel_data_start_dict(d);
#define T(f) rte_tel_data_add_dict_u64(d, #f, sum.f)
	T(seg_in);
	T(seg_out);
	T(bytes_in);
	T(bytes_out);
	T(retransmits);
	T(rto_expired);
	T(rto_spurious);
	T(rack_rtx_lost);
	T(fast_retransmits);
	T(dup_acks_in);
	T(dup_acks_out);
	T(ooo_segments);
	T(ooo_pruned);
	T(cookies_sent);
	T(cookies_accepted);
	T(cookies_rejected);
	T(src_half_open_limited);
	T(rst_in);
	T(rst_out);
	T(challenge_acks);
	T(challenge_acks_limited);
	T(oow_acks_limited);
	T(persist_probes);
	T(persist_timeouts);
	T(time_wait_reaped);
	T(keepalive_probes);
	T(pmtu_lowered);
	T(pmtu_blackhole);
	T(accepted);
	T(refused);
	T(connects);
	T(connect_refused);
	T(connect_timeouts);
	T(no_mbuf);
	T(send_nobufs);
	T(tx_budget_waits);
	T(tso_out);
	T(fast_path);
#undef T
	rte_tel_data_add_dict_u64(d, "flows", tcp_flow_table_count(tel.table));
	rte_tel_data_start_dict(states);
	for (int i = 0; i < TCP_STATE_MAX; i++)
		if (i != TCP_LISTEN && i != TCP_SYN_SENT)
			rte_tel_data_add_dict_u64(states, tcp_state_str(i),
						  (uint64_t)RTE_MAX(sum.flows_by_state[i], 0));
	rte_tel_data_add_dict_container(d, "flows_by_state", states, 0);
	rte_tel_data_start_dict(closed);
	for (int i = 0; i < TCP_CLOSE_REASON_MAX; i++)
		rte_tel_data_add_dict_u64(closed, tcp_close_reason_str(i), sum.closed[i]);
	rte_tel_data_add_dict_container(d, "closed", closed, 0);
	rte_tel_data_start_dict(drops);
	for (int i = 0; i < TCP_DROP_REASON_MAX; i++)
		rte_tel_data_add_dict_u64(drops, tcp_drop_reason_str(i), sum.drops[i]);
	rte_tel_data_add_dict_container(d, "drops", drops, 0);
	return 0;
}

struct flow_walk {
	struct rte_tel_data *d;
	unsigned int n, limit;
};

static int
flow_add(const struct tcp_flow_info *fi, void *arg)
{
	struct flow_walk *w = arg;
	struct rte_tel_data *e;
	char buf[48];

	if (w->n >= w->limit)
		return 1;
	e = rte_tel_data_alloc();
	if (e == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(e);
	ip_str(fi->tuple.raddr, buf, sizeof(buf));
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ":%u", fi->tuple.rport);
	rte_tel_data_add_dict_string(e, "remote", buf);
	ip_str(fi->tuple.laddr, buf, sizeof(buf));
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ":%u", fi->tuple.lport);
	rte_tel_data_add_dict_string(e, "local", buf);
	rte_tel_data_add_dict_string(e, "state", tcp_state_str(fi->state));
	rte_tel_data_add_dict_u64(e, "lcore", fi->owner);
	rte_tel_data_add_dict_u64(e, "age_ms", fi->age_us / 1000);
	rte_tel_data_add_dict_u64(e, "cwnd", fi->cwnd);
	rte_tel_data_add_dict_u64(e, "srtt_us", fi->srtt_us);
	rte_tel_data_add_dict_u64(e, "unacked", fi->unacked);
	rte_tel_data_add_dict_u64(e, "snd_wnd", fi->snd_wnd);
	rte_tel_data_add_dict_u64(e, "sndq", fi->sndq);
	rte_tel_data_add_dict_u64(e, "rcvq", fi->rcvq);
	rte_tel_data_add_dict_u64(e, "ooo", fi->ooo);
	rte_tel_data_add_dict_u64(e, "rto_us", fi->rto_us);
	rte_tel_data_add_dict_u64(e, "retries", fi->retries);
	rte_tel_data_add_dict_u64(e, "recv_paused", fi->recv_paused);
	snprintf(buf, sizeof(buf), "f%u_%u", fi->id, fi->gen);
	if (rte_tel_data_add_dict_container(w->d, buf, e, 0) != 0) {
		rte_tel_data_free(e);
		return 1; /* the reply is full */
	}
	w->n++;
	return 0;
}

static int
tel_flows(const char *cmd, const char *params, struct rte_tel_data *d)
{
	/* the reply buffer holds a few dozen flows: the listing is a sample, the count is exact */
	struct flow_walk w = {.d = d, .limit = 40};

	RTE_SET_USED(cmd);
	if (params != NULL && *params != '\0')
		w.limit = RTE_MIN((unsigned int)strtoul(params, NULL, 10), 40u);
	rte_tel_data_start_dict(d);
	if (tel.table == NULL)
		return 0;
	rte_tel_data_add_dict_u64(d, "count", tcp_flow_table_count(tel.table));
	/*
	 * DPDK serves each telemetry connection on a thread of its own that exits
	 * when the client hangs up: register for this walk only, or the registry
	 * keeps dead readers and every grace period waits for them forever.
	 */
	rcu_register_thread();
	tcp_flow_table_walk(tel.table, tel.now_us(), flow_add, &w);
	rcu_unregister_thread();
	return 0;
}

void
tcp_telemetry_init(struct tcp_flow_table *table, struct tcp_engine *const *engines,
		   unsigned int nb_engines, uint64_t (*now_us)(void))
{
	tel.table = table;
	tel.engines = engines;
	tel.nb_engines = nb_engines;
	tel.now_us = now_us;
	rte_telemetry_register_cmd(
		"/authgate/tcp/stats", tel_tcp_stats,
		"TCP: segments, retransmits, cookies, resets, drops by reason, flows by state");
	rte_telemetry_register_cmd(
		"/authgate/flows", tel_flows,
		"Flow count and up to N (param, max 40) flows: 4-tuple, state, age, cwnd, srtt");
}
