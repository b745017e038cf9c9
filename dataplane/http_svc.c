/* HTTP/1.1 on the TCP engine: per-flow receive, pipelined requests in order, the gate obeyed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <sys/stat.h>

#include "control/authsvc.h"
#include "dataplane/app.h"
#include "dataplane/b64.h"
#include "dataplane/clock.h"
#include "dataplane/dp.h"
#include "dataplane/http/resolver.h"
#include "dataplane/http_svc_priv.h"
#include "dataplane/proxy/proxy.h"
#include "dataplane/tcp/tcp.h"
#include "dataplane/tls/tls.h"

#define RX_INITIAL 2048

/* One external-buffer owner per response body: keeps the file mapped while mbufs point into it. */
struct ha_ext {
	struct rte_mbuf_ext_shared_info shinfo;
	struct store_file *file;
};

static const struct ini_key http_keys[] = {
	INI_U(http_svc_conf, port, 0, 65535, "80"),
	INI_U(http_svc_conf, max_request_line, 256, 1 << 20, "8192"),
	INI_U(http_svc_conf, max_header_bytes, 1024, 1 << 20, "73728"),
	INI_U(http_svc_conf, max_headers, 8, 256, "100"),
	INI_U(http_svc_conf, max_body, 0, 1 << 30, "1048576"),
	INI_U(http_svc_conf, header_timeout_s, 1, 3600, "10"),
	INI_U(http_svc_conf, keepalive_timeout_s, 1, 86400, "60"),
	INI_U(http_svc_conf, max_requests, 0, 1 << 30, "10000"),
	INI_S(http_svc_conf, access_log, INI_STRING, ""),
	INI_U(http_svc_conf, shutdown_grace_s, 0, 3600, "30"),
	INI_U(http_svc_conf, send_timeout_s, 0, 3600, "60"),
	INI_U(http_svc_conf, store_threads, 0, 64, "2"),
	INI_U(http_svc_conf, store_queue, 1, 65536, "256"),
	INI_END,
};

/* The access log's directory must exist: the file itself is created at start. */
static void
http_check(struct ini_ctx *ctx, void *conf)
{
	const struct http_svc_conf *c = conf;
	char dir[INI_STR];
	char *slash;
	struct stat st;

	if (c->access_log[0] == '\0')
		return;
	snprintf(dir, sizeof(dir), "%s", c->access_log);
	slash = strrchr(dir, '/');
	if (dir[0] != '/' || slash == NULL) {
		ini_error(ctx, ini_line(ctx, "http", "access_log"), "http", "access_log",
			  "'%s' is not an absolute path", c->access_log);
		return;
	}
	*(slash == dir ? slash + 1 : slash) = '\0';
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		ini_error(ctx, ini_line(ctx, "http", "access_log"), "http", "access_log",
			  "directory '%s' does not exist", dir);
}

const struct ini_section http_svc_conf_section = {
	.name = "http",
	.keys = http_keys,
	.check = http_check,
};

/*
 * The live configuration: a reload publishes new ones (release) and the lcores read the
 * pointers afresh (acquire). The old ones stay allocated by the caller of
 * http_svc_reconfigure for as long as a parked request may point into them.
 */
static const struct http_svc_conf *http_conf_live;
static const struct gate_conf *gate_conf_live;

static inline const struct http_svc_conf *
cur_http(void)
{
	return __atomic_load_n(&http_conf_live, __ATOMIC_ACQUIRE);
}

static inline const struct gate_conf *
cur_gate(void)
{
	return __atomic_load_n(&gate_conf_live, __ATOMIC_ACQUIRE);
}
static uint64_t park_timeout_us;	/* the longest trust deadline plus slack */
static struct http_conn_conf conn_conf; /* template; each lcore copies it */

static struct tcp_flow_table *ha_flow_table; /* verdicts name their flow by id */
struct resolver *store_resolver;	     /* NULL: the lcores resolve their own misses */

struct ha_lcore *ha_lcores[DP_MAX_LCORES];
unsigned int ha_nb_lcores;

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
static struct accesslog *access_log;
static void tls_pull(struct ha_flow *h);

/* Bytes out, the end of the stream, reading again: through the TLS layer on its port. */
static int
ha_send(struct ha_flow *h, const void *buf, size_t len)
{
	return h->tls != NULL ? tls_write(h->tls, buf, len) : tcp_send(h->flow, buf, len);
}

static void
ha_shutdown(struct ha_flow *h)
{
	if (h->tls != NULL)
		tls_shutdown(h->tls);
	else
		tcp_shutdown(h->flow);
}

/* Last thing its caller does: the connection may be gone when it returns. */
static void
ha_recv_resume(struct ha_flow *h)
{
	if (h->tls != NULL)
		tls_pull(h);
	else
		tcp_recv_resume(h->flow);
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
	/*
	 * What the client asked (HTTP/1.0, Connection: close) and the connection's limits hold
	 * for the gate's answers too; and a body held back for 100-continue cannot be told from
	 * the next request once the answer is not 100.
	 */
	if (req != NULL && (!req->keep_alive || (req->expect_continue && req->content_length > 0)))
		close = true;
	if (h->px_body_pending) {
		/* a proxied request answered here: its body is skipped, or cannot be (chunked) */
		h->px_body_pending = false;
		if (req == NULL || req->chunked)
			close = true;
		else if (req->content_length > 0)
			h->conn.discard = (uint64_t)req->content_length;
	}
	if (cur_http()->max_requests != 0 && h->requests >= cur_http()->max_requests)
		close = true;
	/* RFC 9110: a response to HEAD has no body, challenges included */
	http_error(status, !close, req != NULL && req->method == H1_M_HEAD, &opts, h->resp);
	h->resp->close = close;
	h->app->hstats.status_class[status / 100]++;
	ha_log_request(access_log, h, req, status, 0);
	drop_rx(h, consumed);
	start_response(h);
}

