/* Access log: per-producer SP/SC rings, the writer thread, combined-format lines, reopen. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "common/mono.h"
#include "control/accesslog.h"

RTE_LOG_REGISTER(ag_logtype_accesslog, authgate.accesslog, NOTICE);
#define AL_LOG(level, fmt, ...)                                                                    \
	rte_log(RTE_LOG_##level, ag_logtype_accesslog, "accesslog: " fmt "\n", ##__VA_ARGS__)

/* records taken from one ring per pass: bounds the stack copy and keeps producers fair */
#define ACCESSLOG_BURST 32
/* the writer polls rather than being woken: a wake-up would be a syscall on the lcore */
#define ACCESSLOG_IDLE_SLEEP_NS 5000000L
#define ACCESSLOG_FLUSH_NS	1000000000ULL
#define ACCESSLOG_STDIO_BUF	(64 * 1024)
/* worst case: every byte of every field as \xHH, plus the fixed parts */
#define ACCESSLOG_LINE_MAX (4 * (sizeof(((struct accesslog_rec *)0)->target) + 3 * 128) + 192)

/* rte_ring element sizes must be a multiple of 4 bytes */
_Static_assert(sizeof(struct accesslog_rec) % 4 == 0, "accesslog_rec size");

struct accesslog_producer {
	struct rte_ring *ring;
	uint64_t dropped; /* written by the producer only */
} __rte_cache_aligned;

struct accesslog {
	char *path;
	unsigned int nb_producers;
	struct accesslog_producer *prod;
	pthread_t writer;
	bool writer_started;
	bool stop;

	/* reopen hand-off: the main lcore opens, the writer swaps and clears `pending` */
	pthread_mutex_t lock;
	pthread_cond_t swapped;
	FILE *pending;

	/* the writer's own */
	FILE *fp;
	bool dirty;
	bool failing;	  /* the last write failed: say so once, not per record */
	uint64_t written; /* read by accesslog_stats */
	uint64_t write_dropped;
	int64_t time_cached_s;
	char time_cached[80]; /* room for any int the compiler imagines */
};

static unsigned int accesslog_seq; /* makes ring names unique per process */

/* Returns an open FILE or NULL with errno set; says which path failed. */
static FILE *
accesslog_open(const char *path)
{
	FILE *fp;
	int fd, err;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		err = errno;
		AL_LOG(ERR, "cannot open %s: %s", path, strerror(err));
		errno = err;
		return NULL;
	}
	fp = fdopen(fd, "a");
	if (fp == NULL) {
		err = errno;
		AL_LOG(ERR, "cannot open %s: %s", path, strerror(err));
		close(fd);
		errno = err;
		return NULL;
	}
	/* the writer is the only user: full buffering, flushed on a timer and when idle */
	setvbuf(fp, NULL, _IOFBF, ACCESSLOG_STDIO_BUF);
	return fp;
}

/*
 * Copies a client-supplied field so that it cannot end the field or the line early: quote and
 * backslash are backslash-escaped, control bytes, DEL and non-ASCII become \xHH, and so does
 * a space where the field is not quoted (user) or where a space would split the request line.
 * An empty field is "-".
 */
static char *
accesslog_escape(char *out, const char *s, size_t max, bool escape_space)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = strnlen(s, max);

	if (n == 0) {
		*out++ = '-';
		return out;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			*out++ = '\\';
			*out++ = (char)c;
		} else if (c < 0x20 || c >= 0x7f || (escape_space && c == ' ')) {
			*out++ = '\\';
			*out++ = 'x';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 0xf];
		} else {
			*out++ = (char)c;
		}
	}
	return out;
}

/* The record carries a known method's name or nothing; "-" cannot be mistaken for a method. */
static const char *
accesslog_method(const char *m)
{
	return m[0] != '\0' ? m : "-";
}

/* [22/Nov/2026:04:36:22 +0000], formatted once per second of log time */
static const char *
accesslog_time(struct accesslog *al, int64_t t)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == al->time_cached_s && al->time_cached[0] != '\0')
		return al->time_cached;
	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	/* by hand, not strftime %b: the month names must not follow the locale */
	snprintf(al->time_cached, sizeof(al->time_cached), "[%02d/%s/%04d:%02d:%02d:%02d +0000]",
		 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
	al->time_cached_s = t;
	return al->time_cached;
}

