/* TCP engine unit tests: packet scripts on a virtual clock, asserting what a peer would see. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "dataplane/tcp/tcp_priv.h" /* tcp_cookie_make: a cookie as a lucky forger holds */
#include "tests/unit/tcp/harness.h"

#define MS 1000ULL

static const struct tcp_stats *
stats(struct h *h)
{
	return tcp_engine_stats(h->e);
}

static void
expect_none(struct h *h)
{
	if (h_pending(h) != 0) {
		struct h_pkt p;

		h_pop(h, &p);
		fail_msg("unexpected segment: flags %#x seq isn+%u ack %u win %u len %u", p.flags,
			 p.seq - h->s_isn, p.ack, p.win, p.len);
	}
}

struct srtt_arg {
	uint16_t cport;
	uint32_t srtt;
	uint32_t cwnd;
	uint32_t snd_wnd;
	uint32_t unacked;
};

static int
find_srtt(const struct tcp_flow_info *i, void *arg)
{
	struct srtt_arg *a = arg;

	if (i->tuple.rport == a->cport) {
		a->srtt = i->srtt_us;
		a->cwnd = i->cwnd;
		a->snd_wnd = i->snd_wnd;
		a->unacked = i->unacked;
	}
	return 0;
}

static struct srtt_arg
info_of(struct h *h)
{
	struct srtt_arg a = {.cport = h->cport};

	tcp_flow_table_walk(h_table, h->now, find_srtt, &a);
	return a;
}

/* ---------------------------------------------------------------- handshake and options */

static void
test_handshake_options(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1460, .ws = 7, .sackp = true, .ts = true, .tsval = 5555};

	(void)state;
	h_init(&h, NULL);
	h.cport = 40001;
	h.lport = H_APP_PORT;
	h_send(&h, F_SYN, 1000, 0, 65535, &o, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_SYN | F_ACK);
	assert_int_equal(p.ack, 1001);
	assert_int_equal(p.mss, 1460);
	assert_int_equal(p.ws, 2); /* 128 KiB receive buffer needs scale 2 */
	assert_true(p.sackp);
	assert_true(p.ts);
	assert_int_equal(p.tsecr, 5555);
	assert_int_equal(p.win, 65535);
	assert_int_equal(h.app.accepted, 0);
	assert_int_equal(stats(&h)->flows_by_state[TCP_SYN_RECEIVED], 1);

	o = (struct h_opts){.ws = -1, .ts = true, .tsval = 5556, .tsecr = p.tsval};
	h_send(&h, F_ACK, 1001, p.seq + 1, 512, &o, NULL, 0);
	assert_int_equal(h.app.accepted, 1);
	assert_int_equal(h_state(&h), TCP_ESTABLISHED);
	assert_int_equal(stats(&h)->flows_by_state[TCP_SYN_RECEIVED], 0);
	assert_int_equal(stats(&h)->flows_by_state[TCP_ESTABLISHED], 1);
	expect_none(&h);

	/* The peer's window is scaled by its shift of 7 from now on. */
	h.app.flow = h_flow(&h);
	assert_int_equal(tcp_send(h.app.flow, h_pattern, 100000), 100000);
	uint32_t sent = 0;
	while (h_pending(&h)) {
		h_pop(&h, &p);
		assert_int_equal(p.len, 1448); /* 1460 minus 12 bytes of timestamps */
		assert_true(p.ts);
		sent += p.len;
	}
	assert_int_equal(sent, 10 * 1448); /* RFC 6928 initial window, not 512 bytes */
	h_fini(&h);
}

static void
test_handshake_no_options(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.ws = -1};
	uint32_t total = 0;

	(void)state;
	h_init(&h, NULL);
	h.app.send_on_accept = 3000;
	assert_int_equal(h_connect(&h, 40002, H_APP_PORT, &o, 77), 0);
	while (h_pending(&h)) {
		h_pop(&h, &p);
		assert_true(p.len <= 536); /* RFC 9293 default MSS */
		assert_false(p.ts);
		assert_int_equal(p.nsack, 0);
		assert_int_equal(p.seq, h.s_isn + 1 + total);
		assert_memory_equal(p.data, h_pattern + total, p.len);
		total += p.len;
	}
	assert_int_equal(total, 3000);
	h_fini(&h);
}

static void
cookies_always(struct tcp_engine_params *p)
{
	p->syncookies = TCP_SYNCOOKIE_ALWAYS;
}

static void
test_syn_cookies(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1460, .ws = 7, .sackp = true, .ts = true, .tsval = 1};

	(void)state;
	h_init(&h, cookies_always);
	h.cport = 40003;
	h.lport = H_APP_PORT;
	h_send(&h, F_SYN, 5000, 0, 65535, &o, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_SYN | F_ACK);
	assert_int_equal(p.mss, 1460);
	assert_true(p.sackp);
	assert_true(p.ts);
	assert_int_equal(p.ws, 2);
	assert_int_equal(tcp_engine_nb_flows(h.e), 0); /* stateless */
	assert_int_equal(stats(&h)->cookies_sent, 1);

	h.app.send_on_accept = 5000;
	o = (struct h_opts){.ws = -1, .ts = true, .tsval = 2, .tsecr = p.tsval};
	h_send(&h, F_ACK, 5001, p.seq + 1, 1000, &o, NULL, 0);
	assert_int_equal(h.app.accepted, 1);
	assert_int_equal(stats(&h)->cookies_accepted, 1);
	assert_int_equal(h_state(&h), TCP_ESTABLISHED);
	/* MSS, timestamps and the peer's window scale came back from the cookie: 1000 << 7. */
	h_pop(&h, &p);
	assert_int_equal(p.len, 1448);
	assert_true(p.ts);
	assert_int_equal(p.tsecr, 2);
	assert_int_equal(p.win, (128 * 1024) >> 2);
	h_drain(&h);

	/* A forged ACK for the next port gets a RST and no state. */
	h.cport = 40004;
	h_send(&h, F_ACK, 7001, 0x12345678, 1000, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_RST);
	assert_int_equal(p.seq, 0x12345678);
	assert_int_equal(stats(&h)->cookies_rejected, 1);
	assert_int_equal(h_drops(&h, TCP_DROP_COOKIE), 1);
	assert_int_equal(tcp_engine_nb_flows(h.e), 1);

	/* An old cookie (more than two 64 s periods) is refused too, while new ones go out. */
	h.cport = 40005;
	h_send(&h, F_SYN, 9000, 0, 65535, NULL, NULL, 0);
	h_pop(&h, &p);
	h_advance(&h, 200 * 1000 * MS);
	h_drain(&h); /* retransmissions of the first connection */
	h.cport = 40006;
	h_send(&h, F_SYN, 9000, 0, 65535, NULL, NULL, 0);
	h_drain(&h);
	h.cport = 40005;
	h_send(&h, F_ACK, 9001, p.seq + 1, 1000, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_RST);
	assert_int_equal(stats(&h)->cookies_rejected, 2);
	h_fini(&h);
}

static void
half_open_2(struct tcp_engine_params *p)
{
	p->max_half_open = 2;
}

static void
test_cookie_flow_carries_data(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1460, .ws = 7, .sackp = true, .ts = true, .tsval = 100};
	uint32_t got = 0;

	(void)state;
	h_init(&h, cookies_always);
	h.cport = 40045;
	h.lport = H_ECHO_PORT;
	h.ts = true;
	h_send(&h, F_SYN, 7000, 0, 65535, &o, NULL, 0);
	h_pop(&h, &p);
	h.s_isn = p.seq;
	h.sseq = p.seq + 1;
	h.cseq = 7001;
	/* the pure ACK is lost and the second data segment overtakes the first: dropped
	 * quietly (no RST), the first one completes the handshake */
	h.cseq = 8001;
	h_data(&h, h_pattern + 1000, 1000);
	expect_none(&h);
	assert_int_equal(tcp_engine_nb_flows(h.e), 0);
	assert_int_equal(stats(&h)->cookies_rejected, 1);
	h.cseq = 7001;
	h_data(&h, h_pattern, 1000);
	h_data(&h, h_pattern + 1000, 1000);
	assert_int_equal(stats(&h)->cookies_accepted, 1);
	while (h_pending(&h)) {
		h_pop(&h, &p);
		assert_int_equal(p.seq, h.sseq + got);
		assert_memory_equal(p.data, h_pattern + got, p.len);
		got += p.len;
	}
	assert_int_equal(got, 2000);
	assert_int_equal(p.ack, h.cseq);
	h_ack(&h, h.sseq + got, 1000);
	assert_int_equal(info_of(&h).unacked, 0);
	h_advance(&h, 5000 * MS);
	expect_none(&h);
	h_fini(&h);
}

static void
test_cookies_over_half_open_bound(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, half_open_2);
	h.lport = H_APP_PORT;
	for (int i = 0; i < 3; i++) {
		h.cport = (uint16_t)(41000 + i);
		h_send(&h, F_SYN, 100, 0, 65535, NULL, NULL, 0);
		h_pop(&h, &p);
		assert_int_equal(p.flags, F_SYN | F_ACK);
	}
	assert_int_equal(tcp_engine_nb_flows(h.e), 2);
	assert_int_equal(stats(&h)->cookies_sent, 1);
	/* the cookie completes like any other handshake */
	h_send(&h, F_ACK, 101, p.seq + 1, 1000, NULL, NULL, 0);
	assert_int_equal(h.app.accepted, 1);
	assert_int_equal(tcp_engine_nb_flows(h.e), 3);
	h_fini(&h);
}

/* A cookie that would verify for the harness's current tuple and clock, without issuing it. */
static uint32_t
forge_cookie(struct h *h, uint32_t client_isn)
{
	struct tcp_seg syn = {.tuple = h_tuple(h), .seq = client_isn, .now = h->now};

	syn.opts.mss = 1460;
	return tcp_cookie_make(h->e, &syn);
}

static void
cookies_never(struct tcp_engine_params *p)
{
	p->syncookies = TCP_SYNCOOKIE_NEVER;
}

/*
 * A cookie ACK is only taken while cookies were issued in the last two periods (never with
 * syncookies = never): otherwise an ACK flood may forge connections at any time, one per 2^23
 * guesses, with no SYN flood going on.
 */
static void
test_cookie_ack_needs_recent_cookies(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, half_open_2);
	h.lport = H_APP_PORT;
	/* no cookie ever sent: a valid one (the forger guessed the MAC) gets a RST */
	h.cport = 41100;
	h_send(&h, F_ACK, 101, forge_cookie(&h, 100) + 1, 1000, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_RST);
	assert_int_equal(h.app.accepted, 0);
	assert_int_equal(h_drops(&h, TCP_DROP_NO_FLOW), 1);
	assert_int_equal(stats(&h)->cookies_accepted, 0);
	/* a SYN burst over max_half_open: cookies go out, and cookie ACKs are taken */
	for (int i = 0; i < 3; i++) {
		h.cport = (uint16_t)(41101 + i);
		h_send(&h, F_SYN, 100, 0, 65535, NULL, NULL, 0);
		h_pop(&h, &p);
	}
	assert_int_equal(stats(&h)->cookies_sent, 1);
	h.cport = 41100;
	h_send(&h, F_ACK, 101, forge_cookie(&h, 100) + 1, 1000, NULL, NULL, 0);
	assert_int_equal(h.app.accepted, 1);
	/* the cookie itself, 60 s later: still good (64 to 128 s) */
	h.now += 60 * 1000 * MS;
	h.cport = 41103;
	h_send(&h, F_ACK, 101, p.seq + 1, 1000, NULL, NULL, 0);
	assert_int_equal(h.app.accepted, 2);
	/* 130 s after the last cookie went out, a fresh valid one is refused again */
	h.now += 70 * 1000 * MS;
	h_drain(&h);
	h.cport = 41104;
	h_send(&h, F_ACK, 101, forge_cookie(&h, 100) + 1, 1000, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_RST);
	assert_int_equal(h.app.accepted, 2);
	h_fini(&h);

	/* syncookies = never: never */
	h_init(&h, cookies_never);
	h.lport = H_APP_PORT;
	h.cport = 41105;
	h_send(&h, F_ACK, 101, forge_cookie(&h, 100) + 1, 1000, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_RST);
	assert_int_equal(h.app.accepted, 0);
	h_fini(&h);
}

static void
random_keys(struct tcp_engine_params *p)
{
	p->seed = 0;
}

/* Without a test seed every engine draws its own keys (getrandom): ISNs differ. */
static void
test_keys_from_getrandom(void **state)
{
	struct h h;
	struct h_pkt p;
	uint32_t isn[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		h_init(&h, random_keys);
		h.now = 5000000000ULL;
		h.cport = 41200;
		h.lport = H_APP_PORT;
		h_send(&h, F_SYN, 100, 0, 65535, NULL, NULL, 0);
		h_pop(&h, &p);
		isn[i] = p.seq;
		h_fini(&h);
	}
	assert_false(isn[0] == isn[1] && isn[1] == isn[2]);
}

/*
 * The IP ID is no engine-wide counter: one would tell a peer how many packets the engine sent
 * to others between two of its own (the idle-scan and challenge-ACK side channels), and
 * starting it from the key gave key bits away in the first packet.
 */
static void
test_ip_id_per_flow(void **state)
{
	struct h h;
	struct h_pkt p;
	uint16_t first, second;
	uint32_t a_cseq;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40120, H_ECHO_PORT, NULL, 1), 0);
	a_cseq = h.cseq;
	h_data(&h, "a", 1);
	h_pop(&h, &p);
	first = p.ip_id;
	h_drain(&h);
	/* traffic to someone else in between */
	assert_int_equal(h_connect(&h, 40121, H_ECHO_PORT, NULL, 1), 0);
	for (int i = 0; i < 5; i++)
		h_data(&h, "b", 1);
	assert_true(h_pending(&h) > 0);
	h_drain(&h);
	h.cport = 40120;
	h.cseq = a_cseq + 1;
	h_data(&h, "a", 1);
	h_pop(&h, &p);
	second = p.ip_id;
	assert_int_equal((uint16_t)(second - first), 1);
	h_fini(&h);
}

static void
test_malformed_options(void **state)
{
	struct h h;
	struct h_pkt p;
	static const uint8_t past_end[] = {2, 10, 5, 0xb4};
	static const uint8_t zero_len[] = {1, 1, 8, 0};
	static const uint8_t short_mss[] = {2, 3, 5, 0}; /* MSS with length 3: ignored */
	struct h_opts o = {.raw = past_end, .rawlen = 4};

	(void)state;
	h_init(&h, NULL);
	h.cport = 40006;
	h.lport = H_APP_PORT;
	h_send(&h, F_SYN, 1, 0, 65535, &o, NULL, 0);
	expect_none(&h);
	o.raw = zero_len;
	h_send(&h, F_SYN, 1, 0, 65535, &o, NULL, 0);
	expect_none(&h);
	assert_int_equal(h_drops(&h, TCP_DROP_BAD_OPTIONS), 2);
	assert_int_equal(tcp_engine_nb_flows(h.e), 0);

	o.raw = short_mss;
	h.app.send_on_accept = 1000;
	assert_int_equal(h_connect(&h, 40007, H_APP_PORT, &o, 1), 0);
	h_pop(&h, &p);
	assert_int_equal(p.len, 536);
	h_fini(&h);
}

static void
test_bad_checksum(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, NULL);
	h.cport = 40008;
	h.lport = H_APP_PORT;
	h_send_badsum(&h, F_SYN, 1, 0, 65535, NULL, 0);
	expect_none(&h);
	assert_int_equal(tcp_engine_nb_flows(h.e), 0);
	assert_int_equal(h_connect(&h, 40008, H_APP_PORT, NULL, 1), 0);
	h_send_badsum(&h, F_ACK | F_PSH, h.cseq, h.sseq, 1000, "hello", 5);
	expect_none(&h);
	assert_int_equal(h.app.rxlen, 0);
	assert_int_equal(h_drops(&h, TCP_DROP_BAD_CSUM), 2);
	h_fini(&h);
}

