/* bengine: epoll client threads that walk HEAD + K ranged GETs per keep-alive connection. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "engine.h"
#include "range.h"
#include "resp.h"
#include "tok.h"

#define OUT_MAX	       8192
#define RBUF_SIZE      (256 * 1024)
#define EPOLL_BATCH    256
#define SWEEP_EVERY_NS (20 * 1000 * 1000ull)
#define MIN_RETRY_NS   (100 * 1000 * 1000ull)

enum bconn_state {
	BCONN_IDLE,	  /* not started yet (the ramp has not reached it) */
	BCONN_CONNECTING, /* non-blocking connect in flight, waiting to be writable */
	BCONN_HANDSHAKE,  /* --tls: connected, the TLS handshake under way */
	BCONN_SENDING,	  /* request partly written, waiting to be writable */
	BCONN_RECEIVING,  /* request written, parsing the response */
	BCONN_WAITING,	  /* backing off after a 503 until retry_at; fd may be closed (-1) */
	BCONN_DONE,	  /* every request answered as expected; fd closed */
	BCONN_FAILED,	  /* one request failed (counted by kind); fd closed, the rest not run */
};

struct bconn {
	int fd;
	SSL *ssl; /* --tls */
	unsigned int client;
	unsigned int user;
	enum bconn_state state;
	uint32_t events;   /* the epoll interest set now registered */
	unsigned int next; /* 0 = the HEAD, 1..ranges = the ranged GETs */
	uint64_t size;	   /* from the HEAD */
	uint64_t first, last;
	bool persisted;	 /* the server said Persistent-Auth: true on this connection */
	bool want_token; /* the next attempt must carry credentials (the last one got a 401) */
	bool with_token; /* the attempt in flight carries credentials */
	bool mismatch;	 /* a body byte differed from the file */
	unsigned int tries_401;
	unsigned int tries_503;
	unsigned int tries_closed;
	unsigned int uses; /* responses received on this connection (it is reused when > 0) */
	uint64_t t_start;  /* connect start, then send start of each exchange */
	uint64_t deadline;
	uint64_t retry_at;
	size_t out_len, out_off;
	char out[OUT_MAX];
	struct bresp resp;
};

struct bworker {
	struct bengine *e;
	unsigned int id;
	int ep;
	struct bconn *conns;
	unsigned int n;
	unsigned int started;
	unsigned int active;
	struct bstats st;
	char *rbuf;
	pthread_t tid;
	bool running;
	int rc;
};

struct bengine {
	struct bengine_conf conf;
	struct bworker *workers;
	uint64_t started_ns;
	uint64_t ended_ns;
	unsigned int live_workers; /* atomic */
};

/* The owner writes with relaxed atomics so that bengine_peek from the main thread is defined. */
#define STAT_ADD(w, field, v)                                                                      \
	__atomic_store_n(&(w)->st.field, (w)->st.field + (v), __ATOMIC_RELAXED)
#define STAT_SUB(w, field, v)                                                                      \
	__atomic_store_n(&(w)->st.field, (w)->st.field - (v), __ATOMIC_RELAXED)

uint64_t
bnow_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *
bfail_str(enum bfail f)
{
	static const char *const names[BFAIL_MAX] = {
		[BFAIL_CONNECT] = "connect",	   [BFAIL_RESET] = "reset",
		[BFAIL_CLOSED] = "closed",	   [BFAIL_TIMEOUT] = "timeout",
		[BFAIL_BAD_STATUS] = "bad_status", [BFAIL_BAD_RANGE] = "bad_range",
		[BFAIL_BAD_LENGTH] = "bad_length", [BFAIL_MISMATCH] = "checksum_mismatch",
		[BFAIL_SHORT_BODY] = "short_body", [BFAIL_PROTOCOL] = "protocol",
		[BFAIL_AUTH] = "auth_failed",	   [BFAIL_BUSY] = "busy",
		[BFAIL_NO_TOKEN] = "no_token",
	};

	return f < BFAIL_MAX ? names[f] : "?";
}

