/* The shared flow table: cds_lfht keyed by 4-tuple plus an id/generation slot array. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <string.h>

#include <rte_jhash.h>
#include <rte_thash.h>

#include "dataplane/tcp/tcp_priv.h"

/* Enough buckets that a burst of 5000+ new flows never waits on a resize. */
#define TCP_TABLE_MIN_BUCKETS 8192

struct tcp_flow_table *
tcp_flow_table_create(uint32_t max_flows, uint64_t seed)
{
	struct tcp_flow_table *t;
	unsigned long buckets = TCP_TABLE_MIN_BUCKETS;

	if (max_flows == 0) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->slots = calloc(max_flows, sizeof(*t->slots));
	if (t->slots == NULL)
		goto fail;
	while (buckets < max_flows && buckets < (1UL << 24))
		buckets <<= 1;
	t->ht = cds_lfht_new(buckets, buckets, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (t->ht == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	t->seed = seed;
	{
		uint32_t key[TCP_RSS_KEY_LEN / 4];

		tcp_rss_sym_key((uint8_t *)key, sizeof(key));
		rte_convert_rss_key(key, t->rss_key_be, sizeof(key));
	}
	t->max_flows = max_flows;
	if (tcp_src_init(t) != 0) {
		errno = ENOMEM;
		goto fail;
	}
	return t;
fail:
	if (t->ht != NULL)
		cds_lfht_destroy(t->ht, NULL);
	free(t->slots);
	free(t);
	return NULL;
}

int
tcp_flow_table_destroy(struct tcp_flow_table *t)
{
	if (t == NULL)
		return 0;
	if (uatomic_read(&t->count) != 0)
		return -EBUSY;
	if (cds_lfht_destroy(t->ht, NULL) != 0)
		return -EBUSY;
	tcp_src_fini(t);
	free(t->slots);
	free(t);
	return 0;
}

static uint16_t rss_pattern = TCP_RSS_PATTERN_PUBLIC;

void
tcp_rss_set_pattern(uint16_t pattern)
{
	rss_pattern = pattern;
}

uint16_t
tcp_rss_pattern(void)
{
	return rss_pattern;
}

void
tcp_rss_sym_key(uint8_t *key, size_t len)
{
	for (size_t i = 0; i < len; i++)
		key[i] = i % 2 == 0 ? (uint8_t)(rss_pattern >> 8) : (uint8_t)rss_pattern;
}

/* Rank over GF(2) of n row vectors of TCP_RSS_RETA_MIN_LOG2 bits. */
static unsigned
rss_rank(uint32_t *rows, unsigned n)
{
	unsigned rank = 0;

	for (unsigned bit = 0; bit < TCP_RSS_RETA_MIN_LOG2; bit++) {
		unsigned pivot = rank;

		while (pivot < n && !(rows[pivot] >> bit & 1))
			pivot++;
		if (pivot == n)
			continue;
		RTE_SWAP(rows[rank], rows[pivot]);
		for (unsigned i = 0; i < n; i++)
			if (i != rank && (rows[i] >> bit & 1))
				rows[i] ^= rows[rank];
		rank++;
	}
	return rank;
}

/*
 * The hash is linear in the XOR of the tuple's six 16-bit words: a tuple with one bit of its
 * remote port set gives the image of that bit. Sixteen images spanning every owner bit make
 * the owner uniform over the words' values.
 */
static bool
rss_pattern_spreads(uint16_t pattern)
{
	uint8_t key[16];
	uint32_t rows[16];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = i % 2 == 0 ? (uint8_t)(pattern >> 8) : (uint8_t)pattern;
	for (unsigned r = 0; r < 16; r++) {
		struct tcp_tuple t = {.rport = (uint16_t)(1u << r)};

		rows[r] = tcp_rss_hash(key, sizeof(key), &t) & (TCP_RSS_RETA_MIN - 1);
	}
	return rss_rank(rows, 16) == TCP_RSS_RETA_MIN_LOG2;
}

uint16_t
tcp_rss_pick_pattern(uint64_t seed)
{
	for (unsigned i = 0; i < 64; i++) {
		uint16_t p = (uint16_t)(seed >> (i % 4 * 16)) ^ (uint16_t)(i * 0x9e37);

		if (rss_pattern_spreads(p))
			return p;
	}
	return TCP_RSS_PATTERN_PUBLIC;
}

/* What the NIC hashes, in rte_softrss's order: source address, destination, ports. */
static void
rss_input(const struct tcp_tuple *tp, uint32_t in[3])
{
	in[0] = tp->raddr;
	in[1] = tp->laddr;
	in[2] = (uint32_t)tp->rport << 16 | tp->lport;
}

uint32_t
tcp_rss_hash(const uint8_t *key, size_t key_len, const struct tcp_tuple *tuple)
{
	uint32_t words[16 / 4], in[3];

	if (key_len < sizeof(words))
		return 0;
	/* rte_softrss reads the key as 32-bit words: an aligned copy of what it needs */
	memcpy(words, key, sizeof(words));
	rss_input(tuple, in);
	return rte_softrss(in, RTE_DIM(in), (const uint8_t *)words);
}

uint16_t
tcp_flow_owner(const struct tcp_flow_table *t, const struct tcp_tuple *tuple, uint16_t nb_lcores)
{
	uint32_t in[3];

	if (nb_lcores <= 1)
		return 0;
	rss_input(tuple, in);
	return tcp_rss_owner(rte_softrss_be(in, RTE_DIM(in), (const uint8_t *)t->rss_key_be),
			     nb_lcores);
}

int
tcp_table_reserve(struct tcp_flow_table *t, uint32_t n, uint32_t *base_out)
{
	uint32_t base = uatomic_add_return(&t->next_base, n) - n;

	if ((uint64_t)base + n > t->max_flows) {
		uatomic_sub(&t->next_base, n);
		return -ENOSPC;
	}
	*base_out = base;
	return 0;
}

static int
tuple_match(struct cds_lfht_node *node, const void *key)
{
	const struct tcp_flow *f = caa_container_of(node, struct tcp_flow, node);
	const struct tcp_tuple *k = key;

	return f->tuple.raddr == k->raddr && f->tuple.laddr == k->laddr &&
	       f->tuple.rport == k->rport && f->tuple.lport == k->lport;
}

struct tcp_flow *
tcp_flow_lookup(struct tcp_flow_table *t, const struct tcp_tuple *tuple)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(t->ht, tcp_tuple_hash(t, tuple), tuple_match, tuple, &it);
	node = cds_lfht_iter_get_node(&it);
	if (node == NULL)
		return NULL;
	return caa_container_of(node, struct tcp_flow, node);
}

/*
 * The owner's index: a bucket per flow it may hold (a power of two), chained through the
 * flows, hashed with the engine's secret keys (tcp_own_hash).
 */
int
tcp_own_init(struct tcp_engine *e)
{
	uint32_t n = 64;

	while (n < e->p.max_flows && n < (1u << 24))
		n <<= 1;
	e->own = calloc(n, sizeof(*e->own));
	if (e->own == NULL)
		return -ENOMEM;
	e->own_mask = n - 1;
	return 0;
}

void
tcp_own_fini(struct tcp_engine *e)
{
	free(e->own);
	e->own = NULL;
}

void
tcp_own_add(struct tcp_engine *e, struct tcp_flow *f)
{
	struct tcp_flow **b = &e->own[tcp_own_hash(e, &f->tuple) & e->own_mask];

	f->own_next = *b;
	*b = f;
}

void
tcp_own_del(struct tcp_engine *e, struct tcp_flow *f)
{
	struct tcp_flow **p = &e->own[tcp_own_hash(e, &f->tuple) & e->own_mask];

	for (; *p != NULL; p = &(*p)->own_next) {
		if (*p == f) {
			*p = f->own_next;
			f->own_next = NULL;
			return;
		}
	}
}

struct tcp_flow *
tcp_flow_lookup_id(struct tcp_flow_table *t, uint32_t id, uint32_t gen)
{
	struct tcp_flow *f;

	if (id >= t->max_flows)
		return NULL;
	f = rcu_dereference(t->slots[id].flow);
	if (f == NULL || CMM_LOAD_SHARED(f->gen) != gen || CMM_LOAD_SHARED(f->state) == TCP_CLOSED)
		return NULL;
	return f;
}

uint32_t
tcp_flow_table_count(const struct tcp_flow_table *t)
{
	return uatomic_read(&t->count);
}

/* Owner only. Returns -EEXIST when another flow holds the tuple. */
int
tcp_table_add(struct tcp_flow_table *t, struct tcp_flow *f)
{
	struct cds_lfht_node *ret;

	f->hash = tcp_tuple_hash(t, &f->tuple);
	cds_lfht_node_init(&f->node);
	ret = cds_lfht_add_unique(t->ht, f->hash, tuple_match, &f->tuple, &f->node);
	if (ret != &f->node)
		return -EEXIST;
	rcu_assign_pointer(t->slots[f->id].flow, f);
	uatomic_inc(&t->count);
	return 0;
}

static void
flow_free_rcu(struct rcu_head *head)
{
	struct tcp_flow *f = caa_container_of(head, struct tcp_flow, rcu);

	free(f);
}

/* Owner only; the flow's memory goes after a grace period, never before the del succeeded. */
void
tcp_table_del(struct tcp_flow_table *t, struct tcp_flow *f)
{
	if (t->slots[f->id].flow == f)
		rcu_assign_pointer(t->slots[f->id].flow, NULL);
	if (cds_lfht_del(t->ht, &f->node) == 0) {
		uatomic_dec(&t->count);
		call_rcu(&f->rcu, flow_free_rcu);
	}
	/* A failed del means someone else removed it: it is theirs to free. */
}

int
tcp_flow_table_walk(struct tcp_flow_table *t, uint64_t now_us,
		    int (*cb)(const struct tcp_flow_info *info, void *arg), void *arg)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	int rc = 0;

	rcu_read_lock();
	/*
	 * Not cds_lfht_for_each_entry: it converts the NULL that ends the walk to an entry
	 * pointer before testing it, which is undefined (clang's UBSan stops there).
	 */
	for (cds_lfht_first(t->ht, &it); (node = cds_lfht_iter_get_node(&it)) != NULL;
	     cds_lfht_next(t->ht, &it)) {
		const struct tcp_flow *f = caa_container_of(node, struct tcp_flow, node);
		struct tcp_flow_info info = {
			.tuple = f->tuple,
			.state = (enum tcp_state)CMM_LOAD_SHARED(f->state),
			.id = f->id,
			.gen = CMM_LOAD_SHARED(f->gen),
			.owner = f->owner,
			.age_us = now_us > f->created_us ? now_us - f->created_us : 0,
			.cwnd = CMM_LOAD_SHARED(f->cwnd),
			.srtt_us = CMM_LOAD_SHARED(f->srtt),
			.snd_wnd = CMM_LOAD_SHARED(f->snd_wnd),
			.unacked = CMM_LOAD_SHARED(f->snd_max) - CMM_LOAD_SHARED(f->snd_una),
			.sndq = CMM_LOAD_SHARED(f->sndq_bytes),
			.rcvq = CMM_LOAD_SHARED(f->rcvq_bytes),
			.ooo = CMM_LOAD_SHARED(f->nb_ooo),
			.rto_us = CMM_LOAD_SHARED(f->rto),
			.retries = CMM_LOAD_SHARED(f->retries),
			.recv_paused = (CMM_LOAD_SHARED(f->flags) & TF_PAUSED) != 0,
		};
		rc = cb(&info, arg);
		if (rc != 0)
			break;
	}
	rcu_read_unlock();
	return rc;
}
