/* The reverse proxy: upstream connections and pools per lcore, exchanges streamed both ways. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_spinlock.h>

#include "dataplane/app.h"
#include "dataplane/clock.h"
#include "dataplane/dp.h"
#include "dataplane/http/chunked.h"
#include "dataplane/http/resp.h"
#include "dataplane/proxy/proxy.h"
#include "dataplane/proxy/proxy_priv.h"
#include "dataplane/tcp/tcp.h"

/* Response heads up to this size are taken from an upstream. */
#define PX_RESP_HEAD_MAX (64 * 1024)
/* Chunk data re-framed per step: bounds what a dry mbuf pool can leave in a side buffer. */
#define PX_CHUNK_STEP (16 * 1024)
#define PX_FRAME_ROOM 32u
#define PX_TICK_US    (50 * 1000)

static const char *const err_names[PROXY_E_MAX] = {
	[PROXY_E_REFUSED] = "refused",
	[PROXY_E_CONNECT_TIMEOUT] = "connect_timeout",
	[PROXY_E_CONNECT_FAILED] = "connect_failed",
	[PROXY_E_CLOSED_EARLY] = "closed_early",
	[PROXY_E_BAD_RESPONSE] = "bad_response",
	[PROXY_E_RESPONSE_TIMEOUT] = "response_timeout",
	[PROXY_E_ALL_DOWN] = "all_down",
	[PROXY_E_TRUNCATED] = "truncated",
	[PROXY_E_BAD_REQUEST_BODY] = "bad_request_body",
	[PROXY_E_BAD_TARGET] = "bad_target",
	[PROXY_E_NO_MEMORY] = "no_memory",
	[PROXY_E_QUEUE_TIMEOUT] = "queue_timeout",
};

const char *
proxy_err_str(enum proxy_err e)
{
	return (unsigned int)e < PROXY_E_MAX ? err_names[e] : "unknown";
}

struct px_lcore *px_lcores[DP_MAX_LCORES];
unsigned int px_nb_lcores;

/* A byte queue in front of a flow's send buffer: heads and chunk framing, never whole bodies. */
struct pbuf {
	char *p;
	size_t len, off, cap;
};

enum px_body_in {
	PX_REQ_NONE,
	PX_REQ_LENGTH,
	PX_REQ_CHUNKED,
};

struct px_conn {
	struct tcp_flow *flow;
	struct px_up *up;
	struct proxy_exchange *ex; /* NULL: idle in the pool, or closing */
	struct px_conn *next_idle;
	bool connected;
	bool idle;
	uint64_t idle_since_us;
};

struct proxy_exchange {
	struct px_lcore *pl;
	struct tcp_flow *client;
	const struct proxy_hooks *hooks;
	void *arg;
	struct px_conn *conn;
	struct px_up *up;
	struct proxy_exchange *prev, *next;
	/* what is kept of the site: a reload may free it mid-download */
	struct site_upstream ups[SITE_UPSTREAM_MAX];
	unsigned int nb_ups;
	unsigned int tries;
	uint32_t connect_timeout_us;
	uint64_t response_timeout_us;
	uint32_t max_idle;
	uint32_t max_conns;
	uint32_t max_fails;
	bool waiting; /* in its upstream's queue for a connection */
	struct proxy_exchange *wait_next;
	uint64_t down_us;
	bool head_request;
	bool client_close;
	bool no_reuse; /* the upstream connection is not pooled after this exchange */
	bool reused;   /* it came from the pool */
	bool retried;
	/* request: head + body, towards the upstream */
	struct pbuf uout;
	enum px_body_in body;
	uint64_t req_left;
	struct chunked req_ck;
	bool req_done;
	uint64_t req_body_bytes;
	/* response */
	char *rhead;
	size_t rlen, roff;
	bool resp_head_done;
	bool resp_started; /* the client has bytes of the response */
	bool resp_done;
	enum proxy_body rbody;
	uint64_t resp_left;
	struct chunked resp_ck;
	uint64_t resp_bytes;
	int up_status; /* the upstream's answer, 0: none */
	int status;    /* what the client got: the upstream's, or ours (502, 504, ...) */
	struct pbuf cout;
	char extra[512];
	size_t extra_len;
	uint64_t start_us;
	uint64_t deadline_us; /* connect or response deadline, 0: none */
	uint64_t progress_us; /* last byte from the upstream */
	bool ttfb_counted;
};

/* ---------------------------------------------------------------- buffers */

