/* authgate-ctl: the operator CLI, one telemetry command per run, tables or --json. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/ctl_conn.h"
#include "app/ctl_fmt.h"
#include "app/ctl_json.h"

#define CTL_PROG	   "authgate-ctl"
#define CTL_PREFIX_ENV	   "AUTHGATE_FILE_PREFIX"
#define CTL_PREFIX_DEFAULT "authgate-lab"
#define CTL_TIMEOUT_S	   5

/* Exit codes are part of the interface: scripts and the e2e tests test them. */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1,	 /* no gateway, bad reply, the command failed */
	CTL_EXIT_USAGE = 2,	 /* the command line is wrong */
	CTL_EXIT_NO_COMMAND = 3, /* the gateway answered null: not registered in this build */
};

enum ctl_arg {
	CTL_ARG_NONE,
	CTL_ARG_PRINCIPAL, /* appended as the command's parameter */
	CTL_ARG_PATH,	   /* the whole command, as given */
	CTL_ARG_COUNT,	   /* an optional number, appended as the parameter */
};

struct ctl_cmd {
	const char *word;
	const char *alias;
	const char *path;
	enum ctl_arg arg;
	const char *arg_name;
	struct ctl_fmt_opts fmt;
	const char *help;
};

/* one command per line reads better than one field per line */
/* clang-format off */
static const struct ctl_cmd ctl_cmds[] = {
	{"info", NULL, "/authgate/info", CTL_ARG_NONE, NULL, {0},
	 "version, DPDK, config file, uptime, pid"},
	{"ports", NULL, "/authgate/ports", CTL_ARG_NONE, NULL, {.row_label = "port"},
	 "ports: address, link, rx/tx counters, mbufs"},
	{"drops", NULL, "/authgate/drops", CTL_ARG_NONE, NULL, {.hide_zero = true, .keep = "total"},
	 "dropped packets by reason (non-zero only, unless --all)"},
	{"stats", NULL, "/authgate/stats", CTL_ARG_NONE, NULL, {0},
	 "dataplane counters, summed over lcores"},
	{"lcores", NULL, "/authgate/lcores", CTL_ARG_NONE, NULL, {.row_label = "lcore"},
	 "dataplane counters per lcore"},
	/* neighbours and flows are lists that grow: one row each even when there are two */
	{"neighbours", "arp", "/authgate/neighbours", CTL_ARG_NONE, NULL,
	 {.entity_rows = true, .row_label = "ip"}, "neighbour (ARP) table"},
	{"tcp", NULL, "/authgate/tcp/stats", CTL_ARG_NONE, NULL, {0}, "TCP engine counters"},
	{"flows", NULL, "/authgate/flows", CTL_ARG_COUNT, "[N]",
	 {.entity_rows = true, .row_label = "flow"}, "flow count and up to N flows (gateway caps N)"},
	{"http", NULL, "/authgate/http/stats", CTL_ARG_NONE, NULL, {0}, "HTTP counters"},
	{"upstreams", NULL, "/authgate/proxy/upstreams", CTL_ARG_NONE, NULL,
	 {.entity_rows = true, .row_label = "address"},
	 "reverse proxy: per upstream connections open/idle, requests, errors, latency, state"},
	{"trusts", NULL, "/authgate/trusts", CTL_ARG_NONE, NULL, {.row_label = "trust"},
	 "trusts and their MaxConcurrentApi semaphores"},
	{"auth", NULL, "/authgate/auth/stats", CTL_ARG_NONE, NULL, {0},
	 "authentication counters"},
	{"revoke", NULL, "/authgate/auth/revoke", CTL_ARG_PRINCIPAL, "PRINCIPAL", {0},
	 "deny PRINCIPAL (403) for [auth] revocation_ttl_s, sessions and fresh logins alike"},
	{"unrevoke", NULL, "/authgate/auth/unrevoke", CTL_ARG_PRINCIPAL, "PRINCIPAL", {0},
	 "lift PRINCIPAL's revocation"},
	{"revocations", NULL, "/authgate/auth/revocations", CTL_ARG_NONE, NULL, {0},
	 "revoked principals and the seconds each has left"},
	{"reload", NULL, "/authgate/reload", CTL_ARG_NONE, NULL, {0},
	 "read the config file again; apply what can change live, refuse a bad file"},
	{"list", NULL, "/", CTL_ARG_NONE, NULL, {0}, "every command the gateway registers"},
	{"raw", NULL, NULL, CTL_ARG_PATH, "PATH[,PARAMS]", {0},
	 "any telemetry command, e.g. raw /ethdev/stats,0"},
};
/* clang-format on */

