/* Turns [eal], [log] and [port] sections into the argv rte_eal_init expects. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/eal_args.h"

static const char *const level_names[] = {"emergency", "alert",	 "critical", "error",
					  "warning",   "notice", "info",     "debug"};

static int
push(struct ag_eal_argv *a, const char *s)
{
	char **v = realloc(a->argv, (a->argc + 2) * sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	a->argv = v;
	v[a->argc] = strdup(s);
	if (v[a->argc] == NULL)
		return -ENOMEM;
	v[++a->argc] = NULL;
	return 0;
}

static int pushf(struct ag_eal_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
pushf(struct ag_eal_argv *a, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return push(a, buf);
}

/* Free 2 MiB hugepages in MiB, or 0 when none or no hugetlbfs is mounted. */
static long
probe_hugepages_mb(void)
{
	FILE *f = fopen("/proc/mounts", "r");
	char line[512];
	bool mounted = false;
	long pages = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, " hugetlbfs ") != NULL)
			mounted = true;
	fclose(f);
	if (!mounted)
		return 0;
	f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &pages) != 1)
		pages = 0;
	fclose(f);
	return pages * 2;
}

/* Splits on blanks; no quoting: EAL arguments have no spaces in practice. */
static int
push_words(struct ag_eal_argv *a, const char *s)
{
	char *copy = strdup(s), *save = NULL, *w;
	int rc = 0;

	if (copy == NULL)
		return -ENOMEM;
	for (w = strtok_r(copy, " \t", &save); w != NULL && rc == 0;
	     w = strtok_r(NULL, " \t", &save))
		rc = push(a, w);
	free(copy);
	return rc;
}

int
ag_eal_argv_build_ex(const struct ag_config *cfg, const char *prog, int extra_argc,
		     char **extra_argv, long hugepage_free_mb, struct ag_eal_argv *out)
{
	struct ag_eal_argv a = {0};
	bool huge;
	int rc = 0;

	if (hugepage_free_mb < 0)
		hugepage_free_mb = probe_hugepages_mb();
	switch (cfg->eal.hugepages) {
	case AG_HUGEPAGES_YES:
		huge = true;
		break;
	case AG_HUGEPAGES_NO:
		huge = false;
		break;
	default:
		huge = hugepage_free_mb >= (long)cfg->eal.memory_mb;
		break;
	}

	rc |= push(&a, prog);
	if (cfg->eal.cpus[0] == '\0') {
		rc |= pushf(&a, "-l");
		rc |= push(&a, cfg->eal.lcores);
	} else {
		/* more lcores than CPUs (a small lab): each lcore's thread pinned round robin */
		uint16_t ids[128], cpus[128], nb_ids = 0, nb_cpus = 0;
		char map[1024];
		size_t n = 0;

		if (ini_parse_lcores(cfg->eal.lcores, ids, 128, &nb_ids) < 0 ||
		    ini_parse_lcores(cfg->eal.cpus, cpus, 128, &nb_cpus) < 0 || nb_cpus == 0)
			return -EINVAL; /* the config loader checked both */
		for (uint16_t i = 0; i < nb_ids && n < sizeof(map); i++)
			n += (size_t)snprintf(map + n, sizeof(map) - n, "%s%u@%u", i ? "," : "",
					      ids[i], cpus[i % nb_cpus]);
		if (n >= sizeof(map))
			return -E2BIG;
		rc |= pushf(&a, "--lcores=%s", map);
	}
	rc |= pushf(&a, "--main-lcore=%u", cfg->eal.main_lcore);
	rc |= pushf(&a, "-m");
	rc |= pushf(&a, "%u", cfg->eal.memory_mb);
	if (!huge)
		rc |= push(&a, "--no-huge");
	else
		/* hugepage files otherwise outlive the process and keep the pages reserved */
		rc |= push(&a, "--huge-unlink");
	if (!cfg->eal.pci)
		rc |= push(&a, "--no-pci");
	rc |= pushf(&a, "--file-prefix=%s", cfg->eal.file_prefix);
	rc |= pushf(&a, "--log-level=*:%s", level_names[cfg->log.level]);
	if (cfg->log.components[0] != '\0') {
		char *copy = strdup(cfg->log.components), *save = NULL, *w;
		if (copy == NULL)
			rc |= -ENOMEM;
		for (w = copy ? strtok_r(copy, " \t,", &save) : NULL; w != NULL;
		     w = strtok_r(NULL, " \t,", &save))
			rc |= pushf(&a, "--log-level=%s", w);
		free(copy);
	}
	for (unsigned int i = 0; i < cfg->dp.nb_ports; i++) {
		const char *dev = cfg->dp.ports[i].device;
		/* virtual devices are created by name; anything else is a bus address to allow */
		if (strncmp(dev, "net_", 4) == 0)
			rc |= pushf(&a, "--vdev=%s", dev);
		else
			rc |= pushf(&a, "--allow=%s", dev);
	}
	if (cfg->eal.extra_args[0] != '\0')
		rc |= push_words(&a, cfg->eal.extra_args);
	for (int i = 0; i < extra_argc; i++)
		rc |= push(&a, extra_argv[i]);
	if (rc != 0) {
		ag_eal_argv_free(&a);
		return -ENOMEM;
	}
	*out = a;
	return 0;
}

int
ag_eal_argv_build(const struct ag_config *cfg, const char *prog, int extra_argc, char **extra_argv,
		  struct ag_eal_argv *out)
{
	return ag_eal_argv_build_ex(cfg, prog, extra_argc, extra_argv, -1, out);
}

void
ag_eal_argv_free(struct ag_eal_argv *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->argv[i]);
	free(a->argv);
	a->argv = NULL;
	a->argc = 0;
}

int
ag_ctrl_cpus(const cpu_set_t *process, const cpu_set_t *dataplane, const cpu_set_t *main,
	     cpu_set_t *out)
{
	CPU_ZERO(out);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, process) && !CPU_ISSET(c, dataplane))
			CPU_SET(c, out);
	if (CPU_COUNT(out) == 0)
		CPU_OR(out, out, main);
	return CPU_COUNT(out);
}
