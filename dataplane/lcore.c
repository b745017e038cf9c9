/* The dataplane lcore loop: rx burst → process → tx, slow work every few iterations. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <urcu-qsbr.h>

#include "dataplane/clock.h"
#include "dataplane/dp.h"
#include "dataplane/dp_l4.h"

#define SLOW_EVERY	  64   /* iterations between timer/ARP housekeeping */
#define IDLE_POLLS_BEFORE 1024 /* empty polls in a row before an idle sleep */
#define GARP_COUNT	  3    /* gratuitous ARPs after start, a second apart */
#define STEER_RING_SIZE	  4096

struct dp dp_main;
volatile bool dp_force_quit;

static const struct dp_app *apps[DP_MAX_APPS];
static unsigned int nb_apps;
static volatile bool draining;

void
dp_drain_begin(void)
{
	__atomic_store_n(&draining, true, __ATOMIC_RELEASE);
}

uint64_t
dp_apps_active(void)
{
	uint64_t n = 0;

	for (uint16_t i = 0; i < dp_main.nb_lcores; i++)
		for (unsigned int a = 0; a < nb_apps; a++)
			if (apps[a]->active != NULL && dp_main.lcores[i].app_state[a] != NULL)
				n += apps[a]->active(dp_main.lcores[i].app_state[a]);
	return n;
}

int
dp_app_register(const struct dp_app *app)
{
	if (nb_apps == DP_MAX_APPS)
		return -ENOSPC;
	apps[nb_apps++] = app;
	return 0;
}

int
dp_apps_init(struct dp *dp)
{
	for (unsigned int a = 0; a < nb_apps; a++) {
		int rc = apps[a]->init ? apps[a]->init(dp->nb_lcores) : 0;

		if (rc < 0) {
			DP_LOG(ERR, "%s: %s", apps[a]->name, strerror(-rc));
			return rc;
		}
	}
	bool extbuf_ok = true;

	/* a device on a bus (PCI) DMAs; net_tap, net_af_packet, ... copy with the CPU */
	for (uint16_t p = 0; p < dp->nb_ports; p++)
		extbuf_ok &= strncmp(dp->ports[p].conf->device, "net_", 4) == 0;
	if (!extbuf_ok)
		DP_LOG(INFO, "a port is a bus device: file bodies are copied into mbufs, not lent");
	for (uint16_t i = 0; i < dp->nb_lcores; i++) {
		struct dp_lcore *lc = &dp->lcores[i];
		const struct dp_app_env env = {
			.tcp = lc->tcp,
			.flows = dp_flow_table(),
			.lcore_index = i,
			.nb_lcores = dp->nb_lcores,
			.socket = rte_lcore_to_socket_id(lc->lcore_id),
			.extbuf_ok = extbuf_ok,
		};

		for (unsigned int a = 0; a < nb_apps; a++) {
			int rc = apps[a]->lcore_init ? apps[a]->lcore_init(&env, &lc->app_state[a])
						     : 0;

			if (rc < 0) {
				DP_LOG(ERR, "%s on lcore %u: %s", apps[a]->name, lc->lcore_id,
				       strerror(-rc));
				return rc;
			}
		}
	}
	return 0;
}

void
dp_apps_fini(void)
{
	for (unsigned int a = 0; a < nb_apps; a++)
		if (apps[a]->fini != NULL)
			apps[a]->fini();
}

/* Every iteration: each application's poll, and its tick when due. */
static void
apps_run(struct dp_lcore *lc, uint64_t now_us)
{
	if (unlikely(!lc->drained && __atomic_load_n(&draining, __ATOMIC_ACQUIRE))) {
		lc->drained = true;
		for (unsigned int a = 0; a < nb_apps; a++)
			if (apps[a]->drain != NULL)
				apps[a]->drain(lc->app_state[a]);
	}
	for (unsigned int a = 0; a < nb_apps; a++) {
		const struct dp_app *app = apps[a];

		if (app->poll != NULL)
			app->poll(lc->app_state[a], now_us);
		if (app->tick != NULL && now_us >= lc->app_next_tick_us[a]) {
			app->tick(lc->app_state[a], now_us);
			lc->app_next_tick_us[a] = now_us + app->tick_us;
		}
	}
}

/* On the lcore as it stops: engines first (their closed callbacks still use the apps' state). */
static void
lcore_stop(struct dp_lcore *lc)
{
	dp_l4_lcore_fini(lc);
	for (unsigned int a = 0; a < nb_apps; a++) {
		if (apps[a]->lcore_fini != NULL)
			apps[a]->lcore_fini(lc->app_state[a]);
		lc->app_state[a] = NULL;
	}
}

