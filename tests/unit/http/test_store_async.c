/* Unit tests for the store's misses on resolver threads: parking, coalescing, 503, confinement. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/http/http.h"
#include "dataplane/http/resolver.h"
#include "dataplane/http/store.h"

static char tmpdir[256];
static struct site_conf sites[1];

/*
 * The resolver's test hook: a lookup whose path contains "slow" waits until the test opens
 * the gate, as a file on a stalled disk would (this kernel has no FUSE to make one).
 */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static unsigned slow_waiting;

static void
slow_hook(const char *path, void *arg)
{
	(void)arg;
	if (strstr(path, "slow") == NULL)
		return;
	pthread_mutex_lock(&gate_mu);
	slow_waiting++;
	pthread_cond_broadcast(&gate_cv);
	while (!gate_open)
		pthread_cond_wait(&gate_cv, &gate_mu);
	slow_waiting--;
	pthread_mutex_unlock(&gate_mu);
}

static void
gate_set(bool open)
{
	pthread_mutex_lock(&gate_mu);
	gate_open = open;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

/* Until n lookups sit in the hook (bounded: 10 s). */
static void
wait_slow(unsigned n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&gate_mu);
	while (slow_waiting < n)
		if (pthread_cond_timedwait(&gate_cv, &gate_mu, &ts) != 0)
			break;
	assert_true(slow_waiting >= n);
	pthread_mutex_unlock(&gate_mu);
}

static void
write_file(const char *rel, const char *data)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
	f = fopen(p, "wb");
	assert_non_null(f);
	fputs(data, f);
	fclose(f);
}

