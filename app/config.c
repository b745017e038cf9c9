/* The gateway's INI file: [eal] and [log] are the program's; every other section a module's. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "app/config.h"

static const char *const hugepage_choices[] = {"auto", "yes", "no", NULL};
static const char *const level_choices[] = {
	"emergency", "alert", "critical", "error", "warning", "notice", "info", "debug", NULL,
};

static const struct ini_key eal_keys[] = {
	INI_S(ag_eal_conf, lcores, INI_LCORES, "0-1"),
	INI_S(ag_eal_conf, cpus, INI_STRING, ""),
	INI_U(ag_eal_conf, main_lcore, 0, 127, "0"),
	INI_U(ag_eal_conf, memory_mb, 64, 1 << 20, "512"),
	INI_E(ag_eal_conf, hugepages, hugepage_choices, "auto"),
	INI_S(ag_eal_conf, file_prefix, INI_NAME, "authgate"),
	INI_B(ag_eal_conf, pci, "yes"),
	INI_S(ag_eal_conf, extra_args, INI_STRING, ""),
	INI_END,
};

static const struct ini_key log_keys[] = {
	INI_E(ag_log_conf, level, level_choices, "info"),
	INI_S(ag_log_conf, components, INI_STRING, ""),
	INI_END,
};

static const struct ini_section eal_section = {.name = "eal", .keys = eal_keys};
static const struct ini_section log_section = {.name = "log", .keys = log_keys};

/* Where each module's sections land in struct ag_config, in the order they are read. */
#define BIND(sec, field)                                                                           \
	{                                                                                          \
		(sec), (char *)cfg + offsetof(struct ag_config, field)                             \
	}

static unsigned int
bindings(struct ag_config *cfg, struct ini_binding *b)
{
	const struct ini_binding all[] = {
		BIND(&eal_section, eal),
		BIND(&dp_conf_sections[0], dp), /* [dataplane] */
		BIND(&log_section, log),
		BIND(&dp_conf_sections[1], dp), /* [port NAME] */
		BIND(&tcp_conf_section, tcp),
		BIND(&diag_conf_section, diag),
		BIND(&http_svc_conf_section, http),
		BIND(&tls_conf_section, tls),
		BIND(&gate_conf_sections[0], gate), /* [site PREFIX] */
		BIND(&gate_conf_sections[1], gate), /* [auth]: the gate's keys */
		BIND(&authsvc_sections[0], auth),   /* [auth]: the control plane's keys */
		BIND(&dp_conf_sections[2], dp),	    /* [impair] */
		BIND(&authsvc_sections[1], auth),   /* [trust REALM] */
		BIND(&metrics_conf_section, metrics),
	};

	memcpy(b, all, sizeof(all));
	return sizeof(all) / sizeof(all[0]);
}

#define MAX_BINDINGS 16

