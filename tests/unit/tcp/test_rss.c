/* Flow ownership by receive-side scaling: Toeplitz vectors, symmetry, redirection tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include <rte_common.h>

#include "dataplane/tcp/tcp.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static struct tcp_flow_table *table;

/* Microsoft's "Verifying the RSS Hash Calculation" key and IPv4 with TCP results. */
static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static const struct {
	struct tcp_tuple t; /* raddr:rport is the source, laddr:lport the destination */
	uint32_t hash;
} ms_vectors[] = {
	{{IP4(66, 9, 149, 187), IP4(161, 142, 100, 80), 2794, 1766}, 0x51ccc178},
	{{IP4(199, 92, 111, 2), IP4(65, 69, 140, 83), 14230, 4739}, 0xc626b0ea},
	{{IP4(24, 19, 198, 95), IP4(12, 22, 207, 184), 12898, 38024}, 0x5c2b394a},
	{{IP4(38, 27, 205, 30), IP4(209, 142, 163, 6), 48228, 2217}, 0xafc7327f},
	{{IP4(153, 39, 163, 191), IP4(202, 188, 127, 2), 44251, 1303}, 0x10e828a2},
};

static struct tcp_tuple
mirror(const struct tcp_tuple *t)
{
	return (struct tcp_tuple){
		.raddr = t->laddr, .laddr = t->raddr, .rport = t->lport, .lport = t->rport};
}

/* xorshift32: reproducible tuples */
static uint32_t
next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static struct tcp_tuple
rand_tuple(uint32_t *s)
{
	return (struct tcp_tuple){.raddr = next_rand(s),
				  .laddr = next_rand(s),
				  .rport = (uint16_t)next_rand(s),
				  .lport = (uint16_t)next_rand(s)};
}

static void
test_microsoft_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ms_vectors) / sizeof(ms_vectors[0]); i++)
		assert_int_equal(tcp_rss_hash(ms_key, sizeof(ms_key), &ms_vectors[i].t),
				 ms_vectors[i].hash);
	/* a key too short for the IPv4/TCP input is refused, not read past */
	assert_int_equal(tcp_rss_hash(ms_key, 15, &ms_vectors[0].t), 0);
}

static void
test_symmetric_key(void **state)
{
	uint8_t sym[52];
	uint32_t s = 0x12345678;
	unsigned int ms_same = 0;

	(void)state;
	tcp_rss_sym_key(sym, sizeof(sym));
	assert_int_equal(sym[0], 0x6d);
	assert_int_equal(sym[1], 0x5a);
	assert_int_equal(sym[51], 0x5a);
	for (int i = 0; i < 10000; i++) {
		struct tcp_tuple t = rand_tuple(&s), m = mirror(&t);

		assert_int_equal(tcp_rss_hash(sym, sizeof(sym), &t),
				 tcp_rss_hash(sym, sizeof(sym), &m));
		for (uint16_t n = 2; n <= 8; n++)
			assert_int_equal(tcp_flow_owner(table, &t, n),
					 tcp_flow_owner(table, &m, n));
		/* the property is the key's: Microsoft's key sends the directions apart */
		ms_same += tcp_rss_hash(ms_key, sizeof(ms_key), &t) ==
			   tcp_rss_hash(ms_key, sizeof(ms_key), &m);
	}
	assert_true(ms_same < 10);
}

/*
 * What a NIC programmed by port.c does (a 40 or 52-byte key, a redirection table of 64, 128
 * or 512 entries indexed by the hash's low bits) names the lcore tcp_flow_owner() names.
 */