/* Formats one combined-format line (newline included) into buf; returns its length. */
static size_t
accesslog_format(struct accesslog *al, const struct accesslog_rec *r, char *buf)
{
	char *p = buf;

	p += sprintf(p, "%u.%u.%u.%u - ", (r->client_ip >> 24) & 0xff, (r->client_ip >> 16) & 0xff,
		     (r->client_ip >> 8) & 0xff, r->client_ip & 0xff);
	p = accesslog_escape(p, r->user, sizeof(r->user), true);
	*p++ = ' ';
	p = stpcpy(p, accesslog_time(al, r->time_s));
	p = stpcpy(p, " \"");
	if (strnlen(r->target, sizeof(r->target)) == 0) {
		*p++ = '-';
	} else {
		p = stpcpy(p, accesslog_method(r->method));
		*p++ = ' ';
		p = accesslog_escape(p, r->target, sizeof(r->target), true);
		p += sprintf(p, " HTTP/1.%u", (unsigned int)r->version_minor);
	}
	p += sprintf(p, "\" %u %llu \"", (unsigned int)r->status, (unsigned long long)r->bytes);
	p = accesslog_escape(p, r->referer, sizeof(r->referer), false);
	p = stpcpy(p, "\" \"");
	p = accesslog_escape(p, r->agent, sizeof(r->agent), false);
	*p++ = '"';
	/* proxied: after the combined fields, which parsers of that format read first */
	if (r->upstream_ip != 0)
		p += sprintf(p, " upstream=%u.%u.%u.%u:%u upstream_status=%u",
			     (r->upstream_ip >> 24) & 0xff, (r->upstream_ip >> 16) & 0xff,
			     (r->upstream_ip >> 8) & 0xff, r->upstream_ip & 0xff,
			     (unsigned int)r->upstream_port, (unsigned int)r->upstream_status);
	*p++ = '\n';
	return (size_t)(p - buf);
}

static void
accesslog_write_error(struct accesslog *al, const char *what)
{
	if (!al->failing)
		AL_LOG(ERR, "%s %s: %s (records are dropped until it works again)", what, al->path,
		       strerror(errno));
	al->failing = true;
	clearerr(al->fp);
}

static void
accesslog_flush(struct accesslog *al)
{
	if (!al->dirty)
		return;
	al->dirty = false;
	if (fflush(al->fp) != 0)
		accesslog_write_error(al, "cannot write");
}

/* Writes up to max records of one ring; returns how many it took. */
static unsigned int
accesslog_drain_one(struct accesslog *al, struct rte_ring *r, unsigned int max)
{
	struct accesslog_rec recs[ACCESSLOG_BURST];
	char line[ACCESSLOG_LINE_MAX];
	unsigned int n, i, ok = 0;

	n = rte_ring_sc_dequeue_burst_elem(r, recs, sizeof(recs[0]),
					   RTE_MIN(max, (unsigned int)ACCESSLOG_BURST), NULL);
	for (i = 0; i < n; i++) {
		size_t len = accesslog_format(al, &recs[i], line);

		if (fwrite(line, 1, len, al->fp) != len) {
			accesslog_write_error(al, "cannot write");
			continue;
		}
		ok++;
	}
	if (ok > 0) {
		if (al->failing)
			AL_LOG(NOTICE, "writing %s again", al->path);
		al->failing = false;
		al->dirty = true;
	}
	__atomic_store_n(&al->written, al->written + ok, __ATOMIC_RELAXED);
	__atomic_store_n(&al->write_dropped, al->write_dropped + (n - ok), __ATOMIC_RELAXED);
	return n;
}

/* Adopts the file accesslog_reopen() opened, after writing what was queued before it. */
static void
accesslog_swap(struct accesslog *al, FILE *next)
{
	unsigned int i, left;

	for (i = 0; i < al->nb_producers; i++) {
		/* a snapshot: a busy producer must not keep the old file open forever */
		left = rte_ring_count(al->prod[i].ring);
		while (left > 0) {
			unsigned int n = accesslog_drain_one(al, al->prod[i].ring, left);

			if (n == 0)
				break;
			left -= n;
		}
	}
	accesslog_flush(al);
	fclose(al->fp);
	al->fp = next;
	al->failing = false;

	pthread_mutex_lock(&al->lock);
	al->pending = NULL;
	pthread_cond_broadcast(&al->swapped);
	pthread_mutex_unlock(&al->lock);
}

static void *
accesslog_writer(void *arg)
{
	struct accesslog *al = arg;
	const struct timespec idle = {.tv_sec = 0, .tv_nsec = ACCESSLOG_IDLE_SLEEP_NS};
	uint64_t last_flush = ag_mono_coarse_ns();

	for (;;) {
		/* read before the pass: an empty pass after seeing stop means everything is out */
		bool stop = __atomic_load_n(&al->stop, __ATOMIC_ACQUIRE);
		FILE *next = __atomic_load_n(&al->pending, __ATOMIC_ACQUIRE);
		unsigned int i, n = 0;
		uint64_t now;

		if (next != NULL)
			accesslog_swap(al, next);
		for (i = 0; i < al->nb_producers; i++)
			n += accesslog_drain_one(al, al->prod[i].ring, ACCESSLOG_BURST);

		now = ag_mono_coarse_ns();
		if (n == 0) {
			accesslog_flush(al);
			last_flush = now;
			if (stop)
				break;
			nanosleep(&idle, NULL);
		} else if (now - last_flush >= ACCESSLOG_FLUSH_NS) {
			accesslog_flush(al);
			last_flush = now;
		}
	}
	return NULL;
}

