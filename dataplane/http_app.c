/* HTTP/1.1 on the TCP engine: per-flow receive buffer, pipelined requests in order, zero-copy file
 * bodies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "control/accesslog.h"
#include "control/authsvc.h"
#include "control/trust.h"
#include "dataplane/b64.h"
#include "dataplane/dp.h"
#include "dataplane/dp_l4.h"
#include "dataplane/http/path.h"
#include "dataplane/http_app.h"
#include "dataplane/http/http.h"
#include "dataplane/tcp/tcp.h"

#define RX_INITIAL 2048

/* One external-buffer owner per response body: keeps the file mapped while mbufs point into it. */
struct ha_ext {
	struct rte_mbuf_ext_shared_info shinfo;
	struct store_file *file;
};

struct ha_flow {
	struct ha_lcore *app;
	struct tcp_flow *flow;
	struct http_conn conn;
	char *rx;
	uint32_t rx_len;
	uint32_t rx_cap;
	struct http_response *resp; /* being sent; NULL when idle */
	size_t head_off;
	unsigned int slice;
	size_t slice_off;
	struct ha_ext *ext;
	uint32_t requests;
	uint64_t idle_since_us; /* last response finished (keep-alive timeout) */
	uint64_t head_since_us; /* first byte of the pending request head (header timeout) */
	bool peer_fin;
	bool closing; /* FIN queued: nothing more is parsed */
	/* auth: written by this lcore only */
	bool authed;	       /* persisted: later requests need no token */
	bool parked;	       /* a request waits for a verdict; rx must not move */
	uint32_t seq;	       /* the parked request's number, echoed by its verdict */
	uint32_t auth_hash;    /* hash of the Authorization value that authenticated */
	uint32_t revoke_epoch; /* revocations already checked against */
	uint32_t failures;     /* failed validations on this connection */
	uint32_t site_auth;    /* schemes the parked request's site offers */
	bool ntlm_started;     /* the control plane may hold an NTLM context for this flow */
	int64_t auth_time;     /* Unix seconds */
	int64_t auth_expires;  /* ticket end or max_session_age, whichever first */
	uint64_t parked_since_us;
	size_t parked_consumed;
	struct h1_request parked_req;
	char principal[KW_PRINCIPAL_MAX];
	struct ha_flow *prev, *next; /* this lcore's connections, for the timeout sweep */
};

static const struct ag_http_conf *http_conf;
static const struct ag_auth_conf *auth_conf;
static const struct ag_config *full_conf;
static uint64_t park_timeout_us; /* the longest trust deadline plus slack */
static struct accesslog *access_log;

void
ha_set_accesslog(struct accesslog *al)
{
	access_log = al;
}

static void
copy_view(char *dst, size_t size, const struct h1_view *v)
{
	size_t n = v ? RTE_MIN(v->len, size - 1) : 0;

	if (n > 0)
		memcpy(dst, v->p, n);
	dst[n] = '\0';
}

/* Headers the gate and parser do not index, looked up for the log only. */
static const struct h1_view *
header_named(const struct h1_request *req, const char *name)
{
	for (unsigned int i = 0; i < req->nheaders; i++)
		if (h1_view_ieq(req->headers[i].name, name))
			return &req->headers[i].value;
	return NULL;
}