/*
 * What the port says about the TCP checksum: GOOD and NONE (virtio, vhost and veth hand over
 * segments from the same host with the checksum left partial, their data verified) are taken
 * as they are; BAD is dropped; UNKNOWN is checked in software.
 */
static void
test_rx_cksum_flags(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40009, H_APP_PORT, NULL, 1), 0);
	h.rx_ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE | RTE_MBUF_F_RX_IP_CKSUM_NONE;
	h_send_badsum(&h, F_ACK | F_PSH, h.cseq, h.sseq, 1000, "hello", 5);
	h.cseq += 5;
	assert_int_equal(h.app.rxlen, 5);
	h.rx_ol_flags = RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	h_send_badsum(&h, F_ACK | F_PSH, h.cseq, h.sseq, 1000, "there", 5);
	h.cseq += 5;
	assert_int_equal(h.app.rxlen, 10);
	h.rx_ol_flags = RTE_MBUF_F_RX_L4_CKSUM_BAD;
	h_data(&h, "nope!", 5);
	h.cseq -= 5;
	assert_int_equal(h.app.rxlen, 10);
	h.rx_ol_flags = RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN;
	h_send_badsum(&h, F_ACK | F_PSH, h.cseq, h.sseq, 1000, "nope!", 5);
	assert_int_equal(h.app.rxlen, 10);
	assert_int_equal(h_drops(&h, TCP_DROP_BAD_CSUM), 2);
	h_fini(&h);
}

/* ---------------------------------------------------------------- data */

static void
test_data_in_delayed_ack(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40010, H_APP_PORT, NULL, 1), 0);
	h_data(&h, h_pattern, 100);
	assert_int_equal(h.app.rxlen, 100);
	assert_memory_equal(h.app.rx, h_pattern, 100);
	expect_none(&h); /* delayed */
	h_advance(&h, 39 * MS);
	expect_none(&h);
	h_advance(&h, 1 * MS);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_ACK);
	assert_int_equal(p.ack, h.cseq);
	/* every second full segment is acknowledged at once */
	h_data(&h, h_pattern + 100, 1448);
	expect_none(&h);
	h_data(&h, h_pattern + 1548, 1448);
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	assert_int_equal(h.app.rxlen, 100 + 2 * 1448);
	assert_memory_equal(h.app.rx, h_pattern, h.app.rxlen);
	h_fini(&h);
}

static void
test_echo_both_ways(void **state)
{
	struct h h;
	struct h_pkt p;
	uint32_t got = 0;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40011, H_ECHO_PORT, NULL, 1), 0);
	for (int i = 0; i < 4; i++)
		h_data(&h, h_pattern + i * 1000, 1000);
	while (h_pending(&h)) {
		h_pop(&h, &p);
		assert_int_equal(p.seq, h.sseq + got);
		memcpy(h.app.rx + got, p.data, p.len);
		got += p.len;
	}
	assert_int_equal(got, 4000);
	assert_memory_equal(h.app.rx, h_pattern, 4000);
	assert_int_equal(p.ack, h.cseq); /* the echo carries the ACK */
	h_fini(&h);
}

static void
test_out_of_order_and_sack(void **state)
{
	struct h h;
	struct h_pkt p;
	uint32_t base;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40012, H_APP_PORT, NULL, 1), 0);
	base = h.cseq;
	h.cseq = base + 1000;
	h_data(&h, h_pattern + 1000, 1000); /* second segment first */
	assert_int_equal(h.app.rxlen, 0);
	h_pop(&h, &p); /* immediate duplicate ACK */
	assert_int_equal(p.ack, base);
	assert_int_equal(p.nsack, 1);
	assert_int_equal(p.sack[0][0], base + 1000);
	assert_int_equal(p.sack[0][1], base + 2000);
	h.cseq = base + 3000;
	h_data(&h, h_pattern + 3000, 500); /* another hole */
	h_pop(&h, &p);
	assert_int_equal(p.ack, base);
	assert_int_equal(p.nsack, 2);
	assert_int_equal(p.sack[0][0], base + 3000); /* most recent block first */
	assert_int_equal(p.sack[1][0], base + 1000);
	h.cseq = base;
	h_data(&h, h_pattern, 1000);
	h_pop(&h, &p);
	assert_int_equal(p.ack, base + 2000);
	assert_int_equal(p.nsack, 1);
	assert_int_equal(h.app.rxlen, 2000);
	h.cseq = base + 2000;
	h_data(&h, h_pattern + 2000, 1000);
	h_pop(&h, &p);
	assert_int_equal(p.ack, base + 3500);
	assert_int_equal(p.nsack, 0);
	assert_int_equal(h.app.rxlen, 3500);
	assert_memory_equal(h.app.rx, h_pattern, 3500);
	assert_true(stats(&h)->ooo_segments >= 2);
	h_fini(&h);
}

static void
test_ooo_merges_contiguous_runs(void **state)
{
	struct h h;
	struct h_pkt p;
	uint32_t base;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40016, H_APP_PORT, NULL, 1), 0);
	base = h.cseq;
	/* a hole of 100 bytes, then 200 contiguous segments: more than the entry limit */
	h.cseq = base + 100;
	for (int i = 0; i < 200; i++)
		h_data(&h, h_pattern + 100 + 100 * i, 100);
	/* islands that merge from both sides: [30100,30200) [30300,30400), then the middle */
	h.cseq = base + 30100;
	h_data(&h, h_pattern + 30100, 100);
	h.cseq = base + 30300;
	h_data(&h, h_pattern + 30300, 100);
	h.cseq = base + 30200;
	h_data(&h, h_pattern + 30200, 100);
	h_drain(&h);
	assert_int_equal(h.app.rxlen, 0);
	assert_int_equal(h_drops(&h, TCP_DROP_OOO_FULL), 0);
	h.cseq = base;
	h_data(&h, h_pattern, 100);
	h_pop(&h, &p);
	assert_int_equal(p.ack, base + 20100);
	assert_int_equal(p.nsack, 1);
	assert_int_equal(p.sack[0][0], base + 30100);
	assert_int_equal(p.sack[0][1], base + 30400);
	h.cseq = base + 20100;
	for (int i = 0; i < 10; i++)
		h_data(&h, h_pattern + 20100 + 1000 * i, 1000);
	while (h_pending(&h) > 1)
		h_pop(&h, &p);
	h_pop(&h, &p);
	assert_int_equal(p.ack, base + 30400);
	assert_int_equal(h.app.rxlen, 30400);
	assert_memory_equal(h.app.rx, h_pattern, 30400);
	h_fini(&h);
}

static void
offload_linear_1280(struct tcp_engine_params *p)
{
	p->csum_offload = true;
	p->tx_linear = true;
	p->mtu = 1280;
}

static void
test_offload_linear_and_mtu_clamp(void **state)
{
	struct h h;
	struct rte_mbuf *m;
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;
	struct h_opts o = {.mss = 1460, .ws = -1};

	(void)state;
	h_init(&h, offload_linear_1280);
	h.cport = 40017;
	h.lport = H_APP_PORT;
	h.app.send_on_accept = 3000;
	h_send(&h, F_SYN, 1, 0, 65535, &o, NULL, 0);
	assert_int_equal(h_pending(&h), 1);
	m = h.out[h.head];
	ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	th = (const struct rte_tcp_hdr *)(ip + 1);
	/* MSS clamped to the MTU: 1280 - 40 */
	assert_int_equal(((const uint8_t *)(th + 1))[0], 2);
	assert_int_equal(rte_be_to_cpu_16(*(const uint16_t *)((const uint8_t *)(th + 1) + 2)),
			 1240);
	assert_true(m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM);
	assert_true(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM);
	assert_true(m->ol_flags & RTE_MBUF_F_TX_IPV4);
	assert_int_equal(ip->hdr_checksum, 0);
	assert_int_equal(th->cksum, rte_ipv4_phdr_cksum(ip, m->ol_flags));
	assert_true(rte_pktmbuf_headroom(m) >= RTE_ETHER_HDR_LEN);
	h.head++;
	h_send(&h, F_ACK, 2, rte_be_to_cpu_32(th->sent_seq) + 1, 65535, NULL, NULL, 0);
	rte_pktmbuf_free(h.out[h.head - 1]); /* the SYN-ACK, read above */
	h.out[h.head - 1] = NULL;
	assert_int_equal(h.app.accepted, 1);
	/* data segments: one mbuf each, payload copied behind the headers */
	assert_int_equal(h_pending(&h), 3);
	m = h.out[h.head];
	assert_int_equal(m->nb_segs, 1);
	assert_int_equal(m->pkt_len, 20 + 20 + 1240);
	assert_memory_equal(rte_pktmbuf_mtod_offset(m, void *, 40), h_pattern, 1240);
	h_drain(&h);
	h_fini(&h);
}

static void
linear(struct tcp_engine_params *p)
{
	p->tx_linear = true;
}

static void
test_linear_segments(void **state)
{
	struct h h;
	struct h_pkt p;
	uint32_t got = 0;

	(void)state;
	h_init(&h, linear);
	assert_int_equal(h_connect(&h, 40018, H_APP_PORT, NULL, 1), 0);
	/* several small sends end up in one chunk; segments come out whole either way */
	for (int i = 0; i < 30; i++)
		assert_int_equal(tcp_send(h.app.flow, h_pattern + 100 * i, 100), 100);
	while (h_pending(&h)) {
		h_pop(&h, &p);
		assert_memory_equal(p.data, h_pattern + got, p.len);
		got += p.len;
	}
	assert_int_equal(got, 3000);
	h_fini(&h);
}

static void
test_duplicate_and_overlap(void **state)
{
	struct h h;
	struct h_pkt p;
	uint32_t base;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40013, H_APP_PORT, NULL, 1), 0);
	base = h.cseq;
	h_data(&h, h_pattern, 1000);
	h.cseq = base;
	h_data(&h, h_pattern, 1000); /* exact duplicate */
	h_pop(&h, &p);
	assert_int_equal(p.ack, base + 1000);
	assert_int_equal(h.app.rxlen, 1000);
	assert_int_equal(h_drops(&h, TCP_DROP_OUT_OF_WINDOW), 1);
	h.cseq = base + 500;
	h_data(&h, h_pattern + 500, 1000); /* half old, half new */
	h_pop(&h, &p);
	assert_int_equal(p.ack, base + 1500);
	assert_int_equal(h.app.rxlen, 1500);
	assert_memory_equal(h.app.rx, h_pattern, 1500);
	h_fini(&h);
}

static void
test_sequence_wraparound(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40014, H_ECHO_PORT, NULL, 0xfffffe00u), 0);
	h_data(&h, h_pattern, 1000);
	h_data(&h, h_pattern + 1000, 1000);
	uint32_t got = 0;
	while (h_pending(&h)) {
		h_pop(&h, &p);
		memcpy(h.app.rx + got, p.data, p.len);
		got += p.len;
	}
	assert_int_equal(got, 2000);
	assert_memory_equal(h.app.rx, h_pattern, 2000);
	assert_int_equal(p.ack, 0xfffffe01u + 2000); /* wrapped past zero */
	assert_true(p.ack < 0x1000);
	h_fini(&h);
}

static void
test_paws(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.ws = -1, .ts = true};

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40015, H_APP_PORT, NULL, 1), 0);
	o.tsval = (uint32_t)(h.now / 1000) - 5000; /* 5 s older than ts_recent: a stale duplicate */
	o.tsecr = h.last_tsval;
	h_send(&h, F_ACK | F_PSH, h.cseq, h.sseq, 1000, &o, "old", 3);
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	assert_int_equal(h.app.rxlen, 0);
	assert_int_equal(h_drops(&h, TCP_DROP_PAWS), 1);
	/* a few ms older is reordering, not a wrapped duplicate: accepted */
	o.tsval = (uint32_t)(h.now / 1000) - 5;
	h_send(&h, F_ACK | F_PSH, h.cseq, h.sseq, 1000, &o, "reo", 3);
	h.cseq += 3;
	assert_int_equal(h.app.rxlen, 3);
	/* a peer that stops sending timestamps is tolerated */
	h_send(&h, F_ACK | F_PSH, h.cseq, h.sseq, 1000, NULL, "new", 3);
	assert_int_equal(h.app.rxlen, 6);
	assert_int_equal(h_drops(&h, TCP_DROP_PAWS), 1);
	h_fini(&h);
}

/* ---------------------------------------------------------------- retransmission */

static void
test_rto_backoff_karn(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1000, .ws = -1};

	(void)state;
	h_init(&h, NULL);
	h.cport = 40020;
	h.lport = H_APP_PORT;
	h_send(&h, F_SYN, 1, 0, 65535, &o, NULL, 0);
	h_pop(&h, &p);
	h.s_isn = p.seq;
	h.cseq = 2;
	h.sseq = p.seq + 1;
	h_advance(&h, 10 * MS);
	h.app.send_on_accept = 1000;
	h_ack(&h, h.sseq, 65535);
	assert_int_equal(info_of(&h).srtt, 10000);
	h_pop(&h, &p);
	assert_int_equal(p.len, 1000);
	/* RTO = max(srtt + 4 rttvar, 200 ms min) = 200 ms, then doubling */
	h_advance(&h, 199 * MS);
	expect_none(&h);
	h_advance(&h, 1 * MS);
	h_pop(&h, &p);
	assert_int_equal(p.seq, h.sseq);
	assert_int_equal(p.len, 1000);
	h_advance(&h, 399 * MS);
	expect_none(&h);
	h_advance(&h, 1 * MS);
	h_pop(&h, &p);
	assert_int_equal(p.seq, h.sseq);
	assert_int_equal(stats(&h)->rto_expired, 2);
	assert_int_equal(stats(&h)->retransmits, 2);
	/* Karn: the ACK of a retransmitted segment gives no RTT sample */
	h_advance(&h, 50 * MS);
	h_ack(&h, h.sseq + 1000, 65535);
	assert_int_equal(info_of(&h).srtt, 10000);
	assert_int_equal(h.app.acked, 1000);
	/* a fresh segment is timed again: 20 ms moves srtt by 1/8 */
	h.sseq += 1000;
	tcp_send(h.app.flow, h_pattern, 500);
	h_pop(&h, &p);
	h_advance(&h, 20 * MS);
	h_ack(&h, h.sseq + 500, 65535);
	assert_int_equal(info_of(&h).srtt, 11250);
	/* and the timer was rearmed from the new RTO, no stray retransmission */
	h_advance(&h, 2000 * MS);
	expect_none(&h);
	h_fini(&h);
}

static void
retries_2(struct tcp_engine_params *p)
{
	p->max_retries = 2;
}

static void
test_rto_gives_up(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, retries_2);
	h.app.send_on_accept = 100;
	assert_int_equal(h_connect(&h, 40021, H_APP_PORT, NULL, 1), 0);
	h_pop(&h, &p);
	for (int i = 0; i < 20 && h.app.closed == 0; i++)
		h_advance(&h, 1000 * MS);
	assert_int_equal(h.app.closed, 1);
	assert_int_equal(h.app.reason, TCP_CLOSE_TIMEOUT);
	while (h_pending(&h) > 1)
		h_pop(&h, &p);
	h_pop(&h, &p);
	assert_true(p.flags & F_RST);
	assert_null(h_flow(&h));
	h_fini(&h);
}

