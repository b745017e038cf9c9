/* Telemetry of the auth service: /authgate/auth/stats, /authgate/auth/revoke, /authgate/trusts. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>
#include <rte_telemetry.h>

#include "common/counters.h"
#include "control/authsvc.h"
#include "control/authsvc_stats.h"
#include "control/krb5_worker.h"
#include "control/revoke.h"
#include "control/trust.h"

static authsvc_tel_front_fn front_counters;

static int
tel_auth_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct authsvc_stats as;
	struct rte_tel_data *reasons;
	uint64_t done = 0;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	authsvc_get_stats(&as);
	reasons = rte_tel_data_alloc();
	if (reasons == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(d);
	/* the gate's side first: challenges, validations, persisted hits, as the lcores count them
	 */
	if (front_counters != NULL)
		front_counters(d);
	rte_tel_data_add_dict_u64(d, "jobs", as.jobs);
	rte_tel_data_add_dict_u64(d, "ntlm_contexts_live", as.ntlm.live);
	rte_tel_data_add_dict_u64(d, "ntlm_contexts_created", as.ntlm.created);
	rte_tel_data_add_dict_u64(d, "ntlm_contexts_completed", as.ntlm.completed);
	rte_tel_data_add_dict_u64(d, "ntlm_contexts_closed", as.ntlm.closed);
	rte_tel_data_add_dict_u64(d, "ntlm_contexts_timed_out", as.ntlm.timed_out);
	/* what ntlm_normalise rewrote for clients that are not gss-ntlmssp (curl) */
	rte_tel_data_add_dict_u64(d, "ntlm_type1_padded", as.ntlm_type1_padded);
	rte_tel_data_add_dict_u64(d, "ntlm_type3_version_cleared", as.ntlm_type3_version_cleared);
	/* winbind-validated refusals that asked about the DC; DC down: verdicts.dc_unavailable */
	rte_tel_data_add_dict_u64(d, "ntlm_dc_pings", as.ntlm_dc_pings);
	/* validations abandoned past their trust's deadline (a KDC/DC that never answered) */
	rte_tel_data_add_dict_u64(d, "workers_hung", as.workers_hung);
	/* where require_group membership came from: a ticket's PAC, or winbind */
	rte_tel_data_add_dict_u64(d, "groups_from_pac", as.groups_from_pac);
	rte_tel_data_add_dict_u64(d, "groups_from_winbind", as.groups_from_winbind);
	/* Basic answered from the verified-credential cache: no KDC call, no semaphore slot */
	rte_tel_data_add_dict_u64(d, "basic_cache_hits", as.basic_cache.hits);
	rte_tel_data_add_dict_u64(d, "basic_cache_misses", as.basic_cache.misses);
	rte_tel_data_add_dict_u64(d, "basic_cache_evictions", as.basic_cache.evictions);
	rte_tel_data_add_dict_u64(d, "basic_cache_expired", as.basic_cache.expired);
	rte_tel_data_add_dict_u64(d, "basic_cache_entries", as.basic_cache.live);
	rte_tel_data_add_dict_u64(d, "verdicts_dropped", as.verdicts_dropped);
	for (unsigned int r = 0; r < AUTHSVC_REASON_MAX; r++)
		done += as.by_reason[r];
	rte_tel_data_add_dict_u64(
		d, "avg_accept_us",
		as.by_reason[KW_OK] ? as.accept_ns_total / 1000 / as.by_reason[KW_OK] : 0);
	rte_tel_data_add_dict_u64(d, "avg_queue_us", done ? as.queue_ns_total / 1000 / done : 0);
	rte_tel_data_start_dict(reasons);
	for (unsigned int r = 0; r < AUTHSVC_REASON_MAX; r++) {
		char name[64];
		rte_tel_data_add_dict_u64(
			reasons, counters_tel_name(authsvc_reason_str(r), name, sizeof(name)),
			as.by_reason[r]);
	}
	rte_tel_data_add_dict_container(d, "verdicts", reasons, 0);
	return 0;
}
/* Netlogon's counters per trust, plus what Microsoft's sizing formula makes of them. */
static int
tel_trusts(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct trust_table *tt = authsvc_trusts();

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	if (tt == NULL)
		return 0;
	for (uint32_t i = 0; i < tt->count; i++) {
		struct rte_tel_data *t = rte_tel_data_alloc();
		struct sema_stats st, base;
		struct kw_pool_stats ps;
		char name[16];

		if (t == NULL)
			return -ENOMEM;
		sema_get_stats(tt->trusts[i].sema, &st);
		memset(&ps, 0, sizeof(ps));
		authsvc_trust_pool_stats(i, &ps);
		rte_tel_data_start_dict(t);
		rte_tel_data_add_dict_string(t, "realm", tt->trusts[i].cfg.realm);
		rte_tel_data_add_dict_string(t, "kind", trust_kind_str(tt->trusts[i].cfg.kind));
		rte_tel_data_add_dict_u64(t, "max_concurrent_api", st.slots);
		rte_tel_data_add_dict_u64(t, "semaphore_waiters", st.waiters);
		rte_tel_data_add_dict_u64(t, "semaphore_holders", st.holders);
		rte_tel_data_add_dict_u64(t, "semaphore_acquires", st.acquires);
		rte_tel_data_add_dict_u64(t, "semaphore_timeouts", st.timeouts);
		rte_tel_data_add_dict_u64(t, "avg_semaphore_hold_time_us",
					  (uint64_t)(st.avg_hold_s * 1e6));
		rte_tel_data_add_dict_u64(t, "rejections", st.rejections);
		rte_tel_data_add_dict_u64(t, "wait_p50_us",
					  sema_wait_percentile_ns(&st, 0.50) / 1000);
		rte_tel_data_add_dict_u64(t, "wait_p90_us",
					  sema_wait_percentile_ns(&st, 0.90) / 1000);
		rte_tel_data_add_dict_u64(t, "wait_p99_us",
					  sema_wait_percentile_ns(&st, 0.99) / 1000);
		/* this trust's own workers and queue: a sick trust shows here, not in the others */
		rte_tel_data_add_dict_u64(t, "pac_validation", tt->trusts[i].cfg.pac_validation);
		rte_tel_data_add_dict_u64(t, "queue_full", ps.rejected_full);
		rte_tel_data_add_dict_u64(t, "workers_hung", ps.hung);
		rte_tel_data_add_dict_u64(t, "slots_reclaimed", ps.slots_reclaimed);
		/* over the service's own window (about a minute), whoever asks and how often */
		if (authsvc_trust_baseline(i, &base) == 0 && st.now_ns > base.now_ns) {
			double r = sema_recommend(&base, &st);

			rte_tel_data_add_dict_u64(t, "recommendation_window_s",
						  (st.now_ns - base.now_ns) / 1000000000ull);
			if (r >= 0)
				rte_tel_data_add_dict_u64(t, "recommended_max_concurrent_api_x100",
							  (uint64_t)(r * 100));
		}
		snprintf(name, sizeof(name), "t%u", i);
		rte_tel_data_add_dict_container(d, name, t, 0);
	}
	return 0;
}

