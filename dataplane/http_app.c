/* HTTP/1.1 on the TCP engine: per-flow receive buffer, pipelined requests in order, zero-copy file bodies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dataplane/dp.h"
#include "dataplane/dp_l4.h"
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
	uint64_t idle_since_us;   /* last response finished (keep-alive timeout) */
	uint64_t head_since_us;   /* first byte of the pending request head (header timeout) */
	bool peer_fin;
	bool closing;             /* FIN queued: nothing more is parsed */
	struct ha_flow *prev, *next; /* this lcore's connections, for the timeout sweep */
};

static const struct ag_http_conf *http_conf;
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
				/* the last bytes of a file: refuse to finish a body that changed under us */
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
	while (h->resp == NULL && !h->closing) {
		struct h1_request req;
		struct http_opts opts = {.now = h->app->now_s};
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
		h->resp = rte_malloc("http_resp", sizeof(*h->resp), 0);
		if (h->resp == NULL) {
			h->app->stats.no_memory++;
			tcp_abort(h->flow);
			return;
		}
		if (rc == HTTP_CONN_ERROR) {
			http_conn_error(&h->conn, status, &opts, h->resp);
			h->rx_len = 0;
		} else {
			h->requests++;
			opts.force_close = http_conf->max_requests != 0 &&
					   h->requests >= http_conf->max_requests;
			if (http_conn_respond(&h->conn, &req, h->app->store, &opts, h->resp) < 0)
				h->app->stats.respond_errors++;
			/* views into rx were used: only now may the bytes go */
			drop_rx(h, consumed);
		}
		h->head_since_us = 0;
		start_response(h);
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
	uint32_t limit = conn_conf.limits.max_request_line + conn_conf.limits.max_header_bytes + 1024;
	uint32_t want, off = 0;

	RTE_SET_USED(f);
	if (m == NULL) {
		h->peer_fin = true;
		if (h->resp == NULL && !h->closing)
			process(h);
		return 0;
	}
	if (h->closing)
		return rte_pktmbuf_pkt_len(m); /* after an error or close: read and forget */
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

	RTE_SET_USED(f);
	RTE_SET_USED(reason);
	if (h == NULL)
		return;
	if (h->resp != NULL)
		h->app->stats.aborted_responses++;
	response_done(h);
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
ha_lcore_init(struct ha_lcore *app, struct tcp_engine *e)
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
		if (h->resp != NULL || h->closing)
			continue;
		if (h->head_since_us != 0 && now_us - h->head_since_us > head_to) {
			struct http_opts opts = {.now = app->now_s};

			/* a head that never finishes: 408, then close */
			app->stats.header_timeouts++;
			h->resp = rte_malloc("http_resp", sizeof(*h->resp), 0);
			if (h->resp == NULL) {
				tcp_abort(h->flow);
				continue;
			}
			http_conn_error(&h->conn, 408, &opts, h->resp);
			h->rx_len = 0;
			h->head_since_us = 0;
			start_response(h);
		} else if (h->head_since_us == 0 && h->rx_len == 0 &&
			   now_us - h->idle_since_us > idle_to) {
			app->stats.idle_closes++;
			h->closing = true;
			tcp_shutdown(h->flow);
		}
	}
}
