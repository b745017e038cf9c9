/* Group membership for require_group: SIDs from a Kerberos PAC or from winbind, as bits. */
#ifndef AG_CONTROL_GROUPS_H
#define AG_CONTROL_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#define GROUPS_MAX     64   /* bits of a verdict's groups */
#define GROUPS_SID_MAX 192  /* "S-1-5-21-..." with up to 15 sub-authorities */
#define GROUPS_PAC_MAX 1024 /* SIDs taken from one PAC */

/*
 * The configured require_group entries, resolved: bit i is table entry i. An entry winbind
 * could not resolve yet is retried (groups_retry); readers see an entry only once ready is
 * set (release), so a worker never reads a half-written SID.
 */
struct groups_table {
	unsigned int n;
	char entry[GROUPS_MAX][128];	      /* as configured */
	char sid[GROUPS_MAX][GROUPS_SID_MAX]; /* valid once ready[i] */
	uint8_t ready[GROUPS_MAX];
};

/*
 * Resolves entries: a SID ("S-1-...") stays as it is, a name ("DOMAIN\group" or
 * "group@DOMAIN") is looked up with winbind. Returns the number that could not be resolved;
 * each is named in err (they match nobody until groups_retry resolves them).
 */
unsigned int groups_resolve(struct groups_table *t, const char (*entries)[128], unsigned int n,
			    char *err, size_t err_size);
/* Tries the entries not resolved yet again (winbind was still coming up): how many remain. */
unsigned int groups_retry(struct groups_table *t, char *err, size_t err_size);

/* Bits of the table entries that appear among sids. */
uint64_t groups_mask(const struct groups_table *t, const char (*sids)[GROUPS_SID_MAX],
		     unsigned int n);

/*
 * The SIDs of a PAC's KERB_VALIDATION_INFO (MS-PAC 2.5, NDR): the user's (LogonDomainId +
 * UserId), its groups (+ GroupIds), ExtraSids and resource groups. Returns the count, or
 * -EBADMSG for a buffer that is not one.
 */
int groups_pac_sids(const uint8_t *ndr, size_t len, char (*sids)[GROUPS_SID_MAX], unsigned int max);

/*
 * A user's SIDs as winbind knows them (NTLM and Basic users of a domain winbind serves):
 * principal is "DOMAIN\user" or "user@REALM". *wb is the caller's winbind context (made on
 * first use). Returns the count, or -ENOENT (unknown to winbind) / -EIO.
 */
int groups_winbind_sids(void **wb, const char *principal, char (*sids)[GROUPS_SID_MAX],
			unsigned int max);

#endif
