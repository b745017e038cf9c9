/* NTLM: NTLMSSP parsing, the half-open context table keyed by lcore + flow + generation, GSS legs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h> /* wbclient.h uses bool without including it */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <nettle/md5.h>
#include <gssapi/gssapi_ext.h>
#include <wbclient.h>

#include "control/ntlm.h"

static const uint8_t ntlm_sig[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};

static uint32_t
ntlm_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A security buffer (len16, maxlen16, offset32) at off, folded to ASCII into out. */
static int
ntlm_field(const uint8_t *msg, size_t len, size_t off, bool unicode, char *out, size_t cap)
{
	size_t flen, foff, i, n;

	if (off + 8 > len)
		return -EBADMSG;
	flen = (size_t)msg[off] | (size_t)msg[off + 1] << 8;
	foff = ntlm_le32(msg + off + 4);
	if (foff > len || flen > len - foff)
		return -EBADMSG;
	if (unicode && (flen & 1))
		return -EBADMSG;
	n = unicode ? flen / 2 : flen;
	if (n >= cap)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		unsigned int c = unicode ? (unsigned int)msg[foff + 2 * i] |
						   (unsigned int)msg[foff + 2 * i + 1] << 8
					 : msg[foff + i];

		/* NetBIOS names are ASCII; anything else must not match a configured trust */
		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[n] = '\0';
	return 0;
}

int
ntlm_parse_msg(const uint8_t *msg, size_t len, struct ntlm_msg_info *info_out)
{
	struct ntlm_msg_info m;
	int ret;

	if (msg == NULL || len < 12 || memcmp(msg, ntlm_sig, sizeof(ntlm_sig)) != 0)
		return -EBADMSG;
	memset(&m, 0, sizeof(m));
	m.type = ntlm_le32(msg + 8);
	switch (m.type) {
	case 1:
		if (len < 16)
			return -EBADMSG;
		m.flags = ntlm_le32(msg + 12);
		break;
	case 2:
		if (len < 24)
			return -EBADMSG;
		m.flags = ntlm_le32(msg + 20);
		break;
	case 3:
		/* fixed part up to and including NegotiateFlags (MS-NLMP 2.2.1.3) */
		if (len < 64)
			return -EBADMSG;
		m.flags = ntlm_le32(msg + 60);
		ret = ntlm_field(msg, len, 28, m.flags & NTLMSSP_NEGOTIATE_UNICODE, m.domain,
				 sizeof(m.domain));
		if (ret == 0)
			ret = ntlm_field(msg, len, 36, m.flags & NTLMSSP_NEGOTIATE_UNICODE, m.user,
					 sizeof(m.user));
		if (ret != 0)
			return ret;
		break;
	default:
		return -EBADMSG;
	}
	*info_out = m;
	return 0;
}

/*
 * MS-NLMP 2.2.2.7: an NTLMv2 response is NTProofStr (16) and a blob whose AV pairs start 28
 * bytes in; MsvAvChannelBindings (id 10) holds the MD5 of the client's bindings, or zeros
 * for "none" (what Windows sends without TLS), or is absent.
 */
void
ntlm_cb_hash(const uint8_t *app, size_t len, uint8_t out[16])
{
	uint8_t head[20] = {0}; /* four zero address fields, then the length, little-endian */
	struct md5_ctx md5;

	head[16] = (uint8_t)len;
	head[17] = (uint8_t)(len >> 8);
	head[18] = (uint8_t)(len >> 16);
	head[19] = (uint8_t)(len >> 24);
	md5_init(&md5);
	md5_update(&md5, sizeof(head), head);
	md5_update(&md5, len, app);
	md5_digest(&md5, 16, out);
}

int
ntlm_type3_cb(const uint8_t *msg, size_t len, uint8_t cb_out[16])
{
	static const uint8_t zeros[16];
	uint32_t nt_len, nt_off, end, p;

	if (msg == NULL || len < 64 || memcmp(msg, ntlm_sig, sizeof(ntlm_sig)) != 0 ||
	    ntlm_le32(msg + 8) != 3)
		return -EBADMSG;
	nt_len = (uint32_t)msg[20] | (uint32_t)msg[21] << 8;
	nt_off = ntlm_le32(msg + 24);
	if (nt_off > len || nt_len > len - nt_off)
		return -EBADMSG;
	if (nt_len <= 24)
		return 0; /* NTLMv1: no AV pairs, no bindings */
	end = nt_off + nt_len;
	for (p = nt_off + 44; p + 4 <= end;) {
		uint32_t id = (uint32_t)msg[p] | (uint32_t)msg[p + 1] << 8;
		uint32_t l = (uint32_t)msg[p + 2] | (uint32_t)msg[p + 3] << 8;

		if (id == 0)
			return 0; /* MsvAvEOL */
		if (l > end - p - 4)
			return -EBADMSG;
		if (id == 10) {
			if (l != 16 || memcmp(msg + p + 4, zeros, 16) == 0)
				return 0;
			memcpy(cb_out, msg + p + 4, 16);
			return 1;
		}
		p += 4 + l;
	}
	return 0;
}

