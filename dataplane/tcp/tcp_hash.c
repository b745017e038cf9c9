/* Keyed hashes of the TCP engine: RFC 6528 ISNs, timestamp offsets and RFC 4987 SYN cookies. */
#include "dataplane/tcp/tcp_priv.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void
sip_round(uint64_t *v0, uint64_t *v1, uint64_t *v2, uint64_t *v3)
{
	*v0 += *v1;
	*v1 = ROTL(*v1, 13);
	*v1 ^= *v0;
	*v0 = ROTL(*v0, 32);
	*v2 += *v3;
	*v3 = ROTL(*v3, 16);
	*v3 ^= *v2;
	*v0 += *v3;
	*v3 = ROTL(*v3, 21);
	*v3 ^= *v0;
	*v2 += *v1;
	*v1 = ROTL(*v1, 17);
	*v1 ^= *v2;
	*v2 = ROTL(*v2, 32);
}

/*
 * SipHash-2-4 over three 64-bit words (a 24-byte message). A PRF is what RFC 6528 and
 * RFC 4987 ask for; the message is fixed-size so the tail handling of the general
 * algorithm reduces to the length word.
 */
uint64_t
tcp_siphash(uint64_t k0, uint64_t k1, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t m[4] = {a, b, c, (uint64_t)24 << 56};

	for (int i = 0; i < 4; i++) {
		v3 ^= m[i];
		sip_round(&v0, &v1, &v2, &v3);
		sip_round(&v0, &v1, &v2, &v3);
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(&v0, &v1, &v2, &v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

static inline uint64_t
tuple_word(const struct tcp_tuple *t)
{
	return ((uint64_t)t->raddr << 32) | t->laddr;
}

static inline uint64_t
ports_word(const struct tcp_tuple *t)
{
	return ((uint64_t)t->rport << 16) | t->lport;
}

/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock. */
uint32_t
tcp_isn(const struct tcp_engine *e, const struct tcp_tuple *t, uint64_t now)
{
	uint64_t h = tcp_siphash(e->k0, e->k1, tuple_word(t), ports_word(t), 1);

	return (uint32_t)h + (uint32_t)(now / 4);
}

/*
 * Per-connection TSval offset derived from the tuple only, so a cookie SYN-ACK and the flow
 * created later agree and the peer's PAWS sees one monotonic clock.
 */
uint32_t
tcp_ts_offset(const struct tcp_engine *e, const struct tcp_tuple *t)
{
	return (uint32_t)tcp_siphash(e->k0, e->k1, tuple_word(t), ports_word(t), 2);
}

/* IPv4 IDs: per flow, from a keyed hash of the tuple; a keyed hash of the segment otherwise. */
uint16_t
tcp_ip_id_first(const struct tcp_engine *e, const struct tcp_tuple *t)
{
	return (uint16_t)tcp_siphash(e->k0, e->k1, tuple_word(t), ports_word(t), 3);
}

uint16_t
tcp_ip_id_stateless(const struct tcp_engine *e, const struct tcp_tuple *t, uint32_t seq)
{
	return (uint16_t)tcp_siphash(e->k0, e->k1, tuple_word(t), ports_word(t),
				     ((uint64_t)seq << 8) | 6);
}

/*
 * Cookie layout (the ISN of a stateless SYN-ACK):
 *   bit  31      parity of the 64 s period it was made in (an ACK is good for 64 to 128 s)
 *   bits 30..8   23 bits of MAC over tuple, peer ISN and the low byte, keyed for the period
 *   bits  7..0   MSS index (3), peer window scale (4, 15 = none), SACK-permitted (1)
 * Timestamps need no bit: the final ACK carries the option when they were negotiated.
 *
 * Each period has its own 128-bit key, derived from the engine's cookie master key (drawn
 * from getrandom()) and the full period number: the key in use rotates every 64 s, a cookie
 * of period p is checked only with p's key, and a stale cookie whose parity matches is checked
 * against the wrong key and fails like a forgery. A forged ACK passes with probability 2^-23
 * (the attacker knows the clock and chooses the low byte, so only the MAC counts).
 */
static const uint16_t cookie_mss[8] = {536, 1200, 1360, 1400, 1440, 1460, 4312, 8960};

#define COOKIE_MAC_BITS 23
#define COOKIE_MAC_MASK ((1u << COOKIE_MAC_BITS) - 1)

static void
cookie_key(struct tcp_engine *e, uint64_t period, uint64_t *k0, uint64_t *k1)
{
	unsigned int slot = period & 1;

	if (e->ckey[slot].period != period || (e->ckey[slot].k0 | e->ckey[slot].k1) == 0) {
		e->ckey[slot].period = period;
		e->ckey[slot].k0 = tcp_siphash(e->ck0, e->ck1, period, 0, 5);
		e->ckey[slot].k1 = tcp_siphash(e->ck0, e->ck1, period, 1, 5);
	}
	*k0 = e->ckey[slot].k0;
	*k1 = e->ckey[slot].k1;
}

static uint32_t
cookie_mac(struct tcp_engine *e, uint64_t period, const struct tcp_tuple *t, uint32_t peer_isn,
	   uint32_t data)
{
	uint64_t k0, k1;

	cookie_key(e, period, &k0, &k1);
	return (uint32_t)tcp_siphash(k0, k1, tuple_word(t), ports_word(t),
				     ((uint64_t)peer_isn << 32) | data) &
	       COOKIE_MAC_MASK;
}

uint32_t
tcp_cookie_make(struct tcp_engine *e, const struct tcp_seg *s)
{
	uint64_t period = s->now / TCP_COOKIE_PERIOD_US;
	uint16_t mss = s->opts.mss ? s->opts.mss : TCP_DEFAULT_MSS;
	uint32_t idx = 0;
	uint32_t data;

	for (uint32_t i = 0; i < RTE_DIM(cookie_mss); i++)
		if (cookie_mss[i] <= mss)
			idx = i;
	data = idx | ((s->opts.has_ws ? RTE_MIN(s->opts.wscale, TCP_MAX_WSCALE) : 15) << 3) |
	       ((s->opts.sack_ok ? 1u : 0u) << 7);
	return ((uint32_t)(period & 1) << 31) |
	       (cookie_mac(e, period, &s->tuple, s->seq, data) << 8) | data;
}

int
tcp_cookie_check(struct tcp_engine *e, const struct tcp_seg *s, uint16_t *mss, uint8_t *ws,
		 bool *sack)
{
	uint32_t cookie = s->ack - 1;
	uint64_t period = s->now / TCP_COOKIE_PERIOD_US;
	uint32_t data = cookie & 0xff;

	if ((cookie >> 31) != (period & 1)) {
		if (period == 0)
			return -ETIMEDOUT;
		period--;
	}
	if (((cookie >> 8) & COOKIE_MAC_MASK) != cookie_mac(e, period, &s->tuple, s->seq - 1, data))
		return -EINVAL;
	*mss = cookie_mss[data & 7];
	*ws = (data >> 3) & 0xf;
	*sack = (data >> 7) & 1;
	return 0;
}