static void
test_fast_retransmit_newreno(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1000, .ws = -1};
	uint32_t una;

	(void)state;
	h_init(&h, NULL);
	h.app.send_on_accept = 12000;
	assert_int_equal(h_connect(&h, 40022, H_APP_PORT, &o, 1), 0);
	una = h.sseq;
	for (int i = 0; i < 10; i++) {
		h_pop(&h, &p);
		assert_int_equal(p.seq, una + 1000 * i);
		assert_int_equal(p.len, 1000);
	}
	expect_none(&h); /* initial window: 10 segments */
	/* first segment lost: duplicate ACKs; limited transmit sends one new segment each */
	h_ack(&h, una, 65535);
	h_pop(&h, &p);
	assert_int_equal(p.seq, una + 10000);
	h_ack(&h, una, 65535);
	h_pop(&h, &p);
	assert_int_equal(p.seq, una + 11000);
	h_ack(&h, una, 65535);
	h_pop(&h, &p); /* third: fast retransmit */
	assert_int_equal(p.seq, una);
	assert_int_equal(p.len, 1000);
	expect_none(&h);
	assert_int_equal(stats(&h)->fast_retransmits, 1);
	assert_int_equal(stats(&h)->dup_acks_in, 3);
	/* partial ACK: segment 5 was lost as well, resent at once (RFC 6582) */
	h_ack(&h, una + 5000, 65535);
	h_pop(&h, &p);
	assert_int_equal(p.seq, una + 5000);
	expect_none(&h);
	/* full ACK ends recovery; nothing left to send */
	h_ack(&h, una + 12000, 65535);
	expect_none(&h);
	assert_int_equal(h.app.acked, 12000);
	assert_int_equal(stats(&h)->rto_expired, 0);
	h_fini(&h);
}

static void
ack_sack(struct h *h, uint32_t ack, int n, const uint32_t (*blocks)[2])
{
	uint8_t raw[40];
	uint8_t k = 0;
	struct h_opts o = {.ws = -1};

	raw[k++] = 1;
	raw[k++] = 1;
	raw[k++] = 5;
	raw[k++] = (uint8_t)(2 + 8 * n);
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < 2; j++) {
			uint32_t v = blocks[i][j];

			raw[k++] = v >> 24;
			raw[k++] = v >> 16;
			raw[k++] = v >> 8;
			raw[k++] = v;
		}
	}
	o.raw = raw;
	o.rawlen = k;
	h_send(h, F_ACK, h->cseq, ack, 65535, &o, NULL, 0);
}

static void
test_sack_recovery(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1000, .ws = -1, .sackp = true};
	uint32_t u, b[2][2];

	(void)state;
	h_init(&h, NULL);
	h.app.send_on_accept = 10000;
	assert_int_equal(h_connect(&h, 40025, H_APP_PORT, &o, 1), 0);
	u = h.sseq;
	for (int i = 0; i < 10; i++)
		h_pop(&h, &p);
	/* segments 0 and 5 lost: the peer SACKs 1-4, then 6-9 */
	for (int i = 1; i <= 3; i++) {
		b[0][0] = u + 1000;
		b[0][1] = u + 1000 + 1000 * i;
		ack_sack(&h, u, 1, b);
	}
	h_pop(&h, &p); /* fast retransmit of the first hole */
	assert_int_equal(p.seq, u);
	assert_int_equal(p.len, 1000);
	h_drain(&h);
	b[0][0] = u + 6000;
	b[0][1] = u + 10000;
	b[1][0] = u + 1000;
	b[1][1] = u + 5000;
	ack_sack(&h, u, 2, b);
	/* the second hole goes out before the first is even acknowledged (NewReno would wait) */
	h_pop(&h, &p);
	assert_int_equal(p.seq, u + 5000);
	assert_int_equal(p.len, 1000);
	expect_none(&h);
	assert_int_equal(stats(&h)->fast_retransmits, 1);
	h_ack(&h, u + 10000, 65535);
	expect_none(&h);
	assert_int_equal(h.app.acked, 10000);
	assert_int_equal(stats(&h)->rto_expired, 0);
	assert_int_equal(stats(&h)->retransmits, 2);
	h_fini(&h);
}

/* Pops everything pending; returns how many segments started in [lo, hi). */
static int
pop_count_in(struct h *h, uint32_t lo, uint32_t hi, uint32_t *first_seq)
{
	struct h_pkt p;
	int n = 0;

	*first_seq = 0;
	while (h_pending(h)) {
		h_pop(h, &p);
		if (p.len == 0)
			continue;
		if (*first_seq == 0)
			*first_seq = p.seq;
		if (seq_geq(p.seq, lo) && seq_lt(p.seq, hi))
			n++;
	}
	return n;
}

/* SACK recovery goes on after our FIN went out: the second hole is resent from the SACK. */
static void
test_sack_recovery_after_fin(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1000, .ws = -1, .sackp = true};
	uint32_t u, b[2][2];
	bool fin = false;

	(void)state;
	h_init(&h, NULL);
	h.app.send_on_accept = 10000;
	assert_int_equal(h_connect(&h, 40065, H_APP_PORT, &o, 1), 0);
	u = h.sseq;
	assert_int_equal(tcp_shutdown(h.app.flow), 0);
	while (h_pending(&h)) {
		h_pop(&h, &p);
		fin |= (p.flags & F_FIN) != 0;
	}
	assert_true(fin);
	/* segments 0 and 5 lost */
	for (int i = 1; i <= 3; i++) {
		b[0][0] = u + 1000;
		b[0][1] = u + 1000 + 1000 * i;
		ack_sack(&h, u, 1, b);
	}
	h_pop(&h, &p);
	assert_int_equal(p.seq, u);
	h_drain(&h);
	b[0][0] = u + 6000;
	b[0][1] = u + 10000;
	b[1][0] = u + 1000;
	b[1][1] = u + 5000;
	ack_sack(&h, u, 2, b);
	assert_true(h_pending(&h) > 0);
	h_pop(&h, &p);
	assert_int_equal(p.seq, u + 5000);
	assert_int_equal(p.len, 1000);
	h_ack(&h, u + 10001, 65535);
	assert_int_equal(h.app.acked, 10000);
	assert_int_equal(stats(&h)->rto_expired, 0);
	h_fini(&h);
}

/*
 * A partial ACK in SACK recovery that leaves the scoreboard empty: the segment at snd_una
 * is lost too and goes out now, not after an RTO (RFC 6582 3.2 step 4; FreeBSD does it in
 * SACK recovery as well).
 */
static void
test_sack_partial_ack_retransmits(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1000, .ws = -1, .sackp = true};
	uint32_t u, b[1][2];

	(void)state;
	h_init(&h, NULL);
	h.app.send_on_accept = 6000;
	assert_int_equal(h_connect(&h, 40066, H_APP_PORT, &o, 1), 0);
	u = h.sseq;
	h_drain(&h);
	/* segments 0 and 5 lost; 1-4 SACKed */
	for (int i = 1; i <= 4; i++) {
		b[0][0] = u + 1000;
		b[0][1] = u + 1000 + 1000 * i;
		ack_sack(&h, u, 1, b);
	}
	h_pop(&h, &p);
	assert_int_equal(p.seq, u);
	h_drain(&h);
	h_ack(&h, u + 5000, 65535); /* partial: recover is u + 6000 */
	assert_true(h_pending(&h) > 0);
	h_pop(&h, &p);
	assert_int_equal(p.seq, u + 5000);
	assert_int_equal(p.len, 1000);
	h_ack(&h, u + 6000, 65535);
	assert_int_equal(h.app.acked, 6000);
	assert_int_equal(stats(&h)->rto_expired, 0);
	h_fini(&h);
}

/*
 * A handshake whose final ACK comes rtt_us after the SYN-ACK (the first RTT sample); the app
 * then sends send bytes. Returns the server's first data sequence number.
 */
static uint32_t
connect_after(struct h *h, uint16_t cport, const struct h_opts *o, uint64_t rtt_us, uint32_t send)
{
	struct h_pkt p;

	h->cport = cport;
	h->lport = H_APP_PORT;
	h_send(h, F_SYN, 1, 0, 65535, o, NULL, 0);
	h_pop(h, &p);
	h->cseq = 2;
	h->sseq = p.seq + 1;
	h_advance(h, rtt_us);
	h->app.send_on_accept = send;
	h_ack(h, h->sseq, 65535);
	return h->sseq;
}

/*
 * The fast retransmission itself is lost. Before, nothing sent it again until the RTO (200
 * ms at least, several RTTs here): SACK recovery resends each hole once. Now, once data sent
 * after the resend is SACKed and the resend had SRTT + SRTT/4 to arrive, it goes again
 * (RFC 8985's time rule), with no timeout.
 */
static void
test_rack_lost_retransmission(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1000, .ws = -1, .sackp = true};
	uint32_t u, b[1][2], first, top;

	(void)state;
	h_init(&h, NULL);
	u = connect_after(&h, 40092, &o, 10 * MS, 30000); /* srtt 10 ms */
	assert_int_equal(pop_count_in(&h, u, u + 10000, &first), 10);
	h_advance(&h, 10 * MS);
	/* segment 0 lost: SACKs for 1-3 start recovery; its resend is lost too */
	for (int i = 1; i <= 3; i++) {
		b[0][0] = u + 1000;
		b[0][1] = u + 1000 + 1000 * i;
		ack_sack(&h, u, 1, b);
	}
	assert_int_equal(pop_count_in(&h, u, u + 1000, &first), 1);
	assert_int_equal(stats(&h)->fast_retransmits, 1);
	/* 4-9 arrive: new data goes out, beyond what was sent before the resend */
	top = u + 10000;
	for (int i = 4; i <= 9; i++) {
		b[0][1] = u + 1000 + 1000 * i;
		ack_sack(&h, u, 1, b);
		while (h_pending(&h)) {
			h_pop(&h, &p);
			assert_int_not_equal(p.seq, u); /* too early to call the resend lost */
			if (seq_gt(p.seq + p.len, top))
				top = p.seq + p.len;
		}
	}
	/* 10 and 11 went out on the first duplicate ACKs (limited transmit), before the resend */
	assert_true(seq_gt(top, u + 12000));
	/* an RTT later what was sent after the resend is SACKed: the resend is lost */
	h_advance(&h, 13 * MS);
	b[0][1] = top;
	ack_sack(&h, u, 1, b);
	assert_int_equal(pop_count_in(&h, u, u + 1000, &first), 1);
	assert_int_equal(first, u);
	assert_int_equal(stats(&h)->rack_rtx_lost, 1);
	assert_int_equal(stats(&h)->rto_expired, 0);
	h_ack(&h, top, 65535);
	h_drain(&h);
	assert_int_equal(stats(&h)->rto_expired, 0);
	h_fini(&h);
}

/*
 * Both retransmissions are lost and the RTO fires. The peer holds 1-4 and 6-9: after the
 * timeout only the holes may be resent, not a go-back-N of data it SACKed.
 */
static void
test_rto_keeps_sack_scoreboard(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1000, .ws = -1, .sackp = true};
	uint32_t u, b[2][2], first;

	(void)state;
	h_init(&h, NULL);
	h.app.send_on_accept = 10000;
	assert_int_equal(h_connect(&h, 40067, H_APP_PORT, &o, 1), 0);
	u = h.sseq;
	h_drain(&h);
	for (int i = 1; i <= 3; i++) {
		b[0][0] = u + 1000;
		b[0][1] = u + 1000 + 1000 * i;
		ack_sack(&h, u, 1, b);
	}
	h_drain(&h); /* the retransmission of 0 is lost */
	b[0][0] = u + 6000;
	b[0][1] = u + 10000;
	b[1][0] = u + 1000;
	b[1][1] = u + 5000;
	ack_sack(&h, u, 2, b);
	h_drain(&h); /* and that of 5 */
	while (stats(&h)->rto_expired == 0)
		h_advance(&h, 10 * MS);
	h_pop(&h, &p);
	assert_int_equal(p.seq, u);
	h_drain(&h);
	/* 0 arrives; the peer acks up to the second hole and SACKs the rest */
	b[0][0] = u + 6000;
	b[0][1] = u + 10000;
	ack_sack(&h, u + 5000, 1, b);
	assert_int_equal(pop_count_in(&h, u + 6000, u + 10000, &first), 0);
	assert_int_equal(first, u + 5000);
	h_ack(&h, u + 10000, 65535);
	assert_int_equal(pop_count_in(&h, u, u + 10000, &first), 0);
	assert_int_equal(h.app.acked, 10000);
	assert_int_equal(stats(&h)->rto_expired, 1);
	h_fini(&h);
}

/*
 * A timeout that was only a delay: the peer had every segment, its ACKs were late (a busy
 * client, a queue that drained late). With timestamps the first ACK after the resend echoes
 * the original's TSval (RFC 3522): cwnd comes back and nothing more is resent. Before, every
 * such timeout cut cwnd to one segment and resent the whole flight (go-back-N).
 */
static void
rto_eifel_case(bool spurious)
{
	struct h h;
	struct h_pkt p;
	struct h_opts syn = {.mss = 1000, .ws = -1, .sackp = true, .ts = true};
	struct h_opts o = {.ws = -1, .ts = true};
	uint32_t u, first, orig_tsval = 0, rtx_tsval;

	h_init(&h, NULL);
	h.app.send_on_accept = 10000;
	assert_int_equal(h_connect(&h, 40090, H_APP_PORT, &syn, 1), 0);
	u = h.sseq;
	while (h_pending(&h)) {
		h_pop(&h, &p);
		if (p.seq == u && p.len > 0)
			orig_tsval = p.tsval;
	}
	h_advance(&h, 30 * MS); /* late: the tail loss probe, then the RTO */
	while (stats(&h)->rto_expired == 0)
		h_advance(&h, 10 * MS);
	rtx_tsval = 0;
	while (h_pending(&h)) {
		h_pop(&h, &p);
		if (p.seq == u && p.len > 0)
			rtx_tsval = p.tsval;
	}
	assert_true(rtx_tsval > orig_tsval);
	/* the ACK for the first three segments: of the original, or of the resend */
	o.tsval = (uint32_t)(h.now / 1000);
	o.tsecr = spurious ? orig_tsval : rtx_tsval;
	h_send(&h, F_ACK, h.cseq, u + 3000, 65535, &o, NULL, 0);
	if (spurious) {
		assert_int_equal(stats(&h)->rto_spurious, 1);
		/* the rest is in flight: not sent again */
		assert_int_equal(pop_count_in(&h, u + 3000, u + 10000, &first), 0);
	} else {
		assert_int_equal(stats(&h)->rto_spurious, 0);
		assert_true(pop_count_in(&h, u + 3000, u + 10000, &first) > 0);
		assert_int_equal(first, u + 3000); /* go-back-N: the flight is resent */
	}
	h_fini(&h);
}

static void
test_rto_spurious_eifel_undo(void **state)
{
	(void)state;
	rto_eifel_case(true);
	rto_eifel_case(false);
}

/*
 * The same without timestamps (Windows clients by default): F-RTO (RFC 5682). After the first
 * ACK past the resend, two segments never sent before go out instead of the old flight; an
 * ACK that then moves snd_una acknowledges data that was not resent: the timeout was
 * spurious. A duplicate ACK instead says the flight is lost: go-back-N from snd_una.
 */
