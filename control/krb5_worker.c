/* Ticket validation (one GSS acceptor per thread) and the pool that runs krb5, NTLM and Basic jobs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>

#include "common/mono.h"
#include "control/basic.h"
#include "control/krb5_worker.h"
#include "control/ntlm.h"

static const uint8_t kw_oid_krb5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};

struct kw {
	krb5_context ctx; /* this thread's; GSS keeps its own per-thread state */
	gss_cred_id_t cred;
	char http_service[256]; /* "" = any; "HTTP" = any HTTP/ principal; "HTTP@host" */
	const struct groups_table *groups;
};

const char *
kw_reason_str(enum kw_reason r)
{
	switch (r) {
	case KW_OK:
		return "ok";
	case KW_ERR_MALFORMED:
		return "malformed-token";
	case KW_ERR_BAD_MECH:
		return "unsupported-mechanism";
	case KW_ERR_REPLAY:
		return "replay";
	case KW_ERR_KEY_VERSION:
		return "key-version-mismatch";
	case KW_ERR_INTEGRITY:
		return "integrity-check-failed";
	case KW_ERR_NO_KEY:
		return "no-service-key";
	case KW_ERR_WRONG_PRINCIPAL:
		return "wrong-service-principal";
	case KW_ERR_EXPIRED:
		return "ticket-expired";
	case KW_ERR_CLOCK_SKEW:
		return "clock-skew";
	case KW_ERR_CONTINUE_NEEDED:
		return "continue-needed";
	case KW_ERR_TOO_BIG:
		return "token-too-big";
	case KW_ERR_NO_TRUST:
		return "no-trust";
	case KW_ERR_BUSY_TIMEOUT:
		return "semaphore-timeout";
	case KW_ERR_BUSY_REJECTED:
		return "admission-rejected";
	case KW_ERR_INTERNAL:
		return "internal-error";
	case KW_NTLM_CHALLENGE:
		return "ntlm_challenge";
	case KW_ERR_BAD_PASSWORD:
		return "bad_password";
	case KW_ERR_CLIENT_UNKNOWN:
		return "client_unknown";
	case KW_ERR_PASSWORD_EXPIRED:
		return "password_expired";
	case KW_ERR_ACCOUNT_DISABLED:
		return "account_disabled";
	case KW_ERR_KDC_UNREACHABLE:
		return "kdc_unreachable";
	case KW_ERR_KDC_NOT_VERIFIED:
		return "kdc_not_verified";
	case KW_ERR_DC_UNAVAILABLE:
		return "dc_unavailable";
	case KW_ERR_WORKER_HUNG:
		return "worker_hung";
	case KW_ERR_CLIENT_REALM:
		return "client_realm_untrusted";
	case KW_ERR_CHANNEL_BINDING:
		return "channel_binding";
	case KW_REASON_COUNT:
		break;
	}
	return "unknown";
}

int
kw_reason_http_status(enum kw_reason r)
{
	switch (r) {
	case KW_OK:
		return 200;
	case KW_ERR_BUSY_TIMEOUT:
	case KW_ERR_BUSY_REJECTED:
	case KW_ERR_KDC_UNREACHABLE:
	case KW_ERR_DC_UNAVAILABLE:
	case KW_ERR_WORKER_HUNG:
		/* 401 would make the client prompt and retry at once, feeding the storm */
		return 503;
	case KW_ERR_INTERNAL:
		return 500;
	case KW_ERR_CLIENT_REALM:
		/* authenticated, and no trust of ours vouches for it: asking again will not help */
		return 403;
	default:
		return 401;
	}
}

struct kw *
kw_create(const struct kw_config *cfg)
{
	gss_key_value_element_desc elems[2];
	gss_key_value_set_desc store = {0, elems};
	gss_OID_set_desc mechs;
	gss_OID_desc mech_oids[1];
	gss_name_t name = GSS_C_NO_NAME;
	OM_uint32 major, minor;
	struct kw *kw;
	int err = EIO;

	kw = calloc(1, sizeof(*kw));
	if (kw == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	kw->cred = GSS_C_NO_CREDENTIAL;
	kw->groups = cfg->groups;
	if (cfg->http_service != NULL)
		snprintf(kw->http_service, sizeof(kw->http_service), "%s", cfg->http_service);
	if (krb5_init_context(&kw->ctx) != 0) {
		kw->ctx = NULL;
		goto cleanup;
	}
	if (cfg->keytab != NULL && cfg->keytab[0] != '\0') {
		elems[store.count].key = "keytab";
		elems[store.count++].value = cfg->keytab;
	}
	if (!cfg->replay_cache) {
		/* MIT's "none" replay cache type: every authenticator is taken as new */
		elems[store.count].key = "rcache";
		elems[store.count++].value = "none:";
	} else if (cfg->rcache_name != NULL && cfg->rcache_name[0] != '\0') {
		elems[store.count].key = "rcache";
		elems[store.count++].value = cfg->rcache_name;
	}
	if (cfg->service != NULL && cfg->service[0] != '\0') {
		gss_buffer_desc nb = {strlen(cfg->service), (void *)cfg->service};

		major = gss_import_name(&minor, &nb, GSS_C_NT_HOSTBASED_SERVICE, &name);
		if (GSS_ERROR(major)) {
			err = EINVAL;
			goto cleanup;
		}
	}
	/*
	 * krb5 only: SPNEGO is unwrapped here (trust_parse_token) rather than by the
	 * mechglue, which renumbers krb5 minor codes and would hide why a token failed.
	 */
	mech_oids[0] = *gss_mech_krb5;
	mechs.count = 1;
	mechs.elements = mech_oids;
	major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT, &store,
				      &kw->cred, NULL, NULL);
	if (GSS_ERROR(major)) {
		kw->cred = GSS_C_NO_CREDENTIAL;
		err = ENOKEY;
		goto cleanup;
	}
	err = 0;
cleanup:
	if (name != GSS_C_NO_NAME)
		gss_release_name(&minor, &name);
	if (err != 0) {
		kw_destroy(kw);
		errno = err;
		return NULL;
	}
	return kw;
}

