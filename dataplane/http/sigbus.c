/* SIGBUS guard: lock-free registry of file mappings read by the handler, and the handler. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dataplane/http/sigbus.h"

/*
 * Each slot is one 64-bit word, so the handler can never see half of an update: the mapping's
 * first page number in the high bits, its length in pages in the low bits; 0 is a free slot.
 * 35 bits of page number cover the 47-bit user address space of x86-64 and arm64 (4 KiB
 * pages), 29 bits of pages cover 2 TiB.
 */
#define SIGBUS_LEN_BITS	 29
#define SIGBUS_PAGE_BITS (64 - SIGBUS_LEN_BITS)
/* every lcore's store caches up to max_files mappings, and responses keep evicted ones alive */
#define SIGBUS_SLOTS 32768

static uint64_t sigbus_slots[SIGBUS_SLOTS];
/* slots at or past this index are free: the handler and the writers scan only below it */
static unsigned int sigbus_used;
/*
 * Writers only; registration is rare (a file opened or dropped), the handler never takes it.
 * A mutex, not a spinlock: the writers are the store's resolver threads, preemptible and
 * sharing CPUs, and one preempted holding a spinlock would make the others spin a whole slice.
 */
static pthread_mutex_t sigbus_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t sigbus_faults;
static unsigned int sigbus_page_shift;
static struct sigaction sigbus_prev;

static unsigned int
sigbus_shift(void)
{
	unsigned int s = __atomic_load_n(&sigbus_page_shift, __ATOMIC_RELAXED);

	if (s == 0) {
		s = (unsigned int)__builtin_ctzl((unsigned long)sysconf(_SC_PAGESIZE));
		__atomic_store_n(&sigbus_page_shift, s, __ATOMIC_RELAXED);
	}
	return s;
}

/* 0 when the range cannot be represented */
static uint64_t
sigbus_pack(const void *addr, size_t len)
{
	unsigned int shift = sigbus_shift();
	uint64_t first = (uint64_t)(uintptr_t)addr >> shift;
	uint64_t pages = ((uint64_t)len + (1u << shift) - 1) >> shift;

	if (first == 0 || first >> SIGBUS_PAGE_BITS != 0 || pages >> SIGBUS_LEN_BITS != 0)
		return 0;
	return first << SIGBUS_LEN_BITS | pages;
}

static void
sigbus_lock_take(void)
{
	pthread_mutex_lock(&sigbus_lock);
}

static void
sigbus_lock_release(void)
{
	pthread_mutex_unlock(&sigbus_lock);
}

int
sigbus_register(const void *addr, size_t len)
{
	unsigned int i, used;
	uint64_t v;
	int rc = -ENOSPC;

	if (addr == NULL || len == 0)
		return -EINVAL;
	v = sigbus_pack(addr, len);
	if (v == 0)
		return -ERANGE;
	sigbus_lock_take();
	used = __atomic_load_n(&sigbus_used, __ATOMIC_RELAXED);
	for (i = 0; i < SIGBUS_SLOTS; i++) {
		if (i < used && __atomic_load_n(&sigbus_slots[i], __ATOMIC_RELAXED) != 0)
			continue;
		/* the slot is whole before the handler may scan that far */
		__atomic_store_n(&sigbus_slots[i], v, __ATOMIC_RELEASE);
		if (i >= used)
			__atomic_store_n(&sigbus_used, i + 1, __ATOMIC_RELEASE);
		rc = 0;
		break;
	}
	sigbus_lock_release();
	return rc;
}