static void
rto_frto_case(bool spurious)
{
	struct h h;
	struct h_opts syn = {.mss = 1000, .ws = -1, .sackp = true};
	uint32_t u, first;

	h_init(&h, NULL);
	h.app.send_on_accept = 30000;
	assert_int_equal(h_connect(&h, 40091, H_APP_PORT, &syn, 1), 0);
	u = h.sseq;
	assert_int_equal(pop_count_in(&h, u, u + 10000, &first), 10); /* IW10 */
	/* a tail loss probe (one new segment), then the RTO resends the first */
	while (stats(&h)->rto_expired == 0)
		h_advance(&h, 10 * MS);
	assert_int_equal(pop_count_in(&h, u, u + 1000, &first), 1);
	assert_int_equal(stats(&h)->tlp_probes, 1);
	/* first ACK: two new segments past the probe, not the old flight */
	h_ack(&h, u + 2000, 65535);
	assert_int_equal(pop_count_in(&h, u + 11000, u + 13000, &first), 2);
	assert_int_equal(first, u + 11000);
	if (spurious) {
		h_ack(&h, u + 5000, 65535);
		assert_int_equal(stats(&h)->rto_spurious, 1);
		/* cwnd back: new data flows on, nothing of the old flight is resent */
		assert_int_equal(pop_count_in(&h, u + 5000, u + 11000, &first), 0);
		assert_true(seq_geq(first, u + 13000));
	} else {
		h_ack(&h, u + 2000, 65535); /* a duplicate: the flight is lost */
		assert_int_equal(stats(&h)->rto_spurious, 0);
		assert_true(pop_count_in(&h, u + 2000, u + 11000, &first) > 0);
		assert_int_equal(first, u + 2000); /* go-back-N from snd_una */
		h_ack(&h, u + 4000, 65535);
		assert_int_equal(stats(&h)->rto_spurious, 0);
	}
	h_fini(&h);
}

static void
test_rto_spurious_frto_undo(void **state)
{
	(void)state;
	rto_frto_case(true);
	rto_frto_case(false);
}

static void
test_tail_loss_probe(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1000, .ws = -1, .sackp = true};
	uint32_t u, b[1][2];

	(void)state;
	h_init(&h, NULL);
	u = connect_after(&h, 40019, &o, 10 * MS, 3000); /* srtt 10 ms */
	for (int i = 0; i < 3; i++)
		h_pop(&h, &p);
	/* the first two segments are lost; no duplicate ACKs can come for them */
	h_advance(&h, 19 * MS);
	expect_none(&h);
	h_advance(&h, 1 * MS); /* probe at 2 SRTT, long before the 200 ms RTO */
	h_pop(&h, &p);
	assert_int_equal(p.seq, u + 2000);
	assert_int_equal(p.len, 1000);
	assert_int_equal(stats(&h)->tlp_probes, 1);
	/* its SACK shows the hole: recovery starts at once */
	b[0][0] = u + 2000;
	b[0][1] = u + 3000;
	ack_sack(&h, u, 1, b);
	h_pop(&h, &p);
	assert_int_equal(p.seq, u);
	assert_int_equal(stats(&h)->early_retransmits, 1);
	ack_sack(&h, u + 1000, 1, b);
	h_pop(&h, &p);
	assert_int_equal(p.seq, u + 1000);
	h_ack(&h, u + 3000, 65535);
	expect_none(&h);
	assert_int_equal(h.app.acked, 3000);
	assert_int_equal(stats(&h)->rto_expired, 0);
	h_advance(&h, 1000 * MS);
	expect_none(&h);
	h_fini(&h);
}

static void
test_zero_window_persist(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	h.cwin = 0;
	h.app.send_on_accept = 1000;
	assert_int_equal(h_connect(&h, 40023, H_APP_PORT, NULL, 1), 0);
	expect_none(&h);
	h_advance(&h, 200 * MS);
	h_pop(&h, &p); /* window probe */
	assert_int_equal(p.flags, F_ACK);
	assert_int_equal(p.seq, h.sseq - 1);
	assert_int_equal(p.len, 0);
	h_ack(&h, h.sseq, 0); /* still closed */
	expect_none(&h);
	h_advance(&h, 399 * MS);
	expect_none(&h);
	h_advance(&h, 1 * MS); /* backed off to 400 ms */
	h_pop(&h, &p);
	assert_int_equal(p.seq, h.sseq - 1);
	assert_int_equal(stats(&h)->persist_probes, 2);
	h_ack(&h, h.sseq, 65535); /* window opens */
	h_pop(&h, &p);
	assert_int_equal(p.seq, h.sseq);
	assert_int_equal(p.len, 1000);
	assert_int_equal(stats(&h)->rto_expired, 0);
	h_fini(&h);
}

static void
persist_30s(struct tcp_engine_params *p)
{
	p->persist_timeout_us = 30000 * MS;
}

/*
 * A peer that never reads: it answers every window probe, always with a zero window. The
 * answers are not progress; after persist_timeout the flow is reset and its memory freed.
 */
static void
test_zero_window_forever_gives_up(void **state)
{
	struct h h;
	struct h_pkt p;
	bool rst = false;
	int probes = 0;

	(void)state;
	h_init(&h, persist_30s);
	h.cwin = 0;
	h.app.send_on_accept = 1000;
	assert_int_equal(h_connect(&h, 40064, H_APP_PORT, NULL, 1), 0);
	for (int t = 0; t < 600 && !rst; t++) { /* ten minutes, a second at a time */
		h_advance(&h, 1000 * MS);
		while (h_pending(&h)) {
			h_pop(&h, &p);
			if (p.flags & F_RST) {
				rst = true;
				continue;
			}
			assert_int_equal(p.len, 0);
			probes++;
			h_ack(&h, h.sseq, 0); /* still no room */
		}
		if (t == 25) /* within the bound the flow is kept */
			assert_int_equal(h.app.closed, 0);
	}
	assert_true(rst);
	assert_true(probes >= 3);
	assert_int_equal(h.app.closed, 1);
	assert_int_equal(h.app.reason, TCP_CLOSE_TIMEOUT);
	assert_int_equal(stats(&h)->persist_timeouts, 1);
	assert_int_equal(tcp_engine_nb_flows(h.e), 0);
	h_fini(&h);
}

static void
small_rcvbuf(struct tcp_engine_params *p)
{
	p->rcvbuf = 8192;
}

static void
test_receive_pause_closes_window(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, small_rcvbuf);
	assert_int_equal(h_connect(&h, 40024, H_APP_PORT, NULL, 1), 0);
	h.app.consume_max = 0; /* the app parks the request */
	for (int i = 0; i < 8; i++)
		h_data(&h, h_pattern + 1024 * i, 1024);
	while (h_pending(&h) > 1)
		h_pop(&h, &p);
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	assert_int_equal(p.win, 0);
	/* beyond the window: not accepted, ACKed with the closed window */
	h_data(&h, h_pattern + 8192, 100);
	h.cseq -= 100;
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	assert_int_equal(p.win, 0);
	assert_int_equal(h.app.rxlen, 0);
	/* the app reads again: everything arrives and the window reopens with an update */
	h.app.consume_max = UINT32_MAX;
	tcp_recv_resume(h.app.flow);
	assert_int_equal(h.app.rxlen, 8192);
	assert_memory_equal(h.app.rx, h_pattern, 8192);
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	assert_int_equal(p.win, 8192);
	h_fini(&h);
}

static void
test_tinygrams_do_not_pin_mbufs(void **state)
{
	struct h h;
	unsigned int before;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40026, H_APP_PORT, NULL, 1), 0);
	h.app.consume_max = 0; /* parked: everything stays queued */
	before = rte_mempool_avail_count(h_pool);
	for (int i = 0; i < 1000; i++)
		h_data(&h, h_pattern + i, 1);
	h_drain(&h);
	/* 1000 one-byte segments must not hold 1000 mbufs */
	assert_true(before - rte_mempool_avail_count(h_pool) < 10);
	h.app.consume_max = UINT32_MAX;
	tcp_recv_resume(h.app.flow);
	assert_int_equal(h.app.rxlen, 1000);
	assert_memory_equal(h.app.rx, h_pattern, 1000);
	h_fini(&h);
}

/* Send queues from a pool of four mbufs; headers from the shared one (as l4.c does). */
static struct rte_mempool *small_pool;

static void
small_sndq_pool(struct tcp_engine_params *p)
{
	p->hdr_pool = p->pool;
	p->pool = small_pool;
}

/* Pops echo segments; returns the bytes, checked against the pattern from offset got. */
static uint32_t
pop_echo(struct h *h, uint32_t got)
{
	struct h_pkt p;
	uint32_t n = 0;

	while (h_pending(h)) {
		h_pop(h, &p);
		if (p.len == 0)
			continue;
		assert_int_equal(p.seq, h->sseq + got + n);
		assert_memory_equal(p.data, h_pattern + got + n, p.len);
		n += p.len;
	}
	return n;
}

/*
 * The send-queue pool runs dry. Queued data must still go out (headers come from elsewhere)
 * and, when the queue was empty so no ACK will call back, a timer must: before both, a
 * flow whose echo came up short sat with its receive paused forever.
 */
static void
test_send_pool_dry(void **state)
{
	struct rte_mbuf *held[4];
	struct h h;
	uint32_t got, n;

	(void)state;
	small_pool = rte_pktmbuf_pool_create("tcp_small", 4, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					     SOCKET_ID_ANY);
	assert_non_null(small_pool);
	h_init(&h, small_sndq_pool);
	assert_int_equal(h_connect(&h, 40041, H_ECHO_PORT, NULL, 1), 0);

	/* 10 KB in; four mbufs hold under 9 KB of echo, which must still be sent */
	for (int i = 0; i < 10; i++)
		h_data(&h, h_pattern + i * 1000, 1000);
	assert_int_equal(rte_mempool_avail_count(small_pool), 0);
	assert_true(stats(&h)->send_nobufs > 0);
	got = pop_echo(&h, 0);
	assert_int_equal(got, 4u * rte_pktmbuf_data_room_size(small_pool)); /* headroom too */
	/* the ACK frees the queue: the rest is echoed */
	h_ack(&h, h.sseq + got, 65535);
	got += pop_echo(&h, got);
	assert_int_equal(got, 10000);
	h_ack(&h, h.sseq + got, 65535);
	h_drain(&h);
	assert_int_equal(rte_mempool_avail_count(small_pool), 4);

	/* someone else holds the pool: the echo finds nothing, its own queue is empty */
	for (int i = 0; i < 4; i++)
		held[i] = rte_pktmbuf_alloc(small_pool);
	h_data(&h, h_pattern + got, 1000);
	assert_int_equal(pop_echo(&h, got), 0);
	h_advance(&h, 10 * MS);
	assert_int_equal(pop_echo(&h, got), 0); /* still dry: retried, nothing to send */
	for (int i = 0; i < 4; i++)
		rte_pktmbuf_free(held[i]);
	h_advance(&h, 10 * MS);
	n = pop_echo(&h, got);
	assert_int_equal(n, 1000);
	h_ack(&h, h.sseq + got + n, 65535);
	h_fini(&h);
	rte_mempool_free(small_pool);
}

static void
rx_pool_always_low(struct tcp_engine_params *p)
{
	p->rx_low_watermark = UINT32_MAX;
}

/*
 * Receive pool low: payload for a flow whose app is not reading is dropped, the ACK it
 * carries is still taken (it is what frees memory), and the peer's resend is accepted once
 * the app reads again.
 */
static void
test_rx_pool_low_keeps_acks(void **state)
{
	struct h h;
	struct h_pkt p;
	uint32_t first;

	(void)state;
	h_init(&h, rx_pool_always_low);
	h.app.send_on_accept = 1000;
	assert_int_equal(h_connect(&h, 40042, H_APP_PORT, NULL, 1), 0);
	h_pop(&h, &p);
	assert_int_equal(p.len, 1000);
	h.app.consume_max = 0; /* the app stops reading */
	h_data(&h, h_pattern, 1000);
	assert_int_equal(h.app.rxlen, 0);
	h_drain(&h);
	/* held, since the flow was reading when it came; the next one is not */
	first = h.cseq;
	h.sseq += 1000; /* the client acks the server's 1000 bytes with its next data */
	h_data(&h, h_pattern + 1000, 1000);
	assert_int_equal(h_drops(&h, TCP_DROP_RX_POOL_LOW), 1);
	assert_int_equal(h.app.acked, 1000);
	h_drain(&h);
	h.app.consume_max = UINT32_MAX;
	tcp_recv_resume(h.app.flow);
	assert_int_equal(h.app.rxlen, 1000);
	h_drain(&h);
	/* the resend, in order to a reading app, is taken */
	h.cseq = first;
	h_data(&h, h_pattern + 1000, 1000);
	assert_int_equal(h.app.rxlen, 2000);
	assert_memory_equal(h.app.rx, h_pattern, 2000);
	h_fini(&h);
}

/* ---------------------------------------------------------------- memory held by one peer */

/* In-use mbufs of the test pool (its cache included, so compare differences only). */
static unsigned int
pool_used(void)
{
	return rte_mempool_in_use_count(h_pool);
}

/*
 * A hole, then 2000 one-byte segments behind it: accounted in bytes (2000 of a 128 KiB
 * window) they looked harmless, but each held a 2 KiB mbuf. Coalesced, they take a few.
 */
static void
test_ooo_tinygrams_coalesced(void **state)
{
	struct h h;
	struct h_pkt p;
	uint32_t base;
	unsigned int before;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40060, H_APP_PORT, NULL, 1), 0);
	base = h.cseq;
	before = pool_used();
	h.cseq = base + 1;
	for (int i = 0; i < 2000; i++)
		h_data(&h, h_pattern + 1 + i, 1);
	h_drain(&h);
	assert_int_equal(h.app.rxlen, 0);
	assert_true(pool_used() - before < 20);
	h.cseq = base;
	h_data(&h, h_pattern, 1);
	h_pop(&h, &p);
	assert_int_equal(p.ack, base + 2001);
	assert_int_equal(h.app.rxlen, 2001);
	assert_memory_equal(h.app.rx, h_pattern, 2001);
	h_fini(&h);
}

static void
share_512th(struct tcp_engine_params *p)
{
	p->rx_flow_share = 512; /* 16383 / 512: 31 mbufs */
}

/* One flow's out-of-order queue may not hold more than its share of the receive pool. */
static void
test_ooo_flow_share_of_pool(void **state)
{
	struct h h;
	struct h_pkt p;
	uint32_t base, acked = 0;
	unsigned int before;

	(void)state;
	h_init(&h, share_512th);
	assert_int_equal(h_connect(&h, 40061, H_APP_PORT, NULL, 1), 0);
	base = h.cseq;
	before = pool_used();
	h.cseq = base + 1000;
	for (int i = 1; i < 60; i++)
		h_data(&h, h_pattern + 1000 * i, 1000);
	h_drain(&h);
	assert_true(pool_used() - before <= 31);
	assert_true(h_drops(&h, TCP_DROP_RX_SHARE) >= 59 - 31);
	/* what was kept is the front of the queue: the hole fill releases a contiguous run */
	h.cseq = base;
	h_data(&h, h_pattern, 1000);
	while (h_pending(&h)) {
		h_pop(&h, &p);
		acked = p.ack;
	}
	assert_true(acked - base >= 20000);
	assert_int_equal(h.app.rxlen, acked - base);
	assert_memory_equal(h.app.rx, h_pattern, h.app.rxlen);
	h_fini(&h);
}

struct ooo_arg {
	uint16_t cport;
	uint32_t ooo;
};

static int
find_ooo(const struct tcp_flow_info *i, void *arg)
{
	struct ooo_arg *a = arg;

	if (i->tuple.rport == a->cport)
		a->ooo = i->ooo;
	return 0;
}

/*
 * The receive pool runs low: out-of-order data, which the peer must resend anyway if we
 * drop it, goes before anything else. Another flow's in-order data frees a quiet flow's
 * out-of-order queue.
 */
