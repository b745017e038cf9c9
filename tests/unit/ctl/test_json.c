/* authgate-ctl's JSON reader and writer: valid documents, every malformation, depth, big numbers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/ctl_json.h"

static struct ctl_json *
parse_ok(const char *text)
{
	struct ctl_json_error err;
	struct ctl_json *v = NULL;
	int rc = ctl_json_parse(text, strlen(text), 0, &v, &err);

	if (rc != 0)
		print_error("unexpected parse error for %s: %s\n", text, err.msg);
	assert_int_equal(rc, 0);
	assert_non_null(v);
	return v;
}

/* Parses bad input and checks where and why it failed. */
static void
expect_error(const char *text, size_t len, unsigned int line, unsigned int col, const char *why)
{
	struct ctl_json_error err;
	struct ctl_json *v = NULL;
	int rc = ctl_json_parse(text, len, 0, &v, &err);

	assert_int_equal(rc, -EINVAL);
	assert_null(v);
	if (strstr(err.msg, why) == NULL)
		fail_msg("input '%.*s': message '%s' does not say '%s'", (int)len, text, err.msg,
			 why);
	assert_int_equal(err.line, line);
	assert_int_equal(err.col, col);
}

#define EXPECT_ERROR(text, line, col, why) expect_error((text), strlen(text), (line), (col), (why))

static char *
write_str(const struct ctl_json *v, bool pretty)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(ctl_json_write(f, v, pretty), 0);
	fclose(f);
	return buf;
}

static void
test_object_keeps_key_order(void **state)
{
	struct ctl_json *v =
		parse_ok(" {\"zeta\": 1, \"alpha\": \"a\", \"mid\": [true, false, null]} ");

	(void)state;
	assert_int_equal(v->type, CTL_JSON_OBJECT);
	assert_int_equal(v->obj.n, 3);
	assert_string_equal(v->obj.members[0].key, "zeta");
	assert_string_equal(v->obj.members[1].key, "alpha");
	assert_string_equal(v->obj.members[2].key, "mid");
	assert_string_equal(ctl_json_get(v, "alpha")->str.s, "a");
	assert_int_equal(ctl_json_get(v, "mid")->arr.n, 3);
	assert_true(ctl_json_get(v, "mid")->arr.items[0]->boolean);
	assert_int_equal(ctl_json_get(v, "mid")->arr.items[2]->type, CTL_JSON_NULL);
	assert_null(ctl_json_get(v, "nope"));
	ctl_json_free(v);
}

static void
test_scalars_and_empty_containers(void **state)
{
	struct ctl_json *v;

	(void)state;
	v = parse_ok("null");
	assert_int_equal(v->type, CTL_JSON_NULL);
	ctl_json_free(v);
	v = parse_ok("\t\r\n false \n");
	assert_int_equal(v->type, CTL_JSON_BOOL);
	assert_false(v->boolean);
	ctl_json_free(v);
	v = parse_ok("{}");
	assert_int_equal(v->obj.n, 0);
	ctl_json_free(v);
	v = parse_ok("[ ]");
	assert_int_equal(v->arr.n, 0);
	ctl_json_free(v);
	v = parse_ok("\"\"");
	assert_string_equal(v->str.s, "");
	ctl_json_free(v);
}

static void
test_telemetry_reply(void **state)
{
	static const char reply[] =
		"{\"/authgate/ports\":{\"lab\":{\"port_id\":0,\"driver\":\"net_tap\","
		"\"mac\":\"02:70:63:61:72:00\",\"rx_packets\":18446744073709551615}}}";
	struct ctl_json *v = parse_ok(reply);
	const struct ctl_json *lab = ctl_json_get(ctl_json_get(v, "/authgate/ports"), "lab");

	(void)state;
	assert_non_null(lab);
	assert_string_equal(ctl_json_get(lab, "driver")->str.s, "net_tap");
	assert_int_equal(ctl_json_get(lab, "rx_packets")->num.kind, CTL_JSON_NUM_UINT);
	assert_true(ctl_json_get(lab, "rx_packets")->num.u == UINT64_MAX);
	ctl_json_free(v);
}

static void
test_big_integers_exact(void **state)
{
	struct ctl_json *v = parse_ok("[18446744073709551615, 9223372036854775807, "
				      "-9223372036854775808, 18446744073709551616, -0, 0, "
				      "-9223372036854775809, 123456789012345678]");

	(void)state;
	assert_int_equal(v->arr.items[0]->num.kind, CTL_JSON_NUM_UINT);
	assert_true(v->arr.items[0]->num.u == UINT64_MAX);
	assert_true(v->arr.items[1]->num.u == (uint64_t)INT64_MAX);
	assert_int_equal(v->arr.items[2]->num.kind, CTL_JSON_NUM_INT);
	assert_true(v->arr.items[2]->num.i == INT64_MIN);
	/* beyond 64 bits: a double, but the digits survive for output */
	assert_int_equal(v->arr.items[3]->num.kind, CTL_JSON_NUM_DOUBLE);
	assert_string_equal(v->arr.items[3]->num.text, "18446744073709551616");
	assert_int_equal(v->arr.items[4]->num.kind, CTL_JSON_NUM_INT);
	assert_true(v->arr.items[4]->num.i == 0);
	assert_true(ctl_json_is_zero(v->arr.items[4]));
	assert_true(ctl_json_is_zero(v->arr.items[5]));
	assert_int_equal(v->arr.items[6]->num.kind, CTL_JSON_NUM_DOUBLE);
	assert_true(v->arr.items[7]->num.u == 123456789012345678ULL);
	assert_false(ctl_json_is_zero(v->arr.items[7]));
	ctl_json_free(v);
}

