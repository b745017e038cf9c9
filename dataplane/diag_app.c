/* Diagnostics services (echo, discard, chargen) on every lcore's engine, as [diag] asks. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "dataplane/app.h"
#include "dataplane/diag_app.h"
#include "dataplane/dp.h"
#include "dataplane/tcp/tcp.h"

static const struct ini_key diag_keys[] = {
	INI_U(diag_conf, echo_port, 0, 65535, "0"),
	INI_U(diag_conf, discard_port, 0, 65535, "0"),
	INI_U(diag_conf, chargen_port, 0, 65535, "0"),
	INI_END,
};

/* Two services cannot share a port. */
static void
diag_check(struct ini_ctx *ctx, void *conf)
{
	const struct diag_conf *c = conf;
	const uint32_t ports[] = {c->echo_port, c->discard_port, c->chargen_port};
	const char *const names[] = {"echo_port", "discard_port", "chargen_port"};

	for (int i = 0; i < 3; i++)
		for (int j = 0; j < i; j++)
			if (ports[i] != 0 && ports[i] == ports[j])
				ini_error(ctx, ini_line(ctx, "diag", names[i]), "diag", names[i],
					  "port %u is also %s", ports[i], names[j]);
}

const struct ini_section diag_conf_section = {
	.name = "diag",
	.keys = diag_keys,
	.check = diag_check,
};

static const struct diag_conf *diag_conf;

static int
diag_init(uint16_t nb_lcores)
{
	RTE_SET_USED(nb_lcores);
	if (diag_conf->echo_port || diag_conf->discard_port || diag_conf->chargen_port)
		DP_LOG(INFO, "diagnostics: echo %u discard %u chargen %u (0 = off)",
		       diag_conf->echo_port, diag_conf->discard_port, diag_conf->chargen_port);
	return 0;
}

static int
diag_lcore_init(const struct dp_app_env *env, void **state_out)
{
	*state_out = NULL;
	return tcp_diag_listen(env->tcp, diag_conf->echo_port, diag_conf->discard_port,
			       diag_conf->chargen_port);
}

static const struct dp_app diag_app = {
	.name = "diagnostics",
	.init = diag_init,
	.lcore_init = diag_lcore_init,
};

int
diag_app_register(const struct diag_conf *conf)
{
	diag_conf = conf;
	return dp_app_register(&diag_app);
}