int
dp_lcores_init(struct dp *dp, const struct dp_conf *cfg)
{
	for (uint16_t i = 0; i < cfg->nb_lcores; i++) {
		struct dp_lcore *lc = &dp->lcores[i];
		char name[RTE_RING_NAMESIZE];

		lc->dp = dp;
		lc->lcore_id = cfg->lcore_ids[i];
		lc->index = i;
		lc->burst = cfg->burst;
		lc->idle_sleep_us = cfg->idle_sleep_us;
		lc->tx_step = cfg->tx_step_segments != 0 ? cfg->tx_step_segments : UINT32_MAX;
		lc->garp_left = GARP_COUNT;
		{
			const struct dp_impair_conf ic = cfg->impair;
			unsigned int socket = rte_lcore_to_socket_id(lc->lcore_id);

			lc->impaired = dp_impair_enabled(&ic);
			if (dp_impair_init(&lc->rx_imp, &ic, socket) < 0 ||
			    dp_impair_init(&lc->tx_imp, &ic, socket) < 0)
				return -ENOMEM;
			if (lc->impaired && i == 0)
				DP_LOG(WARNING,
				       "fault injection on: loss %u‰ duplicate %u‰ reorder %u‰ "
				       "delay %u us, both directions",
				       ic.loss_permille, ic.duplicate_permille, ic.reorder_permille,
				       ic.delay_us);
		}
		snprintf(name, sizeof(name), "steer_%u", lc->lcore_id);
		/* many producers (the other lcores), one consumer (the owner) */
		lc->steer = rte_ring_create(name, STEER_RING_SIZE,
					    rte_lcore_to_socket_id(lc->lcore_id), RING_F_SC_DEQ);
		if (lc->steer == NULL) {
			DP_LOG(ERR, "lcore %u: steering ring: %s", lc->lcore_id,
			       rte_strerror(rte_errno));
			return -rte_errno;
		}
		if (!rte_lcore_is_enabled(lc->lcore_id)) {
			DP_LOG(ERR, "lcore %u is not enabled in the EAL lcore list", lc->lcore_id);
			return -EINVAL;
		}
	}
	dp->nb_lcores = cfg->nb_lcores;
	dp->start_tsc = rte_get_tsc_cycles();
	return 0;
}

static void
slow_path(struct dp_lcore *lc, uint64_t now)
{
	/* one lcore announces our addresses; the others have nothing to add */
	if (lc->index == 0 && lc->garp_left > 0 && now >= lc->garp_next_tsc) {
		for (uint16_t p = 0; p < lc->dp->nb_ports; p++)
			if (lc->dp->ports[p].conf->garp && lc->dp->ports[p].link_up)
				dp_arp_send_request(lc, &lc->dp->ports[p], 0, true);
		lc->garp_left--;
		lc->garp_next_tsc = now + rte_get_tsc_hz();
	}
}

static struct dp_port *
port_of(struct dp_lcore *lc, uint16_t port_id)
{
	for (uint16_t p = 0; p < lc->dp->nb_ports; p++)
		if (lc->dp->ports[p].port_id == port_id)
			return &lc->dp->ports[p];
	return &lc->dp->ports[0];
}

/* Received packets through the fault injector, and the delayed ones of both directions. */
static void
impaired_input(struct dp_lcore *lc, struct dp_port *port, struct rte_mbuf **pkts, uint16_t n,
	       uint64_t now_us)
{
	struct rte_mbuf *out[2];

	for (uint16_t i = 0; i < n; i++) {
		unsigned int k = dp_impair_apply(&lc->rx_imp, pkts[i], now_us, out);
		for (unsigned int j = 0; j < k; j++)
			dp_net_input(lc, port, out[j]);
	}
}

static void
impaired_release(struct dp_lcore *lc, uint64_t now_us)
{
	struct rte_mbuf *due[64];
	unsigned int n;

	while ((n = dp_impair_due(&lc->rx_imp, now_us, due, RTE_DIM(due))) > 0)
		for (unsigned int i = 0; i < n; i++)
			dp_net_input(lc, port_of(lc, due[i]->port), due[i]);
	while ((n = dp_impair_due(&lc->tx_imp, now_us, due, RTE_DIM(due))) > 0)
		for (unsigned int i = 0; i < n; i++)
			dp_tx_buffer(lc, port_of(lc, due[i]->port), due[i]);
}

static unsigned int
drain_steer_ring(struct dp_lcore *lc)
{
	struct rte_mbuf *pkts[DP_MAX_BURST];
	unsigned int n = rte_ring_sc_dequeue_burst(lc->steer, (void **)pkts, lc->burst, NULL);

	for (unsigned int i = 0; i < n; i++) {
		/* the port travels in the mbuf's port field */
		lc->stats.steered_in++;
		dp_l4_tcp_input(lc, port_of(lc, pkts[i]->port), pkts[i]);
	}
	return n;
}