static void
test_ooo_pruned_first_under_pressure(void **state)
{
	struct h h;
	struct ooo_arg a = {.cport = 40062};
	uint32_t base;
	unsigned int before;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40062, H_APP_PORT, NULL, 1), 0);
	base = h.cseq;
	h.cseq = base + 1000;
	for (int i = 1; i < 21; i++)
		h_data(&h, h_pattern + 1000 * i, 1000);
	h_drain(&h);
	tcp_flow_table_walk(h_table, h.now, find_ooo, &a);
	assert_int_equal(a.ooo, 1);
	before = pool_used();

	/* a second client, in order, while the pool is low */
	assert_int_equal(h_connect(&h, 40063, H_APP_PORT, NULL, 1000), 0);
	h.e->p.rx_low_watermark = UINT32_MAX;
	h_data(&h, h_pattern, 1000);
	h_drain(&h);
	assert_int_equal(h.app.rxlen, 1000);
	assert_int_equal(stats(&h)->ooo_pruned, 20);
	assert_true(before - pool_used() >= 19);
	a.ooo = 99;
	tcp_flow_table_walk(h_table, h.now, find_ooo, &a);
	assert_int_equal(a.ooo, 0);
	h_fini(&h);
}

/* ---------------------------------------------------------------- per-source limits */

static void
src_limits(struct tcp_engine_params *p)
{
	p->max_conns_per_source = 4;
	p->max_half_open_per_source = 2;
}

/*
 * One client address opens connection after connection: past max_conns_per_source its SYNs
 * are dropped (counted src_limit) while the flows it has keep working; closed ones free
 * their place.
 */
static void
test_source_connection_limit(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, src_limits);
	for (uint16_t i = 0; i < 4; i++)
		assert_int_equal(h_connect(&h, (uint16_t)(41000 + i), H_APP_PORT, NULL, 1), 0);
	assert_int_equal(h.app.accepted, 4);
	assert_int_equal(h_connect(&h, 41004, H_APP_PORT, NULL, 1), -1);
	assert_int_equal(h_drops(&h, TCP_DROP_SRC_LIMIT), 1);
	assert_int_equal(tcp_engine_nb_flows(h.e), 4);
	/* one of them ends: a new one fits */
	h.cport = 41003;
	tcp_abort(h.app.flow);
	h_drain(&h);
	assert_int_equal(h_connect(&h, 41005, H_APP_PORT, NULL, 1), 0);
	assert_int_equal(h.app.accepted, 5);
	h_fini(&h);
}

/*
 * One source sprays SYNs: it gets max_half_open_per_source flows with state, the rest are
 * answered with cookies (it cannot fill the engine's half-open table for everyone), and
 * completing the cookies does not take it past its connection limit either.
 */
static void
test_source_half_open_limit(void **state)
{
	struct h_opts syn = {.mss = 1460, .ws = -1};
	struct h h;
	struct h_pkt p;
	uint32_t synack[8];
	int rst = 0;

	(void)state;
	h_init(&h, src_limits);
	h.lport = H_APP_PORT;
	for (uint16_t i = 0; i < 8; i++) {
		h.cport = (uint16_t)(42000 + i);
		h_send(&h, F_SYN, 1000, 0, 65535, &syn, NULL, 0);
		h_pop(&h, &p);
		assert_int_equal(p.flags, F_SYN | F_ACK);
		synack[i] = p.seq;
	}
	assert_int_equal(tcp_engine_nb_flows(h.e), 2);
	assert_int_equal(stats(&h)->cookies_sent, 6);
	assert_int_equal(stats(&h)->src_half_open_limited, 6);
	for (uint16_t i = 0; i < 8; i++) {
		h.cport = (uint16_t)(42000 + i);
		h_send(&h, F_ACK, 1001, synack[i] + 1, 65535, NULL, NULL, 0);
		while (h_pending(&h)) {
			h_pop(&h, &p);
			if (p.flags & F_RST)
				rst++;
		}
	}
	assert_int_equal(h.app.accepted, 4);
	assert_int_equal(tcp_engine_nb_flows(h.e), 4);
	assert_int_equal(rst, 4);
	assert_int_equal(h_drops(&h, TCP_DROP_SRC_LIMIT), 4);
	h_fini(&h);
}

static void
idle_1s(struct tcp_engine_params *p)
{
	p->idle_timeout_us = 1000 * MS;
}

static void
test_idle_timeout(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, idle_1s);
	assert_int_equal(h_connect(&h, 40027, H_APP_PORT, NULL, 1), 0);
	h_advance(&h, 600 * MS);
	h_data(&h, "x", 1); /* activity pushes the deadline */
	h_advance(&h, 600 * MS);
	h_drain(&h);
	assert_int_equal(h.app.closed, 0);
	h_advance(&h, 500 * MS);
	assert_int_equal(h.app.closed, 1);
	assert_int_equal(h.app.reason, TCP_CLOSE_IDLE);
	h_pop(&h, &p);
	assert_true(p.flags & F_RST);
	assert_null(h_flow(&h));
	h_fini(&h);
}

static void
keepalive_1s(struct tcp_engine_params *p)
{
	p->keepalive_us = 1000 * MS;
	p->keepalive_intvl_us = 100 * MS;
	p->keepalive_probes = 2;
}

static void
test_keepalive(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, keepalive_1s);
	assert_int_equal(h_connect(&h, 40028, H_APP_PORT, NULL, 1), 0);
	h_advance(&h, 1000 * MS);
	h_pop(&h, &p); /* probe: one byte before snd_una, so the peer must answer */
	assert_int_equal(p.seq, h.sseq - 1);
	assert_int_equal(p.len, 0);
	h_ack(&h, h.sseq, 1000); /* alive */
	h_advance(&h, 900 * MS);
	expect_none(&h);
	h_advance(&h, 100 * MS);
	h_pop(&h, &p);
	h_advance(&h, 100 * MS);
	h_pop(&h, &p);
	h_advance(&h, 100 * MS);
	assert_int_equal(h.app.closed, 1);
	assert_int_equal(h.app.reason, TCP_CLOSE_IDLE);
	assert_int_equal(stats(&h)->keepalive_probes, 3);
	h_fini(&h);
}

static void
pool_low(struct tcp_engine_params *p)
{
	p->pool_low_watermark = 1u << 30; /* always "low" */
}

static void
test_pool_low_sheds_to_cookies(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, pool_low);
	h.cport = 40029;
	h.lport = H_APP_PORT;
	h_send(&h, F_SYN, 1, 0, 65535, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_SYN | F_ACK);
	assert_int_equal(tcp_engine_nb_flows(h.e), 0);
	assert_int_equal(stats(&h)->cookies_sent, 1);
	h_fini(&h);
}

static void
second_lcore(struct tcp_engine_params *p)
{
	p->lcore_idx = 1;
	p->nb_lcores = 2;
}

static void
test_not_owner_dropped(void **state)
{
	struct h h0, h1;

	(void)state;
	h_init(&h0, NULL);
	assert_int_equal(h_connect(&h0, 40039, H_APP_PORT, NULL, 1), 0);
	h_init(&h1, second_lcore);
	h1.cport = h0.cport;
	h1.lport = h0.lport;
	h1.cseq = h0.cseq;
	h1.sseq = h0.sseq;
	h_data(&h1, "misrouted", 9);
	assert_int_equal(h_pending(&h1), 0);
	assert_int_equal(h_drops(&h1, TCP_DROP_NOT_OWNER), 1);
	assert_int_equal(h0.app.rxlen, 0);
	h_fini(&h1);
	h_fini(&h0);
}

static void
lcore0_of_2_limited(struct tcp_engine_params *p)
{
	src_limits(p);
	p->nb_lcores = 2;
}

static void
lcore1_of_2_limited(struct tcp_engine_params *p)
{
	src_limits(p);
	p->nb_lcores = 2;
	p->lcore_idx = 1;
}

/*
 * The tuple hash spreads one client's connections over the lcores. Counted per engine, the
 * bound of 4 let it hold 4 on each (8 with two lcores); counted for the gateway, the fifth
 * is refused on whichever lcore it lands.
 */
static void
test_source_limit_spans_lcores(void **state)
{
	struct h hs[2];
	unsigned int on[2] = {0, 0}, opened = 0, refused = 0;

	(void)state;
	h_init(&hs[0], lcore0_of_2_limited);
	h_init(&hs[1], lcore1_of_2_limited);
	for (uint16_t port = 41100; port < 41140; port++) {
		struct tcp_tuple t = {
			.raddr = H_CADDR, .laddr = H_SADDR, .rport = port, .lport = H_APP_PORT};
		uint16_t o = tcp_flow_owner(h_table, &t, 2);

		if (h_connect(&hs[o], port, H_APP_PORT, NULL, 1) == 0) {
			opened++;
			on[o]++;
		} else {
			refused++;
		}
	}
	assert_int_equal(opened, 4);
	assert_int_equal(refused, 36);
	assert_int_equal(h_drops(&hs[0], TCP_DROP_SRC_LIMIT) + h_drops(&hs[1], TCP_DROP_SRC_LIMIT),
			 36);
	assert_true(on[0] + on[1] == 4);
	/* both engines refused some: the bound is not per engine */
	assert_true(h_drops(&hs[0], TCP_DROP_SRC_LIMIT) > 0);
	assert_true(h_drops(&hs[1], TCP_DROP_SRC_LIMIT) > 0);
	assert_int_equal(tcp_src_get(hs[0].e, H_CADDR).conns, 4);
	h_fini(&hs[1]); /* its flows go: the count follows */
	assert_int_equal(tcp_src_get(hs[0].e, H_CADDR).conns, on[0]);
	h_fini(&hs[0]);
}

/* ---------------------------------------------------------------- close and reset */

static void
test_passive_close(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40030, H_APP_PORT, NULL, 1), 0);
	h_send(&h, F_FIN | F_ACK, h.cseq, h.sseq, 1000, NULL, NULL, 0);
	h.cseq++;
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	assert_int_equal(h.app.eof, 1);
	assert_int_equal(h_state(&h), TCP_CLOSE_WAIT);
	/* half-close: the app may still send */
	assert_int_equal(tcp_send(h.app.flow, "bye", 3), 3);
	h_pop(&h, &p);
	assert_int_equal(p.len, 3);
	assert_int_equal(tcp_shutdown(h.app.flow), 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags & (F_FIN | F_ACK), F_FIN | F_ACK);
	assert_int_equal(p.seq, h.sseq + 3);
	assert_int_equal(h_state(&h), TCP_LAST_ACK);
	h_ack(&h, h.sseq + 4, 1000);
	assert_int_equal(h.app.closed, 1);
	assert_int_equal(h.app.reason, TCP_CLOSE_NORMAL);
	assert_null(h_flow(&h));
	assert_int_equal(tcp_engine_nb_flows(h.e), 0);
	h_fini(&h);
}

static void
test_active_close_time_wait(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40031, H_APP_PORT, NULL, 1), 0);
	assert_int_equal(tcp_shutdown(h.app.flow), 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_FIN | F_ACK);
	assert_int_equal(h_state(&h), TCP_FIN_WAIT_1);
	assert_int_equal(tcp_send(h.app.flow, "x", 1), -ENOTCONN);
	h_ack(&h, h.sseq + 1, 1000);
	assert_int_equal(h_state(&h), TCP_FIN_WAIT_2);
	/* the peer may still talk in FIN_WAIT_2 */
	h.sseq++;
	h_data(&h, "late", 4);
	assert_int_equal(h.app.rxlen, 4);
	h_send(&h, F_FIN | F_ACK, h.cseq, h.sseq, 1000, NULL, NULL, 0);
	h.cseq++;
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	assert_int_equal(h_state(&h), TCP_TIME_WAIT);
	assert_int_equal(h.app.closed, 1);
	assert_int_equal(h.app.eof, 1);
	/* a retransmitted FIN is ACKed again */
	h_send(&h, F_FIN | F_ACK, h.cseq - 1, h.sseq, 1000, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	/* TIME_WAIT is an entry, not a flow: the flow and its slot are free already */
	assert_null(h_flow(&h));
	assert_int_equal(tcp_engine_nb_flows(h.e), 0);
	assert_int_equal(tcp_engine_nb_time_wait(h.e), 1);
	assert_int_equal(stats(&h)->flows_by_state[TCP_TIME_WAIT], 1);
	h_advance(&h, 9 * 1000 * MS);
	assert_int_equal(h_state(&h), TCP_TIME_WAIT);
	/* the FIN again restarted the wait: it ends 10 s after that, not after the first */
	h_advance(&h, 2 * 1000 * MS);
	assert_int_equal(h_state(&h), TCP_CLOSED);
	assert_int_equal(tcp_engine_nb_time_wait(h.e), 0);
	assert_int_equal(stats(&h)->flows_by_state[TCP_TIME_WAIT], 0);
	assert_int_equal(h.app.closed, 1);
	h_fini(&h);
}

static void
four_flows(struct tcp_engine_params *p)
{
	p->max_flows = 4;
}

/* Closes the connection under test from our side and leaves it in TIME_WAIT. */
static void
close_to_time_wait(struct h *h)
{
	struct h_pkt p;

	assert_int_equal(tcp_shutdown(h->app.flow), 0);
	h_pop(h, &p);
	assert_int_equal(p.flags, F_FIN | F_ACK);
	h_ack(h, h->sseq + 1, 1000);
	h->sseq++;
	h_send(h, F_FIN | F_ACK, h->cseq, h->sseq, 1000, NULL, NULL, 0);
	h->cseq++;
	h_pop(h, &p);
	assert_int_equal(h_state(h), TCP_TIME_WAIT);
}

/*
 * A busy server closes first, so it holds a TIME_WAIT for nearly every connection it served.
 * Those must cost neither flow slots nor flow memory: with max_flows = 4, four connections in
 * TIME_WAIT and four open ones live side by side (before, TIME_WAIT was a whole flow and the
 * fifth client could only get in by reaping one). When the entry table itself is full, the
 * oldest entry gives way; nobody is refused for a connection that ended.
 */
static void
test_time_wait_costs_no_flow(void **state)
{
	struct h h;

	(void)state;
	h_init(&h, four_flows);
	for (uint16_t i = 0; i < 4; i++) {
		assert_int_equal(h_connect(&h, (uint16_t)(43000 + i), H_APP_PORT, NULL, 1), 0);
		close_to_time_wait(&h);
		h_advance(&h, 100 * MS);
	}
	assert_int_equal(stats(&h)->flows_by_state[TCP_TIME_WAIT], 4);
	assert_int_equal(tcp_engine_nb_flows(h.e), 0);
	for (uint16_t i = 0; i < 4; i++)
		assert_int_equal(h_connect(&h, (uint16_t)(44000 + i), H_APP_PORT, NULL, 1), 0);
	h_drain(&h);
	assert_int_equal(h.app.accepted, 8);
	assert_int_equal(tcp_engine_nb_flows(h.e), 4);
	assert_int_equal(h_drops(&h, TCP_DROP_FLOW_LIMIT), 0);
	assert_int_equal(stats(&h)->cookies_sent, 0);
	assert_int_equal(stats(&h)->time_wait_reaped, 0);
	assert_int_equal(stats(&h)->flows_by_state[TCP_TIME_WAIT], 4);
	/* a fifth TIME_WAIT: the entry table (as large as max_flows) gives up its oldest */
	close_to_time_wait(&h);
	assert_int_equal(stats(&h)->time_wait_reaped, 1);
	assert_int_equal(stats(&h)->flows_by_state[TCP_TIME_WAIT], 4);
	h.cport = 43000;
	assert_int_equal(h_state(&h), TCP_CLOSED);
	h.cport = 43001;
	assert_int_equal(h_state(&h), TCP_TIME_WAIT);
	assert_int_equal(h.app.closed, 5); /* each app told once, when its connection ended */
	h_fini(&h);
}

