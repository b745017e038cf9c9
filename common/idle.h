/* A consumer thread's idle sleep that producers on lcores wake only when it is asleep. */
#ifndef AG_COMMON_IDLE_H
#define AG_COMMON_IDLE_H

#include <limits.h>
#include <linux/futex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * A thread that drains rings naps while work may come soon, then sleeps here until a producer
 * posts. A producer pays one fence and one load per post, and a futex call only when someone
 * sleeps: a busy gateway posts with plain ring enqueues, an idle one has no wake-ups at all.
 * Zero-initialised is ready.
 */
struct ag_idle {
	uint32_t seq;	   /* futex word: bumped by a wake */
	uint32_t sleepers; /* threads in, or on their way into, the wait */
};

static inline void
ag_idle_futex(uint32_t *word, int op, uint32_t val, const struct timespec *timeout)
{
	syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, val, timeout, NULL, 0);
}

/*
 * Sleep until ag_idle_post() finds us, or timeout (relative, NULL: none). pending() is asked
 * after the announcement: a post whose enqueue it missed sees the announcement (both sides
 * fence) and wakes us; one after the sequence was read makes the wait return at once.
 */
static inline void
ag_idle_sleep(struct ag_idle *w, bool (*pending)(void *), void *arg, const struct timespec *timeout)
{
	uint32_t seq = __atomic_load_n(&w->seq, __ATOMIC_ACQUIRE);

	__atomic_add_fetch(&w->sleepers, 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!pending(arg))
		ag_idle_futex(&w->seq, FUTEX_WAIT, seq, timeout);
	__atomic_sub_fetch(&w->sleepers, 1, __ATOMIC_SEQ_CST);
}

/* Wake up to n sleepers now (n = INT_MAX: all, e.g. to stop). */
static inline void
ag_idle_wake(struct ag_idle *w, int n)
{
	__atomic_add_fetch(&w->seq, 1, __ATOMIC_RELEASE);
	ag_idle_futex(&w->seq, FUTEX_WAKE, (uint32_t)n, NULL);
}

/* After a producer's enqueue: wake one sleeper if there is one. */
static inline void
ag_idle_post(struct ag_idle *w)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&w->sleepers, __ATOMIC_RELAXED) > 0)
		ag_idle_wake(w, 1);
}

static inline uint32_t
ag_idle_sleepers(const struct ag_idle *w)
{
	return __atomic_load_n(&w->sleepers, __ATOMIC_RELAXED);
}

static inline uint32_t
ag_idle_wakes(const struct ag_idle *w)
{
	return __atomic_load_n(&w->seq, __ATOMIC_RELAXED);
}

#endif
