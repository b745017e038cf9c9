/* Unit tests for the trust router against tokens captured from the throwaway realm. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "control/trust.h"

#ifndef VECTORS_DIR
#error "VECTORS_DIR must name tests/unit/control/vectors"
#endif

struct vec {
	uint8_t *p;
	size_t len;
};

static struct vec
load(const char *name)
{
	char path[512];
	struct vec v = {NULL, 0};
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", VECTORS_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	v.p = malloc((size_t)n);
	assert_non_null(v.p);
	assert_int_equal(fread(v.p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	v.len = (size_t)n;
	return v;
}

static struct trust_table table;
static uint32_t idx_test;

static int
setup_table(void **state)
{
	struct trust_config cfg;

	(void)state;
	trust_table_init(&table);
	trust_config_defaults(&cfg);
	strcpy(cfg.realm, "CORP.EXAMPLE");
	if (trust_table_add(&table, &cfg, NULL) != 0)
		return -1;
	strcpy(cfg.realm, "AUTHGATE.TEST");
	if (trust_table_add(&table, &cfg, &idx_test) != 0)
		return -1;
	return 0;
}

static int
teardown_table(void **state)
{
	(void)state;
	trust_table_fini(&table);
	return 0;
}

static void
assert_realm(const struct trust_token_info *info, const char *want)
{
	assert_int_equal(info->realm_len, strlen(want));
	assert_memory_equal(info->realm, want, strlen(want));
}

static void
test_raw_krb5(void **state)
{
	struct vec v = load("krb5.bin");
	struct trust_token_info info;
	struct trust_route r;

	(void)state;
	assert_int_equal(trust_parse_token(v.p, v.len, &info), 0);
	assert_int_equal(info.mech, TRUST_MECH_KRB5);
	assert_int_equal(info.spnego, 0);
	assert_realm(&info, "AUTHGATE.TEST");
	assert_int_equal(trust_route_token(&table, v.p, v.len, &r), 0);
	assert_int_equal(r.mech, TRUST_MECH_KRB5);
	assert_int_equal(r.trust_index, idx_test);
	assert_int_equal(idx_test, 1);
	free(v.p);
}

static void
test_spnego_krb5(void **state)
{
	struct vec v = load("spnego.bin");
	struct trust_token_info info;
	struct trust_route r;

	(void)state;
	assert_int_equal(trust_parse_token(v.p, v.len, &info), 0);
	assert_int_equal(info.mech, TRUST_MECH_KRB5);
	assert_int_equal(info.spnego, 1);
	assert_realm(&info, "AUTHGATE.TEST");
	assert_int_equal(trust_route_token(&table, v.p, v.len, &r), 0);
	assert_int_equal(r.trust_index, idx_test);
	assert_int_equal(r.spnego, 1);
	/* the validator hands GSS the inner krb5 token and echoes the offered mechanism */
	assert_int_equal(info.spnego_oid_len, 9);
	assert_memory_equal(info.spnego_oid, "\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", 9);
	assert_true(info.mech_token > v.p && info.mech_token + info.mech_token_len <= v.p + v.len);
	assert_int_equal(info.mech_token[0], 0x60);
	{
		struct trust_token_info inner;

		assert_int_equal(trust_parse_token(info.mech_token, info.mech_token_len, &inner),
				 0);
		assert_int_equal(inner.spnego, 0);
		assert_realm(&inner, "AUTHGATE.TEST");
	}
	free(v.p);
}

static void
test_ntlm_raw_and_spnego(void **state)
{
	struct vec raw = load("ntlm.bin"), sp = load("spnego-ntlm.bin");
	struct trust_token_info info;
	struct trust_route r;

	(void)state;
	assert_int_equal(trust_parse_token(raw.p, raw.len, &info), 0);
	assert_int_equal(info.mech, TRUST_MECH_NTLM);
	assert_int_equal(info.ntlm_msg_type, 1);
	assert_string_equal(trust_mech_str(info.mech), "ntlm");
	assert_int_equal(trust_route_token(&table, sp.p, sp.len, &r), 0);
	assert_int_equal(r.mech, TRUST_MECH_NTLM);
	assert_int_equal(r.spnego, 1);
	assert_int_equal(r.trust_index, TRUST_INDEX_NONE);
	free(raw.p);
	free(sp.p);
}

static void
test_unknown_realm(void **state)
{
	struct vec v = load("spnego.bin");
	struct trust_route r;
	uint8_t *at;

	(void)state;
	at = memmem(v.p, v.len, "AUTHGATE.TEST", 13);
	assert_non_null(at);
	memcpy(at, "ELSEWHERE.ORG", 13);
	assert_null(memmem(v.p, v.len, "AUTHGATE.TEST", 13));
	assert_int_equal(trust_route_token(&table, v.p, v.len, &r), -ENOENT);
	/* realms compare exactly, as Kerberos does */
	memcpy(at, "authgate.test", 13);
	assert_int_equal(trust_route_token(&table, v.p, v.len, &r), -ENOENT);
	free(v.p);
}

