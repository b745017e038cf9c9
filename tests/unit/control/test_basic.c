/* Unit tests for Basic credentials: parsing "user:password" and picking the trust. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "control/basic.h"

static int
parse(const char *s, struct basic_view *bv)
{
	return basic_parse((const uint8_t *)s, strlen(s), bv);
}

static void
assert_view(const char *got, size_t len, const char *want)
{
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
}

static void
test_forms(void **state)
{
	struct basic_view bv;

	(void)state;
	assert_int_equal(parse("user1:Passw0rd", &bv), 0);
	assert_int_equal(bv.form, BASIC_FORM_BARE);
	assert_view(bv.user, bv.user_len, "user1");
	assert_view(bv.password, bv.password_len, "Passw0rd");
	assert_null(bv.where);

	assert_int_equal(parse("user1@AUTHGATE.TEST:pw", &bv), 0);
	assert_int_equal(bv.form, BASIC_FORM_REALM);
	assert_view(bv.user, bv.user_len, "user1");
	assert_view(bv.where, bv.where_len, "AUTHGATE.TEST");

	assert_int_equal(parse("AUTHGATE\\user1:pw", &bv), 0);
	assert_int_equal(bv.form, BASIC_FORM_DOMAIN);
	assert_view(bv.where, bv.where_len, "AUTHGATE");
	assert_view(bv.user, bv.user_len, "user1");

	/* only the first ':' ends the user; passwords may hold more */
	assert_int_equal(parse("u:a:b:c", &bv), 0);
	assert_view(bv.password, bv.password_len, "a:b:c");
	/* the last '@' starts the realm */
	assert_int_equal(parse("a@b@R:pw", &bv), 0);
	assert_view(bv.user, bv.user_len, "a@b");
	assert_view(bv.where, bv.where_len, "R");
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"nocolon",  ":pw",	  "user:",     "@R:pw",	    "user@:pw",	   "\\user:pw",
		"DOM\\:pw", "D\\u\\v:pw", "D\\u@R:pw", "us\ter:pw", "user:p\x7fw",
	};
	struct basic_view bv;
	char big[BASIC_USER_MAX + 8];
	uint8_t nul[] = {'u', ':', 'p', 0, 'w'};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &bv), -EBADMSG);
	/* a NUL would cut the password short inside krb5 */
	assert_int_equal(basic_parse(nul, sizeof(nul), &bv), -EBADMSG);
	memset(big, 'a', sizeof(big));
	big[BASIC_USER_MAX] = ':';
	big[BASIC_USER_MAX + 1] = 'p';
	assert_int_equal(basic_parse((const uint8_t *)big, BASIC_USER_MAX + 2, &bv), -EBADMSG);
	assert_int_equal(basic_parse(NULL, 0, &bv), -EBADMSG);
}

static void
add(struct trust_table *tt, const char *realm, const char *netbios, enum trust_kind kind)
{
	struct trust_config tc;

	trust_config_defaults(&tc);
	strcpy(tc.realm, realm);
	strcpy(tc.netbios_name, netbios);
	tc.kind = kind;
	assert_int_equal(trust_table_add(tt, &tc, NULL), 0);
}

static int
route(const struct trust_table *tt, const char *def, const char *s, uint32_t *idx)
{
	struct basic_view bv;

	*idx = 99;
	return basic_route(tt, def, (const uint8_t *)s, strlen(s), &bv, idx);
}

static void
test_route(void **state)
{
	struct trust_table tt;
	uint32_t idx;

	(void)state;
	trust_table_init(&tt);
	add(&tt, "AUTHGATE.TEST", "AUTHGATE", TRUST_KIND_KERBEROS); /* 0 */
	add(&tt, "OTHER.TEST", "OTHER", TRUST_KIND_BASIC);	    /* 1 */
	add(&tt, "NTDOM", "NTDOM", TRUST_KIND_NTLM);		    /* 2: no KDC, no Basic */

	assert_int_equal(route(&tt, NULL, "user1@AUTHGATE.TEST:pw", &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(route(&tt, NULL, "user1@authgate.test:pw", &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(route(&tt, NULL, "user1@OTHER.TEST:pw", &idx), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(route(&tt, NULL, "authgate\\user1:pw", &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(route(&tt, NULL, "OTHER\\user1:pw", &idx), 0);
	assert_int_equal(idx, 1);
	/* a bare name needs a default trust */
	assert_int_equal(route(&tt, NULL, "user1:pw", &idx), -ENOENT);
	assert_int_equal(route(&tt, "", "user1:pw", &idx), -ENOENT);
	assert_int_equal(route(&tt, "OTHER.TEST", "user1:pw", &idx), 0);
	assert_int_equal(idx, 1);
	/* unknown realms and domains, and an NTLM-only domain, route nowhere */
	assert_int_equal(route(&tt, NULL, "user1@EVIL.TEST:pw", &idx), -ENOENT);
	assert_int_equal(route(&tt, NULL, "EVIL\\user1:pw", &idx), -ENOENT);
	assert_int_equal(route(&tt, NULL, "NTDOM\\user1:pw", &idx), -ENOENT);
	assert_int_equal(route(&tt, "NTDOM", "user1:pw", &idx), -ENOENT);
	assert_int_equal(idx, 99); /* untouched on failure */
	assert_int_equal(route(&tt, NULL, "garbage", &idx), -EBADMSG);
	trust_table_fini(&tt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