static int
set_events(struct bworker *w, struct bconn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (c->events == events)
		return 0;
	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return -errno;
	c->events = events;
	return 0;
}

static void
close_fd(struct bconn *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl); /* no close_notify: the connection is done with either way */
		c->ssl = NULL;
		ERR_clear_error();
	}
	if (c->fd >= 0) {
		/* close() also takes the fd out of the epoll set */
		close(c->fd);
		c->fd = -1;
		c->events = 0;
	}
}

static void
conn_fail(struct bworker *w, struct bconn *c, enum bfail why)
{
	unsigned int planned = w->e->conf.ranges + 1;

	STAT_ADD(w, fail[why], 1);
	STAT_ADD(w, requests_failed, 1);
	if (planned > c->next + 1)
		STAT_ADD(w, requests_not_run, planned - c->next - 1);
	STAT_ADD(w, conns_failed, 1);
	STAT_SUB(w, conns_active, 1);
	close_fd(c);
	c->state = BCONN_FAILED;
	w->active--;
}

static void
conn_done(struct bworker *w, struct bconn *c)
{
	STAT_ADD(w, conns_ok, 1);
	STAT_SUB(w, conns_active, 1);
	close_fd(c);
	c->state = BCONN_DONE;
	w->active--;
}

/* Whether the next attempt carries credentials, the way a Negotiate-aware client decides. */
static bool
needs_credentials(const struct bengine_conf *conf, const struct bconn *c)
{
	if (conf->auth == BAUTH_NONE)
		return false;
	if (c->want_token)
		return true;
	/* RFC 4559 / MS-N2HT: only a connection the server called persistent goes without */
	if (conf->auth == BAUTH_NEGOTIATE && c->persisted)
		return false;
	return !conf->probe;
}

static int
build_request(struct bworker *w, struct bconn *c)
{
	const struct bengine_conf *conf = &w->e->conf;
	bool head = c->next == 0;
	char range[64] = "";
	const char *cred = NULL;
	int n;

	if (!head) {
		char spec[48];

		if (brange_pick(c->size, conf->range_size, c->client, conf->clients, c->next - 1,
				&c->first, &c->last) < 0 ||
		    brange_format(spec, sizeof(spec), c->first, c->last) < 0)
			return -EINVAL;
		snprintf(range, sizeof(range), "Range: %s\r\n", spec);
	}
	c->with_token = needs_credentials(conf, c);
	if (c->with_token) {
		if (conf->auth == BAUTH_NEGOTIATE)
			cred = btok_take(conf->tokens, c->user);
		else
			cred = conf->basic_value;
		if (cred == NULL)
			return -ENOKEY;
	}
	n = snprintf(c->out, sizeof(c->out),
		     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: authgate-burst\r\n%s%s%s%s\r\n",
		     head ? "HEAD" : "GET", conf->path, conf->host_header, range,
		     cred ? "Authorization: " : "", cred ? cred : "", cred ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(c->out))
		return -ENOSPC;
	if (c->with_token)
		STAT_ADD(w, tokens_sent, 1);
	c->out_len = (size_t)n;
	c->out_off = 0;
	bresp_reset(&c->resp, head);
	c->mismatch = false;
	return 0;
}

static void try_send(struct bworker *w, struct bconn *c);

static void
start_connect(struct bworker *w, struct bconn *c)
{
	const struct bengine_conf *conf = &w->e->conf;
	struct sockaddr_in src = {.sin_family = AF_INET};
	struct epoll_event ev;
	int one = 1, fd;

	c->persisted = false;
	c->uses = 0;
	c->t_start = bnow_ns();
	c->deadline = c->t_start + conf->timeout_ns;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	c->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (conf->nsrc > 0) {
		/* the port is picked at connect() from the 4-tuple, so 32 addresses give 32 x ports
		 */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		src.sin_addr = conf->src[c->client % conf->nsrc];
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)&conf->server, sizeof(conf->server)) < 0 &&
	    errno != EINPROGRESS)
		goto fail;
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	c->events = EPOLLOUT;
	c->state = BCONN_CONNECTING;
	return;
