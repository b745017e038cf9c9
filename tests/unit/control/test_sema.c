/* Unit tests for the per-trust semaphore: order, deadlines, admission, counters, events. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "control/sema.h"

#define NS(s) ((uint64_t)(s)*1000000000ULL)

static _Atomic uint64_t fake_now;

static uint64_t
fake_clock(void *arg)
{
	(void)arg;
	return atomic_load(&fake_now);
}

static struct sema_event events[32];
static unsigned int nevents;

static void
record_event(const struct sema_event *ev, void *arg)
{
	(void)arg;
	if (nevents < 32)
		events[nevents++] = *ev;
}

static struct sema *
make_sema(unsigned int slots, uint64_t timeout_ns, int admission)
{
	struct sema_config cfg = {
		.name = "AUTHGATE.TEST",
		.max_concurrent_api = slots,
		.timeout_ns = timeout_ns,
		.admission = admission,
		.clock = fake_clock,
		.warning_threshold_ns = NS(1),
		.summary_interval_ns = NS(60),
		.on_event = record_event,
	};

	atomic_store(&fake_now, NS(1000));
	nevents = 0;
	return sema_create(&cfg);
}

static void
wait_for_waiters(struct sema *s, uint32_t n)
{
	struct sema_stats st;

	for (;;) {
		sema_get_stats(s, &st);
		if (st.waiters == n)
			return;
		sched_yield();
	}
}

static void
test_create_limits(void **state)
{
	struct sema_config cfg = {.max_concurrent_api = 151};
	struct sema_stats st;
	struct sema *s;

	(void)state;
	errno = 0;
	assert_null(sema_create(&cfg));
	assert_int_equal(errno, EINVAL);
	cfg.max_concurrent_api = 0;
	s = sema_create(&cfg);
	assert_non_null(s);
	sema_get_stats(s, &st);
	assert_int_equal(st.slots, 10);
	sema_destroy(s);
	cfg.max_concurrent_api = 150;
	s = sema_create(&cfg);
	assert_non_null(s);
	sema_destroy(s);
}

/* Threads queue in a known order; with one slot they must be served in that order. */
#define FIFO_THREADS 8
static struct sema *fifo_sema;
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static int order[FIFO_THREADS];
static int norder;

static void *
fifo_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	struct sema_hold h;

	if (sema_acquire(fifo_sema, &h) != 0)
		return (void *)1;
	pthread_mutex_lock(&order_lock);
	order[norder++] = id;
	pthread_mutex_unlock(&order_lock);
	sema_release(fifo_sema, &h);
	return NULL;
}

static void
test_fifo_threads(void **state)
{
	struct sema_config cfg = {.name = "fifo", .max_concurrent_api = 1};
	pthread_t th[FIFO_THREADS];
	struct sema_hold h;
	struct sema_stats st;
	void *rv;
	int i;

	(void)state;
	fifo_sema = sema_create(&cfg);
	assert_non_null(fifo_sema);
	assert_int_equal(sema_try_acquire(fifo_sema, &h), 0);
	for (i = 0; i < FIFO_THREADS; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, fifo_thread, (void *)(intptr_t)i), 0);
		wait_for_waiters(fifo_sema, (uint32_t)i + 1);
	}
	sema_release(fifo_sema, &h);
	for (i = 0; i < FIFO_THREADS; i++) {
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	assert_int_equal(norder, FIFO_THREADS);
	for (i = 0; i < FIFO_THREADS; i++)
		assert_int_equal(order[i], i);
	sema_get_stats(fifo_sema, &st);
	assert_int_equal(st.acquires, FIFO_THREADS + 1);
	assert_int_equal(st.holders, 0);
	assert_int_equal(st.waiters, 0);
	sema_destroy(fifo_sema);
}

