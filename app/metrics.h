/* Prometheus text exposition of the gateway's counters: [metrics] listen = ADDR:PORT. */
#ifndef AG_APP_METRICS_H
#define AG_APP_METRICS_H

#include "common/ini.h"

struct metrics_conf {
	char listen[64]; /* "127.0.0.1:9464"; "" = off */
};

/* [metrics], relative to a struct metrics_conf. */
extern const struct ini_section metrics_conf_section;

/* Listens when [metrics] listen is set: 0 or -errno. */
int metrics_start(const struct metrics_conf *c);
/* Main loop: answers the scrapes waiting (a few per call, never blocking for long). */
void metrics_poll(void);
void metrics_stop(void);

#endif
