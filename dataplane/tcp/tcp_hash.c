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

/*
 * Cookie layout (the ISN of a stateless SYN-ACK):
 *   bits 31..27  time counter, 64 s per step (an ACK is good for 64 to 128 s)
 *   bits 26..8   19 bits of MAC over tuple, peer ISN, time and the low byte
 *   bits  7..0   MSS index (3), peer window scale (4, 15 = none), SACK-permitted (1)
 * Timestamps need no bit: the final ACK carries the option when they were negotiated.
 */
static const uint16_t cookie_mss[8] = {536, 1200, 1360, 1400, 1440, 1460, 4312, 8960};

#define COOKIE_PERIOD_US (64ULL * 1000 * 1000)

static uint32_t
cookie_mac(const struct tcp_engine *e, const struct tcp_tuple *t, uint32_t peer_isn, uint32_t tc,
	   uint32_t data)
{
	uint64_t h = tcp_siphash(e->k0, e->k1, tuple_word(t), ports_word(t),
				 ((uint64_t)peer_isn << 32) | (tc << 8) | data);

	return (uint32_t)h & 0x7ffff;
}

uint32_t
tcp_cookie_make(const struct tcp_engine *e, const struct tcp_seg *s)
{
	uint32_t tc = (uint32_t)(s->now / COOKIE_PERIOD_US) & 0x1f;
	uint16_t mss = s->opts.mss ? s->opts.mss : TCP_DEFAULT_MSS;
	uint32_t idx = 0;
	uint32_t data;

	for (uint32_t i = 0; i < RTE_DIM(cookie_mss); i++)
		if (cookie_mss[i] <= mss)
			idx = i;
	data = idx | ((s->opts.has_ws ? RTE_MIN(s->opts.wscale, TCP_MAX_WSCALE) : 15) << 3) |
	       ((s->opts.sack_ok ? 1u : 0u) << 7);
	return (tc << 27) | (cookie_mac(e, &s->tuple, s->seq, tc, data) << 8) | data;
}

int
tcp_cookie_check(const struct tcp_engine *e, const struct tcp_seg *s, uint16_t *mss, uint8_t *ws,
		 bool *sack)
{
	uint32_t cookie = s->ack - 1;
	uint32_t now_tc = (uint32_t)(s->now / COOKIE_PERIOD_US) & 0x1f;
	uint32_t tc = cookie >> 27;
	uint32_t data = cookie & 0xff;

	if (tc != now_tc && tc != ((now_tc - 1) & 0x1f))
		return -ETIMEDOUT;
	if (((cookie >> 8) & 0x7ffff) != cookie_mac(e, &s->tuple, s->seq - 1, tc, data))
		return -EINVAL;
	*mss = cookie_mss[data & 7];
	*ws = (data >> 3) & 0xf;
	*sack = (data >> 7) & 1;
	return 0;
}