/* 401 with one WWW-Authenticate line per scheme the site offers. */
static void
challenge(struct ha_flow *h, const struct h1_request *req, uint32_t schemes, size_t consumed,
	  bool close)
{
	char extra[160];

	gate_challenge_headers(cur_gate(), schemes, h->tls != NULL, extra, sizeof(extra));
	answer(h, req, 401, extra, close, consumed);
}

static void
retry_later(struct ha_flow *h, const struct h1_request *req, size_t consumed)
{
	char ra[64];

	snprintf(ra, sizeof(ra), "Retry-After: %u\r\n", cur_gate()->retry_after_s);
	answer(h, req, 503, ra, false, consumed);
}

static void
gate_env_now(const struct ha_flow *h, struct gate_env *env)
{
	env->now_s = h->app->now_s;
	env->revoke_epoch = authsvc_revoke_epoch();
	env->is_revoked = authsvc_is_revoked;
	env->tls = h->tls != NULL;
}

static const char *const mech_scheme[] = {"", "Negotiate", "NTLM", "Basic"};

/* Request body bytes in rx go to the exchange. False when the connection closed meanwhile. */
static bool
px_feed(struct ha_flow *h)
{
	struct tcp_flow *f = h->flow;
	size_t n;

	if (h->px == NULL || h->rx_len == 0)
		return true;
	h->px_feeding = true;
	n = proxy_client_rx(h->px, h->rx, h->rx_len);
	if (tcp_flow_state(f) == TCP_CLOSED)
		return false; /* reset from inside: h is gone */
	h->px_feeding = false;
	drop_rx(h, n);
	if (h->px_next_pending) {
		/* it ended inside: the bytes it took are gone now, the next request may be read */
		h->px_next_pending = false;
		process(h);
		if (h->px == NULL && h->resp == NULL && !h->closing)
			ha_recv_resume(h); /* h may be gone when it returns */
	}
	return true;
}

static void
px_want_rx(void *arg)
{
	struct ha_flow *h = arg;
	struct tcp_flow *f = h->flow;

	if (px_feed(h) && tcp_flow_state(f) != TCP_CLOSED)
		ha_recv_resume(h);
}

static void
px_done(void *arg, const struct proxy_result *res)
{
	struct ha_flow *h = arg;

	h->px = NULL;
	ha_log_post(access_log, h, h->px_log, res->status, res->bytes, res->up_addr, res->up_port,
		    (uint16_t)res->up_status);
	h->px_log = NULL;
	if (!res->reset && res->status >= 100 && res->status < 600)
		h->app->hstats.status_class[res->status / 100]++;
	h->app->stats.bytes_out += res->bytes;
	if (res->reset) {
		tcp_abort(h->flow);
		return;
	}
	h->idle_since_us = dp_now_us();
	if (res->close || h->peer_fin || h->app->draining) {
		h->closing = true;
		ha_shutdown(h);
		return;
	}
	if (h->px_feeding) {
		h->px_next_pending = true; /* px_feed parses on once it dropped the body bytes */
		return;
	}
	process(h);
	if (h->px == NULL && h->resp == NULL && !h->closing)
		ha_recv_resume(h);
}

/* The proxy's bytes to the client go through here: the service's own byte I/O. */
static int
px_send(void *arg, const void *buf, size_t len)
{
	struct ha_flow *h = arg;

	return ha_send(h, buf, len);
}

static uint32_t
px_send_space(void *arg)
{
	struct ha_flow *h = arg;
	uint32_t space = tcp_send_space(h->flow);

	/*
	 * Over TLS every record adds its header and tag: leave room for them, so that what the
	 * proxy was told fits is taken (up to 32 records of 16 KiB, 29 bytes each at most).
	 */
	if (h->tls != NULL)
		space = space > 1024 ? space - 1024 : 0;
	return space;
}

static const struct proxy_hooks px_hooks = {
	.send = px_send,
	.send_space = px_send_space,
	.want_rx = px_want_rx,
	.done = px_done,
};

/* A request of a proxied site the gate let through: the exchange takes it from here. */
static void
proxy_serve(struct ha_flow *h, const struct h1_request *req, const struct site_conf *site,
	    size_t consumed, const char *extra)
{
	bool last = !req->keep_alive || h->app->draining ||
		    (cur_http()->max_requests != 0 && h->requests >= cur_http()->max_requests);
	struct proxy_start ps = {
		.client = h->flow,
		.req = req,
		.site = site,
		.extra = extra,
		.client_close = last,
		.hooks = &px_hooks,
		.arg = h,
	};
	int status;

	ps.id.https = h->tls != NULL;
	if (site->auth != SITE_AUTH_NONE && h->auth.principal[0] != '\0') {
		ps.id.user = h->auth.principal;
		ps.id.scheme = h->auth.mech < RTE_DIM(mech_scheme) ? mech_scheme[h->auth.mech] : "";
	}
	h->px_log = ha_log_prepare(access_log, h, req);
	status = proxy_begin(&ps, &h->px);
	if (status != 0) {
		free(h->px_log);
		h->px_log = NULL;
		answer(h, req, status, NULL, true, consumed);
		return;
	}
	h->px_body_pending = false;
	h->app->stats.responses++;
	drop_rx(h, consumed);
	px_feed(h); /* the body bytes that came with the head */
}