/* One line of the access log, handed to the writer thread; never waits. */
static void
log_request(struct ha_flow *h, const struct h1_request *req, int status, uint64_t bytes)
{
	const struct tcp_tuple *tp;
	struct accesslog_rec rec;

	if (access_log == NULL)
		return;
	tp = tcp_flow_tuple(h->flow);
	memset(&rec, 0, offsetof(struct accesslog_rec, target));
	rec.client_ip = tp->raddr;
	rec.client_port = tp->rport;
	rec.status = (uint16_t)status;
	rec.bytes = bytes;
	rec.time_s = h->app->now_s;
	if (req != NULL) {
		rec.method = (uint8_t)req->method;
		rec.version_minor = (uint8_t)req->version_minor;
		copy_view(rec.target, sizeof(rec.target), &req->target);
		copy_view(rec.referer, sizeof(rec.referer), header_named(req, "Referer"));
		copy_view(rec.agent, sizeof(rec.agent), header_named(req, "User-Agent"));
	} else {
		rec.target[0] = rec.referer[0] = rec.agent[0] = '\0';
	}
	/* principals longer than the log field are cut; the log is for people, not for auth */
	snprintf(rec.user, sizeof(rec.user), "%.*s", (int)sizeof(rec.user) - 1,
		 h->authed || status < 300 ? h->principal : "");
	if (accesslog_post(access_log, h->app->lcore, &rec) < 0)
		h->app->stats.log_dropped++;
}
static struct http_conn_conf conn_conf; /* template; each lcore copies it */
static struct store_site_conf site_confs[AG_MAX_SITES];
static unsigned int nb_sites;

static void
ext_free(void *addr, void *opaque)
{
	struct ha_ext *ext = opaque;

	RTE_SET_USED(addr);
	store_file_put(ext->file);
	free(ext);
}

/* Drops our own reference; mbufs still in flight keep the mapping until they are freed. */
static void
ext_release(struct ha_ext *ext)
{
	if (ext != NULL && rte_mbuf_ext_refcnt_update(&ext->shinfo, -1) == 0)
		ext_free(NULL, ext);
}

static void
flow_unlink(struct ha_flow *h)
{
	struct ha_lcore *app = h->app;

	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		app->flows = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
}

static void
response_done(struct ha_flow *h)
{
	ext_release(h->ext);
	h->ext = NULL;
	if (h->resp != NULL) {
		http_response_release(h->resp);
		rte_free(h->resp);
		h->resp = NULL;
	}
}

static int64_t
wall_seconds(void)
{
	struct timespec ts;

	/* vDSO: no syscall */
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return ts.tv_sec;
}

static void process(struct ha_flow *h);
static void start_response(struct ha_flow *h);
static void drop_rx(struct ha_flow *h, size_t n);

/* FNV-1a: tells "the same Authorization header again" from "another one", nothing more. */
static uint32_t
hash_view(const struct h1_view *v)
{
	uint32_t x = 2166136261u;

	for (size_t i = 0; i < v->len; i++)
		x = (x ^ (uint8_t)v->p[i]) * 16777619u;
	return x;
}

/* The longest [site] prefix that matches the target decides; unparseable targets need none. */
static uint32_t
site_auth(const struct h1_request *req)
{
	char path[4096];
	size_t len, best = 0;
	uint32_t auth = AG_AUTH_NONE;

	if (path_normalize(req->target.p, req->target.len, path, sizeof(path), &len) < 0)
		return AG_AUTH_NONE;
	for (unsigned int i = 0; i < full_conf->nb_sites; i++) {
		const struct ag_site_conf *site = &full_conf->sites[i];
		size_t pl = strlen(site->prefix);

		if (pl >= best && path_strip_prefix(path, len, site->prefix, pl) >= 0) {
			best = pl;
			auth = site->auth;
		}
	}
	return auth;
}

static void
forget_auth(struct ha_flow *h)
{
	if (h->authed)
		h->app->stats.persisted_flows--;
	h->authed = false;
	h->principal[0] = '\0';
}

/*
 * A response to fill, with opts set for it; NULL (connection aborted, counted) when there is no
 * memory for one.
 */
static struct http_response *
resp_new(struct ha_flow *h, const char *extra, struct http_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->now = h->app->now_s;
	opts->extra_headers = extra;
	opts->extra_len = extra ? strlen(extra) : 0;
	h->resp = rte_malloc("http_resp", sizeof(*h->resp), 0);
	if (h->resp == NULL) {
		h->app->stats.no_memory++;
		tcp_abort(h->flow);
	}
	return h->resp;
}