fail:
	conn_fail(w, c, BFAIL_CONNECT);
}

static void
begin_client(struct bworker *w, struct bconn *c)
{
	STAT_ADD(w, conns_started, 1);
	STAT_ADD(w, conns_active, 1);
	w->active++;
	start_connect(w, c);
}

/* The next attempt of the current request (or the next request) on this connection. */
static void
next_attempt(struct bworker *w, struct bconn *c)
{
	int rc;

	if (c->fd < 0) {
		STAT_ADD(w, reconnects, 1);
		start_connect(w, c);
		return;
	}
	rc = build_request(w, c);
	if (rc < 0) {
		conn_fail(w, c, rc == -ENOKEY ? BFAIL_NO_TOKEN : BFAIL_PROTOCOL);
		return;
	}
	try_send(w, c);
}

static void
try_send(struct bworker *w, struct bconn *c)
{
	const struct bengine_conf *conf = &w->e->conf;

	if (c->out_off == 0) {
		c->t_start = bnow_ns();
		c->deadline = c->t_start + conf->timeout_ns;
	}
	while (c->out_off < c->out_len) {
		ssize_t n;

		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, c->out + c->out_off,
					  (int)(c->out_len - c->out_off));

			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);

				ERR_clear_error();
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					c->state = BCONN_SENDING;
					if (set_events(w, c, EPOLLIN | EPOLLOUT) < 0)
						conn_fail(w, c, BFAIL_RESET);
					return;
				}
				conn_fail(w, c, BFAIL_RESET);
				return;
			}
			c->out_off += (size_t)r;
			continue;
		}
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->state = BCONN_SENDING;
				if (set_events(w, c, EPOLLIN | EPOLLOUT) < 0)
					conn_fail(w, c, BFAIL_RESET);
				return;
			}
			if (errno == EINTR)
				continue;
			conn_fail(w, c, BFAIL_RESET);
			return;
		}
		c->out_off += (size_t)n;
	}
	c->state = BCONN_RECEIVING;
	if (set_events(w, c, EPOLLIN) < 0)
		conn_fail(w, c, BFAIL_RESET);
}

static void
verify_body(struct bworker *w, struct bconn *c, const char *data, size_t len)
{
	const struct bengine_conf *conf = &w->e->conf;
	uint64_t off;

	if (conf->verify == NULL || c->resp.status != 206 || !(c->resp.flags & BRESP_F_HAS_RANGE))
		return;
	off = c->resp.range_first + c->resp.body_seen;
	if (off + len > conf->verify_size || off + len > c->resp.range_last + 1 ||
	    memcmp(conf->verify + off, data, len) != 0)
		c->mismatch = true;
}

struct body_ctx {
	struct bworker *w;
	struct bconn *c;
};

static void
body_cb(void *arg, const char *data, size_t len)
{
	struct body_ctx *b = arg;

	verify_body(b->w, b->c, data, len);
}

