/* PAC group SIDs (MS-PAC KERB_VALIDATION_INFO in NDR) and require_group bits; hostile buffers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control/groups.h"

struct buf {
	uint8_t b[1024];
	size_t n;
};

static void
u32(struct buf *b, uint32_t v)
{
	while (b->n % 4)
		b->b[b->n++] = 0;
	for (int i = 0; i < 4; i++)
		b->b[b->n++] = (uint8_t)(v >> (8 * i));
}

static void
zeros(struct buf *b, size_t n)
{
	memset(b->b + b->n, 0, n);
	b->n += n;
}

/* S-1-auth-subs... as NDR: count, revision, count, authority (big-endian), sub-authorities */
static void
sid(struct buf *b, uint8_t auth, const uint32_t *subs, uint8_t n)
{
	u32(b, n);
	b->b[b->n++] = 1;
	b->b[b->n++] = n;
	zeros(b, 5);
	b->b[b->n++] = auth;
	for (uint8_t i = 0; i < n; i++)
		u32(b, subs[i]);
}

/* user 1104 of S-1-5-21-1-2-3, in 513 and 1105, with the extra SID S-1-18-1 */
static void
sample_pac(struct buf *b)
{
	static const uint32_t dom[] = {21, 1, 2, 3};
	static const uint32_t extra[] = {1};

	memset(b, 0, sizeof(*b));
	memcpy(b->b, "\x01\x10\x08\x00\xcc\xcc\xcc\xcc", 8);
	b->n = 8;
	u32(b, 0); /* object length (unchecked) */
	u32(b, 0);
	u32(b, 0x20000); /* the top-level referent */
	zeros(b, 48);	 /* FILETIMEs */
	for (int i = 0; i < 6; i++) {
		u32(b, 0);
		u32(b, 0); /* no buffer */
	}
	u32(b, 0);	 /* logon and bad password counts */
	u32(b, 1104);	 /* UserId */
	u32(b, 513);	 /* PrimaryGroupId */
	u32(b, 2);	 /* GroupCount */
	u32(b, 0x20004); /* GroupIds */
	u32(b, 0);	 /* UserFlags */
	zeros(b, 16);
	u32(b, 0);
	u32(b, 0); /* LogonServer */
	u32(b, 0);
	u32(b, 0);	 /* LogonDomainName */
	u32(b, 0x20008); /* LogonDomainId */
	zeros(b, 8 + 8 + 16 + 8);
	u32(b, 1);	 /* SidCount */
	u32(b, 0x2000c); /* ExtraSids */
	u32(b, 0);	 /* ResourceGroupDomainSid */
	u32(b, 0);	 /* ResourceGroupCount */
	u32(b, 0);	 /* ResourceGroupIds */
	/* deferred: GroupIds, the domain SID, ExtraSids and its SID */
	u32(b, 2);
	u32(b, 513);
	u32(b, 7);
	u32(b, 1105);
	u32(b, 7);
	sid(b, 5, dom, 4);
	u32(b, 1);
	u32(b, 0x20010);
	u32(b, 7);
	sid(b, 18, extra, 1);
}

static void
test_pac_sids(void **state)
{
	struct buf b;
	char sids[16][GROUPS_SID_MAX];
	int n;

	(void)state;
	sample_pac(&b);
	n = groups_pac_sids(b.b, b.n, sids, 16);
	assert_int_equal(n, 4);
	assert_string_equal(sids[0], "S-1-5-21-1-2-3-1104");
	assert_string_equal(sids[1], "S-1-5-21-1-2-3-513");
	assert_string_equal(sids[2], "S-1-5-21-1-2-3-1105");
	assert_string_equal(sids[3], "S-1-18-1");
}

/* Every truncation and every single-byte corruption: an answer or -EBADMSG, never a crash. */
static void
test_pac_hostile(void **state)
{
	struct buf b, c;
	char sids[16][GROUPS_SID_MAX];
	int n;

	(void)state;
	sample_pac(&b);
	for (size_t len = 0; len < b.n; len++) {
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, b.b, len); /* exact size: ASan sees any read past it */
		assert_int_equal(groups_pac_sids(copy, len, sids, 16), -EBADMSG);
		free(copy);
	}
	for (size_t i = 0; i < b.n; i++) {
		for (int v = 0; v < 256; v += 51) {
			uint8_t *copy = malloc(b.n);

			c = b;
			c.b[i] = (uint8_t)v;
			memcpy(copy, c.b, c.n);
			n = groups_pac_sids(copy, c.n, sids, 16);
			assert_true(n == -EBADMSG || (n >= 0 && n <= 16));
			free(copy);
		}
	}
	/* a count far past the buffer is refused, not believed */
	c = b;
	c.b[16 + 4 + 48 + 48 + 4 + 4 + 4] = 0xff;
	assert_int_equal(groups_pac_sids(c.b, c.n, sids, 16), -EBADMSG);
	/* big-endian NDR is not taken */
	c = b;
	c.b[1] = 0x00;
	assert_int_equal(groups_pac_sids(c.b, c.n, sids, 16), -EBADMSG);
}

static void
test_mask(void **state)
{
	struct groups_table t = {.n = 3, .ready = {1, 1, 0}};
	char sids[2][GROUPS_SID_MAX] = {"S-1-5-21-1-2-3-513", "s-1-18-1"};

	(void)state;
	strcpy(t.sid[0], "S-1-5-21-1-2-3-512");
	strcpy(t.sid[1], "S-1-18-1");
	strcpy(t.sid[2], "S-1-5-21-1-2-3-513"); /* not resolved yet: matches nobody */
	assert_int_equal(groups_mask(&t, (const char(*)[GROUPS_SID_MAX])sids, 2), 1u << 1);
	strcpy(t.sid[0], "S-1-5-21-1-2-3-513");
	assert_int_equal(groups_mask(&t, (const char(*)[GROUPS_SID_MAX])sids, 2), 3u);
}

static void
test_resolve_sids_and_names(void **state)
{
	struct groups_table t;
	const char entries[3][128] = {"S-1-5-21-9-9-9-512", "NOSUCHDOMAIN\\nosuchgroup", "x"};
	char err[256];

	(void)state;
	/* SIDs stand; names need winbind, which knows neither of these (or is not running) */
	assert_int_equal(groups_resolve(&t, entries, 3, err, sizeof(err)), 2);
	assert_int_equal(t.n, 3);
	assert_string_equal(t.sid[0], "S-1-5-21-9-9-9-512");
	assert_true(t.ready[0] && !t.ready[1] && !t.ready[2]);
	assert_non_null(strstr(err, "NOSUCHDOMAIN\\nosuchgroup"));
	/* retried later (winbind coming up): still two, and the resolved one stays */
	assert_int_equal(groups_retry(&t, err, sizeof(err)), 2);
	assert_true(t.ready[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pac_sids),
		cmocka_unit_test(test_pac_hostile),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_resolve_sids_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
