/* require_group membership: a PAC's group SIDs (NDR, MS-PAC 2.5) or winbind's, as bits. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h> /* wbclient.h uses bool without including it */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <wbclient.h>

#include "control/groups.h"

/* ---- NDR: a little-endian reader that never reads past its buffer ---- */

struct ndr {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool bad;
};

static void
ndr_align(struct ndr *r, size_t a)
{
	r->off = (r->off + a - 1) & ~(a - 1);
	if (r->off > r->len)
		r->bad = true;
}

static uint32_t
ndr_u32(struct ndr *r)
{
	uint32_t v;

	ndr_align(r, 4);
	if (r->bad || r->len - r->off < 4) {
		r->bad = true;
		return 0;
	}
	v = (uint32_t)r->p[r->off] | (uint32_t)r->p[r->off + 1] << 8 |
	    (uint32_t)r->p[r->off + 2] << 16 | (uint32_t)r->p[r->off + 3] << 24;
	r->off += 4;
	return v;
}

static void
ndr_skip(struct ndr *r, size_t n)
{
	if (r->bad || r->len - r->off < n)
		r->bad = true;
	else
		r->off += n;
}

/* An RPC_SID referent (conformant: its sub-authority count first) as "S-1-...". */
static void
ndr_sid(struct ndr *r, char *out, size_t size, uint32_t *rid_base_out, bool *ok_out)
{
	uint32_t count = ndr_u32(r);
	uint64_t auth = 0;
	int n;

	*ok_out = false;
	if (r->bad || count > 15 || r->len - r->off < 8 + 4 * (size_t)count) {
		r->bad = true;
		return;
	}
	if (r->p[r->off] != 1 || r->p[r->off + 1] != count) {
		r->bad = true;
		return;
	}
	for (int i = 0; i < 6; i++)
		auth = auth << 8 | r->p[r->off + 2 + i];
	r->off += 8;
	n = snprintf(out, size, "S-1-%" PRIu64, auth);
	for (uint32_t i = 0; i < count && n > 0 && (size_t)n < size; i++)
		n += snprintf(out + n, size - n, "-%" PRIu32, ndr_u32(r));
	if (rid_base_out != NULL)
		*rid_base_out = count;
	*ok_out = !r->bad && n > 0 && (size_t)n < size;
}

/* A conformant varying WCHAR array (an RPC_UNICODE_STRING's buffer): skipped. */
static void
ndr_skip_string(struct ndr *r)
{
	uint32_t max = ndr_u32(r), off = ndr_u32(r), actual = ndr_u32(r);

	if (r->bad || off > max || actual > max - off) {
		r->bad = true;
		return;
	}
	ndr_skip(r, 2 * (size_t)actual);
}

struct sid_sink {
	char (*sids)[GROUPS_SID_MAX];
	unsigned int max;
	unsigned int n;
};

static void
sink_add(struct sid_sink *s, const char *sid)
{
	if (s->n < s->max)
		snprintf(s->sids[s->n++], GROUPS_SID_MAX, "%s", sid);
}

/* domain + "-rid" into the sink */
static void
sink_add_rid(struct sid_sink *s, const char *domain, uint32_t rid)
{
	char sid[GROUPS_SID_MAX];

	if (snprintf(sid, sizeof(sid), "%s-%" PRIu32, domain, rid) < (int)sizeof(sid))
		sink_add(s, sid);
}

/* A GROUP_MEMBERSHIP array referent: (RelativeId, Attributes) pairs, RIDs of domain. */
static void
ndr_rids(struct ndr *r, uint32_t count, const char *domain, struct sid_sink *s)
{
	uint32_t max = ndr_u32(r);

	if (r->bad || max != count || r->len - r->off < 8 * (size_t)count) {
		r->bad = true;
		return;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint32_t rid = ndr_u32(r);

		ndr_u32(r); /* attributes */
		if (domain[0] != '\0')
			sink_add_rid(s, domain, rid);
	}
}

