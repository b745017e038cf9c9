/* authgate-burst: options, token minting before the clock, progress, the report and RESULT line. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "engine.h"
#include "range.h"
#include "tok.h"

#define MAX_SRC 1024

struct opts {
	const char *addr;
	unsigned int port;
	const char *src_spec;
	const char *path;
	const char *host_header;
	const char *spn;
	unsigned int clients;
	unsigned int ranges;
	uint64_t range_size;
	const char *auth;
	const char *keytab_dir;
	const char *principal_format;
	unsigned int users;
	const char *basic;
	bool persist_hint;
	long tokens;
	unsigned int mint_threads;
	bool probe;
	bool tls;
	double rate;
	double timeout_s;
	double max_time_s;
	unsigned int retries_401;
	unsigned int retries_503;
	double retry_cap_s;
	const char *verify_file;
	bool allow_failures;
	unsigned int threads;
	const char *series_file;
	const char *cdf_file;
	const char *out_file;
	const char *label;
	bool progress;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: authgate-burst [options]\n"
		"\n"
		"Opens --clients keep-alive connections at once (or --rate per second), and on "
		"each\n"
		"walks a BITS-like download: HEAD for the size, then --ranges ranged GETs of\n"
		"--range-size bytes, checking every 206 (Content-Range, length, bytes against\n"
		"--verify-file). Prints a table and one 'RESULT key=value ...' line.\n"
		"\n"
		"target:\n"
		"  --addr A             server address (default 198.18.0.2)\n"
		"  --port N             server port (default 80)\n"
		"  --path P             URL path (default /secure/64m.bin)\n"
		"  --host-header H      Host header (default: the host of --spn)\n"
		"  --src SPEC           source addresses: A-B range, A,B,C list, or 'none'\n"
		"                       (default 198.18.0.10-198.18.0.41)\n"
		"load:\n"
		"  --clients N          connections, one client each (default 5000)\n"
		"  --ranges K           ranged GETs per client after the HEAD (default 20)\n"
		"  --range-size S       bytes per range, K/M suffixes (default 64K)\n"
		"  --rate N             start N connections per second (default 0: all at once)\n"
		"  --threads N          client threads, 1 or 2 (default 1)\n"
		"  --timeout S          per connect and per exchange (default 30)\n"
		"  --max-time S         whole run; what is left then counts as timeout (default "
		"600)\n"
		"  --verify-file PATH   the served file, read locally to check sizes and bytes\n"
		"  --tls                HTTPS (TLS 1.2 or 1.3, the certificate not checked)\n"
		"auth:\n"
		"  --auth MODE          none | negotiate | basic (default none)\n"
		"  --spn NAME           GSS host-based service (default HTTP@gw.authgate.test)\n"
		"  --keytab-dir DIR     client keytabs <principal>.keytab (default\n"
		"                       $AUTHGATE_CLIENT_KEYTABS)\n"
		"  --users N            principals user1..userN (default $AUTHGATE_REALM_USERS or "
		"50)\n"
		"  --principal-format F printf format of a principal (default user%%u)\n"
		"  --basic USER:PASS    credentials for --auth basic\n"
		"  --persist-hint on|off  how many tokens to mint ahead: one per connection (on,\n"
		"                       default) or one per request (off); late ones are minted "
		"live\n"
		"  --tokens N           mint exactly N tokens ahead instead\n"
		"  --mint-threads N     threads minting tokens before the clock (default 2)\n"
		"  --probe              send each credentialed request first without credentials\n"
		"                       (GET, 401, GET with token: the field pattern)\n"
		"  --401-retries N      fresh-token retries after a 401 (default 2)\n"
		"  --503-retries N      retries after a 503, honouring Retry-After (default 3)\n"
		"  --retry-cap S        longest Retry-After wait honoured (default 2)\n"
		"output:\n"
		"  --label NAME         name in the table and RESULT line\n"
		"  --series FILE        every 0.5 s: t, req/s, exchanges/s, MiB/s, active, 401s, "
		"503s\n"
		"  --cdf FILE           latency CDF: percent, latency in ms\n"
		"  --out FILE           the final table and RESULT line, also into FILE\n"
		"  --no-progress        no progress bar (it only shows on a terminal anyway)\n"
		"  --allow-failures     exit 0 even when requests failed\n"
		"\n"
		"exit status: 0 every request answered as expected, 1 some failed, 2 setup "
		"error\n");
}

static int
parse_src(const char *spec, struct in_addr *out, unsigned int *n_out)
{
	char buf[4096], *save = NULL, *tok;
	unsigned int n = 0;

	if (strcmp(spec, "none") == 0) {
		*n_out = 0;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		struct in_addr a, b;
		uint32_t i;

		if (dash)
			*dash = '\0';
		if (inet_pton(AF_INET, tok, &a) != 1)
			return -EINVAL;
		b = a;
		if (dash && inet_pton(AF_INET, dash + 1, &b) != 1)
			return -EINVAL;
		if (ntohl(b.s_addr) < ntohl(a.s_addr))
			return -EINVAL;
		for (i = ntohl(a.s_addr); i <= ntohl(b.s_addr); i++) {
			if (n == MAX_SRC)
				return -E2BIG;
			out[n++].s_addr = htonl(i);
		}
	}
	*n_out = n;
	return n ? 0 : -EINVAL;
}

/* Enough descriptors for every connection, raising the hard limit too when we may. */
static int
raise_nofile(unsigned int need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need) {
		rl.rlim_max = need;
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
		return 0;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	return 0;
}