static int
tel_revoke(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc;

	RTE_SET_USED(cmd);
	if (params == NULL || *params == '\0')
		return -EINVAL;
	rc = authsvc_revoke(params);
	if (rc < 0)
		return rc;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "revoked", params);
	rte_tel_data_add_dict_u64(d, "epoch", authsvc_revoke_epoch());
	return 0;
}

static int
tel_unrevoke(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc;

	RTE_SET_USED(cmd);
	if (params == NULL || *params == '\0')
		return -EINVAL;
	rc = authsvc_unrevoke(params);
	if (rc < 0)
		return rc;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "unrevoked", params);
	rte_tel_data_add_dict_u64(d, "epoch", authsvc_revoke_epoch());
	return 0;
}

struct revocation_list {
	struct rte_tel_data *d;
	int64_t now;
	unsigned int n;
};

static void
revocation_add(const char *principal, int64_t until, void *arg)
{
	struct revocation_list *l = arg;
	struct rte_tel_data *e;
	char name[16];

	/* the reply buffer holds a few dozen: the list is a sample, the count exact */
	l->n++;
	if (l->n > 40 || (e = rte_tel_data_alloc()) == NULL)
		return;
	rte_tel_data_start_dict(e);
	/* principals are values: telemetry keys take no '@' or '.' */
	rte_tel_data_add_dict_string(e, "principal", principal);
	rte_tel_data_add_dict_u64(e, "seconds_left", (uint64_t)(until - l->now));
	snprintf(name, sizeof(name), "r%u", l->n - 1);
	if (rte_tel_data_add_dict_container(l->d, name, e, 0) != 0)
		rte_tel_data_free(e);
}

/* Principals revoked now, each with the seconds its revocation has left. */
static int
tel_revocations(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct revocation_list l = {.d = d, .now = time(NULL)};

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	revoke_walk(l.now, revocation_add, &l);
	rte_tel_data_add_dict_u64(d, "count", l.n);
	return 0;
}

void
authsvc_telemetry_init(authsvc_tel_front_fn front)
{
	front_counters = front;
	rte_telemetry_register_cmd(
		"/authgate/auth/stats", tel_auth_stats,
		"Auth: challenges, validations, verdicts by reason, persisted hits and flows");
	rte_telemetry_register_cmd(
		"/authgate/trusts", tel_trusts,
		"Per trust: Semaphore Waiters/Holders/Acquires/Timeouts, hold time, waits");
	rte_telemetry_register_cmd(
		"/authgate/auth/revoke", tel_revoke,
		"Deny a principal (403) for revocation_ttl_s: /authgate/auth/revoke,user@REALM");
	rte_telemetry_register_cmd("/authgate/auth/unrevoke", tel_unrevoke,
				   "Lift a revocation: /authgate/auth/unrevoke,user@REALM");
	rte_telemetry_register_cmd("/authgate/auth/revocations", tel_revocations,
				   "Revoked principals and the seconds each has left");
}
