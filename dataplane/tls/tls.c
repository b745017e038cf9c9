/* The TLS layer: [tls], the shared SSL_CTX and its ticket keys, and each flow's SSL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <rte_common.h>
#include <rte_log.h>
#include <rte_spinlock.h>
#include <rte_telemetry.h>

#include "common/mono.h"
#include "common/counters.h"
#include "dataplane/tcp/tcp.h"
#include "dataplane/tls/tls.h"

RTE_LOG_REGISTER(ag_logtype_tls, authgate.tls, INFO);
#define TLS_LOG(level, fmt, ...)                                                                   \
	rte_log(RTE_LOG_##level, ag_logtype_tls, "tls: " fmt "\n", ##__VA_ARGS__)

#define TLS_MAX_LCORES 16
/* Ciphertext in from the engine: one whole record of the largest size and its header. */
#define TLS_RBUF (24 * 1024)
/* Records out, before tcp_send takes them: a few records, the handshake's flight. */
#define TLS_WBUF (64 * 1024)
/* What a record adds to its plaintext at most (header, explicit IV, MAC, padding, tag). */
#define TLS_RECORD_OVERHEAD 96
#define TLS_RECORD_MAX	    16384

static const char cb_prefix[] = "tls-server-end-point:";

static const char *const min_version_choices[] = {"1.2", "1.3", NULL};

static const struct ini_key tls_keys[] = {
	INI_U(tls_conf, port, 1, 65535, "443"),
	INI_S(tls_conf, certificate, INI_STRING, ""),
	INI_S(tls_conf, key, INI_STRING, ""),
	INI_S(tls_conf, ciphers, INI_STRING, "ECDHE+AESGCM:ECDHE+CHACHA20"),
	INI_S(tls_conf, ciphersuites, INI_STRING,
	      "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"),
	INI_E(tls_conf, min_version, min_version_choices, "1.2"),
	INI_U(tls_conf, handshake_timeout_s, 1, 600, "10"),
	INI_B(tls_conf, session_tickets, "yes"),
	INI_U(tls_conf, ticket_rotate_s, 1, 7 * 86400, "3600"),
	INI_U(tls_conf, handshake_budget_us, 0, 1000000, "1000"),
	INI_END,
};

/* The certificate's channel binding, hung on its SSL_CTX: lives as long as the last SSL. */
struct tls_cb {
	size_t len;
	uint8_t data[sizeof(cb_prefix) - 1 + EVP_MAX_MD_SIZE];
};

/* One connection. */
struct tls_conn {
	SSL *ssl;
	BIO *net; /* our end of the BIO pair: ciphertext in, records out */
	struct tcp_flow *flow;
	struct tls_stats *st;
	const struct tls_cb *cb;
	bool established;
	bool failed;	  /* counted once; nothing more is read */
	bool fin_pending; /* FIN after the records still queued here */
	bool fin_sent;
	bool alpn_refused;
	bool seen_bytes;
	bool fin_seen; /* the peer's FIN: counted once */
	bool deferred; /* on its lcore's deferred list */
	uint16_t lcore;
	struct tls_conn *dprev, *dnext;
};

/* Per lcore: handshake time spent in this loop iteration, flows put off to the next. */
struct tls_lcore {
	uint64_t spent_ns;
	struct tls_conn *head, *tail; /* deferred flows, oldest first */
} __rte_cache_aligned;

/* Ticket keys: the current one encrypts, the previous one still decrypts (then renews). */
struct tls_ticket_key {
	uint8_t name[16];
	uint8_t aes[32];
	uint8_t hmac[32];
	uint64_t created_s;
};

static struct {
	SSL_CTX *live;	  /* new connections take this one */
	SSL_CTX *retired; /* the one a reload replaced: freed by the next reload or fini */
	struct tls_conf conf;
	bool enabled;
	int cb_index; /* SSL_CTX ex_data slot of its struct tls_cb */
	unsigned int nb_lcores;
	struct tls_stats *stats; /* one per lcore */
	struct tls_lcore lcores[TLS_MAX_LCORES];
	rte_spinlock_t ticket_lock;
	struct tls_ticket_key tickets[3];
	unsigned int ticket_cur; /* index into tickets; written under the lock */
	bool tickets_ready;
} tls = {.cb_index = -1};