/* Rules across modules: the lcores EAL gets, ports two services share, sites that need trusts. */
static void
check_across(struct ini_ctx *ctx, void *arg)
{
	struct ag_config *cfg = arg;
	uint16_t eal_ids[128], nb_eal = 0;
	bool main_found = false;

	if (cfg->eal.cpus[0] != '\0') {
		uint16_t cpus[128], nb_cpus = 0;

		if (ini_parse_lcores(cfg->eal.cpus, cpus, 128, &nb_cpus) < 0 || nb_cpus == 0)
			ini_error(ctx, ini_line(ctx, "eal", "cpus"), "eal", "cpus",
				  "'%s' is not a list of CPUs (like 0-1 or 0,2)", cfg->eal.cpus);
	}
	if (ini_parse_lcores(cfg->eal.lcores, eal_ids, 128, &nb_eal) < 0)
		return; /* already reported */
	for (uint16_t j = 0; j < nb_eal; j++)
		main_found |= eal_ids[j] == cfg->eal.main_lcore;
	if (!main_found)
		ini_error(ctx, ini_line(ctx, "eal", "main_lcore"), "eal", "main_lcore",
			  "lcore %u is not in eal lcores '%s'", cfg->eal.main_lcore,
			  cfg->eal.lcores);
	for (uint16_t i = 0; i < cfg->dp.nb_lcores; i++) {
		bool found = false;

		for (uint16_t j = 0; j < nb_eal; j++)
			found |= eal_ids[j] == cfg->dp.lcore_ids[i];
		if (!found)
			ini_error(ctx, ini_line(ctx, "dataplane", "lcores"), "dataplane", "lcores",
				  "lcore %u is not in eal lcores '%s'", cfg->dp.lcore_ids[i],
				  cfg->eal.lcores);
		if (cfg->dp.lcore_ids[i] == cfg->eal.main_lcore)
			ini_error(ctx, ini_line(ctx, "dataplane", "lcores"), "dataplane", "lcores",
				  "lcore %u is the main lcore, which runs the control plane",
				  cfg->eal.main_lcore);
	}
	{
		const uint32_t dports[] = {cfg->diag.echo_port, cfg->diag.discard_port,
					   cfg->diag.chargen_port};
		const char *const dnames[] = {"echo_port", "discard_port", "chargen_port"};

		for (int i = 0; i < 3; i++)
			if (dports[i] != 0 && dports[i] == cfg->http.port)
				ini_error(ctx, ini_line(ctx, "diag", dnames[i]), "diag", dnames[i],
					  "port %u is also the [http] port", dports[i]);
		for (int i = 0; i < 3 && cfg->tls.certificate[0] != '\0'; i++)
			if (dports[i] != 0 && dports[i] == cfg->tls.port)
				ini_error(ctx, ini_line(ctx, "diag", dnames[i]), "diag", dnames[i],
					  "port %u is also the [tls] port", dports[i]);
		if (cfg->tls.certificate[0] != '\0' && cfg->tls.port == cfg->http.port)
			ini_error(ctx, ini_line(ctx, "tls", "port"), "tls", "port",
				  "port %u is also the [http] port", cfg->tls.port);
	}
	{
		/* the largest token the gate takes must fit in a head: base64, the header, others
		 */
		uint64_t need = (cfg->gate.max_token_bytes + 2) / 3 * 4 + 1024;

		if (cfg->http.max_header_bytes < need)
			ini_error(ctx, ini_line(ctx, "http", "max_header_bytes"), "http",
				  "max_header_bytes",
				  "%u cannot hold a token of [auth] max_token_bytes = %u: at least "
				  "%" PRIu64,
				  cfg->http.max_header_bytes, cfg->gate.max_token_bytes, need);
	}
	/* the control plane answers each verdict with the bits of the gate's group table */
	memcpy(cfg->auth.groups, cfg->gate.groups, sizeof(cfg->auth.groups));
	cfg->auth.nb_groups = cfg->gate.nb_groups;
	for (unsigned int i = 0; i < cfg->gate.nb_sites; i++) {
		const struct site_conf *site = &cfg->gate.sites[i];
		char sec[192];

		snprintf(sec, sizeof(sec), "site %s", site->prefix);
		if (site->auth != SITE_AUTH_NONE && cfg->auth.nb_trusts == 0)
			ini_error(ctx, ini_line(ctx, sec, "auth"), sec, "auth",
				  "authentication needs at least one [trust REALM] section");
	}
}

int
ag_config_load(const char *file, struct ag_config *cfg, FILE *err)
{
	struct ini_binding b[MAX_BINDINGS];
	unsigned int nb;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	nb = bindings(cfg, b);
	rc = ini_load(file, b, nb, err, check_across, cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", file);
	return rc;
}

void
ag_config_dump(const struct ag_config *cfg, FILE *out)
{
	struct ini_binding b[MAX_BINDINGS];
	unsigned int nb = bindings((struct ag_config *)cfg, b);

	fprintf(out, "# effective configuration of %s\n", cfg->path);
	ini_dump(b, nb, out);
}