void
kw_destroy(struct kw *kw)
{
	OM_uint32 minor;

	if (kw == NULL)
		return;
	if (kw->cred != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&minor, &kw->cred);
	if (kw->ctx != NULL)
		krb5_free_context(kw->ctx);
	free(kw);
}

/* The minor code says more than the major one, so it is asked first. */
static enum kw_reason
kw_map_status(OM_uint32 major, OM_uint32 minor)
{
	switch ((krb5_error_code)minor) {
	case KRB5KRB_AP_ERR_REPEAT:
	case KRB5_RC_REPLAY:
		return KW_ERR_REPLAY;
	case KRB5KRB_AP_ERR_BADKEYVER:
	case KRB5_KT_KVNONOTFOUND:
		return KW_ERR_KEY_VERSION;
	case KRB5KRB_AP_ERR_MODIFIED:
		return KW_ERR_INTEGRITY;
	case KRB5_KT_NOTFOUND:
		return KW_ERR_NO_KEY;
	case KRB5KRB_AP_ERR_NOT_US:
	case KRB5KRB_AP_WRONG_PRINC:
		return KW_ERR_WRONG_PRINCIPAL;
	case KRB5KRB_AP_ERR_TKT_EXPIRED:
		return KW_ERR_EXPIRED;
	case KRB5KRB_AP_ERR_SKEW:
		return KW_ERR_CLOCK_SKEW;
	default:
		break;
	}
	if (major & GSS_S_DUPLICATE_TOKEN)
		return KW_ERR_REPLAY;
	switch (GSS_ROUTINE_ERROR(major)) {
	case GSS_S_DEFECTIVE_TOKEN:
	case GSS_S_DEFECTIVE_CREDENTIAL:
		return KW_ERR_MALFORMED;
	case GSS_S_BAD_MECH:
		return KW_ERR_BAD_MECH;
	case GSS_S_CREDENTIALS_EXPIRED:
		return KW_ERR_EXPIRED;
	default:
		return KW_ERR_INTERNAL;
	}
}

/* Append gss_display_status text for one status code to buf. */
static void
kw_status_text(OM_uint32 code, int type, gss_OID mech, char *buf, size_t size)
{
	OM_uint32 minor, ctx = 0;
	gss_buffer_desc msg;
	size_t used;

	do {
		if (GSS_ERROR(gss_display_status(&minor, code, type, mech, &ctx, &msg)))
			return;
		used = strlen(buf);
		if (used + 3 < size)
			snprintf(buf + used, size - used, "%s%.*s", used ? "; " : "",
				 (int)msg.length, (const char *)msg.value);
		gss_release_buffer(&minor, &msg);
	} while (ctx != 0);
}

static size_t
kw_der_len_size(size_t n)
{
	return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 4;
}

static uint8_t *
kw_der_put_hdr(uint8_t *p, uint8_t tag, size_t n)
{
	*p++ = tag;
	if (n < 0x80) {
		*p++ = (uint8_t)n;
	} else if (n < 0x100) {
		*p++ = 0x81;
		*p++ = (uint8_t)n;
	} else if (n < 0x10000) {
		*p++ = 0x82;
		*p++ = (uint8_t)(n >> 8);
		*p++ = (uint8_t)n;
	} else {
		*p++ = 0x83;
		*p++ = (uint8_t)(n >> 16);
		*p++ = (uint8_t)(n >> 8);
		*p++ = (uint8_t)n;
	}
	return p;
}

#define KW_TLV_SIZE(n) (1 + kw_der_len_size(n) + (n))

/*
 * NegTokenResp { negState accept-completed, supportedMech, responseToken } (RFC 4178
 * 4.2.2). The mechanism echoed is the one the client offered first (Windows offers krb5
 * under its own OID), which is the one whose optimistic token we accepted, so no
 * mechListMIC is needed.
 */
static int
kw_spnego_reply(const uint8_t *oid, size_t oid_len, const uint8_t *tok, size_t tok_len,
		uint8_t *out, size_t cap, size_t *len_out)
{
	size_t state_len = KW_TLV_SIZE(3), mech_len, resp_len = 0, seq_len, total;
	uint8_t *p = out;

	mech_len = KW_TLV_SIZE(KW_TLV_SIZE(oid_len));
	if (tok_len > 0)
		resp_len = KW_TLV_SIZE(KW_TLV_SIZE(tok_len));
	seq_len = KW_TLV_SIZE(state_len + mech_len + resp_len);
	total = KW_TLV_SIZE(seq_len);
	if (total > cap)
		return -ENOSPC;
	p = kw_der_put_hdr(p, 0xa1, seq_len);
	p = kw_der_put_hdr(p, 0x30, state_len + mech_len + resp_len);
	p = kw_der_put_hdr(p, 0xa0, 3);
	p = kw_der_put_hdr(p, 0x0a, 1);
	*p++ = 0x00; /* accept-completed */
	p = kw_der_put_hdr(p, 0xa1, KW_TLV_SIZE(oid_len));
	p = kw_der_put_hdr(p, 0x06, oid_len);
	memcpy(p, oid, oid_len);
	p += oid_len;
	if (tok_len > 0) {
		p = kw_der_put_hdr(p, 0xa2, KW_TLV_SIZE(tok_len));
		p = kw_der_put_hdr(p, 0x04, tok_len);
		memcpy(p, tok, tok_len);
		p += tok_len;
	}
	*len_out = (size_t)(p - out);
	return 0;
}