/* Answer now with status and the given extra header lines (401 challenge, 503 Retry-After). */
static void
answer(struct ha_flow *h, const struct h1_request *req, int status, const char *extra, bool close,
       size_t consumed)
{
	struct http_opts opts;

	if (resp_new(h, extra, &opts) == NULL)
		return;
	/* RFC 9110: a response to HEAD has no body, challenges included */
	http_error(status, !close, req != NULL && req->method == H1_M_HEAD, &opts, h->resp);
	h->resp->close = close;
	h->app->hstats.status_class[status / 100]++;
	log_request(h, req, status, 0);
	drop_rx(h, consumed);
	start_response(h);
}

/* One WWW-Authenticate line per scheme the site offers (Basic only where it may be used). */
static void
challenge(struct ha_flow *h, const struct h1_request *req, uint32_t schemes, size_t consumed,
	  bool close)
{
	char extra[160];
	int len = 0;

	if (schemes & AG_AUTH_NEGOTIATE)
		len += snprintf(extra + len, sizeof(extra) - len,
				"WWW-Authenticate: Negotiate\r\n");
	if (schemes & AG_AUTH_NTLM)
		len += snprintf(extra + len, sizeof(extra) - len, "WWW-Authenticate: NTLM\r\n");
	if ((schemes & AG_AUTH_BASIC) && auth_conf->allow_basic_over_http)
		len += snprintf(
			extra + len, sizeof(extra) - len,
			"WWW-Authenticate: Basic realm=\"authgate\", charset=\"UTF-8\"\r\n");
	h->app->stats.challenges++;
	answer(h, req, 401, extra, close, consumed);
}

/* The scheme word of an Authorization header, if the site offers it. */
static int
authz_scheme(const struct h1_view *authz, uint32_t schemes, size_t *skip_out)
{
	static const struct {
		const char *word;
		uint32_t site_bit;
		int scheme;
	} words[] = {
		{"Negotiate ", AG_AUTH_NEGOTIATE, AUTHSVC_SCHEME_NEGOTIATE},
		{"NTLM ", AG_AUTH_NTLM, AUTHSVC_SCHEME_NTLM},
		{"Basic ", AG_AUTH_BASIC, AUTHSVC_SCHEME_BASIC},
	};

	for (unsigned int i = 0; i < RTE_DIM(words); i++) {
		size_t n = strlen(words[i].word);

		if (authz->len > n && strncasecmp(authz->p, words[i].word, n) == 0 &&
		    (schemes & words[i].site_bit)) {
			*skip_out = n;
			return words[i].scheme;
		}
	}
	return -1;
}

/* Serve req with the auth headers this response owes the client. */
static void
serve(struct ha_flow *h, const struct h1_request *req, size_t consumed, const char *extra)
{
	struct http_opts opts;

	if (resp_new(h, extra, &opts) == NULL)
		return;
	opts.force_close = http_conf->max_requests != 0 && h->requests >= http_conf->max_requests;
	if (http_conn_respond(&h->conn, req, h->app->store, &opts, h->resp) < 0)
		h->app->stats.respond_errors++;
	log_request(h, req, h->resp->status, h->resp->body_len);
	/* views into rx were used: only now may the bytes go */
	drop_rx(h, consumed);
	start_response(h);
}

/*
 * The gate for one request on a protected site. Returns true when it answered or parked
 * the request, false when the request may be served as it is (persisted authentication).
 */
