/* NTLM: NTLMSSP message parsing, the per-flow half-open context table, and the gss-ntlmssp legs. */
#ifndef AG_CONTROL_NTLM_H
#define AG_CONTROL_NTLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/krb5_worker.h"
#include "control/trust.h"

#define NTLM_NAME_MAX		    256
#define NTLM_CTX_TIMEOUT_DEFAULT_NS (30ULL * 1000000000ULL)
#define NTLM_CTX_MAX_DEFAULT	    65536

#define NTLMSSP_NEGOTIATE_UNICODE 0x00000001u
#define NTLMSSP_NEGOTIATE_VERSION 0x02000000u

/* MS-NLMP fixed parts: without and with the 8-byte Version field */
#define NTLM_TYPE1_FIXED	 32
#define NTLM_TYPE1_FIXED_VERSION 40
#define NTLM_TYPE3_FIXED	 64
#define NTLM_TYPE3_FIXED_VERSION 72

/* What ntlm_normalise did to a message (a bit set; 0 = passed as is). */
enum ntlm_fixup {
	NTLM_FIXUP_TYPE1_PADDED = 1,	 /* a short NEGOTIATE got its zero Version appended */
	NTLM_FIXUP_TYPE3_NO_VERSION = 2, /* an AUTHENTICATE's false VERSION flag was cleared */
};

/* What a raw NTLMSSP message (MS-NLMP 2.2.1) says about itself; names are ASCII-folded. */
struct ntlm_msg_info {
	uint32_t type;		    /* 1 NEGOTIATE, 2 CHALLENGE, 3 AUTHENTICATE */
	uint32_t flags;		    /* Type 1 and 3: NegotiateFlags */
	char domain[NTLM_NAME_MAX]; /* Type 3: DomainName as sent, "" when empty */
	char user[NTLM_NAME_MAX];   /* Type 3: UserName */
};

/*
 * Parse a raw NTLMSSP message (not SPNEGO: trust_parse_token unwraps that). Every field
 * offset is bounds-checked. Type 3 names in UTF-16LE (UNICODE flag) or OEM; characters
 * outside ASCII become '?', so they match no trust. -EBADMSG for anything malformed.
 */
int ntlm_parse_msg(const uint8_t *msg, size_t len, struct ntlm_msg_info *info_out);

/*
 * Rewrites, in place, what a real client sends in the shape gss-ntlmssp 1.2 decodes, without
 * changing what it means. msg holds len bytes and has room for cap; returns the new length
 * (or len when nothing changed, or for anything not NTLMSSP) and sets *fixups_out.
 *
 * - NEGOTIATE shorter than 40 bytes (curl: 32, no Version): gss-ntlmssp refuses anything
 *   shorter than its 40-byte struct. Zeros are appended; a zero Version means "not sent".
 * - AUTHENTICATE whose flags say NTLMSSP_NEGOTIATE_VERSION but whose payload starts before
 *   byte 72, where there is no room for a Version: gss-ntlmssp >= 1.2 forces the VERSION flag
 *   into its CHALLENGE when the client asked to sign (curl asks for ALWAYS_SIGN), curl echoes
 *   the CHALLENGE's flags in its AUTHENTICATE but never writes a Version, and gss-ntlmssp then
 *   takes the payload to start at 72 and refuses curl's LM response at 64 as out of bounds
 *   ("Failed to decode data"). The flag is cleared. Neither the NTLMv2 response nor the
 *   session key covers the flags, and a message without a Version carries no MIC either.
 */
size_t ntlm_normalise(uint8_t *msg, size_t len, size_t cap, unsigned int *fixups_out);

/*
 * The trust for a Type 3: its domain by netbios_name (case ignored) or realm, an empty
 * domain by default_trust. Only kind ntlm trusts count. -ENOENT: answer 401, no worker.
 */
int ntlm_route_type3(const struct trust_table *tt, const char *default_trust,
		     const struct ntlm_msg_info *m, uint32_t *index_out);