static const char *const err_names[TLS_E__COUNT] = {
	[TLS_E_NOT_TLS] = "not_tls",
	[TLS_E_VERSION] = "version",
	[TLS_E_NO_SHARED_CIPHER] = "no_shared_cipher",
	[TLS_E_ALPN] = "alpn",
	[TLS_E_BAD_RECORD] = "bad_record",
	[TLS_E_DECODE] = "decode",
	[TLS_E_UNEXPECTED] = "unexpected_message",
	[TLS_E_PEER_ALERT] = "peer_alert",
	[TLS_E_TRUNCATED] = "truncated",
	[TLS_E_HANDSHAKE_TIMEOUT] = "handshake_timeout",
	[TLS_E_RENEGOTIATION] = "renegotiation",
	[TLS_E_NO_MEMORY] = "no_memory",
	[TLS_E_OTHER] = "other",
};

const char *
tls_err_str(enum tls_err e)
{
	return (unsigned int)e < TLS_E__COUNT ? err_names[e] : "?";
}

static uint64_t
mono_s(void)
{
	return ag_mono_coarse_ns() / 1000000000ull;
}

/* ---- the SSL_CTX ---- */

static void
cb_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	RTE_SET_USED(parent);
	RTE_SET_USED(ad);
	RTE_SET_USED(idx);
	RTE_SET_USED(argl);
	RTE_SET_USED(argp);
	free(ptr);
}

/*
 * RFC 5929 4.1: the certificate's signature hash, except that MD5 and SHA-1 become SHA-256
 * (and so does a signature without a separate hash, such as Ed25519, as Windows does).
 */
static int
channel_binding(X509 *leaf, struct tls_cb *cb)
{
	int md_nid = NID_undef, pk_nid = NID_undef;
	const EVP_MD *md = NULL;
	unsigned int len = 0;

	if (!X509_get_signature_info(leaf, &md_nid, &pk_nid, NULL, NULL))
		md_nid = NID_undef;
	if (md_nid != NID_undef && md_nid != NID_md5 && md_nid != NID_sha1)
		md = EVP_get_digestbynid(md_nid);
	if (md == NULL)
		md = EVP_sha256();
	memcpy(cb->data, cb_prefix, sizeof(cb_prefix) - 1);
	if (!X509_digest(leaf, md, cb->data + sizeof(cb_prefix) - 1, &len))
		return -EINVAL;
	cb->len = sizeof(cb_prefix) - 1 + len;
	return 0;
}

static void
info_cb(const SSL *ssl, int where, int ret)
{
	struct tls_conn *c = SSL_get_app_data(ssl);

	if (c == NULL)
		return;
	if ((where & SSL_CB_WRITE_ALERT) && (ret & 0xff) != SSL_AD_CLOSE_NOTIFY) {
		c->st->alerts_sent++;
		if ((ret & 0xff) == SSL_AD_NO_RENEGOTIATION)
			c->st->errors[TLS_E_RENEGOTIATION]++;
	} else if ((where & SSL_CB_READ_ALERT) && (ret & 0xff) != SSL_AD_CLOSE_NOTIFY) {
		c->st->alerts_received++;
	}
}

/* http/1.1 or nothing: a client that offers only h2 gets no_application_protocol. */
static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
	unsigned int inlen, void *arg)
{
	static const unsigned char h11[] = "http/1.1";
	struct tls_conn *c = SSL_get_app_data(ssl);
	unsigned int i = 0;

	RTE_SET_USED(arg);
	while (i < inlen) {
		unsigned int l = in[i];

		if (i + 1 + l > inlen)
			break;
		if (l == sizeof(h11) - 1 && memcmp(in + i + 1, h11, l) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)l;
			if (c != NULL)
				c->st->alpn_http11++;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + l;
	}
	if (c != NULL)
		c->alpn_refused = true;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void
ticket_key_new(struct tls_ticket_key *k, uint64_t now_s)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
		TLS_LOG(ERR, "no randomness for a ticket key"); /* the key stays as it was */
	k->created_s = now_s;
}