static bool
gate(struct ha_flow *h, const struct h1_request *req, uint32_t schemes, size_t consumed,
     const char **extra_out)
{
	const struct h1_view *authz = h1_req_header(req, H1_H_AUTHORIZATION);
	struct authsvc_job *job;
	size_t skip = 0;
	int scheme;
	long n;

	if (h->authed) {
		uint32_t epoch = authsvc_revoke_epoch();

		if (epoch != h->revoke_epoch) {
			h->revoke_epoch = epoch;
			if (authsvc_is_revoked(h->principal, h->auth_time)) {
				h->app->stats.revoked_sessions++;
				forget_auth(h);
			}
		}
		if (h->authed && h->app->now_s >= h->auth_expires) {
			h->app->stats.expired_sessions++;
			forget_auth(h);
		}
		/* the same credentials again are no news; different ones start afresh */
		if (h->authed && (authz == NULL || hash_view(authz) == h->auth_hash)) {
			h->app->stats.persisted_hits++;
			*extra_out = "Persistent-Auth: true\r\n";
			return false;
		}
		if (h->authed) {
			h->app->stats.identity_changes++;
			forget_auth(h);
		}
	}
	scheme = authz ? authz_scheme(authz, schemes, &skip) : -1;
	if (scheme < 0) {
		challenge(h, req, schemes, consumed, false);
		return true;
	}
	if (scheme == AUTHSVC_SCHEME_BASIC && !auth_conf->allow_basic_over_http) {
		/* a password in the clear: refused, and not offered again */
		h->app->stats.basic_refused++;
		challenge(h, req, schemes, consumed, false);
		return true;
	}
	job = malloc(sizeof(*job) + auth_conf->max_token_bytes);
	if (job == NULL) {
		h->app->stats.no_memory++;
		answer(h, req, 503, NULL, false, consumed);
		return true;
	}
	n = b64_decode(authz->p + skip, authz->len - skip, job->token, auth_conf->max_token_bytes);
	if (n <= 0) {
		free(job);
		h->app->stats.bad_tokens++;
		h->failures++;
		challenge(h, req, schemes, consumed, h->failures >= auth_conf->max_auth_failures);
		return true;
	}
	job->flow_id = tcp_flow_id(h->flow);
	job->flow_gen = tcp_flow_gen(h->flow);
	job->seq = ++h->seq;
	job->lcore = h->app->lcore;
	job->token_len = (uint32_t)n;
	if (authsvc_submit_as(h->app->lcore, job, scheme) < 0) {
		char ra[64];

		explicit_bzero(job->token, job->token_len);
		free(job);
		h->app->stats.ring_full++;
		snprintf(ra, sizeof(ra), "Retry-After: %u\r\n", auth_conf->retry_after_s);
		answer(h, req, 503, ra, false, consumed);
		return true;
	}
	if (scheme != AUTHSVC_SCHEME_BASIC)
		h->ntlm_started = true; /* NTLMSSP may ride inside Negotiate too */
	h->site_auth = schemes;
	h->app->stats.validations++;
	h->auth_hash = hash_view(authz);
	h->parked = true;
	h->parked_since_us = dp_now_us();
	h->parked_consumed = consumed;
	h->parked_req = *req;
	return true;
}

static const char *const scheme_words[] = {"Negotiate", "NTLM", "Basic"};

/*
 * "WWW-Authenticate: <scheme> <b64 token>\r\n" into buf; 0 and an empty string when there is no
 * token (the caller's buffer may hold an earlier verdict's headers: never leave them there).
 */
static int
reply_header(const struct authsvc_verdict *v, char *buf, size_t size)
{
	int len;
	long w;

	buf[0] = '\0';
	if (v->reply_len == 0 || v->scheme >= RTE_DIM(scheme_words))
		return 0;
	len = snprintf(buf, size, "WWW-Authenticate: %s ", scheme_words[v->scheme]);
	w = b64_encode(v->reply, v->reply_len, buf + len, size - len);
	if (w < 0 || (size_t)(len + w + 2) >= size) {
		buf[0] = '\0';
		return 0;
	}
	len += (int)w;
	return len + snprintf(buf + len, size - len, "\r\n");
}