#define CTL_NB_CMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

struct ctl_args {
	const char *prefix;
	const char *socket;
	bool json;
	bool all;
	int timeout_s;
	const struct ctl_cmd *cmd;
	const char *arg;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " CTL_PROG " [-p|--file-prefix PREFIX] [--socket PATH] [--json] [--all]\n"
		"                    [--timeout SECONDS] COMMAND [ARG]\n"
		"\n"
		"Ask a running authgate over its DPDK telemetry socket.\n"
		"PREFIX defaults to $" CTL_PREFIX_ENV ", else '" CTL_PREFIX_DEFAULT "'.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < CTL_NB_CMDS; i++) {
		const struct ctl_cmd *c = &ctl_cmds[i];
		char word[40];

		snprintf(word, sizeof(word), "%s%s%s", c->word, c->arg_name ? " " : "",
			 c->arg_name ? c->arg_name : "");
		fprintf(f, "  %-22s %s%s%s%s\n", word, c->help, c->alias ? " (alias: " : "",
			c->alias ? c->alias : "", c->alias ? ")" : "");
	}
	fprintf(f,
		"\n"
		"options:\n"
		"  -p, --file-prefix PREFIX  the gateway's EAL file prefix\n"
		"  -s, --socket PATH         connect to PATH instead\n"
		"  -j, --json                print the reply as JSON, not a table\n"
		"  -a, --all                 drops: show reasons that are zero too\n"
		"  -t, --timeout SECONDS     wait at most this long for the gateway (default %d)\n"
		"  -h, --help                this text\n"
		"\n"
		"exit status: 0 ok, 1 error, 2 usage, 3 the gateway has no such command\n",
		CTL_TIMEOUT_S);
}

static int
usage_error(const char *fmt, const char *what)
{
	fprintf(stderr, CTL_PROG ": ");
	fprintf(stderr, fmt, what);
	fprintf(stderr, "\n");
	usage(stderr);
	return CTL_EXIT_USAGE;
}

static const struct ctl_cmd *
find_cmd(const char *word)
{
	for (size_t i = 0; i < CTL_NB_CMDS; i++)
		if (strcmp(ctl_cmds[i].word, word) == 0 ||
		    (ctl_cmds[i].alias != NULL && strcmp(ctl_cmds[i].alias, word) == 0))
			return &ctl_cmds[i];
	return NULL;
}