/*
 * The current key, rotated when its period is over. The slot a rotation overwrites stopped
 * decrypting a whole period ago: a reader still copying it would have stalled that long.
 */
static const struct tls_ticket_key *
ticket_current(void)
{
	uint64_t now = mono_s();
	unsigned int cur = __atomic_load_n(&tls.ticket_cur, __ATOMIC_ACQUIRE);

	if (now - tls.tickets[cur].created_s >= tls.conf.ticket_rotate_s &&
	    rte_spinlock_trylock(&tls.ticket_lock)) {
		cur = tls.ticket_cur;
		if (now - tls.tickets[cur].created_s >= tls.conf.ticket_rotate_s) {
			unsigned int next = (cur + 1) % RTE_DIM(tls.tickets);

			ticket_key_new(&tls.tickets[next], now);
			__atomic_store_n(&tls.ticket_cur, next, __ATOMIC_RELEASE);
			cur = next;
		}
		rte_spinlock_unlock(&tls.ticket_lock);
	}
	return &tls.tickets[cur];
}

static int
ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
	  EVP_MAC_CTX *hctx, int enc)
{
	const struct tls_ticket_key *k = NULL;
	OSSL_PARAM params[3];
	int rc = 1;

	RTE_SET_USED(ssl);
	if (enc) {
		k = ticket_current();
		memcpy(key_name, k->name, 16);
		if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
			return -1;
	} else {
		unsigned int cur = __atomic_load_n(&tls.ticket_cur, __ATOMIC_ACQUIRE);
		unsigned int prev = (cur + RTE_DIM(tls.tickets) - 1) % RTE_DIM(tls.tickets);

		if (memcmp(key_name, tls.tickets[cur].name, 16) == 0) {
			k = &tls.tickets[cur];
		} else if (memcmp(key_name, tls.tickets[prev].name, 16) == 0 &&
			   mono_s() - tls.tickets[cur].created_s < tls.conf.ticket_rotate_s) {
			k = &tls.tickets[prev];
			rc = 2; /* good, but from the previous key: issue a fresh ticket */
		} else {
			return 0; /* unknown or expired key: a full handshake */
		}
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac,
						      sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(hctx, params))
		return -1;
	if (enc ? !EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv)
		: !EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv))
		return -1;
	return rc;
}

/* OpenSSL's first queued error as text (and the queue emptied). */
static void
ssl_err_text(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, size, "unknown error");
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
}

/*
 * An SSL_CTX for conf. NULL on failure, with the key at fault in *key_out and why in why.
 * Both the check of --check-config and the running gateway build it this way.
 */