/*
 * The ticket must be for the HTTP service: a keytab may hold host/ or cifs/ keys too, and a
 * ticket for those is no proof that the client meant to authenticate to this web service.
 */
static int
kw_check_service(struct kw *kw, gss_ctx_id_t gctx, struct kw_verdict *v)
{
	gss_name_t target = GSS_C_NO_NAME;
	gss_buffer_desc tn = GSS_C_EMPTY_BUFFER;
	OM_uint32 major, minor;
	const char *want = kw->http_service;
	size_t wl = strcspn(want, "@");
	int rc = -1;

	if (want[0] == '\0')
		return 0;
	major = gss_inquire_context(&minor, gctx, NULL, &target, NULL, NULL, NULL, NULL, NULL);
	if (GSS_ERROR(major) || target == GSS_C_NO_NAME)
		goto cleanup;
	major = gss_display_name(&minor, target, &tn, NULL);
	if (GSS_ERROR(major))
		goto cleanup;
	/* "HTTP/host@REALM" against "HTTP@host" (that host) or "HTTP" (any host) */
	if (tn.length > wl && strncasecmp(tn.value, want, wl) == 0 &&
	    ((const char *)tn.value)[wl] == '/') {
		const char *host = (const char *)tn.value + wl + 1;
		size_t hl = strcspn(host, "@");

		if (want[wl] == '\0' ||
		    (strlen(want + wl + 1) == hl && strncasecmp(host, want + wl + 1, hl) == 0))
			rc = 0;
	}
	if (rc != 0)
		snprintf(v->detail, sizeof(v->detail), "ticket for %.*s, not %.40s",
			 (int)(tn.length < 100 ? tn.length : 100), (const char *)tn.value, want);
cleanup:
	if (rc != 0)
		v->reason = KW_ERR_WRONG_PRINCIPAL;
	if (tn.value != NULL)
		gss_release_buffer(&minor, &tn);
	if (target != GSS_C_NO_NAME)
		gss_release_name(&minor, &target);
	return rc;
}

/* The PAC's group SIDs (a ticket from an AD KDC) as the verdict's require_group bits. */
static void
kw_pac_groups(struct kw *kw, gss_name_t src, struct kw_verdict *v)
{
	static const char attr_name[] = "urn:mspac:logon-info";
	gss_buffer_desc attr = {sizeof(attr_name) - 1, (void *)attr_name};
	gss_buffer_desc value = GSS_C_EMPTY_BUFFER;
	char(*sids)[GROUPS_SID_MAX];
	int authenticated = 0, complete = 0, more = -1, n;
	OM_uint32 major, minor;

	major = gss_get_name_attribute(&minor, src, &attr, &authenticated, &complete, &value, NULL,
				       &more);
	if (GSS_ERROR(major) || !authenticated) {
		/* no PAC (an MIT KDC), or one whose signature did not verify: no groups */
		if (value.value != NULL)
			gss_release_buffer(&minor, &value);
		return;
	}
	sids = malloc(GROUPS_PAC_MAX * sizeof(*sids));
	if (sids != NULL) {
		n = groups_pac_sids(value.value, value.length, sids, GROUPS_PAC_MAX);
		if (n > 0)
			v->groups = groups_mask(kw->groups, (const char(*)[GROUPS_SID_MAX])sids,
						(unsigned int)n);
		v->pac_sids = n > 0 ? (uint16_t)n : 0;
		free(sids);
	}
	gss_release_buffer(&minor, &value);
}

int
kw_accept(struct kw *kw, const uint8_t *token, size_t len, struct kw_verdict *verdict_out)
{
	return kw_accept_cb(kw, token, len, NULL, 0, KW_CB_OFF, verdict_out);
}

int
kw_accept_cb(struct kw *kw, const uint8_t *token, size_t len, const uint8_t *cb, size_t cb_len,
	     enum kw_cb_mode mode, struct kw_verdict *verdict_out)
{
	struct gss_channel_bindings_struct bindings;
	gss_channel_bindings_t chan = GSS_C_NO_CHANNEL_BINDINGS;
	OM_uint32 ret_flags = 0;
	gss_ctx_id_t gctx = GSS_C_NO_CONTEXT;
	gss_name_t src = GSS_C_NO_NAME;
	gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER, name = GSS_C_EMPTY_BUFFER;
	gss_OID mech = GSS_C_NO_OID;
	OM_uint32 major, minor = 0, time_rec = 0;
	struct kw_verdict *v = verdict_out;
	struct trust_token_info info;
	size_t reply_len = 0;
	uint64_t t0;
	int ret;

	if (kw == NULL || token == NULL || len == 0 || v == NULL)
		return -EINVAL;
	v->reason = KW_ERR_INTERNAL;
	v->gss_major = 0;
	v->gss_minor = 0;
	v->expires_at = 0;
	v->accept_ns = 0;
	v->groups = 0;
	v->pac_sids = 0;
	v->principal_len = 0;
	v->principal[0] = '\0';
	v->reply_len = 0;
	v->detail[0] = '\0';
	if (len > KW_TOKEN_MAX) {
		v->reason = KW_ERR_TOO_BIG;
		return -EACCES;
	}

