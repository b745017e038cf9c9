/* Auth service: a dispatcher drains the lcores' job rings, routes by realm, and the pool answers.
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_log.h>
#include <rte_ring.h>

#include "common/ctlring.h"
#include "common/idle.h"
#include "common/mono.h"
#include "control/authsvc.h"
#include "control/authsvc_stats.h"
#include "control/basic.h"
#include "control/basic_cache.h"
#include "control/ntlm.h"
#include "control/revoke.h"
#include "control/trust.h"

RTE_LOG_REGISTER(ag_logtype_auth, authgate.auth, INFO);
#define AUTH_LOG(level, fmt, ...)                                                                  \
	rte_log(RTE_LOG_##level, ag_logtype_auth, "auth: " fmt "\n", ##__VA_ARGS__)

#define JOB_RING_SIZE	    4096
#define AUTHSVC_TRUST_QUEUE 4096 /* jobs in flight per trust: one trust's flood stays its own */
#define VERDICT_RING_SIZE   4096
#define IDLE_SLEEP_US	    200
/* ~20 ms without a job: the dispatcher sleeps until an lcore submits (svc.idle) */
#define IDLE_NAPS_BEFORE_SLEEP 100
#define SCHEME_FLOW_CLOSED     0xff /* a job that only says "this flow closed" */

/* An NTLM job in the pool: the lcore's job and the context slot it borrowed. */
struct ntlm_job {
	struct authsvc_job *job;
	struct ntlm_entry *entry;
};

/*
 * A Basic job in the pool: with the cache on, the key its credentials hashed to and when it
 * was looked up, so that a KDC-verified success can be stored.
 */
struct basic_job {
	struct authsvc_job *job;
	bool cache;
	uint64_t started;
	uint8_t key[BASIC_CACHE_KEY_LEN];
};

static struct {
	bool running;
	volatile bool stop;
	struct ag_idle idle; /* the dispatcher sleeps here when no job came for a while */
	uint16_t nb_lcores;
	struct rte_ring *jobs[AUTHSVC_MAX_LCORES];
	struct rte_ring *verdicts[AUTHSVC_MAX_LCORES];
	pthread_mutex_t verdict_posters[AUTHSVC_MAX_LCORES]; /* workers post one at a time */
	struct trust_table trusts;
	struct kw_pool *pools[TRUST_MAX]; /* one per trust: a sick one ties up only its own */
	struct kw_pool *local;		  /* NTLM Type 1: the challenge is made here, no trust */
	struct ntlm_table *ntlm;
	struct basic_cache *basic_cache; /* NULL: off */
	char default_trust[TRUST_NAME_MAX];
	/* the pool's workers build their NTLM acceptors lazily from these: they must outlive start
	 */
	char ntlm_service[TRUST_NAME_MAX];
	char http_service[TRUST_NAME_MAX];
	struct groups_table groups; /* require_group entries as SIDs */
	unsigned int groups_unresolved;
	uint64_t groups_retry_ns;
	pthread_t dispatcher;
	struct authsvc_stats stats;
	uint32_t revocation_ttl_s;
} svc = {.revocation_ttl_s = 3600};

static const char *const reason_names[AUTHSVC_REASON_MAX - KW_REASON_COUNT] = {
	"unknown_trust",   "bad_token", "unsupported_mech", "queue_full",
	"ntlm_no_context", "ntlm_busy", "ntlm_table_full",  "mech_refused",
};

const char *
authsvc_reason_str(unsigned int reason)
{
	if (reason < KW_REASON_COUNT)
		return kw_reason_str(reason);
	if (reason < AUTHSVC_REASON_MAX)
		return reason_names[reason - KW_REASON_COUNT];
	return "unknown";
}

/* Tokens are credentials (a password, a replayable authenticator): none outlives its job. */
static void
job_free(struct authsvc_job *job)
{
	if (job->scheme != SCHEME_FLOW_CLOSED)
		explicit_bzero(job->token, job->token_len);
	free(job);
}

static int64_t
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/* Any thread: hands a verdict to the lcore that owns the flow. */
static void
post_verdict(uint16_t lcore, struct authsvc_verdict *v)
{
	__atomic_add_fetch(&svc.stats.by_reason[v->reason], 1, __ATOMIC_RELAXED);
	if (ag_ctlring_post(svc.verdicts[lcore], &svc.verdict_posters[lcore], v) != 0) {
		/* the lcore's parked request ends by its own timeout: 503 */
		__atomic_add_fetch(&svc.stats.verdicts_dropped, 1, __ATOMIC_RELAXED);
		free(v);
	}
}