static SSL_CTX *
ctx_build(const struct tls_conf *conf, const char **key_out, char *why, size_t size)
{
	struct tls_cb *cb = NULL;
	SSL_CTX *ctx;
	long opts;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*key_out = "certificate";
		ssl_err_text(why, size);
		return NULL;
	}
	if (!SSL_CTX_use_certificate_chain_file(ctx, conf->certificate)) {
		char e[200];

		*key_out = "certificate";
		ssl_err_text(e, sizeof(e));
		snprintf(why, size, "cannot load '%s': %s", conf->certificate, e);
		goto fail;
	}
	if (conf->key[0] == '\0') {
		*key_out = "key";
		snprintf(why, size, "a certificate needs its private key");
		goto fail;
	}
	if (!SSL_CTX_use_PrivateKey_file(ctx, conf->key, SSL_FILETYPE_PEM)) {
		char e[200];

		*key_out = "key";
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(why, size, "'%s' does not match the certificate '%s'", conf->key,
				 conf->certificate);
			goto fail;
		}
		ssl_err_text(e, sizeof(e));
		snprintf(why, size, "cannot load '%s': %s", conf->key, e);
		goto fail;
	}
	if (!SSL_CTX_check_private_key(ctx)) {
		*key_out = "key";
		ERR_clear_error();
		snprintf(why, size, "'%s' does not match the certificate '%s'", conf->key,
			 conf->certificate);
		goto fail;
	}
	if (!SSL_CTX_set_cipher_list(ctx, conf->ciphers)) {
		*key_out = "ciphers";
		ERR_clear_error();
		snprintf(why, size, "no usable cipher in '%s'", conf->ciphers);
		goto fail;
	}
	if (!SSL_CTX_set_ciphersuites(ctx, conf->ciphersuites)) {
		*key_out = "ciphersuites";
		ERR_clear_error();
		snprintf(why, size, "no usable TLS 1.3 suite in '%s'", conf->ciphersuites);
		goto fail;
	}
	SSL_CTX_set_min_proto_version(ctx, conf->min_version == TLS_MIN_1_3 ? TLS1_3_VERSION
									    : TLS1_2_VERSION);
	/*
	 * No renegotiation (a client-started one costs us a handshake on the lcore for each of
	 * its requests), no compression, our cipher order, and no session cache: its lock would
	 * be shared by every lcore. Resumption is by stateless tickets only.
	 */
	opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE;
	if (!conf->session_tickets)
		opts |= SSL_OP_NO_TICKET;
	SSL_CTX_set_options(ctx, opts);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (conf->session_tickets) {
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
		SSL_CTX_set_timeout(ctx, 2 * (long)conf->ticket_rotate_s);
		SSL_CTX_set_num_tickets(ctx, 1);
	} else {
		SSL_CTX_set_num_tickets(ctx, 0);
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	SSL_CTX_set_info_callback(ctx, info_cb);
	cb = calloc(1, sizeof(*cb));
	if (cb == NULL || channel_binding(SSL_CTX_get0_certificate(ctx), cb) != 0) {
		*key_out = "certificate";
		snprintf(why, size, "cannot hash '%s' for channel binding", conf->certificate);
		free(cb);
		goto fail;
	}
	if (tls.cb_index >= 0 && !SSL_CTX_set_ex_data(ctx, tls.cb_index, cb)) {
		free(cb);
		*key_out = "certificate";
		snprintf(why, size, "out of memory");
		goto fail;
	}
	if (tls.cb_index < 0)
		free(cb); /* only checking */
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* --check-config and every load: the files load, the key matches, the cipher lists parse. */
static void
tls_check(struct ini_ctx *ctx, void *conf_arg)
{
	const struct tls_conf *c = conf_arg;
	const char *key = "certificate";
	char why[1024];
	SSL_CTX *sc;

	if (c->certificate[0] == '\0') {
		if (c->key[0] != '\0')
			ini_error(ctx, ini_line(ctx, "tls", "key"), "tls", "key",
				  "a key without a certificate");
		return;
	}
	sc = ctx_build(c, &key, why, sizeof(why));
	if (sc == NULL)
		ini_error(ctx, ini_line(ctx, "tls", key), "tls", key, "%s", why);
	SSL_CTX_free(sc);
}

const struct ini_section tls_conf_section = {
	.name = "tls",
	.keys = tls_keys,
	.check = tls_check,
};

/* ---- telemetry ---- */

static int
tel_tls_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct tls_stats sum;
	struct rte_tel_data *errs;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	memset(&sum, 0, sizeof(sum));
	for (unsigned int i = 0; tls.stats != NULL && i < tls.nb_lcores; i++)
		counters_add(&sum, &tls.stats[i], sizeof(sum));
	errs = rte_tel_data_alloc();
	if (errs == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "enabled", tls.enabled);
#define T(f) rte_tel_data_add_dict_u64(d, #f, sum.f)
	T(connections);
	T(handshakes);
	T(resumed);
	T(tls12);
	T(tls13);
	T(alpn_http11);
	T(alerts_sent);
	T(alerts_received);
	T(close_notify_in);
	T(no_close_notify);
	T(bytes_in);
	T(bytes_out);
	T(hs_steps);
	T(hs_step_ns);
	T(hs_deferred);
#undef T
	{
		uint64_t max = 0;

		for (unsigned int i = 0; tls.stats != NULL && i < tls.nb_lcores; i++)
			max = RTE_MAX(max, __atomic_load_n(&tls.stats[i].hs_step_ns_max,
							   __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(d, "hs_step_ns_max", max);
	}
	rte_tel_data_start_dict(errs);
	for (int e = 0; e < TLS_E__COUNT; e++)
		rte_tel_data_add_dict_u64(errs, err_names[e], sum.errors[e]);
	rte_tel_data_add_dict_container(d, "errors", errs, 0);
	return 0;
}

/* ---- start, reload, stop ---- */

int
tls_init(const struct tls_conf *conf, unsigned int nb_lcores)
{
	const char *key = "certificate";
	char why[1024];

	tls.conf = *conf;
	tls.nb_lcores = RTE_MIN(nb_lcores, (unsigned int)TLS_MAX_LCORES);
	rte_telemetry_register_cmd("/authgate/tls/stats", tel_tls_stats,
				   "TLS: handshakes full and resumed, versions, alerts, errors");
	if (conf->certificate[0] == '\0')
		return 0;
	/* not rte_zmalloc: the fuzz target runs this layer without EAL */
	tls.stats = aligned_alloc(RTE_CACHE_LINE_SIZE, sizeof(*tls.stats) * TLS_MAX_LCORES);
	if (tls.stats == NULL)
		return -ENOMEM;
	memset(tls.stats, 0, sizeof(*tls.stats) * TLS_MAX_LCORES);
	if (tls.cb_index < 0)
		tls.cb_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, cb_free);
	if (tls.cb_index < 0)
		return -ENOMEM;
	rte_spinlock_init(&tls.ticket_lock);
	for (unsigned int i = 0; i < RTE_DIM(tls.tickets); i++)
		ticket_key_new(&tls.tickets[i], mono_s());
	tls.ticket_cur = 0;
	tls.live = ctx_build(conf, &key, why, sizeof(why));
	if (tls.live == NULL) {
		TLS_LOG(ERR, "[tls] %s: %s", key, why);
		return -EINVAL;
	}
	tls.enabled = true;
	TLS_LOG(INFO, "listening on port %u with %s", conf->port, conf->certificate);
	return 0;
}

bool
tls_enabled(void)
{
	return tls.enabled;
}

uint16_t
tls_port(void)
{
	return (uint16_t)tls.conf.port;
}

uint32_t
tls_handshake_timeout_s(void)
{
	return tls.conf.handshake_timeout_s;
}

int
tls_reconfigure(const struct tls_conf *conf)
{
	const char *key = "certificate";
	char why[1024];
	SSL_CTX *fresh;

	if ((conf->certificate[0] != '\0') != tls.enabled || conf->port != tls.conf.port) {
		TLS_LOG(WARNING, "reload: [tls] port or on/off changed: they need a restart");
		return 1;
	}
	if (!tls.enabled)
		return 0;
	fresh = ctx_build(conf, &key, why, sizeof(why));
	if (fresh == NULL) {
		TLS_LOG(ERR, "reload: [tls] %s: %s; the old certificate stays", key, why);
		return 0;
	}
	/*
	 * An lcore may have read the live pointer and not yet taken its reference in SSL_new:
	 * the context it replaces is freed only at the next reload, seconds later at least.
	 */
	SSL_CTX_free(tls.retired);
	tls.retired = __atomic_exchange_n(&tls.live, fresh, __ATOMIC_ACQ_REL);
	/* the lcores read these without a lock: each is one aligned word */
	__atomic_store_n(&tls.conf.handshake_timeout_s, conf->handshake_timeout_s,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&tls.conf.ticket_rotate_s, conf->ticket_rotate_s, __ATOMIC_RELAXED);
	__atomic_store_n(&tls.conf.handshake_budget_us, conf->handshake_budget_us,
			 __ATOMIC_RELAXED);
	TLS_LOG(INFO, "reload: certificate %s for new connections", conf->certificate);
	return 0;
}

void
tls_fini(void)
{
	SSL_CTX_free(tls.retired);
	tls.retired = NULL;
	SSL_CTX_free(tls.live);
	tls.live = NULL;
	tls.enabled = false;
	free(tls.stats);
	tls.stats = NULL;
}

static void undefer(struct tls_conn *c);

void
tls_lcore_poll(uint16_t lcore)
{
	struct tls_lcore *lc = &tls.lcores[lcore % TLS_MAX_LCORES];
	uint64_t budget = (uint64_t)tls.conf.handshake_budget_us * 1000;

	lc->spent_ns = 0;
	/*
	 * Oldest first, and only while this iteration's budget lasts: resuming every deferred
	 * flow each iteration would cost the lcore more than the handshakes, and the newest
	 * would starve the oldest into their handshake timeout.
	 */
	while (lc->head != NULL && lc->spent_ns < budget) {
		struct tls_conn *c = lc->head;

		undefer(c);
		/* may run its callbacks and free c, or defer it again: nothing of c after this */
		tcp_recv_resume(c->flow);
	}
}

const struct tls_stats *
tls_lcore_stats(unsigned int lcore)
{
	return tls.stats != NULL && lcore < TLS_MAX_LCORES ? &tls.stats[lcore] : NULL;
}

/* ---- one connection ---- */

struct tls_conn *
tls_conn_new(struct tcp_flow *f, uint16_t lcore)
{
	SSL_CTX *ctx = __atomic_load_n(&tls.live, __ATOMIC_ACQUIRE);
	struct tls_stats *st = &tls.stats[lcore % TLS_MAX_LCORES];
	struct tls_conn *c;
	BIO *inner = NULL;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto nomem;
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL)
		goto nomem;
	if (!BIO_new_bio_pair(&inner, TLS_WBUF, &c->net, TLS_RBUF))
		goto nomem;
	SSL_set_bio(c->ssl, inner, inner);
	SSL_set_app_data(c->ssl, c);
	SSL_set_accept_state(c->ssl);
	c->flow = f;
	c->st = st;
	c->lcore = lcore % TLS_MAX_LCORES;
	st->connections++;
	return c;
nomem:
	ERR_clear_error();
	st->errors[TLS_E_NO_MEMORY]++;
	if (c != NULL) {
		SSL_free(c->ssl);
		free(c);
	}
	return NULL;
}

