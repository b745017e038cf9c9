/* Unit tests for the access log: line format, escaping, per-producer order, drops, reopen. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include "control/accesslog.h"

#define T_2026_11_22_043622 1795322182

static char tmpdir[64];

static void
path_in_tmp(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* The whole file as a NUL-terminated string (caller frees). */
static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static unsigned int
count_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static void
rec_init(struct accesslog_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->client_ip = (198u << 24) | (18u << 16) | (0u << 8) | 10u;
	r->client_port = 40000;
	r->status = 206;
	strcpy(r->method, "GET");
	r->version_minor = 1;
	r->bytes = 65536;
	r->time_s = T_2026_11_22_043622;
	r->duration_us = 1234;
	strcpy(r->target, "/pkg/x");
}

static void
test_line_format(void **state)
{
	struct accesslog_rec r;
	struct accesslog *al;
	char path[128], *text;

	(void)state;
	path_in_tmp(path, sizeof(path), "format.log");
	al = accesslog_create(path, 1, 16);
	assert_non_null(al);

	rec_init(&r);
	strcpy(r.referer, "http://198.18.0.2/pkg/");
	strcpy(r.agent, "Microsoft BITS/7.8");
	assert_int_equal(accesslog_post(al, 0, &r), 0);

	/* nothing known about the client: every optional field is "-" */
	rec_init(&r);
	strcpy(r.method, "HEAD");
	r.version_minor = 0;
	r.status = 200;
	r.bytes = 0;
	strcpy(r.user, "alice@LAB.TEST");
	assert_int_equal(accesslog_post(al, 0, &r), 0);

	/* a request line too broken to parse */
	rec_init(&r);
	r.target[0] = '\0';
	r.status = 400;
	r.bytes = 11;
	assert_int_equal(accesslog_post(al, 0, &r), 0);

	accesslog_destroy(al);
	text = slurp(path);
	assert_string_equal(text,
			    "198.18.0.10 - - [22/Nov/2026:04:36:22 +0000] \"GET /pkg/x HTTP/1.1\" "
			    "206 65536 \"http://198.18.0.2/pkg/\" \"Microsoft BITS/7.8\"\n"
			    "198.18.0.10 - alice@LAB.TEST [22/Nov/2026:04:36:22 +0000] "
			    "\"HEAD /pkg/x HTTP/1.0\" 200 0 \"-\" \"-\"\n"
			    "198.18.0.10 - - [22/Nov/2026:04:36:22 +0000] \"-\" 400 11 \"-\" "
			    "\"-\"\n");
	free(text);
}

static void
test_hostile_fields_escaped(void **state)
{
	struct accesslog_rec r;
	struct accesslog *al;
	char path[128], *text;

	(void)state;
	path_in_tmp(path, sizeof(path), "hostile.log");
	al = accesslog_create(path, 1, 16);
	assert_non_null(al);

	rec_init(&r);
	/* tries to close the quoted field and forge a second line */
	strcpy(r.agent,
	       "x\"\n6.6.6.6 - admin [01/Jan/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 0 "
	       "\"-\" \"\\\x7f\xc3\xa9\"");
	strcpy(r.target, "/a b\"c\r\n\t");
	strcpy(r.user, "eve [admin]");
	strcpy(r.referer, "\x1b[31mred");
	assert_int_equal(accesslog_post(al, 0, &r), 0);
	accesslog_destroy(al);

	text = slurp(path);
	assert_int_equal(count_lines(text), 1);
	assert_string_equal(text,
			    "198.18.0.10 - eve\\x20[admin] [22/Nov/2026:04:36:22 +0000] "
			    "\"GET /a\\x20b\\\"c\\x0d\\x0a\\x09 HTTP/1.1\" 206 65536 "
			    "\"\\x1b[31mred\" "
			    "\"x\\\"\\x0a6.6.6.6 - admin [01/Jan/2026:00:00:00 +0000] \\\"GET / "
			    "HTTP/1.1\\\" 200 0 \\\"-\\\" \\\"\\\\\\x7f\\xc3\\xa9\\\"\"\n");
	free(text);
}

