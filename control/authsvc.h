/* The auth service: validation jobs from the lcores in, verdicts back, per-trust semaphores between. */
#ifndef AG_AUTHSVC_H
#define AG_AUTHSVC_H

#include <stdbool.h>
#include <stdint.h>

#include "app/config.h"
#include "control/krb5_worker.h"

/* Why a validation ended as it did: the kw reasons, then the service's own. */
enum authsvc_reason {
	AUTHSVC_UNKNOWN_TRUST = KW_REASON_COUNT, /* ticket realm has no [trust]: 401 at once */
	AUTHSVC_BAD_TOKEN,                       /* not a token the router can read */
	AUTHSVC_UNSUPPORTED_MECH,                /* NTLM and others, until supported */
	AUTHSVC_QUEUE_FULL,                      /* the worker queue is full: 503 */
	AUTHSVC_REASON_MAX
};

const char *authsvc_reason_str(unsigned int reason);

/* From an lcore to the service; allocated by the lcore, freed by the service. */
struct authsvc_job {
	uint32_t flow_id;
	uint32_t flow_gen;
	uint32_t seq;   /* the flow's request, so a late verdict for an older one is ignored */
	uint16_t lcore; /* whose verdict ring gets the answer */
	uint32_t token_len;
	uint8_t token[]; /* decoded Negotiate token */
};

/* From the service to an lcore; freed by the lcore with authsvc_verdict_free(). */
struct authsvc_verdict {
	uint32_t flow_id;
	uint32_t flow_gen;
	uint32_t seq;
	uint16_t status;    /* 200 (authenticated), 401 or 503 */
	uint16_t reason;    /* enum kw_reason or enum authsvc_reason */
	int64_t expires_at; /* Unix time the ticket ends */
	uint16_t reply_len; /* mutual-auth token for WWW-Authenticate */
	char principal[KW_PRINCIPAL_MAX];
	uint8_t reply[KW_REPLY_MAX];
};

/* Starts the workers and the dispatcher; one job and one verdict ring per lcore. */
int authsvc_start(const struct ag_config *cfg, uint16_t nb_lcores);
/* Joins everything; verdicts not yet taken are freed. */
void authsvc_stop(void);
bool authsvc_running(void);

/* From the lcore: -ENOBUFS when its job ring is full (the caller answers 503). */
int authsvc_submit(uint16_t lcore, struct authsvc_job *job);
unsigned int authsvc_take_verdicts(uint16_t lcore, struct authsvc_verdict **out, unsigned int n);
void authsvc_verdict_free(struct authsvc_verdict *v);

/*
 * Revocation: sessions of PRINCIPAL authenticated at or before now end. Lock-free for
 * readers: entries are only appended, and the count is published last.
 */
int authsvc_revoke(const char *principal);
/* Bumps on every revocation; a flow re-checks only when it changed. */
uint32_t authsvc_revoke_epoch(void);
/* True when principal was revoked at or after auth_time (Unix seconds). */
bool authsvc_is_revoked(const char *principal, int64_t auth_time);

#endif