static void
undefer(struct tls_conn *c)
{
	struct tls_lcore *lc = &tls.lcores[c->lcore];

	if (!c->deferred)
		return;
	if (c->dprev != NULL)
		c->dprev->dnext = c->dnext;
	else
		lc->head = c->dnext;
	if (c->dnext != NULL)
		c->dnext->dprev = c->dprev;
	else
		lc->tail = c->dprev;
	c->dprev = c->dnext = NULL;
	c->deferred = false;
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	undefer(c);
	SSL_free(c->ssl); /* frees the inner BIO */
	BIO_free(c->net);
	free(c);
}

/* What failed, from OpenSSL's reason code. */
static enum tls_err
classify(const struct tls_conn *c, unsigned long e)
{
	int r = ERR_GET_REASON(e);

	if (c->alpn_refused)
		return TLS_E_ALPN;
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return r == ERR_R_MALLOC_FAILURE ? TLS_E_NO_MEMORY : TLS_E_OTHER;
	if (r >= SSL_AD_REASON_OFFSET && r < SSL_AD_REASON_OFFSET + 256)
		return TLS_E_PEER_ALERT;
	switch (r) {
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_UNKNOWN_PROTOCOL:
		return c->established ? TLS_E_BAD_RECORD : TLS_E_NOT_TLS;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_VERSION_TOO_HIGH:
		return TLS_E_VERSION;
	case SSL_R_NO_SHARED_CIPHER:
		return TLS_E_NO_SHARED_CIPHER;
	case SSL_R_NO_APPLICATION_PROTOCOL:
		return TLS_E_ALPN;
	case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
	case SSL_R_BAD_RECORD_TYPE:
	case SSL_R_ENCRYPTED_LENGTH_TOO_LONG:
	case SSL_R_DATA_LENGTH_TOO_LONG:
	case SSL_R_RECORD_TOO_SMALL:
	case SSL_R_BAD_LENGTH:
		return TLS_E_BAD_RECORD;
	case SSL_R_UNEXPECTED_MESSAGE:
	case SSL_R_UNEXPECTED_RECORD:
	case SSL_R_UNEXPECTED_CCS_MESSAGE:
	case SSL_R_CCS_RECEIVED_EARLY:
		return TLS_E_UNEXPECTED;
	case SSL_R_LENGTH_MISMATCH:
	case SSL_R_BAD_PACKET_LENGTH:
	case SSL_R_LENGTH_TOO_SHORT:
	case SSL_R_BAD_EXTENSION:
	case SSL_R_BAD_PACKET:
	case SSL_R_EXCESSIVE_MESSAGE_SIZE:
		return TLS_E_DECODE;
	default:
		return TLS_E_OTHER;
	}
}

