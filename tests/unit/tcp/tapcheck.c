/* Interop check tool: the TCP engine with the diag service on a Linux TAP, no DPDK port needed. */
/*
 * Run inside a network namespace (tapcheck.py makes one): it opens a TAP device, answers ARP
 * for its address, hands IPv4/TCP to one engine and writes the engine's segments back. Both
 * directions can be impaired here the way netem would (loss, duplication, a fixed delay that
 * a share of packets skips, which reorders them): the lab kernel may have no sch_netem.
 * Prints a status line every second and the final counters on SIGTERM/SIGINT.
 *
 *   tapcheck IFNAME ADDR [loss_pct dup_pct reorder_pct delay_us]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/tcp/tcp.h"

#define LINK_SLOTS 32768 /* frames held per direction: > delay x packet rate */
#define FRAME_MAX  1600

struct held {
	uint64_t at;
	uint16_t len;
	uint8_t frame[FRAME_MAX];
};

/* One direction of the impaired link: a FIFO, since every held frame waits the same delay. */
struct link {
	struct held *q;
	unsigned int head;
	unsigned int n;
	uint64_t passed, lost, dup, reordered, overflow;
};

static volatile sig_atomic_t quit;
static int tap_fd;
static uint32_t my_addr;
static struct rte_ether_addr my_mac = {{0x02, 0, 0, 0, 0, 1}};
static struct rte_ether_addr peer_mac;
static double loss_pct, dup_pct, reorder_pct;
static uint64_t delay_us;
static struct link up, down; /* up: kernel -> engine, down: engine -> kernel */
static uint64_t now_us;
static struct tcp_engine *eng;
static struct rte_mempool *pool;

static uint64_t
clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static int
tap_open(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static bool
chance(double pct)
{
	return pct > 0 && (double)rand() / RAND_MAX * 100.0 < pct;
}

static void
frame_write(const uint8_t *f, uint16_t len)
{
	if (write(tap_fd, f, len) < 0 && errno != EAGAIN)
		perror("tap write");
}

static void engine_rx(const uint8_t *f, uint16_t n);

static void
deliver(struct link *l, const uint8_t *f, uint16_t len)
{
	l->passed++;
	if (l == &down)
		frame_write(f, len);
	else
		engine_rx(f, len);
}

static void
hold(struct link *l, const uint8_t *f, uint16_t len)
{
	struct held *h;

	if (l->n == LINK_SLOTS || len > FRAME_MAX) {
		l->overflow++;
		return;
	}
	h = &l->q[(l->head + l->n++) % LINK_SLOTS];
	h->at = now_us + delay_us;
	h->len = len;
	memcpy(h->frame, f, len);
}

/* netem-like: loss, then duplication; reordered frames skip the delay the others wait. */
static void
impair(struct link *l, const uint8_t *f, uint16_t len)
{
	int copies = 1;

	if (chance(loss_pct)) {
		l->lost++;
		return;
	}
	if (chance(dup_pct)) {
		l->dup++;
		copies = 2;
	}
	while (copies-- > 0) {
		if (delay_us == 0) {
			deliver(l, f, len);
		} else if (chance(reorder_pct)) {
			l->reordered++;
			deliver(l, f, len);
		} else {
			hold(l, f, len);
		}
	}
}

static void
release(struct link *l)
{
	while (l->n > 0 && l->q[l->head].at <= now_us) {
		struct held *h = &l->q[l->head];

		l->head = (l->head + 1) % LINK_SLOTS;
		l->n--;
		deliver(l, h->frame, h->len);
	}
}

static void
tx(void *arg, struct rte_mbuf *m)
{
	uint8_t frame[FRAME_MAX + 16];
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)frame;
	uint16_t len = (uint16_t)(sizeof(*eh) + m->pkt_len);
	const void *p;

	(void)arg;
	if (len > FRAME_MAX) {
		down.overflow++;
		rte_pktmbuf_free(m);
		return;
	}
	eh->dst_addr = peer_mac;
	eh->src_addr = my_mac;
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	p = rte_pktmbuf_read(m, 0, m->pkt_len, frame + sizeof(*eh));
	if (p != frame + sizeof(*eh))
		memcpy(frame + sizeof(*eh), p, m->pkt_len);
	rte_pktmbuf_free(m);
	impair(&down, frame, len);
}