/* A free slot is refused to a newcomer while others wait: no barging past the queue. */
static void
test_try_acquire_no_barging(void **state)
{
	struct sema *s = make_sema(1, NS(45), 0);
	struct sema_hold h1, h2;
	uint64_t ticket;

	(void)state;
	assert_int_equal(sema_try_acquire(s, &h1), 0);
	assert_int_equal(sema_try_acquire(s, &h2), -EBUSY);
	assert_int_equal(sema_enqueue(s, NULL, NULL, &h2, &ticket), -EINPROGRESS);
	assert_int_equal(sema_cancel(s, ticket), 0);
	assert_int_equal(sema_cancel(s, ticket), -ENOENT);
	sema_release(s, &h1);
	assert_int_equal(sema_try_acquire(s, &h2), 0);
	sema_release(s, &h2);
	sema_destroy(s);
}

static struct sema *blocking_sema;

static void *
blocking_thread(void *arg)
{
	struct sema_hold h;

	(void)arg;
	return (void *)(intptr_t)sema_acquire(blocking_sema, &h);
}

static void
test_blocking_deadline(void **state)
{
	struct sema_hold h;
	struct sema_stats st;
	pthread_t th;
	void *rv;

	(void)state;
	blocking_sema = make_sema(1, NS(45), 0);
	assert_int_equal(sema_try_acquire(blocking_sema, &h), 0);
	assert_int_equal(pthread_create(&th, NULL, blocking_thread, NULL), 0);
	wait_for_waiters(blocking_sema, 1);
	atomic_fetch_add(&fake_now, NS(44));
	assert_int_equal(sema_poll(blocking_sema), 0);
	atomic_fetch_add(&fake_now, NS(2));
	assert_int_equal(sema_poll(blocking_sema), 1);
	pthread_join(th, &rv);
	assert_int_equal((int)(intptr_t)rv, -ETIMEDOUT);
	sema_get_stats(blocking_sema, &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.waiters, 0);
	assert_int_equal(st.holders, 1);
	assert_int_equal(nevents, 1);
	assert_int_equal(events[0].netlogon_id, 5816);
	assert_int_equal(events[0].type, SEMA_EV_FIRST_TIMEOUT);
	assert_int_equal(events[0].wait_ns, NS(46));
	assert_string_equal(sema_event_type_str(events[0].type), "first-timeout");
	sema_release(blocking_sema, &h);
	sema_destroy(blocking_sema);
}

struct grant_log {
	int n;
	int who[16];
	int result[16];
	uint64_t waited[16];
};

static struct grant_log glog;

static void
on_grant(void *arg, int result, const struct sema_hold *hold)
{
	int i = glog.n++;

	glog.who[i] = (int)(intptr_t)arg;
	glog.result[i] = result;
	glog.waited[i] = hold ? hold->waited_ns : 0;
}

static void
test_async_order_and_expiry(void **state)
{
	struct sema *s = make_sema(2, NS(45), 0);
	struct sema_hold a, b, h;
	struct sema_stats st;
	int i;

	(void)state;
	memset(&glog, 0, sizeof(glog));
	assert_int_equal(sema_enqueue(s, on_grant, (void *)0, &a, NULL), 0);
	assert_int_equal(sema_enqueue(s, on_grant, (void *)0, &b, NULL), 0);
	/* waiter 1 queued at t, waiters 2..4 at t+30 s */
	assert_int_equal(sema_enqueue(s, on_grant, (void *)1, &h, NULL), -EINPROGRESS);
	atomic_fetch_add(&fake_now, NS(30));
	for (i = 2; i <= 4; i++)
		assert_int_equal(sema_enqueue(s, on_grant, (void *)(intptr_t)i, &h, NULL),
				 -EINPROGRESS);
	atomic_fetch_add(&fake_now, NS(20));
	/* waiter 1 is past its deadline: the freed slot goes to waiter 2 */
	sema_release(s, &a);
	assert_int_equal(glog.n, 2);
	assert_int_equal(glog.who[0], 1);
	assert_int_equal(glog.result[0], -ETIMEDOUT);
	assert_int_equal(glog.who[1], 2);
	assert_int_equal(glog.result[1], 0);
	assert_int_equal(glog.waited[1], NS(20));
	sema_release(s, &b);
	assert_int_equal(glog.n, 3);
	assert_int_equal(glog.who[2], 3);
	atomic_fetch_add(&fake_now, NS(30));
	assert_int_equal(sema_poll(s), 1);
	assert_int_equal(glog.n, 4);
	assert_int_equal(glog.who[3], 4);
	assert_int_equal(glog.result[3], -ETIMEDOUT);
	sema_get_stats(s, &st);
	assert_int_equal(st.acquires, 4);
	assert_int_equal(st.timeouts, 2);
	assert_int_equal(st.holders, 2);
	assert_int_equal(st.waiters, 0);
	sema_destroy(s);
}

