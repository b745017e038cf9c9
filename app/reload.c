/* Reload: a new config checked, then applied module by module; the old kept while in use. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>
#include <rte_log.h>
#include <rte_telemetry.h>

#include "app/notify.h"
#include "app/reload.h"
#include "control/accesslog.h"
#include "control/authsvc.h"
#include "dataplane/http_svc.h"

#define MAX_RETIRED 64

static struct {
	struct ag_config *boot; /* ports, lcores, engines point into it: never freed */
	struct ag_config *cur;
	struct accesslog *log;
	struct {
		struct ag_config *cfg;
		time_t free_after;
	} retired[MAX_RETIRED];
	unsigned int nb_retired;
	uint64_t ok, refused, needs_restart;
	/* telemetry asks, the main loop answers */
	pthread_mutex_t lock;
	pthread_cond_t done;
	int asked;
	uint64_t answered;
	int last_rc;
	char last[256];
} rl = {.lock = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

void
reload_init(struct ag_config *boot, struct accesslog *log)
{
	rl.boot = rl.cur = boot;
	rl.log = log;
}

const struct ag_config *
reload_current(void)
{
	return rl.cur;
}

/* Sections only a restart can change: their modules hold the boot config's values. */
static unsigned int
restart_only(const struct ag_config *a, const struct ag_config *b)
{
	static const struct {
		const char *what;
		size_t off, len;
	} parts[] = {
		{"[eal]", offsetof(struct ag_config, eal), sizeof(struct ag_eal_conf)},
		{"[log]", offsetof(struct ag_config, log), sizeof(struct ag_log_conf)},
		{"[dataplane], [port] or [impair]", offsetof(struct ag_config, dp),
		 sizeof(struct dp_conf)},
		{"[tcp]", offsetof(struct ag_config, tcp), sizeof(struct tcp_conf)},
		{"[diag]", offsetof(struct ag_config, diag), sizeof(struct diag_conf)},
	};
	unsigned int n = 0;

	for (size_t i = 0; i < RTE_DIM(parts); i++) {
		if (memcmp((const char *)a + parts[i].off, (const char *)b + parts[i].off,
			   parts[i].len) != 0) {
			RTE_LOG(WARNING, USER1, "authgate: reload: %s changed: needs a restart\n",
				parts[i].what);
			n++;
		}
	}
	if (strcmp(a->http.access_log, b->http.access_log) != 0) {
		RTE_LOG(WARNING, USER1,
			"authgate: reload: [http] access_log moved: needs a restart\n");
		n++;
	}
	return n;
}

int
reload_run(char *summary, size_t size)
{
	struct ag_config *next = calloc(1, sizeof(*next));
	char *errs = NULL;
	size_t errs_len = 0;
	FILE *ef;
	unsigned int restart;
	int rc;

	if (next == NULL) {
		snprintf(summary, size, "refused: no memory");
		return -ENOMEM;
	}
	ef = open_memstream(&errs, &errs_len);
	rc = ag_config_load(rl.cur->path, next, ef);
	if (ef != NULL)
		fclose(ef);
	if (rc < 0) {
		char *line, *save = NULL;

		for (line = strtok_r(errs, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			RTE_LOG(ERR, USER1, "authgate: reload refused: %s\n", line);
		snprintf(summary, size, "refused, the running config stays: %.*s", 180,
			 errs != NULL && errs[0] != '\0' ? errs : strerror(-rc));
		rl.refused++;
		if (rl.log != NULL)
			accesslog_reopen(rl.log); /* logrotate's SIGHUP still wants a new file */
		free(errs);
		free(next);
		return rc;
	}
	free(errs);
	restart = restart_only(rl.cur, next);
	rc = http_svc_reconfigure(&next->http, &next->gate);
	if (rc < 0) {
		snprintf(summary, size, "refused, the running config stays: sites: %s",
			 strerror(-rc));
		rl.refused++;
		free(next);
		return rc;
	}
	restart += (unsigned int)rc;
	restart += authsvc_reconfigure(&next->auth);
	/* a new certificate for new connections; open ones keep theirs */
	restart += (unsigned int)tls_reconfigure(&next->tls);
	if (rl.log != NULL)
		accesslog_reopen(rl.log); /* logrotate's SIGHUP, too */
	/* parked requests point into the old sites until their verdict: keep it that long */
	if (rl.cur != rl.boot && rl.nb_retired < MAX_RETIRED) {
		rl.retired[rl.nb_retired].cfg = rl.cur;
		rl.retired[rl.nb_retired].free_after =
			time(NULL) + authsvc_verdict_deadline_s(&rl.cur->auth) + 60;
		rl.nb_retired++;
	}
	rl.cur = next;
	rl.ok++;
	rl.needs_restart += restart;
	snprintf(summary, size, "applied%s%u change(s) need a restart (see the log)",
		 restart ? "; " : ", ", restart);
	RTE_LOG(NOTICE, USER1, "authgate: reload %s\n", summary);
	return 0;
}

void
reload_collect(void)
{
	time_t now = time(NULL);

	http_svc_collect();
	for (unsigned int i = 0; i < rl.nb_retired;) {
		if (rl.retired[i].free_after > now) {
			i++;
			continue;
		}
		free(rl.retired[i].cfg);
		rl.retired[i] = rl.retired[--rl.nb_retired];
	}
}

void
reload_poll(int sighup)
{
	char summary[256];
	int asked, rc;

	pthread_mutex_lock(&rl.lock);
	asked = rl.asked;
	rl.asked = 0;
	pthread_mutex_unlock(&rl.lock);
	if (!asked && !sighup)
		return;
	notify_reloading();
	rc = reload_run(summary, sizeof(summary));
	notify_ready();
	pthread_mutex_lock(&rl.lock);
	rl.last_rc = rc;
	snprintf(rl.last, sizeof(rl.last), "%s", summary);
	rl.answered++;
	pthread_cond_broadcast(&rl.done);
	pthread_mutex_unlock(&rl.lock);
}

/* /authgate/reload: the main loop does it (it owns the config); this waits for the answer. */
static int
tel_reload(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct timespec until;
	uint64_t seen;
	int rc = -ETIMEDOUT;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	pthread_mutex_lock(&rl.lock);
	seen = rl.answered;
	rl.asked = 1;
	while (rl.answered == seen)
		if (pthread_cond_timedwait(&rl.done, &rl.lock, &until) != 0)
			break;
	rte_tel_data_start_dict(d);
	if (rl.answered != seen) {
		rc = 0;
		rte_tel_data_add_dict_string(d, "result", rl.last_rc == 0 ? "ok" : "refused");
		rte_tel_data_add_dict_string(d, "summary", rl.last);
	}
	rte_tel_data_add_dict_u64(d, "reloads", rl.ok);
	rte_tel_data_add_dict_u64(d, "refused", rl.refused);
	rte_tel_data_add_dict_u64(d, "changes_needing_restart", rl.needs_restart);
	pthread_mutex_unlock(&rl.lock);
	return rc;
}

void
reload_telemetry_init(void)
{
	rte_telemetry_register_cmd("/authgate/reload", tel_reload,
				   "Read the config file again and apply what can change live");
}