static void
arp_reply(const uint8_t *f, ssize_t n)
{
	const struct rte_ether_hdr *eh = (const struct rte_ether_hdr *)f;
	const struct rte_arp_hdr *ah = (const struct rte_arp_hdr *)(eh + 1);
	uint8_t out[64];
	struct rte_ether_hdr *oe = (struct rte_ether_hdr *)out;
	struct rte_arp_hdr *oa = (struct rte_arp_hdr *)(oe + 1);

	if (n < (ssize_t)(sizeof(*eh) + sizeof(*ah)) ||
	    ah->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) ||
	    rte_be_to_cpu_32(ah->arp_data.arp_tip) != my_addr)
		return;
	memset(out, 0, sizeof(out));
	oe->dst_addr = eh->src_addr;
	oe->src_addr = my_mac;
	oe->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	*oa = *ah;
	oa->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	oa->arp_data.arp_sha = my_mac;
	oa->arp_data.arp_sip = ah->arp_data.arp_tip;
	oa->arp_data.arp_tha = ah->arp_data.arp_sha;
	oa->arp_data.arp_tip = ah->arp_data.arp_sip;
	frame_write(out, 60);
}

static void
engine_rx(const uint8_t *f, uint16_t n)
{
	const struct rte_ether_hdr *eh = (const struct rte_ether_hdr *)f;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eh + 1);
	struct rte_mbuf *m;
	uint16_t tot;

	if (eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    n < sizeof(*eh) + sizeof(*ip) || ip->next_proto_id != IPPROTO_TCP ||
	    rte_be_to_cpu_32(ip->dst_addr) != my_addr)
		return;
	tot = rte_be_to_cpu_16(ip->total_length);
	if (tot > n - sizeof(*eh) || tot > 2048)
		return;
	m = rte_pktmbuf_alloc(pool);
	if (m == NULL)
		return;
	memcpy(rte_pktmbuf_append(m, tot), ip, tot);
	m->l3_len = (uint8_t)((ip->version_ihl & 0xf) * 4);
	tcp_input(eng, m, now_us);
}

static int
print_flow(const struct tcp_flow_info *i, void *arg)
{
	(void)arg;
	printf("flow %u.%u:%u %s age=%lums cwnd=%u srtt=%uus rto=%uus retries=%u snd_wnd=%u "
	       "unacked=%u sndq=%u rcvq=%u ooo=%u paused=%d\n",
	       i->id, i->gen, i->tuple.rport, tcp_state_str(i->state), i->age_us / 1000, i->cwnd,
	       i->srtt_us, i->rto_us, i->retries, i->snd_wnd, i->unacked, i->sndq, i->rcvq, i->ooo,
	       i->recv_paused);
	return 0;
}