/* ---- half-open contexts, one per flow, between Type 1 and Type 3 ---- */

/* Releases an entry's context; for GSS contexts, ntlm_ctx_free. */
typedef void (*ntlm_ctx_free_fn)(void *ctx);

struct ntlm_table_config {
	unsigned int max_entries;  /* live contexts; 0 = NTLM_CTX_MAX_DEFAULT */
	uint64_t timeout_ns;	   /* idle since its last leg; 0 = 30 s */
	ntlm_ctx_free_fn free_ctx; /* NULL: contexts are not freed (tests) */
};

struct ntlm_table_stats {
	uint64_t created;      /* Type 1 legs that got a context slot */
	uint64_t completed;    /* exchanges ended by a final verdict (ok or refused) */
	uint64_t closed;       /* freed because the dataplane said the flow closed */
	uint64_t timed_out;    /* freed by the sweep (or found expired by a Type 3) */
	uint64_t replaced;     /* freed by a new Type 1 or another generation of the flow */
	uint64_t stale_closes; /* close messages naming no context (or another generation) */
	uint64_t no_context;   /* Type 3 with no context to continue */
	uint64_t full;	       /* Type 1 refused: max_entries live */
	uint64_t busy;	       /* a leg while the flow's context was lent to a job */
	uint32_t live;	       /* contexts held now */
};

struct ntlm_table;
struct ntlm_entry;

/* NULL with errno set. */
struct ntlm_table *ntlm_table_create(const struct ntlm_table_config *cfg);
/* Frees every context; no entry may be lent (the pool is gone). */
void ntlm_table_destroy(struct ntlm_table *t);

/*
 * Type 1: a fresh slot for the flow, lent to the caller until ntlm_table_end. A context the
 * flow already had (a restarted handshake, or an older generation of the slot) is freed.
 * -ENOSPC when max_entries are live, -EBUSY when the flow's context is lent already.
 */
int ntlm_table_begin(struct ntlm_table *t, uint16_t lcore, uint64_t flow_id, uint32_t flow_gen,
		     bool spnego, uint64_t now_ns, struct ntlm_entry **entry_out);
/*
 * Type 3: lend the flow's context. -ENOENT when there is none for this generation (or it
 * expired: freed now), -EBUSY when lent already.
 */
int ntlm_table_resume(struct ntlm_table *t, uint16_t lcore, uint64_t flow_id, uint32_t flow_gen,
		      uint64_t now_ns, struct ntlm_entry **entry_out);
/* The context pointer the GSS call reads and writes (a gss_ctx_id_t stored as void *). */
void **ntlm_entry_ctx(struct ntlm_entry *e);
bool ntlm_entry_spnego(const struct ntlm_entry *e);
/* The borrowing job is done: keep = the exchange goes on (Type 2 sent), else free it. */
void ntlm_table_end(struct ntlm_table *t, struct ntlm_entry *e, bool keep, uint64_t now_ns);
/* The flow closed: free its context now, or when the job that borrowed it gives it back. */
void ntlm_table_flow_closed(struct ntlm_table *t, uint16_t lcore, uint64_t flow_id,
			    uint32_t flow_gen);
/* Free contexts idle longer than the timeout; returns how many. */
unsigned int ntlm_table_sweep(struct ntlm_table *t, uint64_t now_ns);
void ntlm_table_get_stats(struct ntlm_table *t, struct ntlm_table_stats *stats_out);

/* ---- the GSS side (gss-ntlmssp, OID 1.3.6.1.4.1.311.2.2.10) ---- */

struct ntlm_acceptor;

/*
 * One per worker thread: a raw NTLM acceptor credential and a SPNEGO one restricted to
 * NTLM. user_file: gss-ntlmssp's DOMAIN:user:password file (cred store ntlmssp_keyfile);
 * NULL or "" leaves it to gss-ntlmssp (winbind, or NTLM_USER_FILE). service: the acceptor
 * name "HTTP@host"; NULL = HTTP@<hostname>. NULL + errno.
 */