static void
test_time_wait_recycled_by_new_syn(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40032, H_APP_PORT, NULL, 1), 0);
	tcp_shutdown(h.app.flow);
	h_pop(&h, &p);
	h_send(&h, F_FIN | F_ACK, h.cseq, h.sseq + 1, 1000, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(h_state(&h), TCP_TIME_WAIT);
	h.app.accepted = 0;
	assert_int_equal(h_connect(&h, 40032, H_APP_PORT, NULL, h.cseq + 100000), 0);
	assert_int_equal(h.app.accepted, 1);
	assert_int_equal(h_state(&h), TCP_ESTABLISHED);
	h_fini(&h);
}

static void
test_simultaneous_close(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40033, H_APP_PORT, NULL, 1), 0);
	tcp_shutdown(h.app.flow);
	h_pop(&h, &p);
	/* the peer's FIN crosses ours: it does not ack our FIN */
	h_send(&h, F_FIN | F_ACK, h.cseq, h.sseq, 1000, NULL, NULL, 0);
	h.cseq++;
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	assert_int_equal(h_state(&h), TCP_CLOSING);
	h_ack(&h, h.sseq + 1, 1000);
	assert_int_equal(h_state(&h), TCP_TIME_WAIT);
	assert_int_equal(h.app.closed, 1);
	assert_int_equal(h.app.reason, TCP_CLOSE_NORMAL);
	h_fini(&h);
}

/* Bring a fresh connection on cport into state st; returns the flow. */
static struct tcp_flow *
reach_state(struct h *h, uint16_t cport, enum tcp_state st)
{
	struct h_pkt p;

	h->app.flow = NULL;
	if (st == TCP_SYN_RECEIVED) {
		h->cport = cport;
		h->lport = H_APP_PORT;
		h_send(h, F_SYN, 500, 0, 65535, NULL, NULL, 0);
		h_pop(h, &p);
		h->cseq = 501;
		h->sseq = p.seq + 1;
		return h_flow(h);
	}
	assert_int_equal(h_connect(h, cport, H_APP_PORT, NULL, 1), 0);
	if (st == TCP_CLOSE_WAIT || st == TCP_LAST_ACK) {
		h_send(h, F_FIN | F_ACK, h->cseq, h->sseq, 1000, NULL, NULL, 0);
		h->cseq++;
		h_pop(h, &p);
		if (st == TCP_LAST_ACK) {
			tcp_shutdown(h->app.flow);
			h_pop(h, &p);
		}
	} else if (st != TCP_ESTABLISHED) {
		tcp_shutdown(h->app.flow);
		h_pop(h, &p);
		if (st == TCP_CLOSING) {
			h_send(h, F_FIN | F_ACK, h->cseq, h->sseq, 1000, NULL, NULL, 0);
			h->cseq++;
			h_pop(h, &p);
		} else if (st == TCP_FIN_WAIT_2 || st == TCP_TIME_WAIT) {
			h->sseq++;
			h_ack(h, h->sseq, 1000);
			if (st == TCP_TIME_WAIT) {
				h_send(h, F_FIN | F_ACK, h->cseq, h->sseq, 1000, NULL, NULL, 0);
				h->cseq++;
				h_pop(h, &p);
			}
		}
	}
	assert_int_equal(h_state(h), st);
	return h_flow(h);
}

static const enum tcp_state synced_states[] = {
	TCP_SYN_RECEIVED, TCP_ESTABLISHED, TCP_FIN_WAIT_1, TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,	  TCP_CLOSING,	   TCP_LAST_ACK,   TCP_TIME_WAIT,
};

static void
test_rst_in_every_state(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	for (unsigned int i = 0; i < RTE_DIM(synced_states); i++) {
		enum tcp_state st = synced_states[i];
		int closed;

		reach_state(&h, (uint16_t)(42000 + i), st);
		closed = h.app.closed;
		/* out of window: ignored */
		h_send(&h, F_RST, h.cseq + 1000000, 0, 0, NULL, NULL, 0);
		expect_none(&h);
		/* in window but not exact: challenge ACK (RFC 5961) */
		h_send(&h, F_RST, h.cseq + 1, 0, 0, NULL, NULL, 0);
		h_pop(&h, &p);
		assert_int_equal(p.flags & F_ACK, F_ACK);
		assert_int_equal(p.ack, h.cseq);
		expect_none(&h);
		assert_int_equal(h_state(&h), st);
		/* exact: the connection goes (not TIME_WAIT: RFC 1337) */
		h_send(&h, F_RST, h.cseq, 0, 0, NULL, NULL, 0);
		expect_none(&h);
		if (st == TCP_TIME_WAIT) {
			assert_int_equal(h_state(&h), TCP_TIME_WAIT);
			h_advance(&h, 11 * 1000 * MS);
		}
		assert_int_equal(h_state(&h), TCP_CLOSED);
		if (st == TCP_ESTABLISHED || st == TCP_FIN_WAIT_1 || st == TCP_FIN_WAIT_2 ||
		    st == TCP_CLOSE_WAIT || st == TCP_CLOSING || st == TCP_LAST_ACK) {
			assert_int_equal(h.app.closed, closed + 1);
			assert_int_equal(h.app.reason, TCP_CLOSE_RESET);
		} else {
			/* never accepted (SYN_RECEIVED) or already told (TIME_WAIT) */
			assert_int_equal(h.app.closed, closed);
		}
	}
	assert_int_equal(tcp_engine_nb_flows(h.e), 0);
	h_fini(&h);
}

/*
 * RFC 1337 hazard H1 (TIME-WAIT assassination): an RST, even at rcv_nxt, must not end
 * TIME_WAIT early; a late duplicate of the old connection would then find no flow and be
 * answered with a RST, or be taken for a new connection.
 */
static void
test_time_wait_survives_rst(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	reach_state(&h, 42100, TCP_TIME_WAIT);
	h_send(&h, F_RST, h.cseq, 0, 0, NULL, NULL, 0);
	expect_none(&h);
	assert_int_equal(h_state(&h), TCP_TIME_WAIT);
	assert_int_equal(h_drops(&h, TCP_DROP_STATE), 1);
	/* the old connection's FIN again: acknowledged from TIME_WAIT, not reset */
	h_send(&h, F_FIN | F_ACK, h.cseq - 1, h.sseq, 1000, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_ACK);
	assert_int_equal(p.ack, h.cseq);
	assert_int_equal(h.app.closed, 1);
	/* and it still ends on time */
	h_advance(&h, 11 * 1000 * MS);
	assert_int_equal(h_state(&h), TCP_CLOSED);
	h_fini(&h);
}

/*
 * TIME_WAIT keeps what it must to protect the old connection (RFC 9293 3.6, RFC 6191): a SYN
 * that is not newer (an old duplicate) does not reopen the tuple, and what the entry answers
 * to stale segments is bounded like a flow's answers, however many a spoofer sends.
 */
static void
test_time_wait_entry_guards_tuple(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts old = {.mss = 1460, .ws = 7, .sackp = true, .ts = true, .tsval = 1};
	unsigned int answers = 0;

	(void)state;
	h_init(&h, NULL);
	h_advance(&h, 5000 * MS);
	reach_state(&h, 42200, TCP_TIME_WAIT);
	h.app.accepted = 0;
	/* an old SYN: lower sequence, older timestamp: challenged, not taken */
	h_send(&h, F_SYN, h.cseq - 5000, 0, 65535, &old, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_ACK);
	assert_int_equal(p.ack, h.cseq);
	expect_none(&h);
	assert_int_equal(h.app.accepted, 0);
	assert_int_equal(h_state(&h), TCP_TIME_WAIT);
	/* data in the window: nothing taken, the ACK repeats where the stream ended */
	h_advance(&h, 600 * MS);
	h_send(&h, F_ACK | F_PSH, h.cseq, h.sseq, 1000, NULL, "late", 4);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_ACK);
	assert_int_equal(p.ack, h.cseq);
	assert_int_equal(p.seq, h.sseq);
	assert_true(p.ts);
	/* 1000 spoofed out-of-window segments over 1 s: two answers at most (one per 500 ms) */
	for (int i = 0; i < 1000; i++) {
		h_send(&h, F_ACK, h.cseq + 1000000 + (uint32_t)i, h.sseq, 1000, NULL, NULL, 0);
		while (h_pending(&h) > 0) {
			h_pop(&h, &p);
			answers++;
		}
		h_advance(&h, MS);
	}
	assert_true(answers <= 3);
	assert_true(stats(&h)->oow_acks_limited >= 997);
	assert_int_equal(h_state(&h), TCP_TIME_WAIT);
	h_fini(&h);
}

static void
test_fin_in_every_state(void **state)
{
	struct h h;
	struct h_pkt p;
	static const enum tcp_state after[] = {
		[TCP_SYN_RECEIVED] = TCP_CLOSE_WAIT, [TCP_ESTABLISHED] = TCP_CLOSE_WAIT,
		[TCP_FIN_WAIT_1] = TCP_CLOSING,	     [TCP_FIN_WAIT_2] = TCP_TIME_WAIT,
		[TCP_CLOSE_WAIT] = TCP_CLOSE_WAIT,   [TCP_CLOSING] = TCP_CLOSING,
		[TCP_LAST_ACK] = TCP_LAST_ACK,	     [TCP_TIME_WAIT] = TCP_TIME_WAIT,
	};

	(void)state;
	h_init(&h, NULL);
	for (unsigned int i = 0; i < RTE_DIM(synced_states); i++) {
		enum tcp_state st = synced_states[i];
		bool repeat = st == TCP_CLOSE_WAIT || st == TCP_CLOSING || st == TCP_LAST_ACK ||
			      st == TCP_TIME_WAIT;

		reach_state(&h, (uint16_t)(43000 + i), st);
		/* a new FIN, or the peer's FIN again where it already sent one */
		h_send(&h, F_FIN | F_ACK, repeat ? h.cseq - 1 : h.cseq, h.sseq, 1000, NULL, NULL,
		       0);
		h_pop(&h, &p);
		assert_int_equal(p.flags & F_ACK, F_ACK);
		assert_int_equal(p.ack, repeat ? h.cseq : h.cseq + 1);
		h_drain(&h);
		assert_int_equal(h_state(&h), after[st]);
	}
	h_fini(&h);
}

static void
test_challenge_ack_for_syn(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40034, H_APP_PORT, NULL, 1), 0);
	h_send(&h, F_SYN, h.cseq + 10, 0, 65535, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_ACK);
	assert_int_equal(p.seq, h.sseq);
	assert_int_equal(p.ack, h.cseq);
	assert_int_equal(stats(&h)->challenge_acks, 1);
	assert_int_equal(h_state(&h), TCP_ESTABLISHED);
	assert_int_equal(h.app.closed, 0);
	h_fini(&h);
}

/* ---------------------------------------------------------------- smaller RFC points */

/* Our FIN is acked; the peer keeps sending for longer than fin_wait2_us: it is not cut off. */
static void
test_fin_wait2_keeps_receiving(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40130, H_APP_PORT, NULL, 1), 0);
	assert_int_equal(tcp_shutdown(h.app.flow), 0);
	h_pop(&h, &p);
	h.sseq++;
	h_ack(&h, h.sseq, 1000);
	assert_int_equal(h_state(&h), TCP_FIN_WAIT_2);
	for (int i = 0; i < 12; i++) { /* two minutes of an upload, a segment every 10 s */
		h_advance(&h, 10 * 1000 * MS);
		h_drain(&h);
		h_data(&h, "0123456789", 10);
		assert_int_equal(h.app.rxlen, 10 * (uint32_t)(i + 1));
	}
	assert_int_equal(h_state(&h), TCP_FIN_WAIT_2);
	assert_int_equal(h.app.closed, 0);
	/* a peer that goes quiet for fin_wait2_us is given up */
	h_advance(&h, 61 * 1000 * MS);
	assert_null(h_flow(&h));
	assert_int_equal(h.app.closed, 1);
	assert_int_equal(h.app.reason, TCP_CLOSE_IDLE);
	h_fini(&h);
}

/* Segments sent now, popped and counted. */
static unsigned int
count_out(struct h *h)
{
	unsigned int n = 0;

	while (h_pending(h) > 0) {
		struct h_pkt p;

		h_pop(h, &p);
		n += p.len > 0;
	}
	return n;
}

/*
 * RFC 3042: duplicate ACKs that do not start a recovery (here: after an RTO, below recover)
 * may release two segments beyond cwnd, not one per duplicate.
 */
static void
test_limited_transmit_bounded(void **state)
{
	struct h h;
	struct h_opts o = {.mss = 1000, .ws = -1};
	unsigned int n;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40131, H_APP_PORT, &o, 1), 0);
	assert_int_equal(tcp_send(h.app.flow, h_pattern, 50000), 50000);
	assert_int_equal(count_out(&h), 10);
	h_advance(&h, 1100 * MS); /* the tail loss probe */
	assert_int_equal(count_out(&h), 1);
	h_advance(&h, 1100 * MS); /* RTO: one segment again, cwnd one segment, recover = snd_max */
	assert_int_equal(count_out(&h), 1);
	assert_int_equal(stats(&h)->rto_expired, 1);
	for (int i = 0; i < 10; i++)
		h_ack(&h, h.sseq, h.cwin);
	n = count_out(&h);
	if (n > 2)
		fail_msg("%u segments for 10 duplicate ACKs, cwnd %u", n, info_of(&h).cwnd);
	h_fini(&h);
}

/* RFC 5681 4.1: after an idle period longer than the RTO, send no more than the initial window. */
static void
test_cwnd_restart_after_idle(void **state)
{
	struct h h;
	struct h_opts o = {.mss = 1000, .ws = -1};
	uint32_t sent = 0;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40132, H_APP_PORT, &o, 1), 0);
	assert_int_equal(tcp_send(h.app.flow, h_pattern, 70000), 70000);
	/* slow start: every segment acked on its own, three rounds */
	while (sent < 70000) {
		struct h_pkt p[128];
		unsigned int k = 0;

		assert_true(h_pending(&h) > 0);
		while (h_pending(&h) > 0 && k < RTE_DIM(p))
			h_pop(&h, &p[k++]);
		for (unsigned int i = 0; i < k; i++) {
			sent += p[i].len;
			h_ack(&h, p[i].seq + p[i].len, h.cwin);
		}
	}
	assert_true(info_of(&h).cwnd >= 40000);
	h_drain(&h);
	h_advance(&h, 5000 * MS);
	h_drain(&h);
	assert_int_equal(tcp_send(h.app.flow, h_pattern, 60000), 60000);
	assert_int_equal(count_out(&h), 10);
	h_fini(&h);
}

/* ---------------------------------------------------------------- RFC 5961 rate limits */

/* In-window RSTs on one flow: one challenge ACK per 500 ms, not one per RST (Linux's limit). */
static void
test_challenge_ack_per_flow_limit(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40110, H_APP_PORT, NULL, 1), 0);
	for (int i = 0; i < 10; i++)
		h_send(&h, F_RST, h.cseq + 1 + (uint32_t)i, 0, 0, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_ACK);
	assert_int_equal(p.ack, h.cseq);
	expect_none(&h);
	assert_int_equal(stats(&h)->challenge_acks, 1);
	assert_int_equal(h_drops(&h, TCP_DROP_CHALLENGE), 10);
	/* SYNs share the flow's allowance */
	h_send(&h, F_SYN, h.cseq + 5, 0, 65535, NULL, NULL, 0);
	expect_none(&h);
	h.now += 499 * MS;
	h_send(&h, F_RST, h.cseq + 1, 0, 0, NULL, NULL, 0);
	expect_none(&h);
	h.now += 1 * MS;
	h_send(&h, F_RST, h.cseq + 1, 0, 0, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	expect_none(&h);
	assert_int_equal(stats(&h)->challenge_acks, 2);
	assert_int_equal(h_state(&h), TCP_ESTABLISHED);
	h_fini(&h);
}