static void
test_doubles(void **state)
{
	struct ctl_json *v = parse_ok("[1.5, -0.25, 1e3, 2E-2, 0.0, 6.02e+23]");

	(void)state;
	assert_int_equal(v->arr.items[0]->num.kind, CTL_JSON_NUM_DOUBLE);
	assert_true(v->arr.items[0]->num.d == 1.5);
	assert_true(v->arr.items[1]->num.d == -0.25);
	assert_true(v->arr.items[2]->num.d == 1000.0);
	assert_true(v->arr.items[3]->num.d == 0.02);
	assert_true(ctl_json_is_zero(v->arr.items[4]));
	assert_string_equal(v->arr.items[5]->num.text, "6.02e+23");
	ctl_json_free(v);
}

static void
test_string_escapes(void **state)
{
	struct ctl_json *v = parse_ok("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u0041\\u00e9\\u20ac"
				      "\\ud83d\\ude00 raw é\"");

	(void)state;
	assert_string_equal(v->str.s, "q\" b\\ s/ \b\f\n\r\t A\xc3\xa9\xe2\x82\xac"
				      "\xf0\x9f\x98\x80 raw \xc3\xa9");
	assert_int_equal(v->str.len, strlen(v->str.s));
	ctl_json_free(v);
}

static void
test_malformed(void **state)
{
	(void)state;
	EXPECT_ERROR("", 1, 1, "empty document");
	EXPECT_ERROR("   \n ", 2, 2, "empty document");
	EXPECT_ERROR("{", 1, 2, "unexpected end of input");
	EXPECT_ERROR("[1, 2", 1, 6, "',' or ']'");
	EXPECT_ERROR("[1 2]", 1, 4, "unexpected '2', expected ',' or ']'");
	EXPECT_ERROR("[1,]", 1, 4, "expected a value");
	EXPECT_ERROR("{\"a\":1,}", 1, 8, "a string as object key");
	EXPECT_ERROR("{\"a\" 1}", 1, 6, "':' after object key");
	EXPECT_ERROR("{a:1}", 1, 2, "a string as object key");
	EXPECT_ERROR("{\"a\":1 \"b\":2}", 1, 8, "',' or '}'");
	EXPECT_ERROR("{\"a\":}", 1, 6, "expected a value");
	EXPECT_ERROR("[1]]", 1, 4, "trailing data");
	EXPECT_ERROR("{} {}", 1, 4, "trailing data");
	EXPECT_ERROR("tru", 1, 1, "expected true");
	EXPECT_ERROR("nul", 1, 1, "expected null");
	EXPECT_ERROR("True", 1, 1, "unexpected 'T'");
	EXPECT_ERROR("'x'", 1, 1, "unexpected '''");
	EXPECT_ERROR("01", 1, 2, "leading zeros");
	EXPECT_ERROR("-", 1, 2, "expected a digit");
	EXPECT_ERROR("1.", 1, 3, "a digit after '.'");
	EXPECT_ERROR("1e", 1, 3, "a digit in the exponent");
	EXPECT_ERROR("+1", 1, 1, "unexpected '+'");
	EXPECT_ERROR(".5", 1, 1, "unexpected '.'");
	EXPECT_ERROR("NaN", 1, 1, "unexpected 'N'");
	EXPECT_ERROR("\"abc", 1, 5, "unterminated string");
	EXPECT_ERROR("\"abc\\", 1, 6, "unterminated string");
	EXPECT_ERROR("\"a\tb\"", 1, 3, "control character 0x09");
	EXPECT_ERROR("\"a\nb\"", 1, 3, "control character 0x0a");
	EXPECT_ERROR("\"\\x41\"", 1, 3, "invalid escape '\\x'");
	EXPECT_ERROR("\"\\u12x4\"", 1, 6, "invalid hex digit");
	EXPECT_ERROR("\"\\u12", 1, 4, "truncated \\u escape");
	EXPECT_ERROR("\"\\ud800\"", 1, 2, "high surrogate not followed by a low one");
	EXPECT_ERROR("\"\\ud800\\u0041\"", 1, 2, "high surrogate not followed by a low one");
	EXPECT_ERROR("\"\\udc00\"", 1, 2, "lone low surrogate");
	EXPECT_ERROR("\"\\u0000\"", 1, 2, "\\u0000");
	EXPECT_ERROR("\"\xff\"", 1, 2, "invalid UTF-8");
	EXPECT_ERROR("\"\xc3\"", 1, 2, "invalid UTF-8");
	EXPECT_ERROR("\"\xc0\xaf\"", 1, 2, "invalid UTF-8");	     /* overlong '/' */
	EXPECT_ERROR("\"\xed\xa0\x80\"", 1, 2, "invalid UTF-8");     /* encoded surrogate */
	EXPECT_ERROR("\"\xf4\x90\x80\x80\"", 1, 2, "invalid UTF-8"); /* above U+10FFFF */
	EXPECT_ERROR("{\n  \"a\": [1,\n  2,,\n]}", 3, 5, "expected a value");
	/* a NUL inside the buffer is just a bad byte, not the end of the input */
	expect_error("[1,\0 2]", 7, 1, 4, "unexpected byte 0x00");
	expect_error("{\"a\":1}", 6, 1, 7, "end of input, expected ',' or '}'");
}