	ret = trust_parse_token(token, len, &info);
	if (ret == -ENODATA) {
		v->reason = KW_ERR_CONTINUE_NEEDED;
		snprintf(v->detail, sizeof(v->detail), "SPNEGO offer without a mechanism token");
		return -EACCES;
	}
	if (ret == -EPROTONOSUPPORT || (ret == 0 && info.mech != TRUST_MECH_KRB5)) {
		v->reason = KW_ERR_BAD_MECH;
		snprintf(v->detail, sizeof(v->detail), "%s token sent to the Kerberos validator",
			 ret == 0 ? trust_mech_str(info.mech) : "unknown mechanism");
		return -EACCES;
	}
	if (ret != 0) {
		v->reason = KW_ERR_MALFORMED;
		snprintf(v->detail, sizeof(v->detail), "not a Kerberos or SPNEGO token");
		return -EACCES;
	}

	in.length = info.mech_token_len;
	in.value = (void *)info.mech_token;
	if (mode != KW_CB_OFF) {
		if (cb == NULL || cb_len == 0) {
			/* the gateway could not say what its certificate binds to: fail closed */
			v->reason = KW_ERR_CHANNEL_BINDING;
			snprintf(v->detail, sizeof(v->detail), "no channel bindings of our own");
			return -EACCES;
		}
		/* RFC 5929 / 5056: addresses unspecified, the TLS binding as application data */
		memset(&bindings, 0, sizeof(bindings));
		bindings.application_data.length = cb_len;
		bindings.application_data.value = (void *)cb;
		chan = &bindings;
	}
	t0 = ag_mono_ns();
	major = gss_accept_sec_context(&minor, &gctx, kw->cred, &in, chan, &src, &mech, &out,
				       &ret_flags, &time_rec, NULL);
	v->accept_ns = ag_mono_ns() - t0;
	v->gss_major = major;
	v->gss_minor = minor;

	if (major == GSS_S_CONTINUE_NEEDED) {
		v->reason = KW_ERR_CONTINUE_NEEDED;
		snprintf(v->detail, sizeof(v->detail), "a second leg was asked for");
		goto cleanup;
	}
	if (GSS_ERROR(major)) {
		v->reason = GSS_ROUTINE_ERROR(major) == GSS_S_BAD_BINDINGS
				    ? KW_ERR_CHANNEL_BINDING
				    : kw_map_status(major, minor);
		kw_status_text(major, GSS_C_GSS_CODE, GSS_C_NO_OID, v->detail, sizeof(v->detail));
		kw_status_text(minor, GSS_C_MECH_CODE, mech, v->detail, sizeof(v->detail));
		goto cleanup;
	}
	if (mode == KW_CB_REQUIRE && !(ret_flags & GSS_C_CHANNEL_BOUND_FLAG)) {
		/* krb5 accepts an initiator that sent no bindings; require does not */
		v->reason = KW_ERR_CHANNEL_BINDING;
		snprintf(v->detail, sizeof(v->detail), "the client sent no channel bindings");
		goto cleanup;
	}

	major = gss_display_name(&minor, src, &name, NULL);
	if (GSS_ERROR(major) || name.length >= sizeof(v->principal)) {
		snprintf(v->detail, sizeof(v->detail), "client name unavailable or too long");
		goto cleanup;
	}
	if (out.length > sizeof(v->reply)) {
		snprintf(v->detail, sizeof(v->detail), "reply token of %zu bytes", out.length);
		goto cleanup;
	}
	if (info.spnego) {
		const uint8_t *oid = info.spnego_oid ? info.spnego_oid : kw_oid_krb5;
		size_t oid_len = info.spnego_oid ? info.spnego_oid_len : sizeof(kw_oid_krb5);

		if (kw_spnego_reply(oid, oid_len, out.value, out.length, v->reply, sizeof(v->reply),
				    &reply_len) != 0) {
			snprintf(v->detail, sizeof(v->detail), "SPNEGO reply too big");
			goto cleanup;
		}
	} else {
		memcpy(v->reply, out.value, out.length);
		reply_len = out.length;
	}
	if (kw_check_service(kw, gctx, v) != 0)
		goto cleanup;
	memcpy(v->principal, name.value, name.length);
	v->principal[name.length] = '\0';
	v->principal_len = (uint16_t)name.length;
	v->reply_len = (uint16_t)reply_len;
	if (kw->groups != NULL && kw->groups->n > 0)
		kw_pac_groups(kw, src, v);
	/* the context lives as long as the ticket; persistence must not outlive it */
	if (time_rec != GSS_C_INDEFINITE)
		v->expires_at = (int64_t)time(NULL) + time_rec;
	v->reason = KW_OK;
cleanup:
	if (name.value != NULL)
		gss_release_buffer(&minor, &name);
	if (out.value != NULL)
		gss_release_buffer(&minor, &out);
	if (src != GSS_C_NO_NAME)
		gss_release_name(&minor, &src);
	if (gctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&minor, &gctx, GSS_C_NO_BUFFER);
	return v->reason == KW_OK ? 0 : -EACCES;
}

/* ---- the pool ---- */

#define KW_POOL_POLL_NS (10ULL * 1000000ULL) /* how late a semaphore deadline may be noticed */

enum kw_item_state {
	KW_ITEM_WAITING,   /* in the semaphore's queue or on the run list */
	KW_ITEM_RUNNING,   /* a worker validates it */
	KW_ITEM_ABANDONED, /* the watchdog answered for it; the stuck worker still has it */
};

/* A job from submit to verdict: in the semaphore's queue, then on the run list, then running. */
struct kw_pool_item {
	struct kw_pool_item *next;
	struct kw_pool_item *run_prev, *run_next; /* the running list, for the watchdog */
	struct kw_pool *pool;
	struct kw_job job;
	struct sema_hold hold;
	const struct trust *trust; /* the pool's trust; NULL for the local NTLM challenge */
	bool holds;		   /* a semaphore slot is held (granted, not yet released) */
	int sema_result;	   /* 0, -ETIMEDOUT or -EAGAIN (admission) */
	enum kw_item_state state;
	uint64_t submitted_ns; /* the watchdog's clock: the deadline is the client's */
};

