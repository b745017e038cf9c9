/* Trust table and token router: a bounds-checked DER walk to the cleartext ticket realm. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "control/trust.h"

/* DER tags the router needs (all low-tag-number form). */
#define DER_GSS_FRAME 0x60 /* [APPLICATION 0] InitialContextToken, RFC 2743 3.1 */
#define DER_OID	      0x06
#define DER_SEQUENCE  0x30
#define DER_OCTETS    0x04
#define DER_GENSTRING 0x1b
#define DER_APREQ     0x6e /* [APPLICATION 14] */
#define DER_TICKET    0x61 /* [APPLICATION 1] */
#define DER_CTX(n)    (0xa0 | (n))

static const uint8_t oid_spnego[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};
static const uint8_t oid_krb5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
/* Windows announces krb5 under this mistaken OID as well (1.2.840.48018.1.2.2). */
static const uint8_t oid_krb5_ms[] = {0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t oid_ntlm[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};
static const uint8_t ntlm_sig[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};

/* A view of bytes not yet read; every read shrinks it and never steps past its end. */
struct der {
	const uint8_t *p;
	size_t len;
};

/* Read one TLV; its value becomes *val_out. -EBADMSG on anything DER would not allow here. */
static int
der_next(struct der *d, uint8_t *tag_out, struct der *val_out)
{
	size_t vlen, n, i, hdr;

	if (d->len < 2)
		return -EBADMSG;
	if ((d->p[0] & 0x1f) == 0x1f)
		return -EBADMSG; /* high tag numbers never occur in these messages */
	if (d->p[1] < 0x80) {
		vlen = d->p[1];
		hdr = 2;
	} else {
		n = d->p[1] & 0x7f;
		/* 0x80 would be BER's indefinite length; >4 bytes exceeds any token we take */
		if (n == 0 || n > 4 || d->len - 2 < n)
			return -EBADMSG;
		vlen = 0;
		for (i = 0; i < n; i++)
			vlen = (vlen << 8) | d->p[2 + i];
		hdr = 2 + n;
	}
	if (vlen > d->len - hdr)
		return -EBADMSG;
	*tag_out = d->p[0];
	val_out->p = d->p + hdr;
	val_out->len = vlen;
	d->p += hdr + vlen;
	d->len -= hdr + vlen;
	return 0;
}

static int
der_expect(struct der *d, uint8_t tag, struct der *val_out)
{
	uint8_t t;
	int ret;

	ret = der_next(d, &t, val_out);
	if (ret != 0)
		return ret;
	return t == tag ? 0 : -EBADMSG;
}

/* Find the context-tagged field [n] in a SEQUENCE body; fields appear in ascending order. */
static int
der_find_ctx(struct der seq, unsigned int n, struct der *val_out)
{
	uint8_t t;
	int ret;

	while (seq.len > 0) {
		ret = der_next(&seq, &t, val_out);
		if (ret != 0)
			return ret;
		if (t == DER_CTX(n))
			return 0;
	}
	return -EBADMSG;
}

static int
der_oid_is(const struct der *oid, const uint8_t *want, size_t want_len)
{
	return oid->len == want_len && memcmp(oid->p, want, want_len) == 0;
}

/* AP-REQ → ticket → realm (RFC 4120 5.5.1, 5.3). */
static int
trust_parse_ap_req(struct der d, struct trust_token_info *info)
{
	struct der apreq, seq, field, ticket, tseq, realm;
	size_t i;
	int ret;

	if ((ret = der_expect(&d, DER_APREQ, &apreq)) != 0)
		return ret;
	if ((ret = der_expect(&apreq, DER_SEQUENCE, &seq)) != 0)
		return ret;
	if ((ret = der_find_ctx(seq, 3, &field)) != 0)
		return ret;
	if ((ret = der_expect(&field, DER_TICKET, &ticket)) != 0)
		return ret;
	if ((ret = der_expect(&ticket, DER_SEQUENCE, &tseq)) != 0)
		return ret;
	if ((ret = der_find_ctx(tseq, 1, &field)) != 0)
		return ret;
	if ((ret = der_expect(&field, DER_GENSTRING, &realm)) != 0)
		return ret;
	if (realm.len == 0 || realm.len >= TRUST_NAME_MAX)
		return -EBADMSG;
	/* realms are printable ASCII in practice; anything else is not worth a lookup */
	for (i = 0; i < realm.len; i++)
		if (realm.p[i] < 0x21 || realm.p[i] > 0x7e)
			return -EBADMSG;
	info->mech = TRUST_MECH_KRB5;
	info->realm = realm.p;
	info->realm_len = realm.len;
	return 0;
}

static int
trust_parse_ntlm(struct der d, struct trust_token_info *info)
{
	if (d.len < 12 || memcmp(d.p, ntlm_sig, sizeof(ntlm_sig)) != 0)
		return -EBADMSG;
	info->mech = TRUST_MECH_NTLM;
	info->ntlm_msg_type = (uint32_t)d.p[8] | (uint32_t)d.p[9] << 8 | (uint32_t)d.p[10] << 16 |
			      (uint32_t)d.p[11] << 24;
	if (info->ntlm_msg_type < 1 || info->ntlm_msg_type > 3)
		return -EBADMSG;
	return 0;
}

/* A mechanism token with no SPNEGO around it: framed krb5 (RFC 4121 4.1) or NTLMSSP. */
static int
trust_parse_inner(struct der d, struct trust_token_info *info)
{
	struct der frame, oid;
	int ret;

	info->mech_token = d.p;
	info->mech_token_len = d.len;
	if (d.len >= sizeof(ntlm_sig) && memcmp(d.p, ntlm_sig, sizeof(ntlm_sig)) == 0)
		return trust_parse_ntlm(d, info);
	if ((ret = der_expect(&d, DER_GSS_FRAME, &frame)) != 0)
		return ret;
	if (d.len != 0)
		return -EBADMSG;
	if ((ret = der_expect(&frame, DER_OID, &oid)) != 0)
		return ret;
	if (der_oid_is(&oid, oid_ntlm, sizeof(oid_ntlm)))
		return trust_parse_ntlm(frame, info);
	if (!der_oid_is(&oid, oid_krb5, sizeof(oid_krb5)) &&
	    !der_oid_is(&oid, oid_krb5_ms, sizeof(oid_krb5_ms)))
		return -EPROTONOSUPPORT;
	/* TOK_ID 01 00: KRB_AP_REQ */
	if (frame.len < 2 || frame.p[0] != 0x01 || frame.p[1] != 0x00)
		return -EPROTONOSUPPORT;
	frame.p += 2;
	frame.len -= 2;
	return trust_parse_ap_req(frame, info);
}

/* The mechanism a SPNEGO initiator named first (its optimistic token is for that one). */
static enum trust_mech
trust_spnego_first_mech(struct der mech_types, struct trust_token_info *info)
{
	struct der list, oid;

	if (der_expect(&mech_types, DER_SEQUENCE, &list) != 0 ||
	    der_expect(&list, DER_OID, &oid) != 0)
		return TRUST_MECH_UNKNOWN;
	info->spnego_oid = oid.p;
	info->spnego_oid_len = oid.len;
	if (der_oid_is(&oid, oid_krb5, sizeof(oid_krb5)) ||
	    der_oid_is(&oid, oid_krb5_ms, sizeof(oid_krb5_ms)))
		return TRUST_MECH_KRB5;
	if (der_oid_is(&oid, oid_ntlm, sizeof(oid_ntlm)))
		return TRUST_MECH_NTLM;
	return TRUST_MECH_UNKNOWN;
}

/* NegTokenInit [0] or NegTokenResp [1] (RFC 4178 4.2); both carry the inner token in [2]. */
static int
trust_parse_negotiation(struct der d, struct trust_token_info *info)
{
	struct der choice, seq, field, octets;
	enum trust_mech first = TRUST_MECH_UNKNOWN;
	uint8_t tag;
	int ret;

	if ((ret = der_next(&d, &tag, &choice)) != 0)
		return ret;
	if ((tag != DER_CTX(0) && tag != DER_CTX(1)) || d.len != 0)
		return -EBADMSG;
	if ((ret = der_expect(&choice, DER_SEQUENCE, &seq)) != 0)
		return ret;
	if (tag == DER_CTX(0) && der_find_ctx(seq, 0, &field) == 0)
		first = trust_spnego_first_mech(field, info);
	ret = der_find_ctx(seq, 2, &field);
	if (ret != 0) {
		/* no mechToken: nothing to validate yet, but say which mechanism it wants */
		info->mech = first;
		return -ENODATA;
	}
	if ((ret = der_expect(&field, DER_OCTETS, &octets)) != 0)
		return ret;
	info->spnego = 1;
	return trust_parse_inner(octets, info);
}

int
trust_parse_token(const uint8_t *tok, size_t len, struct trust_token_info *info_out)
{
	struct trust_token_info info;
	struct der d = {tok, len}, frame, oid;
	int ret;

	memset(&info, 0, sizeof(info));
	if (tok == NULL || len == 0)
		return -EBADMSG;
	if (tok[0] == DER_CTX(1)) {
		/* a later SPNEGO leg (NegTokenResp) has no GSS framing */
		ret = trust_parse_negotiation(d, &info);
	} else if (tok[0] == DER_GSS_FRAME) {
		struct der peek = d;

		if ((ret = der_expect(&peek, DER_GSS_FRAME, &frame)) != 0)
			return ret;
		if ((ret = der_expect(&frame, DER_OID, &oid)) != 0)
			return ret;
		if (der_oid_is(&oid, oid_spnego, sizeof(oid_spnego))) {
			if (peek.len != 0)
				return -EBADMSG;
			ret = trust_parse_negotiation(frame, &info);
		} else {
			ret = trust_parse_inner(d, &info);
		}
	} else {
		ret = trust_parse_inner(d, &info);
	}
	/* -ENODATA still tells the caller which mechanism the client asked for */
	if (ret != 0 && ret != -ENODATA)
		return ret;
	if (ret == -ENODATA)
		info.spnego = 1;
	*info_out = info;
	return ret;
}

int
trust_route_token(const struct trust_table *tt, const uint8_t *tok, size_t len,
		  struct trust_route *route_out)
{
	struct trust_token_info info;
	uint32_t index = TRUST_INDEX_NONE;
	int ret;

	ret = trust_parse_token(tok, len, &info);
	if (ret != 0)
		return ret;
	if (info.mech == TRUST_MECH_KRB5) {
		ret = trust_lookup_realm(tt, info.realm, info.realm_len, &index);
		if (ret != 0)
			return ret;
	}
	route_out->mech = info.mech;
	route_out->trust_index = index;
	route_out->spnego = info.spnego;
	return 0;
}

int
trust_lookup_realm(const struct trust_table *tt, const uint8_t *realm, size_t len,
		   uint32_t *index_out)
{
	uint32_t i;

	for (i = 0; i < tt->count; i++) {
		const struct trust *t = &tt->trusts[i];

		if (t->cfg.kind == TRUST_KIND_KERBEROS && strlen(t->cfg.realm) == len &&
		    memcmp(t->cfg.realm, realm, len) == 0) {
			*index_out = i;
			return 0;
		}
	}
	return -ENOENT;
}

int
trust_kind_takes(enum trust_kind k, enum trust_mech mech)
{
	switch (mech) {
	case TRUST_MECH_KRB5:
		return k == TRUST_KIND_KERBEROS;
	case TRUST_MECH_BASIC:
		/* an AS exchange needs a KDC; an NTLM-only domain has none we know of */
		return k == TRUST_KIND_KERBEROS || k == TRUST_KIND_BASIC;
	case TRUST_MECH_NTLM:
		return k == TRUST_KIND_NTLM;
	case TRUST_MECH_UNKNOWN:
		break;
	}
	return 0;
}

int
trust_lookup_for(const struct trust_table *tt, enum trust_mech mech, const char *realm,
		 size_t realm_len, const char *netbios, size_t netbios_len, uint32_t *index_out)
{
	uint32_t i;

	for (i = 0; i < tt->count; i++) {
		const struct trust *t = &tt->trusts[i];

		if (!trust_kind_takes(t->cfg.kind, mech))
			continue;
		if (realm != NULL && strlen(t->cfg.realm) == realm_len &&
		    memcmp(t->cfg.realm, realm, realm_len) == 0)
			goto found;
		/* NetBIOS names are case-insensitive; clients send them as the user typed */
		if (netbios != NULL && netbios_len > 0 &&
		    strlen(t->cfg.netbios_name) == netbios_len &&
		    strncasecmp(t->cfg.netbios_name, netbios, netbios_len) == 0)
			goto found;
	}
	return -ENOENT;
found:
	*index_out = i;
	return 0;
}

static const char *const trust_kind_choices[] = {"kerberos", "ntlm", "basic", NULL};

#define STR(x)	 VALUE(x)
#define VALUE(x) #x

const struct ini_key trust_keys[] = {
	INI_E(trust_config, kind, trust_kind_choices, "kerberos"),
	INI_S(trust_config, keytab, INI_STRING, ""),
	INI_U(trust_config, max_concurrent_api, SEMA_SLOTS_MIN, SEMA_SLOTS_MAX,
	      STR(SEMA_SLOTS_DEFAULT)),
	INI_SECONDS_NS(trust_config, timeout_ns, "timeout_s", 1, 3600, STR(SEMA_TIMEOUT_DEFAULT_S)),
	INI_SECONDS_NS(trust_config, warning_threshold_ns, "warning_threshold_s", 0, 3600, "0"),
	INI_U(trust_config, workers, 1, TRUST_WORKERS_MAX, "2"),
	INI_B(trust_config, replay_cache, "yes"),
	INI_B(trust_config, pac_validation, "yes"),
	INI_B(trust_config, ignore_case, "no"),
	INI_S(trust_config, netbios_name, INI_STRING, ""),
	INI_S(trust_config, user_file, INI_STRING, ""),
	INI_END,
};

void
trust_config_defaults(struct trust_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	ini_defaults(trust_keys, cfg);
}

int
trust_config_check(const struct trust_config *cfg, const char **why_out)
{
	static __thread char range[96];
	const char *why = NULL;
	size_t rlen = strnlen(cfg->realm, sizeof(cfg->realm));

	if (rlen == 0 || rlen == sizeof(cfg->realm))
		why = "realm must be 1..255 characters";
	else if (ini_validate(trust_keys, cfg, range, sizeof(range)) < 0)
		why = range;
	else if (strnlen(cfg->keytab, sizeof(cfg->keytab)) == sizeof(cfg->keytab))
		why = "keytab path too long";
	else if (strnlen(cfg->netbios_name, sizeof(cfg->netbios_name)) == sizeof(cfg->netbios_name))
		why = "netbios_name is at most 15 characters";
	else if (cfg->kind == TRUST_KIND_NTLM && cfg->netbios_name[0] == '\0')
		why = "an ntlm trust needs netbios_name (the domain its Type 3 messages name)";
	else if (strnlen(cfg->user_file, sizeof(cfg->user_file)) == sizeof(cfg->user_file))
		why = "user_file path too long";
	if (why == NULL)
		return 0;
	if (why_out != NULL)
		*why_out = why;
	return -EINVAL;
}

void
trust_table_init(struct trust_table *tt)
{
	memset(tt, 0, sizeof(*tt));
}

int
trust_table_add(struct trust_table *tt, const struct trust_config *cfg, uint32_t *index_out)
{
	struct sema_config sc = {0};
	struct trust *t;
	uint32_t i;

	if (trust_config_check(cfg, NULL) != 0)
		return -EINVAL;
	for (i = 0; i < tt->count; i++)
		if (strcmp(tt->trusts[i].cfg.realm, cfg->realm) == 0)
			return -EEXIST;
	if (tt->count == TRUST_MAX)
		return -ENOSPC;
	sc.name = cfg->realm;
	sc.max_concurrent_api = cfg->max_concurrent_api;
	sc.timeout_ns = cfg->timeout_ns;
	sc.warning_threshold_ns = cfg->warning_threshold_ns;
	sc.admission = 1;
	sc.on_event = cfg->on_event;
	sc.event_arg = cfg->event_arg;
	t = &tt->trusts[tt->count];
	t->sema = sema_create(&sc);
	if (t->sema == NULL)
		return -errno;
	t->cfg = *cfg;
	t->index = tt->count;
	if (index_out != NULL)
		*index_out = tt->count;
	tt->count++;
	return 0;
}

void
trust_table_fini(struct trust_table *tt)
{
	uint32_t i;

	for (i = 0; i < tt->count; i++) {
		sema_destroy(tt->trusts[i].sema);
		tt->trusts[i].sema = NULL;
	}
	tt->count = 0;
}

const char *
trust_mech_str(enum trust_mech m)
{
	switch (m) {
	case TRUST_MECH_UNKNOWN:
		return "unknown";
	case TRUST_MECH_KRB5:
		return "kerberos";
	case TRUST_MECH_NTLM:
		return "ntlm";
	case TRUST_MECH_BASIC:
		return "basic";
	}
	return "unknown";
}

const char *
trust_kind_str(enum trust_kind k)
{
	switch (k) {
	case TRUST_KIND_KERBEROS:
		return "kerberos";
	case TRUST_KIND_NTLM:
		return "ntlm";
	case TRUST_KIND_BASIC:
		return "basic";
	}
	return "unknown";
}
