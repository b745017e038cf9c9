/* authgate-ctl's tables: the exact text an operator sees for ports, drops, neighbours and more. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/ctl_fmt.h"
#include "app/ctl_json.h"

static const struct ctl_fmt_opts drops_opts = {.hide_zero = true, .keep = "total"};
static const struct ctl_fmt_opts ports_opts = {.row_label = "port"};
static const struct ctl_fmt_opts neigh_opts = {.entity_rows = true, .row_label = "ip"};

static void
expect_table(const char *json, const struct ctl_fmt_opts *opts, const char *want)
{
	struct ctl_json_error err;
	struct ctl_json *v = NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if (ctl_json_parse(json, strlen(json), 0, &v, &err) != 0)
		fail_msg("test input does not parse: %s", err.msg);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(ctl_fmt_print(f, v, opts), 0);
	fclose(f);
	if (strcmp(out, want) != 0)
		fail_msg("got:\n%s\nwant:\n%s", out, want);
	free(out);
	ctl_json_free(v);
}

static const char drops_json[] = "{\"no_route\":0,\"bad_ip_checksum\":3,\"arp_other\":12,"
				 "\"ring_full\":0,\"total\":15}";

static void
test_drops_hides_zero_rows(void **state)
{
	(void)state;
	expect_table(drops_json, &drops_opts,
		     "bad_ip_checksum   3\n"
		     "arp_other        12\n"
		     "total            15\n");
}

static void
test_drops_all_shows_every_row(void **state)
{
	(void)state;
	expect_table(drops_json, NULL,
		     "no_route          0\n"
		     "bad_ip_checksum   3\n"
		     "arp_other        12\n"
		     "ring_full         0\n"
		     "total            15\n");
}

static void
test_drops_all_zero_still_prints_total(void **state)
{
	(void)state;
	expect_table("{\"no_route\":0,\"bad_ip_checksum\":0,\"total\":0}", &drops_opts,
		     "total  0\n");
}

static void
test_ports_one_port_fields_as_rows(void **state)
{
	(void)state;
	expect_table("{\"lab\":{\"port_id\":0,\"driver\":\"net_tap\",\"mac\":\"02:70:63:61:72:00\","
		     "\"address\":\"198.18.0.2/24\",\"mtu\":1500,\"link\":\"up\",\"queues\":1,"
		     "\"rx_packets\":12,\"rx_bytes\":1234567,\"tx_errors\":0}}",
		     &ports_opts,
		     "            lab\n"
		     "port_id           0\n"
		     "driver      net_tap\n"
		     "mac         02:70:63:61:72:00\n"
		     "address     198.18.0.2/24\n"
		     "mtu            1500\n"
		     "link        up\n"
		     "queues            1\n"
		     "rx_packets       12\n"
		     "rx_bytes    1234567\n"
		     "tx_errors         0\n");
}

static void
test_ports_side_by_side_with_missing_field(void **state)
{
	(void)state;
	expect_table("{\"lab\":{\"driver\":\"net_tap\",\"mtu\":1500,\"rx_packets\":7},"
		     "\"uplink\":{\"driver\":\"net_af_packet\",\"rx_packets\":123456,"
		     "\"rx_missed\":2}}",
		     &ports_opts,
		     "            lab      uplink\n"
		     "driver      net_tap  net_af_packet\n"
		     "mtu         1500     -\n"
		     "rx_packets     7     123456\n"
		     "rx_missed   -             2\n");
}

static void
test_neighbours_one_row_each(void **state)
{
	(void)state;
	expect_table(
		"{\"198.18.0.1\":{\"port\":\"lab\",\"mac\":\"aa:bb:cc:dd:ee:01\",\"age_ms\":120},"
		"\"198.18.0.10\":{\"port\":\"lab\",\"mac\":\"aa:bb:cc:dd:ee:0a\",\"age_ms\":5}}",
		&neigh_opts,
		"ip           port  mac                age_ms\n"
		"198.18.0.1   lab   aa:bb:cc:dd:ee:01     120\n"
		"198.18.0.10  lab   aa:bb:cc:dd:ee:0a       5\n");
}

static void
test_neighbours_keyed_by_position_show_their_ip(void **state)
{
	(void)state;
	/* DPDK telemetry names allow no dots, so the gateway keys entries n0, n1... */
	expect_table(
		"{\"n0\":{\"ip\":\"198.18.0.1\",\"port\":\"lab\",\"mac\":\"E6:2F:ED:DB:C6:48\","
		"\"age_ms\":1022}}",
		&neigh_opts,
		"ip          port  mac                age_ms\n"
		"198.18.0.1  lab   E6:2F:ED:DB:C6:48    1022\n");
}

static void
test_flows_listing_totals_then_rows(void **state)
{
	static const struct ctl_fmt_opts flows_opts = {.entity_rows = true, .row_label = "flow"};

	(void)state;
	expect_table(
		"{\"count\":2,\"f7_1\":{\"remote\":\"198.18.0.1:40000\",\"state\":\"ESTABLISHED\","
		"\"cwnd\":14600},\"f9_3\":{\"remote\":\"198.18.0.1:40002\",\"state\":\"TIME_WAIT\","
		"\"cwnd\":0}}",
		&flows_opts,
		"count  2\n"
		"\n"
		"flow  remote            state         cwnd\n"
		"f7_1  198.18.0.1:40000  ESTABLISHED  14600\n"
		"f9_3  198.18.0.1:40002  TIME_WAIT        0\n");
	expect_table("{\"count\":0}", &flows_opts, "count  0\n");
}