/*
 * CVE-2016-5696: an off-path attacker guesses a victim flow's window by spraying RSTs at it,
 * then counts the challenge ACKs its own connection gets in the same second. With one
 * engine-wide budget, a hit spends the budget and the attacker sees fewer. What the attacker
 * observes must not depend on whether the guess hit.
 */
static unsigned int
side_channel_probe(bool hit)
{
	struct h h;
	uint32_t victim_cseq;
	unsigned int seen = 0;

	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40111, H_APP_PORT, NULL, 1), 0);
	victim_cseq = h.cseq;
	assert_int_equal(h_connect(&h, 40112, H_APP_PORT, NULL, 7777), 0);
	h_drain(&h);
	/* spoofed RSTs at the victim: in window (a hit) or not (a miss) */
	h.cport = 40111;
	for (int i = 0; i < 1000; i++)
		h_send(&h, F_RST, victim_cseq + (hit ? 1 : 100000000), 0, 0, NULL, NULL, 0);
	h_drain(&h); /* what went to the victim, not visible to the attacker */
	/* the attacker's own connection, same second */
	h.cport = 40112;
	for (int i = 0; i < 1000; i++)
		h_send(&h, F_RST, h.cseq + 1, 0, 0, NULL, NULL, 0);
	seen = h_pending(&h);
	h_fini(&h);
	return seen;
}

static void
test_challenge_ack_side_channel(void **state)
{
	unsigned int hit, miss;

	(void)state;
	hit = side_channel_probe(true);
	miss = side_channel_probe(false);
	assert_int_equal(hit, miss);
	assert_int_equal(miss, 1);
}

static void
challenge_limit_8(struct tcp_engine_params *p)
{
	p->challenge_ack_limit = 8;
}

/* The engine-wide budget per second is drawn at random from [limit/2, 3 limit/2). */
static void
test_challenge_ack_global_budget_random(void **state)
{
	struct h h;
	unsigned int counts[10];
	bool differ = false;

	(void)state;
	h_init(&h, challenge_limit_8);
	for (uint16_t i = 0; i < 40; i++)
		assert_int_equal(h_connect(&h, (uint16_t)(40200 + i), H_APP_PORT, NULL, 1000), 0);
	h_drain(&h);
	for (unsigned int s = 0; s < RTE_DIM(counts); s++) {
		h_advance(&h, 1000 * MS);
		h_drain(&h);
		for (uint16_t i = 0; i < 40; i++) {
			h.cport = (uint16_t)(40200 + i);
			h_send(&h, F_RST, 1000 + 1 + 10, 0, 0, NULL, NULL, 0);
		}
		counts[s] = h_pending(&h);
		h_drain(&h);
		assert_true(counts[s] >= 4 && counts[s] < 12);
		if (s > 0 && counts[s] != counts[0])
			differ = true;
	}
	assert_true(differ);
	assert_true(stats(&h)->challenge_acks_limited > 0);
	h_fini(&h);
}

/*
 * ACKs answering out-of-window or PAWS-rejected segments, or ACKs for data never sent, follow
 * the same per-flow limit; a retransmission of data we already have is still acknowledged
 * every time (the peer lost our ACK and needs it).
 */
static void
test_oow_acks_rate_limited(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.ws = -1, .ts = true};

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40113, H_APP_PORT, NULL, 1), 0);
	/* beyond the window */
	for (int i = 0; i < 10; i++)
		h_send(&h, F_ACK, h.cseq + 50000000, h.sseq, 1000, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	expect_none(&h);
	assert_int_equal(h_drops(&h, TCP_DROP_OUT_OF_WINDOW), 10);
	/* PAWS: a stale timestamp */
	h.now += 500 * MS;
	o.tsval = (uint32_t)(h.now / 1000) - 100000;
	o.tsecr = h.last_tsval;
	for (int i = 0; i < 10; i++)
		h_send(&h, F_ACK, h.cseq, h.sseq, 1000, &o, NULL, 0);
	h_pop(&h, &p);
	expect_none(&h);
	assert_int_equal(h_drops(&h, TCP_DROP_PAWS), 10);
	/* an ACK for data we never sent */
	h.now += 500 * MS;
	for (int i = 0; i < 10; i++)
		h_ack(&h, h.sseq + 100000, 1000);
	h_pop(&h, &p);
	expect_none(&h);
	assert_int_equal(h_drops(&h, TCP_DROP_BAD_ACK), 10);
	assert_true(stats(&h)->oow_acks_limited >= 27);
	/* old data again, within the same 500 ms: each copy is acknowledged */
	h_data(&h, "abcd", 4);
	h_advance(&h, 50 * MS); /* its delayed ACK */
	h_pop(&h, &p);
	assert_int_equal(p.ack, h.cseq);
	for (int i = 0; i < 5; i++) {
		h_send(&h, F_ACK | F_PSH, h.cseq - 4, h.sseq, 1000, NULL, "abcd", 4);
		h_pop(&h, &p);
		assert_int_equal(p.ack, h.cseq);
	}
	assert_int_equal(h.app.rxlen, 4);
	h_fini(&h);
}

static void
test_no_listener_and_no_flow(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	h.cport = 40035;
	h.lport = 81;
	h_send(&h, F_SYN, 100, 0, 65535, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_RST | F_ACK);
	assert_int_equal(p.seq, 0);
	assert_int_equal(p.ack, 101);
	assert_int_equal(h_drops(&h, TCP_DROP_NO_LISTENER), 1);
	h_send(&h, F_RST, 100, 0, 0, NULL, NULL, 0);
	expect_none(&h); /* never answer a RST */
	h.lport = H_APP_PORT;
	h_send(&h, F_FIN | F_ACK, 100, 4242, 0, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_RST);
	assert_int_equal(p.seq, 4242);
	h_fini(&h);
}

static void
test_app_refuses(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	h.app.refuse = true;
	assert_int_equal(h_connect(&h, 40036, H_APP_PORT, NULL, 1), 0);
	h_pop(&h, &p);
	assert_true(p.flags & F_RST);
	assert_null(h_flow(&h));
	assert_int_equal(stats(&h)->refused, 1);
	h_fini(&h);
}

static void
test_abort(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40037, H_APP_PORT, NULL, 1), 0);
	tcp_abort(h.app.flow);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_RST | F_ACK);
	assert_int_equal(p.seq, h.sseq);
	assert_int_equal(h.app.closed, 1);
	assert_int_equal(h.app.reason, TCP_CLOSE_ABORTED);
	assert_null(h_flow(&h));
	h_fini(&h);
}

static void
test_syn_ack_retransmit_and_reap(void **state)
{
	struct h h;
	struct h_pkt p, first;

	(void)state;
	h_init(&h, NULL);
	h.cport = 40038;
	h.lport = H_APP_PORT;
	h_send(&h, F_SYN, 100, 0, 65535, NULL, NULL, 0);
	h_pop(&h, &first);
	h_advance(&h, 1000 * MS); /* RFC 6298: 1 s initial RTO */
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_SYN | F_ACK);
	assert_int_equal(p.seq, first.seq);
	h_advance(&h, 1999 * MS);
	expect_none(&h);
	h_advance(&h, 1 * MS);
	h_pop(&h, &p);
	assert_int_equal(p.flags, F_SYN | F_ACK);
	/* a retransmitted SYN gets the same SYN-ACK */
	h_send(&h, F_SYN, 100, 0, 65535, NULL, NULL, 0);
	h_pop(&h, &p);
	assert_int_equal(p.seq, first.seq);
	for (int i = 0; i < 10; i++)
		h_advance(&h, 64 * 1000 * MS);
	h_drain(&h);
	assert_null(h_flow(&h));
	assert_int_equal(stats(&h)->flows_by_state[TCP_SYN_RECEIVED], 0);
	h_fini(&h);
}

/* ---------------------------------------------------------------- zero copy, diag, table */

static int ext_freed;

static void
ext_free(void *addr, void *opaque)
{
	(void)addr;
	(void)opaque;
	ext_freed++;
}

static void
test_send_ext_zero_copy(void **state)
{
	struct h h;
	struct h_pkt p;
	struct rte_mbuf_ext_shared_info shinfo = {.free_cb = ext_free};
	uint32_t got = 0;

	(void)state;
	rte_mbuf_ext_refcnt_set(&shinfo, 1);
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40040, H_APP_PORT, NULL, 1), 0);
	assert_int_equal(tcp_send_ext(h.app.flow, h_pattern + 7, RTE_BAD_IOVA, 100000, &shinfo),
			 100000);
	while (h_pending(&h)) {
		h_pop(&h, &p);
		assert_memory_equal(p.data, h_pattern + 7 + got, p.len);
		got += p.len;
	}
	assert_int_equal(got, 10 * 1448);
	assert_true(rte_mbuf_ext_refcnt_read(&shinfo) > 1); /* the engine holds its chunks */
	/* ACK everything in steps; the engine's references go as data is acknowledged */
	while (h.app.acked < 100000) {
		uint32_t before = (uint32_t)h.app.acked;

		h_ack(&h, h.sseq + got, 65535);
		assert_true(h.app.acked > before);
		while (h_pending(&h)) {
			h_pop(&h, &p);
			assert_int_equal(p.seq, h.sseq + got);
			assert_memory_equal(p.data, h_pattern + 7 + got, p.len);
			got += p.len;
		}
	}
	assert_int_equal(got, 100000);
	assert_int_equal(rte_mbuf_ext_refcnt_read(&shinfo), 1);
	assert_int_equal(ext_freed, 0);
	h_fini(&h);
}

static void
test_chargen_pattern_and_backpressure(void **state)
{
	struct h h;
	struct h_pkt p;
	uint32_t got = 0;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40041, H_CHARGEN_PORT, NULL, 1), 0);
	assert_int_equal(h_pending(&h), 10); /* initial window only */
	while (h_pending(&h)) {
		h_pop(&h, &p);
		memcpy(h.app.rx + got, p.data, p.len);
		got += p.len;
	}
	/* RFC 864: 72 printable characters per line, each line one character further on */
	assert_memory_equal(h.app.rx, " !\"#$%&'()*+,-./0123456789", 26);
	assert_int_equal(h.app.rx[72], '\r');
	assert_int_equal(h.app.rx[73], '\n');
	assert_memory_equal(h.app.rx + 74, "!\"#$%&'()*+,-./0123456789:", 26);
	assert_int_equal(h.app.rx[74 * 95], ' '); /* the pattern repeats after 95 lines */
	h_ack(&h, h.sseq + got, 65535);
	assert_true(h_pending(&h) > 0); /* acknowledged room is refilled */
	h_pop(&h, &p);
	assert_int_equal(p.seq, h.sseq + got);
	assert_int_equal(p.data[0], h.app.rx[got % (74 * 95)]);
	h_fini(&h);
}

static void
test_discard(void **state)
{
	struct h h;
	struct h_pkt p;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40042, H_DISCARD_PORT, NULL, 1), 0);
	h_data(&h, h_pattern, 1000);
	h_data(&h, h_pattern, 1000);
	h_pop(&h, &p);
	assert_int_equal(p.len, 0);
	assert_int_equal(p.ack, h.cseq);
	h_send(&h, F_FIN | F_ACK, h.cseq, h.sseq, 1000, NULL, NULL, 0);
	h_pop(&h, &p); /* FIN right away: discard closes when the client does */
	assert_true(p.flags & F_FIN);
	h_fini(&h);
}

static int
count_cb(const struct tcp_flow_info *i, void *arg)
{
	(void)i;
	(*(int *)arg)++;
	return 0;
}

static void
test_flow_table_ids(void **state)
{
	struct h h;
	struct tcp_flow *f;
	struct tcp_tuple t;
	uint32_t id, gen;
	int n = 0;
	/* flows of earlier failed tests may linger: count relative to them */
	uint32_t table_base = tcp_flow_table_count(h_table);

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40043, H_APP_PORT, NULL, 1), 0);
	f = h_flow(&h);
	id = tcp_flow_id(f);
	gen = tcp_flow_gen(f);
	assert_ptr_equal(tcp_flow_lookup_id(h_table, id, gen), f);
	assert_null(tcp_flow_lookup_id(h_table, id, gen + 1));
	assert_int_equal(tcp_flow_table_count(h_table), 1 + table_base);
	tcp_flow_table_walk(h_table, h.now, count_cb, &n);
	assert_int_equal(n, 1 + table_base);
	t = h_tuple(&h);
	assert_true(tcp_flow_owner(h_table, &t, 4) < 4);
	assert_int_equal(tcp_flow_owner(h_table, &t, 4), tcp_flow_owner(h_table, &t, 4));
	assert_int_equal(tcp_flow_owner(h_table, &t, 1), 0);
	tcp_abort(f);
	h_drain(&h);
	/* a late verdict for the closed flow is recognised */
	assert_null(tcp_flow_lookup_id(h_table, id, gen));
	/* the id comes back with a new generation */
	assert_int_equal(h_connect(&h, 40044, H_APP_PORT, NULL, 1), 0);
	f = h_flow(&h);
	assert_int_equal(tcp_flow_id(f), id);
	assert_int_not_equal(tcp_flow_gen(f), gen);
	assert_null(tcp_flow_lookup_id(h_table, id, gen));
	h_fini(&h);
	assert_int_equal(tcp_flow_table_count(h_table), table_base);
}

static void
test_strings(void **state)
{
	(void)state;
	assert_string_equal(tcp_state_str(TCP_ESTABLISHED), "ESTABLISHED");
	assert_string_equal(tcp_state_str(TCP_TIME_WAIT), "TIME_WAIT");
	for (int r = 0; r < TCP_DROP_REASON_MAX; r++)
		assert_string_not_equal(tcp_drop_reason_str((enum tcp_drop_reason)r), "?");
	for (int s = 0; s < TCP_STATE_MAX; s++)
		assert_non_null(tcp_state_str((enum tcp_state)s));
	assert_string_equal(tcp_drop_reason_str(TCP_DROP_REASON_MAX), "?");
}

/* An ICMP "fragmentation needed" about a segment the engine sent on cport (harness.h). */
static int
icmp_frag_needed(struct h *h, uint16_t cport, uint32_t seq, uint16_t mtu, uint32_t quote_len)
{
	return h_icmp(h, 3, 4, cport, seq, mtu, quote_len);
}

/* Client acks everything sent so far; returns the payload bytes popped. */
static uint32_t
pop_all_max(struct h *h, uint32_t *max_len)
{
	struct h_pkt p;
	uint32_t bytes = 0;

	*max_len = 0;
	while (h_pending(h)) {
		h_pop(h, &p);
		bytes += p.len;
		*max_len = RTE_MAX(*max_len, p.len);
	}
	return bytes;
}

