/* Revoked principals: denied until their revocation expires; read lock-free by the lcores. */
#ifndef AG_CONTROL_REVOKE_H
#define AG_CONTROL_REVOKE_H

#include <stdbool.h>
#include <stdint.h>

#include "control/krb5_worker.h"

/* Revokes (or revokes again, from now) principal until now + ttl_s. 0, -EINVAL or -ENOMEM. */
int revoke_add(const char *principal, int64_t now, uint32_t ttl_s);
/* Lifts a revocation: 0, or -ENOENT when the principal has none in force. */
int revoke_lift(const char *principal, int64_t now);
/*
 * Is principal revoked at now? ignore_case: compare as the principal's realm does (AD
 * realms and NTLM domains ignore case, MIT realms do not). Lock-free; any thread.
 */
bool revoke_active(const char *principal, bool ignore_case, int64_t now);
/* Bumps on every change; a flow re-checks its identity only when it moved. */
uint32_t revoke_epoch(void);

typedef void (*revoke_walk_fn)(const char *principal, int64_t until, void *arg);
/* The revocations in force at now, oldest first. */
void revoke_walk(int64_t now, revoke_walk_fn fn, void *arg);

#endif
