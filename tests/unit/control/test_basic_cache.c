/* Unit tests for the Basic credential cache: hits, TTL (fake clock), new passwords, capacity. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "control/basic_cache.h"

#define NOW_S 1700000000 /* Unix seconds the tests pretend it is */
#define SEC   1000000000ull

static uint64_t fake_ns;

static uint64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_ns;
}

static struct basic_cache *
make(uint32_t ttl_s, uint32_t entries)
{
	struct basic_cache_config cfg = {
		.ttl_s = ttl_s,
		.entries = entries,
		.clock = fake_clock,
	};
	struct basic_cache *c;

	fake_ns = 1000 * SEC;
	c = basic_cache_create(&cfg);
	assert_non_null(c);
	return c;
}

/* The key for "cred" (user:password, bare) in realm R. */
static void
key_of(const struct basic_cache *c, const char *cred, uint8_t key[BASIC_CACHE_KEY_LEN])
{
	struct basic_view bv;

	assert_int_equal(basic_parse((const uint8_t *)cred, strlen(cred), &bv), 0);
	basic_cache_key(c, "AUTHGATE.TEST", &bv, key);
}

static void
verdict(struct kw_verdict *v, enum kw_reason reason, const char *principal)
{
	memset(v, 0, sizeof(*v));
	v->reason = reason;
	snprintf(v->principal, sizeof(v->principal), "%s", principal);
	v->expires_at = NOW_S + 36000;
}

/* Looks cred up as the service does, and on a miss stores the KDC's answer. */
static int
login(struct basic_cache *c, const char *cred, enum kw_reason kdc_says, const char *principal)
{
	uint8_t key[BASIC_CACHE_KEY_LEN];
	struct basic_cache_hit hit;
	struct kw_verdict v;
	uint64_t started;

	key_of(c, cred, key);
	if (basic_cache_lookup(c, key, NOW_S, &hit, &started) == 0) {
		assert_string_equal(hit.principal, principal);
		return 1; /* hit */
	}
	verdict(&v, kdc_says, principal);
	basic_cache_record(c, key, started, &v);
	return 0;
}

static void
test_config_bounds(void **state)
{
	struct basic_cache_config cfg = {.ttl_s = 0, .entries = 4096};

	(void)state;
	assert_null(basic_cache_create(&cfg));
	assert_int_equal(errno, EINVAL);
	cfg.ttl_s = BASIC_CACHE_TTL_MAX_S + 1;
	assert_null(basic_cache_create(&cfg));
	cfg.ttl_s = 60;
	cfg.entries = BASIC_CACHE_ENTRIES_MIN - 1;
	assert_null(basic_cache_create(&cfg));
	cfg.entries = BASIC_CACHE_ENTRIES_MAX + 1;
	assert_null(basic_cache_create(&cfg));
	cfg.entries = BASIC_CACHE_ENTRIES_MAX;
	basic_cache_destroy(basic_cache_create(&cfg));
}

static void
test_keys(void **state)
{
	uint8_t a[BASIC_CACHE_KEY_LEN], b[BASIC_CACHE_KEY_LEN];
	struct basic_cache *c1 = make(60, 16), *c2 = make(60, 16);
	struct basic_view bv;
	const char *cred = "user1:pw";

	(void)state;
	key_of(c1, "user1:pw", a);
	key_of(c1, "user1:pw", b);
	assert_memory_equal(a, b, sizeof(a));
	/* the three spellings of a user route to the same realm and make the same key */
	key_of(c1, "AUTHGATE\\user1:pw", b);
	assert_memory_equal(a, b, sizeof(a));
	key_of(c1, "user1:pW", b);
	assert_memory_not_equal(a, b, sizeof(a));
	key_of(c1, "user2:pw", b);
	assert_memory_not_equal(a, b, sizeof(a));
	/* length prefixes: moving bytes between user and password changes the key */
	key_of(c1, "user1p:w", b);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(basic_parse((const uint8_t *)cred, strlen(cred), &bv), 0);
	basic_cache_key(c1, "OTHER.TEST", &bv, b);
	assert_memory_not_equal(a, b, sizeof(a));
	/* a salt per cache (per process): the same credentials hash apart */
	key_of(c2, "user1:pw", b);
	assert_memory_not_equal(a, b, sizeof(a));
	basic_cache_destroy(c1);
	basic_cache_destroy(c2);
}

static void
test_hit(void **state)
{
	struct basic_cache *c = make(60, 16);
	struct basic_cache_stats st;
	uint8_t key[BASIC_CACHE_KEY_LEN];
	struct basic_cache_hit hit;

	(void)state;
	assert_int_equal(login(c, "user1:pw", KW_OK, "user1@AUTHGATE.TEST"), 0);
	assert_int_equal(login(c, "user1:pw", KW_OK, "user1@AUTHGATE.TEST"), 1);
	assert_int_equal(login(c, "user1@AUTHGATE.TEST:pw", KW_OK, "user1@AUTHGATE.TEST"), 1);
	key_of(c, "user1:pw", key);
	assert_int_equal(basic_cache_lookup(c, key, NOW_S, &hit, NULL), 0);
	assert_int_equal(hit.expires_at, NOW_S + 36000);
	/* another password of the same user is not a hit */
	key_of(c, "user1:other", key);
	assert_int_equal(basic_cache_lookup(c, key, NOW_S, &hit, NULL), -ENOENT);
	basic_cache_get_stats(c, &st);
	assert_int_equal(st.hits, 3);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.inserts, 1);
	assert_int_equal(st.live, 1);
	basic_cache_destroy(c);
}