struct kw_pool {
	struct kw_pool_config cfg;
	const struct trust *trust; /* NULL for the local pool */
	uint64_t deadline_ns;	   /* from submission to verdict, the trust's timeout */
	pthread_mutex_t lock;
	pthread_cond_t wake; /* run list not empty, or stopping with nothing in flight */
	pthread_cond_t gone; /* a thread left */
	struct kw_pool_item *run_head;
	struct kw_pool_item *run_tail;
	struct kw_pool_item *running; /* items workers hold now */
	unsigned int inflight;	      /* submitted, verdict not yet given */
	uint64_t last_poll_ns;
	int stopping;
	unsigned int live;  /* threads that have not exited */
	unsigned int stuck; /* of those, threads still inside an abandoned job */
	struct kw_pool_stats stats;
};

/* What a worker thread keeps across jobs: its trust's acceptor, one context for Basic. */
struct kw_thread {
	struct kw *kw;
	krb5_context basic_ctx;
	struct ntlm_acceptor *ntlm;    /* the pool's user file (or none: as ntlm_wb) */
	struct ntlm_acceptor *ntlm_wb; /* no user file: NTLM_USER_FILE, else winbind to the DC */
	void *wb;		       /* this thread's wbcContext for ntlm_dc_ping */
};

static void *kw_pool_thread(void *arg);

static void
kw_pool_run(struct kw_pool *p, struct kw_pool_item *it)
{
	it->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->run_tail != NULL)
		p->run_tail->next = it;
	else
		p->run_head = it;
	p->run_tail = it;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

/* sema_grant_fn: from whichever thread released a slot or noticed the deadline. */
static void
kw_pool_granted(void *arg, int result, const struct sema_hold *hold)
{
	struct kw_pool_item *it = arg;

	it->sema_result = result;
	if (result == 0) {
		it->hold = *hold;
		it->holds = true;
	}
	kw_pool_run(it->pool, it);
}

/*
 * Does this job take a MaxConcurrentApi slot? Basic and NTLM reach the DC (an AS exchange, a
 * NetrLogonSamLogon through winbind); Kerberos only when the trust models IIS's PAC
 * validation round trip (pac_validation); the local NTLM challenge never.
 */
static bool
kw_pool_takes_slot(const struct kw_pool *p, const struct kw_job *job)
{
	if (p->trust == NULL)
		return false;
	if (job->mech == TRUST_MECH_KRB5)
		return p->trust->cfg.pac_validation;
	return true;
}

static void
kw_verdict_reset(struct kw_verdict *v, const struct kw_job *job)
{
	memset(v, 0, offsetof(struct kw_verdict, principal));
	v->principal[0] = '\0';
	v->detail[0] = '\0';
	v->flow_id = job->flow_id;
	v->flow_gen = job->flow_gen;
	v->trust_index = job->trust_index;
	v->user = job->user;
	v->mech = job->mech;
}

static void
kw_pool_krb5(struct kw_pool *p, struct kw_thread *th, const struct trust *t,
	     const struct kw_job *job, struct kw_verdict *v)
{
	const char *at;
	uint32_t idx;

	if (th->kw == NULL) {
		struct kw_config kc = {
			.keytab = t->cfg.keytab,
			.replay_cache = t->cfg.replay_cache,
			.http_service = p->cfg.http_service,
			.groups = p->cfg.groups,
		};

		th->kw = kw_create(&kc);
		if (th->kw == NULL) {
			v->reason = KW_ERR_INTERNAL;
			/* detail is a short log field: a long realm name is cut, on purpose */
			snprintf(v->detail, sizeof(v->detail),
				 "no acceptor credential for %.64s: %.64s", t->cfg.realm,
				 strerror(errno));
			return;
		}
	}
	if (kw_accept_cb(th->kw, job->token, job->token_len, job->cb, job->cb_len,
			 (enum kw_cb_mode)job->cb_mode, v) != 0)
		return;
	/*
	 * The ticket's realm (ours, or a cross-realm path to us) only routed the job: the
	 * client's own realm must be a trust of ours, and that trust vouches for the identity.
	 */
	at = strrchr(v->principal, '@');
	if (at == NULL || trust_lookup_for(p->cfg.trusts, TRUST_MECH_KRB5, at + 1, strlen(at + 1),
					   NULL, 0, &idx) != 0) {
		v->reason = KW_ERR_CLIENT_REALM;
		snprintf(v->detail, sizeof(v->detail), "%.100s: no [trust] for the client's realm",
			 v->principal);
		return;
	}
	v->trust_index = idx;
}

/* NTLM and Basic users of a domain winbind serves: their SIDs as require_group bits. */
static void
kw_pool_winbind_groups(struct kw_pool *p, struct kw_thread *th, struct kw_verdict *v)
{
	char(*sids)[GROUPS_SID_MAX];
	int n;

	if (v->reason != KW_OK || p->cfg.groups == NULL || p->cfg.groups->n == 0)
		return;
	sids = malloc(GROUPS_PAC_MAX * sizeof(*sids));
	if (sids == NULL)
		return;
	n = groups_winbind_sids(&th->wb, v->principal, sids, GROUPS_PAC_MAX);
	if (n > 0) {
		v->groups = groups_mask(p->cfg.groups, (const char(*)[GROUPS_SID_MAX])sids,
					(unsigned int)n);
		pthread_mutex_lock(&p->lock);
		p->stats.groups_from_winbind++;
		pthread_mutex_unlock(&p->lock);
	}
	free(sids);
}

