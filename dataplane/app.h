/* Applications on the TCP engine: what the lcore loop knows of them, and all it knows. */
#ifndef AG_DATAPLANE_APP_H
#define AG_DATAPLANE_APP_H

#include <stdbool.h>
#include <stdint.h>

#define DP_MAX_APPS 4

struct tcp_engine;
struct tcp_flow_table;

/* What an application gets on each dataplane lcore. */
struct dp_app_env {
	struct tcp_engine *tcp; /* this lcore's engine: listen on it */
	struct tcp_flow_table *flows;
	uint16_t lcore_index; /* 0..nb_lcores-1 */
	uint16_t nb_lcores;
	unsigned int socket;
	/*
	 * Memory outside DPDK's (a file's mmap) may be handed to the ports as external mbufs:
	 * true only when every port is a virtual device that copies with the CPU. A PCI NIC
	 * DMAs from IOVAs its IOMMU maps, and the store's file pages are not mapped there.
	 */
	bool extbuf_ok;
};

/*
 * An application registers these before the lcores start (dp_app_register from main: static
 * libraries drop unreferenced constructors). Every hook may be NULL. Per-lcore hooks run on
 * the lcore itself, with the state lcore_init returned.
 */
struct dp_app {
	const char *name;
	/* On the main lcore once, before any lcore_init. 0 or -errno. */
	int (*init)(uint16_t nb_lcores);
	/* On the main lcore for each dataplane lcore: its state in *state_out. 0 or -errno. */
	int (*lcore_init)(const struct dp_app_env *env, void **state_out);
	/* Every loop iteration, after the engine's timers: cheap work (verdict rings). */
	void (*poll)(void *state, uint64_t now_us);
	/* Every tick_us: timeouts, the wall clock. */
	void (*tick)(void *state, uint64_t now_us);
	uint64_t tick_us;
	/*
	 * On the lcore, once, when the gateway starts to drain (SIGTERM): stop accepting, let
	 * what is in flight finish, close what is idle.
	 */
	void (*drain)(void *state);
	/* Any thread: connections the app still has on this lcore (0 when drained). */
	uint64_t (*active)(const void *state);
	/* On the lcore as it stops, after its engine closed every flow. */
	void (*lcore_fini)(void *state);
	/* On the main lcore after every lcore stopped. */
	void (*fini)(void);
};

/* -ENOSPC past DP_MAX_APPS. app must outlive the dataplane. */
int dp_app_register(const struct dp_app *app);

/* Main lcore: every lcore calls its apps' drain hook on its next iteration. */
void dp_drain_begin(void);
/* Main lcore: connections every app still has, summed over lcores. */
uint64_t dp_apps_active(void);

#endif
