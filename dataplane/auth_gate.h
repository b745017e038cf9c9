/* The auth gate: for each request, serve, challenge, park or refuse; pure functions, no I/O. */
#ifndef AG_DATAPLANE_AUTH_GATE_H
#define AG_DATAPLANE_AUTH_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ini.h"
#include "control/authsvc.h"
#include "dataplane/http/h1.h"
#include "dataplane/http/site.h"

#define GATE_MAX_SITES 16

/* [site PREFIX] sections and the gate's keys of [auth]. */
struct gate_conf {
	struct site_conf sites[GATE_MAX_SITES];
	unsigned int nb_sites;
	/* every site's require_group entries, each once: bit i of a verdict's groups is entry i */
	char groups[AUTHSVC_MAX_GROUPS][AUTHSVC_GROUP_MAX];
	unsigned int nb_groups;
	bool persist_non_ntlm;	     /* IIS authPersistNonNTLM: the flow stays authenticated */
	bool persist_single_request; /* IIS authPersistSingleRequest: forget after each request */
	uint32_t max_session_age_s;  /* persisted authentication ends after this */
	uint32_t max_auth_failures;  /* failed validations on one connection before it is closed */
	uint32_t retry_after_s;	     /* Retry-After on 503 when a trust is saturated */
	uint32_t max_token_bytes;    /* decoded Authorization token bound */
	bool allow_basic_over_http;  /* Basic over plain HTTP (always taken over HTTPS) */
};

/* [site PREFIX] and the gate's [auth] keys, relative to a struct gate_conf. */
extern const struct ini_section gate_conf_sections[2];

/* Written by the owner lcore only; telemetry sums them. Names are what operators see. */
struct gate_stats {
	uint64_t challenges;  /* 401 with the site's challenges */
	uint64_t validations; /* tokens sent to the control plane */
	uint64_t auth_ok;
	uint64_t auth_failed;
	uint64_t auth_busy;	   /* 503: the trust's semaphore could not be had in time */
	uint64_t bad_tokens;	   /* not base64: refused on the lcore */
	uint64_t ring_full;	   /* job ring full: 503 */
	uint64_t persisted_hits;   /* requests served on persisted authentication */
	uint64_t persisted_flows;  /* gauge: connections authenticated right now */
	uint64_t identity_changes; /* other credentials on an authenticated flow */
	uint64_t expired_sessions;
	uint64_t revoked_sessions;
	uint64_t stale_verdicts; /* for a flow that closed or moved on: dropped */
	uint64_t parked_timeouts;
	uint64_t failure_closes;  /* max_auth_failures reached */
	uint64_t ntlm_challenges; /* 401 carrying an NTLM Type 2 */
	uint64_t basic_refused;	  /* Basic over plain HTTP while allow_basic_over_http = no */
	uint64_t tls_required;	  /* 403: a tls_only site asked for over plain HTTP */
	/* 403: authenticated, refused by the site's rules or a revocation */
	uint64_t forbidden_user;
	uint64_t forbidden_realm;
	uint64_t forbidden_group;
	uint64_t forbidden_revoked;
	uint64_t mech_mismatch; /* a persisted identity the site's auth does not take: afresh */
};

/* What a connection knows of its client's authentication; one lcore writes it. */
struct gate_flow {
	bool authed;	       /* persisted: later requests need no token */
	bool ignore_case;      /* the principal's realm compares names ignoring case */
	uint8_t mech;	       /* enum trust_mech it was obtained with */
	uint16_t trust;	       /* the trust that vouched for it */
	uint64_t groups;       /* its require_group bits */
	uint32_t auth_hash;    /* hash of the Authorization value that authenticated */
	uint32_t revoke_epoch; /* revocations already checked against */
	uint32_t failures;     /* failed validations on this connection */
	int64_t auth_time;     /* Unix seconds */
	int64_t auth_expires;  /* ticket end or max_session_age, whichever first */
	char principal[KW_PRINCIPAL_MAX];
};

/* The world the gate looks at: the clock and the revocation list, injectable for tests. */
struct gate_env {
	int64_t now_s;
	uint32_t revoke_epoch;
	bool (*is_revoked)(const char *principal, bool ignore_case);
	bool tls; /* the request came over HTTPS */
};

enum gate_action {
	GATE_SERVE,	/* serve the request; persisted tells whether it rode on the flow */
	GATE_CHALLENGE, /* 401 with the site's challenges (or, with reply, an NTLM Type 2) */
	GATE_PARK,	/* the token at token_off goes to the control plane; wait for its verdict */
	GATE_REFUSE,	/* answer status (503 + Retry-After) */
	GATE_DENY,	/* 403: authenticated, and the site's rules or a revocation refuse it */
};

enum gate_deny {
	GATE_ALLOW,
	GATE_DENY_USER,	   /* not in require_user */
	GATE_DENY_REALM,   /* not in require_realm */
	GATE_DENY_GROUP,   /* in none of require_group */
	GATE_DENY_REVOKED, /* an operator revoked the principal */
};

