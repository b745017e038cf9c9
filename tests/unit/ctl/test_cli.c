/* The authgate-ctl binary against a fake telemetry server: output, commands sent, exit codes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define GREETING "{\"version\":\"DPDK 22.11.11\",\"pid\":4242,\"max_output_len\":16384}"
#define MAX_SEEN 8

enum fake_mode {
	FAKE_OK,       /* greeting, then the canned replies */
	FAKE_HANG_UP,  /* close at once, as DPDK does past 10 clients */
	FAKE_NOT_DPDK, /* a greeting that is not telemetry */
};

struct fake_reply {
	const char *cmd;
	const char *reply;
};

struct fake_server {
	int lfd;
	pthread_t thread;
	enum fake_mode mode;
	const struct fake_reply *replies;
	pthread_mutex_t lock;
	char seen[MAX_SEEN][1024];
	unsigned int nb_seen;
};

struct run {
	int status;
	char out[16384];
	char err[16384];
};

static const char *ctl_path;
static char tmpdir[] = "/tmp/ctl-test.XXXXXX";
static char sock_path[256];
static struct fake_server server;

static void
serve_client(struct fake_server *s, int fd)
{
	char buf[1024];
	ssize_t n;

	if (s->mode == FAKE_HANG_UP)
		return;
	if (s->mode == FAKE_NOT_DPDK) {
		send(fd, "{\"hello\":1}", 11, MSG_NOSIGNAL);
		return;
	}
	send(fd, GREETING, strlen(GREETING), MSG_NOSIGNAL);
	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		const char *reply = NULL;
		char null_reply[1100];

		buf[n] = '\0';
		pthread_mutex_lock(&s->lock);
		if (s->nb_seen < MAX_SEEN)
			strcpy(s->seen[s->nb_seen++], buf);
		pthread_mutex_unlock(&s->lock);
		for (const struct fake_reply *r = s->replies; r && r->cmd; r++)
			if (strcmp(r->cmd, buf) == 0)
				reply = r->reply;
		if (reply == NULL) {
			/* what DPDK sends for a command it does not know */
			snprintf(null_reply, sizeof(null_reply), "{\"%.*s\":null}",
				 (int)strcspn(buf, ","), buf);
			reply = null_reply;
		}
		send(fd, reply, strlen(reply), MSG_NOSIGNAL);
	}
}

static void *
serve(void *arg)
{
	struct fake_server *s = arg;
	int fd;

	while ((fd = accept(s->lfd, NULL, NULL)) >= 0) {
		serve_client(s, fd);
		close(fd);
	}
	return NULL;
}

static void
server_start(const char *path, enum fake_mode mode, const struct fake_reply *replies)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	memset(&server, 0, sizeof(server));
	pthread_mutex_init(&server.lock, NULL);
	server.mode = mode;
	server.replies = replies;
	strcpy(sun.sun_path, path);
	server.lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_true(server.lfd >= 0);
	unlink(path);
	assert_int_equal(bind(server.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(server.lfd, 4), 0);
	assert_int_equal(pthread_create(&server.thread, NULL, serve, &server), 0);
}

static void
server_stop(const char *path)
{
	/* wakes accept() so the thread ends */
	shutdown(server.lfd, SHUT_RDWR);
	pthread_join(server.thread, NULL);
	close(server.lfd);
	unlink(path);
	pthread_mutex_destroy(&server.lock);
}

static const char *
seen(unsigned int i)
{
	const char *s;

	pthread_mutex_lock(&server.lock);
	s = i < server.nb_seen ? server.seen[i] : "(nothing)";
	pthread_mutex_unlock(&server.lock);
	return s;
}