/* A verdict for job decided here, without a worker; the caller fills in the rest and posts it. */
static struct authsvc_verdict *
verdict_for(const struct authsvc_job *job, uint16_t status, unsigned int reason)
{
	struct authsvc_verdict *v = calloc(1, sizeof(*v));

	if (v == NULL) {
		__atomic_add_fetch(&svc.stats.verdicts_dropped, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	v->flow_id = job->flow_id;
	v->flow_gen = job->flow_gen;
	v->seq = job->seq;
	v->status = status;
	v->reason = (uint16_t)reason;
	v->scheme = job->scheme;
	return v;
}

static void
answer_now(const struct authsvc_job *job, uint16_t status, unsigned int reason)
{
	struct authsvc_verdict *v = verdict_for(job, status, reason);

	if (v != NULL)
		post_verdict(job->lcore, v);
}

/* The job's lcore gets its verdict: what the worker decided, turned into an HTTP answer. */
static void
answer_kw(const struct authsvc_job *job, const struct kw_verdict *kv)
{
	struct authsvc_verdict *v = calloc(1, sizeof(*v));
	int http = kw_reason_http_status(kv->reason);

	if (v == NULL) {
		__atomic_add_fetch(&svc.stats.verdicts_dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	v->flow_id = job->flow_id;
	v->flow_gen = job->flow_gen;
	v->seq = job->seq;
	v->status = http == 200 ? 200 : http == 503 ? 503 : http == 403 ? 403 : 401;
	v->reason = (uint16_t)kv->reason;
	v->scheme = job->scheme;
	v->cont = kv->reason == KW_NTLM_CHALLENGE;
	v->mech = (uint8_t)kv->mech;
	if (kv->reason == KW_OK && kv->trust_index < svc.trusts.count) {
		v->trust = (uint16_t)kv->trust_index;
		/* NTLM user names ignore case by definition; a realm says so for Kerberos */
		v->ignore_case = kv->mech == TRUST_MECH_NTLM ||
				 svc.trusts.trusts[kv->trust_index].cfg.ignore_case;
		v->groups = kv->groups;
	}
	v->queue_us = (uint32_t)RTE_MIN(kv->queue_ns / 1000, (uint64_t)UINT32_MAX);
	v->validate_us = (uint32_t)RTE_MIN(kv->accept_ns / 1000, (uint64_t)UINT32_MAX);
	v->expires_at = kv->expires_at;
	memcpy(v->principal, kv->principal, sizeof(v->principal));
	v->reply_len = RTE_MIN(kv->reply_len, (uint16_t)sizeof(v->reply));
	memcpy(v->reply, kv->reply, v->reply_len);
	/* detail never holds a password: the AS exchange's messages name only the user */
	if (kv->reason != KW_OK && kv->reason != KW_ERR_BUSY_TIMEOUT &&
	    kv->reason != KW_ERR_BUSY_REJECTED && kv->reason != KW_NTLM_CHALLENGE)
		AUTH_LOG(INFO, "validation failed: %s (gss major %#x minor %#x: %s)",
			 kw_reason_str(kv->reason), kv->gss_major, kv->gss_minor, kv->detail);
	__atomic_add_fetch(&svc.stats.queue_ns_total, kv->queue_ns, __ATOMIC_RELAXED);
	__atomic_add_fetch(&svc.stats.accept_ns_total, kv->accept_ns, __ATOMIC_RELAXED);
	post_verdict(job->lcore, v);
}

/*
 * Called on a pool worker once the trust's semaphore was passed (or timed out), or by the
 * watchdog for a worker that hangs (EARLY: answer now, the worker still has the job) and then
 * by that worker when it returns at last (LATE: release the job, answer nobody).
 */
static void
on_kw_verdict(const struct kw_verdict *kv, void *arg)
{
	struct authsvc_job *job = kv->user;

	RTE_SET_USED(arg);
	if (kv->mech == TRUST_MECH_NTLM)
		job = ((struct ntlm_job *)kv->user)->job;
	else if (kv->mech == TRUST_MECH_BASIC)
		job = ((struct basic_job *)kv->user)->job;
	if (kv->stage != KW_STAGE_LATE)
		answer_kw(job, kv);
	if (kv->stage == KW_STAGE_EARLY)
		return; /* the token and the NTLM context are still in the stuck worker's hands */
	if (kv->mech == TRUST_MECH_NTLM) {
		struct ntlm_job *nj = kv->user;

		/* only a challenge keeps the context: Type 3 comes next on this flow */
		ntlm_table_end(svc.ntlm, nj->entry,
			       kv->stage == KW_STAGE_FINAL && kv->reason == KW_NTLM_CHALLENGE,
			       ag_mono_ns());
		free(nj);
	} else if (kv->mech == TRUST_MECH_BASIC) {
		struct basic_job *bj = kv->user;

		/* stored only after krb5_verify_init_creds said yes (record checks the reason) */
		if (bj->cache && kv->stage == KW_STAGE_FINAL)
			basic_cache_record(svc.basic_cache, bj->key, bj->started, kv);
		explicit_bzero(bj, sizeof(*bj));
		free(bj);
	}
	job_free(job);
}

/* A Basic login the KDC verified within the cache's TTL: 200 with no worker and no slot. */
static void
answer_cached(const struct authsvc_job *job, uint32_t trust, const struct basic_cache_hit *hit)
{
	struct authsvc_verdict *v = verdict_for(job, 200, KW_OK);

	if (v == NULL)
		return;
	v->mech = TRUST_MECH_BASIC;
	v->trust = (uint16_t)trust;
	v->ignore_case = svc.trusts.trusts[trust].cfg.ignore_case;
	v->groups = hit->groups;
	v->expires_at = hit->expires_at;
	memcpy(v->principal, hit->principal, sizeof(v->principal));
	post_verdict(job->lcore, v);
}

static void
dispatch_basic(struct authsvc_job *job)
{
	struct basic_cache_hit hit;
	struct basic_view bv;
	struct basic_job *bj;
	struct kw_job kj;
	uint32_t idx;
	int rc;

	rc = basic_route(&svc.trusts, svc.default_trust, job->token, job->token_len, &bv, &idx);
	if (rc != 0) {
		/* an unknown realm costs no worker and no DC call */
		answer_now(job, 401, rc == -ENOENT ? AUTHSVC_UNKNOWN_TRUST : AUTHSVC_BAD_TOKEN);
		job_free(job);
		return;
	}
	bj = calloc(1, sizeof(*bj));
	if (bj == NULL) {
		answer_now(job, 503, AUTHSVC_QUEUE_FULL);
		job_free(job);
		return;
	}
	bj->job = job;
	if (svc.basic_cache != NULL) {
		bj->cache = true;
		basic_cache_key(svc.basic_cache, svc.trusts.trusts[idx].cfg.realm, &bv, bj->key);
		if (basic_cache_lookup(svc.basic_cache, bj->key, wall_now(), &hit, &bj->started) ==
		    0) {
			answer_cached(job, idx, &hit);
			explicit_bzero(bj, sizeof(*bj));
			free(bj);
			job_free(job);
			return;
		}
	}
	memset(&kj, 0, sizeof(kj));
	kj.flow_id = job->flow_id;
	kj.flow_gen = job->flow_gen;
	kj.trust_index = idx;
	kj.mech = TRUST_MECH_BASIC;
	kj.token = job->token;
	kj.token_len = job->token_len;
	kj.user = bj;
	if (kw_pool_submit(svc.pools[idx], &kj) == 0)
		return;
	explicit_bzero(bj, sizeof(*bj));
	free(bj);
	answer_now(job, 503, AUTHSVC_QUEUE_FULL);
	job_free(job);
}

/* The job's channel bindings for the validator: AUTHSVC_JOB_CB_* as a kw_cb_mode. */
static void
job_cb(const struct authsvc_job *job, struct kw_job *kj)
{
	kj->cb = job->cb;
	kj->cb_len = job->cb_len;
	kj->cb_mode = (job->flags & AUTHSVC_JOB_CB_REQUIRE) ? KW_CB_REQUIRE
		      : (job->flags & AUTHSVC_JOB_CB_ALLOW) ? KW_CB_ALLOW
							    : KW_CB_OFF;
}

/*
 * Extended protection for an NTLM AUTHENTICATE, before any DC is asked. gss-ntlmssp 1.2
 * compares the bindings it is given only with a client's that sent some: a client that sent
 * none passes it. So: none sent is refused here under require and validated without
 * bindings under allow; bindings that are not ours are refused here (the domain would refuse
 * them anyway, at the price of a DC round trip); ours go to gss-ntlmssp, which checks them
 * under the NTLMv2 proof.
 */
static bool
ntlm_cb_acceptable(const struct authsvc_job *job, const struct trust_token_info *info,
		   struct kw_job *kj)
{
	uint8_t theirs[16], ours[16];
	int has = ntlm_type3_cb(info->mech_token, info->mech_token_len, theirs);

	if (has != 1) {
		bool allow = kj->cb_mode == KW_CB_ALLOW;

		kj->cb_mode = KW_CB_OFF;
		return allow;
	}
	if (job->cb_len == 0)
		return false;
	ntlm_cb_hash(job->cb, job->cb_len, ours);
	return memcmp(theirs, ours, sizeof(ours)) == 0;
}

/*
 * NTLM, raw or in SPNEGO (info from trust_parse_token). Type 1 takes a context slot for the
 * flow and needs no trust (the challenge is made here); Type 3 goes through the semaphore
 * of the trust its domain names.
 */
static void
dispatch_ntlm(struct authsvc_job *job, const struct trust_token_info *info)
{
	struct ntlm_msg_info m;
	struct ntlm_entry *entry = NULL;
	struct ntlm_job *nj = NULL;
	uint32_t idx = TRUST_INDEX_NONE;
	unsigned int reason;
	uint16_t status = 401;
	struct kw_job kj;
	bool spnego = info->spnego != 0;
	int rc;

	if (ntlm_parse_msg(info->mech_token, info->mech_token_len, &m) != 0 || m.type == 2) {
		reason = AUTHSVC_BAD_TOKEN;
		goto refuse;
	}
	if (m.type == 1) {
		rc = ntlm_table_begin(svc.ntlm, job->lcore, job->flow_id, job->flow_gen, spnego,
				      ag_mono_ns(), &entry);
	} else {
		rc = ntlm_table_resume(svc.ntlm, job->lcore, job->flow_id, job->flow_gen,
				       ag_mono_ns(), &entry);
		if (rc == 0 && ntlm_entry_spnego(entry) != spnego) {
			reason = AUTHSVC_BAD_TOKEN;
			goto refuse;
		}
		if (rc == 0 && ntlm_route_type3(&svc.trusts, svc.default_trust, &m, &idx) != 0) {
			reason = AUTHSVC_UNKNOWN_TRUST;
			goto refuse;
		}
	}
	if (rc != 0) {
		reason = rc == -ENOENT	? AUTHSVC_NTLM_NO_CONTEXT
			 : rc == -EBUSY ? AUTHSVC_NTLM_BUSY
					: AUTHSVC_NTLM_TABLE_FULL;
		status = reason == AUTHSVC_NTLM_TABLE_FULL ? 503 : 401;
		goto refuse;
	}
	nj = malloc(sizeof(*nj));
	if (nj == NULL) {
		reason = AUTHSVC_QUEUE_FULL;
		status = 503;
		goto refuse;
	}
	nj->job = job;
	nj->entry = entry;
	memset(&kj, 0, sizeof(kj));
	kj.flow_id = job->flow_id;
	kj.flow_gen = job->flow_gen;
	kj.trust_index = idx;
	kj.mech = TRUST_MECH_NTLM;
	/* SPNEGO-wrapped legs go whole to the mechglue's SPNEGO, which keeps the mechListMIC */
	kj.token = job->token;
	kj.token_len = job->token_len;
	kj.ntlm_ctx = ntlm_entry_ctx(entry);
	kj.spnego = spnego;
	kj.user = nj;
	if (m.type == 3) {
		job_cb(job, &kj);
		if (kj.cb_mode != KW_CB_OFF && !ntlm_cb_acceptable(job, info, &kj)) {
			free(nj);
			reason = KW_ERR_CHANNEL_BINDING;
			goto refuse;
		}
	}
	if (kw_pool_submit(idx == TRUST_INDEX_NONE ? svc.local : svc.pools[idx], &kj) == 0)
		return;
	free(nj);
	reason = AUTHSVC_QUEUE_FULL;
	status = 503;
refuse:
	if (entry != NULL)
		ntlm_table_end(svc.ntlm, entry, false, ag_mono_ns());
	answer_now(job, status, reason);
	job_free(job);
}

static void
dispatch(struct authsvc_job *job)
{
	struct trust_token_info info;
	struct trust_route route;
	struct kw_job kj;
	int rc;

	if (job->scheme == SCHEME_FLOW_CLOSED) {
		__atomic_add_fetch(&svc.stats.flow_closes, 1, __ATOMIC_RELAXED);
		ntlm_table_flow_closed(svc.ntlm, job->lcore, job->flow_id, job->flow_gen);
		free(job);
		return;
	}
	__atomic_add_fetch(&svc.stats.jobs, 1, __ATOMIC_RELAXED);
	if (job->scheme == AUTHSVC_SCHEME_BASIC) {
		dispatch_basic(job);
		return;
	}
	if (job->scheme == AUTHSVC_SCHEME_NTLM) {
		unsigned int fixups;

		/*
		 * Raw NTLMSSP from clients that are not gss-ntlmssp (curl): a 32-byte Type 1, a
		 * Type 3 whose flags claim a Version it does not carry. ntlm_normalise says why.
		 * The lcore allocates every token with at least 1024 bytes of room.
		 */
		job->token_len = (uint32_t)ntlm_normalise(job->token, job->token_len,
							  RTE_MAX(job->token_len, 1024u), &fixups);
		if (fixups & NTLM_FIXUP_TYPE1_PADDED)
			__atomic_add_fetch(&svc.stats.ntlm_type1_padded, 1, __ATOMIC_RELAXED);
		if (fixups & NTLM_FIXUP_TYPE3_NO_VERSION)
			__atomic_add_fetch(&svc.stats.ntlm_type3_version_cleared, 1,
					   __ATOMIC_RELAXED);
		memset(&info, 0, sizeof(info));
		info.mech_token = job->token;
		info.mech_token_len = job->token_len;
		dispatch_ntlm(job, &info);
		return;
	}
	rc = trust_route_token(&svc.trusts, job->token, job->token_len, &route);
	if (rc == 0 && route.mech == TRUST_MECH_NTLM && (job->flags & AUTHSVC_JOB_KRB5_ONLY)) {
		/* NTLMSSP inside Negotiate for a Kerberos-only site: not even a challenge */
		answer_now(job, 401, AUTHSVC_MECH_REFUSED);
		goto done;
	}
	if (rc == 0 && route.mech == TRUST_MECH_NTLM &&
	    trust_parse_token(job->token, job->token_len, &info) == 0) {
		dispatch_ntlm(job, &info);
		return;
	}
	if (rc == -ENOENT) {
		answer_now(job, 401, AUTHSVC_UNKNOWN_TRUST);
		goto done;
	}
	if (rc < 0) {
		answer_now(job, 401, AUTHSVC_BAD_TOKEN);
		goto done;
	}
	if (route.mech != TRUST_MECH_KRB5 || route.trust_index == TRUST_INDEX_NONE) {
		answer_now(job, 401, AUTHSVC_UNSUPPORTED_MECH);
		goto done;
	}
	memset(&kj, 0, sizeof(kj));
	kj.flow_id = job->flow_id;
	kj.flow_gen = job->flow_gen;
	kj.trust_index = route.trust_index;
	kj.mech = route.mech;
	kj.token = job->token;
	kj.token_len = job->token_len;
	kj.user = job;
	job_cb(job, &kj);
	rc = kw_pool_submit(svc.pools[route.trust_index], &kj);
	if (rc == 0)
		return; /* the job is the pool's until on_kw_verdict */
	answer_now(job, 503, AUTHSVC_QUEUE_FULL);
done:
	job_free(job);
}

/*
 * Snapshots of each trust's counters every BASELINE_STEP_S, kept for BASELINE_SLOTS steps: the
 * sizing recommendation compares now with the one a window ago, the same for every caller
 * (one shared "previous call" made each operator's figure depend on the others' polling).
 */
#define BASELINE_STEP_S 10
#define BASELINE_SLOTS	7 /* a 60 s window */

static struct {
	pthread_mutex_t lock;
	uint64_t last_ns;
	unsigned int next, filled;
	struct sema_stats snap[BASELINE_SLOTS][TRUST_MAX];
} baseline = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void
baseline_tick(uint64_t now)
{
	if (baseline.filled > 0 && now - baseline.last_ns < BASELINE_STEP_S * 1000000000ull)
		return;
	pthread_mutex_lock(&baseline.lock);
	for (uint32_t t = 0; t < svc.trusts.count; t++)
		sema_get_stats(svc.trusts.trusts[t].sema, &baseline.snap[baseline.next][t]);
	baseline.next = (baseline.next + 1) % BASELINE_SLOTS;
	if (baseline.filled < BASELINE_SLOTS)
		baseline.filled++;
	baseline.last_ns = now;
	pthread_mutex_unlock(&baseline.lock);
}

int
authsvc_trust_baseline(uint32_t t, struct sema_stats *out)
{
	unsigned int oldest;

	if (!svc.running || t >= svc.trusts.count)
		return -ENOENT;
	pthread_mutex_lock(&baseline.lock);
	if (baseline.filled == 0) {
		pthread_mutex_unlock(&baseline.lock);
		return -EAGAIN;
	}
	oldest = baseline.filled < BASELINE_SLOTS ? 0 : baseline.next;
	*out = baseline.snap[oldest][t];
	pthread_mutex_unlock(&baseline.lock);
	return 0;
}

/* Names winbind could not resolve at start (it was still coming up): asked again each second. */
static void
groups_tick(uint64_t now)
{
	char err[512];

	if (svc.groups_unresolved == 0 || now - svc.groups_retry_ns < 1000000000ull)
		return;
	svc.groups_retry_ns = now;
	svc.groups_unresolved = groups_retry(&svc.groups, err, sizeof(err));
	if (svc.groups_unresolved == 0)
		AUTH_LOG(NOTICE, "require_group: every entry resolved");
}

/* Jobs waiting in any lcore's ring (or a stop): the dispatcher must not sleep. */
static bool
jobs_pending(void *arg)
{
	RTE_SET_USED(arg);
	if (svc.stop)
		return true;
	for (uint16_t i = 0; i < svc.nb_lcores; i++)
		if (rte_ring_count(svc.jobs[i]) > 0)
			return true;
	return false;
}

static void *
dispatcher_main(void *arg)
{
	uint64_t last_poll = 0;
	unsigned int idle = 0;

	RTE_SET_USED(arg);
	pthread_setname_np(pthread_self(), "ag-auth-disp");
	while (!svc.stop) {
		unsigned int got = 0;
		uint64_t now;

		for (uint16_t i = 0; i < svc.nb_lcores; i++) {
			void *jobs[32];
			unsigned int n = rte_ring_sc_dequeue_burst(svc.jobs[i], jobs, 32, NULL);

			for (unsigned int k = 0; k < n; k++)
				dispatch(jobs[k]);
			got += n;
		}
		now = ag_mono_ns();
		if (now - last_poll > 500000000ull) {
			/* expire waiters nobody wakes and emit the periodic timeout summaries */
			for (uint32_t t = 0; t < svc.trusts.count; t++) {
				sema_poll(svc.trusts.trusts[t].sema);
				/* a KDC or DC that never answers: its worker is abandoned, 503 */
				kw_pool_watchdog(svc.pools[t]);
			}
			kw_pool_watchdog(svc.local);
			baseline_tick(now);
			groups_tick(now);
			/* NTLM exchanges abandoned after the Type 2 */
			ntlm_table_sweep(svc.ntlm, now);
			last_poll = now;
		}
		if (got > 0) {
			idle = 0;
		} else if (++idle < IDLE_NAPS_BEFORE_SLEEP) {
			usleep(IDLE_SLEEP_US);
		} else {
			/* the periodic duties above still run every half second */
			struct timespec half = {.tv_sec = 0, .tv_nsec = 500000000};

			ag_idle_sleep(&svc.idle, jobs_pending, NULL, &half);
			idle = 0;
		}
	}
	return NULL;
}

/* The operator's view of Netlogon's 5816-5819: same numbers, same meaning. */
static void
on_sema_event(const struct sema_event *ev, void *arg)
{
	RTE_SET_USED(arg);
	switch (ev->type) {
	case SEMA_EV_FIRST_TIMEOUT:
		AUTH_LOG(WARNING,
			 "event %u: trust %s: a validation timed out waiting for a "
			 "MaxConcurrentApi slot after %.1f s",
			 ev->netlogon_id, ev->trust, ev->wait_ns / 1e9);
		break;
	case SEMA_EV_TIMEOUT_SUMMARY:
		AUTH_LOG(WARNING,
			 "event %u: trust %s: %lu more semaphore timeouts in the last window",
			 ev->netlogon_id, ev->trust, (unsigned long)ev->count);
		break;
	case SEMA_EV_SLOW_WAIT:
		AUTH_LOG(WARNING, "event %u: trust %s: a validation waited %.1f s for a slot",
			 ev->netlogon_id, ev->trust, ev->wait_ns / 1e9);
		break;
	case SEMA_EV_SLOW_SUMMARY:
		AUTH_LOG(WARNING,
			 "event %u: trust %s: %lu more slow semaphore waits in the last window",
			 ev->netlogon_id, ev->trust, (unsigned long)ev->count);
		break;
	}
}

static const struct ini_key auth_keys[] = {
	INI_S(authsvc_config, default_trust, INI_STRING, ""),
	INI_S(authsvc_config, ntlm_service, INI_STRING, ""),
	INI_U(authsvc_config, ntlm_ctx_timeout_s, 1, 3600, "30"),
	INI_U(authsvc_config, basic_cache_ttl_s, 0, 3600, "0"),
	INI_U(authsvc_config, basic_cache_entries, 16, 65536, "4096"),
	INI_U(authsvc_config, revocation_ttl_s, 1, 30 * 86400, "3600"),
	INI_S(authsvc_config, http_service, INI_STRING, "HTTP"),
	INI_END,
};

/* What a [trust] section names must be there: files readable, an NTLM domain named. */
static void
authsvc_check(struct ini_ctx *ctx, void *conf)
{
	const struct authsvc_config *ac = conf;
	char sec[96];

	for (unsigned int i = 0; i < ac->nb_trusts; i++) {
		const struct trust_config *t = &ac->trusts[i];

		snprintf(sec, sizeof(sec), "trust %s", t->realm);
		if (t->keytab[0] != '\0' && access(t->keytab, R_OK) != 0)
			ini_error(ctx, ini_line(ctx, sec, "keytab"), sec, "keytab",
				  "cannot read '%s': %s", t->keytab, strerror(errno));
		if (t->user_file[0] != '\0' && access(t->user_file, R_OK) != 0)
			ini_error(ctx, ini_line(ctx, sec, "user_file"), sec, "user_file",
				  "cannot read '%s': %s", t->user_file, strerror(errno));
		if (t->kind == TRUST_KIND_NTLM && t->netbios_name[0] == '\0')
			ini_error(ctx, ini_line(ctx, sec, "kind"), sec, "netbios_name",
				  "an ntlm trust needs its NetBIOS domain name");
		if (strlen(t->netbios_name) > 15)
			ini_error(ctx, ini_line(ctx, sec, "netbios_name"), sec, "netbios_name",
				  "'%s' is longer than 15 characters", t->netbios_name);
	}
}

const struct ini_section authsvc_sections[2] = {
	{
		.name = "auth",
		.keys = auth_keys,
	},
	{
		.name = "trust",
		.keys = trust_keys,
		.off = offsetof(struct authsvc_config, trusts),
		.named = true,
		.stride = sizeof(struct trust_config),
		.max = TRUST_MAX,
		.count_off = offsetof(struct authsvc_config, nb_trusts),
		.name_off = offsetof(struct trust_config, realm),
		.name_size = 64, /* as long as rte_cfgfile's section names allow */
		.check = authsvc_check,
	},
};

uint32_t
authsvc_verdict_deadline_s(const struct authsvc_config *cfg)
{
	uint64_t s = 5;

	/* a verdict that a trust's deadline ends still has to travel back: 5 s of slack */
	for (unsigned int i = 0; i < cfg->nb_trusts; i++)
		s = RTE_MAX(s, cfg->trusts[i].timeout_ns / 1000000000ull + 5);
	return (uint32_t)s;
}

/*
 * The user file of the pool's file-backed NTLM acceptor: the default trust's when it is NTLM
 * and has one, else the first NTLM trust's that has one. Trusts without a user_file are
 * validated through winbind (the workers keep a second acceptor for them).
 */
static const char *
ntlm_user_file(void)
{
	uint32_t idx;

	if (svc.default_trust[0] != '\0' &&
	    trust_lookup_for(&svc.trusts, TRUST_MECH_NTLM, svc.default_trust,
			     strlen(svc.default_trust), NULL, 0, &idx) == 0 &&
	    svc.trusts.trusts[idx].cfg.user_file[0] != '\0')
		return svc.trusts.trusts[idx].cfg.user_file;
	for (uint32_t t = 0; t < svc.trusts.count; t++)
		if (svc.trusts.trusts[t].cfg.kind == TRUST_KIND_NTLM &&
		    svc.trusts.trusts[t].cfg.user_file[0] != '\0')
			return svc.trusts.trusts[t].cfg.user_file;
	return NULL;
}

static void
destroy_pools(void)
{
	for (uint32_t t = 0; t < TRUST_MAX; t++) {
		kw_pool_destroy(svc.pools[t]);
		svc.pools[t] = NULL;
	}
	kw_pool_destroy(svc.local);
	svc.local = NULL;
}

int
authsvc_start(const struct authsvc_config *cfg, uint16_t nb_lcores)
{
	struct ntlm_table_config ntc = {0};
	struct kw_pool_config pc = {0};
	unsigned int workers = 0;
	int rc;

	if (cfg->nb_trusts == 0)
		return 0;
	if (nb_lcores > AUTHSVC_MAX_LCORES)
		return -EINVAL;
	trust_table_init(&svc.trusts);
	svc.revocation_ttl_s = cfg->revocation_ttl_s ? cfg->revocation_ttl_s : 3600;
	snprintf(svc.default_trust, sizeof(svc.default_trust), "%s", cfg->default_trust);
	for (unsigned int i = 0; i < cfg->nb_trusts; i++) {
		struct trust_config c = cfg->trusts[i];
		const char *why = NULL;
		uint32_t idx;

		c.on_event = on_sema_event;
		if (trust_config_check(&c, &why) < 0) {
			AUTH_LOG(ERR, "trust %s: %s", c.realm, why ? why : "invalid");
			return -EINVAL;
		}
		rc = trust_table_add(&svc.trusts, &c, &idx);
		if (rc < 0) {
			AUTH_LOG(ERR, "trust %s: %s", c.realm, strerror(-rc));
			return rc;
		}
	}
	ntc.max_entries = cfg->ntlm_ctx_max;
	ntc.timeout_ns = (uint64_t)cfg->ntlm_ctx_timeout_s * 1000000000ull;
	ntc.free_ctx = ntlm_ctx_free;
	svc.ntlm = ntlm_table_create(&ntc);
	if (svc.ntlm == NULL)
		return -ENOMEM;
	if (cfg->basic_cache_ttl_s > 0) {
		struct basic_cache_config bcc = {
			.ttl_s = cfg->basic_cache_ttl_s,
			.entries = cfg->basic_cache_entries ? cfg->basic_cache_entries : 4096,
		};

		svc.basic_cache = basic_cache_create(&bcc);
		if (svc.basic_cache == NULL) {
			AUTH_LOG(ERR, "basic cache: %s", strerror(errno));
			return -errno;
		}
		AUTH_LOG(INFO, "Basic credential cache: ttl %u s, %u entries", bcc.ttl_s,
			 bcc.entries);
	}
	svc.nb_lcores = nb_lcores;
	for (uint16_t i = 0; i < nb_lcores; i++) {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof(name), "auth_jobs_%u", i);
		svc.jobs[i] = rte_ring_create(name, JOB_RING_SIZE, SOCKET_ID_ANY,
					      RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "auth_verdicts_%u", i);
		/* many workers answer through ag_ctlring_post, one lcore reads */
		svc.verdicts[i] = rte_ring_create(name, VERDICT_RING_SIZE, SOCKET_ID_ANY,
						  RING_F_SP_ENQ | RING_F_SC_DEQ);
		pthread_mutex_init(&svc.verdict_posters[i], NULL);
		if (svc.jobs[i] == NULL || svc.verdicts[i] == NULL)
			return -rte_errno;
	}
	pc.trusts = &svc.trusts;
	pc.queue_size = cfg->queue_size ? cfg->queue_size : AUTHSVC_TRUST_QUEUE;
	pc.on_verdict = on_kw_verdict;
	pc.ntlm_user_file = ntlm_user_file();
	snprintf(svc.ntlm_service, sizeof(svc.ntlm_service), "%s", cfg->ntlm_service);
	pc.ntlm_service = svc.ntlm_service;
	snprintf(svc.http_service, sizeof(svc.http_service), "%s", cfg->http_service);
	pc.http_service = svc.http_service;
	if (cfg->nb_groups > 0) {
		char err[512];
		unsigned int bad =
			groups_resolve(&svc.groups, cfg->groups, cfg->nb_groups, err, sizeof(err));

		/* an entry not resolved matches nobody: its sites refuse, they do not open */
		if (bad > 0)
			AUTH_LOG(WARNING,
				 "require_group: %u entr%s not resolved yet, matching nobody until "
				 "winbind answers: %s",
				 bad, bad == 1 ? "y" : "ies", err);
		svc.groups_unresolved = bad;
		pc.groups = &svc.groups;
	}
	for (uint32_t t = 0; t < svc.trusts.count; t++) {
		const struct trust_config *tc = &svc.trusts.trusts[t].cfg;

		/* as many threads as slots at least: a granted job never waits for a thread */
		pc.trust_index = t;
		pc.workers = RTE_MAX(tc->workers, tc->max_concurrent_api);
		svc.pools[t] = kw_pool_create(&pc);
		if (svc.pools[t] == NULL) {
			AUTH_LOG(ERR, "trust %s: worker pool: %s", tc->realm, strerror(errno));
			rc = -errno;
			goto fail;
		}
		workers += pc.workers;
	}
	/* NTLM's first leg is answered here (the challenge); it reaches no DC and takes no slot */
	pc.trust_index = TRUST_INDEX_NONE;
	pc.workers = 2;
	svc.local = kw_pool_create(&pc);
	if (svc.local == NULL) {
		AUTH_LOG(ERR, "worker pool: %s", strerror(errno));
		rc = -errno;
		goto fail;
	}
	svc.stop = false;
	rc = pthread_create(&svc.dispatcher, NULL, dispatcher_main, NULL);
	if (rc != 0) {
		rc = -rc;
		goto fail;
	}
	svc.running = true;
	AUTH_LOG(INFO, "%u trust(s), %u worker(s) in all, each trust its own", svc.trusts.count,
		 workers + pc.workers);
	return 0;
fail:
	destroy_pools();
	return rc;
}

/* What a reload may change of a running trust; the rest waits for a restart (counted). */
static unsigned int
reconfigure_trust(struct trust *t, const struct trust_config *n)
{
	struct trust_config *c = &t->cfg;
	unsigned int restart = 0;
	int rc;

	if (c->kind != n->kind || strcmp(c->keytab, n->keytab) != 0 ||
	    strcmp(c->netbios_name, n->netbios_name) != 0 ||
	    strcmp(c->user_file, n->user_file) != 0 || c->replay_cache != n->replay_cache) {
		AUTH_LOG(WARNING,
			 "reload: trust %s: kind, keytab, netbios_name, user_file or "
			 "replay_cache changed: they need a restart",
			 c->realm);
		restart++;
	}
	/* Netlogon needs a restart for this; here it is live, waiters and holders kept */
	rc = sema_reconfigure(t->sema, n->max_concurrent_api, n->timeout_ns,
			      n->warning_threshold_ns);
	if (rc == 0)
		rc = kw_pool_grow(svc.pools[t->index], RTE_MAX(n->workers, n->max_concurrent_api),
				  n->timeout_ns);
	if (rc < 0) {
		AUTH_LOG(ERR, "reload: trust %s: %s", c->realm, strerror(-rc));
		return restart + 1;
	}
	if (c->max_concurrent_api != n->max_concurrent_api)
		AUTH_LOG(NOTICE, "reload: trust %s: max_concurrent_api %u -> %u", c->realm,
			 c->max_concurrent_api, n->max_concurrent_api);
	/* read by other threads as whole words; none of them keeps a copy */
	__atomic_store_n(&c->max_concurrent_api, n->max_concurrent_api, __ATOMIC_RELAXED);
	__atomic_store_n(&c->timeout_ns, n->timeout_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&c->warning_threshold_ns, n->warning_threshold_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&c->workers, n->workers, __ATOMIC_RELAXED);
	__atomic_store_n(&c->pac_validation, n->pac_validation, __ATOMIC_RELAXED);
	__atomic_store_n(&c->ignore_case, n->ignore_case, __ATOMIC_RELAXED);
	return restart;
}

unsigned int
authsvc_reconfigure(const struct authsvc_config *cfg)
{
	unsigned int restart = 0;

	if (!svc.running)
		return cfg->nb_trusts > 0;
	for (unsigned int i = 0; i < cfg->nb_trusts; i++) {
		uint32_t idx;
		const char *r = cfg->trusts[i].realm;

		/* by name, whatever its kind (trust_lookup_realm routes tickets: Kerberos only) */
		for (idx = 0; idx < svc.trusts.count; idx++)
			if (strcmp(svc.trusts.trusts[idx].cfg.realm, r) == 0)
				break;
		if (idx == svc.trusts.count) {
			AUTH_LOG(WARNING, "reload: trust %s is new: adding a trust needs a restart",
				 r);
			restart++;
			continue;
		}
		restart += reconfigure_trust(&svc.trusts.trusts[idx], &cfg->trusts[i]);
	}
	if (cfg->nb_trusts != svc.trusts.count) {
		AUTH_LOG(WARNING,
			 "reload: %u trust(s) configured, %u running: removing a trust "
			 "needs a restart",
			 cfg->nb_trusts, svc.trusts.count);
		restart += cfg->nb_trusts < svc.trusts.count;
	}
	if (strcmp(cfg->default_trust, svc.default_trust) != 0 ||
	    strcmp(cfg->ntlm_service, svc.ntlm_service) != 0 ||
	    strcmp(cfg->http_service, svc.http_service) != 0 || cfg->nb_groups != svc.groups.n ||
	    (cfg->basic_cache_ttl_s > 0) != (svc.basic_cache != NULL)) {
		AUTH_LOG(WARNING,
			 "reload: default_trust, ntlm_service, http_service, the "
			 "require_group table or the Basic cache changed: they need a restart");
		restart++;
	}
	__atomic_store_n(&svc.revocation_ttl_s,
			 cfg->revocation_ttl_s ? cfg->revocation_ttl_s : 3600, __ATOMIC_RELAXED);
	return restart;
}

void
authsvc_stop(void)
{
	if (!svc.running)
		return;
	svc.stop = true;
	ag_idle_wake(&svc.idle, INT_MAX);
	pthread_join(svc.dispatcher, NULL);
	destroy_pools(); /* finishes queued jobs: their verdicts land in the rings */
	for (uint16_t i = 0; i < svc.nb_lcores; i++) {
		void *p;

		while (rte_ring_dequeue(svc.jobs[i], &p) == 0)
			job_free(p);
		/* verdicts are not jobs: nothing in them to wipe */
		while (rte_ring_dequeue(svc.verdicts[i], &p) == 0)
			free(p);
		rte_ring_free(svc.jobs[i]);
		rte_ring_free(svc.verdicts[i]);
		pthread_mutex_destroy(&svc.verdict_posters[i]);
		svc.jobs[i] = svc.verdicts[i] = NULL;
	}
	ntlm_table_destroy(svc.ntlm); /* the pool is gone: no context is lent */
	svc.ntlm = NULL;
	basic_cache_destroy(svc.basic_cache); /* the pool is gone: nobody records into it */
	svc.basic_cache = NULL;
	trust_table_fini(&svc.trusts);
	svc.running = false;
}

bool
authsvc_running(void)
{
	return svc.running;
}

int
authsvc_submit_as(uint16_t lcore, struct authsvc_job *job, unsigned int scheme)
{
	if (scheme > AUTHSVC_SCHEME_BASIC)
		return -EINVAL;
	job->scheme = (uint8_t)scheme;
	if (!svc.running || rte_ring_sp_enqueue(svc.jobs[lcore], job) != 0)
		return -ENOBUFS;
	ag_idle_post(&svc.idle);
	return 0;
}

int
authsvc_submit(uint16_t lcore, struct authsvc_job *job)
{
	return authsvc_submit_as(lcore, job, AUTHSVC_SCHEME_NEGOTIATE);
}

int
authsvc_flow_closed(uint16_t lcore, uint32_t flow_id, uint32_t flow_gen)
{
	struct authsvc_job *msg;

	if (!svc.running)
		return 0;
	/* the job ring keeps order: the close never overtakes this flow's last leg */
	msg = malloc(sizeof(*msg));
	if (msg == NULL)
		return -ENOMEM;
	msg->flow_id = flow_id;
	msg->flow_gen = flow_gen;
	msg->seq = 0;
	msg->lcore = lcore;
	msg->scheme = SCHEME_FLOW_CLOSED;
	msg->token_len = 0;
	if (rte_ring_sp_enqueue(svc.jobs[lcore], msg) != 0) {
		free(msg);
		return -ENOBUFS;
	}
	ag_idle_post(&svc.idle);
	return 0;
}

unsigned int
authsvc_take_verdicts(uint16_t lcore, struct authsvc_verdict **out, unsigned int n)
{
	if (!svc.running)
		return 0;
	return rte_ring_sc_dequeue_burst(svc.verdicts[lcore], (void **)out, n, NULL);
}

void
authsvc_verdict_free(struct authsvc_verdict *v)
{
	free(v);
}

int
authsvc_revoke(const char *principal)
{
	int rc = revoke_add(principal, wall_now(), svc.revocation_ttl_s);

	if (rc < 0)
		return rc;
	__atomic_store_n(&svc.stats.revoke_epoch, revoke_epoch(), __ATOMIC_RELEASE);
	/* a cached Basic login would answer for the principal without asking anyone: gone */
	if (svc.running && svc.basic_cache != NULL)
		basic_cache_forget(svc.basic_cache, principal);
	AUTH_LOG(NOTICE, "revoked %s for %u s", principal, svc.revocation_ttl_s);
	return 0;
}

int
authsvc_unrevoke(const char *principal)
{
	int rc = revoke_lift(principal, wall_now());

	if (rc == 0)
		AUTH_LOG(NOTICE, "revocation of %s lifted", principal);
	return rc;
}

uint32_t
authsvc_revoke_epoch(void)
{
	return revoke_epoch();
}

bool
authsvc_is_revoked(const char *principal, bool ignore_case)
{
	return revoke_active(principal, ignore_case, wall_now());
}

void
authsvc_get_stats(struct authsvc_stats *out)
{
	memcpy(out, &svc.stats, sizeof(*out));
	if (svc.running && svc.ntlm != NULL)
		ntlm_table_get_stats(svc.ntlm, &out->ntlm);
	for (uint32_t t = 0; svc.running && t < svc.trusts.count; t++) {
		struct kw_pool_stats ps;

		kw_pool_get_stats(svc.pools[t], &ps);
		out->ntlm_dc_pings += ps.ntlm_dc_pings;
		out->workers_hung += ps.hung;
		out->groups_from_pac += ps.groups_from_pac;
		out->groups_from_winbind += ps.groups_from_winbind;
	}
	if (svc.running && svc.basic_cache != NULL)
		basic_cache_get_stats(svc.basic_cache, &out->basic_cache);
}

const struct trust_table *
authsvc_trusts(void)
{
	return svc.running ? &svc.trusts : NULL;
}

int
authsvc_trust_pool_stats(uint32_t t, struct kw_pool_stats *out)
{
	if (!svc.running || t >= svc.trusts.count || svc.pools[t] == NULL)
		return -ENOENT;
	kw_pool_get_stats(svc.pools[t], out);
	return 0;
}
