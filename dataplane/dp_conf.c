/* The dataplane's config keys, their ranges and defaults, and the checks across them. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "dataplane/dp_conf.h"

static const struct ini_key dp_keys[] = {
	INI_S(dp_conf, lcores, INI_LCORES, "1"),
	INI_U(dp_conf, burst, 1, 512, "32"),
	INI_U(dp_conf, idle_sleep_us, 0, 100000, "0"),
	INI_U(dp_conf, tx_step_segments, 0, 4096, "32"),
	INI_B(dp_conf, tap_rx_signal, "no"),
	INI_END,
};

static const char *const port_tso_choices[] = {"auto", "no", NULL};

static const struct ini_key port_keys[] = {
	INI_S(dp_port_conf, device, INI_STRING, NULL),
	{"address", INI_IPV4_PREFIX, offsetof(struct dp_port_conf, addr), sizeof(uint32_t), 0, 0,
	 NULL, NULL, 0, offsetof(struct dp_port_conf, prefix_len)},
	{"gateway", INI_IPV4, offsetof(struct dp_port_conf, gateway), sizeof(uint32_t), 0, 0,
	 "0.0.0.0", NULL, 0, 0},
	INI_U(dp_port_conf, mtu, 68, 9600, "1500"),
	INI_U(dp_port_conf, rx_desc, 64, 4096, "1024"),
	INI_U(dp_port_conf, tx_desc, 64, 4096, "1024"),
	INI_U(dp_port_conf, mbufs, 1023, 4194303, "16383"),
	INI_U(dp_port_conf, mbuf_cache, 0, 512, "256"),
	INI_B(dp_port_conf, garp, "yes"),
	INI_S(dp_port_conf, mac, INI_MAC, ""),
	INI_E(dp_port_conf, tso, port_tso_choices, "auto"),
	INI_END,
};

static const struct ini_key impair_keys[] = {
	INI_U(dp_impair_conf, loss_permille, 0, 1000, "0"),
	INI_U(dp_impair_conf, duplicate_permille, 0, 1000, "0"),
	INI_U(dp_impair_conf, reorder_permille, 0, 1000, "0"),
	INI_U(dp_impair_conf, delay_us, 0, 1000000, "0"),
	INI_END,
};

/* The lcore list as ids, and what no single port key can check: subnets, unique addresses. */
static void
dp_conf_check(struct ini_ctx *ctx, void *conf)
{
	struct dp_conf *c = conf;
	char sec[64];

	if (ini_parse_lcores(c->lcores, c->lcore_ids, DP_MAX_LCORES, &c->nb_lcores) < 0)
		ini_error(ctx, ini_line(ctx, "dataplane", "lcores"), "dataplane", "lcores",
			  "'%s' is not a list of at most %d distinct lcores", c->lcores,
			  DP_MAX_LCORES);
	for (unsigned int i = 0; i < c->nb_ports; i++) {
		const struct dp_port_conf *p = &c->ports[i];
		uint32_t mask = p->prefix_len == 32 ? ~0u : ~(~0u >> p->prefix_len);

		snprintf(sec, sizeof(sec), "port %s", p->name);
		if (p->gateway != 0 && (p->gateway & mask) != (p->addr & mask))
			ini_error(ctx, ini_line(ctx, sec, "gateway"), sec, "gateway",
				  "outside the port's subnet");
		for (unsigned int j = 0; j < i; j++)
			if (c->ports[j].addr == p->addr)
				ini_error(ctx, ini_line(ctx, sec, "address"), sec, "address",
					  "the same address as [port %s]", c->ports[j].name);
	}
}

const struct ini_section dp_conf_sections[3] = {
	{
		.name = "dataplane",
		.keys = dp_keys,
	},
	{
		.name = "port",
		.keys = port_keys,
		.off = offsetof(struct dp_conf, ports),
		.named = true,
		.required = true,
		.stride = sizeof(struct dp_port_conf),
		.max = DP_MAX_PORTS,
		.count_off = offsetof(struct dp_conf, nb_ports),
		.name_off = offsetof(struct dp_port_conf, name),
		.name_size = sizeof(((struct dp_port_conf *)0)->name),
		.check = dp_conf_check,
	},
	{
		.name = "impair",
		.keys = impair_keys,
		.off = offsetof(struct dp_conf, impair),
	},
};
