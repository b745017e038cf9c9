/* The auth service: validation jobs from the lcores in, verdicts back, per-trust semaphores
 * between. */
#ifndef AG_CONTROL_AUTHSVC_H
#define AG_CONTROL_AUTHSVC_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ini.h"
#include "control/krb5_worker.h"

#define AUTHSVC_MAX_LCORES 16 /* job and verdict ring pairs */

/* The site refuses NTLMSSP inside Negotiate ([site] auth = kerberos). */
#define AUTHSVC_JOB_KRB5_ONLY 0x01
/* extended_protection over HTTPS: check cb against the client's channel bindings */
#define AUTHSVC_JOB_CB_ALLOW   0x02 /* none sent passes, others' fail */
#define AUTHSVC_JOB_CB_REQUIRE 0x04 /* they must be sent, and be ours */
/* "tls-server-end-point:" and a hash of up to SHA-512 (RFC 5929) */
#define AUTHSVC_CB_MAX 96

#define AUTHSVC_MAX_GROUPS GROUPS_MAX /* distinct require_group entries, one bit each */
#define AUTHSVC_GROUP_MAX  128

/* Why a validation ended as it did: the kw reasons, then the service's own. */
enum authsvc_reason {
	AUTHSVC_UNKNOWN_TRUST = KW_REASON_COUNT, /* realm/domain has no [trust]: 401 at once */
	AUTHSVC_BAD_TOKEN,			 /* not a token the router can read */
	AUTHSVC_UNSUPPORTED_MECH,		 /* a mechanism no trust validates */
	AUTHSVC_QUEUE_FULL,			 /* the worker queue is full: 503 */
	AUTHSVC_NTLM_NO_CONTEXT, /* Type 3 with no Type 1 on this flow (or expired) */
	AUTHSVC_NTLM_BUSY,	 /* a leg while the flow's previous one runs */
	AUTHSVC_NTLM_TABLE_FULL, /* too many half-open NTLM exchanges: 503 */
	AUTHSVC_MECH_REFUSED,	 /* NTLMSSP in Negotiate for a site that takes Kerberos only: 401 */
	AUTHSVC_REASON_MAX
};

/* The Authorization scheme a job came with; verdicts answer in the same one. */
enum authsvc_scheme {
	AUTHSVC_SCHEME_NEGOTIATE, /* Kerberos, or NTLMSSP inside SPNEGO */
	AUTHSVC_SCHEME_NTLM,	  /* raw NTLMSSP: Authorization: NTLM <b64> */
	AUTHSVC_SCHEME_BASIC,	  /* decoded "user:password" */
};

const char *authsvc_reason_str(unsigned int reason);

/* From an lcore to the service; allocated by the lcore, freed by the service. */
struct authsvc_job {
	uint32_t flow_id;
	uint32_t flow_gen;
	uint32_t seq;	/* the flow's request, so a late verdict for an older one is ignored */
	uint16_t lcore; /* whose verdict ring gets the answer */
	uint8_t scheme; /* enum authsvc_scheme; set by authsvc_submit / authsvc_submit_as */
	uint8_t flags;	/* AUTHSVC_JOB_* */
	uint8_t cb_len; /* channel bindings (AUTHSVC_JOB_CB_*): application data, cb_len bytes */
	uint8_t cb[AUTHSVC_CB_MAX];
	uint32_t token_len;
	uint8_t token[]; /* decoded credentials; the service wipes Basic ones before freeing.
			  * The buffer has room for at least 1024 bytes whatever token_len says. */
};

/*
 * From the service to an lcore; freed by the lcore with authsvc_verdict_free(). How the
 * lcore answers (S = the scheme word for `scheme`: "Negotiate", "NTLM" or "Basic"):
 *   status 200, cont 0: authenticated as principal; serve. reply_len > 0: add
 *     "WWW-Authenticate: S <b64 reply>" (Kerberos mutual auth, SPNEGO's final NTLM
 *     message). Persist on the flow: Negotiate-Kerberos when persist_non_ntlm; NTLM
 *     (raw or in SPNEGO, mech == TRUST_MECH_NTLM) always; Basic never; nothing when
 *     persist_single_request.
 *   status 401, cont 1: an NTLM challenge. Answer 401 with only
 *     "WWW-Authenticate: S <b64 reply>" (the Type 2, or SPNEGO around it), keep the
 *     connection open (never Connection: close, do not count a failure): the client's
 *     Type 3 must come on this flow.
 *   status 401, cont 0: refused; challenge afresh (count a failure).
 *   status 503: the trust is saturated or its KDC unreachable: 503 + Retry-After.
 */