static void
test_depth_bound(void **state)
{
	enum { DEEP = 100000 };
	char *deep = malloc(2 * DEEP + 1);
	struct ctl_json_error err;
	struct ctl_json *v = NULL;

	(void)state;
	assert_non_null(deep);
	memset(deep, '[', DEEP);
	memset(deep + DEEP, ']', DEEP);
	deep[2 * DEEP] = '\0';

	/* far past any stack: refused with a message, no crash */
	assert_int_equal(ctl_json_parse(deep, 2 * DEEP, 0, &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "nesting deeper than 64 levels"));
	assert_int_equal(err.col, 65);
	assert_int_equal(ctl_json_parse(deep, 2 * DEEP, 100000000, &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "nesting deeper than 1024 levels"));

	/* exactly at the bound is fine, one more is not; objects count too */
	assert_int_equal(ctl_json_parse(deep + DEEP - 64, 128, 0, &v, &err), 0);
	ctl_json_free(v);
	v = NULL;
	assert_int_equal(ctl_json_parse(deep + DEEP - 65, 130, 0, &v, &err), -EINVAL);
	assert_int_equal(ctl_json_parse("{\"a\":{\"b\":[1]}}", 15, 3, &v, &err), 0);
	ctl_json_free(v);
	v = NULL;
	assert_int_equal(ctl_json_parse("{\"a\":{\"b\":[1]}}", 15, 2, &v, &err), -EINVAL);
	assert_null(v);
	free(deep);
}

static void
test_write_pretty_is_stable(void **state)
{
	static const char in[] =
		"{\"z\":{\"b\":1,\"a\":[]},\"s\":\"t\\\"ab\\tx\\u0001\xc3\xa9\","
		"\"n\":18446744073709551615,\"d\":1.50,\"e\":{},\"l\":[true,null,-3]}";
	static const char want[] = "{\n"
				   "  \"z\": {\n"
				   "    \"b\": 1,\n"
				   "    \"a\": []\n"
				   "  },\n"
				   "  \"s\": \"t\\\"ab\\tx\\u0001\xc3\xa9\",\n"
				   "  \"n\": 18446744073709551615,\n"
				   "  \"d\": 1.50,\n"
				   "  \"e\": {},\n"
				   "  \"l\": [\n"
				   "    true,\n"
				   "    null,\n"
				   "    -3\n"
				   "  ]\n"
				   "}";
	struct ctl_json *v = parse_ok(in), *again;
	char *out = write_str(v, true), *compact;

	(void)state;
	assert_string_equal(out, want);
	/* the output reads back to the same document */
	again = parse_ok(out);
	compact = write_str(again, false);
	assert_string_equal(compact, in);
	free(compact);
	ctl_json_free(again);
	free(out);
	ctl_json_free(v);
}

static void
test_take_detaches(void **state)
{
	struct ctl_json *v = parse_ok("{\"/authgate/drops\":{\"total\":3}}");
	struct ctl_json *inner = ctl_json_take(v, 0);

	(void)state;
	assert_non_null(inner);
	assert_int_equal(v->obj.members[0].value->type, CTL_JSON_NULL);
	ctl_json_free(v);
	assert_true(ctl_json_get(inner, "total")->num.u == 3);
	assert_null(ctl_json_take(inner, 1));
	ctl_json_free(inner);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_keeps_key_order),
		cmocka_unit_test(test_scalars_and_empty_containers),
		cmocka_unit_test(test_telemetry_reply),
		cmocka_unit_test(test_big_integers_exact),
		cmocka_unit_test(test_doubles),
		cmocka_unit_test(test_string_escapes),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_depth_bound),
		cmocka_unit_test(test_write_pretty_is_stable),
		cmocka_unit_test(test_take_detaches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
