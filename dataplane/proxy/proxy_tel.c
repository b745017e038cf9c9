/* Telemetry of the reverse proxy: /authgate/proxy/upstreams, summed over lcores per upstream. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_telemetry.h>

#include "common/counters.h"
#include "dataplane/clock.h"
#include "dataplane/proxy/proxy_priv.h"

struct up_sum {
	uint32_t addr;
	uint16_t port;
	uint64_t open, idle;
	bool down; /* the shared health says so */
	struct px_up_stats st;
};

/* The upper bound (µs) of the bucket holding the q-th quantile, 0 without samples. */
static uint64_t
hist_quantile(const struct px_hist *h, double q)
{
	uint64_t total = 0, seen = 0;

	for (unsigned int i = 0; i < PX_HIST_BUCKETS; i++)
		total += h->n[i];
	if (total == 0)
		return 0;
	for (unsigned int i = 0; i < PX_HIST_BUCKETS; i++) {
		seen += h->n[i];
		if ((double)seen >= q * (double)total)
			return 1ull << i;
	}
	return 1ull << (PX_HIST_BUCKETS - 1);
}

static unsigned int
collect(struct up_sum *out, unsigned int max)
{
	unsigned int n = 0;
	uint64_t now = dp_now_us();

	for (unsigned int l = 0; l < px_nb_lcores; l++) {
		const struct px_lcore *pl = px_lcores[l];
		unsigned int nb;

		if (pl == NULL)
			continue;
		nb = __atomic_load_n(&pl->nb_ups, __ATOMIC_ACQUIRE);
		for (unsigned int i = 0; i < nb; i++) {
			const struct px_up *u = &pl->ups[i];
			unsigned int k;

			for (k = 0; k < n; k++)
				if (out[k].addr == u->addr && out[k].port == u->port)
					break;
			if (k == n) {
				if (n == max)
					continue;
				memset(&out[n], 0, sizeof(out[n]));
				out[n].addr = u->addr;
				out[n].port = u->port;
				n++;
			}
			out[k].open += u->nb_open;
			out[k].idle += u->nb_idle;
			out[k].down = __atomic_load_n(&u->h->down_until_us, __ATOMIC_RELAXED) > now;
			counters_add(&out[k].st, &u->st, sizeof(out[k].st));
		}
	}
	return n;
}

static int
tel_upstreams(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static struct up_sum sums[PX_MAX_UPSTREAMS];
	struct px_lcore_stats tot;
	unsigned int n;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	n = collect(sums, RTE_DIM(sums));
	memset(&tot, 0, sizeof(tot));
	for (unsigned int l = 0; l < px_nb_lcores; l++)
		if (px_lcores[l] != NULL)
			counters_add(&tot, &px_lcores[l]->st, sizeof(tot));
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "exchanges", tot.exchanges);
	rte_tel_data_add_dict_u64(d, "active", tot.active);
	rte_tel_data_add_dict_u64(d, "client_aborts", tot.client_aborts);
	rte_tel_data_add_dict_u64(d, "bad_chunked", tot.bad_chunked);
	rte_tel_data_add_dict_u64(d, "answered_4xx", tot.answered[4]);
	rte_tel_data_add_dict_u64(d, "answered_5xx", tot.answered[5]);
	for (int e = 0; e < PROXY_E_MAX; e++) {
		char name[48];

		snprintf(name, sizeof(name), "unrouted_%s", proxy_err_str((enum proxy_err)e));
		rte_tel_data_add_dict_u64(d, name, tot.errors[e]);
	}
	for (unsigned int i = 0; i < n; i++) {
		const struct up_sum *s = &sums[i];
		struct rte_tel_data *u = rte_tel_data_alloc();
		char name[32];

		if (u == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(u);
		rte_tel_data_add_dict_string(u, "state", s->down ? "down" : "up");
		rte_tel_data_add_dict_u64(u, "open", s->open);
		rte_tel_data_add_dict_u64(u, "idle", s->idle);
#define U(f) rte_tel_data_add_dict_u64(u, #f, s->st.f)
		U(requests);
		U(responses);
		U(connects);
		U(reused);
		U(queued);
		U(marked_down);
#undef U
		for (int c = 1; c <= 5; c++) {
			char cls[8];

			snprintf(cls, sizeof(cls), "%dxx", c);
			rte_tel_data_add_dict_u64(u, cls, s->st.status_class[c]);
		}
		for (int e = 0; e < PROXY_E_MAX; e++) {
			char en[48];

			snprintf(en, sizeof(en), "err_%s", proxy_err_str((enum proxy_err)e));
			rte_tel_data_add_dict_u64(u, en, s->st.errors[e]);
		}
		rte_tel_data_add_dict_u64(u, "ttfb_p50_us", hist_quantile(&s->st.ttfb, 0.50));
		rte_tel_data_add_dict_u64(u, "ttfb_p90_us", hist_quantile(&s->st.ttfb, 0.90));
		rte_tel_data_add_dict_u64(u, "ttfb_p99_us", hist_quantile(&s->st.ttfb, 0.99));
		snprintf(name, sizeof(name), "%u.%u.%u.%u:%u", s->addr >> 24,
			 (s->addr >> 16) & 0xff, (s->addr >> 8) & 0xff, s->addr & 0xff, s->port);
		rte_tel_data_add_dict_string(u, "address", name);
		/* telemetry names take [A-Za-z0-9_/] only: up_198_18_0_1_8081 */
		snprintf(name, sizeof(name), "up_%u_%u_%u_%u_%u", s->addr >> 24,
			 (s->addr >> 16) & 0xff, (s->addr >> 8) & 0xff, s->addr & 0xff, s->port);
		rte_tel_data_add_dict_container(d, name, u, 0);
	}
	return 0;
}

void
px_telemetry_init(void)
{
	rte_telemetry_register_cmd("/authgate/proxy/upstreams", tel_upstreams,
				   "Reverse proxy: per upstream connections open/idle, requests, "
				   "errors by reason, time-to-first-byte percentiles, state");
}