/* A complete response to the attempt in flight: decide what the client does next. */
static void
response_done(struct bworker *w, struct bconn *c)
{
	const struct bengine_conf *conf = &w->e->conf;
	struct bresp *r = &c->resp;
	uint64_t now = bnow_ns(), len;
	bool close_after = (r->flags & BRESP_F_CLOSE) != 0;

	bhist_add(&w->st.latency, (now - c->t_start) / 1000);
	STAT_ADD(w, exchanges, 1);
	c->uses++;
	if (r->flags & BRESP_F_PERSIST_TRUE)
		c->persisted = true;
	else if (r->flags & BRESP_F_PERSIST_FALSE)
		c->persisted = false;

	if (r->status == 401) {
		STAT_ADD(w, status_401, 1);
		c->persisted = false;
		if (conf->auth == BAUTH_NONE) {
			conn_fail(w, c, BFAIL_BAD_STATUS);
			return;
		}
		/* a real client answers the challenge with fresh credentials, a bounded number of
		 * times */
		if (c->tries_401 >= conf->max_401_retries) {
			conn_fail(w, c, BFAIL_AUTH);
			return;
		}
		c->tries_401++;
		c->want_token = true;
		goto again;
	}
	if (r->status == 503) {
		uint64_t wait = MIN_RETRY_NS;

		STAT_ADD(w, status_503, 1);
		if (c->tries_503 >= conf->max_503_retries) {
			conn_fail(w, c, BFAIL_BUSY);
			return;
		}
		c->tries_503++;
		if (r->retry_after_s > 0)
			wait = (uint64_t)r->retry_after_s * 1000000000ull;
		if (wait > conf->retry_cap_ns)
			wait = conf->retry_cap_ns;
		if (close_after)
			close_fd(c);
		else if (set_events(w, c, EPOLLIN) < 0)
			close_fd(c);
		c->retry_at = now + wait;
		c->state = BCONN_WAITING;
		return;
	}

	if (c->next == 0) {
		if (r->status != 200) {
			conn_fail(w, c, BFAIL_BAD_STATUS);
			return;
		}
		if (!(r->flags & BRESP_F_HAS_LENGTH) || r->content_length <= 0 ||
		    (conf->verify != NULL && (uint64_t)r->content_length != conf->verify_size)) {
			conn_fail(w, c, BFAIL_BAD_LENGTH);
			return;
		}
		c->size = (uint64_t)r->content_length;
	} else {
		if (r->status == 200) {
			conn_fail(w, c, BFAIL_BAD_RANGE);
			return;
		}
		if (r->status != 206) {
			conn_fail(w, c, BFAIL_BAD_STATUS);
			return;
		}
		if (!(r->flags & BRESP_F_HAS_RANGE) || r->range_first != c->first ||
		    r->range_last != c->last || r->range_total != c->size) {
			conn_fail(w, c, BFAIL_BAD_RANGE);
			return;
		}
		len = c->last - c->first + 1;
		if (r->body_seen != len) {
			conn_fail(w, c, BFAIL_BAD_LENGTH);
			return;
		}
		if (c->mismatch) {
			conn_fail(w, c, BFAIL_MISMATCH);
			return;
		}
		STAT_ADD(w, body_bytes, len);
	}
	STAT_ADD(w, requests_ok, 1);
	c->next++;
	c->tries_401 = 0;
	c->tries_503 = 0;
	c->tries_closed = 0;
	c->want_token = false;
	if (c->next > conf->ranges) {
		conn_done(w, c);
		return;
	}
again:
	if (close_after)
		close_fd(c);
	next_attempt(w, c);
}

/*
 * The server closed (or reset) a reused keep-alive connection before a byte of the answer: the
 * race every HTTP client meets with idle timeouts. Like curl and browsers, retry the request
 * once on a new connection (RFC 9112 section 9.3.1); counted, so a server that does it often
 * shows. Returns true when a retry was started.
 */
static bool
retry_on_new_connection(struct bworker *w, struct bconn *c)
{
	if (c->uses == 0 || c->tries_closed > 0 || c->resp.state != BRESP_STATUS ||
	    c->resp.line_len != 0)
		return false;
	c->tries_closed++;
	STAT_ADD(w, retried_closed, 1);
	if (c->with_token)
		STAT_ADD(w, tokens_unanswered, 1);
	close_fd(c);
	next_attempt(w, c);
	return true;
}

static void
on_eof(struct bworker *w, struct bconn *c)
{
	enum bresp_state s = c->resp.state;

	if (c->state == BCONN_WAITING) {
		/* the server closed while we back off: reconnect when the wait ends */
		close_fd(c);
		return;
	}
	/* before bresp_eof, which turns "nothing yet" into an error state */
	if (retry_on_new_connection(w, c))
		return;
	if (bresp_eof(&c->resp) == BRESP_OK) {
		c->resp.flags |= BRESP_F_CLOSE;
		response_done(w, c);
		return;
	}
	if (s == BRESP_STATUS && c->resp.line_len == 0)
		conn_fail(w, c, BFAIL_CLOSED);
	else if (s == BRESP_BODY_LENGTH || s == BRESP_CHUNK_DATA || s == BRESP_CHUNK_SIZE ||
		 s == BRESP_CHUNK_CRLF || s == BRESP_TRAILER)
		conn_fail(w, c, BFAIL_SHORT_BODY);
	else
		conn_fail(w, c, BFAIL_PROTOCOL);
}

