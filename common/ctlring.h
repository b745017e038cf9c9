/* Posting into and taking from a DPDK ring from control threads: preemptible, many per CPU. */
#ifndef AG_COMMON_CTLRING_H
#define AG_COMMON_CTLRING_H

#include <pthread.h>

#include <rte_ring.h>

/*
 * DPDK's multi-producer and multi-consumer ring operations assume threads that are not
 * preempted (the EAL guide's "Known Issues"): one preempted between moving the ring's head
 * and its tail makes every later one spin until it runs again, and they finish in head order
 * only. Control threads are many on few CPUs (all of them on one CPU of a 2-CPU box), so each
 * spinner burns its whole time slice per post, and the chain re-forms as long as work is
 * queued: under a logon burst the gateway was seen validating 20 tokens a second instead of
 * 3,000, for a minute, with 9 workers spinning in the verdict ring. Here the threads of one
 * side take a mutex and use the single-thread operation: a waiter sleeps in the futex, and the
 * preempted holder gets the CPU back. The other side (an lcore) uses its single-thread
 * operation as it is.
 */
static inline int
ag_ctlring_post(struct rte_ring *r, pthread_mutex_t *producers, void *obj)
{
	int rc;

	pthread_mutex_lock(producers);
	rc = rte_ring_sp_enqueue(r, obj);
	pthread_mutex_unlock(producers);
	return rc;
}

static inline int
ag_ctlring_take(struct rte_ring *r, pthread_mutex_t *consumers, void **obj)
{
	int rc;

	pthread_mutex_lock(consumers);
	rc = rte_ring_sc_dequeue(r, obj);
	pthread_mutex_unlock(consumers);
	return rc;
}

#endif