static int
pbuf_put(struct pbuf *b, const void *p, size_t n)
{
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/*
 * Where bytes go: an upstream flow directly, or the client through the HTTP service's byte
 * I/O (plain TCP today; a TLS layer for HTTPS listeners goes there, not here).
 */
struct sink {
	int (*send)(void *arg, const void *buf, size_t len);
	void *arg;
};

static int
flow_send(void *arg, const void *buf, size_t len)
{
	return tcp_send(arg, buf, len);
}

#define UPSTREAM(f) ((struct sink){flow_send, (f)})
#define CLIENT(ex)  ((struct sink){(ex)->hooks->send, (ex)->arg})

/* Sends what is queued; true when nothing is left. */
static bool
pbuf_flush(struct pbuf *b, struct sink k)
{
	while (b->off < b->len) {
		int n = k.send(k.arg, b->p + b->off, b->len - b->off);

		if (n <= 0)
			return false;
		b->off += (size_t)n;
	}
	b->off = b->len = 0;
	return true;
}

static void
pbuf_free(struct pbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->off = b->cap = 0;
}

/* Bytes that must go out in order behind what is queued: the queue takes what send won't. */
static int
emit(struct pbuf *b, struct sink sk, const void *p, size_t n)
{
	size_t k = 0;

	if (b->off == b->len) {
		int s = sk.send(sk.arg, p, n);

		k = s > 0 ? (size_t)s : 0;
	}
	return k == n ? 0 : pbuf_put(b, (const char *)p + k, n - k);
}

/*
 * One step of passing a chunked body on: a piece of in[0..n) decoded by ck (at most max data
 * bytes, space for its frame left by the caller) and framed again toward sk, so no extension
 * or trailer passes. *used: bytes of in taken; *data: body bytes sent on. CHUNKED_ERROR for a
 * bad body; -1 in *full when the queue could not take the frame.
 */
static enum chunked_rc
rechunk(struct chunked *ck, const uint8_t *in, size_t n, size_t max, struct pbuf *b, struct sink sk,
	size_t *used, size_t *data, bool *full)
{
	char hdr[PX_FRAME_ROOM];
	size_t off, dlen;
	enum chunked_rc rc = chunked_parse(ck, in, n, max, used, &off, &dlen);
	int hl;

	*data = 0;
	*full = false;
	if (rc == CHUNKED_DATA) {
		hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", dlen);
		*full = emit(b, sk, hdr, (size_t)hl) != 0 || emit(b, sk, in + off, dlen) != 0 ||
			emit(b, sk, "\r\n", 2) != 0;
		*data = dlen;
	} else if (rc == CHUNKED_DONE) {
		*full = emit(b, sk, "0\r\n\r\n", 5) != 0;
	}
	return rc;
}

/* ---------------------------------------------------------------- upstreams */

/* Health entries for every lcore: appended under the lock, read without it. */
static struct px_health px_health[PX_MAX_UPSTREAMS];
static unsigned int px_nb_health;
static rte_spinlock_t px_health_lock = RTE_SPINLOCK_INITIALIZER;

static struct px_health *
health_scan(uint32_t addr, uint16_t port, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (px_health[i].addr == addr && px_health[i].port == port)
			return &px_health[i];
	return NULL;
}

/* The shared entry of HOST:PORT, made on first use (by the first lcore to route to it). */
static struct px_health *
health_find(uint32_t addr, uint16_t port)
{
	struct px_health *h =
		health_scan(addr, port, __atomic_load_n(&px_nb_health, __ATOMIC_ACQUIRE));

	if (h != NULL)
		return h;
	rte_spinlock_lock(&px_health_lock);
	h = health_scan(addr, port, px_nb_health);
	if (h == NULL && px_nb_health < PX_MAX_UPSTREAMS) {
		h = &px_health[px_nb_health];
		h->addr = addr;
		h->port = port;
		__atomic_store_n(&px_nb_health, px_nb_health + 1, __ATOMIC_RELEASE);
	}
	rte_spinlock_unlock(&px_health_lock);
	return h;
}

static struct px_up *
up_find(struct px_lcore *pl, uint32_t addr, uint16_t port)
{
	for (unsigned int i = 0; i < pl->nb_ups; i++)
		if (pl->ups[i].addr == addr && pl->ups[i].port == port)
			return &pl->ups[i];
	if (pl->nb_ups == PX_MAX_UPSTREAMS)
		return NULL;
	struct px_up *u = &pl->ups[pl->nb_ups];
	struct px_health *h = health_find(addr, port);

	if (h == NULL)
		return NULL;
	memset(u, 0, sizeof(*u));
	u->addr = addr;
	u->port = port;
	u->h = h;
	/* the telemetry walks nb_ups: the entry is whole before it counts */
	__atomic_store_n(&pl->nb_ups, pl->nb_ups + 1, __ATOMIC_RELEASE);
	return u;
}

static bool
up_is_down(const struct px_up *u, uint64_t now)
{
	return __atomic_load_n(&u->h->down_until_us, __ATOMIC_RELAXED) > now;
}

/*
 * A failed connect, on any lcore: the one whose failure reaches max_fails marks the upstream
 * down for everyone (the exchange of down_until elects it, and counts it once).
 */
static void
up_failed(struct px_up *u, uint32_t max_fails, uint64_t down_us, uint64_t now)
{
	struct px_health *h = u->h;
	uint64_t until;

	if (__atomic_add_fetch(&h->fails, 1, __ATOMIC_RELAXED) < max_fails)
		return;
	until = __atomic_load_n(&h->down_until_us, __ATOMIC_RELAXED);
	if (until > now || !__atomic_compare_exchange_n(&h->down_until_us, &until, now + down_us,
							false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	u->st.marked_down++;
	__atomic_store_n(&h->fails, 0, __ATOMIC_RELAXED);
}

static void
up_succeeded(struct px_up *u)
{
	if (__atomic_load_n(&u->h->fails, __ATOMIC_RELAXED) != 0)
		__atomic_store_n(&u->h->fails, 0, __ATOMIC_RELAXED);
}

/* The local address an upstream is reached from: the port on its subnet, or one with a gateway. */
static uint32_t
source_addr(uint32_t upstream)
{
	const struct dp *dp = &dp_main;

	for (uint16_t i = 0; i < dp->nb_ports; i++)
		if ((upstream & dp->ports[i].mask) == (dp->ports[i].addr & dp->ports[i].mask))
			return dp->ports[i].addr;
	for (uint16_t i = 0; i < dp->nb_ports; i++)
		if (dp->ports[i].gateway != 0)
			return dp->ports[i].addr;
	return dp->nb_ports > 0 ? dp->ports[0].addr : 0;
}

/* ---------------------------------------------------------------- exchange end */

static void
ex_unlink(struct proxy_exchange *ex)
{
	struct px_lcore *pl = ex->pl;

	if (ex->prev != NULL)
		ex->prev->next = ex->next;
	else
		pl->exchanges = ex->next;
	if (ex->next != NULL)
		ex->next->prev = ex->prev;
	ex->prev = ex->next = NULL;
}

static void
conn_free(struct px_conn *c)
{
	if (c->up != NULL)
		c->up->nb_open--;
	free(c);
}

static struct proxy_exchange *wait_pop(struct px_up *u);
static void ex_send_request(struct proxy_exchange *ex);

/* The exchange lets go of its upstream connection: to the pool, or closed. */
static void
ex_release_conn(struct proxy_exchange *ex, bool reusable)
{
	struct px_conn *c = ex->conn;
	struct px_up *u;

	if (c == NULL)
		return;
	ex->conn = NULL;
	c->ex = NULL;
	u = c->up;
	if (!c->connected) {
		tcp_abort(c->flow); /* closed() frees it */
		return;
	}
	if (reusable && !ex->no_reuse && u->wait_head != NULL &&
	    tcp_flow_state(c->flow) == TCP_ESTABLISHED) {
		/* the first request waiting for this upstream takes it at once */
		struct proxy_exchange *w = wait_pop(u);

		u->st.reused++;
		c->ex = w;
		w->conn = c;
		w->reused = true;
		ex_send_request(w);
		return;
	}
	if (reusable && !ex->no_reuse && u->nb_idle < ex->max_idle &&
	    tcp_flow_state(c->flow) == TCP_ESTABLISHED && !ex->pl->draining) {
		c->idle = true;
		c->idle_since_us = dp_now_us();
		c->next_idle = u->idle;
		u->idle = c;
		u->nb_idle++;
		return;
	}
	if (reusable)
		tcp_shutdown(c->flow);
	else
		tcp_abort(c->flow);
}

static void wait_remove(struct proxy_exchange *ex);

static void
ex_free(struct proxy_exchange *ex)
{
	if (ex->waiting)
		wait_remove(ex);
	ex_unlink(ex);
	pbuf_free(&ex->uout);
	pbuf_free(&ex->cout);
	free(ex->rhead);
	free(ex);
}

/* The end: the HTTP service is told, last, once the exchange is gone. */
static void
ex_finish(struct proxy_exchange *ex, bool reusable, bool reset)
{
	struct proxy_result res = {0};
	const struct proxy_hooks *hooks = ex->hooks;
	void *arg = ex->arg;

	res.status = ex->status;
	res.close = ex->client_close;
	res.reset = reset;
	res.bytes = ex->resp_bytes;
	if (ex->up != NULL) {
		res.up_addr = ex->up->addr;
		res.up_port = ex->up->port;
	}
	res.up_status = ex->up_status;
	if (ex->up != NULL && ex->resp_done && !reset) {
		ex->up->st.responses++;
		ex->up->st.status_class[ex->up_status / 100 % 6]++;
	}
	ex_release_conn(ex, reusable);
	ex->pl->st.active--;
	ex_free(ex);
	hooks->done(arg, &res);
}

static void
count_err(struct proxy_exchange *ex, enum proxy_err e)
{
	if (ex->up != NULL)
		ex->up->st.errors[e]++;
	else
		ex->pl->st.errors[e]++;
}

/* Our own answer (502/503/504/400) to a client that has nothing of the response yet. */
static void
ex_answer(struct proxy_exchange *ex, int status)
{
	char buf[1024];
	long n;

	ex->client_close = true;
	n = resp_error(buf, sizeof(buf), status, false, ex->head_request, ex->pl->now_s, NULL, 0);
	if (n < 0 || emit(&ex->cout, CLIENT(ex), buf, (size_t)n) != 0) {
		ex_finish(ex, false, true);
		return;
	}
	ex->resp_started = true;
	ex->resp_bytes = 0;
	ex->status = status; /* ours: up_status stays what the upstream said (0: nothing) */
	ex->pl->st.answered[status / 100 % 6]++;
	ex_finish(ex, false, false);
}

/*
 * An error: our answer when the client has none of the response yet, otherwise the client
 * connection is reset (a truncated body must never look complete).
 */
static void
ex_fail(struct proxy_exchange *ex, int status, enum proxy_err e)
{
	count_err(ex, e);
	if (ex->resp_started)
		ex_finish(ex, false, true);
	else
		ex_answer(ex, status);
}

/* ---------------------------------------------------------------- upstream side */

static const struct tcp_callbacks up_callbacks;
static void ex_send_request(struct proxy_exchange *ex);
static int ex_connect(struct proxy_exchange *ex);

/* A pooled connection to u that is still good, or NULL. */
static struct px_conn *
pool_take(struct px_up *u)
{
	while (u->idle != NULL) {
		struct px_conn *c = u->idle;

		u->idle = c->next_idle;
		u->nb_idle--;
		c->idle = false;
		c->next_idle = NULL;
		if (tcp_flow_state(c->flow) == TCP_ESTABLISHED)
			return c;
		tcp_abort(c->flow);
	}
	return NULL;
}

static void
pool_remove(struct px_conn *c)
{
	struct px_conn **pp = &c->up->idle;

	while (*pp != NULL && *pp != c)
		pp = &(*pp)->next_idle;
	if (*pp == c) {
		*pp = c->next_idle;
		c->up->nb_idle--;
	}
	c->idle = false;
}

static void
wait_enqueue(struct proxy_exchange *ex)
{
	struct px_up *u = ex->up;

	ex->waiting = true;
	ex->wait_next = NULL;
	if (u->wait_tail != NULL)
		u->wait_tail->wait_next = ex;
	else
		u->wait_head = ex;
	u->wait_tail = ex;
	u->nb_waiting++;
	u->st.queued++;
	ex->pl->nb_waiting++;
	ex->deadline_us = dp_now_us() + ex->response_timeout_us;
}

static void
wait_remove(struct proxy_exchange *ex)
{
	struct px_up *u = ex->up;
	struct proxy_exchange **pp = &u->wait_head, *prev = NULL;

	if (!ex->waiting)
		return;
	while (*pp != NULL && *pp != ex) {
		prev = *pp;
		pp = &(*pp)->wait_next;
	}
	if (*pp == ex) {
		*pp = ex->wait_next;
		if (u->wait_tail == ex)
			u->wait_tail = prev;
		u->nb_waiting--;
		ex->pl->nb_waiting--;
	}
	ex->waiting = false;
	ex->wait_next = NULL;
	ex->deadline_us = 0;
}

static struct proxy_exchange *
wait_pop(struct px_up *u)
{
	struct proxy_exchange *ex = u->wait_head;

	if (ex != NULL)
		wait_remove(ex);
	return ex;
}

/* The next upstream to try: round robin over those not down; NULL when all are. */
static struct px_up *
pick_upstream(struct proxy_exchange *ex)
{
	struct px_lcore *pl = ex->pl;
	uint64_t now = dp_now_us();

	for (unsigned int k = 0; k < ex->nb_ups; k++) {
		unsigned int i = (pl->rr++) % ex->nb_ups;
		struct px_up *u = up_find(pl, ex->ups[i].addr, ex->ups[i].port);

		if (u != NULL && !up_is_down(u, now))
			return u;
	}
	return NULL;
}

/* Connects (or takes a pooled connection) to the next upstream. 0, or -errno (answered). */
static int
ex_connect(struct proxy_exchange *ex)
{
	struct px_conn *c;
	struct px_up *u;
	uint32_t laddr;
	int rc;

	for (;;) {
		if (ex->tries >= ex->nb_ups) {
			return -EHOSTUNREACH;
		}
		u = pick_upstream(ex);
		if (u == NULL)
			return -ENETDOWN;
		ex->tries++;
		ex->up = u;
		c = ex->retried ? NULL : pool_take(u);
		if (c != NULL) {
			u->st.reused++;
			c->ex = ex;
			ex->conn = c;
			ex->reused = true;
			ex_send_request(ex);
			return 0;
		}
		if (u->nb_open >= ex->max_conns) {
			/*
			 * As many connections as the upstream may have: wait for one to come free
			 * (a burst of 5000 clients must not become 5000 SYNs to one server)
			 */
			wait_enqueue(ex);
			return 0;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return -ENOMEM;
		c->up = u;
		c->ex = ex;
		laddr = source_addr(u->addr);
		rc = tcp_connect(ex->pl->tcp, &up_callbacks, laddr, u->addr, u->port, c, &c->flow);
		if (rc != 0) {
			free(c);
			u->st.errors[PROXY_E_CONNECT_FAILED]++;
			continue;
		}
		u->nb_open++;
		u->st.connects++;
		ex->conn = c;
		ex->reused = false;
		ex->deadline_us = dp_now_us() + ex->connect_timeout_us;
		return 0;
	}
}

/* After a failed connect: the next upstream, or the answer (all down: 503, else 502). */
static void
ex_reconnect_or_fail(struct proxy_exchange *ex, enum proxy_err e)
{
	int rc;

	count_err(ex, e);
	rc = ex_connect(ex);
	if (rc == 0)
		return;
	if (rc == -ENETDOWN) {
		ex->up = NULL;
		ex_fail(ex, 503, PROXY_E_ALL_DOWN);
		return;
	}
	ex_answer(ex, 502);
}

static void
ex_send_request(struct proxy_exchange *ex)
{
	struct tcp_flow *uf = ex->conn->flow;

	ex->deadline_us = 0;
	ex->progress_us = dp_now_us();
	ex->up->st.requests++;
	if (!pbuf_flush(&ex->uout, UPSTREAM(uf)))
		return;
	if (!ex->req_done)
		ex->hooks->want_rx(ex->arg);
	if (ex->conn != NULL && ex->req_done && ex->uout.off == ex->uout.len &&
	    ex->deadline_us == 0)
		ex->deadline_us = dp_now_us() + ex->response_timeout_us;
}

static int
up_accepted(struct tcp_flow *f, void *listen_arg, void **ctx_out)
{
	struct px_conn *c = *ctx_out;

	RTE_SET_USED(f);
	RTE_SET_USED(listen_arg);
	c->connected = true;
	up_succeeded(c->up);
	if (c->ex != NULL)
		ex_send_request(c->ex);
	return 0;
}

/* The response head is whole: the client's head goes out, the body framing is set. */
static int
resp_head_ready(struct proxy_exchange *ex, const struct proxy_resp *r)
{
	char *head;
	long n;

	ex->up_status = r->status;
	ex->status = r->status;
	ex->rbody = proxy_resp_body(r, ex->head_request);
	if (ex->rbody == PROXY_BODY_CLOSE || r->close)
		ex->no_reuse = true;
	/* a close-delimited body ends the client connection too; so does a body still owed */
	if (ex->rbody == PROXY_BODY_CLOSE || !ex->req_done)
		ex->client_close = true;
	/* Connection-bound upstream authentication (NTLM, Negotiate) must not be pooled. */
	for (unsigned int i = 0; i < r->nheaders; i++)
		if (h1_view_ieq(r->headers[i].name, "WWW-Authenticate"))
			ex->no_reuse = true;
	ex->resp_left = ex->rbody == PROXY_BODY_LENGTH ? (uint64_t)r->content_length : 0;
	chunked_init(&ex->resp_ck);
	head = malloc(PX_RESP_HEAD_MAX + sizeof(ex->extra) + 256);
	if (head == NULL)
		return -ENOMEM;
	n = proxy_resp_head(r, ex->rbody, ex->client_close, ex->extra, ex->extra_len, head,
			    PX_RESP_HEAD_MAX + sizeof(ex->extra) + 256);
	if (n < 0 || emit(&ex->cout, CLIENT(ex), head, (size_t)n) != 0) {
		free(head);
		return -ENOSPC;
	}
	free(head);
	ex->resp_started = true;
	ex->resp_head_done = true;
	if (ex->rbody == PROXY_BODY_NONE || (ex->rbody == PROXY_BODY_LENGTH && ex->resp_left == 0))
		ex->resp_done = true;
	return 0;
}

/* Body bytes to the client as far as its send buffer takes them; returns bytes consumed. */
static size_t
resp_body(struct proxy_exchange *ex, const uint8_t *p, size_t n, bool *bad)
{
	size_t used = 0;

	*bad = false;
	while (used < n && !ex->resp_done) {
		uint32_t space;

		if (!pbuf_flush(&ex->cout, CLIENT(ex)))
			break;
		space = ex->hooks->send_space(ex->arg);
		if (ex->rbody == PROXY_BODY_CHUNKED) {
			size_t k, dlen;
			enum chunked_rc rc;
			bool full;

			if (space <= PX_FRAME_ROOM)
				break;
			rc = rechunk(&ex->resp_ck, p + used, n - used,
				     RTE_MIN((size_t)space - PX_FRAME_ROOM, (size_t)PX_CHUNK_STEP),
				     &ex->cout, CLIENT(ex), &k, &dlen, &full);
			if (rc == CHUNKED_ERROR || full) {
				*bad = true;
				return used;
			}
			ex->resp_bytes += dlen;
			if (rc == CHUNKED_DONE)
				ex->resp_done = true;
			used += k;
			if (rc == CHUNKED_AGAIN && k == 0)
				break;
			continue;
		}
		/* Content-Length or until close: the bytes as they are */
		size_t want = n - used;
		int s;

		if (ex->rbody == PROXY_BODY_LENGTH && want > ex->resp_left)
			want = (size_t)ex->resp_left;
		if (want > space)
			want = space;
		if (want == 0)
			break;
		s = ex->hooks->send(ex->arg, p + used, want);
		if (s <= 0)
			break;
		used += (size_t)s;
		ex->resp_bytes += (size_t)s;
		if (ex->rbody == PROXY_BODY_LENGTH) {
			ex->resp_left -= (size_t)s;
			if (ex->resp_left == 0)
				ex->resp_done = true;
		}
	}
	return used;
}

static void ex_maybe_done(struct proxy_exchange *ex);

/*
 * Response bytes at p[0..n): parsed into the head buffer until the head is whole, then body.
 * Returns bytes consumed; fewer than n pauses the upstream (the client is slow).
 */
static size_t
resp_input(struct proxy_exchange *ex, const uint8_t *p, size_t n)
{
	size_t used = 0;
	bool bad;

	ex->progress_us = dp_now_us();
	if (!ex->ttfb_counted && n > 0) {
		ex->ttfb_counted = true;
		px_hist_add(&ex->up->st.ttfb, ex->progress_us - ex->start_us);
	}
	ex->deadline_us = 0;
	while (!ex->resp_head_done) {
		struct proxy_resp *r;
		size_t take = RTE_MIN(n - used, (size_t)PX_RESP_HEAD_MAX - ex->rlen);
		int rc;

		if (ex->rhead == NULL) {
			ex->rhead = malloc(PX_RESP_HEAD_MAX);
			if (ex->rhead == NULL) {
				ex_fail(ex, 503, PROXY_E_NO_MEMORY);
				return n;
			}
		}
		memcpy(ex->rhead + ex->rlen, p + used, take);
		ex->rlen += take;
		used += take;
		r = malloc(sizeof(*r));
		if (r == NULL) {
			ex_fail(ex, 503, PROXY_E_NO_MEMORY);
			return n;
		}
		rc = proxy_resp_parse(ex->rhead, ex->rlen, PX_RESP_HEAD_MAX, r);
		if (rc == 0) {
			free(r);
			if (used < n)
				continue;
			return used;
		}
		if (rc < 0) {
			free(r);
			ex_fail(ex, 502, PROXY_E_BAD_RESPONSE);
			return n;
		}
		if (r->status == 101) {
			/* we never asked for an upgrade: an upstream that does it is broken */
			free(r);
			ex_fail(ex, 502, PROXY_E_BAD_RESPONSE);
			return n;
		}
		if (r->status < 200) {
			/* 1xx: 100 goes to the client (its Expect), the others are dropped */
			size_t hl = r->head_len;

			free(r);
			if (hl >= 12 && memcmp(ex->rhead + 9, "100", 3) == 0 &&
			    emit(&ex->cout, CLIENT(ex), "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0) {
				ex_fail(ex, 503, PROXY_E_NO_MEMORY);
				return n;
			}
			memmove(ex->rhead, ex->rhead + hl, ex->rlen - hl);
			ex->rlen -= hl;
			continue;
		}
		if (resp_head_ready(ex, r) != 0) {
			free(r);
			ex_fail(ex, 502, PROXY_E_BAD_RESPONSE);
			return n;
		}
		ex->roff = r->head_len;
		free(r);
	}
	/* body bytes that came with the head, then the rest */
	if (ex->roff < ex->rlen) {
		ex->roff += resp_body(ex, (const uint8_t *)ex->rhead + ex->roff,
				      ex->rlen - ex->roff, &bad);
		if (bad) {
			ex_fail(ex, 502, PROXY_E_TRUNCATED);
			return n;
		}
		if (ex->roff < ex->rlen && !ex->resp_done)
			return used; /* still behind: the rest waits in the engine */
	}
	if (!ex->resp_done && used < n) {
		used += resp_body(ex, p + used, n - used, &bad);
		if (bad) {
			ex_fail(ex, 502, PROXY_E_TRUNCATED);
			return n;
		}
	}
	if (ex->resp_done && used < n) {
		/* bytes past the end of the response: the upstream is confused; not reusable */
		ex->no_reuse = true;
		used = n;
	}
	return used;
}

static uint32_t
up_data(struct tcp_flow *f, void *ctx, struct rte_mbuf *m)
{
	struct px_conn *c = ctx;
	struct proxy_exchange *ex = c->ex;
	uint32_t used = 0;

	if (ex == NULL) {
		/* an idle pooled connection: the upstream closed it, or talks out of turn */
		if (c->idle)
			pool_remove(c);
		tcp_abort(f);
		return m != NULL ? rte_pktmbuf_pkt_len(m) : 0;
	}
	if (m == NULL) {
		/* the upstream's FIN */
		ex->no_reuse = true;
		if (ex->resp_head_done && ex->rbody == PROXY_BODY_CLOSE && !ex->resp_done) {
			ex->resp_done = true;
			ex_maybe_done(ex);
		} else if (!ex->resp_done) {
			if (!ex->resp_started && ex->reused && ex->rlen == 0 && !ex->retried &&
			    ex->req_body_bytes == 0 && ex->req_done) {
				/* a pooled connection the upstream had closed: once more, fresh */
				ex->retried = true;
				ex_release_conn(ex, false);
				ex->tries = 0;
				if (ex_connect(ex) == 0)
					return 0;
			}
			ex_fail(ex, 502,
				ex->resp_started ? PROXY_E_TRUNCATED : PROXY_E_CLOSED_EARLY);
		}
		return 0;
	}
	/* contiguous segments of the chain, one after the other */
	for (struct rte_mbuf *s = m; s != NULL && c->ex == ex; s = s->next) {
		size_t k = resp_input(ex, rte_pktmbuf_mtod(s, const uint8_t *), s->data_len);

		used += (uint32_t)k;
		if (c->ex != ex)
			return rte_pktmbuf_pkt_len(m); /* ended (failed) inside */
		if (k < s->data_len)
			break;
	}
	if (c->ex == ex && ex->resp_done)
		ex_maybe_done(ex);
	return used;
}

static void
up_acked(struct tcp_flow *f, void *ctx, uint32_t bytes)
{
	struct px_conn *c = ctx;
	struct proxy_exchange *ex = c->ex;

	RTE_SET_USED(bytes);
	if (ex == NULL)
		return;
	if (!pbuf_flush(&ex->uout, UPSTREAM(f)))
		return;
	if (!ex->req_done)
		ex->hooks->want_rx(ex->arg);
}

static void
up_closed(struct tcp_flow *f, void *ctx, enum tcp_close_reason reason)
{
	struct px_conn *c = ctx;
	struct proxy_exchange *ex = c->ex;

	RTE_SET_USED(f);
	if (c->idle)
		pool_remove(c);
	if (ex != NULL) {
		ex->conn = NULL;
		c->ex = NULL;
		if (!c->connected) {
			/* the connect failed: refused (RST) or the engine's SYN retries ran out */
			up_failed(ex->up, ex->max_fails, ex->down_us, dp_now_us());
			conn_free(c);
			ex_reconnect_or_fail(ex, reason == TCP_CLOSE_RESET
							 ? PROXY_E_REFUSED
							 : PROXY_E_CONNECT_TIMEOUT);
			return;
		}
		if (ex->resp_done) {
			ex_maybe_done(ex);
		} else {
			if (!ex->resp_started && ex->reused && ex->rlen == 0 && !ex->retried &&
			    ex->req_body_bytes == 0 && ex->req_done) {
				ex->retried = true;
				ex->tries = 0;
				conn_free(c);
				if (ex_connect(ex) == 0)
					return;
				ex_fail(ex, 502, PROXY_E_CLOSED_EARLY);
				return;
			}
			ex_fail(ex, 502,
				ex->resp_started ? PROXY_E_TRUNCATED : PROXY_E_CLOSED_EARLY);
		}
	}
	conn_free(c);
}

static const struct tcp_callbacks up_callbacks = {
	.accepted = up_accepted,
	.data = up_data,
	.acked = up_acked,
	.closed = up_closed,
};

/* Both directions finished and the client has the last byte queued: the end. */
static void
ex_maybe_done(struct proxy_exchange *ex)
{
	if (!ex->resp_done || ex->cout.off != ex->cout.len)
		return;
	if (!ex->req_done) {
		/* answered before the body was all sent (413 and the like): not reusable */
		ex->client_close = true;
		ex_finish(ex, false, false);
		return;
	}
	ex_finish(ex, true, false);
}

/* ---------------------------------------------------------------- client side */

size_t
proxy_client_rx(struct proxy_exchange *ex, const char *buf, size_t len)
{
	struct tcp_flow *uf;
	size_t used = 0;

	if (ex->req_done || ex->conn == NULL || !ex->conn->connected)
		return 0;
	uf = ex->conn->flow;
	if (!pbuf_flush(&ex->uout, UPSTREAM(uf)))
		return 0;
	while (used < len && !ex->req_done) {
		uint32_t space = tcp_send_space(uf);

		if (ex->body == PX_REQ_LENGTH) {
			size_t want = RTE_MIN(len - used, (size_t)ex->req_left);
			int s;

			want = RTE_MIN(want, (size_t)space);
			if (want == 0)
				break;
			s = tcp_send(uf, buf + used, want);
			if (s <= 0)
				break;
			used += (size_t)s;
			ex->req_left -= (size_t)s;
			ex->req_body_bytes += (size_t)s;
			if (ex->req_left == 0)
				ex->req_done = true;
			continue;
		}
		/* chunked: decoded, sent on re-framed so no extension or trailer passes */
		size_t k, dlen;
		enum chunked_rc rc;
		bool full;

		if (space <= PX_FRAME_ROOM)
			break;
		rc = rechunk(&ex->req_ck, (const uint8_t *)buf + used, len - used,
			     RTE_MIN((size_t)space - PX_FRAME_ROOM, (size_t)PX_CHUNK_STEP),
			     &ex->uout, UPSTREAM(uf), &k, &dlen, &full);
		if (rc == CHUNKED_ERROR) {
			ex->pl->st.bad_chunked++;
			ex->no_reuse = true;
			ex_fail(ex, 400, PROXY_E_BAD_REQUEST_BODY);
			return len;
		}
		if (full) {
			ex_fail(ex, 503, PROXY_E_NO_MEMORY);
			return len;
		}
		ex->req_body_bytes += dlen;
		if (rc == CHUNKED_DONE)
			ex->req_done = true;
		used += k;
		if (rc == CHUNKED_AGAIN && k == 0)
			break;
	}
	if (ex->req_done && ex->deadline_us == 0 && !ex->resp_head_done)
		ex->deadline_us = dp_now_us() + ex->response_timeout_us;
	if (ex->req_done && ex->resp_done)
		ex_maybe_done(ex);
	return used;
}

void
proxy_client_acked(struct proxy_exchange *ex)
{
	if (!pbuf_flush(&ex->cout, CLIENT(ex)))
		return;
	if (ex->resp_done) {
		ex_maybe_done(ex);
		return;
	}
	/* body bytes that came with the head first, then the upstream's paused stream */
	if (ex->resp_head_done && ex->roff < ex->rlen) {
		bool bad;

		ex->roff += resp_body(ex, (const uint8_t *)ex->rhead + ex->roff,
				      ex->rlen - ex->roff, &bad);
		if (bad) {
			ex_fail(ex, 502, PROXY_E_TRUNCATED);
			return;
		}
		if (ex->resp_done) {
			ex_maybe_done(ex);
			return;
		}
		if (ex->roff < ex->rlen)
			return;
	}
	if (ex->conn != NULL)
		tcp_recv_resume(ex->conn->flow);
}

void
proxy_client_closed(struct proxy_exchange *ex)
{
	ex->pl->st.client_aborts++;
	ex_release_conn(ex, false);
	ex->pl->st.active--;
	ex_free(ex);
}

int
proxy_begin(const struct proxy_start *s, struct proxy_exchange **ex_out)
{
	unsigned int lc = tcp_flow_owner_idx(s->client);
	struct px_lcore *pl = lc < DP_MAX_LCORES ? px_lcores[lc] : NULL;
	const struct site_conf *site = s->site;
	struct proxy_exchange *ex;
	char *head;
	long n;
	int rc;

	*ex_out = NULL;
	if (pl == NULL)
		return 503;
	ex = calloc(1, sizeof(*ex));
	head = malloc(HTTP_PROXY_HEAD_MAX);
	if (ex == NULL || head == NULL) {
		free(ex);
		free(head);
		pl->st.errors[PROXY_E_NO_MEMORY]++;
		return 503;
	}
	n = proxy_req_head(s->req, site, &s->id, tcp_flow_tuple(s->client)->raddr, head,
			   HTTP_PROXY_HEAD_MAX);
	if (n < 0) {
		free(head);
		free(ex);
		pl->st.errors[n == -EINVAL ? PROXY_E_BAD_TARGET : PROXY_E_NO_MEMORY]++;
		return n == -EINVAL ? 400 : 503;
	}
	ex->pl = pl;
	ex->client = s->client;
	ex->hooks = s->hooks;
	ex->arg = s->arg;
	memcpy(ex->ups, site->upstreams, sizeof(ex->ups));
	ex->nb_ups = site->nb_upstreams;
	ex->connect_timeout_us = site->connect_timeout_ms * 1000u;
	ex->response_timeout_us = (uint64_t)site->response_timeout_s * 1000000;
	ex->max_idle = site->max_idle_upstream;
	ex->max_conns = site->max_upstream_conns;
	ex->max_fails = site->upstream_max_fails;
	ex->down_us = (uint64_t)site->upstream_down_s * 1000000;
	ex->head_request = s->req->method == H1_M_HEAD;
	ex->client_close = s->client_close;
	/* the client's credentials went upstream: that connection is theirs alone */
	ex->no_reuse =
		site->forward_authorization && h1_req_header(s->req, H1_H_AUTHORIZATION) != NULL;
	if (s->extra != NULL) {
		ex->extra_len = RTE_MIN(strlen(s->extra), sizeof(ex->extra) - 1);
		memcpy(ex->extra, s->extra, ex->extra_len);
	}
	if (s->req->chunked) {
		ex->body = PX_REQ_CHUNKED;
		chunked_init(&ex->req_ck);
	} else if (s->req->content_length > 0) {
		ex->body = PX_REQ_LENGTH;
		ex->req_left = (uint64_t)s->req->content_length;
	} else {
		ex->req_done = true;
	}
	rc = pbuf_put(&ex->uout, head, (size_t)n);
	free(head);
	if (rc != 0) {
		free(ex);
		return 503;
	}
	ex->start_us = dp_now_us();
	ex->next = pl->exchanges;
	if (pl->exchanges != NULL)
		pl->exchanges->prev = ex;
	pl->exchanges = ex;
	pl->st.active++;
	pl->st.exchanges++;
	rc = ex_connect(ex);
	if (rc != 0) {
		enum proxy_err e = rc == -ENETDOWN ? PROXY_E_ALL_DOWN
				   : rc == -ENOMEM ? PROXY_E_NO_MEMORY
						   : PROXY_E_CONNECT_FAILED;

		ex->up = NULL;
		count_err(ex, e);
		ex->pl->st.active--;
		ex_free(ex);
		return rc == -ENETDOWN || rc == -ENOMEM ? 503 : 502;
	}
	*ex_out = ex;
	return 0;
}

/* ---------------------------------------------------------------- the application */

static int
px_lcore_init(const struct dp_app_env *env, void **state_out)
{
	struct px_lcore *pl;

	pl = rte_zmalloc_socket("proxy_lcore", sizeof(*pl), RTE_CACHE_LINE_SIZE, env->socket);
	if (pl == NULL)
		return -ENOMEM;
	pl->tcp = env->tcp;
	pl->lcore = env->lcore_index;
	pl->now_s = time(NULL);
	px_lcores[env->lcore_index] = pl;
	if (env->lcore_index + 1u > px_nb_lcores)
		px_nb_lcores = env->lcore_index + 1u;
	*state_out = pl;
	return 0;
}

/* Deadlines: connects that take too long, responses that do not come, idle pool entries. */
static void
px_tick(void *state, uint64_t now_us)
{
	struct px_lcore *pl = state;
	struct proxy_exchange *ex, *next;

	pl->now_s = time(NULL);
	for (ex = pl->exchanges; ex != NULL; ex = next) {
		next = ex->next;
		if (ex->deadline_us == 0 || now_us < ex->deadline_us)
			continue;
		if (ex->waiting) {
			wait_remove(ex);
			ex_fail(ex, 503, PROXY_E_QUEUE_TIMEOUT);
		} else if (ex->conn != NULL && !ex->conn->connected) {
			up_failed(ex->up, ex->max_fails, ex->down_us, now_us);
			ex_release_conn(ex, false); /* its closed() sees no exchange */
			ex_reconnect_or_fail(ex, PROXY_E_CONNECT_TIMEOUT);
		} else if (ex->resp_started) {
			ex_fail(ex, 504, PROXY_E_TRUNCATED);
		} else {
			ex->no_reuse = true;
			ex_fail(ex, 504, PROXY_E_RESPONSE_TIMEOUT);
		}
		/* the list may have changed under us: start again next tick */
		break;
	}
	/* a body that stalls half way is a response timeout too */
	for (ex = pl->exchanges; ex != NULL; ex = next) {
		next = ex->next;
		if (ex->resp_started && !ex->resp_done && ex->conn != NULL &&
		    now_us - ex->progress_us > ex->response_timeout_us &&
		    ex->cout.off == ex->cout.len && ex->hooks->send_space(ex->arg) > 0) {
			ex_fail(ex, 504, PROXY_E_TRUNCATED);
			break;
		}
	}
}

/* Connections that closed left room: the requests waiting for one connect now. */
static void
px_poll(void *state, uint64_t now_us)
{
	struct px_lcore *pl = state;

	RTE_SET_USED(now_us);
	if (pl->nb_waiting == 0)
		return;
	for (unsigned int i = 0; i < pl->nb_ups; i++) {
		struct px_up *u = &pl->ups[i];

		while (u->wait_head != NULL && u->nb_open < u->wait_head->max_conns) {
			struct proxy_exchange *ex = wait_pop(u);
			int rc;

			ex->tries = 0;
			rc = ex_connect(ex);
			if (rc != 0) {
				ex->up = NULL;
				ex_fail(ex, rc == -ENETDOWN ? 503 : 502,
					rc == -ENETDOWN ? PROXY_E_ALL_DOWN
							: PROXY_E_CONNECT_FAILED);
			}
		}
	}
}

static void
px_drain(void *state)
{
	struct px_lcore *pl = state;

	pl->draining = true;
	for (unsigned int i = 0; i < pl->nb_ups; i++) {
		struct px_conn *c;

		while ((c = pool_take(&pl->ups[i])) != NULL)
			tcp_shutdown(c->flow);
	}
}

static uint64_t
px_active(const void *state)
{
	const struct px_lcore *pl = state;

	return __atomic_load_n(&pl->st.active, __ATOMIC_RELAXED);
}

static void
px_lcore_fini(void *state)
{
	struct px_lcore *pl = state;

	px_lcores[pl->lcore] = NULL;
	rte_free(pl);
}

static const struct dp_app proxy_app = {
	.name = "proxy",
	.lcore_init = px_lcore_init,
	.poll = px_poll,
	.tick = px_tick,
	.tick_us = PX_TICK_US,
	.drain = px_drain,
	.active = px_active,
	.lcore_fini = px_lcore_fini,
};

int
proxy_register(void)
{
	px_telemetry_init();
	return dp_app_register(&proxy_app);
}