/* A verdict for a parked request: serve it, challenge again, or say 503. */
static void
apply_verdict(struct ha_flow *h, const struct authsvc_verdict *v)
{
	char extra[160 + KW_REPLY_MAX * 4 / 3 + 8];
	size_t consumed = h->parked_consumed;
	int len;

	h->parked = false;
	tcp_recv_resume(h->flow);
	if (v->status == 200) {
		/*
		 * Kerberos persists per persist_non_ntlm (IIS authPersistNonNTLM); NTLM is
		 * connection-based by design; Basic is never bound to the connection.
		 */
		bool persist = !auth_conf->persist_single_request &&
			       (v->mech == TRUST_MECH_NTLM ||
				(v->mech == TRUST_MECH_KRB5 && auth_conf->persist_non_ntlm));

		h->app->stats.auth_ok++;
		snprintf(h->principal, sizeof(h->principal), "%s", v->principal);
		h->auth_time = h->app->now_s;
		h->auth_expires = h->app->now_s + auth_conf->max_session_age_s;
		if (v->expires_at > 0 && v->expires_at < h->auth_expires)
			h->auth_expires = v->expires_at;
		h->revoke_epoch = authsvc_revoke_epoch();
		h->failures = 0;
		len = 0;
		if (v->scheme != AUTHSVC_SCHEME_BASIC)
			len = snprintf(extra, sizeof(extra), "Persistent-Auth: %s\r\n",
				       persist ? "true" : "false");
		reply_header(v, extra + len, sizeof(extra) - len);
		if (persist) {
			h->authed = true;
			h->app->stats.persisted_flows++;
		}
		serve(h, &h->parked_req, consumed, extra);
		if (!persist)
			h->principal[0] = '\0';
		return;
	}
	if (v->status == 503) {
		h->app->stats.auth_busy++;
		snprintf(extra, sizeof(extra), "Retry-After: %u\r\n", auth_conf->retry_after_s);
		answer(h, &h->parked_req, 503, extra, false, consumed);
		return;
	}
	if (v->cont) {
		/* NTLM's Type 2: the client's Type 3 must come on this same connection */
		h->app->stats.ntlm_challenges++;
		if (reply_header(v, extra, sizeof(extra)) > 0) {
			answer(h, &h->parked_req, 401, extra, false, consumed);
			return;
		}
	}
	h->app->stats.auth_failed++;
	h->failures++;
	if (h->failures >= auth_conf->max_auth_failures)
		h->app->stats.failure_closes++;
	challenge(h, &h->parked_req, h->site_auth, consumed,
		  h->failures >= auth_conf->max_auth_failures);
}

void
ha_lcore_verdicts(struct ha_lcore *app)
{
	struct authsvc_verdict *v[32];
	unsigned int n = authsvc_take_verdicts(app->lcore, v, RTE_DIM(v));

	for (unsigned int i = 0; i < n; i++) {
		/* the lcore is an online RCU reader: the flow cannot be freed under us */
		struct tcp_flow *f =
			tcp_flow_lookup_id(dp_flow_table(), v[i]->flow_id, v[i]->flow_gen);
		struct ha_flow *h = f ? tcp_flow_ctx(f) : NULL;

		if (h == NULL || h->app != app || !h->parked || h->seq != v[i]->seq)
			app->stats.stale_verdicts++;
		else
			apply_verdict(h, v[i]);
		authsvc_verdict_free(v[i]);
	}
}