/*
 * The store is looking the file up (-EINPROGRESS): the request waits as for a verdict, rx
 * held, its auth headers kept for the response. Its queue full (-EBUSY): 503.
 */
static void
store_wait(struct ha_flow *h, const struct h1_request *req, size_t consumed, const char *extra,
	   int rc)
{
	if (rc == -EINPROGRESS && extra != NULL) {
		h->park_extra = strdup(extra);
		if (h->park_extra == NULL) {
			h->app->stats.no_memory++;
			rc = -EBUSY; /* its waiter finds the request gone: counted stale */
		}
	}
	if (rc != -EINPROGRESS) {
		h->app->stats.store_busy++;
		retry_later(h, req, consumed);
		return;
	}
	h->app->stats.store_parked++;
	h->parked = true;
	h->store_parked = true;
	h->parked_since_us = dp_now_us();
	h->parked_consumed = consumed;
	if (req != &h->parked_req)
		h->parked_req = *req;
}

/* A request's site (NULL: none) and its target normalised once for the store (len 0: not). */
struct req_site {
	const struct site_conf *site;
	const char *path;
	size_t path_len;
};

/* Serve req, whose site is known, with the auth headers it owes the client. */
static void
serve_site(struct ha_flow *h, const struct h1_request *req, const struct req_site *rs,
	   size_t consumed, const char *extra)
{
	const struct site_conf *site = rs->site;
	struct http_opts opts;
	int rc;

	if (site != NULL && site->nb_upstreams > 0) {
		proxy_serve(h, req, site, consumed, extra);
		return;
	}

	if (resp_new(h, extra, &opts) == NULL)
		return;
	opts.force_close = cur_http()->max_requests != 0 && h->requests >= cur_http()->max_requests;
	if (rs->path_len > 0) {
		opts.path = rs->path;
		opts.path_len = rs->path_len;
	}
	/* a miss may wait for the resolver under this name; seq tells a later request apart */
	store_park_as(h->app->store, h->store_id, ++h->seq);
	rc = http_conn_respond(&h->conn, req, h->app->store, &opts, h->resp);
	if (rc == -EINPROGRESS || rc == -EBUSY) {
		rte_free(h->resp);
		h->resp = NULL;
		store_wait(h, req, consumed, extra, rc);
		return;
	}
	if (rc < 0)
		h->app->stats.respond_errors++;
	ha_log_request(access_log, h, req, h->resp->status, h->resp->body_len);
	/* views into rx were used: only now may the bytes go */
	drop_rx(h, consumed);
	start_response(h);
}

/* A request run again (after a verdict or a store lookup): its site is looked up anew. */
static void
serve(struct ha_flow *h, const struct h1_request *req, size_t consumed, const char *extra)
{
	struct req_site rs = {.site = gate_site_for(cur_gate(), req->target.p, req->target.len)};

	serve_site(h, req, &rs, consumed, extra);
}

/* The token of a PARK decision to the control plane; the request waits for its verdict. */
static void
park(struct ha_flow *h, const struct h1_request *req, const struct site_conf *site, size_t consumed,
     const struct h1_view *authz, const struct gate_decision *d)
{
	struct gate_decision bad;
	struct authsvc_job *job;
	long n;

	job = malloc(sizeof(*job) + cur_gate()->max_token_bytes);
	if (job == NULL) {
		h->app->stats.no_memory++;
		answer(h, req, 503, NULL, false, consumed);
		return;
	}
	n = b64_decode(authz->p + d->token_off, authz->len - d->token_off, job->token,
		       cur_gate()->max_token_bytes);
	if (n <= 0) {
		explicit_bzero(job->token, cur_gate()->max_token_bytes);
		free(job);
		gate_bad_token(cur_gate(), &h->auth, &h->app->gate, &bad);
		challenge(h, req, site->auth, consumed, bad.close);
		return;
	}
	job->flow_id = tcp_flow_id(h->flow);
	job->flow_gen = tcp_flow_gen(h->flow);
	job->seq = ++h->seq;
	job->lcore = h->app->lcore;
	job->token_len = (uint32_t)n;
	job->flags = d->job_flags;
	job->cb_len = 0;
	if (h->tls != NULL && (d->job_flags & (AUTHSVC_JOB_CB_ALLOW | AUTHSVC_JOB_CB_REQUIRE))) {
		size_t cb_len = 0;
		const uint8_t *cb = tls_channel_binding(h->tls, &cb_len);

		if (cb != NULL && cb_len <= sizeof(job->cb)) {
			memcpy(job->cb, cb, cb_len);
			job->cb_len = (uint8_t)cb_len;
		}
	}
	if (authsvc_submit_as(h->app->lcore, job, d->scheme) < 0) {
		explicit_bzero(job->token, job->token_len);
		free(job);
		h->app->gate.ring_full++;
		retry_later(h, req, consumed);
		return;
	}
	if (d->scheme != AUTHSVC_SCHEME_BASIC)
		h->ntlm_started = true; /* NTLMSSP may ride inside Negotiate too */
	h->site = site;
	h->app->gate.validations++;
	h->auth.auth_hash = d->auth_hash;
	h->parked = true;
	h->parked_since_us = dp_now_us();
	h->parked_consumed = consumed;
	h->parked_req = *req;
}