static int
setup(void **state)
{
	char p[512];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/authgate-async-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(p, sizeof(p), "%s/pkg", tmpdir);
	mkdir(p, 0755);
	/* a sibling whose name starts like the root's: the prefix check must not let it in */
	snprintf(p, sizeof(p), "%s/pkg2", tmpdir);
	mkdir(p, 0755);
	write_file("pkg/a.txt", "alpha");
	write_file("pkg/b.txt", "bravo");
	write_file("pkg/slow.bin", "slowly");
	write_file("pkg/slow2.bin", "slower");
	write_file("pkg2/secret", "secret");
	write_file("secret", "secret");
	snprintf(sites[0].root, sizeof(sites[0].root), "%.*s/pkg", (int)sizeof(sites[0].root) - 5,
		 tmpdir);
	strcpy(sites[0].prefix, "/pkg");
	gate_set(false);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint64_t fake_ns = 1000000000ull;

static uint64_t
fake_now(void)
{
	return fake_ns;
}

struct rig {
	struct resolver *r;
	struct store_lane *lane;
	struct store *st;
};

static void
rig_up(struct rig *g, unsigned threads, unsigned queue, uint64_t revalidate_ns)
{
	struct resolver_conf rc = {
		.threads = threads,
		.lanes = 1,
		.queue = queue,
		.before = slow_hook,
	};
	struct store_conf sc = {
		.sites = sites,
		.nsites = 1,
		.revalidate_ns = revalidate_ns,
		.now_ns = fake_now,
	};

	g->r = resolver_create(&rc);
	assert_non_null(g->r);
	g->lane = store_lane_create(g->r, 0, queue);
	assert_non_null(g->lane);
	g->st = store_create(&sc);
	assert_non_null(g->st);
	store_attach(g->st, g->lane);
}

/* The lcore's order: the store and lane go with the lcore, the threads after. */
static void
rig_down(struct rig *g)
{
	store_destroy(g->st);
	store_lane_destroy(g->lane);
	resolver_destroy(g->r);
}

/* What the lcore would do: poll until n outcomes came (bounded: 10 s). */
static unsigned
poll_for(struct rig *g, struct store_done *out, unsigned n)
{
	unsigned got = 0;

	for (int i = 0; i < 100000 && got < n; i++) {
		got += store_lane_poll(g->lane, g->st, out + got, n - got);
		if (got < n)
			usleep(100);
	}
	return got;
}

static int
open_parked(struct rig *g, const char *path, uint64_t id, uint32_t seq, struct store_file **f)
{
	store_park_as(g->st, id, seq);
	return store_open(g->st, path, strlen(path), f);
}

/*
 * A miss parks instead of blocking; its outcome comes back named for the request, is
 * installed, and the request run again finds it; the next request hits without parking.
 */
static void
test_miss_parks_then_hits(void **state)
{
	struct rig g;
	struct store_done d;
	struct store_file *f = NULL, *f2 = NULL;
	const struct store_lane_stats *ls;

	(void)state;
	rig_up(&g, 1, 16, 1000000000ull);
	assert_int_equal(open_parked(&g, "/pkg/a.txt", 7, 1, &f), -EINPROGRESS);
	assert_int_equal(store_cached(g.st), 0);
	assert_int_equal(store_syscalls(g.st), 0); /* none on the lcore */
	assert_int_equal(poll_for(&g, &d, 1), 1);
	assert_int_equal(d.w.id, 7);
	assert_int_equal(d.w.seq, 1);
	assert_int_equal(d.rc, 0);
	assert_non_null(d.file);
	assert_memory_equal(d.file->data, "alpha", 5);
	assert_int_equal(store_cached(g.st), 1);
	assert_true(store_syscalls(g.st) >= 4); /* realpath, open, fstat, mmap: counted anyway */

	/* the parked request again: it gets exactly what was looked up for it */
	store_resume(g.st, &d);
	assert_int_equal(open_parked(&g, "/pkg/a.txt", 7, 2, &f), 0);
	store_resume_end(g.st);
	assert_memory_equal(f->data, "alpha", 5);
	/* the next one hits the cache: same mapping, nothing posted */
	assert_int_equal(open_parked(&g, "/pkg/a.txt", 8, 1, &f2), 0);
	assert_ptr_equal(f, f2);
	ls = store_lane_stats(g.lane);
	assert_int_equal(ls->posted, 1);
	assert_int_equal(ls->completed, 1);
	assert_int_equal(ls->delivered, 1);
	assert_int_equal(ls->inflight, 0);
	/* the cache's reference and our two, once the answered lookup is let go */
	store_lane_poll(g.lane, g.st, &d, 0);
	assert_int_equal(f->refcnt, 3);
	store_file_put(f);
	store_file_put(f2);
	rig_down(&g);
}

/*
 * Idle resolvers go to sleep (no wake-ups at all) and a post wakes one: the miss is answered.
 * Taken out, the threads never sleep (the first wait fails); without the wake in the post, the
 * answer never comes (the poll gives up after 10 s).
 */
static void
test_idle_threads_sleep_and_wake(void **state)
{
	struct rig g;
	struct store_done d;
	struct store_file *f = NULL;
	struct resolver_stats rs = {0};

	(void)state;
	rig_up(&g, 2, 16, 1000000000ull);
	for (int i = 0; i < 1000 && rs.sleeping < 2; i++) {
		usleep(10000);
		resolver_stats(g.r, &rs);
	}
	assert_int_equal(rs.sleeping, 2);
	for (int round = 0; round < 3; round++) {
		const char *path = round % 2 ? "/pkg/b.txt" : "/pkg/a.txt";

		/* asleep again before each post: every one of them has to wake a thread */
		for (int i = 0; i < 1000 && (round > 0 && rs.sleeping < 2); i++) {
			usleep(10000);
			resolver_stats(g.r, &rs);
		}
		assert_int_equal(open_parked(&g, path, 9, (uint32_t)round + 1, &f), -EINPROGRESS);
		assert_int_equal(poll_for(&g, &d, 1), 1);
		assert_int_equal(d.rc, 0);
		store_file_put(d.file);
		/* the next round's lookup is due again (a revalidation posts like a miss) */
		fake_ns += 2000000000ull;
		resolver_stats(g.r, &rs);
	}
	assert_true(rs.wakes >= 3);
	rig_down(&g);
}

/* Without store_park_as() the call resolves on the caller's thread, as before. */
static void
test_unnamed_call_is_synchronous(void **state)
{
	struct rig g;
	struct store_file *f;

	(void)state;
	rig_up(&g, 1, 16, 1000000000ull);
	assert_int_equal(store_open(g.st, "/pkg/b.txt", 10, &f), 0);
	assert_memory_equal(f->data, "bravo", 5);
	assert_int_equal(store_lane_stats(g.lane)->posted, 0);
	store_file_put(f);
	rig_down(&g);
}

/* A burst for one path costs one lookup: the others wait on it, each gets its reference. */
static void
test_coalesced(void **state)
{
	struct rig g;
	struct store_done d[3];
	struct store_file *f;

	(void)state;
	rig_up(&g, 1, 16, 1000000000ull);
	gate_set(false);
	assert_int_equal(open_parked(&g, "/pkg/slow.bin", 1, 1, &f), -EINPROGRESS);
	wait_slow(1);
	assert_int_equal(open_parked(&g, "/pkg/slow.bin", 2, 1, &f), -EINPROGRESS);
	assert_int_equal(open_parked(&g, "/pkg/slow.bin", 3, 1, &f), -EINPROGRESS);
	assert_int_equal(store_lane_stats(g.lane)->posted, 1);
	assert_int_equal(store_lane_stats(g.lane)->coalesced, 2);
	gate_set(true);
	/* handed out two, then one: a waiter list longer than the caller's array resumes */
	assert_int_equal(poll_for(&g, d, 2), 2);
	assert_int_equal(poll_for(&g, d + 2, 1), 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(d[i].w.id, (uint64_t)i + 1);
		assert_int_equal(d[i].rc, 0);
		assert_ptr_equal(d[i].file, d[0].file);
	}
	store_lane_poll(g.lane, g.st, d, 0);	/* the answered lookup's own reference goes */
	assert_int_equal(d[0].file->refcnt, 4); /* the cache and three waiters */
	for (int i = 0; i < 3; i++)
		store_file_put(d[i].file);
	rig_down(&g);
}

/*
 * The lcore does not wait for a stalled lookup: while one sits on a slow disk, hits are
 * answered, 404s come from the cache and another miss is resolved by the other thread.
 */
static void
test_slow_lookup_does_not_block(void **state)
{
	struct rig g;
	struct store_done d;
	struct store_file *f;

	(void)state;
	rig_up(&g, 2, 16, 1000000000ull);
	/* warm: a.txt cached, nothing.txt known missing */
	assert_int_equal(open_parked(&g, "/pkg/a.txt", 1, 1, &f), -EINPROGRESS);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	store_file_put(d.file);
	assert_int_equal(open_parked(&g, "/pkg/nothing.txt", 1, 2, &f), -EINPROGRESS);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	assert_int_equal(d.rc, -ENOENT);

	gate_set(false);
	assert_int_equal(open_parked(&g, "/pkg/slow.bin", 2, 1, &f), -EINPROGRESS);
	wait_slow(1);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(open_parked(&g, "/pkg/a.txt", 3, (uint32_t)i, &f), 0);
		store_file_put(f);
		assert_int_equal(open_parked(&g, "/pkg/nothing.txt", 3, (uint32_t)i, &f), -ENOENT);
	}
	assert_int_equal(store_negative_hits(g.st), 1000);
	/* another miss is not stuck behind the slow one */
	assert_int_equal(open_parked(&g, "/pkg/b.txt", 4, 1, &f), -EINPROGRESS);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	assert_int_equal(d.w.id, 4);
	assert_memory_equal(d.file->data, "bravo", 5);
	store_file_put(d.file);
	assert_int_equal(store_lane_stats(g.lane)->inflight, 1);
	gate_set(true);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	assert_int_equal(d.w.id, 2);
	assert_memory_equal(d.file->data, "slowly", 6);
	store_file_put(d.file);
	rig_down(&g);
}