int
groups_pac_sids(const uint8_t *ndr, size_t len, char (*sids)[GROUPS_SID_MAX], unsigned int max)
{
	struct ndr r = {.p = ndr, .len = len};
	struct sid_sink s = {.sids = sids, .max = max};
	uint32_t ptr_strings[6], ptr_groups, group_count, user_id, ptr_server, ptr_domain_name;
	uint32_t ptr_domain_id, sid_count, ptr_extra, ptr_res_domain, res_count, ptr_res;
	char domain[GROUPS_SID_MAX] = "", res_domain[GROUPS_SID_MAX] = "";
	bool ok;

	/* type serialization v1: common header (version 1, little-endian), private header */
	if (len < 20 || ndr[0] != 1 || ndr[1] != 0x10)
		return -EBADMSG;
	r.off = 16;
	if (ndr_u32(&r) == 0) /* the referent of the top-level pointer */
		return -EBADMSG;
	ndr_skip(&r, 6 * 8); /* the six FILETIMEs */
	for (int i = 0; i < 6; i++) {
		ndr_u32(&r); /* Length, MaximumLength */
		ptr_strings[i] = ndr_u32(&r);
	}
	ndr_u32(&r); /* LogonCount, BadPasswordCount */
	user_id = ndr_u32(&r);
	ndr_u32(&r); /* PrimaryGroupId: in GroupIds as well */
	group_count = ndr_u32(&r);
	ptr_groups = ndr_u32(&r);
	ndr_u32(&r);	  /* UserFlags */
	ndr_skip(&r, 16); /* UserSessionKey */
	ndr_u32(&r);
	ptr_server = ndr_u32(&r);
	ndr_u32(&r);
	ptr_domain_name = ndr_u32(&r);
	ptr_domain_id = ndr_u32(&r);
	ndr_skip(&r, 8);     /* Reserved1 */
	ndr_skip(&r, 4 + 4); /* UserAccountControl, SubAuthStatus */
	ndr_skip(&r, 8 + 8); /* LastSuccessfulILogon, LastFailedILogon */
	ndr_skip(&r, 4 + 4); /* FailedILogonCount, Reserved3 */
	sid_count = ndr_u32(&r);
	ptr_extra = ndr_u32(&r);
	ptr_res_domain = ndr_u32(&r);
	res_count = ndr_u32(&r);
	ptr_res = ndr_u32(&r);
	if (r.bad || group_count > 4096 || sid_count > 4096 || res_count > 4096)
		return -EBADMSG;

	/* the deferred referents, in the order their pointers came */
	for (int i = 0; i < 6; i++)
		if (ptr_strings[i] != 0)
			ndr_skip_string(&r);
	/* GroupIds come before the domain SID they are relative to: remember where they are */
	{
		struct ndr groups_at = r;

		if (ptr_groups != 0) {
			char none[1] = "";
			struct sid_sink nothing = {0};

			ndr_rids(&r, group_count, none, &nothing);
		}
		if (ptr_server != 0)
			ndr_skip_string(&r);
		if (ptr_domain_name != 0)
			ndr_skip_string(&r);
		if (ptr_domain_id != 0) {
			ndr_sid(&r, domain, sizeof(domain), NULL, &ok);
			if (!ok)
				return -EBADMSG;
			sink_add_rid(&s, domain, user_id);
			if (ptr_groups != 0)
				ndr_rids(&groups_at, group_count, domain, &s);
		}
	}
	if (ptr_extra != 0) {
		uint32_t n = ndr_u32(&r);
		uint32_t ptrs[4096];

		if (r.bad || n != sid_count)
			return -EBADMSG;
		for (uint32_t i = 0; i < n; i++) {
			ptrs[i] = ndr_u32(&r);
			ndr_u32(&r); /* attributes */
		}
		for (uint32_t i = 0; i < n && !r.bad; i++) {
			char sid[GROUPS_SID_MAX];

			if (ptrs[i] == 0)
				continue;
			ndr_sid(&r, sid, sizeof(sid), NULL, &ok);
			if (!ok)
				return -EBADMSG;
			sink_add(&s, sid);
		}
	}
	if (ptr_res_domain != 0) {
		ndr_sid(&r, res_domain, sizeof(res_domain), NULL, &ok);
		if (!ok)
			return -EBADMSG;
	}
	if (ptr_res != 0)
		ndr_rids(&r, res_count, res_domain, &s);
	return r.bad ? -EBADMSG : (int)s.n;
}

uint64_t
groups_mask(const struct groups_table *t, const char (*sids)[GROUPS_SID_MAX], unsigned int n)
{
	uint64_t mask = 0;

	for (unsigned int g = 0; g < t->n; g++) {
		if (!__atomic_load_n(&t->ready[g], __ATOMIC_ACQUIRE))
			continue;
		for (unsigned int i = 0; i < n; i++)
			if (strcasecmp(t->sid[g], sids[i]) == 0) {
				mask |= 1ull << g;
				break;
			}
	}
	return mask;
}