void
sigbus_unregister(const void *addr, size_t len)
{
	unsigned int i, used;
	uint64_t v;

	v = sigbus_pack(addr, len);
	if (v == 0)
		return;
	sigbus_lock_take();
	used = __atomic_load_n(&sigbus_used, __ATOMIC_RELAXED);
	for (i = 0; i < used; i++) {
		if (__atomic_load_n(&sigbus_slots[i], __ATOMIC_RELAXED) == v) {
			__atomic_store_n(&sigbus_slots[i], 0, __ATOMIC_RELEASE);
			break;
		}
	}
	/* shrink past trailing free slots so the handler's scan stays short */
	while (used > 0 && __atomic_load_n(&sigbus_slots[used - 1], __ATOMIC_RELAXED) == 0)
		used--;
	__atomic_store_n(&sigbus_used, used, __ATOMIC_RELEASE);
	sigbus_lock_release();
}

uint64_t
sigbus_count(void)
{
	return __atomic_load_n(&sigbus_faults, __ATOMIC_RELAXED);
}

/* Async-signal-safe: atomic loads only. Returns the registered slot value holding page, or 0. */
static uint64_t
sigbus_find(uint64_t page)
{
	unsigned int i, used = __atomic_load_n(&sigbus_used, __ATOMIC_ACQUIRE);

	for (i = 0; i < used && i < SIGBUS_SLOTS; i++) {
		uint64_t v = __atomic_load_n(&sigbus_slots[i], __ATOMIC_ACQUIRE);
		uint64_t first = v >> SIGBUS_LEN_BITS;
		uint64_t pages = v & ((1ULL << SIGBUS_LEN_BITS) - 1);

		if (v != 0 && page >= first && page < first + pages)
			return v;
	}
	return 0;
}

/* Not ours: behave as if we had never been installed. */
static void
sigbus_pass_on(int sig, siginfo_t *info, void *uctx)
{
	if ((sigbus_prev.sa_flags & SA_SIGINFO) && sigbus_prev.sa_sigaction != NULL) {
		sigbus_prev.sa_sigaction(sig, info, uctx);
		return;
	}
	if (sigbus_prev.sa_handler != SIG_DFL && sigbus_prev.sa_handler != SIG_IGN) {
		sigbus_prev.sa_handler(sig);
		return;
	}
	/*
	 * Default action: a hardware fault recurs when the instruction restarts and now kills
	 * us; a SIGBUS sent with kill() was blocked by the handler and stays pending until
	 * we return, then kills us just the same.
	 */
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

static void
sigbus_handler(int sig, siginfo_t *info, void *uctx)
{
	unsigned int shift = sigbus_shift();
	uint64_t page, v, first, pages;
	int saved_errno = errno;
	void *m;

	/* si_addr means something only for faults the kernel raised */
	if (info == NULL || info->si_code <= 0) {
		sigbus_pass_on(sig, info, uctx);
		goto out;
	}
	page = (uint64_t)(uintptr_t)info->si_addr >> shift;
	v = sigbus_find(page);
	if (v == 0) {
		sigbus_pass_on(sig, info, uctx);
		goto out;
	}
	first = v >> SIGBUS_LEN_BITS;
	pages = v & ((1ULL << SIGBUS_LEN_BITS) - 1);
	/*
	 * A truncation takes everything past the new end, so the rest of the mapping would fault
	 * too: one repair for all of it rather than one signal per page the sender touches.
	 */
	m = mmap((void *)(uintptr_t)(page << shift), (size_t)((first + pages - page) << shift),
		 PROT_READ, MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (m == MAP_FAILED) {
		/* nothing to read from: returning would fault again forever */
		sigbus_pass_on(sig, info, uctx);
		goto out;
	}
	__atomic_add_fetch(&sigbus_faults, 1, __ATOMIC_RELAXED);

out:
	errno = saved_errno;
}

int
sigbus_install(void)
{
	struct sigaction sa, cur;

	if (sigaction(SIGBUS, NULL, &cur) != 0)
		return -errno;
	/* installing twice must not make us our own "previous" handler */
	if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == sigbus_handler)
		return 0;
	/* sysconf is not async-signal-safe: learn the page size before any fault */
	sigbus_shift();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigbus_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &cur) != 0)
		return -errno;
	sigbus_prev = cur;
	return 0;
}