/*
 * Bursts from each port's queue of this lcore while they come full, up to RX_BURSTS_PER_POLL,
 * and what other lcores steered here. Reading more than one burst keeps the queue toward us
 * short when the peer answers our output in bursts (a veth's ACKs arrive a NAPI poll at a time).
 */
#define RX_BURSTS_PER_POLL 4

static unsigned int
rx_poll(struct dp_lcore *lc, struct rte_mbuf **pkts)
{
	unsigned int got = 0;

	for (uint16_t p = 0; p < lc->dp->nb_ports; p++) {
		struct dp_port *port = &lc->dp->ports[p];

		for (int b = 0; b < RX_BURSTS_PER_POLL; b++) {
			uint16_t n = rte_eth_rx_burst(port->port_id, lc->index, pkts, lc->burst);

			if (unlikely(lc->impaired)) {
				impaired_input(lc, port, pkts, n, dp_now_us());
			} else {
				for (uint16_t i = 0; i < n; i++) {
					if (i + 1 < n)
						rte_prefetch0(
							rte_pktmbuf_mtod(pkts[i + 1], void *));
					dp_net_input(lc, port, pkts[i]);
				}
			}
			got += n;
			if (n < lc->burst)
				break;
		}
	}
	dp_l4_steer_flush(lc);
	return got + drain_steer_ring(lc);
}

/*
 * Output is paced: the engine may send at most tx_step_segments data segments per step, and
 * each step reads the ports again before the next. On net_tap every frame we write runs the
 * client's TCP at once and queues its ACK toward us: sending a whole iteration's output
 * (hundreds of segments when many responses start together) before reading again overflowed
 * that queue, and each lost ACK or request cost an RTO. Flows the budget holds back wait
 * their turn in the engine (nothing is built for them meanwhile); the ACKs read in a step go
 * through the engine before the data queued behind them.
 */
#define TX_STEPS_PER_ITER 4

static unsigned int
tx_steps(struct dp_lcore *lc, struct rte_mbuf **pkts)
{
	unsigned int got = 0;

	dp_tx_flush(lc);
	for (int s = 0; s < TX_STEPS_PER_ITER && dp_l4_tx_waiting(lc); s++) {
		unsigned int n;

		dp_l4_tx_budget(lc, lc->tx_step);
		dp_l4_tx_resume(lc);
		dp_tx_flush(lc);
		lc->stats.tx_steps++;
		n = rx_poll(lc, pkts);
		lc->stats.rx_between_tx += n;
		got += n;
		/* ACKs the input owes go now; its new data waits for the next step's budget */
		dp_tx_flush(lc);
	}
	return got;
}

int
dp_lcore_main(void *arg)
{
	struct dp_lcore *lc = arg;
	struct rte_mbuf *pkts[DP_MAX_BURST];
	uint32_t idle = 0;
	uint64_t iter = 0, now;

	rcu_register_thread();
	DP_LOG(INFO, "lcore %u polls queue %u on %u port(s)", lc->lcore_id, lc->index,
	       lc->dp->nb_ports);
	while (!dp_force_quit) {
		unsigned int got;

		rcu_quiescent_state();
		dp_l4_tx_budget(lc, lc->tx_step);
		got = rx_poll(lc, pkts);
		if (unlikely(lc->impaired)) {
			impaired_release(lc, dp_now_us());
			got += lc->rx_imp.tail - lc->rx_imp.head + lc->tx_imp.tail -
			       lc->tx_imp.head;
		}
		now = rte_get_tsc_cycles();
		dp_l4_process(lc, dp_tsc_to_us(now));
		apps_run(lc, dp_tsc_to_us(now));
		if ((++iter % SLOW_EVERY) == 0)
			slow_path(lc, now);
		got += tx_steps(lc, pkts);
		/* flows still waiting for budget are work: no sleep until they are served */
		got += dp_l4_tx_waiting(lc);

		lc->stats.polls++;
		if (got > 0) {
			lc->stats.busy_polls++;
			idle = 0;
			continue;
		}
		if (lc->idle_sleep_us == 0 || ++idle < IDLE_POLLS_BEFORE)
			continue;
		/* a sleeping reader must not hold up grace periods */
		lc->stats.sleeps++;
		rcu_thread_offline();
		usleep(lc->idle_sleep_us);
		rcu_thread_online();
	}
	/* the engine resets what is still open; those RSTs go out with the last flush */
	dp_l4_steer_flush(lc);
	lcore_stop(lc);
	dp_tx_flush(lc);
	dp_impair_fini(&lc->rx_imp);
	dp_impair_fini(&lc->tx_imp);
	rcu_unregister_thread();
	DP_LOG(INFO, "lcore %u stops", lc->lcore_id);
	return 0;
}
