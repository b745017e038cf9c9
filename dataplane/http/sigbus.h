/* SIGBUS guard: the content store's file mappings, and a handler that survives their truncation. */
#ifndef AG_DATAPLANE_HTTP_SIGBUS_H
#define AG_DATAPLANE_HTTP_SIGBUS_H

#include <stddef.h>
#include <stdint.h>

/*
 * A file truncated while it is mapped turns reads of the vanished pages into SIGBUS, and the
 * TCP engine reads payload bytes (checksums) on the lcore. With the handler installed, a fault
 * inside a registered mapping is repaired by mapping zero pages from the faulting page to the
 * end of that mapping; the read resumes and sees zeros. The store's revalidation
 * (store_file_check) then aborts the response, so the client gets a reset, never torn data
 * passed off as whole. A fault anywhere else still kills the process as it would without us.
 */

/*
 * Installs the handler, process-wide, before the lcores start. A fault that is not ours goes
 * to whatever handler was there before (the default: death by SIGBUS). Calling it again is a
 * no-op unless someone replaced the handler meanwhile. 0 or -errno.
 */
int sigbus_install(void);

/*
 * Remembers [addr, addr + len) as a file mapping that may be repaired. Safe from any thread.
 * Returns 0, -EINVAL (NULL or empty), -ERANGE (not representable: beyond 47-bit addresses or
 * 2 TiB), -ENOSPC (table full: the caller should not serve from that mapping).
 */
int sigbus_register(const void *addr, size_t len);

/* Forgets a mapping registered with the same addr and len; call before munmap(). */
void sigbus_unregister(const void *addr, size_t len);

/* Faults repaired since start (each is one truncated mapping met, not one page). */
uint64_t sigbus_count(void);

#endif