/* Queues what records fit on the flow; FIN once all are out if a shutdown asked for it. */
void
tls_flush(struct tls_conn *c)
{
	char *p;
	int n, sent;

	while ((n = BIO_nread0(c->net, &p)) > 0) {
		sent = tcp_send(c->flow, p, (size_t)n);
		if (sent <= 0)
			break;
		BIO_nread(c->net, &p, sent);
		c->st->bytes_out += (uint64_t)sent;
		if (sent < n)
			break;
	}
	if (c->fin_pending && !c->fin_sent && BIO_ctrl_pending(c->net) == 0) {
		c->fin_sent = true;
		tcp_shutdown(c->flow);
	}
}

static int
fail(struct tls_conn *c, enum tls_err why)
{
	if (!c->failed) {
		c->failed = true;
		c->st->errors[why]++;
	}
	ERR_clear_error();
	tls_flush(c); /* the alert OpenSSL queued, if any */
	return -EPROTO;
}

/* After an SSL call returned r <= 0: 0 when it only wants more bytes, else the failure. */
static int
ssl_result(struct tls_conn *c, int r)
{
	unsigned long e;

	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		tls_flush(c);
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		c->st->close_notify_in++;
		tls_flush(c);
		return TLS_EOF;
	case SSL_ERROR_SSL:
		e = ERR_peek_error();
		TLS_LOG(DEBUG, "connection failed: %s", ERR_reason_error_string(e));
		return fail(c, classify(c, e));
	default:
		return fail(c, c->alpn_refused ? TLS_E_ALPN : TLS_E_OTHER);
	}
}