/*
 * A request on a protected site: what the gate decides, carried out. True when it was served
 * (the next pipelined request may follow), false when it was answered or parked.
 */
static bool
gate_and_serve(struct ha_flow *h, const struct h1_request *req, const struct req_site *rs,
	       size_t consumed)
{
	const struct site_conf *site = rs->site;
	const struct h1_view *authz = h1_req_header(req, H1_H_AUTHORIZATION);
	struct gate_decision d;
	struct gate_env env;

	gate_env_now(h, &env);
	gate_request(cur_gate(), &h->auth, site, authz, &env, &h->app->gate, &d);
	switch (d.action) {
	case GATE_SERVE:
		serve_site(h, req, rs, consumed, "Persistent-Auth: true\r\n");
		gate_request_done(cur_gate(), &h->auth, &h->app->gate);
		return true;
	case GATE_CHALLENGE:
		challenge(h, req, site->auth, consumed, d.close);
		break;
	case GATE_PARK:
		park(h, req, site, consumed, authz, &d);
		break;
	case GATE_REFUSE:
		retry_later(h, req, consumed);
		break;
	case GATE_DENY:
		answer(h, req, 403, NULL, false, consumed);
		break;
	}
	return false;
}

/* A verdict for a parked request: serve it, challenge again, or say 503. */
static void
apply_verdict_do(struct ha_flow *h, const struct authsvc_verdict *v)
{
	char extra[160 + KW_REPLY_MAX * 4 / 3 + 8];
	size_t consumed = h->parked_consumed;
	struct gate_decision d;
	struct gate_env env;
	int len = 0;

	h->parked = false;
	gate_env_now(h, &env);
	gate_verdict(cur_gate(), &h->auth, h->site, v, &env, &h->app->gate, &d);
	switch (d.action) {
	case GATE_SERVE:
		if (v->scheme != AUTHSVC_SCHEME_BASIC)
			len = snprintf(extra, sizeof(extra), "Persistent-Auth: %s\r\n",
				       d.persist ? "true" : "false");
		gate_reply_header(v, extra + len, sizeof(extra) - len);
		serve(h, &h->parked_req, consumed, extra);
		gate_request_done(cur_gate(), &h->auth, &h->app->gate);
		return;
	case GATE_REFUSE:
		retry_later(h, &h->parked_req, consumed);
		return;
	case GATE_CHALLENGE:
		if (d.reply) {
			gate_reply_header(v, extra, sizeof(extra));
			answer(h, &h->parked_req, 401, extra, false, consumed);
		} else {
			challenge(h, &h->parked_req, h->site->auth, consumed, d.close);
		}
		return;
	case GATE_DENY:
		answer(h, &h->parked_req, 403, NULL, false, consumed);
		return;
	case GATE_PARK:
		break; /* a verdict never parks again */
	}
}

/*
 * Bytes that came while the request was parked wait in the engine: they are delivered only
 * once the parked request's head left rx, or they would be parsed behind it as its copy.
 */
static void
apply_verdict(struct ha_flow *h, const struct authsvc_verdict *v)
{
	struct tcp_flow *f = h->flow;
	bool tls = h->tls != NULL;

	apply_verdict_do(h, v);
	/* TLS: process() pulls what waits in the TLS layer when it runs out */
	if (!tls && tcp_flow_state(f) != TCP_CLOSED)
		tcp_recv_resume(f);
}

/* A parked request's file was looked up: it runs again and finds the outcome. */
static void
store_resumed(struct ha_flow *h, struct store_done *d)
{
	struct tcp_flow *f = h->flow;
	struct store *st = h->app->store;
	bool tls = h->tls != NULL;
	char *extra = h->park_extra;

	h->parked = false;
	h->store_parked = false;
	h->park_extra = NULL;
	store_resume(st, d);
	serve(h, &h->parked_req, h->parked_consumed, extra); /* h may be gone when it returns */
	store_resume_end(st);
	free(extra);
	/* as after a verdict: what waited in the engine may come now */
	if (!tls && tcp_flow_state(f) != TCP_CLOSED)
		tcp_recv_resume(f);
}

/* The resolver's answers for this lcore's parked requests; one closed meanwhile is dropped. */
static void
store_answers(struct ha_lcore *app)
{
	struct store_done d[32];
	unsigned int n = store_lane_poll(app->lane, app->store, d, RTE_DIM(d));

	for (unsigned int i = 0; i < n; i++) {
		struct tcp_flow *f = tcp_flow_lookup_id(ha_flow_table, (uint32_t)(d[i].w.id >> 32),
							(uint32_t)d[i].w.id);
		struct ha_flow *h = f ? tcp_flow_ctx(f) : NULL;

		if (h == NULL || h->app != app || !h->store_parked || h->seq != d[i].w.seq) {
			app->stats.store_stale++;
			store_file_put(d[i].file);
		} else {
			store_resumed(h, &d[i]);
		}
	}
}

