/* Base64 used for Authorization tokens: round trips, what the strict decoder refuses, the lenient
 * one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/b64.h"

static void
test_rfc4648_vectors(void **state)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"",	      "Zg==",	  "Zm8=",    "Zm9v",
					  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	char out[16];
	uint8_t back[16];

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(
			b64_encode((const uint8_t *)plain[i], strlen(plain[i]), out, sizeof(out)),
			strlen(enc[i]));
		assert_string_equal(out, enc[i]);
		if (i == 0)
			continue; /* an empty Authorization token is refused, not decoded */
		assert_int_equal(b64_decode(enc[i], strlen(enc[i]), back, sizeof(back)),
				 strlen(plain[i]));
		assert_memory_equal(back, plain[i], strlen(plain[i]));
	}
}

static void
test_round_trip_all_bytes(void **state)
{
	uint8_t in[300], back[300];
	char enc[512];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 1; n <= sizeof(in); n++) {
		long e = b64_encode(in, n, enc, sizeof(enc));
		assert_int_equal(e, b64_encoded_len(n));
		assert_int_equal(b64_decode(enc, (size_t)e, back, sizeof(back)), n);
		assert_memory_equal(back, in, n);
	}
}

static void
test_strict_refusals(void **state)
{
	static const char *const bad[] = {
		"Zg=",	    /* not a multiple of 4 */
		"Zg==Zg==", /* padding before the end */
		"Z===",	    /* too much padding */
		"Zm9v\n",   /* whitespace */
		"Zm 9",	    /* blank inside */
		"Zh==",	    /* bits after the last byte: two strings would decode alike */
		"Zm9=",	    /* same, one pad */
		"Zm=v",	    /* '=' then data */
		"!!!!",	    /* outside the alphabet */
		"Zm9v-_==", /* URL-safe alphabet is another encoding */
	};
	uint8_t out[16];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (b64_decode(bad[i], strlen(bad[i]), out, sizeof(out)) != -EINVAL) {
			print_error("accepted '%s'\n", bad[i]);
			fail();
		}
	}
	assert_int_equal(b64_decode("", 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 5), -ENOSPC);
	assert_int_equal(b64_encode((const uint8_t *)"foo", 3, (char *)out, 4), -ENOSPC);
}

static void
test_prefix(void **state)
{
	uint8_t out[16];

	(void)state;
	/* stops at the newline a line reader leaves, and at padding */
	assert_int_equal(b64_decode_prefix("Zm9vYmFy\n", out, sizeof(out)), 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(b64_decode_prefix("Zm9vYg==", out, sizeof(out)), 4);
	/* truncated, unpadded: as far as it goes */
	assert_int_equal(b64_decode_prefix("Zm9vY", out, sizeof(out)), 3);
	assert_int_equal(b64_decode_prefix("", out, sizeof(out)), 0);
	/* does not fit: 0, nothing half-written is reported */
	assert_int_equal(b64_decode_prefix("Zm9vYmFy", out, 5), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_round_trip_all_bytes),
		cmocka_unit_test(test_strict_refusals),
		cmocka_unit_test(test_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
