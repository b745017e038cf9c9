/* DPDK's log lines into the systemd journal, each at the priority of its DPDK level. */
#ifndef AG_APP_JOURNAL_H
#define AG_APP_JOURNAL_H

#include <stdio.h>

/*
 * When stderr is the journal (systemd sets JOURNAL_STREAM), DPDK's log stream becomes one
 * that prefixes every line with "<N>", N the syslog priority of the message's level
 * (RTE_LOG_ERR = 4 -> 3 "err", ...): journald files it at that priority, so
 * `journalctl -u authgate -p warning` works. Returns the stream (NULL: left as it was).
 */
FILE *journal_log_open(void);

/* The "<N>" prefix for a DPDK level (1 emergency .. 8 debug): exposed for the unit test. */
int journal_priority(int rte_level);

#endif
