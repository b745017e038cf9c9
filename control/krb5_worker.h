/* Validation: a per-thread GSS acceptor (kw) and the worker pool (kw_pool) for krb5, NTLM, Basic.
 */
#ifndef AG_CONTROL_KRB5_WORKER_H
#define AG_CONTROL_KRB5_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "control/groups.h"
#include "control/trust.h"

#define KW_TOKEN_MAX	 (64 * 1024) /* the largest token a job may carry */
#define KW_PRINCIPAL_MAX 256
#define KW_REPLY_MAX	 1024 /* AP-REP, SPNEGO-wrapped or not, is a few hundred bytes */
#define KW_DETAIL_MAX	 160

/* Why a token was refused; one counter each. KW_OK is the only success. */
enum kw_reason {
	KW_OK,			/* context established; principal and expiry are valid */
	KW_ERR_MALFORMED,	/* not a token GSS could parse (GSS_S_DEFECTIVE_TOKEN) */
	KW_ERR_BAD_MECH,	/* a mechanism this validator does not accept (NTLM here) */
	KW_ERR_REPLAY,		/* authenticator already seen by the replay cache */
	KW_ERR_KEY_VERSION,	/* ticket encrypted with a key version not in the keytab */
	KW_ERR_INTEGRITY,	/* decrypt/checksum failed: wrong key or tampered ticket */
	KW_ERR_NO_KEY,		/* no key for the ticket's service principal */
	KW_ERR_WRONG_PRINCIPAL, /* ticket is for another service */
	KW_ERR_EXPIRED,		/* ticket lifetime is over */
	KW_ERR_CLOCK_SKEW,	/* authenticator time outside the allowed skew */
	KW_ERR_CONTINUE_NEEDED, /* a multi-leg exchange; the gateway only does one leg */
	KW_ERR_TOO_BIG,		/* token longer than KW_TOKEN_MAX */
	KW_ERR_NO_TRUST,	/* job names no configured Kerberos trust */
	KW_ERR_BUSY_TIMEOUT,	/* waited past the trust's semaphore deadline: 503 */
	KW_ERR_BUSY_REJECTED,	/* admission control predicted a timeout: 503 */
	KW_ERR_INTERNAL,	/* anything else GSS said; see gss_major/minor and detail */
	/* Values below have telemetry-ready names (letters, digits, '_'). */
	KW_NTLM_CHALLENGE,   /* not a failure: reply holds the Type 2; answer 401, keep the flow */
	KW_ERR_BAD_PASSWORD, /* Basic/NTLM: the KDC or the domain refused the password */
	KW_ERR_CLIENT_UNKNOWN,	 /* Basic: no such user in the realm */
	KW_ERR_PASSWORD_EXPIRED, /* Basic: the password must be changed first */
	KW_ERR_ACCOUNT_DISABLED, /* Basic: the KDC says the account is locked or disabled */
	KW_ERR_KDC_UNREACHABLE,	 /* Basic: no KDC answered; the DC's trouble, not the user's: 503 */
	KW_ERR_KDC_NOT_VERIFIED, /* Basic: the TGT did not verify against our keytab (spoofed KDC?)
				  */
	KW_ERR_DC_UNAVAILABLE,	 /* NTLM via winbind: refused, and winbind's DC does not answer: 503
				  */
	KW_ERR_CLIENT_REALM, /* a valid ticket, but the client's realm is no configured trust: 403
			      */
	KW_ERR_WORKER_HUNG,  /* the validation outlived the trust's deadline (a KDC or DC that never
			      * answers): answered 503, its slot reclaimed, the thread replaced */
	KW_ERR_CHANNEL_BINDING, /* extended protection: the client's channel bindings are not
				 * those of our certificate, or missing where they are required */
	KW_REASON_COUNT,
};

/* What a validation does with channel bindings (IIS extended protection). */
enum kw_cb_mode {
	KW_CB_OFF,     /* none given to GSS */
	KW_CB_ALLOW,   /* given: a client that sent none passes, one that sent others fails */
	KW_CB_REQUIRE, /* given, and the client must have sent them */
};

/*
 * A job as it travels from the dataplane (fixed size, ring-friendly). The token buffer
 * belongs to the sender and must stay valid until the verdict for this job arrives.
 */
