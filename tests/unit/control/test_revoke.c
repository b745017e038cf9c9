/* Revocations: no ceiling, case as the realm says, an end that passes, a lift. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "control/revoke.h"

#define NOW 1800000000

static void
count_cb(const char *principal, int64_t until, void *arg)
{
	(void)principal;
	(void)until;
	(*(unsigned int *)arg)++;
}

static void
test_no_ceiling(void **state)
{
	char p[64];
	unsigned int n = 0;
	uint32_t epoch = revoke_epoch();

	(void)state;
	/* the old table stopped at 256: 5000 is nothing special now */
	for (int i = 0; i < 5000; i++) {
		snprintf(p, sizeof(p), "user%d@AUTHGATE.TEST", i);
		assert_int_equal(revoke_add(p, NOW, 60), 0);
	}
	assert_int_equal(revoke_epoch() - epoch, 5000);
	assert_true(revoke_active("user0@AUTHGATE.TEST", false, NOW));
	assert_true(revoke_active("user4999@AUTHGATE.TEST", false, NOW + 59));
	assert_false(revoke_active("user5000@AUTHGATE.TEST", false, NOW));
	revoke_walk(NOW, count_cb, &n);
	assert_true(n >= 5000);
}

static void
test_case_and_end(void **state)
{
	(void)state;
	assert_int_equal(revoke_add("Alice@CORP.TEST", NOW, 10), 0);
	/* an MIT realm's names are exact; an AD realm (ignore_case) says otherwise */
	assert_false(revoke_active("alice@CORP.TEST", false, NOW));
	assert_true(revoke_active("alice@corp.test", true, NOW));
	assert_true(revoke_active("Alice@CORP.TEST", false, NOW + 9));
	assert_false(revoke_active("Alice@CORP.TEST", false, NOW + 10));
	/* a second revocation moves the end from now */
	assert_int_equal(revoke_add("Alice@CORP.TEST", NOW + 20, 10), 0);
	assert_true(revoke_active("Alice@CORP.TEST", false, NOW + 25));
	/* lifted: over at once, and a lift of nothing in force says so */
	assert_int_equal(revoke_lift("Alice@CORP.TEST", NOW + 26), 0);
	assert_false(revoke_active("Alice@CORP.TEST", false, NOW + 26));
	assert_int_equal(revoke_lift("Alice@CORP.TEST", NOW + 27), -ENOENT);
	assert_int_equal(revoke_lift("nobody@CORP.TEST", NOW), -ENOENT);
}

static void
test_bad_names(void **state)
{
	char big[400];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(revoke_add("", NOW, 10), -EINVAL);
	assert_int_equal(revoke_add(NULL, NOW, 10), -EINVAL);
	assert_int_equal(revoke_add(big, NOW, 10), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_ceiling),
		cmocka_unit_test(test_case_and_end),
		cmocka_unit_test(test_bad_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