/* Returns -1 to go on, else the exit code. */
static int
parse_args(int argc, char **argv, struct ctl_args *a)
{
	static const struct option longopts[] = {
		{"file-prefix", required_argument, NULL, 'p'},
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"all", no_argument, NULL, 'a'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *words[3];
	size_t nwords = 0;
	char *end;
	int opt;

	a->prefix = getenv(CTL_PREFIX_ENV);
	if (a->prefix == NULL || *a->prefix == '\0')
		a->prefix = CTL_PREFIX_DEFAULT;
	a->timeout_s = CTL_TIMEOUT_S;
	opterr = 0;
	/* leading '-': words come back in order, so 'drops --json' works even with POSIXLY_CORRECT
	 */
	while ((opt = getopt_long(argc, argv, "-:p:s:jat:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 1:
			if (nwords == 3)
				return usage_error("too many arguments at '%s'", optarg);
			words[nwords++] = optarg;
			break;
		case 'p':
			if (*optarg == '\0' || strchr(optarg, '/') != NULL)
				return usage_error("bad file prefix '%s'", optarg);
			a->prefix = optarg;
			break;
		case 's':
			a->socket = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'a':
			a->all = true;
			break;
		case 't':
			errno = 0;
			a->timeout_s = (int)strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || a->timeout_s < 1 || a->timeout_s > 3600)
				return usage_error("bad timeout '%s' (seconds, 1 to 3600)", optarg);
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt != 0) {
				char opt_str[3] = {'-', (char)optopt, '\0'};

				return usage_error("unknown option '%s'", opt_str);
			}
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	/* after '--': everything is a word, so a principal may start with '-' */
	for (; optind < argc; optind++) {
		if (nwords == 3)
			return usage_error("too many arguments at '%s'", argv[optind]);
		words[nwords++] = argv[optind];
	}

	if (nwords == 0)
		return usage_error("%s", "no command given");
	a->cmd = find_cmd(words[0]);
	if (a->cmd == NULL)
		return usage_error("unknown command '%s'", words[0]);
	if (a->cmd->arg == CTL_ARG_NONE && nwords > 1)
		return usage_error("too many arguments at '%s'", words[1]);
	if (a->cmd->arg == CTL_ARG_COUNT && nwords > 2)
		return usage_error("too many arguments at '%s'", words[2]);
	if ((a->cmd->arg == CTL_ARG_PRINCIPAL || a->cmd->arg == CTL_ARG_PATH) && nwords != 2)
		return usage_error(nwords < 2 ? "'%s' needs an argument"
					      : "too many arguments for '%s'",
				   words[0]);
	if (nwords == 2) {
		a->arg = words[1];
		if (*a->arg == '\0')
			return usage_error("'%s' needs a non-empty argument", words[0]);
		if (a->cmd->arg == CTL_ARG_PATH && a->arg[0] != '/')
			return usage_error("telemetry paths start with '/': '%s'", a->arg);
		if (a->cmd->arg == CTL_ARG_COUNT && strspn(a->arg, "0123456789") != strlen(a->arg))
			return usage_error("not a count: '%s'", a->arg);
	}
	return -1;
}

static char *
build_command(const struct ctl_args *a)
{
	char *cmd = NULL;

	switch (a->cmd->arg) {
	case CTL_ARG_NONE:
		return strdup(a->cmd->path);
	case CTL_ARG_PATH:
		return strdup(a->arg);
	case CTL_ARG_COUNT:
		if (a->arg == NULL)
			return strdup(a->cmd->path);
		/* fall through */
	case CTL_ARG_PRINCIPAL:
		if (asprintf(&cmd, "%s,%s", a->cmd->path, a->arg) < 0)
			return NULL;
		return cmd;
	}
	return NULL;
}

static void
report_conn_error(const struct ctl_args *a, const char *path, const struct ctl_conn *c, int rc)
{
	switch (rc) {
	case -ENOENT:
	case -ECONNREFUSED:
	case -ENOTDIR:
		if (a->socket != NULL)
			fprintf(stderr, CTL_PROG ": no gateway at %s: %s\n", path, strerror(-rc));
		else
			fprintf(stderr, CTL_PROG ": no gateway with file prefix '%s' (%s: %s)\n",
				a->prefix, path, strerror(-rc));
		break;
	case -ECONNRESET:
		fprintf(stderr,
			CTL_PROG ": the gateway at %s hung up (it serves at most 10 telemetry "
				 "clients at once)\n",
			path);
		break;
	case -ETIMEDOUT:
		fprintf(stderr, CTL_PROG ": the gateway at %s did not answer within %d s\n", path,
			a->timeout_s);
		break;
	case -EBADMSG:
		fprintf(stderr, CTL_PROG ": %s does not speak telemetry v2: %s\n", path,
			c->err.msg);
		break;
	default:
		fprintf(stderr, CTL_PROG ": cannot connect to %s: %s\n", path, strerror(-rc));
	}
}

static void
report_query_error(const struct ctl_args *a, const char *cmd, const struct ctl_conn *c, int rc)
{
	switch (rc) {
	case -EBADMSG:
		if (c->err.line != 0)
			fprintf(stderr,
				CTL_PROG ": malformed reply to %s: line %u, column %u: %s\n", cmd,
				c->err.line, c->err.col, c->err.msg);
		else
			fprintf(stderr, CTL_PROG ": malformed reply to %s: %s\n", cmd, c->err.msg);
		break;
	case -EMSGSIZE:
		fprintf(stderr,
			CTL_PROG ": command too long (the gateway reads at most %d bytes)\n",
			CTL_CMD_MAX);
		break;
	case -ECONNRESET:
		fprintf(stderr, CTL_PROG ": the gateway closed the connection during %s\n", cmd);
		break;
	case -ETIMEDOUT:
		fprintf(stderr, CTL_PROG ": the gateway did not answer %s within %d s\n", cmd,
			a->timeout_s);
		break;
	default:
		fprintf(stderr, CTL_PROG ": %s: %s\n", cmd, strerror(-rc));
	}
}

/*
 * DPDK answers null both for an unknown command and for one whose handler
 * failed (a revoke of a principal it does not know). Asking for the command
 * list tells the two apart; if even that fails, "no such command" it is.
 */
static bool
command_registered(struct ctl_conn *c, const char *path)
{
	struct ctl_json *list = NULL;
	bool found = false;

	if (ctl_conn_query(c, "/", &list) != 0)
		return false;
	if (list->type == CTL_JSON_ARRAY)
		for (size_t i = 0; i < list->arr.n && !found; i++)
			found = list->arr.items[i]->type == CTL_JSON_STRING &&
				strcmp(list->arr.items[i]->str.s, path) == 0;
	ctl_json_free(list);
	return found;
}

int
main(int argc, char **argv)
{
	struct ctl_args a = {0};
	struct ctl_conn conn = {.fd = -1};
	struct ctl_json *value = NULL;
	struct ctl_fmt_opts fmt;
	char sock_path[108];
	char *cmd = NULL, *path = NULL;
	int rc, ret = CTL_EXIT_FAIL;

	ret = parse_args(argc, argv, &a);
	if (ret >= 0)
		return ret;
	ret = CTL_EXIT_FAIL;

	cmd = build_command(&a);
	if (cmd == NULL) {
		fprintf(stderr, CTL_PROG ": out of memory\n");
		goto cleanup;
	}
	if (strlen(cmd) > CTL_CMD_MAX) {
		fprintf(stderr,
			CTL_PROG ": command too long (%zu bytes; the gateway reads at most %d)\n",
			strlen(cmd), CTL_CMD_MAX);
		ret = CTL_EXIT_USAGE;
		goto cleanup;
	}
	if (a.socket != NULL) {
		if (strlen(a.socket) >= sizeof(sock_path)) {
			fprintf(stderr, CTL_PROG ": socket path too long: %s\n", a.socket);
			ret = CTL_EXIT_USAGE;
			goto cleanup;
		}
		strcpy(sock_path, a.socket);
	} else if (ctl_socket_path(a.prefix, sock_path, sizeof(sock_path)) != 0) {
		fprintf(stderr, CTL_PROG ": file prefix too long: %s\n", a.prefix);
		ret = CTL_EXIT_USAGE;
		goto cleanup;
	}

	rc = ctl_conn_open(&conn, sock_path, a.timeout_s * 1000);
	if (rc != 0) {
		report_conn_error(&a, sock_path, &conn, rc);
		goto cleanup;
	}
	rc = ctl_conn_query(&conn, cmd, &value);
	if (rc != 0) {
		report_query_error(&a, cmd, &conn, rc);
		goto cleanup;
	}
	if (value->type == CTL_JSON_NULL) {
		path = strndup(cmd, strcspn(cmd, ","));
		if (path != NULL && command_registered(&conn, path)) {
			fprintf(stderr, CTL_PROG ": the gateway refused %s (its handler failed)\n",
				cmd);
		} else {
			fprintf(stderr, CTL_PROG ": the gateway has no command %s\n",
				path ? path : cmd);
			ret = CTL_EXIT_NO_COMMAND;
		}
		goto cleanup;
	}

	if (a.json) {
		rc = ctl_json_write(stdout, value, true);
		putchar('\n');
	} else {
		fmt = a.cmd->fmt;
		if (a.all)
			fmt.hide_zero = false;
		rc = ctl_fmt_print(stdout, value, &fmt);
	}
	if (rc == 0 && fflush(stdout) != 0)
		rc = -errno;
	if (rc != 0) {
		fprintf(stderr, CTL_PROG ": cannot print the reply: %s\n", strerror(-rc));
		goto cleanup;
	}
	ret = CTL_EXIT_OK;

cleanup:
	ctl_json_free(value);
	ctl_conn_close(&conn);
	free(path);
	free(cmd);
	return ret;
}