static void
slurp(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Runs authgate-ctl with argv (NULL-terminated, without argv[0]) and extra env "K=V" or "K=". */
static void
run_ctl(struct run *r, const char *const *env, const char *const *args)
{
	char out_path[512], err_path[512];
	const char *argv[16] = {ctl_path};
	int out_fd, err_fd, i;
	pid_t pid;

	for (i = 0; args[i] != NULL; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	snprintf(out_path, sizeof(out_path), "%s/stdout", tmpdir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", tmpdir);
	out_fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	err_fd = open(err_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(out_fd >= 0 && err_fd >= 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsetenv("AUTHGATE_FILE_PREFIX");
		unsetenv("RUNTIME_DIRECTORY");
		for (; env && *env; env++)
			putenv((char *)*env);
		dup2(out_fd, 1);
		dup2(err_fd, 2);
		execv(ctl_path, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &r->status, 0), pid);
	assert_true(WIFEXITED(r->status));
	r->status = WEXITSTATUS(r->status);
	slurp(out_fd, r->out, sizeof(r->out));
	slurp(err_fd, r->err, sizeof(r->err));
}

#define RUN(r, ...) run_ctl((r), NULL, (const char *const[]){__VA_ARGS__, NULL})

static void
assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("'%s' not found in:\n%s", needle, hay);
}

static const struct fake_reply gateway[] = {
	{"/authgate/ports",
	 "{\"/authgate/ports\":{\"lab\":{\"port_id\":0,\"driver\":\"net_tap\","
	 "\"mac\":\"02:70:63:61:72:00\",\"address\":\"198.18.0.2/24\",\"mtu\":1500,"
	 "\"link\":\"up\",\"rx_packets\":12,\"rx_bytes\":1234567}}}"},
	{"/authgate/drops",
	 "{\"/authgate/drops\":{\"no_route\":0,\"bad_checksum\":2,\"total\":2}}"},
	{"/authgate/stats", "{\"/authgate/stats\":{\"rx_pkts\":1,}}"},
	{"/", "{\"/\":[\"/\",\"/authgate/auth/revoke\",\"/authgate/drops\",\"/authgate/ports\"]}"},
	{"/authgate/info", "{\"/authgate/ports\":{}}"},
	{"/authgate/flows,5",
	 "{\"/authgate/flows\":{\"count\":9,\"f1_0\":{\"state\":\"ESTABLISHED\"}}}"},
	{NULL, NULL},
};

static int
setup(void **state)
{
	(void)state;
	server_start(sock_path, FAKE_OK, gateway);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	server_stop(sock_path);
	return 0;
}

static void
test_ports_table(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, "--socket", sock_path, "ports");
	assert_string_equal(r.err, "");
	assert_int_equal(r.status, 0);
	assert_string_equal(seen(0), "/authgate/ports");
	assert_string_equal(r.out, "            lab\n"
				   "port_id           0\n"
				   "driver      net_tap\n"
				   "mac         02:70:63:61:72:00\n"
				   "address     198.18.0.2/24\n"
				   "mtu            1500\n"
				   "link        up\n"
				   "rx_packets       12\n"
				   "rx_bytes    1234567\n");
}

static void
test_drops_json_after_command(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, "--socket", sock_path, "drops", "--json");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "{\n"
				   "  \"no_route\": 0,\n"
				   "  \"bad_checksum\": 2,\n"
				   "  \"total\": 2\n"
				   "}\n");
	RUN(&r, "--socket", sock_path, "drops");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "bad_checksum  2\n"
				   "total         2\n");
	RUN(&r, "--socket", sock_path, "--all", "drops");
	assert_string_equal(r.out, "no_route      0\n"
				   "bad_checksum  2\n"
				   "total         2\n");
}

static void
test_list_one_per_line(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, "--socket", sock_path, "list");
	assert_int_equal(r.status, 0);
	assert_string_equal(seen(0), "/");
	assert_string_equal(r.out, "/\n/authgate/auth/revoke\n/authgate/drops\n/authgate/ports\n");
}

static void
test_flows_passes_count(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, "--socket", sock_path, "flows", "5");
	assert_int_equal(r.status, 0);
	assert_string_equal(seen(0), "/authgate/flows,5");
	assert_string_equal(r.out, "count  9\n"
				   "\n"
				   "flow  state\n"
				   "f1_0  ESTABLISHED\n");
}

static void
test_unregistered_command_exits_3(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, "--socket", sock_path, "tcp");
	assert_int_equal(r.status, 3);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err,
			    "authgate-ctl: the gateway has no command /authgate/tcp/stats\n");
	assert_string_equal(seen(0), "/authgate/tcp/stats");

	RUN(&r, "--socket", sock_path, "raw", "/ethdev/stats,0");
	assert_int_equal(r.status, 3);
	assert_string_equal(r.err, "authgate-ctl: the gateway has no command /ethdev/stats\n");
}

static void
test_revoke_sends_principal_and_reports_failure(void **state)
{
	struct run r;

	(void)state;
	/* registered (it is in the "/" list) but answering null: the handler failed */
	RUN(&r, "--socket", sock_path, "revoke", "alice@LAB.TEST");
	assert_string_equal(seen(0), "/authgate/auth/revoke,alice@LAB.TEST");
	assert_int_equal(r.status, 1);
	assert_string_equal(
		r.err,
		"authgate-ctl: the gateway refused /authgate/auth/revoke,alice@LAB.TEST (its "
		"handler failed)\n");
}

static void
test_malformed_reply_exits_1(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, "--socket", sock_path, "stats");
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "authgate-ctl: malformed reply to /authgate/stats: line 1, "
				   "column 33: unexpected '}', expected a string as object key\n");

	RUN(&r, "--socket", sock_path, "info");
	assert_int_equal(r.status, 1);
	assert_contains(r.err, "malformed reply to /authgate/info: the reply answers "
			       "\"/authgate/ports\", not \"/authgate/info\"");
}