static int
handshake(struct tls_conn *c)
{
	uint64_t t0 = ag_mono_ns(), dt;
	int r = SSL_do_handshake(c->ssl);

	dt = ag_mono_ns() - t0;
	tls.lcores[c->lcore].spent_ns += dt;
	c->st->hs_steps++;
	c->st->hs_step_ns += dt;
	if (dt > c->st->hs_step_ns_max)
		c->st->hs_step_ns_max = dt;

	if (r != 1)
		return ssl_result(c, r);
	c->established = true;
	if (SSL_session_reused(c->ssl))
		c->st->resumed++;
	else
		c->st->handshakes++;
	if (SSL_version(c->ssl) == TLS1_3_VERSION)
		c->st->tls13++;
	else
		c->st->tls12++;
	c->cb = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(c->ssl), tls.cb_index);
	tls_flush(c); /* its last flight, TLS 1.3 tickets */
	return 0;
}

int
tls_input(struct tls_conn *c, const struct rte_mbuf *m)
{
	uint32_t taken = 0;
	int rc;

	if (c->failed)
		return -EPROTO;
	if (!c->established && tls.conf.handshake_budget_us != 0 &&
	    tls.lcores[c->lcore].spent_ns >= (uint64_t)tls.conf.handshake_budget_us * 1000) {
		/*
		 * This iteration's handshakes took their share of the lcore: the bytes stay
		 * with the engine (taking none pauses the flow) until tls_lcore_poll.
		 */
		if (!c->deferred) {
			struct tls_lcore *lc = &tls.lcores[c->lcore];

			c->deferred = true;
			c->dprev = lc->tail;
			c->dnext = NULL;
			if (lc->tail != NULL)
				lc->tail->dnext = c;
			else
				lc->head = c;
			lc->tail = c;
			c->st->hs_deferred++;
		}
		return 0;
	}
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		const char *p = rte_pktmbuf_mtod(s, const char *);
		size_t len = s->data_len, room = BIO_ctrl_get_write_guarantee(c->net);
		int n;

		if (room == 0 || len == 0)
			break;
		n = BIO_write(c->net, p, (int)RTE_MIN(len, room));
		if (n <= 0)
			break;
		taken += (uint32_t)n;
		if ((size_t)n < len)
			break;
	}
	c->st->bytes_in += taken;
	c->seen_bytes |= taken > 0;
	if (!c->established) {
		rc = handshake(c);
		if (rc < 0)
			return rc;
	}
	return (int)taken;
}