struct kw_job {
	uint64_t flow_id;
	uint32_t flow_gen;    /* the verdict echoes it so a reused flow slot drops stale ones */
	uint32_t trust_index; /* whose semaphore; NTLM Type 1 (local challenge): TRUST_INDEX_NONE */
	uint32_t mech;	      /* enum trust_mech; BASIC tokens are the decoded "user:password" */
	uint32_t token_len;
	const uint8_t *token;
	void *user; /* opaque to the pool, echoed in the verdict */
	uint64_t enqueued_ns;
	/*
	 * NTLM only: the half-finished GSS context (a gss_ctx_id_t *) that the sender keeps
	 * for the flow and lends to exactly one job at a time; spnego says whether the token
	 * is SPNEGO-wrapped (the context then belongs to the SPNEGO mechanism).
	 */
	void *ntlm_ctx;
	uint32_t spnego;
	/* RFC 5929 application data to check the client's channel bindings against */
	const uint8_t *cb;
	uint32_t cb_len;
	uint32_t cb_mode; /* enum kw_cb_mode */
};

/*
 * How a verdict stands to its job. A worker that hangs past the deadline is abandoned: the
 * watchdog answers for it (EARLY: answer the client, but the job's token and NTLM context are
 * still the stuck worker's), and when the worker returns at last its verdict comes as LATE:
 * release the job's resources, answer nobody.
 */
enum kw_stage {
	KW_STAGE_FINAL, /* the one verdict of the job: answer, then release its resources */
	KW_STAGE_EARLY, /* answer only */
	KW_STAGE_LATE,	/* release only */
};

struct kw_verdict {
	enum kw_stage stage;
	uint64_t flow_id;
	uint32_t flow_gen;
	uint32_t trust_index;
	void *user;
	enum kw_reason reason;
	uint32_t gss_major;
	uint32_t gss_minor;
	int64_t expires_at; /* absolute Unix time the authentication ends; 0 = none */
	uint64_t queue_ns;  /* time spent waiting for the trust's semaphore */
	uint64_t accept_ns; /* time spent validating (GSS accept, AS exchange) */
	uint32_t mech;	    /* enum trust_mech of the job */
	uint64_t groups;    /* bit i: the principal is in the pool's i-th group (kw_pool_config) */
	uint16_t pac_sids;  /* SIDs a Kerberos PAC gave (0: no PAC, groups asked of winbind) */
	uint16_t principal_len;
	uint16_t reply_len;
	char principal[KW_PRINCIPAL_MAX]; /* NUL-terminated, user@REALM */
	uint8_t reply[KW_REPLY_MAX];	  /* token for WWW-Authenticate (mutual auth) */
	char detail[KW_DETAIL_MAX];	  /* gss_display_status text, for logs only */
};

struct kw_config {
	const char *keytab;  /* NULL or "": KRB5_KTNAME / the default keytab */
	const char *service; /* NULL: any principal in the keytab; else "HTTP@host" */
	/*
	 * The service a ticket must be for, checked after the accept: "HTTP@host" (that
	 * principal), "HTTP" (any HTTP/ principal), NULL (whatever the keytab holds).
	 */
	const char *http_service;
	const struct groups_table *groups; /* require_group entries to answer as bits; NULL */
	int replay_cache;	 /* non-zero: detect replays (the default rcache, shared) */
	const char *rcache_name; /* optional override, e.g. "file2:/path"; ignored when off */
};

struct kw;

/* One per thread: its own krb5_context and its own GSS acceptor credential. NULL + errno. */
struct kw *kw_create(const struct kw_config *cfg);
void kw_destroy(struct kw *kw);

/*
 * Validate one client token (raw krb5 or SPNEGO). Returns 0 when accepted, -EACCES when
 * refused; in both cases *verdict_out is filled (reason, GSS codes, detail). -EINVAL for
 * bad arguments (verdict untouched).
 */
int kw_accept(struct kw *kw, const uint8_t *token, size_t len, struct kw_verdict *verdict_out);
/*
 * The same with channel bindings: cb (cb_len bytes, "tls-server-end-point:" and the hash) is
 * the application data of the bindings GSS compares with the authenticator's. KW_CB_REQUIRE
 * refuses a client that sent none (GSS_C_CHANNEL_BOUND_FLAG not set, krb5 >= 1.19); wrong
 * ones are refused in every mode but KW_CB_OFF. Both as KW_ERR_CHANNEL_BINDING.
 */