static void
test_pmtu_icmp_lowers_mss(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1460, .ws = -1};
	uint32_t max_len, total = 0;

	(void)state;
	h_init(&h, NULL);
	h.app.send_on_accept = 8760; /* six full segments */
	assert_int_equal(h_connect(&h, 40300, H_APP_PORT, &o, 77), 0);
	assert_int_equal(pop_all_max(&h, &max_len), 8760);
	assert_int_equal(max_len, 1460);

	/* a tunnel of MTU 1280 on the way: quotes the second segment, in flight */
	assert_int_equal(icmp_frag_needed(&h, 40300, h.sseq + 1460, 1280, 20), 0);
	assert_int_equal(stats(&h)->pmtu_lowered, 1);
	/* what no longer fits goes again from snd_una, in 1240-byte segments */
	h_pop(&h, &p);
	assert_int_equal(p.seq, h.sseq);
	assert_int_equal(p.len, 1240);
	assert_memory_equal(p.data, h_pattern, 1240);
	total = 1240 + pop_all_max(&h, &max_len);
	assert_true(max_len <= 1240);
	assert_true(total >= 8760);
	h_ack(&h, h.sseq + 8760, 65535);
	h.sseq += 8760;
	h_drain(&h);

	/* new data uses the new size; a later ICMP for more (1500) does not raise it back */
	tcp_send(h.app.flow, h_pattern, 5000);
	assert_int_equal(icmp_frag_needed(&h, 40300, h.sseq, 1500, 20), -EINVAL);
	assert_int_equal(h_drops(&h, TCP_DROP_ICMP_MTU), 1);
	assert_int_equal(pop_all_max(&h, &max_len), 5000);
	assert_int_equal(max_len, 1240);

	/* an MTU under 576 stops at TCP_PMTU_MIN_MSS; 8 quoted bytes are enough */
	tcp_send(h.app.flow, h_pattern, 3000);
	h_drain(&h);
	assert_int_equal(icmp_frag_needed(&h, 40300, h.sseq + 5000, 296, 8), 0);
	assert_int_equal(stats(&h)->pmtu_lowered, 2);
	pop_all_max(&h, &max_len);
	assert_int_equal(max_len, TCP_PMTU_MIN_MSS);
	h_fini(&h);
}

/*
 * An off-path host that knows (or guesses) the 4-tuple but not the flight sends "fragmentation
 * needed" to shrink a flow's segments to nothing (a throughput attack and a way to force
 * fragmentation-sized packets): nothing changes unless the quote names a sequence number in
 * flight. Before ICMP handling existed this held trivially; it guards the validation.
 */
static void
test_pmtu_icmp_forged_ignored(void **state)
{
	struct h h;
	struct h_opts o = {.mss = 1460, .ws = -1};
	uint32_t max_len;

	(void)state;
	h_init(&h, NULL);
	h.app.send_on_accept = 4380;
	assert_int_equal(h_connect(&h, 40301, H_APP_PORT, &o, 77), 0);
	assert_int_equal(pop_all_max(&h, &max_len), 4380);

	/* already acknowledged (snd_una - 1), never sent (snd_max), far away */
	assert_int_equal(icmp_frag_needed(&h, 40301, h.sseq - 1, 576, 20), -ERANGE);
	assert_int_equal(icmp_frag_needed(&h, 40301, h.sseq + 4380, 576, 20), -ERANGE);
	assert_int_equal(icmp_frag_needed(&h, 40301, h.sseq + 0x40000000u, 576, 20), -ERANGE);
	assert_int_equal(h_drops(&h, TCP_DROP_ICMP_SEQ), 3);
	/* a flow that does not exist */
	assert_int_equal(icmp_frag_needed(&h, 40399, h.sseq, 576, 20), -ENOENT);
	assert_int_equal(h_drops(&h, TCP_DROP_ICMP_NO_FLOW), 1);
	/* a quote too short to carry the sequence number; MTU 0 (pre-RFC 1191 router) */
	assert_int_equal(icmp_frag_needed(&h, 40301, h.sseq, 576, 4), -EINVAL);
	assert_int_equal(h_drops(&h, TCP_DROP_ICMP_MALFORMED), 1);
	assert_int_equal(icmp_frag_needed(&h, 40301, h.sseq, 0, 20), -EINVAL);
	assert_int_equal(h_drops(&h, TCP_DROP_ICMP_MTU), 1);
	assert_int_equal(stats(&h)->pmtu_lowered, 0);
	expect_none(&h); /* nothing resent */

	/* the flow still sends full-size segments */
	h_ack(&h, h.sseq + 4380, 65535);
	h.sseq += 4380;
	h_drain(&h);
	tcp_send(h.app.flow, h_pattern, 4380);
	assert_int_equal(pop_all_max(&h, &max_len), 4380);
	assert_int_equal(max_len, 1460);
	h_fini(&h);
}

/* Advance until the next RTO has fired; returns the first segment it sent. */
static void
next_rto(struct h *h, struct h_pkt *p)
{
	uint64_t before = stats(h)->rto_expired;

	for (int i = 0; i < 120000 && stats(h)->rto_expired == before; i++) {
		h_advance(h, 1 * MS);
		if (stats(h)->rto_expired == before)
			h_drain(h); /* tail loss probes */
	}
	assert_int_equal(stats(h)->rto_expired, before + 1);
	h_pop(h, p);
	h_drain(h);
}

/* A path that drops full-size segments and sends no ICMP still delivers (RFC 4821 idea). */
static void
test_pmtu_blackhole_fallback(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1460, .ws = -1};
	uint32_t max_len;

	(void)state;
	h_init(&h, NULL);
	h.app.send_on_accept = 4380;
	assert_int_equal(h_connect(&h, 40302, H_APP_PORT, &o, 77), 0);
	h_drain(&h);
	next_rto(&h, &p);
	assert_int_equal(p.len, 1460);
	assert_int_equal(stats(&h)->pmtu_blackhole, 0);
	next_rto(&h, &p); /* second full-size timeout in a row: 1024 */
	assert_int_equal(p.seq, h.sseq);
	assert_int_equal(p.len, 1024);
	assert_int_equal(stats(&h)->pmtu_blackhole, 1);
	next_rto(&h, &p);
	assert_int_equal(p.len, 1024);
	next_rto(&h, &p); /* and then the floor */
	assert_int_equal(p.len, TCP_PMTU_MIN_MSS);
	assert_int_equal(stats(&h)->pmtu_blackhole, 2);
	/* the small segment gets through: the rest follows at that size */
	h_ack(&h, h.sseq + TCP_PMTU_MIN_MSS, 65535);
	h.sseq += TCP_PMTU_MIN_MSS;
	assert_int_equal(pop_all_max(&h, &max_len) > 0, true);
	assert_int_equal(max_len, TCP_PMTU_MIN_MSS);
	assert_int_equal(h.app.closed, 0);
	h_fini(&h);
}

/* Timeouts on a path that has carried full segments are loss, not a black hole: MSS kept. */
static void
test_pmtu_blackhole_not_after_full_ack(void **state)
{
	struct h h;
	struct h_pkt p;
	struct h_opts o = {.mss = 1460, .ws = -1};

	(void)state;
	h_init(&h, NULL);
	h.app.send_on_accept = 5840;
	assert_int_equal(h_connect(&h, 40303, H_APP_PORT, &o, 77), 0);
	h_drain(&h);
	h_ack(&h, h.sseq + 1460, 65535);
	h.sseq += 1460;
	h_drain(&h);
	for (int i = 0; i < 4; i++) {
		next_rto(&h, &p);
		assert_int_equal(p.len, 1460);
	}
	assert_int_equal(stats(&h)->pmtu_blackhole, 0);
	h_fini(&h);
}

/*
 * Paced output: with a budget of 3 data segments a 20000-byte send puts 3 on the wire and the
 * flow waits; ACKs still go out with the budget spent; resume sends within the next budget,
 * in sequence; an aborted flow leaves the wait list.
 */
static void
test_tx_budget_paces_output(void **state)
{
	struct h h;
	struct h_pkt p;
	uint32_t next;

	(void)state;
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40100, H_APP_PORT, NULL, 1), 0);
	h.app.flow = h_flow(&h);
	next = h.sseq;
	tcp_tx_budget(h.e, 3);
	assert_int_equal(tcp_send(h.app.flow, h_pattern, 20000), 20000);
	for (int i = 0; i < 3; i++) {
		h_pop(&h, &p);
		assert_int_equal(p.seq, next);
		assert_int_equal(p.len, 1448);
		next += p.len;
	}
	expect_none(&h);
	assert_true(tcp_tx_waiting(h.e));
	assert_int_equal(stats(&h)->tx_budget_waits, 1);

	/* data from the client is acknowledged although no data segment may go */
	h_data(&h, h_pattern, 1448);
	h_data(&h, h_pattern, 1448); /* two full segments: ACKed at once (RFC 5681 4.2) */
	h_pop(&h, &p);
	assert_int_equal(p.len, 0);
	assert_int_equal(p.ack, h.cseq);
	expect_none(&h);

	tcp_tx_budget(h.e, 4);
	assert_int_equal(tcp_tx_resume(h.e), 4);
	for (int i = 0; i < 4; i++) {
		h_pop(&h, &p);
		assert_int_equal(p.seq, next);
		next += p.len;
	}
	expect_none(&h);
	assert_true(tcp_tx_waiting(h.e));

	/* no bound: the rest of the initial window */
	tcp_tx_budget(h.e, UINT32_MAX);
	assert_int_equal(tcp_tx_resume(h.e), 3);
	h_drain(&h);
	assert_false(tcp_tx_waiting(h.e));

	tcp_tx_budget(h.e, 0);
	h_ack(&h, next, 512);
	assert_true(tcp_tx_waiting(h.e));
	tcp_abort(h.app.flow);
	assert_false(tcp_tx_waiting(h.e));
	h_fini(&h);
}

/*
 * TX checksum offload on chains: a segment whose chain has an odd-length piece before its last
 * (an odd response head, then file data) is summed by the engine, because DPDK 22.11's
 * software offload (net_tap) gets it wrong; a segment of even pieces is left to the port.
 */
static void
test_offload_odd_interior_summed_here(void **state)
{
	static struct rte_mbuf_ext_shared_info shinfo = {.free_cb = ext_free};
	struct h h;
	struct h_pkt p;
	struct rte_mbuf *m;
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;

	(void)state;
	rte_mbuf_ext_refcnt_set(&shinfo, 1);
	h_init(&h, NULL);
	assert_int_equal(h_connect(&h, 40101, H_APP_PORT, NULL, 1), 0);
	h.app.flow = h_flow(&h);
	h.e->p.csum_offload = true; /* after the handshake, which h_connect checks in full */
	/* both queued before any output: the first segment spans them */
	tcp_tx_budget(h.e, 0);
	assert_int_equal(tcp_send(h.app.flow, h_pattern, 101), 101);
	assert_int_equal(tcp_send_ext(h.app.flow, h_pattern + 101, RTE_BAD_IOVA, 5000, &shinfo),
			 5000);
	tcp_tx_budget(h.e, UINT32_MAX);
	tcp_tx_resume(h.e);
	assert_true(h_pending(&h) >= 2);

	m = h.out[h.head];
	assert_int_equal(m->nb_segs, 3);
	assert_int_equal(m->next->data_len, 101);
	assert_false(m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM);
	h_pop(&h, &p); /* verifies both checksums in full */
	assert_memory_equal(p.data, h_pattern, p.len);

	m = h.out[h.head];
	ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	th = (const struct rte_tcp_hdr *)(ip + 1);
	assert_int_equal(m->nb_segs, 2);
	assert_true(m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM);
	assert_true(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM);
	assert_int_equal(th->cksum, rte_ipv4_phdr_cksum(ip, m->ol_flags));
	while (h_pending(&h))
		rte_pktmbuf_free(h.out[h.head++]);
	h.head = h.nout = 0;
	tcp_abort(h.app.flow);
	h_drain(&h);
	h_fini(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_options),
		cmocka_unit_test(test_pmtu_icmp_lowers_mss),
		cmocka_unit_test(test_pmtu_icmp_forged_ignored),
		cmocka_unit_test(test_pmtu_blackhole_fallback),
		cmocka_unit_test(test_pmtu_blackhole_not_after_full_ack),
		cmocka_unit_test(test_handshake_no_options),
		cmocka_unit_test(test_syn_cookies),
		cmocka_unit_test(test_cookie_flow_carries_data),
		cmocka_unit_test(test_cookies_over_half_open_bound),
		cmocka_unit_test(test_cookie_ack_needs_recent_cookies),
		cmocka_unit_test(test_keys_from_getrandom),
		cmocka_unit_test(test_ip_id_per_flow),
		cmocka_unit_test(test_malformed_options),
		cmocka_unit_test(test_bad_checksum),
		cmocka_unit_test(test_rx_cksum_flags),
		cmocka_unit_test(test_data_in_delayed_ack),
		cmocka_unit_test(test_echo_both_ways),
		cmocka_unit_test(test_out_of_order_and_sack),
		cmocka_unit_test(test_ooo_merges_contiguous_runs),
		cmocka_unit_test(test_offload_linear_and_mtu_clamp),
		cmocka_unit_test(test_linear_segments),
		cmocka_unit_test(test_duplicate_and_overlap),
		cmocka_unit_test(test_sequence_wraparound),
		cmocka_unit_test(test_paws),
		cmocka_unit_test(test_rto_backoff_karn),
		cmocka_unit_test(test_rto_gives_up),
		cmocka_unit_test(test_fast_retransmit_newreno),
		cmocka_unit_test(test_sack_recovery),
		cmocka_unit_test(test_sack_recovery_after_fin),
		cmocka_unit_test(test_sack_partial_ack_retransmits),
		cmocka_unit_test(test_rack_lost_retransmission),
		cmocka_unit_test(test_rto_keeps_sack_scoreboard),
		cmocka_unit_test(test_rto_spurious_eifel_undo),
		cmocka_unit_test(test_rto_spurious_frto_undo),
		cmocka_unit_test(test_tail_loss_probe),
		cmocka_unit_test(test_zero_window_persist),
		cmocka_unit_test(test_zero_window_forever_gives_up),
		cmocka_unit_test(test_receive_pause_closes_window),
		cmocka_unit_test(test_tinygrams_do_not_pin_mbufs),
		cmocka_unit_test(test_send_pool_dry),
		cmocka_unit_test(test_rx_pool_low_keeps_acks),
		cmocka_unit_test(test_ooo_tinygrams_coalesced),
		cmocka_unit_test(test_ooo_flow_share_of_pool),
		cmocka_unit_test(test_ooo_pruned_first_under_pressure),
		cmocka_unit_test(test_source_connection_limit),
		cmocka_unit_test(test_source_half_open_limit),
		cmocka_unit_test(test_source_limit_spans_lcores),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_pool_low_sheds_to_cookies),
		cmocka_unit_test(test_not_owner_dropped),
		cmocka_unit_test(test_passive_close),
		cmocka_unit_test(test_active_close_time_wait),
		cmocka_unit_test(test_time_wait_recycled_by_new_syn),
		cmocka_unit_test(test_time_wait_entry_guards_tuple),
		cmocka_unit_test(test_time_wait_costs_no_flow),
		cmocka_unit_test(test_simultaneous_close),
		cmocka_unit_test(test_rst_in_every_state),
		cmocka_unit_test(test_time_wait_survives_rst),
		cmocka_unit_test(test_fin_in_every_state),
		cmocka_unit_test(test_challenge_ack_for_syn),
		cmocka_unit_test(test_fin_wait2_keeps_receiving),
		cmocka_unit_test(test_limited_transmit_bounded),
		cmocka_unit_test(test_cwnd_restart_after_idle),
		cmocka_unit_test(test_challenge_ack_per_flow_limit),
		cmocka_unit_test(test_challenge_ack_side_channel),
		cmocka_unit_test(test_challenge_ack_global_budget_random),
		cmocka_unit_test(test_oow_acks_rate_limited),
		cmocka_unit_test(test_no_listener_and_no_flow),
		cmocka_unit_test(test_app_refuses),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_syn_ack_retransmit_and_reap),
		cmocka_unit_test(test_send_ext_zero_copy),
		cmocka_unit_test(test_chargen_pattern_and_backpressure),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_flow_table_ids),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_tx_budget_paces_output),
		cmocka_unit_test(test_offload_odd_interior_summed_here),
	};

	return h_main("test_tcp", tests, RTE_DIM(tests), 16383, 16384, NULL);
}