/* Queues as much of the current response as the send buffer takes. */
static void
pump(struct ha_flow *h)
{
	struct http_response *r;
	int n;

	while ((r = h->resp) != NULL) {
		if (h->head_off < r->head_len) {
			n = tcp_send(h->flow, r->head + h->head_off, r->head_len - h->head_off);
			if (n <= 0)
				return;
			h->head_off += n;
			h->app->stats.bytes_out += n;
			continue;
		}
		if (h->slice < r->nslices) {
			const struct http_slice *s = &r->slices[h->slice];
			const char *base = (const char *)s->base + h->slice_off;
			size_t left = s->len - h->slice_off;

			if (left == 0) {
				h->slice++;
				h->slice_off = 0;
				continue;
			}
			if (s->kind == HTTP_SLICE_INLINE || h->ext == NULL) {
				n = tcp_send(h->flow, base, left);
			} else {
				/* the last bytes of a file: refuse to finish a body that changed
				 * under us */
				if (h->slice + 1 == r->nslices && store_file_check(r->file) != 0) {
					h->app->stats.torn_files++;
					tcp_abort(h->flow);
					return;
				}
				n = tcp_send_ext(h->flow, (void *)(uintptr_t)base,
						 rte_eal_iova_mode() == RTE_IOVA_VA
							 ? (rte_iova_t)(uintptr_t)base
							 : RTE_BAD_IOVA,
						 left, &h->ext->shinfo);
			}
			if (n <= 0)
				return;
			h->slice_off += n;
			h->app->stats.bytes_out += n;
			continue;
		}
		/* all of it is queued */
		bool close = r->close;
		response_done(h);
		h->idle_since_us = dp_now_us();
		if (close || h->peer_fin) {
			h->closing = true;
			tcp_shutdown(h->flow);
			return;
		}
		process(h);
	}
}

static void
start_response(struct ha_flow *h)
{
	struct http_response *r = h->resp;

	h->head_off = 0;
	h->slice = 0;
	h->slice_off = 0;
	h->ext = NULL;
	if (r->file != NULL && r->body_len > 0) {
		struct ha_ext *ext = malloc(sizeof(*ext));

		if (ext != NULL) {
			memset(ext, 0, sizeof(*ext));
			ext->file = r->file;
			store_file_get(r->file);
			ext->shinfo.free_cb = ext_free;
			ext->shinfo.fcb_opaque = ext;
			rte_mbuf_ext_refcnt_set(&ext->shinfo, 1);
			h->ext = ext;
		}
		/* without an ext owner the body is copied: slower, still correct */
	}
	h->app->stats.responses++;
	pump(h);
}

static void
drop_rx(struct ha_flow *h, size_t n)
{
	if (n == 0)
		return;
	memmove(h->rx, h->rx + n, h->rx_len - n);
	h->rx_len -= n;
}

/* Parses and answers requests while no response is in flight: pipelined ones stay in order. */
static void
process(struct ha_flow *h)
{
	while (h->resp == NULL && !h->closing && !h->parked) {
		struct h1_request req;
		struct http_opts opts;
		size_t consumed = 0;
		int status = 0;
		enum http_conn_rc rc;

		rc = http_conn_parse(&h->conn, h->rx, h->rx_len, &consumed, &req, &status);
		if (rc == HTTP_CONN_AGAIN) {
			drop_rx(h, consumed);
			if (h->rx_len > 0 && h->head_since_us == 0)
				h->head_since_us = dp_now_us();
			if (h->rx_len == 0)
				h->head_since_us = 0;
			if (h->peer_fin && h->rx_len == 0) {
				h->closing = true;
				tcp_shutdown(h->flow);
			}
			tcp_recv_resume(h->flow);
			return;
		}
		if (rc == HTTP_CONN_ERROR) {
			if (resp_new(h, NULL, &opts) == NULL)
				return;
			http_conn_error(&h->conn, status, &opts, h->resp);
			log_request(h, NULL, status, 0);
			h->rx_len = 0;
			h->head_since_us = 0;
			start_response(h);
			continue;
		}
		rte_free(h->resp);
		h->resp = NULL;
		h->requests++;
		h->head_since_us = 0;
		{
			const char *extra = NULL;

			uint32_t schemes = site_auth(&req);

			if (schemes != AG_AUTH_NONE && gate(h, &req, schemes, consumed, &extra))
				return; /* answered, or parked until its verdict */
			serve(h, &req, consumed, extra);
			if (auth_conf->persist_single_request)
				forget_auth(h);
		}
	}
}