const char *gate_action_str(enum gate_action a);

struct gate_decision {
	enum gate_action action;
	uint16_t status;     /* REFUSE */
	bool close;	     /* CHALLENGE: max_auth_failures reached, close after the 401 */
	bool persisted;	     /* SERVE: the flow was already authenticated */
	bool persist;	     /* SERVE after a verdict: the flow keeps the identity */
	bool reply;	     /* SERVE/CHALLENGE after a verdict: the verdict's token goes back */
	int scheme;	     /* PARK: enum authsvc_scheme */
	uint8_t job_flags;   /* PARK: AUTHSVC_JOB_* for the control plane */
	enum gate_deny deny; /* DENY: why */
	size_t token_off;    /* PARK: the base64 token starts here in the Authorization value */
	uint32_t auth_hash;  /* PARK: what to remember of the Authorization value */
};

/* The site index for a request target (longest prefix, after normalising), or -1. */
int gate_site(const struct gate_conf *c, const char *target, size_t len);
/* The site for a request target, or NULL. */
const struct site_conf *gate_site_for(const struct gate_conf *c, const char *target, size_t len);
/*
 * The same, keeping the normalised path in path[size] for the content store (one
 * normalisation a request); *plen_out is 0 when the target does not normalise.
 */
const struct site_conf *gate_site_path(const struct gate_conf *c, const char *target, size_t len,
				       char *path, size_t size, size_t *plen_out);
/* The schemes the site for a target asks for; SITE_AUTH_NONE when it is open or no site. */
uint32_t gate_site_auth(const struct gate_conf *c, const char *target, size_t len);

/* Does a site with these schemes take an identity obtained with mech? */
bool gate_mech_admitted(uint32_t schemes, enum trust_mech mech);
/* May this authenticated flow see the site? GATE_ALLOW or the first rule it fails. */
enum gate_deny gate_authorize(const struct site_conf *site, const struct gate_flow *f);

/*
 * The persistence rule: Kerberos persists per persist_non_ntlm (IIS authPersistNonNTLM), NTLM
 * is connection-based by design, Basic never; nothing with persist_single_request.
 */
bool gate_persists(const struct gate_conf *c, enum trust_mech mech);

/* Does a persisted identity still hold? Ends it (counted) when revoked or past its end. */
bool gate_still_valid(struct gate_flow *f, const struct gate_env *env, struct gate_stats *st);

/*
 * A request for a protected site, with its Authorization header (NULL: none). SERVE on a
 * persisted identity (the same credentials again, or none) that the site's auth takes and its
 * rules allow, DENY (403) when they refuse it; CHALLENGE when there is nothing the site takes;
 * PARK with the scheme and where the token starts.
 */
void gate_request(const struct gate_conf *c, struct gate_flow *f, const struct site_conf *site,
		  const struct h1_view *authz, const struct gate_env *env, struct gate_stats *st,
		  struct gate_decision *d);

/* A PARKed token that is not base64: CHALLENGE, closing after max_auth_failures. */
void gate_bad_token(const struct gate_conf *c, struct gate_flow *f, struct gate_stats *st,
		    struct gate_decision *d);

/*
 * The control plane's verdict on a parked request for site: SERVE (persist says whether the
 * flow keeps the identity, which is then set), DENY (403: revoked, or the site's rules), REFUSE
 * 503, or CHALLENGE (an NTLM Type 2 to send back when reply, else a failure counted and the
 * connection closed after max_auth_failures).
 */
void gate_verdict(const struct gate_conf *c, struct gate_flow *f, const struct site_conf *site,
		  const struct authsvc_verdict *v, const struct gate_env *env,
		  struct gate_stats *st, struct gate_decision *d);

/* After a response was queued: persist_single_request forgets the identity. */
void gate_request_done(const struct gate_conf *c, struct gate_flow *f, struct gate_stats *st);

/* The flow drops its identity (closed, revoked, another user). */
void gate_forget(struct gate_flow *f, struct gate_stats *st);

/*
 * "WWW-Authenticate: ..." lines for a 401, one per scheme the site offers (Basic only over
 * TLS or with allow_basic_over_http). Returns the length.
 */
int gate_challenge_headers(const struct gate_conf *c, uint32_t schemes, bool tls, char *buf,
			   size_t size);

/* A tls_only site asked for over plain HTTP: true (counted) when it must be refused, 403. */
bool gate_tls_refused(const struct site_conf *site, bool tls, struct gate_stats *st);
/*
 * "WWW-Authenticate: <scheme> <b64 token>\r\n" for a verdict's reply token; 0 and an empty
 * string when there is none or it does not fit.
 */
int gate_reply_header(const struct authsvc_verdict *v, char *buf, size_t size);

#endif
