/* authgate: read the config, start EAL, bring ports up, launch the dataplane, stop cleanly. */
#include <errno.h>
#include <getopt.h>
#include <time.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include "app/config.h"
#include "app/eal_args.h"
#include "app/journal.h"
#include "app/metrics.h"
#include "app/notify.h"
#include "app/reload.h"
#include "control/accesslog.h"
#include "control/authsvc.h"
#include "dataplane/clock.h"
#include "dataplane/diag_app.h"
#include "dataplane/dp.h"
#include "dataplane/dp_l4.h"
#include "dataplane/http/sigbus.h"
#include "dataplane/http_svc.h"
#include "dataplane/proxy/proxy.h"

static struct ag_config cfg;
static volatile sig_atomic_t reload_signal;
static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	if (sig == SIGHUP) {
		reload_signal = 1; /* a reload (which also reopens the access log for logrotate) */
		return;
	}
	/* SIGTERM drains first (http [shutdown_grace_s]); SIGINT, or a second signal, stops now */
	if (sig == SIGINT || stop_signal)
		dp_force_quit = true;
	stop_signal = 1;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: authgate -c FILE [--dump-config] [-- EAL-ARGS...]\n"
		"       authgate --check-config FILE\n"
		"\n"
		"  -c, --config FILE        run with this INI configuration\n"
		"      --check-config FILE  validate FILE, print every error, exit 0 if valid\n"
		"      --dump-config        print the effective configuration and exit\n"
		"      --print-eal-args     print the EAL arguments the config produces and exit\n"
		"  -h, --help               this text\n"
		"EAL arguments after -- are appended to those the config produces.\n");
}

/* Fails with a line on stderr that names the step, and unwinds what the earlier steps built. */
#define FAIL(label, ...)                                                                           \
	do {                                                                                       \
		fprintf(stderr, "authgate: " __VA_ARGS__);                                         \
		goto label;                                                                        \
	} while (0)

/*
 * The main lcore is the control plane: slow, sleeping work only. Links, reloads, systemd's
 * watchdog, and on SIGTERM the drain: new connections refused, in-flight responses finished
 * up to [http] shutdown_grace_s, then everything stops.
 */
static void
control_loop(void)
{
	uint64_t wd_us = notify_watchdog_us(), drain_until = 0;
	unsigned int tick = 0;

	while (!dp_force_quit) {
		dp_ports_check_link(&dp_main);
		if (reload_signal || tick % 10 == 0) {
			int sighup = reload_signal;

			reload_signal = 0;
			reload_poll(sighup);
		}
		if (++tick % 50 == 0)
			reload_collect();
		if (wd_us != 0)
			notify_watchdog(); /* every 100 ms: well inside any WatchdogSec */
		metrics_poll();
		if (stop_signal && drain_until == 0) {
			const struct ag_config *c = reload_current();

			notify_stopping();
			drain_until = (uint64_t)time(NULL) + c->http.shutdown_grace_s;
			RTE_LOG(NOTICE, USER1,
				"authgate: draining: no new connections, %u s for the ones open\n",
				c->http.shutdown_grace_s);
			dp_drain_begin();
		}
		if (drain_until != 0 &&
		    (dp_apps_active() == 0 || (uint64_t)time(NULL) >= drain_until)) {
			RTE_LOG(NOTICE, USER1,
				"authgate: drained, %" PRIu64 " connection(s) left\n",
				dp_apps_active());
			dp_force_quit = true;
			break;
		}
		usleep(100 * 1000);
	}
}

/*
 * The threads started from here on (the auth workers and dispatcher, the store's resolvers,
 * the access log) inherit this thread's affinity: EAL's pin to the main lcore's CPU would put
 * every one of them on one CPU. They get every CPU no dataplane lcore polls on.
 */