/*
 * The last reference of a mapped file, dropped on the lcore, is freed on a resolver thread:
 * munmap and close never run on the lcore. The one resolver thread is held in a slow lookup,
 * so the file must still be queued (and mapped) after the put; once the thread is let go it
 * unmaps it. With the free done in the put (no reaper), nothing is queued and it fails.
 */
static void
test_last_put_unmaps_off_lcore(void **state)
{
	struct rig g;
	struct store_done d;
	struct store_file *f, *slow;
	const uint8_t *data;
	long page = sysconf(_SC_PAGESIZE);

	(void)state;
	rig_up(&g, 1, 16, 1000000000ull);
	assert_int_equal(open_parked(&g, "/pkg/a.txt", 1, 1, &f), -EINPROGRESS);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	f = d.file;
	data = f->data;
	assert_non_null(data);
	gate_set(false);
	assert_int_equal(open_parked(&g, "/pkg/slow.bin", 2, 1, &slow), -EINPROGRESS);
	wait_slow(1);
	/* the lcore's store goes (a reload): the cache's reference, then ours, the last */
	store_lane_poll(g.lane, g.st, &d, 0);
	store_destroy(g.st);
	g.st = NULL;
	assert_int_equal(f->refcnt, 1);
	store_file_put(f);
	assert_true(store_reap_pending());
	assert_int_equal(msync((void *)((uintptr_t)data & ~(uintptr_t)(page - 1)), 1, MS_ASYNC), 0);
	gate_set(true);
	for (int i = 0; i < 10000 && store_reap_pending(); i++)
		usleep(1000);
	assert_false(store_reap_pending());
	/* unmapped now: msync on a range with no mapping fails with ENOMEM */
	for (int i = 0; i < 10000; i++) {
		if (msync((void *)((uintptr_t)data & ~(uintptr_t)(page - 1)), 1, MS_ASYNC) != 0)
			break;
		usleep(1000);
	}
	assert_int_equal(msync((void *)((uintptr_t)data & ~(uintptr_t)(page - 1)), 1, MS_ASYNC),
			 -1);
	assert_int_equal(errno, ENOMEM);
	store_lane_destroy(g.lane);
	resolver_destroy(g.r);
}