static void
hold_for(struct sema *s, uint64_t ns)
{
	struct sema_hold h;

	assert_int_equal(sema_try_acquire(s, &h), 0);
	atomic_fetch_add(&fake_now, ns);
	sema_release(s, &h);
}

static void
test_admission_rejects(void **state)
{
	struct sema *s = make_sema(2, NS(10), 1);
	struct sema_hold a, b, h;
	struct sema_stats st;
	int i;

	(void)state;
	hold_for(s, NS(4));
	assert_int_equal(sema_try_acquire(s, &a), 0);
	assert_int_equal(sema_try_acquire(s, &b), 0);
	/* predicted wait = waiters x 4 s / 2 slots; 5 waiters predict 10 s, still within */
	for (i = 0; i < 6; i++)
		assert_int_equal(sema_enqueue(s, NULL, NULL, &h, NULL), -EINPROGRESS);
	assert_int_equal(sema_enqueue(s, NULL, NULL, &h, NULL), -EAGAIN);
	assert_int_equal(sema_acquire(s, &h), -EAGAIN);
	sema_get_stats(s, &st);
	assert_int_equal(st.rejections, 2);
	assert_int_equal(st.waiters, 6);
	sema_destroy(s);

	/* the same queue without admission control is accepted */
	s = make_sema(2, NS(10), 0);
	hold_for(s, NS(4));
	assert_int_equal(sema_try_acquire(s, &a), 0);
	assert_int_equal(sema_try_acquire(s, &b), 0);
	for (i = 0; i < 7; i++)
		assert_int_equal(sema_enqueue(s, NULL, NULL, &h, NULL), -EINPROGRESS);
	sema_destroy(s);
}

static void
test_counters_and_hold_time(void **state)
{
	struct sema *s = make_sema(3, NS(45), 0);
	struct sema_stats st;
	struct sema_hold h;

	(void)state;
	hold_for(s, NS(2));
	hold_for(s, NS(4));
	assert_int_equal(sema_try_acquire(s, &h), 0);
	sema_get_stats(s, &st);
	assert_int_equal(st.acquires, 3);
	assert_int_equal(st.releases, 2);
	assert_int_equal(st.holders, 1);
	assert_int_equal(st.waiters, 0);
	assert_int_equal(st.timeouts, 0);
	assert_true(st.avg_hold_s > 2.999 && st.avg_hold_s < 3.001);
	sema_release(s, &h);
	sema_destroy(s);
}

static void
test_recommend_formula(void **state)
{
	struct sema_stats before, after;

	(void)state;
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	/* 1200 acquires + 300 timeouts in 60 s, 0.5 s average hold: 12.5 slots busy */
	before.now_ns = NS(100);
	before.acquires = 40;
	before.timeouts = 5;
	before.releases = 40;
	before.total_hold_ns = NS(80);
	after.now_ns = NS(160);
	after.acquires = 1240;
	after.timeouts = 305;
	after.releases = 1240;
	after.total_hold_ns = NS(80) + 1200 * 500000000ULL;
	assert_true(sema_recommend(&before, &after) > 12.4999);
	assert_true(sema_recommend(&before, &after) < 12.5001);
	/* no hold completed in the interval: use the cumulative average */
	after.releases = before.releases;
	after.total_hold_ns = before.total_hold_ns;
	after.avg_hold_s = 2.0;
	assert_true(sema_recommend(&before, &after) > 49.999);
	assert_true(sema_recommend(&before, &after) < 50.001);
	assert_true(sema_recommend(&after, &before) < 0.0);
	/* admission rejections are demand the slots did not meet: 300 more, 15 slots */
	after.releases = 1240;
	after.total_hold_ns = NS(80) + 1200 * 500000000ULL;
	after.rejections = 300;
	assert_true(sema_recommend(&before, &after) > 14.9999);
	assert_true(sema_recommend(&before, &after) < 15.0001);
}

