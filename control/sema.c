/* Per-trust MaxConcurrentApi semaphore: a ticket queue handing slots over in strict FIFO order. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "common/mono.h"
#include "control/sema.h"

#define SEMA_NS_PER_S 1000000000ULL
/* Blocking waiters re-read an injected clock at least this often. */
#define SEMA_MAX_SLEEP_NS (200ULL * 1000000ULL)
/* Admission uses a moving average so a storm is judged by current hold times. */
#define SEMA_EWMA_SHIFT		3
#define SEMA_MAX_PENDING_EVENTS 8

const uint64_t sema_wait_bucket_ns[SEMA_WAIT_BUCKETS] = {
	100000ULL,	1000000ULL,	5000000ULL,	10000000ULL,   25000000ULL,   50000000ULL,
	100000000ULL,	250000000ULL,	500000000ULL,	1000000000ULL, 2500000000ULL, 5000000000ULL,
	10000000000ULL, 20000000000ULL, 45000000000ULL, UINT64_MAX,
};

enum sema_wstate {
	SEMA_W_QUEUED,	  /* in s->queue, waiting for a slot */
	SEMA_W_GRANTED,	  /* removed from the queue, owns a slot; hold is valid */
	SEMA_W_TIMED_OUT, /* removed from the queue, deadline passed, owns nothing */
};

struct sema_waiter {
	TAILQ_ENTRY(sema_waiter) link;
	uint64_t ticket;
	uint64_t enq_ns;
	uint64_t deadline_ns;
	enum sema_wstate state;
	struct sema_hold hold;
	pthread_cond_t *cond; /* blocking waiter on its caller's stack; NULL when async */
	sema_grant_fn fn;
	void *arg;
};

TAILQ_HEAD(sema_wlist, sema_waiter);

/* Events raised under the lock and delivered after it is dropped. */
struct sema_pending {
	struct sema_event ev[SEMA_MAX_PENDING_EVENTS];
	unsigned int n;
	struct sema_wlist done; /* async waiters whose callback is due */
};

struct sema {
	pthread_mutex_t lock;
	char name[64];
	uint32_t slots;
	uint64_t timeout_ns;
	uint64_t warning_ns;
	uint64_t summary_ns;
	int admission;
	sema_clock_fn clock;
	void *clock_arg;
	sema_event_fn on_event;
	void *event_arg;

	struct sema_wlist queue;
	uint32_t waiters;
	uint32_t holders;
	uint64_t next_ticket;

	uint64_t acquires;
	uint64_t timeouts;
	uint64_t rejections;
	uint64_t releases;
	uint64_t total_hold_ns;
	uint64_t ewma_hold_ns;
	uint64_t wait_hist[SEMA_WAIT_BUCKETS];
	uint64_t total_wait_ns;

	/* Netlogon-style suppression: one event per window, then a count. */
	uint64_t window_start_ns;
	int timeout_seen;
	uint64_t timeout_suppressed;
	int slow_seen;
	uint64_t slow_suppressed;
};

static uint64_t
sema_default_clock(void *arg)
{
	(void)arg;
	return ag_mono_ns();
}

const char *
sema_event_type_str(enum sema_event_type t)
{
	switch (t) {
	case SEMA_EV_FIRST_TIMEOUT:
		return "first-timeout";
	case SEMA_EV_TIMEOUT_SUMMARY:
		return "timeout-summary";
	case SEMA_EV_SLOW_WAIT:
		return "slow-wait";
	case SEMA_EV_SLOW_SUMMARY:
		return "slow-summary";
	}
	return "unknown";
}

