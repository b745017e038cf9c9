/* Trusts (realms/domains a gateway accepts) and the router that picks one from a client token. */
#ifndef AG_CONTROL_TRUST_H
#define AG_CONTROL_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ini.h"
#include "control/sema.h"

#define TRUST_MAX	  64
#define TRUST_NAME_MAX	  256 /* RFC 4120 realms are GeneralStrings; 255 is plenty */
#define TRUST_PATH_MAX	  4096
#define TRUST_NETBIOS_MAX 16 /* 15 characters + NUL */
#define TRUST_WORKERS_MAX 64 /* validator threads a trust may ask for */
#define TRUST_INDEX_NONE  UINT32_MAX

enum trust_kind {
	TRUST_KIND_KERBEROS, /* tickets validated with the keytab; Basic by AS-REQ to its KDC */
	TRUST_KIND_NTLM,     /* NTLM via gss-ntlmssp: user_file (labs) or winbind to a DC */
	TRUST_KIND_BASIC,    /* Basic only: AS-REQ to the trust's KDC, no tickets taken */
};

/*
 * One [trust REALM] section, written by the INI engine straight from trust_keys: each key's
 * range and default are stated there and nowhere else.
 */
struct trust_config {
	char realm[TRUST_NAME_MAX]; /* case-sensitive, as in tickets (AUTHGATE.TEST) */
	enum trust_kind kind;
	char keytab[TRUST_PATH_MAX];	      /* "" means KRB5_KTNAME / the default keytab */
	char netbios_name[TRUST_NETBIOS_MAX]; /* NTLM / DOMAIN\user name; compared ignoring case */
	char user_file[TRUST_PATH_MAX];	      /* ntlm: DOMAIN:user:password file; "" = winbind */
	unsigned int max_concurrent_api;      /* MaxConcurrentApi slots */
	uint64_t timeout_ns;		      /* semaphore deadline ([trust] timeout_s) */
	uint64_t warning_threshold_ns;	      /* slow-wait events; 0 = off */
	unsigned int workers;		      /* validator threads */
	bool replay_cache;		      /* keep the rcache on */
	bool pac_validation;	/* a Kerberos validation takes a slot (IIS's PAC check at the DC) */
	bool ignore_case;	/* principals of this realm compare ignoring case (AD), not MIT */
	sema_event_fn on_event; /* semaphore events (5816-5819 style); may be NULL */
	void *event_arg;
};

/* The keys of [trust REALM] (the NAME is the realm), their ranges and defaults. */
extern const struct ini_key trust_keys[];

/* Read-only once built: the router and workers share it without locks. */
struct trust {
	struct trust_config cfg;
	struct sema *sema;
	uint32_t index;
};

struct trust_table {
	uint32_t count;
	struct trust trusts[TRUST_MAX];
};

enum trust_mech {
	TRUST_MECH_UNKNOWN,
	TRUST_MECH_KRB5,  /* AP-REQ, raw GSS krb5 or inside SPNEGO */
	TRUST_MECH_NTLM,  /* NTLMSSP message, raw or inside SPNEGO */
	TRUST_MECH_BASIC, /* "user:password" from Authorization: Basic, routed by basic_route */
};

/* What the router learned from a token, without decrypting anything. */
struct trust_token_info {
	enum trust_mech mech;
	int spnego;	      /* wrapped in a SPNEGO NegTokenInit/NegTokenResp */
	const uint8_t *realm; /* krb5: the ticket realm, pointing into the token */
	size_t realm_len;
	uint32_t ntlm_msg_type;	   /* ntlm: 1 negotiate, 2 challenge, 3 authenticate */
	const uint8_t *mech_token; /* the token without SPNEGO around it (or all of it) */
	size_t mech_token_len;
	const uint8_t *spnego_oid; /* spnego: first offered mechanism, OID value bytes */
	size_t spnego_oid_len;
};

struct trust_route {
	enum trust_mech mech;
	uint32_t trust_index; /* TRUST_INDEX_NONE for NTLM: routed by its Type 3 domain later */
	int spnego;
};

/* Every field its [trust] default; realm empty. */
void trust_config_defaults(struct trust_config *cfg);
/* 0, or -EINVAL when a field is out of range (the message names it in *why_out, valid until the
 * thread's next call). */
int trust_config_check(const struct trust_config *cfg, const char **why_out);

void trust_table_init(struct trust_table *tt);
/* Creates the trust's semaphore; -EEXIST for a duplicate realm, -ENOSPC, -EINVAL. */
int trust_table_add(struct trust_table *tt, const struct trust_config *cfg, uint32_t *index_out);
void trust_table_fini(struct trust_table *tt);
/* -ENOENT when no trust has this realm. */
int trust_lookup_realm(const struct trust_table *tt, const uint8_t *realm, size_t len,
		       uint32_t *index_out);
/*
 * The trust that validates MECH for a realm (exact) or NetBIOS domain (case ignored), or
 * -ENOENT. Kerberos and Basic trusts take Basic; only NTLM trusts take NTLM.
 */
int trust_lookup_for(const struct trust_table *tt, enum trust_mech mech, const char *realm,
		     size_t realm_len, const char *netbios, size_t netbios_len,
		     uint32_t *index_out);
/* Does a trust of kind K validate MECH? */
int trust_kind_takes(enum trust_kind k, enum trust_mech mech);

/*
 * Parse a Negotiate/NTLM token far enough to route it. Returns 0, -EBADMSG for a
 * malformed token, -EPROTONOSUPPORT for a mechanism we do not route, -ENODATA for a
 * SPNEGO token that carries no mechanism token.
 */
int trust_parse_token(const uint8_t *tok, size_t len, struct trust_token_info *info_out);

/*
 * Pick the trust for a token. As trust_parse_token(), plus -ENOENT when the ticket's
 * realm is not a configured trust: the gateway answers 401 at once, no worker involved.
 */
int trust_route_token(const struct trust_table *tt, const uint8_t *tok, size_t len,
		      struct trust_route *route_out);

const char *trust_mech_str(enum trust_mech m);
const char *trust_kind_str(enum trust_kind k);

#endif