/*
 * A Type 3 that winbind refused: gss-ntlmssp says EACCES for a wrong password and for a DC
 * that is down alike, and only the second is a 503. Asked only here, after a refusal, so a
 * valid logon costs the DC nothing more; the semaphore slot is still held, so the ping counts
 * against the trust's MaxConcurrentApi like the logon it follows.
 */
static void
kw_pool_ntlm_dc_check(struct kw_pool *p, struct kw_thread *th, const struct kw_job *job,
		      struct kw_verdict *v)
{
	/* read per call, as gss-ntlmssp does */
	const char *env_file = getenv("NTLM_USER_FILE");
	bool have_file = env_file != NULL && env_file[0] != '\0';
	enum ntlm_dc_state dc;
	char why[KW_DETAIL_MAX];
	size_t used;

	/* a user NTLM_USER_FILE holds was checked against that file; winbind never saw it */
	if (have_file && ntlm_user_file_holds(env_file, job->token, job->token_len))
		return;
	pthread_mutex_lock(&p->lock);
	p->stats.ntlm_dc_pings++;
	pthread_mutex_unlock(&p->lock);
	dc = ntlm_dc_ping(&th->wb, why, sizeof(why));
	/*
	 * No winbindd: with NTLM_USER_FILE the file is the validator and a user it lacks is
	 * unknown (401); without one winbind was the only validator, and it is gone (503).
	 */
	if (dc != NTLM_DC_DOWN && (dc != NTLM_DC_NO_WINBIND || have_file))
		return;
	v->reason = KW_ERR_DC_UNAVAILABLE;
	used = strlen(v->detail);
	if (used + 3 < sizeof(v->detail))
		snprintf(v->detail + used, sizeof(v->detail) - used, "%s%.*s", used ? "; " : "",
			 (int)strlen(why), why);
}

static void
kw_pool_process(struct kw_pool *p, struct kw_thread *th, struct kw_pool_item *it,
		struct kw_verdict *v)
{
	const struct kw_job *job = &it->job;
	const struct trust *t = it->trust;
	struct ntlm_acceptor **acc;
	uint64_t t0;

	kw_verdict_reset(v, job);
	v->queue_ns = ag_mono_ns() - it->submitted_ns;
	if (it->sema_result == -ETIMEDOUT) {
		v->reason = KW_ERR_BUSY_TIMEOUT;
		return;
	}
	if (it->sema_result != 0) {
		v->reason = KW_ERR_BUSY_REJECTED;
		return;
	}
	if (job->token_len > KW_TOKEN_MAX) {
		v->reason = KW_ERR_TOO_BIG;
		return;
	}
	t0 = ag_mono_ns();
	switch (job->mech) {
	case TRUST_MECH_KRB5:
		if (t == NULL || !trust_kind_takes(t->cfg.kind, TRUST_MECH_KRB5))
			break;
		kw_pool_krb5(p, th, t, job, v);
		/* a ticket without a PAC (an MIT KDC): winbind may still know the user */
		if (v->reason == KW_OK && v->pac_sids == 0) {
			kw_pool_winbind_groups(p, th, v);
		} else if (v->reason == KW_OK) {
			pthread_mutex_lock(&p->lock);
			p->stats.groups_from_pac++;
			pthread_mutex_unlock(&p->lock);
		}
		return;
	case TRUST_MECH_BASIC:
		if (t == NULL || !trust_kind_takes(t->cfg.kind, TRUST_MECH_BASIC))
			break;
		if (th->basic_ctx == NULL && krb5_init_context(&th->basic_ctx) != 0) {
			th->basic_ctx = NULL;
			v->reason = KW_ERR_INTERNAL;
			snprintf(v->detail, sizeof(v->detail), "krb5_init_context failed");
			return;
		}
		basic_validate(th->basic_ctx, &t->cfg, job->token, job->token_len, v);
		kw_pool_winbind_groups(p, th, v);
		v->accept_ns = ag_mono_ns() - t0;
		return;
	case TRUST_MECH_NTLM:
		/* Type 1 runs without a trust (the challenge is local); Type 3 holds its slot */
		if (job->trust_index != TRUST_INDEX_NONE &&
		    (t == NULL || !trust_kind_takes(t->cfg.kind, TRUST_MECH_NTLM)))
			break;
		if (job->ntlm_ctx == NULL) {
			v->reason = KW_ERR_INTERNAL;
			snprintf(v->detail, sizeof(v->detail), "NTLM job without a context slot");
			return;
		}
		/*
		 * gss-ntlmssp reads the user file from the credential of the call that takes
		 * the Type 3, so the trust the Type 3 names picks it: a trust with no user_file
		 * (a real domain) is validated through winbind whatever the other trusts use.
		 */
		acc = t != NULL && t->cfg.user_file[0] == '\0' ? &th->ntlm_wb : &th->ntlm;
		if (*acc == NULL) {
			*acc = ntlm_acceptor_create(acc == &th->ntlm ? p->cfg.ntlm_user_file : NULL,
						    p->cfg.ntlm_service);
			if (*acc == NULL) {
				v->reason = KW_ERR_INTERNAL;
				snprintf(v->detail, sizeof(v->detail),
					 "no NTLM acceptor credential: %s", strerror(errno));
				return;
			}
		}
		ntlm_accept_leg(*acc, job->ntlm_ctx, job->spnego != 0, job->token, job->token_len,
				job->cb_mode != KW_CB_OFF ? job->cb : NULL, job->cb_len, v);
		if (v->reason == KW_ERR_BAD_PASSWORD && acc == &th->ntlm_wb)
			kw_pool_ntlm_dc_check(p, th, job, v);
		kw_pool_winbind_groups(p, th, v);
		v->accept_ns = ag_mono_ns() - t0;
		return;
	default:
		v->reason = KW_ERR_BAD_MECH;
		return;
	}
	v->reason = KW_ERR_NO_TRUST;
}