static double
realtime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static double
secs_between(uint64_t a, uint64_t b)
{
	return (double)(b - a) / 1e9;
}

static void
progress_bar(const struct opts *o, const struct bstats *s, double t, uint64_t planned)
{
	uint64_t done = s->requests_ok + s->requests_failed + s->requests_not_run;
	unsigned int width = 30, fill = planned ? (unsigned int)(done * width / planned) : 0, i;
	char bar[64];

	for (i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	printf("\r[%s] %3u%% %6.1fs conns %llu/%u active %llu req %llu/%llu fail %llu %7.1f MiB ",
	       bar, planned ? (unsigned int)(done * 100 / planned) : 0, t,
	       (unsigned long long)s->conns_started, o->clients,
	       (unsigned long long)s->conns_active, (unsigned long long)s->requests_ok,
	       (unsigned long long)planned, (unsigned long long)s->requests_failed,
	       (double)s->body_bytes / 1048576.0);
	fflush(stdout);
}

static void
write_cdf(const char *path, const struct bhist *h)
{
	static const double ps[] = {0.1, 1,  2,	   5,  10,   15,   20,	  25, 30, 35,
				    40,	 45, 50,   55, 60,   65,   70,	  75, 80, 85,
				    90,	 95, 97.5, 99, 99.5, 99.9, 99.99, 100};
	FILE *f = fopen(path, "w");
	size_t i;

	if (f == NULL) {
		fprintf(stderr, "authgate-burst: %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "# percent latency_ms\n");
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		fprintf(f, "%g %.3f\n", ps[i], ms(bhist_percentile(h, ps[i])));
	fclose(f);
}

static void
report(FILE *out, const struct opts *o, const struct bstats *s, double wall, uint64_t minted,
       double mint_s, uint64_t late, double start_epoch)
{
	const char *label = o->label ? o->label : "burst";
	double rps = wall > 0 ? (double)s->requests_ok / wall : 0;
	double xps = wall > 0 ? (double)s->exchanges / wall : 0;
	double mibs = wall > 0 ? (double)s->body_bytes / 1048576.0 / wall : 0;
	unsigned int f;

	fprintf(out, "\n== authgate-burst %s: %u clients x (HEAD + %u x %llu B) %s, auth %s%s\n",
		label, o->clients, o->ranges, (unsigned long long)o->range_size, o->path, o->auth,
		o->probe ? " (probe first)" : "");
	fprintf(out,
		"  %-34s %llu in %.2f s (%.3f ms each, %u threads), %llu more during the run\n",
		"tokens minted before the clock", (unsigned long long)minted, mint_s,
		minted ? mint_s * 1000.0 / (double)minted : 0.0, o->mint_threads,
		(unsigned long long)late);
	fprintf(out, "  %-34s %.2f s\n", "wall time", wall);
	fprintf(out, "  %-34s %llu / %llu\n", "connections ok / failed",
		(unsigned long long)s->conns_ok, (unsigned long long)s->conns_failed);
	fprintf(out, "  %-34s %llu / %llu / %llu\n", "requests ok / failed / not run",
		(unsigned long long)s->requests_ok, (unsigned long long)s->requests_failed,
		(unsigned long long)s->requests_not_run);
	fprintf(out, "  %-34s %llu\n", "HTTP exchanges (401s, retries incl.)",
		(unsigned long long)s->exchanges);
	fprintf(out, "  %-34s %.0f (%.0f exchanges/s)\n", "requests/s", rps, xps);
	fprintf(out, "  %-34s %.1f (%.3f GiB verified)\n", "body MiB/s", mibs,
		(double)s->body_bytes / 1073741824.0);
	fprintf(out, "  %-34s %llu / %llu\n", "401s / 503s", (unsigned long long)s->status_401,
		(unsigned long long)s->status_503);
	fprintf(out, "  %-34s %llu (%llu on attempts closed unanswered)\n", "tokens sent",
		(unsigned long long)s->tokens_sent, (unsigned long long)s->tokens_unanswered);
	fprintf(out, "  %-34s %llu (%llu requests retried: closed while idle)\n", "reconnects",
		(unsigned long long)s->reconnects, (unsigned long long)s->retried_closed);
	fprintf(out, "  %-34s %.2f / %.2f / %.2f / %.2f\n", "latency ms p50 / p90 / p99 / max",
		ms(bhist_percentile(&s->latency, 50)), ms(bhist_percentile(&s->latency, 90)),
		ms(bhist_percentile(&s->latency, 99)), ms(s->latency.max));
	fprintf(out, "  %-34s %.2f / %.2f / %.2f\n", "connect ms p50 / p99 / max",
		ms(bhist_percentile(&s->connect_time, 50)),
		ms(bhist_percentile(&s->connect_time, 99)), ms(s->connect_time.max));
	fprintf(out, "  %-34s", "failures by kind");
	for (f = 0; f < BFAIL_MAX; f++)
		fprintf(out, " %s %llu", bfail_str(f), (unsigned long long)s->fail[f]);
	fprintf(out, "\n");

	fprintf(out,
		"RESULT label=%s clients=%u ranges=%u range_size=%llu auth=%s probe=%d wall_s=%.3f "
		"requests_ok=%llu requests_failed=%llu requests_not_run=%llu exchanges=%llu "
		"rps=%.1f exchanges_per_s=%.1f mib_per_s=%.2f body_bytes=%llu conns_ok=%llu "
		"conns_failed=%llu status_401=%llu status_503=%llu tokens_sent=%llu "
		"tokens_unanswered=%llu tokens_minted=%llu mint_s=%.3f tokens_late=%llu "
		"reconnects=%llu "
		"retried_closed=%llu tls=%d tls_handshakes=%llu "
		"p50_ms=%.3f "
		"p90_ms=%.3f p99_ms=%.3f max_ms=%.3f connect_p99_ms=%.3f start_epoch=%.3f",
		label, o->clients, o->ranges, (unsigned long long)o->range_size, o->auth, o->probe,
		wall, (unsigned long long)s->requests_ok, (unsigned long long)s->requests_failed,
		(unsigned long long)s->requests_not_run, (unsigned long long)s->exchanges, rps, xps,
		mibs, (unsigned long long)s->body_bytes, (unsigned long long)s->conns_ok,
		(unsigned long long)s->conns_failed, (unsigned long long)s->status_401,
		(unsigned long long)s->status_503, (unsigned long long)s->tokens_sent,
		(unsigned long long)s->tokens_unanswered, (unsigned long long)minted, mint_s,
		(unsigned long long)late, (unsigned long long)s->reconnects,
		(unsigned long long)s->retried_closed, o->tls,
		(unsigned long long)s->tls_handshakes, ms(bhist_percentile(&s->latency, 50)),
		ms(bhist_percentile(&s->latency, 90)), ms(bhist_percentile(&s->latency, 99)),
		ms(s->latency.max), ms(bhist_percentile(&s->connect_time, 99)), start_epoch);
	for (f = 0; f < BFAIL_MAX; f++)
		fprintf(out, " fail_%s=%llu", bfail_str(f), (unsigned long long)s->fail[f]);
	fprintf(out, "\n");
	fflush(out);
}

static int
parse_uint(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > 0x7fffffff)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

static int
parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || *end || end == s || *out < 0 ? -EINVAL : 0;
}

enum {
	OPT_ADDR = 256,
	OPT_PORT,
	OPT_PATH,
	OPT_HOST,
	OPT_SRC,
	OPT_CLIENTS,
	OPT_RANGES,
	OPT_RANGE_SIZE,
	OPT_RATE,
	OPT_THREADS,
	OPT_TIMEOUT,
	OPT_MAX_TIME,
	OPT_VERIFY,
	OPT_AUTH,
	OPT_SPN,
	OPT_KEYTABS,
	OPT_USERS,
	OPT_PFORMAT,
	OPT_BASIC,
	OPT_PERSIST_HINT,
	OPT_TOKENS,
	OPT_MINT_THREADS,
	OPT_PROBE,
	OPT_TLS,
	OPT_R401,
	OPT_R503,
	OPT_RCAP,
	OPT_LABEL,
	OPT_SERIES,
	OPT_CDF,
	OPT_OUT,
	OPT_NO_PROGRESS,
	OPT_ALLOW,
};

static const struct option long_opts[] = {
	{"addr", required_argument, NULL, OPT_ADDR},
	{"port", required_argument, NULL, OPT_PORT},
	{"path", required_argument, NULL, OPT_PATH},
	{"host-header", required_argument, NULL, OPT_HOST},
	{"src", required_argument, NULL, OPT_SRC},
	{"clients", required_argument, NULL, OPT_CLIENTS},
	{"ranges", required_argument, NULL, OPT_RANGES},
	{"range-size", required_argument, NULL, OPT_RANGE_SIZE},
	{"rate", required_argument, NULL, OPT_RATE},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"max-time", required_argument, NULL, OPT_MAX_TIME},
	{"verify-file", required_argument, NULL, OPT_VERIFY},
	{"auth", required_argument, NULL, OPT_AUTH},
	{"spn", required_argument, NULL, OPT_SPN},
	{"keytab-dir", required_argument, NULL, OPT_KEYTABS},
	{"users", required_argument, NULL, OPT_USERS},
	{"principal-format", required_argument, NULL, OPT_PFORMAT},
	{"basic", required_argument, NULL, OPT_BASIC},
	{"persist-hint", required_argument, NULL, OPT_PERSIST_HINT},
	{"tokens", required_argument, NULL, OPT_TOKENS},
	{"mint-threads", required_argument, NULL, OPT_MINT_THREADS},
	{"probe", no_argument, NULL, OPT_PROBE},
	{"tls", no_argument, NULL, OPT_TLS},
	{"401-retries", required_argument, NULL, OPT_R401},
	{"503-retries", required_argument, NULL, OPT_R503},
	{"retry-cap", required_argument, NULL, OPT_RCAP},
	{"label", required_argument, NULL, OPT_LABEL},
	{"series", required_argument, NULL, OPT_SERIES},
	{"cdf", required_argument, NULL, OPT_CDF},
	{"out", required_argument, NULL, OPT_OUT},
	{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
	{"allow-failures", no_argument, NULL, OPT_ALLOW},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	const char *env;
	int c, bad = 0;

	*o = (struct opts){
		.addr = "198.18.0.2",
		.port = 80,
		.src_spec = "198.18.0.10-198.18.0.41",
		.path = "/secure/64m.bin",
		.spn = "HTTP@gw.authgate.test",
		.clients = 5000,
		.ranges = 20,
		.range_size = 65536,
		.auth = "none",
		.keytab_dir = getenv("AUTHGATE_CLIENT_KEYTABS"),
		.principal_format = "user%u",
		.users = 50,
		.persist_hint = true,
		.tokens = -1,
		.mint_threads = 2,
		.timeout_s = 30,
		.max_time_s = 600,
		.retries_401 = 2,
		.retries_503 = 3,
		.retry_cap_s = 2,
		.threads = 1,
		.progress = true,
	};
	env = getenv("AUTHGATE_REALM_USERS");
	if (env)
		parse_uint(env, &o->users);
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		unsigned int u;

		switch (c) {
		case OPT_ADDR:
			o->addr = optarg;
			break;
		case OPT_PORT:
			bad |= parse_uint(optarg, &o->port) < 0 || o->port == 0 || o->port > 65535;
			break;
		case OPT_PATH:
			o->path = optarg;
			break;
		case OPT_HOST:
			o->host_header = optarg;
			break;
		case OPT_SRC:
			o->src_spec = optarg;
			break;
		case OPT_CLIENTS:
			bad |= parse_uint(optarg, &o->clients) < 0 || o->clients == 0;
			break;
		case OPT_RANGES:
			bad |= parse_uint(optarg, &o->ranges) < 0;
			break;
		case OPT_RANGE_SIZE:
			bad |= brange_parse_size(optarg, &o->range_size) < 0 || o->range_size == 0;
			break;
		case OPT_RATE:
			bad |= parse_double(optarg, &o->rate) < 0;
			break;
		case OPT_THREADS:
			bad |= parse_uint(optarg, &o->threads) < 0 || o->threads < 1 ||
			       o->threads > 2;
			break;
		case OPT_TIMEOUT:
			bad |= parse_double(optarg, &o->timeout_s) < 0 || o->timeout_s == 0;
			break;
		case OPT_MAX_TIME:
			bad |= parse_double(optarg, &o->max_time_s) < 0 || o->max_time_s == 0;
			break;
		case OPT_VERIFY:
			o->verify_file = optarg;
			break;
		case OPT_AUTH:
			o->auth = optarg;
			bad |= strcmp(optarg, "none") && strcmp(optarg, "negotiate") &&
			       strcmp(optarg, "basic");
			break;
		case OPT_SPN:
			o->spn = optarg;
			break;
		case OPT_KEYTABS:
			o->keytab_dir = optarg;
			break;
		case OPT_USERS:
			bad |= parse_uint(optarg, &o->users) < 0 || o->users == 0;
			break;
		case OPT_PFORMAT:
			o->principal_format = optarg;
			break;
		case OPT_BASIC:
			o->basic = optarg;
			break;
		case OPT_PERSIST_HINT:
			bad |= strcmp(optarg, "on") && strcmp(optarg, "off");
			o->persist_hint = strcmp(optarg, "on") == 0;
			break;
		case OPT_TOKENS:
			bad |= parse_uint(optarg, &u) < 0;
			o->tokens = u;
			break;
		case OPT_MINT_THREADS:
			bad |= parse_uint(optarg, &o->mint_threads) < 0 || o->mint_threads == 0;
			break;
		case OPT_PROBE:
			o->probe = true;
			break;
		case OPT_TLS:
			o->tls = true;
			break;
		case OPT_R401:
			bad |= parse_uint(optarg, &o->retries_401) < 0;
			break;
		case OPT_R503:
			bad |= parse_uint(optarg, &o->retries_503) < 0;
			break;
		case OPT_RCAP:
			bad |= parse_double(optarg, &o->retry_cap_s) < 0;
			break;
		case OPT_LABEL:
			o->label = optarg;
			break;
		case OPT_SERIES:
			o->series_file = optarg;
			break;
		case OPT_CDF:
			o->cdf_file = optarg;
			break;
		case OPT_OUT:
			o->out_file = optarg;
			break;
		case OPT_NO_PROGRESS:
			o->progress = false;
			break;
		case OPT_ALLOW:
			o->allow_failures = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			bad = 1;
			break;
		}
		if (bad) {
			if (c != '?')
				fprintf(stderr, "authgate-burst: bad value for --%s: %s\n",
					long_opts[c - OPT_ADDR].name, optarg ? optarg : "");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "authgate-burst: unexpected argument %s\n", argv[optind]);
		return -EINVAL;
	}
	if (o->host_header == NULL) {
		const char *at = strchr(o->spn, '@');

		o->host_header = at ? at + 1 : o->spn;
	}
	if (strcmp(o->auth, "basic") == 0 && o->basic == NULL) {
		fprintf(stderr, "authgate-burst: --auth basic needs --basic USER:PASS\n");
		return -EINVAL;
	}
	if (strcmp(o->auth, "negotiate") == 0 && o->keytab_dir == NULL) {
		fprintf(stderr, "authgate-burst: --auth negotiate needs --keytab-dir (or "
				"AUTHGATE_CLIENT_KEYTABS)\n");
		return -EINVAL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct bengine_conf conf = {0};
	struct in_addr *src = NULL;
	struct btok_pool *pool = NULL;
	struct bengine *e = NULL;
	struct bstats s;
	SSL_CTX *tls_ctx = NULL;
	void *map = MAP_FAILED;
	size_t map_len = 0;
	FILE *series = NULL;
	char err[1024] = "", *basic_value = NULL;
	double mint_s = 0, wall, start_epoch;
	uint64_t planned, minted = 0, t0, last_series, last_req = 0, last_xch = 0, last_bytes = 0;
	bool tty;
	int rc = 2, fd;

	if (parse_opts(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	tty = o.progress && isatty(STDOUT_FILENO);

	conf.server.sin_family = AF_INET;
	conf.server.sin_port = htons((uint16_t)o.port);
	if (inet_pton(AF_INET, o.addr, &conf.server.sin_addr) != 1) {
		fprintf(stderr, "authgate-burst: bad --addr %s\n", o.addr);
		goto cleanup;
	}
	src = calloc(MAX_SRC, sizeof(*src));
	if (src == NULL || parse_src(o.src_spec, src, &conf.nsrc) < 0) {
		fprintf(stderr, "authgate-burst: bad --src %s\n", o.src_spec);
		goto cleanup;
	}
	conf.src = src;
	if (raise_nofile(o.clients + 64) < 0) {
		fprintf(stderr, "authgate-burst: cannot raise RLIMIT_NOFILE to %u: %s\n",
			o.clients + 64, strerror(errno));
		goto cleanup;
	}
	if (o.verify_file) {
		struct stat st;

		fd = open(o.verify_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
			fprintf(stderr, "authgate-burst: --verify-file %s: %s\n", o.verify_file,
				fd < 0 ? strerror(errno) : "empty or unreadable");
			if (fd >= 0)
				close(fd);
			goto cleanup;
		}
		map_len = (size_t)st.st_size;
		map = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		close(fd);
		if (map == MAP_FAILED) {
			fprintf(stderr, "authgate-burst: mmap %s: %s\n", o.verify_file,
				strerror(errno));
			goto cleanup;
		}
		conf.verify = map;
		conf.verify_size = map_len;
	}

	conf.path = o.path;
	conf.host_header = o.host_header;
	conf.clients = o.clients;
	conf.ranges = o.ranges;
	conf.range_size = o.range_size;
	conf.users = o.users;
	conf.probe = o.probe;
	conf.rate = o.rate;
	conf.timeout_ns = (uint64_t)(o.timeout_s * 1e9);
	conf.max_time_ns = (uint64_t)(o.max_time_s * 1e9);
	conf.max_401_retries = o.retries_401;
	conf.max_503_retries = o.retries_503;
	conf.retry_cap_ns = (uint64_t)(o.retry_cap_s * 1e9);
	conf.threads = o.threads;
	if (o.tls) {
		/* the gateway's certificate is the test's own: what is measured is the TLS work */
		tls_ctx = SSL_CTX_new(TLS_client_method());
		if (tls_ctx == NULL) {
			fprintf(stderr, "authgate-burst: no TLS context\n");
			goto cleanup;
		}
		SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
		SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
		conf.tls = tls_ctx;
	}
	planned = (uint64_t)o.clients * (o.ranges + 1);

	if (strcmp(o.auth, "negotiate") == 0) {
		struct btok_conf tc = {.keytab_dir = o.keytab_dir,
				       .principal_format = o.principal_format,
				       .users = o.users,
				       .spn = o.spn};
		uint64_t want, per_user;
		uint64_t m0;

		conf.auth = BAUTH_NEGOTIATE;
		pool = btok_pool_create(&tc, err, sizeof(err));
		if (pool == NULL) {
			fprintf(stderr, "authgate-burst: %s\n", err);
			goto cleanup;
		}
		/* a token per connection with persistence, per request without; some spare */
		if (o.tokens >= 0)
			want = (uint64_t)o.tokens;
		else
			want = (uint64_t)o.clients * (o.persist_hint ? 1 : o.ranges + 1) * 102 /
				       100 +
			       2 * o.users;
		per_user = (want + o.users - 1) / o.users;
		m0 = bnow_ns();
		if (btok_mint(pool, (unsigned int)per_user, o.mint_threads, err, sizeof(err)) < 0) {
			fprintf(stderr, "authgate-burst: minting tokens: %s\n", err);
			goto cleanup;
		}
		mint_s = secs_between(m0, bnow_ns());
		minted = btok_minted(pool);
		printf("authgate-burst: minted %llu tokens for %u principals in %.2f s "
		       "(%.3f ms each, %u threads); the clock starts now\n",
		       (unsigned long long)minted, o.users, mint_s,
		       minted ? mint_s * 1000.0 / (double)minted : 0.0, o.mint_threads);
		conf.tokens = pool;
	} else if (strcmp(o.auth, "basic") == 0) {
		size_t n = strlen(o.basic);

		conf.auth = BAUTH_BASIC;
		basic_value = malloc(6 + (n + 2) / 3 * 4 + 1);
		if (basic_value == NULL)
			goto cleanup;
		memcpy(basic_value, "Basic ", 6);
		btok_base64((const unsigned char *)o.basic, n, basic_value + 6);
		conf.basic_value = basic_value;
	}
	if (o.series_file) {
		series = fopen(o.series_file, "w");
		if (series == NULL) {
			fprintf(stderr, "authgate-burst: %s: %s\n", o.series_file, strerror(errno));
			goto cleanup;
		}
		fprintf(series, "# t_s requests_per_s exchanges_per_s mib_per_s active_conns "
				"status_401 status_503 failed\n");
	}

	e = bengine_create(&conf);
	if (e == NULL) {
		fprintf(stderr, "authgate-burst: %s\n", strerror(errno));
		goto cleanup;
	}
	if (bengine_start(e) < 0) {
		fprintf(stderr, "authgate-burst: cannot start client threads\n");
		goto cleanup;
	}
	t0 = bengine_started_ns(e);
	/* the wall clock of the start, so that samples taken outside line up with the series */
	start_epoch = realtime_s() - secs_between(t0, bnow_ns());
	last_series = t0;
	while (!bengine_done(e)) {
		struct timespec nap = {0, 100 * 1000 * 1000};
		uint64_t now;

		nanosleep(&nap, NULL);
		now = bnow_ns();
		bengine_peek(e, &s);
		if (tty)
			progress_bar(&o, &s, secs_between(t0, now), planned);
		if (series && now - last_series >= 500 * 1000 * 1000ull) {
			double dt = secs_between(last_series, now);

			fprintf(series, "%.2f %.1f %.1f %.2f %llu %llu %llu %llu\n",
				secs_between(t0, now), (double)(s.requests_ok - last_req) / dt,
				(double)(s.exchanges - last_xch) / dt,
				(double)(s.body_bytes - last_bytes) / 1048576.0 / dt,
				(unsigned long long)s.conns_active,
				(unsigned long long)s.status_401, (unsigned long long)s.status_503,
				(unsigned long long)s.requests_failed);
			fflush(series);
			last_series = now;
			last_req = s.requests_ok;
			last_xch = s.exchanges;
			last_bytes = s.body_bytes;
		}
	}
	if (bengine_join(e) < 0)
		fprintf(stderr, "authgate-burst: a client thread stopped on an error\n");
	if (tty)
		printf("\n");
	bengine_totals(e, &s);
	wall = secs_between(bengine_started_ns(e), bengine_ended_ns(e));
	report(stdout, &o, &s, wall, minted, mint_s, pool ? btok_late(pool) : 0, start_epoch);
	if (o.out_file) {
		FILE *f = fopen(o.out_file, "w");

		if (f == NULL) {
			fprintf(stderr, "authgate-burst: %s: %s\n", o.out_file, strerror(errno));
		} else {
			report(f, &o, &s, wall, minted, mint_s, pool ? btok_late(pool) : 0,
			       start_epoch);
			fclose(f);
		}
	}
	if (o.cdf_file)
		write_cdf(o.cdf_file, &s.latency);
	if (s.requests_ok + s.requests_failed + s.requests_not_run != planned)
		fprintf(stderr, "authgate-burst: internal: %llu requests accounted, %llu planned\n",
			(unsigned long long)(s.requests_ok + s.requests_failed +
					     s.requests_not_run),
			(unsigned long long)planned);
	rc = s.requests_failed == 0 || o.allow_failures ? 0 : 1;
cleanup:
	if (series)
		fclose(series);
	bengine_free(e);
	SSL_CTX_free(tls_ctx);
	btok_pool_free(pool);
	free(basic_value);
	if (map != MAP_FAILED)
		munmap(map, map_len);
	free(src);
	return rc;
}