struct ntlm_acceptor *ntlm_acceptor_create(const char *user_file, const char *service);
void ntlm_acceptor_destroy(struct ntlm_acceptor *a);

/*
 * One leg on the context in *ctx_slot (a gss_ctx_id_t; NULL starts an exchange). Verdict:
 * KW_NTLM_CHALLENGE with the Type 2 (or SPNEGO NegTokenResp) in reply; KW_OK with the
 * principal (DOMAIN\user), expiry, and for SPNEGO the final NegTokenResp; or a refusal.
 * Returns 0 for challenge and ok, -EACCES otherwise.
 */
int ntlm_accept_leg(struct ntlm_acceptor *a, void **ctx_slot, bool spnego, const uint8_t *tok,
		    size_t len, const uint8_t *cb, size_t cb_len, struct kw_verdict *v);

/*
 * Does this AUTHENTICATE (raw NTLMSSP) carry channel bindings, an MsvAvChannelBindings pair
 * in its NTLMv2 response that is not all zeros? 1 yes (the 16 bytes in cb_out), 0 no,
 * -EBADMSG when malformed. The NTLMv2 proof covers the pair: the domain checks it is the
 * client's, this only reads what the client claims.
 */
int ntlm_type3_cb(const uint8_t *msg, size_t len, uint8_t cb_out[16]);
/*
 * What a client that binds to application data app puts in MsvAvChannelBindings: the MD5 of
 * the RFC 2744 bindings struct with zero addresses (MS-NLMP 3.1.5.1.2).
 */
void ntlm_cb_hash(const uint8_t *app, size_t len, uint8_t out[16]);
/* ntlm_ctx_free_fn for GSS contexts. */
void ntlm_ctx_free(void *ctx);

/* ---- the domain controller behind winbind ---- */

/* What winbind says of its DC (the other end of the machine's Netlogon secure channel). */
enum ntlm_dc_state {
	NTLM_DC_UP,	    /* the DC answered a Netlogon no-op: a refusal was the password's */
	NTLM_DC_DOWN,	    /* no DC reachable (winbindd offline) or no secure channel */
	NTLM_DC_UNKNOWN,    /* winbind could not ask (no memory, unsupported): keep the verdict */
	NTLM_DC_NO_WINBIND, /* no winbindd answers on its socket */
};

/*
 * Asks winbind whether its domain's DC answers (wbcCtxPingDc2: a Netlogon no-op over the
 * secure channel, the path pass-through authentication takes). Blocking, as long as winbind
 * takes to reach the DC: call it from a worker, only after gss-ntlmssp refused a Type 3 that
 * went to winbind, because gss-ntlmssp reports every winbind failure (the DC's too) as
 * EACCES. libwbclient pings only winbind's own domain (its DC also carries pass-through for
 * trusted domains). *wb_slot is the calling thread's wbcContext, made on first use (free it
 * with ntlm_dc_ctx_free). detail (may be NULL) gets winbind's answer for logs.
 */
enum ntlm_dc_state ntlm_dc_ping(void **wb_slot, char *detail, size_t size);
void ntlm_dc_ctx_free(void *wb);

/*
 * Whether the user file at path (gss-ntlmssp's DOMAIN:user:password lines, '#' comments)
 * holds the user a Type 3 names (raw or in SPNEGO), as gss-ntlmssp looks it up: user and
 * domain with case ignored, a message without a domain matching any. An acceptor without a
 * user file reads NTLM_USER_FILE first and asks winbind only for users that file lacks, so
 * a refusal of a user found there was the file's, not the DC's. False when path is NULL or
 * unreadable, or the token is not a Type 3.
 */
bool ntlm_user_file_holds(const char *path, const uint8_t *tok, size_t len);

#endif
