/* Counters of the auth service, for telemetry. */
#ifndef AG_CONTROL_AUTHSVC_STATS_H
#define AG_CONTROL_AUTHSVC_STATS_H

#include <stdint.h>

#include "control/authsvc.h"
#include "control/basic_cache.h"
#include "control/ntlm.h"

struct trust_table;

struct authsvc_stats {
	uint64_t jobs;				/* taken from the lcores' rings */
	uint64_t by_reason[AUTHSVC_REASON_MAX]; /* verdicts by reason (KW_OK = success) */
	uint64_t verdicts_dropped;		/* verdict ring full or no memory */
	uint64_t queue_ns_total;		/* semaphore waits, summed */
	uint64_t accept_ns_total;		/* gss_accept_sec_context time, summed */
	uint32_t revoke_epoch;
	uint64_t flow_closes;		     /* flow-closed messages taken */
	uint64_t ntlm_type1_padded;	     /* short raw NEGOTIATEs given their Version */
	uint64_t ntlm_type3_version_cleared; /* raw AUTHENTICATEs without the Version they claim */
	uint64_t ntlm_dc_pings;		     /* winbind asked about its DC after a refusal */
	uint64_t workers_hung;	      /* validations abandoned past their deadline (all trusts) */
	uint64_t groups_from_pac;     /* require_group bits from Kerberos PACs */
	uint64_t groups_from_winbind; /* ... from winbind */
	struct ntlm_table_stats ntlm; /* half-open NTLM contexts */
	struct basic_cache_stats basic_cache; /* all zero while the cache is off */
};

void authsvc_get_stats(struct authsvc_stats *out);

struct rte_tel_data;
/* Adds the front end's own counters (the auth gate's) to /authgate/auth/stats. */
typedef void (*authsvc_tel_front_fn)(struct rte_tel_data *d);
/* Registers /authgate/auth/stats, /authgate/auth/revoke and /authgate/trusts. */
void authsvc_telemetry_init(authsvc_tel_front_fn front);
/* The running service's trusts (their semaphores hold the Netlogon counters), or NULL. */
const struct trust_table *authsvc_trusts(void);
/* Trust t's worker pool counters (queue full, hung workers); -ENOENT when there is none. */
struct kw_pool_stats;
int authsvc_trust_pool_stats(uint32_t t, struct kw_pool_stats *out);
/*
 * Trust t's counters as they were about a minute ago (or at the oldest snapshot the service
 * has): the baseline of the sizing recommendation. -EAGAIN before the first snapshot.
 */
struct sema_stats;
int authsvc_trust_baseline(uint32_t t, struct sema_stats *out);

#endif