static void
on_readable(struct bworker *w, struct bconn *c)
{
	struct body_ctx b = {.w = w, .c = c};
	size_t used = 0;
	ssize_t n;
	int rc;

	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, w->rbuf, RBUF_SIZE);

		n = r;
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);

			ERR_clear_error();
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return;
			/* close_notify, or EOF without one: the end of the stream either way */
			if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0))
				n = 0;
			else {
				n = -1;
				errno = e == SSL_ERROR_SYSCALL && errno != 0 ? errno : ECONNRESET;
			}
		}
	} else {
		n = recv(c->fd, w->rbuf, RBUF_SIZE, 0);
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		if (c->state == BCONN_WAITING) {
			close_fd(c);
			return;
		}
		if (errno == ECONNRESET && retry_on_new_connection(w, c))
			return;
		conn_fail(w, c, BFAIL_RESET);
		return;
	}
	if (n == 0) {
		on_eof(w, c);
		return;
	}
	if (c->state != BCONN_RECEIVING && c->state != BCONN_SENDING) {
		/* bytes nobody asked for */
		conn_fail(w, c, BFAIL_PROTOCOL);
		return;
	}
	rc = bresp_feed(&c->resp, w->rbuf, (size_t)n, &used, body_cb, &b);
	if (rc < 0) {
		conn_fail(w, c, BFAIL_PROTOCOL);
		return;
	}
	if (rc == BRESP_OK) {
		if (used != (size_t)n) {
			/* the client never pipelines: more bytes after the response are an error */
			conn_fail(w, c, BFAIL_PROTOCOL);
			return;
		}
		response_done(w, c);
	}
}

/* --tls: one step of the handshake; the first request goes when it is done. */
static void
tls_handshake(struct bworker *w, struct bconn *c)
{
	int r = SSL_do_handshake(c->ssl), e;

	if (r == 1) {
		STAT_ADD(w, tls_handshakes, 1);
		next_attempt(w, c);
		return;
	}
	e = SSL_get_error(c->ssl, r);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ) {
		if (set_events(w, c, EPOLLIN) < 0)
			conn_fail(w, c, BFAIL_CONNECT);
	} else if (e == SSL_ERROR_WANT_WRITE) {
		if (set_events(w, c, EPOLLOUT) < 0)
			conn_fail(w, c, BFAIL_CONNECT);
	} else {
		conn_fail(w, c, BFAIL_CONNECT);
	}
}

static void
on_writable(struct bworker *w, struct bconn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->state == BCONN_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			conn_fail(w, c, BFAIL_CONNECT);
			return;
		}
		bhist_add(&w->st.connect_time, (bnow_ns() - c->t_start) / 1000);
		if (w->e->conf.tls != NULL) {
			c->ssl = SSL_new(w->e->conf.tls);
			if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd)) {
				conn_fail(w, c, BFAIL_CONNECT);
				return;
			}
			SSL_set_connect_state(c->ssl);
			c->state = BCONN_HANDSHAKE;
			tls_handshake(w, c);
			return;
		}
		next_attempt(w, c);
		return;
	}
	if (c->state == BCONN_SENDING)
		try_send(w, c);
}