/* A full lane refuses at once (503 upstairs) and counts it; room again once answered. */
static void
test_queue_full(void **state)
{
	struct rig g;
	struct store_done d[2];
	struct store_file *f;

	(void)state;
	rig_up(&g, 1, 1, 1000000000ull);
	gate_set(false);
	assert_int_equal(open_parked(&g, "/pkg/slow.bin", 1, 1, &f), -EINPROGRESS);
	assert_int_equal(open_parked(&g, "/pkg/a.txt", 2, 1, &f), -EBUSY);
	assert_int_equal(open_parked(&g, "/pkg/b.txt", 3, 1, &f), -EBUSY);
	assert_int_equal(store_lane_stats(g.lane)->queue_full, 2);
	/* joining the lookup in flight takes no room */
	assert_int_equal(open_parked(&g, "/pkg/slow.bin", 4, 1, &f), -EINPROGRESS);
	gate_set(true);
	assert_int_equal(poll_for(&g, d, 2), 2);
	store_file_put(d[0].file);
	store_file_put(d[1].file);
	assert_int_equal(open_parked(&g, "/pkg/a.txt", 2, 2, &f), -EINPROGRESS);
	assert_int_equal(poll_for(&g, d, 1), 1);
	store_file_put(d[0].file);
	rig_down(&g);
}

/*
 * Revalidation goes to the resolver too: an unchanged file keeps its mapping (same pointer),
 * a replaced one gets a new one, a removed one turns 404 and leaves the cache.
 */