size_t
ntlm_normalise(uint8_t *msg, size_t len, size_t cap, unsigned int *fixups_out)
{
	size_t first = SIZE_MAX;
	uint32_t type, flags;

	*fixups_out = 0;
	if (msg == NULL || len < 16 || memcmp(msg, ntlm_sig, sizeof(ntlm_sig)) != 0)
		return len;
	type = ntlm_le32(msg + 8);
	if (type == 1 && len < NTLM_TYPE1_FIXED_VERSION && cap >= NTLM_TYPE1_FIXED_VERSION) {
		memset(msg + len, 0, NTLM_TYPE1_FIXED_VERSION - len);
		*fixups_out = NTLM_FIXUP_TYPE1_PADDED;
		return NTLM_TYPE1_FIXED_VERSION;
	}
	if (type != 3 || len < NTLM_TYPE3_FIXED)
		return len;
	flags = ntlm_le32(msg + 60);
	if (!(flags & NTLMSSP_NEGOTIATE_VERSION))
		return len;
	/* where the payload starts: the lowest offset of a non-empty security buffer */
	for (size_t off = 12; off < 60; off += 8) {
		size_t flen = (size_t)msg[off] | (size_t)msg[off + 1] << 8;
		size_t foff = ntlm_le32(msg + off + 4);

		if (flen != 0 && foff < first)
			first = foff;
	}
	/* below 64 the message is broken, not merely short of a Version: leave it to be refused */
	if (first < NTLM_TYPE3_FIXED || first >= NTLM_TYPE3_FIXED_VERSION)
		return len;
	flags &= ~NTLMSSP_NEGOTIATE_VERSION;
	msg[60] = (uint8_t)flags;
	msg[61] = (uint8_t)(flags >> 8);
	msg[62] = (uint8_t)(flags >> 16);
	msg[63] = (uint8_t)(flags >> 24);
	*fixups_out = NTLM_FIXUP_TYPE3_NO_VERSION;
	return len;
}

int
ntlm_route_type3(const struct trust_table *tt, const char *default_trust,
		 const struct ntlm_msg_info *m, uint32_t *index_out)
{
	size_t dlen = strlen(m->domain);

	if (m->type != 3)
		return -EINVAL;
	if (dlen == 0) {
		if (default_trust == NULL || default_trust[0] == '\0')
			return -ENOENT;
		return trust_lookup_for(tt, TRUST_MECH_NTLM, default_trust, strlen(default_trust),
					NULL, 0, index_out);
	}
	return trust_lookup_for(tt, TRUST_MECH_NTLM, m->domain, dlen, m->domain, dlen, index_out);
}

/* ---- the context table ---- */

#define NTLM_BUCKETS 4096 /* power of two */

struct ntlm_entry {
	struct ntlm_entry *next; /* hash chain; unused once unlinked */
	uint64_t flow_id;
	uint32_t flow_gen;
	uint16_t lcore;
	bool spnego;
	bool lent;   /* a job holds the context: nobody else may touch or free it */
	bool linked; /* findable; an unlinked lent entry is freed when it comes back */
	uint64_t last_ns;
	void *ctx;
};

struct ntlm_table {
	struct ntlm_table_config cfg;
	pthread_mutex_t lock; /* the dispatcher and the workers giving contexts back */
	struct ntlm_entry *buckets[NTLM_BUCKETS];
	struct ntlm_table_stats stats;
};

static unsigned int
ntlm_hash(uint16_t lcore, uint64_t flow_id)
{
	uint64_t h = (flow_id ^ ((uint64_t)lcore << 48)) * 0x9e3779b97f4a7c15ULL;

	return (unsigned int)(h >> 40) & (NTLM_BUCKETS - 1);
}