/* Verdicts from the control plane for this lcore's parked requests. */
static void
ha_poll(void *state, uint64_t now_us)
{
	struct ha_lcore *app = state;
	struct authsvc_verdict *v[32];
	unsigned int n;

	RTE_SET_USED(now_us);
	if (app == NULL)
		return;
	if (tls_enabled())
		tls_lcore_poll(app->lcore); /* handshakes the last iteration's budget put off */
	if (unlikely(__atomic_load_n(&app->pending_store, __ATOMIC_ACQUIRE) != NULL &&
		     __atomic_load_n(&app->retired_store, __ATOMIC_ACQUIRE) == NULL)) {
		/* a reload's sites: the main thread built the store, and destroys the old one */
		struct store *old = app->store;

		app->store = __atomic_exchange_n(&app->pending_store, NULL, __ATOMIC_ACQ_REL);
		store_attach(app->store, app->lane);
		__atomic_store_n(&app->retired_store, old, __ATOMIC_RELEASE);
	}
	if (app->lane != NULL)
		store_answers(app);
	n = authsvc_take_verdicts(app->lcore, v, RTE_DIM(v));
	for (unsigned int i = 0; i < n; i++) {
		/* the lcore is an online RCU reader: the flow cannot be freed under us */
		struct tcp_flow *f =
			tcp_flow_lookup_id(ha_flow_table, v[i]->flow_id, v[i]->flow_gen);
		struct ha_flow *h = f ? tcp_flow_ctx(f) : NULL;

		if (h == NULL || h->app != app || !h->parked || h->seq != v[i]->seq)
			app->gate.stale_verdicts++;
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
			n = ha_send(h, r->head + h->head_off, r->head_len - h->head_off);
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
				n = ha_send(h, base, left);
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
		if (h->app->draining && !close) {
			/* SIGTERM: the response it had is out; no next request on this connection
			 */
			h->app->stats.drain_finished++;
			close = true;
		}
		if (close || h->peer_fin) {
			h->closing = true;
			ha_shutdown(h);
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
	/* TLS encrypts the file from its mapping: no external mbufs there */
	if (r->file != NULL && r->body_len > 0 && h->app->extbuf_ok && h->tls == NULL) {
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
	h->progress_us = dp_now_us();
	pump(h);
}

static void
drop_rx(struct ha_flow *h, size_t n)
{
	http_rx_drop(h->rx, &h->rx_len, n);
}

/* Parses and answers requests while no response is in flight: pipelined ones stay in order. */
static void
process(struct ha_flow *h)
{
	while (h->resp == NULL && h->px == NULL && !h->closing && !h->parked) {
		struct h1_request req;
		struct http_opts opts;
		const struct site_conf *site;
		struct req_site rs = {0};
		char path[4096]; /* the target normalised once, for the gate and the store */
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
				ha_shutdown(h);
			}
			ha_recv_resume(h);
			return;
		}
		if (rc == HTTP_CONN_ERROR) {
			if (resp_new(h, NULL, &opts) == NULL)
				return;
			http_conn_error(&h->conn, status, &opts, h->resp);
			ha_log_request(access_log, h, NULL, status, 0);
			h->rx_len = 0;
			h->head_since_us = 0;
			start_response(h);
			continue;
		}
		rte_free(h->resp);
		h->resp = NULL;
		h->requests++;
		h->head_since_us = 0;
		rs.site = gate_site_path(cur_gate(), req.target.p, req.target.len, path,
					 sizeof(path), &rs.path_len);
		rs.path = path;
		site = rs.site;
		if (http_conn_body(&h->conn, &req, site != NULL && site->nb_upstreams > 0,
				   &status) == HTTP_CONN_ERROR) {
			if (resp_new(h, NULL, &opts) == NULL)
				return;
			http_conn_error(&h->conn, status, &opts, h->resp);
			ha_log_request(access_log, h, &req, status, 0);
			h->rx_len = 0;
			start_response(h);
			continue;
		}
		h->px_body_pending = site != NULL && site->nb_upstreams > 0 &&
				     (req.chunked || req.content_length > 0);
		if (gate_tls_refused(site, h->tls != NULL, &h->app->gate)) {
			answer(h, &req, 403, NULL, false, consumed);
			return;
		} else if (site == NULL || site->auth == SITE_AUTH_NONE) {
			serve_site(h, &req, &rs, consumed, NULL);
			gate_request_done(cur_gate(), &h->auth, &h->app->gate);
		} else if (!gate_and_serve(h, &req, &rs, consumed)) {
			return; /* answered, or parked until its verdict */
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
	h->store_id = (uint64_t)tcp_flow_id(f) << 32 | tcp_flow_gen(f);
	if (tls_enabled() && tcp_flow_tuple(f)->lport == tls_port()) {
		h->tls = tls_conn_new(f, app->lcore);
		if (h->tls == NULL) {
			free(h);
			app->stats.no_memory++;
			return -ENOMEM;
		}
	}
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

/* Room in rx for up to want more bytes, growing it to the request limit: what fits now. */
static uint32_t
rx_room(struct ha_flow *h, uint32_t want)
{
	uint32_t limit =
		conn_conf.limits.max_request_line + conn_conf.limits.max_header_bytes + 1024;

	if (h->rx_len + want > h->rx_cap && h->rx_cap < limit) {
		uint32_t cap = h->rx_cap ? h->rx_cap : RX_INITIAL;
		char *nrx;

		while (cap < h->rx_len + want && cap < limit)
			cap *= 2;
		cap = RTE_MIN(cap, limit);
		/* not realloc: the old buffer may hold credentials, and realloc leaves it as is */
		nrx = malloc(cap);
		if (nrx == NULL) {
			h->app->stats.no_memory++;
			return 0;
		}
		if (h->rx != NULL) {
			memcpy(nrx, h->rx, h->rx_len);
			explicit_bzero(h->rx, h->rx_cap);
			free(h->rx);
		}
		h->rx = nrx;
		h->rx_cap = cap;
	}
	/* a full buffer is backpressure: the rest waits in the engine, the window closes */
	return RTE_MIN(want, h->rx_cap - h->rx_len);
}

/* The TLS layer failed the connection: its alert goes out, then FIN (reset mid-response). */
static void
tls_failed(struct ha_flow *h)
{
	if (h->resp != NULL) {
		tcp_abort(h->flow);
		return;
	}
	h->closing = true;
	tls_shutdown(h->tls);
}

/*
 * Plaintext from the TLS layer into rx, and the requests it completes served, then more
 * ciphertext from the engine. Reentered from process() and on_data: the running one loops.
 */
static void
tls_pull(struct ha_flow *h)
{
	if (h->tls_pulling) {
		h->tls_again = true;
		return;
	}
	h->tls_pulling = true;
	do {
		h->tls_again = false;
		while (!h->dead && !h->closing && !h->parked) {
			uint32_t room = rx_room(h, 16384);
			int n;

			if (room == 0)
				break;
			n = tls_read(h->tls, h->rx + h->rx_len, room);
			if (n == 0)
				break;
			if (n == TLS_EOF) {
				/* close_notify: as a FIN, the requests before it are answered */
				h->peer_fin = true;
				if (h->resp == NULL)
					process(h);
				break;
			}
			if (n < 0) {
				tls_failed(h);
				break;
			}
			h->rx_len += (uint32_t)n;
			h->app->stats.bytes_in += (uint32_t)n;
			if (h->px != NULL) {
				if (!px_feed(h))
					break; /* reset inside: on_closed marked h dead */
			} else if (h->resp == NULL) {
				process(h);
			}
		}
		if (!h->dead && !h->parked)
			tcp_recv_resume(h->flow);
	} while (h->tls_again && !h->dead);
	h->tls_pulling = false;
	if (h->dead)
		free(h);
}

static uint32_t
on_data(struct tcp_flow *f, void *ctx, struct rte_mbuf *m)
{
	struct ha_flow *h = ctx;
	uint32_t want, off = 0;
	int n;

	RTE_SET_USED(f);
	if (m == NULL) {
		if (h->tls != NULL)
			tls_input_fin(h->tls);
		h->peer_fin = true;
		if (h->resp == NULL && h->px == NULL && !h->closing && !h->parked)
			process(h);
		return 0;
	}
	if (h->closing)
		return rte_pktmbuf_pkt_len(m); /* after an error or close: read and forget */
	if (h->parked)
		return 0; /* the parked request's views point into rx: it must not move */
	if (h->tls != NULL) {
		n = tls_input(h->tls, m);
		if (n < 0) {
			want = rte_pktmbuf_pkt_len(m);
			tls_failed(h);
			return want;
		}
		if (n > 0)
			tls_pull(h); /* h may be gone when it returns */
		return (uint32_t)n;
	}
	want = rx_room(h, rte_pktmbuf_pkt_len(m));
	for (struct rte_mbuf *s = m; s != NULL && off < want; s = s->next) {
		uint32_t n = RTE_MIN((uint32_t)s->data_len, want - off);
		memcpy(h->rx + h->rx_len + off, rte_pktmbuf_mtod(s, char *), n);
		off += n;
	}
	h->rx_len += want;
	h->app->stats.bytes_in += want;
	if (h->px != NULL && !px_feed(h))
		return want; /* the connection was reset inside: h is gone */
	if (h->resp == NULL && h->px == NULL)
		process(h);
	return want;
}

static void
on_acked(struct tcp_flow *f, void *ctx, uint32_t bytes)
{
	struct ha_flow *h = ctx;

	RTE_SET_USED(f);
	/* progress is bytes the client took: a window probe's answer acks none */
	if (bytes > 0)
		h->progress_us = dp_now_us();
	if (h->tls != NULL)
		tls_flush(h->tls);
	if (h->px != NULL)
		proxy_client_acked(h->px);
	else if (h->resp != NULL)
		pump(h);
}

static void
on_closed(struct tcp_flow *f, void *ctx, enum tcp_close_reason reason)
{
	struct ha_flow *h = ctx;

	RTE_SET_USED(reason);
	if (h == NULL)
		return;
	if (h->resp != NULL || h->px != NULL)
		h->app->stats.aborted_responses++;
	if (h->px != NULL) {
		proxy_client_closed(h->px);
		h->px = NULL;
		ha_log_post(access_log, h, h->px_log, 0, 0, 0, 0, 0);
		h->px_log = NULL;
	}
	if (h->ntlm_started)
		authsvc_flow_closed(h->app->lcore, tcp_flow_id(f), tcp_flow_gen(f));
	response_done(h);
	free(h->park_extra); /* a store lookup's answer finds the flow gone: it drops its file */
	h->park_extra = NULL;
	gate_forget(&h->auth, &h->app->gate);
	flow_unlink(h);
	h->app->stats.active--;
	if (h->rx != NULL)
		explicit_bzero(h->rx, h->rx_cap);
	free(h->rx);
	h->rx = NULL;
	tls_conn_free(h->tls);
	h->tls = NULL;
	if (h->tls_pulling)
		h->dead = true; /* tls_pull frees it on its way out */
	else
		free(h);
}

static const struct tcp_callbacks http_callbacks = {
	.accepted = on_accepted,
	.data = on_data,
	.acked = on_acked,
	.closed = on_closed,
};

static int
http_init(uint16_t nb_lcores)
{
	h1_limits_default(&conn_conf.limits);
	conn_conf.limits.max_request_line = cur_http()->max_request_line;
	conn_conf.limits.max_header_bytes = cur_http()->max_header_bytes;
	conn_conf.limits.max_headers = cur_http()->max_headers;
	conn_conf.max_body = cur_http()->max_body;
	/* per request, after the site is known: a proxied site streams bodies of any size */
	conn_conf.body_to_caller = true;
	conn_conf.limits.accept_chunked = true;
	conn_conf.stats = NULL;
	ha_nb_lcores = nb_lcores;
	if (cur_http()->port != 0 && cur_http()->store_threads > 0) {
		struct resolver_conf rc = {
			.threads = cur_http()->store_threads,
			.lanes = nb_lcores,
			.queue = cur_http()->store_queue,
		};

		store_resolver = resolver_create(&rc);
		if (store_resolver == NULL)
			return -errno;
	}
	return 0;
}

/* On the main lcore after every lcore stopped: the lanes are gone, their lookups freed here. */
static void
http_fini(void)
{
	resolver_destroy(store_resolver);
	store_resolver = NULL;
}

/* Listens on [http] port on this lcore's engine (nothing when the port is 0). */
static int
http_lcore_init(const struct dp_app_env *env, void **state_out)
{
	struct store_conf sc = {
		.sites = cur_gate()->sites,
		.nsites = cur_gate()->nb_sites,
		.revalidate_ns = 1000000000ull,
		.check_ns = 10000000ull, /* a hot file: one fstat() per 10 ms, not per response */
	};
	struct ha_lcore *app;
	int rc;

	*state_out = NULL;
	if (cur_http()->port == 0)
		return 0;
	ha_flow_table = env->flows;
	app = rte_zmalloc_socket("http_lcore", sizeof(*app), RTE_CACHE_LINE_SIZE, env->socket);
	if (app == NULL)
		return -ENOMEM;
	app->lcore = env->lcore_index;
	app->extbuf_ok = env->extbuf_ok;
	app->tcp = env->tcp;
	app->conn_conf = conn_conf;
	app->conn_conf.stats = &app->hstats;
	app->store = store_create(&sc);
	if (app->store == NULL) {
		rc = -errno;
		rte_free(app);
		return rc;
	}
	if (store_resolver != NULL) {
		app->lane = store_lane_create(store_resolver, env->lcore_index,
					      cur_http()->store_queue);
		if (app->lane == NULL) {
			rc = -errno;
			store_destroy(app->store);
			rte_free(app);
			return rc;
		}
		store_attach(app->store, app->lane);
	}
	app->now_s = wall_seconds();
	rc = tcp_listen(env->tcp, cur_http()->port, &http_callbacks, app);
	if (rc == 0 && tls_enabled())
		rc = tcp_listen(env->tcp, tls_port(), &http_callbacks, app);
	if (rc < 0) {
		store_destroy(app->store);
		store_lane_destroy(app->lane);
		rte_free(app);
		return rc;
	}
	ha_lcores[env->lcore_index] = app;
	*state_out = app;
	return 0;
}

/* On the lcore after its engine closed every flow (their closed callbacks used this state). */
static void
http_lcore_fini(void *state)
{
	struct ha_lcore *app = state;

	if (app == NULL)
		return;
	ha_lcores[app->lcore] = NULL;
	store_destroy(app->store);
	store_lane_destroy(app->lane);
	rte_free(app);
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

/* Twice a second: Date, verdicts that never came, slowloris and idle keep-alive timeouts. */
static void
http_tick(void *state, uint64_t now_us)
{
	struct ha_lcore *app = state;
	uint64_t head_to = (uint64_t)cur_http()->header_timeout_s * 1000000;
	uint64_t idle_to = (uint64_t)cur_http()->keepalive_timeout_s * 1000000;
	uint64_t send_to = (uint64_t)cur_http()->send_timeout_s * 1000000;
	uint64_t hs_to = (uint64_t)tls_handshake_timeout_s() * 1000000;
	struct ha_flow *h, *next;

	if (app == NULL)
		return;
	app->now_s = wall_seconds();
	for (h = app->flows; h != NULL; h = next) {
		next = h->next; /* the flow may close under us */
		if (h->tls != NULL && !tls_established(h->tls) &&
		    since(now_us, h->idle_since_us) > hs_to) {
			/* a client that stops mid-handshake holds an SSL and its buffers */
			tls_handshake_timed_out(h->tls);
			tcp_abort(h->flow);
			continue;
		}
		if (h->parked && since(now_us, h->parked_since_us) > park_timeout_us) {
			/* the verdict was lost (ring full): a late one finds seq moved on */
			if (h->store_parked)
				app->stats.store_timeouts++;
			else
				app->gate.parked_timeouts++;
			h->parked = false;
			h->store_parked = false;
			free(h->park_extra);
			h->park_extra = NULL;
			h->seq++;
			if (h->tls == NULL)
				tcp_recv_resume(h->flow);
			retry_later(h, &h->parked_req, h->parked_consumed);
			continue;
		}
		if (h->resp != NULL && send_to != 0 && since(now_us, h->progress_us) > send_to) {
			/* a client that stopped reading holds the response, its file and its
			 * buffers: no byte acked for send_timeout_s ends it */
			app->stats.send_timeouts++;
			tcp_abort(h->flow);
			continue;
		}
		if (h->resp != NULL || h->px != NULL || h->closing || h->parked)
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
			ha_shutdown(h);
		}
	}
}

/* SIGTERM: no new connections; idle ones closed now, busy ones after their response. */
static void
http_drain(void *state)
{
	struct ha_lcore *app = state;
	struct ha_flow *h, *next;

	if (app == NULL)
		return;
	app->draining = true;
	tcp_unlisten(app->tcp, cur_http()->port);
	if (tls_enabled())
		tcp_unlisten(app->tcp, tls_port());
	for (h = app->flows; h != NULL; h = next) {
		next = h->next;
		if (h->resp == NULL && h->px == NULL && !h->parked && !h->closing &&
		    h->rx_len == 0) {
			app->stats.drain_idle_closed++;
			h->closing = true;
			ha_shutdown(h);
		}
	}
}

static uint64_t
http_active(const void *state)
{
	const struct ha_lcore *app = state;

	return __atomic_load_n(&app->stats.active, __ATOMIC_RELAXED);
}

static const struct dp_app http_app = {
	.name = "http",
	.drain = http_drain,
	.active = http_active,
	.init = http_init,
	.lcore_init = http_lcore_init,
	.poll = ha_poll,
	.tick = http_tick,
	.tick_us = 500000,
	.lcore_fini = http_lcore_fini,
	.fini = http_fini,
};

int
http_svc_register(const struct http_svc_conf *http, const struct gate_conf *gate,
		  struct accesslog *log, uint32_t park_timeout_s)
{
	http_conf_live = http;
	gate_conf_live = gate;
	access_log = log;
	park_timeout_us = (uint64_t)park_timeout_s * 1000000;
	ha_telemetry_init();
	return dp_app_register(&http_app);
}

int
http_svc_reconfigure(const struct http_svc_conf *http, const struct gate_conf *gate)
{
	const struct http_svc_conf *cur = cur_http();
	int restart = 0;

	if (http->port != cur->port || http->max_request_line != cur->max_request_line ||
	    http->max_header_bytes != cur->max_header_bytes ||
	    http->max_headers != cur->max_headers || http->max_body != cur->max_body ||
	    http->store_threads != cur->store_threads || http->store_queue != cur->store_queue) {
		DP_LOG(WARNING, "reload: [http] port, request limits or store_threads/store_queue "
				"changed: they need a restart");
		restart++;
	}
	/*
	 * The new sites' store for each lcore, built here (realpath() is no lcore's business),
	 * all of them before any is handed over: a reload applies whole or not at all.
	 */
	struct store *fresh[DP_MAX_LCORES] = {NULL};

	http_svc_collect();
	for (unsigned int i = 0; i < ha_nb_lcores; i++) {
		struct store_conf sc = {
			.sites = gate->sites,
			.nsites = gate->nb_sites,
			.revalidate_ns = 1000000000ull,
			.check_ns = 10000000ull,
		};

		if (ha_lcores[i] == NULL)
			continue;
		fresh[i] = store_create(&sc);
		if (fresh[i] == NULL) {
			int err = errno;

			DP_LOG(ERR, "reload: content store for lcore %u: %s", i, strerror(err));
			for (unsigned int j = 0; j < i; j++)
				store_destroy(fresh[j]);
			return -err;
		}
	}
	for (unsigned int i = 0; i < ha_nb_lcores; i++) {
		struct store *st;

		if (fresh[i] == NULL)
			continue;
		st = __atomic_exchange_n(&ha_lcores[i]->pending_store, fresh[i], __ATOMIC_ACQ_REL);
		if (st != NULL)
			store_destroy(st); /* an earlier reload's, never taken */
	}
	__atomic_store_n(&http_conf_live, http, __ATOMIC_RELEASE);
	__atomic_store_n(&gate_conf_live, gate, __ATOMIC_RELEASE);
	return restart;
}

void
http_svc_collect(void)
{
	for (unsigned int i = 0; i < ha_nb_lcores; i++) {
		struct ha_lcore *app = ha_lcores[i];
		struct store *old;

		if (app == NULL)
			continue;
		old = __atomic_exchange_n(&app->retired_store, NULL, __ATOMIC_ACQ_REL);
		if (old != NULL)
			store_destroy(
				old); /* responses in flight hold their files' own references */
	}
}