static void
test_events_summary(void **state)
{
	struct sema *s = make_sema(1, NS(10), 0);
	struct sema_hold h, g;
	int i;

	(void)state;
	memset(&glog, 0, sizeof(glog));
	assert_int_equal(sema_try_acquire(s, &h), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(sema_enqueue(s, on_grant, (void *)(intptr_t)i, &g, NULL),
				 -EINPROGRESS);
	atomic_fetch_add(&fake_now, NS(11));
	assert_int_equal(sema_poll(s), 3);
	assert_int_equal(nevents, 1);
	assert_int_equal(events[0].netlogon_id, 5816);
	/* two slow waits (over the 1 s warning threshold): one 5818, one suppressed */
	for (i = 0; i < 2; i++)
		assert_int_equal(sema_enqueue(s, on_grant, (void *)(intptr_t)i, &g, NULL),
				 -EINPROGRESS);
	atomic_fetch_add(&fake_now, NS(2));
	sema_release(s, &h);
	assert_int_equal(nevents, 2);
	assert_int_equal(events[1].netlogon_id, 5818);
	assert_int_equal(events[1].wait_ns, NS(2));
	assert_int_equal(glog.n, 4);
	sema_release(s, &h);
	assert_int_equal(nevents, 2);
	assert_int_equal(glog.n, 5);
	/* the 60 s window ends: summaries of what was suppressed */
	atomic_fetch_add(&fake_now, NS(60));
	sema_poll(s);
	assert_int_equal(nevents, 4);
	assert_int_equal(events[2].netlogon_id, 5817);
	assert_int_equal(events[2].count, 2);
	assert_int_equal(events[3].netlogon_id, 5819);
	assert_int_equal(events[3].count, 1);
	sema_release(s, &h);
	sema_destroy(s);
}

static void
test_wait_percentiles(void **state)
{
	struct sema *s = make_sema(1, NS(45), 0);
	struct sema_stats st;
	struct sema_hold h, g;
	int i;

	(void)state;
	/* 9 immediate grants and one that waited 3 s */
	for (i = 0; i < 9; i++)
		hold_for(s, 1000);
	assert_int_equal(sema_try_acquire(s, &h), 0);
	assert_int_equal(sema_enqueue(s, NULL, NULL, &g, NULL), -EINPROGRESS);
	atomic_fetch_add(&fake_now, NS(3));
	memset(&glog, 0, sizeof(glog));
	sema_release(s, &h);
	sema_get_stats(s, &st);
	assert_int_equal(st.acquires, 11);
	assert_int_equal(sema_wait_percentile_ns(&st, 0.5), 100000ULL);
	assert_int_equal(sema_wait_percentile_ns(&st, 0.99), NS(5));
	sema_destroy(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_limits),
		cmocka_unit_test(test_fifo_threads),
		cmocka_unit_test(test_try_acquire_no_barging),
		cmocka_unit_test(test_blocking_deadline),
		cmocka_unit_test(test_async_order_and_expiry),
		cmocka_unit_test(test_admission_rejects),
		cmocka_unit_test(test_counters_and_hold_time),
		cmocka_unit_test(test_recommend_formula),
		cmocka_unit_test(test_events_summary),
		cmocka_unit_test(test_wait_percentiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