static void
test_revalidation(void **state)
{
	struct rig g;
	struct store_done d;
	struct store_file *f, *old;
	char p[512];

	(void)state;
	write_file("pkg/r.txt", "one");
	rig_up(&g, 1, 16, 1000000000ull);
	assert_int_equal(open_parked(&g, "/pkg/r.txt", 1, 1, &f), -EINPROGRESS);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	old = d.file;

	fake_ns += 2000000000ull;
	assert_int_equal(open_parked(&g, "/pkg/r.txt", 1, 2, &f), -EINPROGRESS);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	assert_ptr_equal(d.file, old);
	store_file_put(d.file);
	assert_int_equal(open_parked(&g, "/pkg/r.txt", 1, 3, &f), 0);
	assert_ptr_equal(f, old);
	store_file_put(f);

	/* replaced by rename: a new mapping, the old one alive for whoever holds it */
	write_file("pkg/r.new", "two!");
	snprintf(p, sizeof(p), "%s/pkg/r.txt", tmpdir);
	{
		char q[512];

		snprintf(q, sizeof(q), "%s/pkg/r.new", tmpdir);
		assert_int_equal(rename(q, p), 0);
	}
	fake_ns += 2000000000ull;
	assert_int_equal(open_parked(&g, "/pkg/r.txt", 1, 4, &f), -EINPROGRESS);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	assert_ptr_not_equal(d.file, old);
	assert_memory_equal(d.file->data, "two!", 4);
	assert_memory_equal(old->data, "one", 3);
	store_file_put(d.file);
	store_file_put(old);

	assert_int_equal(unlink(p), 0);
	fake_ns += 2000000000ull;
	assert_int_equal(open_parked(&g, "/pkg/r.txt", 1, 5, &f), -EINPROGRESS);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	assert_int_equal(d.rc, -ENOENT);
	assert_null(d.file);
	assert_int_equal(store_cached(g.st), 0);
	/* and that 404 is cached for the interval */
	assert_int_equal(open_parked(&g, "/pkg/r.txt", 1, 6, &f), -ENOENT);
	assert_int_equal(store_negative_hits(g.st), 1);
	rig_down(&g);
}

/*
 * Attacker: links that leave the root are refused by the resolver just as on the lcore —
 * to a file above the root, and to a sibling directory whose name merely starts with the
 * root's ("pkg2" next to "pkg"), which a bare prefix comparison would let through.
 */
static void
test_confinement(void **state)
{
	struct rig g;
	struct store_done d;
	struct store_file *f;
	char link[512], target[512];

	(void)state;
	rig_up(&g, 1, 16, 1000000000ull);
	snprintf(link, sizeof(link), "%s/pkg/up", tmpdir);
	snprintf(target, sizeof(target), "%s/secret", tmpdir);
	assert_int_equal(symlink(target, link), 0);
	snprintf(link, sizeof(link), "%s/pkg/side", tmpdir);
	snprintf(target, sizeof(target), "%s/pkg2/secret", tmpdir);
	assert_int_equal(symlink(target, link), 0);
	snprintf(link, sizeof(link), "%s/pkg/dir", tmpdir);
	assert_int_equal(symlink("../pkg2", link), 0);

	const char *bad[] = {"/pkg/up", "/pkg/side", "/pkg/dir/secret"};
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(open_parked(&g, bad[i], 1, i, &f), -EINPROGRESS);
		assert_int_equal(poll_for(&g, &d, 1), 1);
		assert_int_equal(d.rc, -ENOENT);
		assert_null(d.file);
		/* and the synchronous path agrees */
		assert_int_equal(store_open(g.st, bad[i], strlen(bad[i]), &f), -ENOENT);
	}
	assert_int_equal(store_cached(g.st), 0);
	rig_down(&g);
}

/*
 * A request gone while parked: its outcome is still handed out (the store cannot know), and
 * the caller drops the reference; nothing leaks or stays pinned. Lookups still out when
 * everything stops are freed by the resolver (valgrind/ASan see no leak).
 */