static void
test_unterminated_fields_stop_at_their_end(void **state)
{
	struct accesslog_rec r;
	struct accesslog *al;
	char path[128], *text, expect[512];

	(void)state;
	path_in_tmp(path, sizeof(path), "unterminated.log");
	al = accesslog_create(path, 1, 4);
	assert_non_null(al);
	rec_init(&r);
	memset(r.agent, 'A', sizeof(r.agent));
	memset(r.referer, 'R', sizeof(r.referer));
	assert_int_equal(accesslog_post(al, 0, &r), 0);
	accesslog_destroy(al);

	text = slurp(path);
	snprintf(expect, sizeof(expect),
		 "198.18.0.10 - - [22/Nov/2026:04:36:22 +0000] \"GET /pkg/x HTTP/1.1\" 206 65536 "
		 "\"%.*s\" \"%.*s\"\n",
		 128,
		 "RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR"
		 "RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR",
		 128,
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	assert_string_equal(text, expect);
	free(text);
}

#define PER_PRODUCER 20000

struct producer_arg {
	struct accesslog *al;
	unsigned int id;
	uint64_t refused;
};

static void *
producer(void *p)
{
	struct producer_arg *a = p;
	struct accesslog_rec r;
	unsigned int i;

	rec_init(&r);
	for (i = 0; i < PER_PRODUCER; i++) {
		int rc;

		snprintf(r.target, sizeof(r.target), "/p%u/%u", a->id, i);
		/* a lossless producer for this test: retry what the full ring refused */
		while ((rc = accesslog_post(a->al, a->id, &r)) == -ENOBUFS) {
			a->refused++;
			sched_yield();
		}
		if (rc != 0)
			return NULL;
	}
	return NULL;
}

static void
test_two_producers_in_order(void **state)
{
	struct producer_arg args[2];
	pthread_t th[2];
	struct accesslog *al;
	char path[128], *text, *line, *save = NULL;
	unsigned int next[2] = {0, 0}, i;
	uint64_t written, dropped;

	(void)state;
	path_in_tmp(path, sizeof(path), "two.log");
	/* small rings: the producers outrun the writer and meet full rings */
	al = accesslog_create(path, 2, 256);
	assert_non_null(al);
	for (i = 0; i < 2; i++) {
		args[i] = (struct producer_arg){.al = al, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, producer, &args[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	/* every refusal the producers saw is counted, and nothing else was dropped */
	accesslog_stats(al, &written, &dropped);
	assert_int_equal(dropped, args[0].refused + args[1].refused);
	accesslog_destroy(al);

	text = slurp(path);
	assert_int_equal(count_lines(text), 2 * PER_PRODUCER);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		unsigned int p, seq;
		const char *t = strstr(line, "\"GET /p");

		assert_non_null(t);
		assert_int_equal(sscanf(t, "\"GET /p%u/%u ", &p, &seq), 2);
		assert_true(p < 2);
		assert_int_equal(seq, next[p]);
		next[p]++;
	}
	assert_int_equal(next[0], PER_PRODUCER);
	assert_int_equal(next[1], PER_PRODUCER);
	free(text);
}

static void
test_full_ring_drops_and_counts(void **state)
{
	struct accesslog_rec r;
	struct accesslog *al;
	char path[128], *text;
	uint64_t ok = 0, refused = 0, written, dropped, i;

	(void)state;
	path_in_tmp(path, sizeof(path), "full.log");
	al = accesslog_create(path, 1, 4);
	assert_non_null(al);
	rec_init(&r);
	assert_int_equal(accesslog_post(al, 1, &r), -EINVAL);
	/* posting is far cheaper than formatting and writing: a 4-record ring fills */
	for (i = 0; i < 1000000 && refused < 100; i++) {
		int rc = accesslog_post(al, 0, &r);

		if (rc == 0)
			ok++;
		else if (rc == -ENOBUFS)
			refused++;
		else
			fail_msg("accesslog_post: %d", rc);
	}
	assert_true(refused > 0);
	accesslog_stats(al, &written, &dropped);
	assert_int_equal(dropped, refused);
	accesslog_destroy(al);

	text = slurp(path);
	assert_int_equal(count_lines(text), ok);
	free(text);
}

static void
test_stats_count_written(void **state)
{
	struct accesslog_rec r;
	struct accesslog *al;
	char path[128];
	uint64_t written = 0, dropped = 1;
	unsigned int i;

	(void)state;
	path_in_tmp(path, sizeof(path), "stats.log");
	al = accesslog_create(path, 1, 64);
	assert_non_null(al);
	rec_init(&r);
	for (i = 0; i < 10; i++)
		assert_int_equal(accesslog_post(al, 0, &r), 0);
	/* the writer gets to them on its own; no deadline, the test runner has one */
	while (written < 10) {
		accesslog_stats(al, &written, &dropped);
		usleep(1000);
	}
	assert_int_equal(written, 10);
	assert_int_equal(dropped, 0);
	accesslog_destroy(al);
}

static void
test_reopen_after_rename(void **state)
{
	struct accesslog_rec r;
	struct accesslog *al;
	char path[128], rotated[128], *text;

	(void)state;
	path_in_tmp(path, sizeof(path), "rotate.log");
	path_in_tmp(rotated, sizeof(rotated), "rotate.log.1");
	al = accesslog_create(path, 1, 16);
	assert_non_null(al);
	rec_init(&r);
	strcpy(r.target, "/before");
	assert_int_equal(accesslog_post(al, 0, &r), 0);
	/* what logrotate does: rename, then tell the daemon */
	assert_int_equal(rename(path, rotated), 0);
	assert_int_equal(accesslog_reopen(al), 0);
	strcpy(r.target, "/after");
	assert_int_equal(accesslog_post(al, 0, &r), 0);
	accesslog_destroy(al);

	text = slurp(rotated);
	assert_int_equal(count_lines(text), 1);
	assert_non_null(strstr(text, "\"GET /before HTTP/1.1\""));
	free(text);
	text = slurp(path);
	assert_int_equal(count_lines(text), 1);
	assert_non_null(strstr(text, "\"GET /after HTTP/1.1\""));
	free(text);
}

static void
test_unopenable_path(void **state)
{
	char path[128];

	(void)state;
	path_in_tmp(path, sizeof(path), "no/such/dir/access.log");
	errno = 0;
	assert_null(accesslog_create(path, 1, 16));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(accesslog_create(path, 0, 16));
	assert_int_equal(errno, EINVAL);
}

int
main(void)
{
	char *eal_argv[] = {"test_accesslog",
			    "--no-huge",
			    "--no-pci",
			    "--no-shconf",
			    "--no-telemetry",
			    "-m",
			    "128",
			    "--log-level=*:error",
			    "-l",
			    "0",
			    NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_format),
		cmocka_unit_test(test_hostile_fields_escaped),
		cmocka_unit_test(test_unterminated_fields_stop_at_their_end),
		cmocka_unit_test(test_two_producers_in_order),
		cmocka_unit_test(test_full_ring_drops_and_counts),
		cmocka_unit_test(test_stats_count_written),
		cmocka_unit_test(test_reopen_after_rename),
		cmocka_unit_test(test_unopenable_path),
	};
	int rc;

	if (rte_eal_init(RTE_DIM(eal_argv) - 1, eal_argv) < 0) {
		printf("SKIP: the DPDK EAL cannot start here (%s); the access log needs its "
		       "rings\n",
		       rte_strerror(rte_errno));
		return 77;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_accesslog.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0) {
		char cmd[128];

		/* keep the files of a failed run for a look */
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			rc = 1;
	}
	rte_eal_cleanup();
	return rc;
}