static void
sweep(struct bworker *w, uint64_t now, bool out_of_time)
{
	unsigned int i;

	for (i = 0; i < w->started; i++) {
		struct bconn *c = &w->conns[i];

		switch (c->state) {
		case BCONN_CONNECTING:
		case BCONN_SENDING:
		case BCONN_RECEIVING:
			if (out_of_time || now >= c->deadline)
				conn_fail(w, c,
					  c->state == BCONN_CONNECTING && !out_of_time
						  ? BFAIL_CONNECT
						  : BFAIL_TIMEOUT);
			break;
		case BCONN_WAITING:
			if (out_of_time)
				conn_fail(w, c, BFAIL_TIMEOUT);
			else if (now >= c->retry_at)
				next_attempt(w, c);
			break;
		default:
			break;
		}
	}
}

static void *
worker_main(void *arg)
{
	struct bworker *w = arg;
	struct bengine *e = w->e;
	const struct bengine_conf *conf = &e->conf;
	struct epoll_event evs[EPOLL_BATCH];
	uint64_t start = e->started_ns, last_sweep = start, now;
	double rate = conf->rate / (conf->threads ? conf->threads : 1);
	bool out_of_time = false;

	while (w->started < w->n || w->active > 0) {
		int n, i;

		now = bnow_ns();
		/* the ramp: all at once, or rate connections per second over all threads */
		if (w->started < w->n) {
			uint64_t want = w->n;

			if (rate > 0) {
				want = (uint64_t)((double)(now - start) / 1e9 * rate) + 1;
				if (want > w->n)
					want = w->n;
			}
			while (w->started < want && !out_of_time)
				begin_client(w, &w->conns[w->started++]);
		}
		n = epoll_wait(w->ep, evs, EPOLL_BATCH, 10);
		if (n < 0 && errno != EINTR) {
			w->rc = -errno;
			break;
		}
		for (i = 0; i < n; i++) {
			struct bconn *c = evs[i].data.ptr;

			if (c->fd < 0 || c->state == BCONN_DONE || c->state == BCONN_FAILED)
				continue;
			if (c->state == BCONN_HANDSHAKE) {
				tls_handshake(w, c);
				continue;
			}
			if (c->state == BCONN_CONNECTING ||
			    (evs[i].events & EPOLLOUT && c->state == BCONN_SENDING)) {
				on_writable(w, c);
				if (c->fd < 0 || c->state == BCONN_CONNECTING)
					continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR) && c->fd >= 0 &&
			    c->state != BCONN_DONE && c->state != BCONN_FAILED)
				on_readable(w, c);
			/* what TLS decrypted and holds makes no epoll event: read it now */
			while (c->ssl != NULL && c->fd >= 0 && c->state == BCONN_RECEIVING &&
			       SSL_pending(c->ssl) > 0)
				on_readable(w, c);
		}
		now = bnow_ns();
		if (now - start >= conf->max_time_ns && !out_of_time) {
			out_of_time = true;
			/* never-started clients are not run at all */
			while (w->started < w->n) {
				struct bconn *c = &w->conns[w->started++];

				STAT_ADD(w, conns_started, 1);
				STAT_ADD(w, conns_active, 1);
				w->active++;
				conn_fail(w, c, BFAIL_TIMEOUT);
			}
			sweep(w, now, true);
		} else if (now - last_sweep >= SWEEP_EVERY_NS) {
			sweep(w, now, false);
			last_sweep = now;
		}
	}
	__atomic_fetch_sub(&e->live_workers, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct bengine *
bengine_create(const struct bengine_conf *conf)
{
	struct bengine *e;
	unsigned int t, i, threads = conf->threads ? conf->threads : 1;

	if (conf->clients == 0 || conf->range_size == 0) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->conf = *conf;
	e->conf.threads = threads;
	e->workers = calloc(threads, sizeof(*e->workers));
	if (e->workers == NULL)
		goto fail;
	for (t = 0; t < threads; t++) {
		struct bworker *w = &e->workers[t];

		w->e = e;
		w->id = t;
		w->ep = -1;
		bhist_init(&w->st.latency);
		bhist_init(&w->st.connect_time);
		/* client i belongs to thread i % threads */
		w->n = conf->clients / threads + (t < conf->clients % threads);
		w->conns = calloc(w->n ? w->n : 1, sizeof(*w->conns));
		w->rbuf = malloc(RBUF_SIZE);
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		if (w->conns == NULL || w->rbuf == NULL || w->ep < 0)
			goto fail;
		for (i = 0; i < w->n; i++) {
			struct bconn *c = &w->conns[i];

			c->fd = -1;
			c->client = i * threads + t;
			c->user = conf->users ? c->client % conf->users + 1 : 1;
			c->state = BCONN_IDLE;
		}
	}
	return e;
fail:
	bengine_free(e);
	errno = ENOMEM;
	return NULL;
}

int
bengine_start(struct bengine *e)
{
	unsigned int t;

	e->started_ns = bnow_ns();
	__atomic_store_n(&e->live_workers, e->conf.threads, __ATOMIC_RELAXED);
	for (t = 0; t < e->conf.threads; t++) {
		struct bworker *w = &e->workers[t];
		int rc = pthread_create(&w->tid, NULL, worker_main, w);

		if (rc != 0) {
			__atomic_fetch_sub(&e->live_workers, e->conf.threads - t, __ATOMIC_RELEASE);
			return -rc;
		}
		w->running = true;
	}
	return 0;
}

int
bengine_join(struct bengine *e)
{
	unsigned int t;
	int rc = 0;

	for (t = 0; t < e->conf.threads; t++) {
		struct bworker *w = &e->workers[t];

		if (!w->running)
			continue;
		pthread_join(w->tid, NULL);
		w->running = false;
		if (w->rc < 0 && rc == 0)
			rc = w->rc;
	}
	e->ended_ns = bnow_ns();
	return rc;
}

bool
bengine_done(struct bengine *e)
{
	return __atomic_load_n(&e->live_workers, __ATOMIC_ACQUIRE) == 0;
}

static void
sum_counters(struct bstats *sum, const struct bstats *s)
{
	unsigned int f;

#define SUM(x) sum->x += __atomic_load_n(&s->x, __ATOMIC_RELAXED)
	SUM(conns_started);
	SUM(conns_ok);
	SUM(conns_failed);
	SUM(conns_active);
	SUM(reconnects);
	SUM(retried_closed);
	SUM(tokens_unanswered);
	SUM(tls_handshakes);
	SUM(requests_ok);
	SUM(requests_failed);
	SUM(requests_not_run);
	SUM(exchanges);
	SUM(body_bytes);
	SUM(status_401);
	SUM(status_503);
	SUM(tokens_sent);
	for (f = 0; f < BFAIL_MAX; f++)
		SUM(fail[f]);
#undef SUM
}

void
bengine_peek(struct bengine *e, struct bstats *sum)
{
	unsigned int t;

	memset(sum, 0, offsetof(struct bstats, latency));
	for (t = 0; t < e->conf.threads; t++)
		sum_counters(sum, &e->workers[t].st);
}

void
bengine_totals(struct bengine *e, struct bstats *sum)
{
	unsigned int t;

	bengine_peek(e, sum);
	bhist_init(&sum->latency);
	bhist_init(&sum->connect_time);
	for (t = 0; t < e->conf.threads; t++) {
		bhist_merge(&sum->latency, &e->workers[t].st.latency);
		bhist_merge(&sum->connect_time, &e->workers[t].st.connect_time);
	}
}

uint64_t
bengine_started_ns(struct bengine *e)
{
	return e->started_ns;
}

uint64_t
bengine_ended_ns(struct bengine *e)
{
	return e->ended_ns;
}

void
bengine_free(struct bengine *e)
{
	unsigned int t, i;

	if (e == NULL)
		return;
	for (t = 0; e->workers != NULL && t < e->conf.threads; t++) {
		struct bworker *w = &e->workers[t];

		for (i = 0; w->conns != NULL && i < w->n; i++)
			close_fd(&w->conns[i]);
		if (w->ep >= 0)
			close(w->ep);
		free(w->conns);
		free(w->rbuf);
	}
	free(e->workers);
	free(e);
}