static void
print_stats(struct tcp_engine *e, struct tcp_flow_table *t, bool full)
{
	const struct tcp_stats *s = tcp_engine_stats(e);

	printf("flows=%u table=%u seg_in=%lu seg_out=%lu bytes_in=%lu bytes_out=%lu "
	       "retransmits=%lu rto=%lu tlp=%lu early=%lu fastrexmit=%lu dupack_in=%lu ooo=%lu "
	       "rst_in=%lu "
	       "rst_out=%lu no_mbuf=%lu lost=%lu/%lu dup=%lu/%lu reordered=%lu/%lu "
	       "overflow=%lu/%lu\n",
	       tcp_engine_nb_flows(e), tcp_flow_table_count(t), s->seg_in, s->seg_out, s->bytes_in,
	       s->bytes_out, s->retransmits, s->rto_expired, s->tlp_probes, s->early_retransmits,
	       s->fast_retransmits, s->dup_acks_in, s->ooo_segments, s->rst_in, s->rst_out,
	       s->no_mbuf, up.lost, down.lost, up.dup, down.dup, up.reordered, down.reordered,
	       up.overflow, down.overflow);
	if (full) {
		for (int r = 0; r < TCP_DROP_REASON_MAX; r++)
			if (s->drops[r])
				printf("drop %s=%lu\n",
				       tcp_drop_reason_str((enum tcp_drop_reason)r), s->drops[r]);
		for (int c = 0; c < TCP_CLOSE_REASON_MAX; c++)
			if (s->closed[c])
				printf("closed %s=%lu\n",
				       tcp_close_reason_str((enum tcp_close_reason)c),
				       s->closed[c]);
		for (int st = 0; st < TCP_STATE_MAX; st++)
			if (s->flows_by_state[st])
				printf("state %s=%ld\n", tcp_state_str((enum tcp_state)st),
				       s->flows_by_state[st]);
	}
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	char *eal[] = {"tapcheck", "--no-huge",		"--no-pci", "--no-shconf", "-m",
		       "1024",	   "--log-level=error", "-l",	    "0",	   NULL};
	struct tcp_engine_params p;
	struct tcp_flow_table *t;
	struct tcp_engine *e;
	uint64_t next_print;
	struct in_addr a;

	if (argc < 3 || inet_pton(AF_INET, argv[2], &a) != 1) {
		fprintf(stderr, "usage: %s IFNAME ADDR [loss dup reorder delay_us]\n", argv[0]);
		return 2;
	}
	my_addr = ntohl(a.s_addr);
	if (argc >= 7) {
		loss_pct = atof(argv[3]);
		dup_pct = atof(argv[4]);
		reorder_pct = atof(argv[5]);
		delay_us = strtoull(argv[6], NULL, 10);
	}
	up.q = calloc(LINK_SLOTS, sizeof(*up.q));
	down.q = calloc(LINK_SLOTS, sizeof(*down.q));
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	tap_fd = tap_open(argv[1]);
	if (tap_fd < 0) {
		fprintf(stderr, "tap %s: %s\n", argv[1], strerror(-tap_fd));
		return 1;
	}
	pool = rte_pktmbuf_pool_create("tapcheck", 131071, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (pool == NULL) {
		fprintf(stderr, "pool: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	rcu_register_thread();
	t = tcp_flow_table_create(16384, (uint64_t)clock_us());
	tcp_engine_params_init(&p);
	p.table = t;
	p.pool = pool;
	p.tx = tx;
	p.local_addrs[0] = my_addr;
	p.nb_local_addrs = 1;
	p.max_flows = 16384;
	p.seed = (uint64_t)clock_us() * 2654435761u;
	p.time_wait_us = 2 * 1000 * 1000;
	if (getenv("TAPCHECK_COOKIES") != NULL && strcmp(getenv("TAPCHECK_COOKIES"), "always") == 0)
		p.syncookies = TCP_SYNCOOKIE_ALWAYS;
	e = eng = tcp_engine_create(&p);
	if (e == NULL || tcp_diag_listen(e, 7, 9, 19) != 0) {
		fprintf(stderr, "engine: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);
	next_print = clock_us() + 1000000;
	while (!quit) {
		uint8_t f[9100];
		int got = 0;

		for (int i = 0; i < 64; i++) {
			ssize_t n = read(tap_fd, f, sizeof(f));

			if (n <= 0)
				break;
			got++;
			now_us = clock_us();
			if (n >= (ssize_t)sizeof(struct rte_ether_hdr)) {
				const struct rte_ether_hdr *eh = (const struct rte_ether_hdr *)f;

				peer_mac = eh->src_addr;
				if (eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
					arp_reply(f, n);
				else
					impair(&up, f, (uint16_t)n);
			}
		}
		now_us = clock_us();
		release(&up);
		release(&down);
		tcp_process(e, now_us);
		rcu_quiescent_state();
		if (now_us >= next_print) {
			print_stats(e, t, false);
			next_print = now_us + 1000000;
		}
		if (got == 0) {
			struct pollfd pfd = {.fd = tap_fd, .events = POLLIN};

			rcu_thread_offline();
			poll(&pfd, 1, (up.n || down.n) ? 0 : 1);
			rcu_thread_online();
		}
	}
	print_stats(e, t, true);
	tcp_flow_table_walk(t, now_us, print_flow, NULL);
	tcp_engine_destroy(e);
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
	tcp_flow_table_destroy(t);
	rcu_unregister_thread();
	close(tap_fd);
	return 0;
}