int kw_accept_cb(struct kw *kw, const uint8_t *token, size_t len, const uint8_t *cb, size_t cb_len,
		 enum kw_cb_mode mode, struct kw_verdict *verdict_out);

const char *kw_reason_str(enum kw_reason r);
/* The HTTP answer the gateway owes the client for this reason: 200 path, 401 or 503. */
int kw_reason_http_status(enum kw_reason r);

/*
 * The pool: one per trust, so that a slow or dead KDC/DC ties up only its own trust's threads
 * and queue. A job first passes its trust's semaphore asynchronously (sema_enqueue; the deadline
 * runs from submission, so it covers the whole wait, and a flood times out or is refused by
 * admission control instead of sitting in a queue); the pool has at least as many threads as
 * the trust has slots, so a granted job runs at once and a slot is held only while a worker
 * validates. A worker still busy past the deadline is abandoned (kw_pool_watchdog).
 */
typedef void (*kw_verdict_fn)(const struct kw_verdict *v, void *arg);

struct kw_pool_config {
	const struct trust_table *trusts; /* read-only while the pool runs */
	/* the one trust whose jobs this pool runs; TRUST_INDEX_NONE: jobs that need none (the
	 * local NTLM challenge) */
	uint32_t trust_index;
	unsigned int workers;	 /* threads; 1..KW_POOL_MAX_THREADS */
	unsigned int queue_size; /* jobs in flight before kw_pool_submit says -ENOBUFS */
	const char
		*ntlm_user_file;  /* NTLM acceptor: DOMAIN:user:password file; NULL/"" = winbind */
	const char *ntlm_service; /* NTLM acceptor name, "HTTP@host"; NULL: HTTP@<hostname> */
	const char *http_service; /* what Kerberos tickets must be for (kw_config.http_service) */
	const struct groups_table *groups; /* require_group table; NULL or empty: no lookups */
	kw_verdict_fn on_verdict;	   /* called from a worker thread */
	void *arg;
};

#define KW_POOL_MAX_THREADS 256

struct kw_pool_stats {
	uint64_t submitted;
	uint64_t rejected_full;
	uint64_t completed;
	uint64_t hung;		      /* workers abandoned past the deadline: 503, slot reclaimed */
	uint64_t slots_reclaimed;     /* semaphore slots given back for those workers */
	uint64_t groups_from_pac;     /* require_group bits read from a Kerberos PAC */
	uint64_t groups_from_winbind; /* ... asked of winbind (NTLM, Basic, tickets with no PAC) */
	uint64_t ntlm_dc_pings; /* winbind asked about its DC after a winbind-validated refusal */
	uint64_t by_reason[KW_REASON_COUNT];
};

struct kw_pool;

struct kw_pool *kw_pool_create(const struct kw_pool_config *cfg);
/* Copies the job; -ENOBUFS when queue_size jobs are in flight, -ESHUTDOWN after stop. */
int kw_pool_submit(struct kw_pool *p, const struct kw_job *job);
/*
 * Abandons workers whose job is still unanswered the trust's timeout after it was submitted
 * (queue wait included: the bound is the client's): each such job is answered
 * KW_ERR_WORKER_HUNG (KW_STAGE_EARLY), its slot released and counted, a
 * new thread started in its place. Call it periodically from a thread of your own: when every
 * worker hangs, none of them can. Returns the number abandoned.
 */
unsigned int kw_pool_watchdog(struct kw_pool *p);
/*
 * A reload: at least threads workers (not counting stuck ones), and the deadline of jobs
 * from now on (0: unchanged). 0 or -errno.
 */
int kw_pool_grow(struct kw_pool *p, unsigned int threads, uint64_t deadline_ns);
/*
 * Finishes queued jobs, waits for the threads (each has freed its krb5 and GSS objects by
 * then, so the process may exit), frees everything.
 */
void kw_pool_destroy(struct kw_pool *p);
/* Tests: workers of any pool still holding library objects; a sleep before they free them. */
unsigned int kw_pool_threads_holding(void);
extern unsigned int kw_fini_delay_us;
void kw_pool_get_stats(struct kw_pool *p, struct kw_pool_stats *stats_out);

#endif
