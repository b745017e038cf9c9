/* Reload without a restart: SIGHUP or authgate-ctl reload, on the main lcore. */
#ifndef AG_APP_RELOAD_H
#define AG_APP_RELOAD_H

#include <stddef.h>

#include "app/config.h"

struct accesslog;

/* The config the gateway booted with: the dataplane keeps pointers into it for good. */
void reload_init(struct ag_config *boot, struct accesslog *log);
/* The config in force now (the boot one until a reload succeeds). */
const struct ag_config *reload_current(void);
/*
 * Reads the file again. A file that fails the check changes nothing: its errors are logged
 * and the old config keeps running (-EINVAL). Otherwise sites, auth settings, trust limits
 * and timeouts apply to new requests, and what only a restart can change is logged and
 * counted. summary gets one line for the operator.
 */
int reload_run(char *summary, size_t size);
/* Frees configs no request can point into any more; call now and then. */
void reload_collect(void);
/* /authgate/reload: asks the main loop (reload_poll) and waits for its answer. */
void reload_telemetry_init(void);
/* Main loop: runs a reload asked for by telemetry or by SIGHUP (pass sighup = 1). */
void reload_poll(int sighup);

#endif