static int
on_accepted(struct tcp_flow *f, void *listen_arg, void **ctx_out)
{
	struct ha_lcore *app = listen_arg;
	struct ha_flow *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		app->stats.no_memory++;
		return -ENOMEM;
	}
	h->app = app;
	h->flow = f;
	http_conn_init(&h->conn, &app->conn_conf);
	h->idle_since_us = dp_now_us();
	h->next = app->flows;
	if (app->flows != NULL)
		app->flows->prev = h;
	app->flows = h;
	app->stats.connections++;
	app->stats.active++;
	*ctx_out = h;
	return 0;
}

static uint32_t
on_data(struct tcp_flow *f, void *ctx, struct rte_mbuf *m)
{
	struct ha_flow *h = ctx;
	uint32_t limit =
		conn_conf.limits.max_request_line + conn_conf.limits.max_header_bytes + 1024;
	uint32_t want, off = 0;

	RTE_SET_USED(f);
	if (m == NULL) {
		h->peer_fin = true;
		if (h->resp == NULL && !h->closing && !h->parked)
			process(h);
		return 0;
	}
	if (h->closing)
		return rte_pktmbuf_pkt_len(m); /* after an error or close: read and forget */
	if (h->parked)
		return 0; /* the parked request's views point into rx: it must not move */
	want = rte_pktmbuf_pkt_len(m);
	if (h->rx_len + want > h->rx_cap && h->rx_cap < limit) {
		uint32_t cap = h->rx_cap ? h->rx_cap : RX_INITIAL;
		char *nrx;

		while (cap < h->rx_len + want && cap < limit)
			cap *= 2;
		cap = RTE_MIN(cap, limit);
		nrx = realloc(h->rx, cap);
		if (nrx == NULL) {
			h->app->stats.no_memory++;
			return 0;
		}
		h->rx = nrx;
		h->rx_cap = cap;
	}
	/* a full buffer is backpressure: the rest waits in the engine, the window closes */
	want = RTE_MIN(want, h->rx_cap - h->rx_len);
	for (struct rte_mbuf *s = m; s != NULL && off < want; s = s->next) {
		uint32_t n = RTE_MIN((uint32_t)s->data_len, want - off);
		memcpy(h->rx + h->rx_len + off, rte_pktmbuf_mtod(s, char *), n);
		off += n;
	}
	h->rx_len += want;
	h->app->stats.bytes_in += want;
	if (h->resp == NULL)
		process(h);
	return want;
}

static void
on_acked(struct tcp_flow *f, void *ctx, uint32_t bytes)
{
	struct ha_flow *h = ctx;

	RTE_SET_USED(f);
	RTE_SET_USED(bytes);
	if (h->resp != NULL)
		pump(h);
}

static void
on_closed(struct tcp_flow *f, void *ctx, enum tcp_close_reason reason)
{
	struct ha_flow *h = ctx;

	RTE_SET_USED(reason);
	if (h == NULL)
		return;
	if (h->resp != NULL)
		h->app->stats.aborted_responses++;
	if (h->ntlm_started)
		authsvc_flow_closed(h->app->lcore, tcp_flow_id(f), tcp_flow_gen(f));
	response_done(h);
	forget_auth(h);
	flow_unlink(h);
	h->app->stats.active--;
	free(h->rx);
	free(h);
}

static const struct tcp_callbacks http_callbacks = {
	.accepted = on_accepted,
	.data = on_data,
	.acked = on_acked,
	.closed = on_closed,
};