static void
control_affinity(const cpu_set_t *process_cpus)
{
	cpu_set_t dataplane, main_cpus, ctrl;
	char list[256];
	size_t n = 0;

	CPU_ZERO(&dataplane);
	for (uint16_t i = 0; i < dp_main.nb_lcores; i++) {
		rte_cpuset_t c = rte_lcore_cpuset(dp_main.lcores[i].lcore_id);

		CPU_OR(&dataplane, &dataplane, &c);
	}
	main_cpus = rte_lcore_cpuset(rte_get_main_lcore());
	ag_ctrl_cpus(process_cpus, &dataplane, &main_cpus, &ctrl);
	if (pthread_setaffinity_np(pthread_self(), sizeof(ctrl), &ctrl) != 0) {
		RTE_LOG(WARNING, USER1, "authgate: control plane stays on the main lcore's CPU\n");
		return;
	}
	list[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && n + 8 < sizeof(list); c++)
		if (CPU_ISSET(c, &ctrl))
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d", n ? "," : "", c);
	RTE_LOG(INFO, USER1, "authgate: control-plane threads on CPU(s) %s\n", list);
}

/* Brings the gateway up in the DPDK skeleton's order, runs it until a signal, takes it down. */
static int
run(struct ag_eal_argv *eal)
{
	cpu_set_t process_cpus;
	struct accesslog *alog = NULL;
	char **eal_view;
	int rc, status = EXIT_FAILURE;

	/* EAL permutes and overwrites argv entries: give it pointers we do not free through */
	eal_view = calloc(eal->argc + 1, sizeof(char *));
	if (eal_view == NULL)
		FAIL(out, "out of memory\n");
	memcpy(eal_view, eal->argv, eal->argc * sizeof(char *));
	/* under systemd: the journal gets each DPDK line at its own priority */
	journal_log_open();
	/* EAL pins this thread to the main lcore: what the process may use is read first */
	if (sched_getaffinity(0, sizeof(process_cpus), &process_cpus) != 0)
		CPU_ZERO(&process_cpus);
	if (rte_eal_init(eal->argc, eal_view) < 0)
		FAIL(out_view, "EAL init failed: %s\n", rte_strerror(rte_errno));
	if (rte_lcore_id() != cfg.eal.main_lcore)
		FAIL(out_eal, "main lcore is %u, config says %u\n", rte_lcore_id(),
		     cfg.eal.main_lcore);
	dp_clock_init();
	dp_main.config_path = cfg.path;
	rc = dp_lcores_init(&dp_main, &cfg.dp);
	if (rc < 0)
		FAIL(out_eal, "dataplane lcores: %s\n", strerror(-rc));
	control_affinity(&process_cpus);
	rc = dp_ports_init(&dp_main, &cfg.dp);
	if (rc < 0)
		FAIL(out_ports, "ports: %s\n", strerror(-rc));
	/* a file truncated while it is served must not take the gateway down */
	rc = sigbus_install();
	if (rc < 0)
		FAIL(out_ports, "SIGBUS guard: %s\n", strerror(-rc));
	if (cfg.http.access_log[0] != '\0') {
		alog = accesslog_create(cfg.http.access_log, dp_main.nb_lcores, 4096);
		if (alog == NULL)
			FAIL(out_log, "access log %s: %s\n", cfg.http.access_log, strerror(errno));
	}
	rc = authsvc_start(&cfg.auth, dp_main.nb_lcores);
	if (rc < 0)
		FAIL(out_l4, "auth service: %s\n", strerror(-rc));
	rc = dp_l4_init(&dp_main, &cfg.tcp);
	if (rc < 0)
		FAIL(out_l4, "transport: %s\n", strerror(-rc));
	/* the loop's applications, in the order they listen: HTTP, then diagnostics */
	rc = tls_init(&cfg.tls, dp_main.nb_lcores);
	if (rc < 0)
		FAIL(out_l4, "[tls]: %s\n", strerror(-rc));
	rc = http_svc_register(&cfg.http, &cfg.gate, alog, authsvc_verdict_deadline_s(&cfg.auth));
	if (rc == 0)
		rc = diag_app_register(&cfg.diag);
	/* always: a reload may add a proxied site; idle, it costs one short tick */
	if (rc == 0)
		rc = proxy_register();
	if (rc == 0)
		rc = dp_apps_init(&dp_main);
	if (rc < 0)
		FAIL(out_apps, "applications: %s\n", strerror(-rc));
	rc = dp_telemetry_init(&dp_main);
	if (rc < 0)
		FAIL(out_apps, "telemetry: %s\n", strerror(-rc));

	for (uint16_t i = 0; i < dp_main.nb_lcores; i++) {
		rc = rte_eal_remote_launch(dp_lcore_main, &dp_main.lcores[i],
					   dp_main.lcores[i].lcore_id);
		if (rc != 0) {
			fprintf(stderr, "authgate: launch on lcore %u: %s\n",
				dp_main.lcores[i].lcore_id, strerror(-rc));
			dp_force_quit = true;
			goto out_lcores;
		}
	}
	reload_init(&cfg, alog);
	reload_telemetry_init();
	rc = metrics_start(&cfg.metrics);
	if (rc < 0) {
		fprintf(stderr, "authgate: [metrics] listen %s: %s\n", cfg.metrics.listen,
			strerror(-rc));
		dp_force_quit = true;
		goto out_lcores;
	}
	RTE_LOG(NOTICE, USER1, "authgate: running (pid %d, runtime dir %s)\n", getpid(),
		rte_eal_get_runtime_dir());
	/* signal the lab script: ready once this line is out; and systemd (Type=notify) */
	fflush(stdout);
	notify_ready();

	control_loop();
	RTE_LOG(NOTICE, USER1, "authgate: stopping\n");
	status = EXIT_SUCCESS;
out_lcores:
	rte_eal_mp_wait_lcore();
	metrics_stop();
out_apps:
	dp_apps_fini();
out_l4:
	authsvc_stop(); /* before the flow table goes: no verdict is in flight after this */
	dp_l4_fini();
out_log:
	if (alog != NULL)
		accesslog_destroy(alog); /* after the lcores: nothing posts any more */
out_ports:
	dp_ports_close(&dp_main);
out_eal:
	rte_eal_cleanup();
out_view:
	free(eal_view);
out:
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", required_argument, NULL, 'C'},
		{"dump-config", no_argument, NULL, 'D'},
		{"print-eal-args", no_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = NULL;
	bool check_only = false, dump = false, print_eal = false;
	struct ag_eal_argv eal;
	int opt, rc, extra_argc;
	char **extra_argv;

	while ((opt = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			config_path = optarg;
			check_only = true;
			break;
		case 'D':
			dump = true;
			break;
		case 'E':
			print_eal = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config_path == NULL) {
		fprintf(stderr, "authgate: no configuration given (-c FILE)\n");
		usage(stderr);
		return 2;
	}
	extra_argc = argc - optind;
	extra_argv = argv + optind;

	rc = ag_config_load(config_path, &cfg, stderr);
	if (rc < 0) {
		fprintf(stderr, "authgate: %s: configuration rejected\n", config_path);
		return 1;
	}
	if (check_only) {
		printf("%s: ok\n", config_path);
		return 0;
	}
	if (dump) {
		ag_config_dump(&cfg, stdout);
		return 0;
	}
	rc = ag_eal_argv_build(&cfg, argv[0], extra_argc, extra_argv, &eal);
	if (rc < 0) {
		fprintf(stderr, "authgate: cannot build EAL arguments: %s\n", strerror(-rc));
		return 1;
	}
	if (print_eal) {
		for (int i = 0; i < eal.argc; i++)
			printf("%s%s", i ? " " : "", eal.argv[i]);
		printf("\n");
		ag_eal_argv_free(&eal);
		return 0;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (!cfg.dp.tap_rx_signal && dp_tap_rx_signal_off() < 0)
		fprintf(stderr, "authgate: net_tap RX signals stay on: %s\n", strerror(errno));
	rc = run(&eal);
	ag_eal_argv_free(&eal);
	return rc;
}