struct sema *
sema_create(const struct sema_config *cfg)
{
	struct sema *s;
	unsigned int slots = cfg->max_concurrent_api ? cfg->max_concurrent_api : SEMA_SLOTS_DEFAULT;

	if (slots < SEMA_SLOTS_MIN || slots > SEMA_SLOTS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	if (cfg->name != NULL)
		strncpy(s->name, cfg->name, sizeof(s->name) - 1);
	s->slots = slots;
	s->timeout_ns = cfg->timeout_ns ? cfg->timeout_ns : SEMA_TIMEOUT_DEFAULT_NS;
	s->warning_ns = cfg->warning_threshold_ns;
	s->summary_ns =
		cfg->summary_interval_ns ? cfg->summary_interval_ns : SEMA_SUMMARY_DEFAULT_NS;
	s->admission = cfg->admission;
	s->clock = cfg->clock ? cfg->clock : sema_default_clock;
	s->clock_arg = cfg->clock_arg;
	s->on_event = cfg->on_event;
	s->event_arg = cfg->event_arg;
	TAILQ_INIT(&s->queue);
	s->next_ticket = 1;
	s->window_start_ns = s->clock(s->clock_arg);
	return s;
}

void
sema_destroy(struct sema *s)
{
	struct sema_waiter *w;

	if (s == NULL)
		return;
	/* Only asynchronous waiters can be left behind; blocking ones hold a caller. */
	while ((w = TAILQ_FIRST(&s->queue)) != NULL) {
		TAILQ_REMOVE(&s->queue, w, link);
		if (w->cond == NULL)
			free(w);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void
sema_pending_init(struct sema_pending *p)
{
	p->n = 0;
	TAILQ_INIT(&p->done);
}

static void
sema_emit(struct sema *s, struct sema_pending *p, enum sema_event_type type, uint64_t count,
	  uint64_t wait_ns, uint64_t now)
{
	static const unsigned int ids[] = {5816, 5817, 5818, 5819};
	struct sema_event *ev;

	if (s->on_event == NULL || p->n == SEMA_MAX_PENDING_EVENTS)
		return;
	ev = &p->ev[p->n++];
	ev->type = type;
	ev->netlogon_id = ids[type];
	ev->trust = s->name;
	ev->count = count;
	ev->wait_ns = wait_ns;
	ev->now_ns = now;
}

static void
sema_roll_window(struct sema *s, struct sema_pending *p, uint64_t now)
{
	if (now - s->window_start_ns < s->summary_ns)
		return;
	if (s->timeout_suppressed > 0)
		sema_emit(s, p, SEMA_EV_TIMEOUT_SUMMARY, s->timeout_suppressed, 0, now);
	if (s->slow_suppressed > 0)
		sema_emit(s, p, SEMA_EV_SLOW_SUMMARY, s->slow_suppressed, 0, now);
	s->timeout_seen = 0;
	s->timeout_suppressed = 0;
	s->slow_seen = 0;
	s->slow_suppressed = 0;
	s->window_start_ns = now;
}

static void
sema_hist_add(struct sema *s, uint64_t wait_ns)
{
	unsigned int i;

	for (i = 0; i < SEMA_WAIT_BUCKETS - 1; i++)
		if (wait_ns <= sema_wait_bucket_ns[i])
			break;
	s->wait_hist[i]++;
	s->total_wait_ns += wait_ns;
}

/* Finish a waiter already removed from the queue; blocking ones are woken, async ones queued. */
static void
sema_finish(struct sema *s, struct sema_waiter *w, struct sema_pending *p)
{
	(void)s;
	if (w->cond != NULL)
		pthread_cond_signal(w->cond);
	else
		TAILQ_INSERT_TAIL(&p->done, w, link);
}

static void
sema_grant_locked(struct sema *s, struct sema_waiter *w, struct sema_pending *p, uint64_t now)
{
	uint64_t waited = now - w->enq_ns;

	s->holders++;
	s->acquires++;
	sema_hist_add(s, waited);
	w->hold.granted_ns = now;
	w->hold.waited_ns = waited;
	w->state = SEMA_W_GRANTED;
	if (s->warning_ns != 0 && waited > s->warning_ns) {
		if (!s->slow_seen) {
			s->slow_seen = 1;
			sema_emit(s, p, SEMA_EV_SLOW_WAIT, 1, waited, now);
		} else {
			s->slow_suppressed++;
		}
	}
	sema_finish(s, w, p);
}

static void
sema_timeout_locked(struct sema *s, struct sema_waiter *w, struct sema_pending *p, uint64_t now)
{
	s->timeouts++;
	w->state = SEMA_W_TIMED_OUT;
	if (!s->timeout_seen) {
		s->timeout_seen = 1;
		sema_emit(s, p, SEMA_EV_FIRST_TIMEOUT, 1, now - w->enq_ns, now);
	} else {
		s->timeout_suppressed++;
	}
	sema_finish(s, w, p);
}

/* Hand free slots to the oldest waiters; expired ones at the head are timed out instead. */
static void
sema_hand_over_locked(struct sema *s, struct sema_pending *p, uint64_t now)
{
	struct sema_waiter *w;

	while (s->holders < s->slots && (w = TAILQ_FIRST(&s->queue)) != NULL) {
		TAILQ_REMOVE(&s->queue, w, link);
		s->waiters--;
		if (now >= w->deadline_ns)
			sema_timeout_locked(s, w, p, now);
		else
			sema_grant_locked(s, w, p, now);
	}
}

static void
sema_deliver(struct sema *s, struct sema_pending *p)
{
	struct sema_waiter *w;
	unsigned int i;

	for (i = 0; i < p->n; i++)
		s->on_event(&p->ev[i], s->event_arg);
	while ((w = TAILQ_FIRST(&p->done)) != NULL) {
		TAILQ_REMOVE(&p->done, w, link);
		if (w->fn == NULL)
			; /* a caller that only polls the counters */
		else if (w->state == SEMA_W_GRANTED)
			w->fn(w->arg, 0, &w->hold);
		else
			w->fn(w->arg, -ETIMEDOUT, NULL);
		free(w);
	}
}

/* Little's law on the queue ahead of a newcomer: would it outlive its deadline? */
static int
sema_admission_rejects_locked(const struct sema *s)
{
	long double predicted;

	if (!s->admission || s->waiters == 0 || s->ewma_hold_ns == 0)
		return 0;
	predicted = (long double)s->waiters * (long double)s->ewma_hold_ns / s->slots;
	return predicted > (long double)s->timeout_ns;
}

static int
sema_take_free_locked(struct sema *s, struct sema_hold *hold_out, uint64_t now)
{
	if (s->holders >= s->slots || !TAILQ_EMPTY(&s->queue))
		return -EBUSY;
	s->holders++;
	s->acquires++;
	sema_hist_add(s, 0);
	hold_out->granted_ns = now;
	hold_out->waited_ns = 0;
	return 0;
}

int
sema_try_acquire(struct sema *s, struct sema_hold *hold_out)
{
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = sema_take_free_locked(s, hold_out, s->clock(s->clock_arg));
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int
sema_acquire(struct sema *s, struct sema_hold *hold_out)
{
	struct sema_pending p;
	struct sema_waiter w;
	pthread_condattr_t attr;
	pthread_cond_t cond;
	uint64_t now;
	int ret;

	sema_pending_init(&p);
	pthread_mutex_lock(&s->lock);
	now = s->clock(s->clock_arg);
	sema_roll_window(s, &p, now);
	ret = sema_take_free_locked(s, hold_out, now);
	if (ret == 0)
		goto unlock;
	if (sema_admission_rejects_locked(s)) {
		s->rejections++;
		ret = -EAGAIN;
		goto unlock;
	}

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&cond, &attr);
	pthread_condattr_destroy(&attr);
	memset(&w, 0, sizeof(w));
	w.ticket = s->next_ticket++;
	w.enq_ns = now;
	w.deadline_ns = now + s->timeout_ns;
	w.state = SEMA_W_QUEUED;
	w.cond = &cond;
	TAILQ_INSERT_TAIL(&s->queue, &w, link);
	s->waiters++;

	while (w.state == SEMA_W_QUEUED) {
		struct timespec ts;
		uint64_t sleep_ns, abs_ns;

		now = s->clock(s->clock_arg);
		if (now >= w.deadline_ns) {
			TAILQ_REMOVE(&s->queue, &w, link);
			s->waiters--;
			w.cond = NULL; /* nobody to wake; keep it off p.done below */
			s->timeouts++;
			w.state = SEMA_W_TIMED_OUT;
			if (!s->timeout_seen) {
				s->timeout_seen = 1;
				sema_emit(s, &p, SEMA_EV_FIRST_TIMEOUT, 1, now - w.enq_ns, now);
			} else {
				s->timeout_suppressed++;
			}
			break;
		}
		sleep_ns = w.deadline_ns - now;
		if (sleep_ns > SEMA_MAX_SLEEP_NS)
			sleep_ns = SEMA_MAX_SLEEP_NS;
		abs_ns = sema_default_clock(NULL) + sleep_ns;
		ts.tv_sec = (time_t)(abs_ns / SEMA_NS_PER_S);
		ts.tv_nsec = (long)(abs_ns % SEMA_NS_PER_S);
		pthread_cond_timedwait(&cond, &s->lock, &ts);
	}
	pthread_cond_destroy(&cond);
	if (w.state == SEMA_W_GRANTED) {
		*hold_out = w.hold;
		ret = 0;
	} else {
		ret = -ETIMEDOUT;
	}
unlock:
	pthread_mutex_unlock(&s->lock);
	sema_deliver(s, &p);
	return ret;
}

int
sema_enqueue(struct sema *s, sema_grant_fn fn, void *arg, struct sema_hold *hold_out,
	     uint64_t *ticket_out)
{
	struct sema_pending p;
	struct sema_waiter *w;
	uint64_t now;
	int ret;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	sema_pending_init(&p);
	pthread_mutex_lock(&s->lock);
	now = s->clock(s->clock_arg);
	sema_roll_window(s, &p, now);
	ret = sema_take_free_locked(s, hold_out, now);
	if (ret == 0)
		goto unlock;
	if (sema_admission_rejects_locked(s)) {
		s->rejections++;
		ret = -EAGAIN;
		goto unlock;
	}
	w->ticket = s->next_ticket++;
	w->enq_ns = now;
	w->deadline_ns = now + s->timeout_ns;
	w->state = SEMA_W_QUEUED;
	w->fn = fn;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&s->queue, w, link);
	s->waiters++;
	if (ticket_out != NULL)
		*ticket_out = w->ticket;
	w = NULL; /* owned by the queue now */
	ret = -EINPROGRESS;
unlock:
	pthread_mutex_unlock(&s->lock);
	sema_deliver(s, &p);
	free(w);
	return ret;
}

int
sema_cancel(struct sema *s, uint64_t ticket)
{
	struct sema_waiter *w;

	pthread_mutex_lock(&s->lock);
	TAILQ_FOREACH(w, &s->queue, link)
	{
		if (w->ticket == ticket && w->cond == NULL)
			break;
	}
	if (w != NULL) {
		TAILQ_REMOVE(&s->queue, w, link);
		s->waiters--;
	}
	pthread_mutex_unlock(&s->lock);
	if (w == NULL)
		return -ENOENT;
	free(w);
	return 0;
}

void
sema_release(struct sema *s, const struct sema_hold *hold)
{
	struct sema_pending p;
	uint64_t now, held;

	sema_pending_init(&p);
	pthread_mutex_lock(&s->lock);
	now = s->clock(s->clock_arg);
	held = now > hold->granted_ns ? now - hold->granted_ns : 0;
	if (s->holders > 0)
		s->holders--;
	s->releases++;
	s->total_hold_ns += held;
	if (s->ewma_hold_ns == 0)
		s->ewma_hold_ns = held;
	else
		s->ewma_hold_ns = s->ewma_hold_ns - (s->ewma_hold_ns >> SEMA_EWMA_SHIFT) +
				  (held >> SEMA_EWMA_SHIFT);
	sema_roll_window(s, &p, now);
	sema_hand_over_locked(s, &p, now);
	pthread_mutex_unlock(&s->lock);
	sema_deliver(s, &p);
}

int
sema_reconfigure(struct sema *s, unsigned int slots, uint64_t timeout_ns, uint64_t warning_ns)
{
	struct sema_pending p;

	if (slots < SEMA_SLOTS_MIN || slots > SEMA_SLOTS_MAX || timeout_ns == 0)
		return -EINVAL;
	sema_pending_init(&p);
	pthread_mutex_lock(&s->lock);
	/* fewer slots: holders above the new count finish as they would; no one new gets in */
	s->slots = slots;
	s->timeout_ns = timeout_ns;
	s->warning_ns = warning_ns;
	/* more slots: the oldest waiters get them now */
	sema_hand_over_locked(s, &p, s->clock(s->clock_arg));
	pthread_mutex_unlock(&s->lock);
	sema_deliver(s, &p);
	return 0;
}

unsigned int
sema_poll(struct sema *s)
{
	struct sema_pending p;
	struct sema_waiter *w, *next;
	unsigned int expired = 0;
	uint64_t now;

	sema_pending_init(&p);
	pthread_mutex_lock(&s->lock);
	now = s->clock(s->clock_arg);
	sema_roll_window(s, &p, now);
	for (w = TAILQ_FIRST(&s->queue); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (now < w->deadline_ns)
			continue;
		TAILQ_REMOVE(&s->queue, w, link);
		s->waiters--;
		sema_timeout_locked(s, w, &p, now);
		expired++;
	}
	pthread_mutex_unlock(&s->lock);
	sema_deliver(s, &p);
	return expired;
}

void
sema_get_stats(struct sema *s, struct sema_stats *stats_out)
{
	struct sema_stats st;

	pthread_mutex_lock(&s->lock);
	st.now_ns = s->clock(s->clock_arg);
	st.slots = s->slots;
	st.waiters = s->waiters;
	st.holders = s->holders;
	st.acquires = s->acquires;
	st.timeouts = s->timeouts;
	st.rejections = s->rejections;
	st.releases = s->releases;
	st.total_hold_ns = s->total_hold_ns;
	st.total_wait_ns = s->total_wait_ns;
	memcpy(st.wait_hist, s->wait_hist, sizeof(st.wait_hist));
	pthread_mutex_unlock(&s->lock);
	st.avg_hold_s = st.releases ? (double)st.total_hold_ns / st.releases / 1e9 : 0.0;
	*stats_out = st;
}

uint64_t
sema_wait_percentile_ns(const struct sema_stats *st, double p)
{
	uint64_t total = 0, seen = 0, target;
	unsigned int i;

	for (i = 0; i < SEMA_WAIT_BUCKETS; i++)
		total += st->wait_hist[i];
	if (total == 0)
		return 0;
	if (p <= 0.0)
		p = 0.0;
	if (p > 1.0)
		p = 1.0;
	target = (uint64_t)(p * (double)total + 0.999999);
	if (target == 0)
		target = 1;
	for (i = 0; i < SEMA_WAIT_BUCKETS; i++) {
		seen += st->wait_hist[i];
		if (seen >= target)
			return sema_wait_bucket_ns[i];
	}
	return sema_wait_bucket_ns[SEMA_WAIT_BUCKETS - 1];
}

double
sema_recommend(const struct sema_stats *before, const struct sema_stats *after)
{
	uint64_t d_rel;
	double interval_s, avg_hold_s;

	if (after->now_ns <= before->now_ns || after->acquires < before->acquires ||
	    after->timeouts < before->timeouts || after->releases < before->releases ||
	    after->rejections < before->rejections)
		return -1.0;
	interval_s = (double)(after->now_ns - before->now_ns) / 1e9;
	d_rel = after->releases - before->releases;
	if (d_rel > 0)
		avg_hold_s = (double)(after->total_hold_ns - before->total_hold_ns) / d_rel / 1e9;
	else
		avg_hold_s = after->avg_hold_s;
	/* a rejection is a call admission control turned away: demand all the same */
	return (double)((after->acquires - before->acquires) +
			(after->timeouts - before->timeouts) +
			(after->rejections - before->rejections)) *
	       avg_hold_s / interval_s;
}