static void
test_gone_waiter_and_shutdown(void **state)
{
	struct rig g;
	struct store_done d;
	struct store_file *f;

	(void)state;
	rig_up(&g, 1, 16, 1000000000ull);
	assert_int_equal(open_parked(&g, "/pkg/b.txt", 9, 1, &f), -EINPROGRESS);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	/* the connection closed meanwhile: the service only puts the reference */
	store_file_put(d.file);
	assert_int_equal(open_parked(&g, "/pkg/b.txt", 10, 1, &f), 0);
	store_lane_poll(g.lane, g.st, &d, 0);
	assert_int_equal(f->refcnt, 2); /* the cache and us: the gone one left nothing */
	store_file_put(f);

	/* shutdown with a lookup stuck in the resolver and one answered but not taken */
	gate_set(false);
	assert_int_equal(open_parked(&g, "/pkg/slow.bin", 11, 1, &f), -EINPROGRESS);
	assert_int_equal(open_parked(&g, "/pkg/a.txt", 12, 1, &f), -EINPROGRESS);
	wait_slow(1);
	store_destroy(g.st);
	store_lane_destroy(g.lane);
	gate_set(true);
	resolver_destroy(g.r);
}

/* A reload swapped the store while a lookup was out: its waiter is answered, the new store
 * is not filled with what the old sites resolved. */
static void
test_store_swapped(void **state)
{
	struct rig g;
	struct store_done d;
	struct store_file *f;
	struct store_conf sc = {.sites = sites, .nsites = 1, .revalidate_ns = 1000000000ull};
	struct store *fresh;

	(void)state;
	rig_up(&g, 1, 16, 1000000000ull);
	gate_set(false);
	assert_int_equal(open_parked(&g, "/pkg/slow2.bin", 1, 1, &f), -EINPROGRESS);
	wait_slow(1);
	fresh = store_create(&sc);
	assert_non_null(fresh);
	store_attach(fresh, g.lane);
	store_destroy(g.st);
	g.st = fresh;
	gate_set(true);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	assert_int_equal(d.rc, 0);
	assert_memory_equal(d.file->data, "slower", 6);
	assert_int_equal(store_cached(fresh), 0);
	store_file_put(d.file);
	rig_down(&g);
}

/* http_serve passes the store's answer up: no response is built for a parked request. */
static void
test_http_serve_parks(void **state)
{
	struct rig g;
	struct h1_parser p;
	struct h1_limits lim;
	struct h1_request req;
	struct http_response *resp = calloc(1, sizeof(*resp));
	struct store_done d;
	const char *in = "GET /pkg/a.txt HTTP/1.1\r\nHost: x\r\n\r\n";

	(void)state;
	assert_non_null(resp);
	rig_up(&g, 1, 16, 1000000000ull);
	h1_limits_default(&lim);
	h1_parser_init(&p, &lim);
	assert_int_equal(h1_parse(&p, in, strlen(in), &req), H1_OK);
	store_park_as(g.st, 5, 1);
	assert_int_equal(http_serve(&req, g.st, NULL, resp), -EINPROGRESS);
	assert_int_equal(resp->status, 0);
	assert_int_equal(resp->head_len, 0);
	assert_int_equal(poll_for(&g, &d, 1), 1);
	store_resume(g.st, &d);
	store_park_as(g.st, 5, 2);
	assert_int_equal(http_serve(&req, g.st, NULL, resp), 0);
	store_resume_end(g.st);
	assert_int_equal(resp->status, 200);
	assert_int_equal(resp->body_len, 5);
	http_response_release(resp);
	free(resp);
	rig_down(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_miss_parks_then_hits),
		cmocka_unit_test(test_idle_threads_sleep_and_wake),
		cmocka_unit_test(test_unnamed_call_is_synchronous),
		cmocka_unit_test(test_coalesced),
		cmocka_unit_test(test_slow_lookup_does_not_block),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_revalidation),
		cmocka_unit_test(test_confinement),
		cmocka_unit_test(test_gone_waiter_and_shutdown),
		cmocka_unit_test(test_store_swapped),
		cmocka_unit_test(test_last_put_unmaps_off_lcore),
		cmocka_unit_test(test_http_serve_parks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