/* Time out semaphore waiters nobody will wake; one thread at a time, every KW_POOL_POLL_NS. */
static void
kw_pool_poll_locked(struct kw_pool *p)
{
	uint64_t now = ag_mono_ns();

	if (now - p->last_poll_ns < KW_POOL_POLL_NS)
		return;
	p->last_poll_ns = now;
	if (p->trust == NULL)
		return;
	pthread_mutex_unlock(&p->lock);
	/* a timed-out waiter's callback takes p->lock: never poll with it held */
	sema_poll(p->trust->sema);
	pthread_mutex_lock(&p->lock);
}

static void
kw_running_unlink(struct kw_pool *p, struct kw_pool_item *it)
{
	if (it->run_prev != NULL)
		it->run_prev->run_next = it->run_next;
	else
		p->running = it->run_next;
	if (it->run_next != NULL)
		it->run_next->run_prev = it->run_prev;
	it->run_prev = it->run_next = NULL;
}

/* Workers that have not finished kw_thread_fini (tests: kw_pool_threads_holding()). */
static unsigned int kw_threads_holding;
unsigned int kw_fini_delay_us;

unsigned int
kw_pool_threads_holding(void)
{
	return __atomic_load_n(&kw_threads_holding, __ATOMIC_ACQUIRE);
}

static void
kw_thread_fini(struct kw_thread *th)
{
	if (kw_fini_delay_us != 0)
		usleep(kw_fini_delay_us);
	kw_destroy(th->kw);
	if (th->basic_ctx != NULL)
		krb5_free_context(th->basic_ctx);
	ntlm_acceptor_destroy(th->ntlm);
	ntlm_acceptor_destroy(th->ntlm_wb);
	ntlm_dc_ctx_free(th->wb);
	__atomic_sub_fetch(&kw_threads_holding, 1, __ATOMIC_RELEASE);
}

/* Leaves the pool: the last one out may be waited for by kw_pool_destroy. */
static void
kw_thread_exit_locked(struct kw_pool *p)
{
	p->live--;
	pthread_cond_broadcast(&p->gone);
}

static void *
kw_pool_thread(void *arg)
{
	struct kw_pool *p = arg;
	struct kw_thread th;
	struct kw_pool_item *it;
	struct kw_verdict *v;
	bool abandoned = false;

	memset(&th, 0, sizeof(th));
	__atomic_add_fetch(&kw_threads_holding, 1, __ATOMIC_RELEASE);
	v = malloc(sizeof(*v));
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct timespec ts;

		kw_pool_poll_locked(p);
		if (p->run_head == NULL) {
			if (p->stopping && p->inflight == 0)
				break;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (long)KW_POOL_POLL_NS;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->wake, &p->lock, &ts);
			continue;
		}
		it = p->run_head;
		p->run_head = it->next;
		if (p->run_head == NULL)
			p->run_tail = NULL;
		it->state = KW_ITEM_RUNNING;
		it->run_next = p->running;
		if (p->running != NULL)
			p->running->run_prev = it;
		p->running = it;
		pthread_mutex_unlock(&p->lock);

		if (v != NULL)
			kw_pool_process(p, &th, it, v);

		pthread_mutex_lock(&p->lock);
		abandoned = it->state == KW_ITEM_ABANDONED;
		if (!abandoned) {
			kw_running_unlink(p, it);
			p->stats.completed++;
			if (v != NULL)
				p->stats.by_reason[v->reason]++;
		}
		pthread_mutex_unlock(&p->lock);
		if (abandoned) {
			/* answered already, slot given back, a new thread in this one's place */
			if (v != NULL) {
				v->stage = KW_STAGE_LATE;
				p->cfg.on_verdict(v, p->cfg.arg);
			}
			free(it);
			pthread_mutex_lock(&p->lock);
			p->stuck--;
			break;
		}
		if (it->holds)
			sema_release(p->trust->sema, &it->hold);
		/* the verdict first: whoever the count wakes may free what the callback uses */
		if (v != NULL) {
			v->stage = KW_STAGE_FINAL;
			p->cfg.on_verdict(v, p->cfg.arg);
		}
		free(it);
		pthread_mutex_lock(&p->lock);
		p->inflight--;
		if (p->stopping && p->inflight == 0)
			pthread_cond_broadcast(&p->wake);
	}
	/*
	 * The library's objects go before the thread stops counting as live: once it does,
	 * kw_pool_destroy may return and the process exit, and krb5's destructors would tear
	 * down the mutexes our krb5_free_context still locks (an abort seen at exit under load).
	 */
	pthread_mutex_unlock(&p->lock);
	kw_thread_fini(&th);
	free(v);
	pthread_mutex_lock(&p->lock);
	kw_thread_exit_locked(p);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int
kw_pool_spawn_locked(struct kw_pool *p)
{
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	pthread_attr_init(&attr);
	/* detached: a thread stuck in a KDC call may outlive the pool's own shutdown */
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, kw_pool_thread, p);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return -rc;
	p->live++;
	return 0;
}

