/* authgate configuration: every module's section of the INI file, loaded into one struct. */
#ifndef AG_APP_CONFIG_H
#define AG_APP_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "app/metrics.h"
#include "common/ini.h"
#include "control/authsvc.h"
#include "dataplane/auth_gate.h"
#include "dataplane/diag_app.h"
#include "dataplane/dp_conf.h"
#include "dataplane/http_svc.h"
#include "dataplane/tcp/tcp_conf.h"
#include "dataplane/tls/tls.h"

enum ag_hugepages {
	AG_HUGEPAGES_AUTO, /* use hugepages when enough are free, else --no-huge */
	AG_HUGEPAGES_YES,  /* require them: EAL fails if there are none */
	AG_HUGEPAGES_NO,   /* always --no-huge */
};

struct ag_eal_conf {
	char lcores[64];      /* EAL -l list: the main lcore plus the dataplane lcores */
	char cpus[64];	      /* "": lcore i on CPU i; else lcore k-th on cpus[k % n] (--lcores) */
	uint32_t main_lcore;  /* control plane, telemetry, signals */
	uint32_t memory_mb;   /* -m */
	uint32_t hugepages;   /* enum ag_hugepages */
	char file_prefix[64]; /* also selects the telemetry socket for authgate-ctl */
	bool pci;	      /* false: --no-pci (virtual devices only) */
	char extra_args[INI_STR];
};

struct ag_log_conf {
	uint32_t level;		  /* 0 emergency .. 7 debug; RTE_LOG level - 1 */
	char components[INI_STR]; /* "authgate.tcp:debug authgate.net:info" */
};

/* Each module's struct is its own: the module declares its sections' keys into it. */
struct ag_config {
	char path[PATH_MAX];
	struct ag_eal_conf eal;
	struct ag_log_conf log;
	struct dp_conf dp;	     /* [dataplane], [port NAME], [impair] */
	struct tcp_conf tcp;	     /* [tcp] */
	struct diag_conf diag;	     /* [diag] */
	struct http_svc_conf http;   /* [http] */
	struct tls_conf tls;	     /* [tls] */
	struct gate_conf gate;	     /* [site PREFIX], the gate's [auth] keys */
	struct authsvc_config auth;  /* [trust REALM], the control plane's [auth] keys */
	struct metrics_conf metrics; /* [metrics] */
};

/*
 * Load and validate FILE into *cfg. Every problem is reported on err as
 * "FILE:LINE: [section] key: reason" (all of them, not just the first).
 * Returns 0, or -EINVAL when the file is invalid, or -errno when it cannot be
 * read.
 */
int ag_config_load(const char *file, struct ag_config *cfg, FILE *err);

/* Print the effective configuration (defaults filled in) as INI. */
void ag_config_dump(const struct ag_config *cfg, FILE *out);

#endif