struct ntlm_table *
ntlm_table_create(const struct ntlm_table_config *cfg)
{
	struct ntlm_table *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	t->cfg = *cfg;
	if (t->cfg.max_entries == 0)
		t->cfg.max_entries = NTLM_CTX_MAX_DEFAULT;
	if (t->cfg.timeout_ns == 0)
		t->cfg.timeout_ns = NTLM_CTX_TIMEOUT_DEFAULT_NS;
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

static void
ntlm_entry_free(struct ntlm_table *t, struct ntlm_entry *e)
{
	if (e->ctx != NULL && t->cfg.free_ctx != NULL)
		t->cfg.free_ctx(e->ctx);
	free(e);
	t->stats.live--;
}

/* Take e out of its chain; free it now unless a job holds it (then ntlm_table_end does). */
static void
ntlm_unlink_locked(struct ntlm_table *t, struct ntlm_entry **pp)
{
	struct ntlm_entry *e = *pp;

	*pp = e->next;
	e->next = NULL;
	e->linked = false;
	if (!e->lent)
		ntlm_entry_free(t, e);
}

static struct ntlm_entry **
ntlm_find_locked(struct ntlm_table *t, uint16_t lcore, uint64_t flow_id)
{
	struct ntlm_entry **pp = &t->buckets[ntlm_hash(lcore, flow_id)];

	while (*pp != NULL && ((*pp)->lcore != lcore || (*pp)->flow_id != flow_id))
		pp = &(*pp)->next;
	return pp;
}

void
ntlm_table_destroy(struct ntlm_table *t)
{
	unsigned int i;

	if (t == NULL)
		return;
	for (i = 0; i < NTLM_BUCKETS; i++)
		while (t->buckets[i] != NULL) {
			t->buckets[i]->lent = false;
			ntlm_unlink_locked(t, &t->buckets[i]);
		}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int
ntlm_table_begin(struct ntlm_table *t, uint16_t lcore, uint64_t flow_id, uint32_t flow_gen,
		 bool spnego, uint64_t now_ns, struct ntlm_entry **entry_out)
{
	struct ntlm_entry **pp, *e;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	pp = ntlm_find_locked(t, lcore, flow_id);
	if (*pp != NULL) {
		if ((*pp)->lent && (*pp)->flow_gen == flow_gen) {
			t->stats.busy++;
			ret = -EBUSY;
			goto unlock;
		}
		/* a restarted handshake, or the flow slot was reused: the old context is dead */
		t->stats.replaced++;
		ntlm_unlink_locked(t, pp);
	}
	if (t->stats.live >= t->cfg.max_entries) {
		t->stats.full++;
		ret = -ENOSPC;
		goto unlock;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		ret = -ENOMEM;
		goto unlock;
	}
	e->lcore = lcore;
	e->flow_id = flow_id;
	e->flow_gen = flow_gen;
	e->spnego = spnego;
	e->lent = true;
	e->linked = true;
	e->last_ns = now_ns;
	e->next = *pp;
	*pp = e;
	t->stats.live++;
	t->stats.created++;
	*entry_out = e;
unlock:
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int
ntlm_table_resume(struct ntlm_table *t, uint16_t lcore, uint64_t flow_id, uint32_t flow_gen,
		  uint64_t now_ns, struct ntlm_entry **entry_out)
{
	struct ntlm_entry **pp, *e;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	pp = ntlm_find_locked(t, lcore, flow_id);
	e = *pp;
	if (e != NULL && e->flow_gen != flow_gen) {
		/* the flow this context was made for is gone and its slot serves another */
		t->stats.replaced++;
		ntlm_unlink_locked(t, pp);
		e = NULL;
	} else if (e != NULL && !e->lent && now_ns - e->last_ns > t->cfg.timeout_ns) {
		t->stats.timed_out++;
		ntlm_unlink_locked(t, pp);
		e = NULL;
	}
	if (e == NULL) {
		t->stats.no_context++;
		ret = -ENOENT;
	} else if (e->lent) {
		t->stats.busy++;
		ret = -EBUSY;
	} else {
		e->lent = true;
		*entry_out = e;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

void **
ntlm_entry_ctx(struct ntlm_entry *e)
{
	return &e->ctx;
}

bool
ntlm_entry_spnego(const struct ntlm_entry *e)
{
	return e->spnego;
}

void
ntlm_table_end(struct ntlm_table *t, struct ntlm_entry *e, bool keep, uint64_t now_ns)
{
	struct ntlm_entry **pp;

	pthread_mutex_lock(&t->lock);
	e->lent = false;
	e->last_ns = now_ns;
	if (!e->linked) {
		/* closed, replaced or swept while a job held it: its counter already moved */
		ntlm_entry_free(t, e);
	} else if (!keep) {
		t->stats.completed++;
		pp = ntlm_find_locked(t, e->lcore, e->flow_id);
		ntlm_unlink_locked(t, pp);
	}
	pthread_mutex_unlock(&t->lock);
}

void
ntlm_table_flow_closed(struct ntlm_table *t, uint16_t lcore, uint64_t flow_id, uint32_t flow_gen)
{
	struct ntlm_entry **pp;

	pthread_mutex_lock(&t->lock);
	pp = ntlm_find_locked(t, lcore, flow_id);
	if (*pp == NULL || (*pp)->flow_gen != flow_gen) {
		/* most closes: flows that never spoke NTLM, or finished their exchange */
		t->stats.stale_closes++;
	} else {
		t->stats.closed++;
		ntlm_unlink_locked(t, pp);
	}
	pthread_mutex_unlock(&t->lock);
}

unsigned int
ntlm_table_sweep(struct ntlm_table *t, uint64_t now_ns)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < NTLM_BUCKETS; i++) {
		struct ntlm_entry **pp = &t->buckets[i];

		while (*pp != NULL) {
			/* a lent context has a job with a semaphore deadline; it comes back */
			if (!(*pp)->lent && now_ns - (*pp)->last_ns > t->cfg.timeout_ns) {
				ntlm_unlink_locked(t, pp);
				t->stats.timed_out++;
				n++;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

void
ntlm_table_get_stats(struct ntlm_table *t, struct ntlm_table_stats *stats_out)
{
	pthread_mutex_lock(&t->lock);
	*stats_out = t->stats;
	pthread_mutex_unlock(&t->lock);
}

/* ---- gss-ntlmssp ---- */

static gss_OID_desc ntlm_oid_ntlmssp = {10, (void *)"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"};
static gss_OID_desc ntlm_oid_spnego = {6, (void *)"\x2b\x06\x01\x05\x05\x02"};

struct ntlm_acceptor {
	gss_cred_id_t raw;    /* for Authorization: NTLM */
	gss_cred_id_t spnego; /* for NTLMSSP inside Negotiate; negotiates NTLM only */
};

static gss_cred_id_t
ntlm_acquire(gss_name_t name, gss_OID mech, const char *user_file)
{
	gss_key_value_element_desc elem = {"ntlmssp_keyfile", user_file};
	gss_key_value_set_desc store = {0, &elem};
	gss_OID_set_desc mechs = {1, mech};
	gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
	OM_uint32 major, minor;

	if (user_file != NULL && user_file[0] != '\0')
		store.count = 1;
	major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT,
				      store.count ? &store : GSS_C_NO_CRED_STORE, &cred, NULL,
				      NULL);
	if (GSS_ERROR(major))
		return GSS_C_NO_CREDENTIAL;
	return cred;
}

struct ntlm_acceptor *
ntlm_acceptor_create(const char *user_file, const char *service)
{
	gss_OID_set_desc only_ntlm = {1, &ntlm_oid_ntlmssp};
	gss_name_t name = GSS_C_NO_NAME;
	struct ntlm_acceptor *a;
	gss_buffer_desc nb;
	OM_uint32 major, minor;
	char svc[300];
	int err = ENOKEY;

	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	a->raw = a->spnego = GSS_C_NO_CREDENTIAL;
	if (service == NULL || service[0] == '\0') {
		char host[256];

		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(svc, sizeof(svc), "HTTP@%s", host);
	} else {
		snprintf(svc, sizeof(svc), "%s", service);
	}
	/* gss-ntlmssp 1.2 crashes acquiring from a cred store without a name: always give one */
	nb.value = svc;
	nb.length = strlen(svc);
	major = gss_import_name(&minor, &nb, GSS_C_NT_HOSTBASED_SERVICE, &name);
	if (GSS_ERROR(major)) {
		err = EINVAL;
		goto cleanup;
	}
	a->raw = ntlm_acquire(name, &ntlm_oid_ntlmssp, user_file);
	a->spnego = ntlm_acquire(name, &ntlm_oid_spnego, user_file);
	if (a->raw == GSS_C_NO_CREDENTIAL || a->spnego == GSS_C_NO_CREDENTIAL)
		goto cleanup;
	/* SPNEGO would otherwise offer krb5 too; Kerberos tokens never reach this acceptor */
	major = gss_set_neg_mechs(&minor, a->spnego, &only_ntlm);
	if (GSS_ERROR(major))
		goto cleanup;
	err = 0;
cleanup:
	if (name != GSS_C_NO_NAME)
		gss_release_name(&minor, &name);
	if (err != 0) {
		ntlm_acceptor_destroy(a);
		errno = err;
		return NULL;
	}
	return a;
}

void
ntlm_acceptor_destroy(struct ntlm_acceptor *a)
{
	OM_uint32 minor;

	if (a == NULL)
		return;
	if (a->raw != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&minor, &a->raw);
	if (a->spnego != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&minor, &a->spnego);
	free(a);
}

void
ntlm_ctx_free(void *ctx)
{
	gss_ctx_id_t g = ctx;
	OM_uint32 minor;

	if (g != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&minor, &g, GSS_C_NO_BUFFER);
}

static void
ntlm_status_text(OM_uint32 code, int type, char *buf, size_t size)
{
	OM_uint32 minor, mctx = 0;
	gss_buffer_desc msg;
	size_t used;

	do {
		if (GSS_ERROR(gss_display_status(&minor, code, type, GSS_C_NO_OID, &mctx, &msg)))
			return;
		used = strlen(buf);
		if (used + 3 < size)
			snprintf(buf + used, size - used, "%s%.*s", used ? "; " : "",
				 (int)msg.length, (const char *)msg.value);
		gss_release_buffer(&minor, &msg);
	} while (mctx != 0);
}

int
ntlm_accept_leg(struct ntlm_acceptor *a, void **ctx_slot, bool spnego, const uint8_t *tok,
		size_t len, const uint8_t *cb, size_t cb_len, struct kw_verdict *v)
{
	struct gss_channel_bindings_struct bindings;
	gss_channel_bindings_t chan = GSS_C_NO_CHANNEL_BINDINGS;
	gss_ctx_id_t gctx = *ctx_slot;
	gss_buffer_desc in = {len, (void *)tok}, out = GSS_C_EMPTY_BUFFER,
			name = GSS_C_EMPTY_BUFFER;
	gss_name_t src = GSS_C_NO_NAME;
	OM_uint32 major, minor = 0, time_rec = 0;
	bool continuing = gctx != GSS_C_NO_CONTEXT;

	v->reason = KW_ERR_INTERNAL;
	v->principal_len = 0;
	v->principal[0] = '\0';
	v->reply_len = 0;
	v->expires_at = 0;
	if (cb != NULL && continuing) {
		/*
		 * The AUTHENTICATE leg. gss-ntlmssp compares the MD5 of these bindings with the
		 * client's MsvAvChannelBindings and refuses a client that sent none: allow mode
		 * leaves the bindings out for such a client (authsvc looks first).
		 */
		memset(&bindings, 0, sizeof(bindings));
		bindings.application_data.length = cb_len;
		bindings.application_data.value = (void *)cb;
		chan = &bindings;
	}
	major = gss_accept_sec_context(&minor, &gctx, spnego ? a->spnego : a->raw, &in, chan, &src,
				       NULL, &out, NULL, &time_rec, NULL);
	/* whatever GSS left (a live context or none) is the table's to keep or free */
	*ctx_slot = gctx;
	v->gss_major = major;
	v->gss_minor = minor;
	if (GSS_ERROR(major)) {
		if (GSS_ROUTINE_ERROR(major) == GSS_S_BAD_BINDINGS)
			v->reason = KW_ERR_CHANNEL_BINDING;
		else if (GSS_ROUTINE_ERROR(major) == GSS_S_DEFECTIVE_TOKEN || !continuing)
			v->reason = KW_ERR_MALFORMED;
		else
			/* the Type 3 did not prove the password the domain (or user file) has */
			v->reason = KW_ERR_BAD_PASSWORD;
		ntlm_status_text(major, GSS_C_GSS_CODE, v->detail, sizeof(v->detail));
		ntlm_status_text(minor, GSS_C_MECH_CODE, v->detail, sizeof(v->detail));
		goto cleanup;
	}
	if (out.length > sizeof(v->reply)) {
		snprintf(v->detail, sizeof(v->detail), "reply token of %zu bytes", out.length);
		goto cleanup;
	}
	if (major == GSS_S_CONTINUE_NEEDED) {
		if (continuing || out.length == 0) {
			/* NTLM has exactly one challenge; a third leg means a confused client */
			v->reason = KW_ERR_CONTINUE_NEEDED;
			snprintf(v->detail, sizeof(v->detail), "NTLM asked for another leg");
			goto cleanup;
		}
		memcpy(v->reply, out.value, out.length);
		v->reply_len = (uint16_t)out.length;
		v->reason = KW_NTLM_CHALLENGE;
		goto cleanup;
	}
	major = gss_display_name(&minor, src, &name, NULL);
	if (GSS_ERROR(major) || name.length >= sizeof(v->principal)) {
		snprintf(v->detail, sizeof(v->detail), "client name unavailable or too long");
		goto cleanup;
	}
	memcpy(v->principal, name.value, name.length);
	v->principal[name.length] = '\0';
	v->principal_len = (uint16_t)name.length;
	memcpy(v->reply, out.value, out.length);
	v->reply_len = (uint16_t)out.length;
	if (time_rec != GSS_C_INDEFINITE && time_rec != 0)
		v->expires_at = (int64_t)time(NULL) + time_rec;
	v->reason = KW_OK;
cleanup:
	if (name.value != NULL)
		gss_release_buffer(&minor, &name);
	if (out.value != NULL)
		gss_release_buffer(&minor, &out);
	if (src != GSS_C_NO_NAME)
		gss_release_name(&minor, &src);
	return v->reason == KW_OK || v->reason == KW_NTLM_CHALLENGE ? 0 : -EACCES;
}

/* ---- the domain controller behind winbind ---- */

enum ntlm_dc_state
ntlm_dc_ping(void **wb_slot, char *detail, size_t size)
{
	struct wbcAuthErrorInfo *error = NULL;
	struct wbcContext *wb = *wb_slot;
	enum ntlm_dc_state state;
	char *dcname = NULL;
	wbcErr rc;

	if (wb == NULL) {
		wb = wbcCtxCreate();
		if (wb == NULL) {
			if (detail != NULL)
				snprintf(detail, size, "wbcCtxCreate: no memory");
			return NTLM_DC_UNKNOWN;
		}
		*wb_slot = wb;
	}
	/* NULL: winbind's own domain; libwbclient 0.15 refuses any other name */
	rc = wbcCtxPingDc2(wb, NULL, &error, &dcname);
	switch (rc) {
	case WBC_ERR_SUCCESS:
		state = NTLM_DC_UP;
		break;
	case WBC_ERR_WINBIND_NOT_AVAILABLE:
		state = NTLM_DC_NO_WINBIND;
		break;
	case WBC_ERR_NOT_IMPLEMENTED:
	case WBC_ERR_NO_MEMORY:
	case WBC_ERR_INVALID_PARAM:
		state = NTLM_DC_UNKNOWN;
		break;
	default:
		/* DOMAIN_NOT_FOUND (winbindd offline: the DC stopped), AUTH_ERROR (NT_STATUS_*) */
		state = NTLM_DC_DOWN;
		break;
	}
	if (detail != NULL)
		snprintf(detail, size, "winbind ping of DC %s: %s%s%s", dcname ? dcname : "?",
			 wbcErrorString(rc), error && error->nt_string ? " " : "",
			 error && error->nt_string ? error->nt_string : "");
	wbcFreeMemory(error);
	wbcFreeMemory(dcname);
	return state;
}

void
ntlm_dc_ctx_free(void *wb)
{
	if (wb != NULL)
		wbcCtxFree(wb);
}

bool
ntlm_user_file_holds(const char *path, const uint8_t *tok, size_t len)
{
	struct trust_token_info info;
	struct ntlm_msg_info m;
	bool found = false;
	char line[1024];
	FILE *f;

	if (path == NULL || path[0] == '\0' || trust_parse_token(tok, len, &info) != 0 ||
	    info.mech != TRUST_MECH_NTLM ||
	    ntlm_parse_msg(info.mech_token, info.mech_token_len, &m) != 0 || m.type != 3)
		return false;
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *dom = line, *usr, *end;

		if (line[0] == '#')
			continue;
		usr = strchr(dom, ':');
		if (usr == NULL)
			continue;
		*usr++ = '\0';
		end = strchr(usr, ':');
		if (end == NULL)
			continue;
		*end = '\0';
		found = (m.domain[0] == '\0' || strcasecmp(dom, m.domain) == 0) &&
			strcasecmp(usr, m.user) == 0;
	}
	explicit_bzero(line, sizeof(line)); /* the last line read holds a password */
	fclose(f);
	return found;
}
