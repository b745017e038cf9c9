/* Per-trust MaxConcurrentApi semaphore: FIFO slots, deadlines, admission, Netlogon counters. */
#ifndef AG_CONTROL_SEMA_H
#define AG_CONTROL_SEMA_H

#include <stdint.h>

#define SEMA_SLOTS_MIN		1
#define SEMA_SLOTS_MAX		150
#define SEMA_SLOTS_DEFAULT	10
#define SEMA_TIMEOUT_DEFAULT_S	45 /* Netlogon's fixed wait */
#define SEMA_TIMEOUT_DEFAULT_NS (SEMA_TIMEOUT_DEFAULT_S * 1000000000ULL)
/* Netlogon summarises suppressed timeout/warning events every 30 minutes. */
#define SEMA_SUMMARY_DEFAULT_NS (30ULL * 60ULL * 1000000000ULL)
#define SEMA_WAIT_BUCKETS	16

struct sema;

/* Monotonic time in ns; injectable so deadline and admission tests are deterministic. */
typedef uint64_t (*sema_clock_fn)(void *arg);

enum sema_event_type {
	SEMA_EV_FIRST_TIMEOUT,	 /* Netlogon 5816: first timeout in a summary window */
	SEMA_EV_TIMEOUT_SUMMARY, /* Netlogon 5817: further timeouts counted in the window */
	SEMA_EV_SLOW_WAIT,	 /* Netlogon 5818: first wait over warning_threshold in a window */
	SEMA_EV_SLOW_SUMMARY,	 /* Netlogon 5819: further slow waits counted in the window */
};

struct sema_event {
	enum sema_event_type type;
	unsigned int netlogon_id; /* 5816..5819, for operators who grep for them */
	const char *trust;	  /* sema name, valid during the callback only */
	uint64_t count;		  /* 1 for FIRST/SLOW, suppressed events for summaries */
	uint64_t wait_ns;	  /* the wait that triggered FIRST/SLOW; 0 for summaries */
	uint64_t now_ns;
};

/* Called without the sema lock held, from whichever thread noticed the event. */
typedef void (*sema_event_fn)(const struct sema_event *ev, void *arg);

struct sema_config {
	const char *name;		 /* trust name, copied */
	unsigned int max_concurrent_api; /* 1..150; 0 means SEMA_SLOTS_DEFAULT */
	uint64_t timeout_ns;		 /* per-waiter deadline; 0 means 45 s */
	uint64_t warning_threshold_ns;	 /* waits above this raise SLOW events; 0 = off */
	uint64_t summary_interval_ns;	 /* 0 means 30 min */
	int admission;			 /* non-zero: reject when the predicted wait > timeout */
	sema_clock_fn clock;		 /* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
	sema_event_fn on_event; /* may be NULL */
	void *event_arg;
};

/* A granted slot; give it back to sema_release(). */
struct sema_hold {
	uint64_t granted_ns;
	uint64_t waited_ns;
};

/* Point-in-time copy of the counters; names follow the Netlogon performance object. */
struct sema_stats {
	uint64_t now_ns;
	uint32_t slots;
	uint32_t waiters;		       /* Semaphore Waiters (now) */
	uint32_t holders;		       /* Semaphore Holders (now) */
	uint64_t acquires;		       /* Semaphore Acquires (total) */
	uint64_t timeouts;		       /* Semaphore Timeouts (total) */
	uint64_t rejections;		       /* refused at once by admission control (total) */
	uint64_t releases;		       /* holds completed (total) */
	uint64_t total_hold_ns;		       /* sum over completed holds */
	uint64_t total_wait_ns;		       /* sum of the waits in wait_hist */
	double avg_hold_s;		       /* Average Semaphore Hold Time, seconds */
	uint64_t wait_hist[SEMA_WAIT_BUCKETS]; /* queue wait of granted acquires */
};

/* Upper bound of each wait_hist bucket in ns; the last is UINT64_MAX. */
extern const uint64_t sema_wait_bucket_ns[SEMA_WAIT_BUCKETS];

/*
 * Granted asynchronously: result 0 and *hold filled, or -ETIMEDOUT (hold NULL).
 * Called exactly once, without the lock, from the thread that released or expired.
 */
typedef void (*sema_grant_fn)(void *arg, int result, const struct sema_hold *hold);

/* NULL with errno set (EINVAL for a bad slot count, ENOMEM). */
struct sema *sema_create(const struct sema_config *cfg);
/* The caller guarantees no holders or waiters remain. */
void sema_destroy(struct sema *s);

/* Non-blocking: 0 with hold_out filled, -EBUSY when no slot is free or others queue. */
int sema_try_acquire(struct sema *s, struct sema_hold *hold_out);

/* Blocking: 0, -ETIMEDOUT after the deadline, -EAGAIN when admission rejects. */
int sema_acquire(struct sema *s, struct sema_hold *hold_out);

/*
 * Asynchronous: 0 when a slot was free (hold_out filled, fn never called);
 * -EINPROGRESS when queued (fn called later, *ticket_out names the wait for
 * sema_cancel); -EAGAIN when admission rejects; -ENOMEM.
 */
int sema_enqueue(struct sema *s, sema_grant_fn fn, void *arg, struct sema_hold *hold_out,
		 uint64_t *ticket_out);

/* Withdraw a queued asynchronous wait: 0, or -ENOENT when already granted/expired. */
int sema_cancel(struct sema *s, uint64_t ticket);

/*
 * Live change (a reload): slot count, deadline of waits from now on, warning threshold.
 * Waiters already queued keep their deadline. 0 or -EINVAL.
 */
int sema_reconfigure(struct sema *s, unsigned int slots, uint64_t timeout_ns, uint64_t warning_ns);

/* Give a slot back; hands it straight to the oldest live waiter (no barging). */
void sema_release(struct sema *s, const struct sema_hold *hold);

/*
 * Time out waiters whose deadline passed and flush due summary events.
 * Call it periodically (the worker pool does); returns the number timed out.
 */
unsigned int sema_poll(struct sema *s);

void sema_get_stats(struct sema *s, struct sema_stats *stats_out);

/* Queue wait in ns under which fraction p (0..1) of granted acquires fell (bucket bound). */
uint64_t sema_wait_percentile_ns(const struct sema_stats *st, double p);

/*
 * Microsoft's sizing: (Δacquires + Δtimeouts) × average hold time / interval, with
 * admission rejections counted as demand beside the timeouts,
 * average hold over the interval (falls back to the cumulative average when no
 * hold completed in it). Returns slots needed (not rounded), or -1.0 when the
 * snapshots are out of order.
 */
double sema_recommend(const struct sema_stats *before, const struct sema_stats *after);

const char *sema_event_type_str(enum sema_event_type t);

#endif
