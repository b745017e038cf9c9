/* Telemetry of the HTTP service: /authgate/http/stats, and the gate's counters for auth/stats. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_telemetry.h>

#include "common/counters.h"
#include "control/authsvc_stats.h"
#include "dataplane/http/resolver.h"
#include "dataplane/http/sigbus.h"
#include "dataplane/http_svc_priv.h"

static int
tel_http_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct ha_stats sum;
	struct http_stats hs;
	struct rte_tel_data *errs, *classes;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	memset(&sum, 0, sizeof(sum));
	memset(&hs, 0, sizeof(hs));
	for (unsigned int i = 0; i < ha_nb_lcores; i++) {
		if (ha_lcores[i] == NULL)
			continue;
		counters_add(&sum, &ha_lcores[i]->stats, sizeof(sum));
		counters_add(&hs, &ha_lcores[i]->hstats, sizeof(hs));
	}
	errs = rte_tel_data_alloc();
	classes = rte_tel_data_alloc();
	if (errs == NULL || classes == NULL) {
		rte_tel_data_free(errs);
		rte_tel_data_free(classes);
		return -ENOMEM;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "requests", hs.requests);
#define H(f) rte_tel_data_add_dict_u64(d, #f, sum.f)
	H(connections);
	H(active);
	H(responses);
	H(bytes_in);
	H(bytes_out);
	H(header_timeouts);
	H(idle_closes);
	H(aborted_responses);
	H(torn_files);
	H(no_memory);
	H(respond_errors);
	H(log_dropped);
	H(drain_idle_closed);
	H(drain_finished);
	H(send_timeouts);
	H(store_parked);
	H(store_busy);
	H(store_stale);
	H(store_timeouts);
#undef H
	rte_tel_data_add_dict_u64(d, "body_bytes_discarded", hs.body_bytes_discarded);
	/* pages of files truncated while mapped, replaced by zeros instead of a crash */
	rte_tel_data_add_dict_u64(d, "sigbus_repairs", sigbus_count());
	rte_tel_data_start_dict(classes);
	for (int c = 1; c <= 5; c++) {
		char name[8];
		snprintf(name, sizeof(name), "%dxx", c);
		rte_tel_data_add_dict_u64(classes, name, hs.status_class[c]);
	}
	rte_tel_data_add_dict_container(d, "status", classes, 0);
	rte_tel_data_start_dict(errs);
	for (int r = 1; r < H1_E__COUNT; r++) {
		char name[64];
		rte_tel_data_add_dict_u64(errs,
					  counters_tel_name(h1_err_str(r), name, sizeof(name)),
					  hs.parse_errors[r]);
	}
	rte_tel_data_add_dict_container(d, "parse_errors", errs, 0);
	return 0;
}

/* The content store's misses: lookups handed to the resolver threads and how long they took. */
static int
tel_http_store(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct store_lane_stats sum;
	struct resolver_stats rs = {0};
	uint64_t max = 0;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	memset(&sum, 0, sizeof(sum));
	for (unsigned int i = 0; i < ha_nb_lcores; i++) {
		const struct ha_lcore *app = ha_lcores[i];

		/* the lane, not the store: a reload frees stores under a reader's feet */
		if (app == NULL || app->lane == NULL)
			continue;
		counters_add(&sum, store_lane_stats(app->lane), sizeof(sum));
		max = RTE_MAX(max, store_lane_stats(app->lane)->latency_ns_max);
	}
	if (store_resolver != NULL)
		resolver_stats(store_resolver, &rs);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "resolver_on", store_resolver != NULL);
#define S(f) rte_tel_data_add_dict_u64(d, #f, sum.f)
	S(posted);
	S(coalesced);
	S(completed);
	S(queue_full);
	S(delivered);
	S(inflight);
#undef S
	rte_tel_data_add_dict_u64(d, "latency_us_avg",
				  sum.completed ? sum.latency_ns_sum / sum.completed / 1000 : 0);
	rte_tel_data_add_dict_u64(d, "latency_us_max", max / 1000);
	rte_tel_data_add_dict_u64(d, "resolve_us_avg",
				  sum.completed ? sum.resolve_ns_sum / sum.completed / 1000 : 0);
	rte_tel_data_add_dict_u64(d, "resolved", rs.resolved);
	rte_tel_data_add_dict_u64(d, "resolver_busy_us", rs.busy_ns / 1000);
	rte_tel_data_add_dict_u64(d, "resolvers_asleep", rs.sleeping);
	rte_tel_data_add_dict_u64(d, "resolver_wakes", rs.wakes);
	return 0;
}

/* The gate's counters, first in /authgate/auth/stats. */
static void
gate_counters(struct rte_tel_data *d)
{
	struct gate_stats gs;

	memset(&gs, 0, sizeof(gs));
	for (unsigned int i = 0; i < ha_nb_lcores; i++)
		if (ha_lcores[i] != NULL)
			counters_add(&gs, &ha_lcores[i]->gate, sizeof(gs));
#define A(f) rte_tel_data_add_dict_u64(d, #f, gs.f)
	A(challenges);
	A(validations);
	A(auth_ok);
	A(auth_failed);
	A(auth_busy);
	A(bad_tokens);
	A(ring_full);
	A(persisted_hits);
	A(persisted_flows);
	A(identity_changes);
	A(expired_sessions);
	A(revoked_sessions);
	A(stale_verdicts);
	A(parked_timeouts);
	A(failure_closes);
	A(ntlm_challenges);
	A(basic_refused);
	A(tls_required);
	A(forbidden_user);
	A(forbidden_realm);
	A(forbidden_group);
	A(forbidden_revoked);
	A(mech_mismatch);
#undef A
}

void
ha_telemetry_init(void)
{
	rte_telemetry_register_cmd(
		"/authgate/http/stats", tel_http_stats,
		"HTTP: requests, status classes, bytes, parse errors by reason, timeouts");
	rte_telemetry_register_cmd("/authgate/http/store", tel_http_store,
				   "HTTP: content-store lookups off the lcores, latency, cache");
	authsvc_telemetry_init(gate_counters);
}

void
http_svc_totals(struct http_svc_totals *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < ha_nb_lcores; i++) {
		if (ha_lcores[i] == NULL)
			continue;
		counters_add(&out->http, &ha_lcores[i]->hstats, sizeof(out->http));
		counters_add(&out->gate, &ha_lcores[i]->gate, sizeof(out->gate));
		out->active += __atomic_load_n(&ha_lcores[i]->stats.active, __ATOMIC_RELAXED);
	}
}