static void
test_more_than_four_entries_become_rows(void **state)
{
	(void)state;
	/* the union of fields in first-seen order: "drops" appears only on lcore3 */
	expect_table("{\"lcore1\":{\"rx_pkts\":10,\"tx_pkts\":9},\"lcore2\":{\"rx_pkts\":0,\"tx_"
		     "pkts\":0},"
		     "\"lcore3\":{\"rx_pkts\":100,\"drops\":1,\"tx_pkts\":99},"
		     "\"lcore4\":{\"rx_pkts\":1,\"tx_pkts\":1},\"lcore5\":{\"rx_pkts\":2,\"tx_"
		     "pkts\":2}}",
		     NULL,
		     "        rx_pkts  tx_pkts  drops\n"
		     "lcore1       10        9      -\n"
		     "lcore2        0        0      -\n"
		     "lcore3      100       99      1\n"
		     "lcore4        1        1      -\n"
		     "lcore5        2        2      -\n");
}

static void
test_info_mixed_values(void **state)
{
	(void)state;
	expect_table("{\"version\":\"authgate 0.1.0\",\"dpdk\":\"DPDK 22.11.11\",\"uptime_s\":3605,"
		     "\"ports\":1,\"debug\":false,\"extra\":{\"a\":[1,2]}}",
		     NULL,
		     "version   authgate 0.1.0\n"
		     "dpdk      DPDK 22.11.11\n"
		     "uptime_s  3605\n"
		     "ports        1\n"
		     "debug     false\n"
		     "extra\n"
		     "  a       [1,2]\n");
}

static void
test_nested_dicts_become_indented_sections(void **state)
{
	(void)state;
	/* the shape of /authgate/tcp/stats: counters, then counters by state and reason */
	expect_table(
		"{\"seg_in\":12,\"flows\":1,\"flows_by_state\":{\"ESTABLISHED\":1,"
		"\"TIME_WAIT\":0},\"empty\":{},\"closed\":{\"normal\":3,\"deep\":{\"x\":\"y\"},"
		"\"list\":[1]},\"last\":0}",
		&drops_opts,
		"seg_in          12\n"
		"flows            1\n"
		"flows_by_state\n"
		"  ESTABLISHED    1\n"
		"  TIME_WAIT      0\n"
		"empty           {}\n"
		"closed\n"
		"  normal         3\n"
		"  deep\n"
		"    x           y\n"
		"  list          [1]\n");
}

static void
test_numbers_printed_exactly(void **state)
{
	(void)state;
	/* no thousands separators, no rounding, no scientific notation invented */
	expect_table("{\"max\":18446744073709551615,\"neg\":-42,\"ratio\":0.125}", NULL,
		     "max    18446744073709551615\n"
		     "neg                     -42\n"
		     "ratio                 0.125\n");
}

static void
test_array_one_item_per_line(void **state)
{
	(void)state;
	expect_table("[\"/\",\"/authgate/drops\",\"/authgate/info\",7,{\"k\":null}]", NULL,
		     "/\n/authgate/drops\n/authgate/info\n7\n{\"k\":null}\n");
}

static void
test_scalar_and_empty(void **state)
{
	(void)state;
	expect_table("\"revoked 2 flows\"", NULL, "revoked 2 flows\n");
	expect_table("{}", NULL, "");
	expect_table("[]", NULL, "");
}

static void
test_control_characters_are_escaped(void **state)
{
	(void)state;
	/* a principal a client made up must not reach the terminal as an escape sequence */
	expect_table("{\"user\":\"ev\\u001b[2Jil\\nx\",\"c1\":\"a\\u009bb\",\"ok\":\"caf\\u00e9\"}",
		     NULL,
		     "user  ev\\x1b[2Jil\\nx\n"
		     "c1    a\\u009bb\n"
		     "ok    caf\xc3\xa9\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drops_hides_zero_rows),
		cmocka_unit_test(test_drops_all_shows_every_row),
		cmocka_unit_test(test_drops_all_zero_still_prints_total),
		cmocka_unit_test(test_ports_one_port_fields_as_rows),
		cmocka_unit_test(test_ports_side_by_side_with_missing_field),
		cmocka_unit_test(test_neighbours_one_row_each),
		cmocka_unit_test(test_neighbours_keyed_by_position_show_their_ip),
		cmocka_unit_test(test_flows_listing_totals_then_rows),
		cmocka_unit_test(test_more_than_four_entries_become_rows),
		cmocka_unit_test(test_info_mixed_values),
		cmocka_unit_test(test_nested_dicts_become_indented_sections),
		cmocka_unit_test(test_numbers_printed_exactly),
		cmocka_unit_test(test_array_one_item_per_line),
		cmocka_unit_test(test_scalar_and_empty),
		cmocka_unit_test(test_control_characters_are_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