static void
test_usage_errors_exit_2(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, "--socket", sock_path, "bogus");
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "authgate-ctl: unknown command 'bogus'\nusage: authgate-ctl");
	assert_int_equal(server.nb_seen, 0);

	RUN(&r, "--socket", sock_path);
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "no command given");

	RUN(&r, "revoke");
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "'revoke' needs an argument");

	RUN(&r, "ports", "extra");
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "too many arguments at 'extra'");

	RUN(&r, "flows", "ten");
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "not a count: 'ten'");

	RUN(&r, "raw", "authgate/info");
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "telemetry paths start with '/'");

	RUN(&r, "--frobnicate", "ports");
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "unknown option '--frobnicate'");

	RUN(&r, "-x", "ports");
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "unknown option '-x'");

	RUN(&r, "ports", "--timeout", "0");
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "bad timeout '0'");

	RUN(&r, "--help");
	assert_int_equal(r.status, 0);
	assert_contains(r.out, "  neighbours             neighbour (ARP) table (alias: arp)\n");
	assert_contains(r.out, "  revoke PRINCIPAL       ");
	assert_int_equal(server.nb_seen, 0);
}

static void
test_file_prefix_resolves_socket(void **state)
{
	char dir[300], path[400], env_rt[320];
	const char *env[] = {env_rt, NULL};
	const char *env_prefix[] = {env_rt, "AUTHGATE_FILE_PREFIX=lab2", NULL};
	struct run r;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/dpdk", tmpdir);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/dpdk/lab2", tmpdir);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/dpdk_telemetry.v2", dir);
	snprintf(env_rt, sizeof(env_rt), "RUNTIME_DIRECTORY=%s", tmpdir);
	server_stop(sock_path);
	server_start(path, FAKE_OK, gateway);

	run_ctl(&r, env, (const char *const[]){"-p", "lab2", "drops", NULL});
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "bad_checksum  2\ntotal         2\n");

	run_ctl(&r, env_prefix, (const char *const[]){"drops", NULL});
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "bad_checksum  2\ntotal         2\n");

	/* -p wins over the environment */
	run_ctl(&r, env_prefix,
		(const char *const[]){"--file-prefix", "authgate-lab", "drops", NULL});
	assert_int_equal(r.status, 1);
	assert_contains(r.err, "no gateway with file prefix 'authgate-lab'");

	server_stop(path);
	server_start(sock_path, FAKE_OK, gateway);
}

static void
test_missing_gateway_exits_1(void **state)
{
	char want[600], env_rt[320];
	const char *env[] = {env_rt, NULL};
	struct run r;

	(void)state;
	snprintf(env_rt, sizeof(env_rt), "RUNTIME_DIRECTORY=%s", tmpdir);
	run_ctl(&r, env, (const char *const[]){"-p", "nope", "ports", NULL});
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	snprintf(
		want, sizeof(want),
		"authgate-ctl: no gateway with file prefix 'nope' (%s/dpdk/nope/dpdk_telemetry.v2: "
		"No such file or directory)\n",
		tmpdir);
	assert_string_equal(r.err, want);

	snprintf(want, sizeof(want), "%s/absent.sock", tmpdir);
	RUN(&r, "--socket", want, "ports");
	assert_int_equal(r.status, 1);
	assert_contains(r.err, "authgate-ctl: no gateway at ");
	assert_contains(r.err, "absent.sock: No such file or directory\n");
}

static void
test_server_that_hangs_up_or_is_not_dpdk(void **state)
{
	struct run r;

	(void)state;
	server_stop(sock_path);
	server_start(sock_path, FAKE_HANG_UP, gateway);
	RUN(&r, "--socket", sock_path, "ports");
	assert_int_equal(r.status, 1);
	assert_contains(r.err, "hung up (it serves at most 10 telemetry clients at once)");

	server_stop(sock_path);
	server_start(sock_path, FAKE_NOT_DPDK, gateway);
	RUN(&r, "--socket", sock_path, "ports");
	assert_int_equal(r.status, 1);
	assert_contains(r.err, "does not speak telemetry v2: the greeting has no \"version\"");
}

static int
group_setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/dpdk_telemetry.v2", tmpdir);
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ports_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drops_json_after_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_one_per_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flows_passes_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unregistered_command_exits_3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_sends_principal_and_reports_failure,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_reply_exits_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors_exit_2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_prefix_resolves_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_gateway_exits_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_that_hangs_up_or_is_not_dpdk, setup,
						teardown),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH-TO-authgate-ctl\n", argv[0]);
		return 1;
	}
	ctl_path = argv[1];
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