/* Every prefix of a DER token must be refused, read nothing past its end, and not crash. */
static void
check_truncations(const char *name, int der)
{
	struct vec v = load(name);
	struct trust_token_info info;
	size_t n;

	for (n = 0; n < v.len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		int ret;

		assert_non_null(copy);
		memcpy(copy, v.p, n);
		ret = trust_parse_token(copy, n, &info);
		if (der)
			assert_int_not_equal(ret, 0);
		else if (n < 12)
			assert_int_not_equal(ret, 0);
		free(copy);
	}
	free(v.p);
}

static void
test_truncations(void **state)
{
	(void)state;
	check_truncations("krb5.bin", 1);
	check_truncations("spnego.bin", 1);
	check_truncations("spnego-ntlm.bin", 1);
	check_truncations("ntlm.bin", 0);
}

/* Flip every bit of the SPNEGO token and feed random bytes: answers only, never a crash. */
static void
test_garbage(void **state)
{
	struct vec v = load("spnego.bin");
	struct trust_token_info info;
	uint32_t seed = 12345;
	uint8_t buf[2048];
	size_t i, n;
	int bit, ok = 0;

	(void)state;
	for (i = 0; i < v.len; i++) {
		for (bit = 0; bit < 8; bit++) {
			v.p[i] ^= (uint8_t)(1u << bit);
			if (trust_parse_token(v.p, v.len, &info) == 0 &&
			    info.mech == TRUST_MECH_KRB5)
				assert_true(info.realm >= v.p &&
					    info.realm + info.realm_len <= v.p + v.len);
			v.p[i] ^= (uint8_t)(1u << bit);
		}
	}
	for (i = 0; i < 20000; i++) {
		n = (seed >> 8) % sizeof(buf);
		for (size_t j = 0; j < n; j++) {
			seed = seed * 1103515245u + 12345u;
			buf[j] = (uint8_t)(seed >> 16);
		}
		if (n > 0 && i % 3 == 0)
			buf[0] = 0x60;
		if (trust_parse_token(buf, n, &info) == 0)
			ok++;
	}
	assert_int_equal(ok, 0);
	assert_int_equal(trust_parse_token(NULL, 0, &info), -EBADMSG);
	free(v.p);
}

static void
test_spnego_without_mech_token(void **state)
{
	/* NegTokenInit offering only krb5 and carrying no optimistic token */
	static const uint8_t tok[] = {
		0x60, 0x19, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x0f, 0x30, 0x0d,
		0xa0, 0x0b, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01,
	};
	static const uint8_t full[] = {
		0x60, 0x1b, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02,
		0xa0, 0x11, 0x30, 0x0f, 0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09,
		0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
	};
	struct trust_token_info info;
	struct trust_route r;

	(void)state;
	assert_int_equal(trust_parse_token(tok, sizeof(tok), &info), -ENODATA);
	assert_int_equal(info.mech, TRUST_MECH_UNKNOWN);
	assert_int_equal(trust_parse_token(full, sizeof(full), &info), -ENODATA);
	assert_int_equal(info.mech, TRUST_MECH_KRB5);
	assert_int_equal(trust_route_token(&table, full, sizeof(full), &r), -ENODATA);
}

static void
test_config_and_table(void **state)
{
	struct trust_config cfg;
	struct trust_table t;
	const char *why = NULL;
	struct sema_stats st;
	uint32_t idx;

	(void)state;
	trust_config_defaults(&cfg);
	assert_int_equal(cfg.max_concurrent_api, 10);
	assert_int_equal(cfg.timeout_ns, 45ULL * 1000000000ULL);
	assert_int_equal(cfg.replay_cache, 1);
	assert_int_equal(trust_config_check(&cfg, &why), -EINVAL);
	assert_string_equal(why, "realm must be 1..255 characters");
	strcpy(cfg.realm, "AUTHGATE.TEST");
	assert_int_equal(trust_config_check(&cfg, NULL), 0);
	cfg.max_concurrent_api = 151;
	assert_int_equal(trust_config_check(&cfg, &why), -EINVAL);
	assert_string_equal(why, "max_concurrent_api must be 1..150");
	cfg.max_concurrent_api = 150;

	trust_table_init(&t);
	assert_int_equal(trust_table_add(&t, &cfg, &idx), 0);
	assert_int_equal(trust_table_add(&t, &cfg, &idx), -EEXIST);
	sema_get_stats(t.trusts[idx].sema, &st);
	assert_int_equal(st.slots, 150);
	assert_int_equal(trust_lookup_realm(&t, (const uint8_t *)"AUTHGATE.TEST", 13, &idx), 0);
	assert_int_equal(trust_lookup_realm(&t, (const uint8_t *)"AUTHGATE.TES", 12, &idx),
			 -ENOENT);
	trust_table_fini(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw_krb5),
		cmocka_unit_test(test_spnego_krb5),
		cmocka_unit_test(test_ntlm_raw_and_spnego),
		cmocka_unit_test(test_unknown_realm),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_spnego_without_mech_token),
		cmocka_unit_test(test_config_and_table),
	};

	return cmocka_run_group_tests(tests, setup_table, teardown_table);
}