struct accesslog *
accesslog_create(const char *path, unsigned int nb_producers, unsigned int ring_size)
{
	struct accesslog *al;
	unsigned int seq, i;
	int err, rc;

	if (path == NULL || path[0] == '\0' || nb_producers == 0 || ring_size == 0 ||
	    ring_size > RTE_RING_SZ_MASK) {
		errno = EINVAL;
		return NULL;
	}
	al = calloc(1, sizeof(*al));
	if (al == NULL)
		return NULL;
	pthread_mutex_init(&al->lock, NULL);
	pthread_cond_init(&al->swapped, NULL);
	al->time_cached_s = -1;
	al->path = strdup(path);
	al->prod = aligned_alloc(RTE_CACHE_LINE_SIZE, nb_producers * sizeof(*al->prod));
	if (al->path == NULL || al->prod == NULL) {
		err = ENOMEM;
		goto fail;
	}
	memset(al->prod, 0, nb_producers * sizeof(*al->prod));
	al->nb_producers = nb_producers;

	al->fp = accesslog_open(path);
	if (al->fp == NULL) {
		err = errno;
		goto fail;
	}

	seq = __atomic_fetch_add(&accesslog_seq, 1, __ATOMIC_RELAXED);
	for (i = 0; i < nb_producers; i++) {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof(name), "aglog%u.%u", seq, i);
		/* EXACT_SZ: ring_size records fit, not the power of two below it */
		al->prod[i].ring = rte_ring_create_elem(
			name, sizeof(struct accesslog_rec), ring_size, SOCKET_ID_ANY,
			RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
		if (al->prod[i].ring == NULL) {
			err = rte_errno;
			AL_LOG(ERR, "cannot create ring %s (%u records): %s", name, ring_size,
			       rte_strerror(err));
			goto fail;
		}
	}

	rc = rte_ctrl_thread_create(&al->writer, "ag-accesslog", NULL, accesslog_writer, al);
	if (rc != 0) {
		err = rc < 0 ? -rc : rc;
		AL_LOG(ERR, "cannot start the writer thread: %s", strerror(err));
		goto fail;
	}
	al->writer_started = true;
	return al;

fail:
	accesslog_destroy(al);
	errno = err;
	return NULL;
}

int
accesslog_post(struct accesslog *al, unsigned int producer, const struct accesslog_rec *rec)
{
	struct accesslog_producer *p;

	if (unlikely(producer >= al->nb_producers))
		return -EINVAL;
	p = &al->prod[producer];
	if (unlikely(rte_ring_sp_enqueue_elem(p->ring, (void *)(uintptr_t)rec, sizeof(*rec)) !=
		     0)) {
		__atomic_store_n(&p->dropped, p->dropped + 1, __ATOMIC_RELAXED);
		return -ENOBUFS;
	}
	return 0;
}

void
accesslog_stats(const struct accesslog *al, uint64_t *written, uint64_t *dropped)
{
	uint64_t d = __atomic_load_n(&al->write_dropped, __ATOMIC_RELAXED);
	unsigned int i;

	for (i = 0; i < al->nb_producers; i++)
		d += __atomic_load_n(&al->prod[i].dropped, __ATOMIC_RELAXED);
	if (written != NULL)
		*written = __atomic_load_n(&al->written, __ATOMIC_RELAXED);
	if (dropped != NULL)
		*dropped = d;
}

int
accesslog_reopen(struct accesslog *al)
{
	FILE *next;

	next = accesslog_open(al->path);
	if (next == NULL)
		return -errno;
	pthread_mutex_lock(&al->lock);
	__atomic_store_n(&al->pending, next, __ATOMIC_RELEASE);
	while (al->pending != NULL)
		pthread_cond_wait(&al->swapped, &al->lock);
	pthread_mutex_unlock(&al->lock);
	AL_LOG(INFO, "reopened %s", al->path);
	return 0;
}

void
accesslog_destroy(struct accesslog *al)
{
	unsigned int i;

	if (al == NULL)
		return;
	if (al->writer_started) {
		__atomic_store_n(&al->stop, true, __ATOMIC_RELEASE);
		pthread_join(al->writer, NULL);
	}
	if (al->fp != NULL) {
		if (fclose(al->fp) != 0)
			AL_LOG(ERR, "cannot write %s: %s", al->path, strerror(errno));
		al->fp = NULL;
	}
	if (al->prod != NULL)
		for (i = 0; i < al->nb_producers; i++)
			rte_ring_free(al->prod[i].ring);
	free(al->prod);
	al->prod = NULL;
	pthread_cond_destroy(&al->swapped);
	pthread_mutex_destroy(&al->lock);
	free(al->path);
	al->path = NULL;
	free(al);
}