struct kw_pool *
kw_pool_create(const struct kw_pool_config *cfg)
{
	pthread_condattr_t ca;
	struct kw_pool *p;
	unsigned int i;

	if (cfg->trusts == NULL || cfg->on_verdict == NULL || cfg->workers < 1 ||
	    cfg->workers > KW_POOL_MAX_THREADS || cfg->queue_size < 1 ||
	    (cfg->trust_index != TRUST_INDEX_NONE && cfg->trust_index >= cfg->trusts->count)) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	p->cfg = *cfg;
	p->trust = cfg->trust_index == TRUST_INDEX_NONE ? NULL
							: &cfg->trusts->trusts[cfg->trust_index];
	p->deadline_ns = p->trust != NULL ? p->trust->cfg.timeout_ns : SEMA_TIMEOUT_DEFAULT_NS;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_cond_init(&p->gone, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < cfg->workers; i++)
		if (kw_pool_spawn_locked(p) != 0)
			break;
	pthread_mutex_unlock(&p->lock);
	if (i == cfg->workers)
		return p;
	kw_pool_destroy(p);
	errno = EAGAIN;
	return NULL;
}

int
kw_pool_submit(struct kw_pool *p, const struct kw_job *job)
{
	struct kw_pool_item *it;
	int ret = 0;

	if (job->trust_index != p->cfg.trust_index &&
	    !(p->trust == NULL && job->trust_index == TRUST_INDEX_NONE))
		return -EINVAL;
	it = calloc(1, sizeof(*it));
	if (it == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		ret = -ESHUTDOWN;
	} else if (p->inflight == p->cfg.queue_size) {
		p->stats.rejected_full++;
		ret = -ENOBUFS;
	} else {
		p->inflight++;
		p->stats.submitted++;
	}
	pthread_mutex_unlock(&p->lock);
	if (ret != 0) {
		free(it);
		return ret;
	}
	it->pool = p;
	it->job = *job;
	it->trust = p->trust;
	it->submitted_ns = ag_mono_ns();
	if (kw_pool_takes_slot(p, job)) {
		ret = sema_enqueue(p->trust->sema, kw_pool_granted, it, &it->hold, NULL);
		if (ret == -EINPROGRESS)
			return 0; /* kw_pool_granted puts it on the run list */
		if (ret == 0)
			it->holds = true;
		else
			it->sema_result = -EAGAIN; /* admission (or no memory): refuse, 503 */
	}
	kw_pool_run(p, it);
	return 0;
}

int
kw_pool_grow(struct kw_pool *p, unsigned int threads, uint64_t deadline_ns)
{
	int rc = 0;

	if (threads > KW_POOL_MAX_THREADS)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (deadline_ns != 0)
		__atomic_store_n(&p->deadline_ns, deadline_ns, __ATOMIC_RELAXED);
	/* stuck threads do not count: they will leave when they return */
	while (rc == 0 && p->live - p->stuck < threads)
		rc = kw_pool_spawn_locked(p);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

unsigned int
kw_pool_watchdog(struct kw_pool *p)
{
	struct kw_pool_item *it, *next, *late = NULL;
	uint64_t deadline;
	uint64_t now = ag_mono_ns();
	unsigned int n = 0;

	pthread_mutex_lock(&p->lock);
	deadline = p->deadline_ns;
	for (it = p->running; it != NULL; it = next) {
		next = it->run_next;
		/*
		 * No verdict within the trust's deadline of the request: its KDC or DC does not
		 * answer. The clock starts at submission, not when a worker took the job: a job
		 * that queued behind a hung one gets the reclaimed slot just before its deadline,
		 * and timing it from then made its client wait two deadlines.
		 */
		if (now - it->submitted_ns <= deadline)
			continue;
		kw_running_unlink(p, it);
		it->state = KW_ITEM_ABANDONED;
		it->next = late;
		late = it;
		p->stats.hung++;
		p->stats.completed++;
		p->stats.by_reason[KW_ERR_WORKER_HUNG]++;
		p->stuck++;
		p->inflight--;
		/* capacity stays what it was: the stuck thread leaves when it returns */
		kw_pool_spawn_locked(p);
		n++;
	}
	if (p->stopping && p->inflight == 0)
		pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);

	/* the stuck worker no longer owns the slot or the answer: both are given here */
	for (it = late; it != NULL; it = it->next) {
		struct kw_verdict *v = malloc(sizeof(*v));

		if (it->holds) {
			sema_release(p->trust->sema, &it->hold);
			pthread_mutex_lock(&p->lock);
			p->stats.slots_reclaimed++;
			pthread_mutex_unlock(&p->lock);
		}
		if (v == NULL)
			continue;
		kw_verdict_reset(v, &it->job);
		v->stage = KW_STAGE_EARLY;
		v->reason = KW_ERR_WORKER_HUNG;
		v->queue_ns = now - it->submitted_ns;
		snprintf(v->detail, sizeof(v->detail), "no answer within %llu s",
			 (unsigned long long)(p->deadline_ns / 1000000000ULL));
		p->cfg.on_verdict(v, p->cfg.arg);
		free(v);
	}
	return n;
}

void
kw_pool_destroy(struct kw_pool *p)
{
	struct timespec ts;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->wake);
	/* threads leave once every job in flight, semaphore waiters included, has its verdict */
	while (p->live > p->stuck)
		pthread_cond_wait(&p->gone, &p->lock);
	/* a thread inside a KDC call that never answers: give it a moment, then leave it be */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += 2;
	while (p->live > 0 && pthread_cond_timedwait(&p->gone, &p->lock, &ts) == 0)
		;
	if (p->live > 0) {
		/* it still uses the pool when it returns: the pool is left to it, not freed */
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_unlock(&p->lock);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->gone);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void
kw_pool_get_stats(struct kw_pool *p, struct kw_pool_stats *stats_out)
{
	pthread_mutex_lock(&p->lock);
	*stats_out = p->stats;
	pthread_mutex_unlock(&p->lock);
}