static void
test_failure_not_cached(void **state)
{
	static const enum kw_reason refusals[] = {
		KW_ERR_BAD_PASSWORD,	KW_ERR_CLIENT_UNKNOWN, KW_ERR_KDC_NOT_VERIFIED,
		KW_ERR_KDC_UNREACHABLE, KW_ERR_BUSY_TIMEOUT,   KW_ERR_INTERNAL,
	};
	struct basic_cache *c = make(60, 16);
	struct basic_cache_stats st;
	uint8_t key[BASIC_CACHE_KEY_LEN];
	struct kw_verdict v;

	(void)state;
	key_of(c, "user1:wrong", key);
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		verdict(&v, refusals[i], "user1@AUTHGATE.TEST");
		assert_false(basic_cache_record(c, key, fake_ns, &v));
		assert_int_equal(login(c, "user1:wrong", refusals[i], "user1@AUTHGATE.TEST"), 0);
	}
	/* a success without a principal is not one either */
	verdict(&v, KW_OK, "");
	assert_false(basic_cache_record(c, key, fake_ns, &v));
	basic_cache_get_stats(c, &st);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.inserts, 0);
	assert_int_equal(st.live, 0);
	/* a refusal leaves the principal's verified password alone */
	assert_int_equal(login(c, "user1:right", KW_OK, "user1@AUTHGATE.TEST"), 0);
	assert_int_equal(login(c, "user1:wrong", KW_ERR_BAD_PASSWORD, "user1@AUTHGATE.TEST"), 0);
	assert_int_equal(login(c, "user1:right", KW_OK, "user1@AUTHGATE.TEST"), 1);
	basic_cache_destroy(c);
}

static void
test_ttl(void **state)
{
	struct basic_cache *c = make(30, 16);
	struct basic_cache_stats st;
	uint8_t key[BASIC_CACHE_KEY_LEN];
	struct basic_cache_hit hit;
	struct kw_verdict v;

	(void)state;
	assert_int_equal(login(c, "user1:pw", KW_OK, "user1@AUTHGATE.TEST"), 0);
	fake_ns += 29 * SEC;
	/* hits do not extend the TTL: it runs from the KDC's verification */
	assert_int_equal(login(c, "user1:pw", KW_OK, "user1@AUTHGATE.TEST"), 1);
	fake_ns += 1 * SEC;
	assert_int_equal(login(c, "user1:pw", KW_OK, "user1@AUTHGATE.TEST"), 0);
	assert_int_equal(login(c, "user1:pw", KW_OK, "user1@AUTHGATE.TEST"), 1);
	basic_cache_get_stats(c, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.live, 1);

	/* nor does a hit outlive the TGT it stood for */
	key_of(c, "user2:pw", key);
	verdict(&v, KW_OK, "user2@AUTHGATE.TEST");
	v.expires_at = NOW_S + 10;
	assert_true(basic_cache_record(c, key, fake_ns, &v));
	assert_int_equal(basic_cache_lookup(c, key, NOW_S + 9, &hit, NULL), 0);
	assert_int_equal(basic_cache_lookup(c, key, NOW_S + 10, &hit, NULL), -ENOENT);
	basic_cache_get_stats(c, &st);
	assert_int_equal(st.expired, 2);
	basic_cache_destroy(c);
}

static void
test_new_password_evicts(void **state)
{
	struct basic_cache *c = make(60, 16);
	struct basic_cache_stats st;
	uint8_t old_key[BASIC_CACHE_KEY_LEN], key[BASIC_CACHE_KEY_LEN];
	struct basic_cache_hit hit;
	struct kw_verdict v;
	uint64_t started;

	(void)state;
	assert_int_equal(login(c, "user1:old", KW_OK, "user1@AUTHGATE.TEST"), 0);
	assert_int_equal(login(c, "user2:pw", KW_OK, "user2@AUTHGATE.TEST"), 0);
	/* the old password is still answered from the cache until a new one is verified */
	assert_int_equal(login(c, "user1:old", KW_OK, "user1@AUTHGATE.TEST"), 1);
	fake_ns += SEC;
	assert_int_equal(login(c, "user1:new", KW_OK, "user1@AUTHGATE.TEST"), 0);
	/* the old password now goes to the KDC, which refuses it, and stays out */
	assert_int_equal(login(c, "user1:old", KW_ERR_BAD_PASSWORD, "user1@AUTHGATE.TEST"), 0);
	assert_int_equal(login(c, "user1:old", KW_ERR_BAD_PASSWORD, "user1@AUTHGATE.TEST"), 0);
	assert_int_equal(login(c, "user1:new", KW_OK, "user1@AUTHGATE.TEST"), 1);
	/* other principals are untouched */
	assert_int_equal(login(c, "user2:pw", KW_OK, "user2@AUTHGATE.TEST"), 1);
	basic_cache_get_stats(c, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.live, 2);

	/*
	 * An old-password validation that began before the new password was verified and
	 * succeeded after it (the KDC still had the old key then) must not evict the new one.
	 */
	key_of(c, "user1:old", old_key);
	assert_int_equal(basic_cache_lookup(c, old_key, NOW_S, &hit, &started), -ENOENT);
	fake_ns += SEC;
	assert_int_equal(login(c, "user1:newer", KW_OK, "user1@AUTHGATE.TEST"), 0);
	verdict(&v, KW_OK, "user1@AUTHGATE.TEST");
	assert_false(basic_cache_record(c, old_key, started, &v));
	key_of(c, "user1:newer", key);
	assert_int_equal(basic_cache_lookup(c, key, NOW_S, &hit, NULL), 0);
	assert_int_equal(basic_cache_lookup(c, old_key, NOW_S, &hit, NULL), -ENOENT);
	basic_cache_destroy(c);
}

