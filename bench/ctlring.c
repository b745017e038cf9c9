/*
 * Posts per second into one ring from preemptible threads sharing a CPU: DPDK's
 * multi-producer enqueue against common/ctlring.h, side by side in one run (bench/README.md).
 *
 *   build/bench/ctlring [THREADS [SECONDS]]     defaults 10 threads, 2 s per variant
 *
 * Every thread, the consumer included, is pinned to the first CPU the process may use, as the
 * gateway's control threads are on a 2-CPU machine. A kicker signals a poster every 100 us; its
 * handler sleeps 1 ms, as if the poster had been preempted wherever it was.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_ring.h>

#include "common/ctlring.h"
#include "common/mono.h"

#define MAX_THREADS 64
#define RING_SLOTS  (1u << 16)

static struct rte_ring *ring;
static pthread_mutex_t posters = PTHREAD_MUTEX_INITIALIZER;
static bool use_ctlring;
static unsigned nthreads;
static uint64_t run_ns;
static pthread_t threads[MAX_THREADS];
static volatile bool live[MAX_THREADS];
static volatile bool kicker_stop;
static uint64_t posted[MAX_THREADS];
static int cpu;

static void
pin(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void
on_kick(int sig)
{
	(void)sig;
	usleep(1000);
}

static void *
poster(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	uint64_t end = ag_mono_ns() + run_ns;
	void *obj = &posted[me];

	pin();
	while (ag_mono_ns() < end) {
		int rc = use_ctlring ? ag_ctlring_post(ring, &posters, obj)
				     : rte_ring_mp_enqueue(ring, obj);

		if (rc != 0) {
			sched_yield();
			continue;
		}
		posted[me]++;
	}
	live[me] = false;
	return NULL;
}

static void *
kicker(void *arg)
{
	unsigned k = 0;

	(void)arg;
	pin();
	while (!kicker_stop) {
		unsigned j = k++ % nthreads;

		if (live[j])
			pthread_kill(threads[j], SIGUSR1);
		usleep(100);
	}
	return NULL;
}

static double
run(bool ctlring)
{
	void *burst[256];
	pthread_t kick;
	uint64_t t0, total = 0;
	bool any = true;

	use_ctlring = ctlring;
	kicker_stop = false;
	t0 = ag_mono_ns();
	for (unsigned i = 0; i < nthreads; i++) {
		live[i] = true;
		posted[i] = 0;
		pthread_create(&threads[i], NULL, poster, (void *)(uintptr_t)i);
	}
	pthread_create(&kick, NULL, kicker, NULL);
	while (any) {
		if (rte_ring_sc_dequeue_burst(ring, burst, RTE_DIM(burst), NULL) > 0)
			continue;
		sched_yield();
		any = false;
		for (unsigned i = 0; i < nthreads; i++)
			any |= live[i];
	}
	kicker_stop = true;
	pthread_join(kick, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(threads[i], NULL);
		total += posted[i];
	}
	while (rte_ring_sc_dequeue_burst(ring, burst, RTE_DIM(burst), NULL) > 0)
		;
	return (double)total / ((double)(ag_mono_ns() - t0) / 1e9);
}

int
main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_kick};
	ssize_t size = rte_ring_get_memsize(RING_SLOTS);
	cpu_set_t allowed;
	double mp, ctl;

	nthreads = argc > 1 ? (unsigned)atoi(argv[1]) : 10;
	run_ns = (uint64_t)((argc > 2 ? atof(argv[2]) : 2.0) * 1e9);
	if (nthreads < 1 || nthreads > MAX_THREADS || run_ns == 0 || size < 0) {
		fprintf(stderr, "usage: ctlring [THREADS (1-%d) [SECONDS]]\n", MAX_THREADS);
		return 2;
	}
	sched_getaffinity(0, sizeof(allowed), &allowed);
	while (!CPU_ISSET(cpu, &allowed))
		cpu++;
	sigaction(SIGUSR1, &sa, NULL);
	ring = aligned_alloc(RTE_CACHE_LINE_SIZE,
			     RTE_ALIGN_CEIL((size_t)size, RTE_CACHE_LINE_SIZE));
	/* single consumer either way; the producers' side is what is compared */
	if (ring == NULL || rte_ring_init(ring, "ctlring", RING_SLOTS, RING_F_SC_DEQ) != 0) {
		fprintf(stderr, "ctlring: no ring\n");
		return 1;
	}
	pin();
	mp = run(false);
	ctl = run(true);
	printf("%u posting threads on CPU %d, kicked every 100 us:\n", nthreads, cpu);
	printf("  rte_ring_mp_enqueue   %12.0f posts/s\n", mp);
	printf("  ag_ctlring_post       %12.0f posts/s\n", ctl);
	printf("  ratio                 %12.1f\n", ctl / mp);
	free(ring);
	return 0;
}
