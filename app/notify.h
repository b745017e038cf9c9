/* systemd's notification protocol (READY, RELOADING, STOPPING, WATCHDOG), without libsystemd. */
#ifndef AG_APP_NOTIFY_H
#define AG_APP_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
/* The watchdog interval systemd asked for (WATCHDOG_USEC), 0 when none. */
uint64_t notify_watchdog_us(void);
void notify_watchdog(void);

#endif