/* "DOMAIN\name" or "name@DOMAIN" split; false when it is neither. */
static bool
split_name(const char *full, char *domain, size_t dsize, char *name, size_t nsize)
{
	const char *bs = strchr(full, '\\'), *at = strrchr(full, '@');

	if (bs != NULL) {
		snprintf(domain, dsize, "%.*s", (int)(bs - full), full);
		snprintf(name, nsize, "%s", bs + 1);
		return true;
	}
	if (at != NULL) {
		snprintf(name, nsize, "%.*s", (int)(at - full), full);
		snprintf(domain, dsize, "%s", at + 1);
		return true;
	}
	return false;
}

static struct wbcContext *
wb_ctx(void **wb)
{
	if (*wb == NULL)
		*wb = wbcCtxCreate();
	return *wb;
}

unsigned int
groups_retry(struct groups_table *t, char *err, size_t err_size)
{
	void *wb = NULL;
	unsigned int bad = 0;
	size_t used = 0;

	if (err_size > 0)
		err[0] = '\0';
	for (unsigned int i = 0; i < t->n; i++) {
		char domain[128], name[128];
		struct wbcDomainSid sid;
		enum wbcSidType type;
		wbcErr rc = WBC_ERR_INVALID_PARAM;

		if (__atomic_load_n(&t->ready[i], __ATOMIC_ACQUIRE))
			continue;
		if (strncasecmp(t->entry[i], "S-1-", 4) == 0) {
			/* entry is 128 bytes, sid GROUPS_SID_MAX: it fits */
			memcpy(t->sid[i], t->entry[i], sizeof(t->entry[i]));
			__atomic_store_n(&t->ready[i], 1, __ATOMIC_RELEASE);
			continue;
		}
		if (split_name(t->entry[i], domain, sizeof(domain), name, sizeof(name)) &&
		    wb_ctx(&wb) != NULL)
			rc = wbcCtxLookupName(wb, domain, name, &sid, &type);
		if (WBC_ERROR_IS_OK(rc)) {
			wbcSidToStringBuf(&sid, t->sid[i], GROUPS_SID_MAX);
			__atomic_store_n(&t->ready[i], 1, __ATOMIC_RELEASE);
			continue;
		}
		bad++;
		if (used < err_size)
			used += (size_t)snprintf(err + used, err_size - used, "%s'%s' (%s)",
						 used ? ", " : "", t->entry[i], wbcErrorString(rc));
	}
	if (wb != NULL)
		wbcCtxFree(wb);
	return bad;
}

unsigned int
groups_resolve(struct groups_table *t, const char (*entries)[128], unsigned int n, char *err,
	       size_t err_size)
{
	memset(t, 0, sizeof(*t));
	t->n = n > GROUPS_MAX ? GROUPS_MAX : n;
	for (unsigned int i = 0; i < t->n; i++) {
		size_t len = strnlen(entries[i], sizeof(t->entry[i]) - 1);

		memcpy(t->entry[i], entries[i], len);
		t->entry[i][len] = '\0';
	}
	return groups_retry(t, err, err_size);
}

int
groups_winbind_sids(void **wb, const char *principal, char (*sids)[GROUPS_SID_MAX],
		    unsigned int max)
{
	char domain[128], name[128];
	struct wbcDomainSid user, *list = NULL;
	enum wbcSidType type;
	uint32_t count = 0;
	unsigned int n = 0;
	wbcErr rc;

	if (!split_name(principal, domain, sizeof(domain), name, sizeof(name)))
		return -ENOENT;
	if (wb_ctx(wb) == NULL)
		return -EIO;
	rc = wbcCtxLookupName(*wb, domain, name, &user, &type);
	if (!WBC_ERROR_IS_OK(rc))
		return rc == WBC_ERR_DOMAIN_NOT_FOUND || rc == WBC_ERR_INVALID_SID ? -ENOENT : -EIO;
	if (n < max)
		wbcSidToStringBuf(&user, sids[n++], GROUPS_SID_MAX);
	rc = wbcCtxLookupUserSids(*wb, &user, false, &count, &list);
	if (!WBC_ERROR_IS_OK(rc))
		return -EIO;
	for (uint32_t i = 0; i < count && n < max; i++)
		wbcSidToStringBuf(&list[i], sids[n++], GROUPS_SID_MAX);
	wbcFreeMemory(list);
	return (int)n;
}