static void
test_capacity(void **state)
{
	struct basic_cache *c = make(60, BASIC_CACHE_ENTRIES_MIN);
	struct basic_cache_stats st;
	char cred[64], principal[64];

	(void)state;
	for (unsigned int i = 0; i < BASIC_CACHE_ENTRIES_MIN; i++) {
		snprintf(cred, sizeof(cred), "user%u:pw", i);
		snprintf(principal, sizeof(principal), "user%u@AUTHGATE.TEST", i);
		assert_int_equal(login(c, cred, KW_OK, principal), 0);
	}
	/* user0 used again: user1 is now the least recently used */
	assert_int_equal(login(c, "user0:pw", KW_OK, "user0@AUTHGATE.TEST"), 1);
	assert_int_equal(login(c, "extra:pw", KW_OK, "extra@AUTHGATE.TEST"), 0);
	basic_cache_get_stats(c, &st);
	assert_int_equal(st.live, BASIC_CACHE_ENTRIES_MIN);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(login(c, "user0:pw", KW_OK, "user0@AUTHGATE.TEST"), 1);
	assert_int_equal(login(c, "user2:pw", KW_OK, "user2@AUTHGATE.TEST"), 1);
	assert_int_equal(login(c, "extra:pw", KW_OK, "extra@AUTHGATE.TEST"), 1);
	/* user1 was evicted: a miss, which stores it again and evicts the next oldest (user3) */
	assert_int_equal(login(c, "user1:pw", KW_OK, "user1@AUTHGATE.TEST"), 0);
	assert_int_equal(login(c, "user3:pw", KW_OK, "user3@AUTHGATE.TEST"), 0);
	basic_cache_get_stats(c, &st);
	assert_int_equal(st.live, BASIC_CACHE_ENTRIES_MIN);
	assert_int_equal(st.evictions, 3);
	/* many more than fit: the table stays consistent and bounded */
	for (unsigned int i = 0; i < 10 * BASIC_CACHE_ENTRIES_MIN; i++) {
		snprintf(cred, sizeof(cred), "many%u:pw", i);
		snprintf(principal, sizeof(principal), "many%u@AUTHGATE.TEST", i);
		assert_int_equal(login(c, cred, KW_OK, principal), 0);
		assert_int_equal(login(c, cred, KW_OK, principal), 1);
	}
	basic_cache_get_stats(c, &st);
	assert_int_equal(st.live, BASIC_CACHE_ENTRIES_MIN);
	basic_cache_destroy(c);
}

/* A revoked principal is forgotten, whatever the case of the revocation; others stay. */
static void
test_forget(void **state)
{
	struct basic_cache *c = make(60, 16);
	struct basic_cache_stats st;

	(void)state;
	assert_int_equal(login(c, "user1:pw", KW_OK, "user1@AUTHGATE.TEST"), 0);
	assert_int_equal(login(c, "user2:pw", KW_OK, "user2@AUTHGATE.TEST"), 0);
	assert_int_equal(basic_cache_forget(c, "USER1@authgate.test"), 1);
	assert_int_equal(basic_cache_forget(c, "nobody@AUTHGATE.TEST"), 0);
	/* asked of the KDC again: a miss */
	assert_int_equal(login(c, "user1:pw", KW_OK, "user1@AUTHGATE.TEST"), 0);
	assert_int_equal(login(c, "user2:pw", KW_OK, "user2@AUTHGATE.TEST"), 1);
	basic_cache_get_stats(c, &st);
	assert_int_equal(st.live, 2);
	basic_cache_destroy(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_bounds), cmocka_unit_test(test_keys),
		cmocka_unit_test(test_hit),	      cmocka_unit_test(test_failure_not_cached),
		cmocka_unit_test(test_ttl),	      cmocka_unit_test(test_new_password_evicts),
		cmocka_unit_test(test_capacity),      cmocka_unit_test(test_forget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