void
tls_input_fin(struct tls_conn *c)
{
	if (c->failed || c->fin_seen || !c->seen_bytes)
		return;
	c->fin_seen = true;
	if (!c->established || BIO_ctrl_pending(SSL_get_rbio(c->ssl)) > 0 ||
	    (SSL_has_pending(c->ssl) && SSL_pending(c->ssl) == 0)) {
		/* a handshake or a record that will never be whole */
		c->st->errors[TLS_E_TRUNCATED]++;
		c->failed = true;
	} else if (!(SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN)) {
		/* a half-close on a record boundary: the responses owed still go out */
		c->st->no_close_notify++;
	}
}

int
tls_read(struct tls_conn *c, void *buf, size_t len)
{
	size_t n = 0;
	int r;

	if (c->failed)
		return -EPROTO;
	if (!c->established) {
		r = handshake(c);
		if (r < 0 || !c->established)
			return r;
	}
	r = SSL_read_ex(c->ssl, buf, len, &n);
	if (r != 1)
		return ssl_result(c, 0);
	if (BIO_ctrl_pending(c->net) > 0)
		tls_flush(c); /* what reading made: a TLS 1.3 key update, a warning alert */
	return (int)n;
}

bool
tls_readable(const struct tls_conn *c)
{
	return !c->failed &&
	       (SSL_pending(c->ssl) > 0 || BIO_ctrl_pending(SSL_get_rbio(c->ssl)) > 0);
}

int
tls_write(struct tls_conn *c, const void *buf, size_t len)
{
	size_t room, over, chunk, written = 0;

	if (c->failed || c->fin_pending)
		return -EPROTO;
	tls_flush(c);
	if (BIO_ctrl_pending(c->net) > 0 || !c->established)
		return 0;
	/* only what the engine takes now: the records never wait here */
	room = RTE_MIN((size_t)tcp_send_space(c->flow),
		       BIO_ctrl_get_write_guarantee(SSL_get_wbio(c->ssl)));
	over = (room / TLS_RECORD_MAX + 1) * TLS_RECORD_OVERHEAD;
	if (room <= over)
		return 0;
	chunk = RTE_MIN(len, room - over);
	if (SSL_write_ex(c->ssl, buf, chunk, &written) != 1)
		return ssl_result(c, 0) < 0 ? -EPROTO : 0;
	tls_flush(c);
	return (int)written;
}

void
tls_shutdown(struct tls_conn *c)
{
	if (c->established && !c->failed && !c->fin_pending) {
		SSL_shutdown(c->ssl); /* queues close_notify; the client's is not awaited */
		ERR_clear_error();
	}
	c->fin_pending = true;
	tls_flush(c);
}

bool
tls_established(const struct tls_conn *c)
{
	return c->established;
}

void
tls_handshake_timed_out(struct tls_conn *c)
{
	if (!c->failed) {
		c->failed = true;
		c->st->errors[TLS_E_HANDSHAKE_TIMEOUT]++;
	}
}

const uint8_t *
tls_channel_binding(const struct tls_conn *c, size_t *len_out)
{
	if (!c->established || c->cb == NULL)
		return NULL;
	*len_out = c->cb->len;
	return c->cb->data;
}
