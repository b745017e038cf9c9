/* EAL command line from a configuration: lcores, memory, hugepages, devices, log levels. */
#ifndef AG_APP_EAL_ARGS_H
#define AG_APP_EAL_ARGS_H

#include <sched.h>

#include "app/config.h"

struct ag_eal_argv {
	int argc;
	char **argv; /* NULL-terminated; every string owned */
};

/*
 * Hugepages: with [eal] hugepages = auto they are used when a hugetlbfs is
 * mounted and enough 2 MiB pages are free for memory_mb, else --no-huge.
 * hugepage_free_mb overrides the probe when >= 0 (tests).
 */
int ag_eal_argv_build_ex(const struct ag_config *cfg, const char *prog, int extra_argc,
			 char **extra_argv, long hugepage_free_mb, struct ag_eal_argv *out);
int ag_eal_argv_build(const struct ag_config *cfg, const char *prog, int extra_argc,
		      char **extra_argv, struct ag_eal_argv *out);
void ag_eal_argv_free(struct ag_eal_argv *a);

/*
 * Where the control plane's threads (the auth workers and dispatcher, the store's resolvers,
 * logging) run: the CPUs the process was given, less those the dataplane lcores poll on, as
 * DPDK places its own control threads. When nothing is left, the main lcore's CPUs (out is
 * main's). Returns how many CPUs out holds.
 */
int ag_ctrl_cpus(const cpu_set_t *process, const cpu_set_t *dataplane, const cpu_set_t *main,
		 cpu_set_t *out);

#endif