static void
test_reta_agrees(void **state)
{
	static const uint32_t reta_sizes[] = {64, 128, 512};
	uint8_t key40[40], key52[52];
	uint16_t reta[512];
	uint32_t s = 0xcafe;

	(void)state;
	tcp_rss_sym_key(key40, sizeof(key40));
	tcp_rss_sym_key(key52, sizeof(key52));
	for (uint16_t n = 1; n <= 5; n++) {
		for (size_t r = 0; r < sizeof(reta_sizes) / sizeof(reta_sizes[0]); r++) {
			uint32_t size = reta_sizes[r];

			for (uint32_t i = 0; i < size; i++) {
				reta[i] = tcp_rss_reta_entry(i, n);
				assert_true(reta[i] < n);
			}
			for (int k = 0; k < 2000; k++) {
				struct tcp_tuple t = rand_tuple(&s);
				uint32_t h = tcp_rss_hash(key52, sizeof(key52), &t);

				assert_int_equal(h, tcp_rss_hash(key40, sizeof(key40), &t));
				assert_int_equal(reta[h & (size - 1)],
						 tcp_flow_owner(table, &t, n));
				assert_int_equal(tcp_rss_owner(h, n), tcp_flow_owner(table, &t, n));
			}
		}
	}
	assert_int_equal(tcp_rss_owner(0xffffffff, 1), 0);
}

/* One client's connections (consecutive source ports) spread over the lcores. */
static void
test_spread(void **state)
{
	(void)state;
	for (uint16_t n = 2; n <= 4; n++) {
		unsigned int on[4] = {0};

		for (uint16_t port = 40000; port < 42000; port++) {
			struct tcp_tuple t = {.raddr = IP4(198, 18, 0, 2),
					      .laddr = IP4(198, 18, 0, 1),
					      .rport = port,
					      .lport = 80};

			on[tcp_flow_owner(table, &t, n)]++;
		}
		for (uint16_t i = 0; i < n; i++)
			assert_true(on[i] >= 2000 / n * 9 / 10);
	}
}

/*
 * The attacker knows the published pattern and opens its connections from source ports
 * that pattern puts on lcore 0 of 2. With the gateway's own pattern (tcp_rss_pick_pattern,
 * as dp_ports_init draws it) they spread over both lcores. Taken out (the public pattern
 * kept), every one of them lands on lcore 0 and this fails.
 */
static void
test_secret_pattern_defeats_aimed_ports(void **state)
{
	struct tcp_tuple t = {
		.raddr = IP4(198, 18, 0, 66), .laddr = IP4(198, 18, 0, 2), .lport = 80};
	uint16_t aimed[1000];
	unsigned int n = 0, on0 = 0;
	struct tcp_flow_table *ours;

	(void)state;
	for (uint32_t port = 1024; port < 65536 && n < RTE_DIM(aimed); port++) {
		t.rport = (uint16_t)port;
		if (tcp_flow_owner(table, &t, 2) == 0)
			aimed[n++] = (uint16_t)port;
	}
	assert_int_equal(n, RTE_DIM(aimed));
	for (uint64_t seed = 1; seed <= 8; seed++) {
		uint16_t pattern = tcp_rss_pick_pattern(seed * 0x9e3779b97f4a7c15ull);

		assert_int_not_equal(pattern, TCP_RSS_PATTERN_PUBLIC);
		tcp_rss_set_pattern(pattern);
		ours = tcp_flow_table_create(64, seed);
		assert_non_null(ours);
		on0 = 0;
		for (unsigned int i = 0; i < n; i++) {
			t.rport = aimed[i];
			on0 += tcp_flow_owner(ours, &t, 2) == 0;
		}
		tcp_flow_table_destroy(ours);
		/* about half each way, whatever the drawn pattern (full rank: uniform) */
		assert_true(on0 > n * 3 / 10 && on0 < n * 7 / 10);
	}
	tcp_rss_set_pattern(TCP_RSS_PATTERN_PUBLIC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_microsoft_vectors),
		cmocka_unit_test(test_symmetric_key),
		cmocka_unit_test(test_reta_agrees),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_secret_pattern_defeats_aimed_ports),
	};
	int rc;

	table = tcp_flow_table_create(64, 1);
	if (table == NULL) {
		printf("flow table: %s\n", strerror(errno));
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	tcp_flow_table_destroy(table);
	return rc;
}