int
ha_init(const struct ag_config *cfg)
{
	http_conf = &cfg->http;
	auth_conf = &cfg->auth;
	full_conf = cfg;
	park_timeout_us = 5000000;
	for (unsigned int i = 0; i < cfg->nb_trusts; i++)
		park_timeout_us = RTE_MAX(park_timeout_us,
					  ((uint64_t)cfg->trusts[i].timeout_s + 5) * 1000000);
	h1_limits_default(&conn_conf.limits);
	conn_conf.limits.max_request_line = cfg->http.max_request_line;
	conn_conf.limits.max_header_bytes = cfg->http.max_header_bytes;
	conn_conf.limits.max_headers = cfg->http.max_headers;
	conn_conf.max_body = cfg->http.max_body;
	conn_conf.stats = NULL;
	nb_sites = cfg->nb_sites;
	for (unsigned int i = 0; i < nb_sites; i++) {
		site_confs[i].prefix = cfg->sites[i].prefix;
		site_confs[i].root = cfg->sites[i].root;
	}
	return 0;
}

int
ha_lcore_init(struct ha_lcore *app, struct tcp_engine *e, uint16_t lcore)
{
	struct store_conf sc = {
		.sites = site_confs,
		.nsites = nb_sites,
		.revalidate_ns = 1000000000ull,
	};
	int rc;

	memset(app, 0, sizeof(*app));
	if (http_conf == NULL || http_conf->port == 0)
		return 0;
	app->lcore = lcore;
	app->conn_conf = conn_conf;
	app->conn_conf.stats = &app->hstats;
	app->store = store_create(&sc);
	if (app->store == NULL)
		return -errno;
	app->now_s = wall_seconds();
	rc = tcp_listen(e, http_conf->port, &http_callbacks, app);
	if (rc < 0) {
		store_destroy(app->store);
		app->store = NULL;
	}
	return rc;
}

void
ha_lcore_fini(struct ha_lcore *app)
{
	if (app->store != NULL)
		store_destroy(app->store);
	app->store = NULL;
}

/*
 * Time since a stamp. The tick's clock is read before this iteration's verdicts and
 * responses stamp flows, so a stamp may be a little newer than now: that is no time at all,
 * not an unsigned wrap into "idle for ever".
 */
static inline uint64_t
since(uint64_t now_us, uint64_t stamp_us)
{
	return now_us > stamp_us ? now_us - stamp_us : 0;
}

/* Once a second or so: Date, slowloris and idle keep-alive timeouts. */
void
ha_lcore_tick(struct ha_lcore *app, uint64_t now_us)
{
	uint64_t head_to = (uint64_t)http_conf->header_timeout_s * 1000000;
	uint64_t idle_to = (uint64_t)http_conf->keepalive_timeout_s * 1000000;
	struct ha_flow *h, *next;

	if (app->store == NULL)
		return;
	app->now_s = wall_seconds();
	for (h = app->flows; h != NULL; h = next) {
		next = h->next; /* the flow may close under us */
		if (h->parked && since(now_us, h->parked_since_us) > park_timeout_us) {
			/* the verdict was lost (ring full): a late one finds seq moved on */
			char ra[64];

			app->stats.parked_timeouts++;
			h->parked = false;
			h->seq++;
			tcp_recv_resume(h->flow);
			snprintf(ra, sizeof(ra), "Retry-After: %u\r\n", auth_conf->retry_after_s);
			answer(h, &h->parked_req, 503, ra, false, h->parked_consumed);
			continue;
		}
		if (h->resp != NULL || h->closing || h->parked)
			continue;
		if (h->head_since_us != 0 && since(now_us, h->head_since_us) > head_to) {
			struct http_opts opts;

			/* a head that never finishes: 408, then close */
			app->stats.header_timeouts++;
			if (resp_new(h, NULL, &opts) == NULL)
				continue;
			http_conn_error(&h->conn, 408, &opts, h->resp);
			h->rx_len = 0;
			h->head_since_us = 0;
			start_response(h);
		} else if (h->head_since_us == 0 && h->rx_len == 0 &&
			   since(now_us, h->idle_since_us) > idle_to) {
			app->stats.idle_closes++;
			h->closing = true;
			tcp_shutdown(h->flow);
		}
	}
}