struct authsvc_verdict {
	uint32_t flow_id;
	uint32_t flow_gen;
	uint32_t seq;
	uint16_t status;      /* 200 (authenticated), 401, 403 (client realm untrusted) or 503 */
	uint16_t reason;      /* enum kw_reason or enum authsvc_reason */
	int64_t expires_at;   /* Unix time the ticket ends */
	uint16_t reply_len;   /* token for WWW-Authenticate */
	uint8_t scheme;	      /* enum authsvc_scheme of the job: the word the reply goes with */
	uint8_t cont;	      /* 1: NTLM challenge; 401 with reply, keep the flow and its context */
	uint8_t mech;	      /* enum trust_mech that decided: KRB5, NTLM, BASIC (UNKNOWN: none) */
	uint8_t ignore_case;  /* the principal's realm compares names ignoring case */
	uint16_t trust;	      /* the index of the principal's trust (200 only) */
	uint64_t groups;      /* bit i: a member of the i-th configured require_group entry */
	uint32_t queue_us;    /* waited for the trust's semaphore */
	uint32_t validate_us; /* GSS accept or AS exchange */
	char principal[KW_PRINCIPAL_MAX];
	uint8_t reply[KW_REPLY_MAX];
};

/*
 * The control plane's configuration: its [trust REALM] sections and its keys of [auth], which
 * authsvc_sections declare straight into this struct.
 */
struct authsvc_config {
	struct trust_config trusts[TRUST_MAX];
	unsigned int nb_trusts;
	char default_trust[TRUST_NAME_MAX]; /* bare Basic user names, NTLM with no domain */
	uint32_t ntlm_ctx_timeout_s;	    /* half-open NTLM exchange lifetime; 0 = 30 */
	uint32_t ntlm_ctx_max;		    /* half-open NTLM exchanges; 0 = 65536 */
	uint32_t queue_size;		    /* jobs in flight per trust; 0 = 4096 */
	/* NTLM acceptor name, "HTTP@gw.example.com": gss-ntlmssp puts it in the Type 2 and
	 * its clients check it against the name they target. "" = HTTP@<hostname>. */
	char ntlm_service[TRUST_NAME_MAX];
	/* Basic verified-credential cache (control/basic_cache.h): 0 = off; entries 0 = 4096 */
	uint32_t basic_cache_ttl_s;
	uint32_t basic_cache_entries;
	uint32_t revocation_ttl_s; /* how long authgate-ctl revoke denies a principal; 0 = 3600 */
	/* what Kerberos tickets must be for: "HTTP" (any HTTP/ principal), "HTTP@host", "" any */
	char http_service[TRUST_NAME_MAX];
	/* every [site] require_group entry, in the gate's bit order: SIDs, or names for winbind */
	char groups[AUTHSVC_MAX_GROUPS][AUTHSVC_GROUP_MAX];
	unsigned int nb_groups;
};

/* [trust REALM] and the control plane's [auth] keys, relative to a struct authsvc_config. */
extern const struct ini_section authsvc_sections[2];

/* The longest a verdict may take, in seconds: the slowest trust's deadline and some slack. */
uint32_t authsvc_verdict_deadline_s(const struct authsvc_config *cfg);

/* Starts the workers and the dispatcher; one job and one verdict ring per lcore. */
int authsvc_start(const struct authsvc_config *cfg, uint16_t nb_lcores);
/*
 * A reload: the running trusts take their new max_concurrent_api (live: waiters and holders
 * stay), deadlines, warning thresholds, workers, pac_validation and ignore_case; the
 * revocation TTL applies to new revocations. Returns how many changes need a restart
 * (adding or removing a trust, a keytab path, ...), each logged.
 */
unsigned int authsvc_reconfigure(const struct authsvc_config *cfg);
/* Joins everything; verdicts not yet taken are freed. */
void authsvc_stop(void);
bool authsvc_running(void);

/* From the lcore: -ENOBUFS when its job ring is full (the caller answers 503). Negotiate. */
int authsvc_submit(uint16_t lcore, struct authsvc_job *job);
/* The same for any scheme (enum authsvc_scheme); Basic tokens are "user:password". */
int authsvc_submit_as(uint16_t lcore, struct authsvc_job *job, unsigned int scheme);
/*
 * From the lcore when a flow closes (or is reused): frees its half-open NTLM context. Never
 * blocks: a message on the lcore's job ring; -ENOBUFS/-ENOMEM when it could not be posted
 * (the context then ends by its timeout).
 */
int authsvc_flow_closed(uint16_t lcore, uint32_t flow_id, uint32_t flow_gen);
unsigned int authsvc_take_verdicts(uint16_t lcore, struct authsvc_verdict **out, unsigned int n);
void authsvc_verdict_free(struct authsvc_verdict *v);

/*
 * Revocation: PRINCIPAL is denied (403) for [auth] revocation_ttl_s from now, persisted
 * sessions and fresh credentials alike, and the Basic cache forgets it. 0, -EINVAL, -ENOMEM.
 */
int authsvc_revoke(const char *principal);
/* Lifts a revocation in force: 0, or -ENOENT. */
int authsvc_unrevoke(const char *principal);
/* Bumps on every revocation; a flow re-checks only when it changed. */
uint32_t authsvc_revoke_epoch(void);
/* Is principal revoked now? ignore_case as its realm compares names. Any thread, no lock. */
bool authsvc_is_revoked(const char *principal, bool ignore_case);

#endif
