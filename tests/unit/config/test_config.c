/* Config loader tests: good files with their defaults, and each kind of bad input with its exact
 * error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/config.h"
#include "app/eal_args.h"

static char tmpdir[] = "/tmp/ag-config-test-XXXXXX";

static const char *
write_file(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads text; returns the loader's rc and its error output in *errs (caller frees). */
static int
load_text(const char *text, struct ag_config *cfg, char **errs)
{
	size_t len;
	FILE *err = open_memstream(errs, &len);
	const char *path = write_file("t.ini", text);
	int rc;

	assert_non_null(err);
	rc = ag_config_load(path, cfg, err);
	fclose(err);
	return rc;
}

#define PORT "[port lab]\ndevice = net_tap0,iface=ag0\naddress = 198.18.0.2/24\n"

static void
test_minimal_defaults(void **state)
{
	struct ag_config cfg;
	char *errs = NULL;

	(void)state;
	assert_int_equal(load_text(PORT, &cfg, &errs), 0);
	assert_string_equal(errs, "");
	assert_string_equal(cfg.eal.lcores, "0-1");
	assert_int_equal(cfg.eal.main_lcore, 0);
	assert_int_equal(cfg.eal.memory_mb, 512);
	assert_int_equal(cfg.eal.hugepages, AG_HUGEPAGES_AUTO);
	assert_string_equal(cfg.eal.file_prefix, "authgate");
	assert_true(cfg.eal.pci);
	assert_int_equal(cfg.dp.nb_lcores, 1);
	assert_int_equal(cfg.dp.lcore_ids[0], 1);
	assert_int_equal(cfg.dp.burst, 32);
	assert_int_equal(cfg.log.level, 6); /* info */
	assert_int_equal(cfg.dp.nb_ports, 1);
	assert_string_equal(cfg.dp.ports[0].name, "lab");
	assert_string_equal(cfg.dp.ports[0].device, "net_tap0,iface=ag0");
	assert_int_equal(cfg.dp.ports[0].addr, (198u << 24) | (18u << 16) | 2u);
	assert_int_equal(cfg.dp.ports[0].prefix_len, 24);
	assert_int_equal(cfg.dp.ports[0].mtu, 1500);
	assert_int_equal(cfg.dp.ports[0].mbufs, 16383);
	assert_true(cfg.dp.ports[0].garp);
	assert_int_equal(cfg.tcp.max_flows, 65536);
	assert_int_equal(cfg.tcp.time_wait_ms, 10000);
	assert_int_equal(cfg.diag.echo_port, 0);
	/* the Basic credential cache is off unless asked for */
	assert_int_equal(cfg.auth.basic_cache_ttl_s, 0);
	assert_int_equal(cfg.auth.basic_cache_entries, 4096);
	free(errs);
}

static void
test_basic_cache_keys(void **state)
{
	struct ag_config cfg;
	char *errs = NULL;

	(void)state;
	assert_int_equal(load_text(PORT "[auth]\nbasic_cache_ttl_s = 3600\n"
					"basic_cache_entries = 16\n",
				   &cfg, &errs),
			 0);
	assert_string_equal(errs, "");
	assert_int_equal(cfg.auth.basic_cache_ttl_s, 3600);
	assert_int_equal(cfg.auth.basic_cache_entries, 16);
	free(errs);
}

/* require_group entries: names hold blanks, commas part them; each entry one bit, shared */
static void
test_group_table(void **state)
{
	struct ag_config cfg;
	char *errs = NULL;

	(void)state;
	assert_int_equal(load_text(PORT "[trust X.TEST]\n"
					"[site /a]\nroot = /tmp\nauth = negotiate\n"
					"require_group = SAMDOM\\Domain Users , S-1-5-32-544\n"
					"[site /b]\nroot = /tmp\nauth = ntlm\n"
					"require_group = s-1-5-32-544\n",
				   &cfg, &errs),
			 0);
	assert_string_equal(errs, "");
	assert_int_equal(cfg.gate.nb_groups, 2);
	assert_string_equal(cfg.gate.groups[0], "SAMDOM\\Domain Users");
	assert_string_equal(cfg.gate.groups[1], "S-1-5-32-544");
	assert_int_equal(cfg.gate.sites[0].group_mask, 3);
	assert_int_equal(cfg.gate.sites[1].group_mask, 2);
	/* the control plane gets the same table, in the same order */
	assert_int_equal(cfg.auth.nb_groups, 2);
	assert_string_equal(cfg.auth.groups[1], "S-1-5-32-544");
	free(errs);
}

#define LAB_WWW "/var/lib/authgate-lab/www"

static void
test_lab_config_is_valid(void **state)
{
	struct ag_config cfg;

	char *text = NULL, *at;
	size_t size = 0;
	FILE *in = fopen(SOURCE_ROOT "/configs/lab.ini", "r"), *out;
	char path[512];

	(void)state;
	/* the lab's content directory exists once scripts/lab ran: serve a temp dir instead */
	assert_non_null(in);
	out = open_memstream(&text, &size);
	for (int ch; (ch = fgetc(in)) != EOF;)
		fputc(ch, out);
	fclose(in);
	fclose(out);
	snprintf(path, sizeof(path), "%s/lab.ini", tmpdir);
	out = fopen(path, "w");
	assert_non_null(out);
	for (char *p = text;; p = at + strlen(LAB_WWW)) {
		at = strstr(p, LAB_WWW);
		if (at == NULL) {
			fputs(p, out);
			break;
		}
		fwrite(p, 1, (size_t)(at - p), out);
		fputs(tmpdir, out);
	}
	fclose(out);
	free(text);
	assert_int_equal(ag_config_load(path, &cfg, stderr), 0);
	assert_string_equal(cfg.eal.file_prefix, "authgate-lab");
	assert_false(cfg.eal.pci);
	assert_int_equal(cfg.dp.idle_sleep_us, 50);
	assert_int_equal(cfg.diag.echo_port, 7);
	assert_int_equal(cfg.diag.chargen_port, 19);
	assert_int_equal(cfg.tcp.syncookies, TCP_SYNCOOKIE_AUTO);
}

static void
test_full_file(void **state)
{
	struct ag_config cfg;
	char *errs = NULL;

	(void)state;
	assert_int_equal(load_text("# comment\n"
				   "[eal]\n"
				   "lcores = 0-3   # trailing comment\n"
				   "main_lcore = 0\n"
				   "memory_mb = 1024\n"
				   "hugepages = NO\n"
				   "file_prefix = gw-1\n"
				   "pci = off\n"
				   "[dataplane]\n"
				   "lcores = 1,3\n"
				   "burst = 64\n"
				   "[log]\n"
				   "level = debug\n"
				   "components = authgate.dp:debug\n"
				   "[port a]\n"
				   "device = 0000:01:00.0\n"
				   "address = 10.1.0.2/16\n"
				   "gateway = 10.1.0.1\n"
				   "mtu = 9000\n"
				   "mac = 02:AB:cd:00:00:01\n"
				   "[port b]\n"
				   "device = net_memif0,role=server\n"
				   "address = 198.19.0.2/24\n",
				   &cfg, &errs),
			 0);
	assert_string_equal(errs, "");
	assert_int_equal(cfg.eal.memory_mb, 1024);
	assert_int_equal(cfg.eal.hugepages, AG_HUGEPAGES_NO);
	assert_false(cfg.eal.pci);
	assert_int_equal(cfg.dp.nb_lcores, 2);
	assert_int_equal(cfg.dp.lcore_ids[1], 3);
	assert_int_equal(cfg.log.level, 7);
	assert_int_equal(cfg.dp.nb_ports, 2);
	assert_string_equal(cfg.dp.ports[1].name, "b");
	assert_int_equal(cfg.dp.ports[0].gateway, (10u << 24) | (1u << 16) | 1u);
	assert_int_equal(cfg.dp.ports[0].mtu, 9000);
	assert_string_equal(cfg.dp.ports[0].mac, "02:ab:cd:00:00:01");
	assert_string_equal(cfg.dp.ports[1].mac, "");
	free(errs);
}

struct bad_case {
	const char *text;
	const char *expected; /* every error line, FILE replaced by "F" */
};

static const struct bad_case bad_cases[] = {
	{PORT "[bogus]\n", "F:4: [bogus] unknown section\n"},
	{PORT "colour = blue\n", "F:4: [port lab] colour: unknown key\n"},
	{PORT "mtu = 1500\nmtu = 1400\n",
	 "F:5: [port lab] mtu: duplicate key (first set on line 4)\n"},
	{PORT "[eal]\n[eal]\n", "F:5: [eal] duplicate section (first on line 4)\n"},
	{"[port lab]\naddress = 198.18.0.2/24\n",
	 "F:1: [port lab] device: required key is missing\n"},
	{"[eal]\nlcores = 0-1\n", "F: no [port NAME] section: at least one is required\n"},
	{PORT "mtu = big\n", "F:4: [port lab] mtu: 'big' is not a non-negative integer\n"},
	{PORT "mtu = -5\n", "F:4: [port lab] mtu: '-5' is not a non-negative integer\n"},
	{PORT "mtu = 99999\n", "F:4: [port lab] mtu: 99999 is out of range 68..9600\n"},
	{PORT "mtu = 1500x\n", "F:4: [port lab] mtu: '1500x' is not a non-negative integer\n"},
	{PORT "mtu = 99999999999999999999999\n",
	 "F:4: [port lab] mtu: '99999999999999999999999' is not a non-negative integer\n"},
	{PORT "garp = maybe\n", "F:4: [port lab] garp: 'maybe' is not yes or no\n"},
	{PORT "[eal]\nhugepages = sometimes\n",
	 "F:5: [eal] hugepages: 'sometimes' is not one of: auto, yes, no\n"},
	{PORT "[log]\nlevel = loud\n",
	 "F:5: [log] level: 'loud' is not one of: emergency, alert, critical, error, warning, "
	 "notice, info, debug\n"},
	{"[port lab]\ndevice = net_tap0\naddress = 198.18.0.2\n",
	 "F:3: [port lab] address: '198.18.0.2' is not ADDRESS/PREFIX (e.g. 198.18.0.2/24)\n"},
	{"[port lab]\ndevice = net_tap0\naddress = 198.18.0.300/24\n",
	 "F:3: [port lab] address: '198.18.0.300' is not an IPv4 address\n"},
	{"[port lab]\ndevice = net_tap0\naddress = 198.18.0.2/33\n",
	 "F:3: [port lab] address: prefix length '33' is not 1..32\n"},
	{PORT "gateway = nowhere\n", "F:4: [port lab] gateway: 'nowhere' is not an IPv4 address\n"},
	{PORT "mac = 02:00:00:00:00\n",
	 "F:4: [port lab] mac: '02:00:00:00:00' is not a MAC address like 02:00:00:00:00:01\n"},
	{PORT "mac = 02-00-00-00-00-01\n",
	 "F:4: [port lab] mac: '02-00-00-00-00-01' is not a MAC address like 02:00:00:00:00:01\n"},
	{PORT "mac = 02:00:00:00:00:+1\n",
	 "F:4: [port lab] mac: '02:00:00:00:00:+1' is not a MAC address like 02:00:00:00:00:01\n"},
	{PORT "mac = 01:00:5e:00:00:01\n",
	 "F:4: [port lab] mac: 01:00:5e:00:00:01 is a multicast address: a port needs a unicast "
	 "one\n"},
	{PORT "mac = 00:00:00:00:00:00\n",
	 "F:4: [port lab] mac: the all-zero address is not valid\n"},
	{"lcores = 1\n" PORT, "F:1: lcores: key outside any section\n"},
	{"[eal\n" PORT, "F:1: malformed section header (expected [name])\n"},
	{PORT "just words\n", "F:4: [port lab] expected 'key = value' or '[section]'\n"},
	{PORT " = 5\n", "F:4: [port lab] missing key before '='\n"},
	/* rte_cfgfile refuses a file with an empty value without saying where: the loader says */
	{PORT "mac =\n",
	 "F:4: [port lab] mac: empty value (leave the key out to get its default)\n"},
	{PORT "[eal]\nfile_prefix = a/b\n",
	 "F:5: [eal] file_prefix: 'a/b' may hold only letters, digits, '_', '.' and '-'\n"},
	{PORT "[eal]\nlcores = 0-x\n",
	 "F:5: [eal] lcores: '0-x' is not an lcore list like 1 or 1-3 or 1,3 (bad syntax)\n"},
	{PORT "[eal]\nlcores = 0-200\n",
	 "F:5: [eal] lcores: '0-200' is not an lcore list like 1 or 1-3 or 1,3 (lcore ids are "
	 "0..127)\n"},
	{PORT "[dataplane]\nlcores = 2\n",
	 "F:5: [dataplane] lcores: lcore 2 is not in eal lcores '0-1'\n"},
	{PORT "[dataplane]\nlcores = 0-1\n",
	 "F:5: [dataplane] lcores: lcore 0 is the main lcore, which runs the control plane\n"},
	{PORT "[eal]\nmain_lcore = 5\n",
	 "F:5: [eal] main_lcore: lcore 5 is not in eal lcores '0-1'\n"},
	{PORT "gateway = 10.0.0.1\n", "F:4: [port lab] gateway: outside the port's subnet\n"},
	{PORT "[port b]\ndevice = net_tap1\naddress = 198.18.0.2/24\n",
	 "F:6: [port b] address: the same address as [port lab]\n"},
	{PORT "[site /pkg]\nroot = relative/dir\n",
	 "F:5: [site /pkg] root: 'relative/dir' is not an absolute path\n"},
	{PORT "[site /pkg]\nroot = /nonexistent/authgate\n",
	 "F:5: [site /pkg] root: '/nonexistent/authgate' is not a directory\n"},
	{PORT "[site pkg]\nroot = /tmp\n",
	 "F:4: [site pkg] expected [site /PREFIX]: a URL path starting with '/', without '..', "
	 "blanks, '%', '?', '#' or '\\', at most 127 characters\n"},
	{PORT "[site /a/../b]\nroot = /tmp\n",
	 "F:4: [site /a/../b] expected [site /PREFIX]: a URL path starting with '/', without '..', "
	 "blanks, '%', '?', '#' or '\\', at most 127 characters\n"},
	{PORT "[site /pkg]\n", "F:4: [site /pkg] root: required key is missing\n"},
	{PORT "[site /app]\nroot = /tmp\nupstream = 198.18.0.1:80\n",
	 "F:5: [site /app] root: a site has either root or upstream, not both\n"},
	{PORT "[site /app]\nupstream = 198.18.0.1\n",
	 "F:5: [site /app] upstream: '198.18.0.1' is not HOST:PORT\n"},
	{PORT "[site /app]\nupstream = 198.18.0.1:80, 198.18.0.3:0\n",
	 "F:5: [site /app] upstream: '0' has no valid port (1-65535)\n"},
	{PORT "[site /app]\nupstream = no-such-host.invalid:80\n",
	 "F:5: [site /app] upstream: 'no-such-host.invalid' is neither an IPv4 address nor a name "
	 "that resolves\n"},
	{PORT "[site /app]\nupstream = 224.0.0.1:80\n",
	 "F:5: [site /app] upstream: '224.0.0.1' is not a unicast address\n"},
	{PORT "[site /app]\nupstream = 198.18.0.1:80\nidentity_header = X User\n",
	 "F:6: [site /app] identity_header: 'X User' is not a header field name\n"},
	{PORT "[site /app]\nupstream = 198.18.0.1:80\nupstream_prefix = app\n",
	 "F:6: [site /app] upstream_prefix: 'app' does not start with /\n"},
	{PORT "[site /pkg]\nroot = /tmp\nupstream_prefix = /x\n",
	 "F:6: [site /pkg] upstream_prefix: only a site with upstream may have it\n"},
	{PORT "[site /app]\nupstream = 198.18.0.1:80\nconnect_timeout_ms = 0\n",
	 "F:6: [site /app] connect_timeout_ms: 0 is out of range 10..600000\n"},
	/* a trailing '/' names the same site: two sections for it would split gate and store */
	{PORT "[site /secret]\nroot = /tmp\nauth = none\n[site /secret/]\nroot = /tmp\n",
	 "F:7: [site /secret/] the same site as [site /secret] (line 4)\n"},
	{PORT "[site /]\nroot = /tmp\n[site //]\nroot = /tmp\n",
	 "F:6: [site //] the same site as [site /] (line 4)\n"},
	{PORT "[diag]\necho_port = 80\n",
	 "F:5: [diag] echo_port: port 80 is also the [http] port\n"},
	{PORT "[port]\ndevice = x\naddress = 1.2.3.4/8\n",
	 "F:4: [port] expected [port NAME] with a NAME of at most 31 letters, digits, '_', '.' or "
	 "'-'\n"},
	{"[port a]\ndevice=d\naddress=1.0.0.1/8\n[port b]\ndevice=d\naddress=1.0.0.2/8\n"
	 "[port c]\ndevice=d\naddress=1.0.0.3/8\n[port d]\ndevice=d\naddress=1.0.0.4/8\n"
	 "[port e]\ndevice=d\naddress=1.0.0.5/8\n",
	 "F:13: [port e] too many [port] sections (at most 4)\n"},
	{PORT "[tcp]\nsyncookies = sometimes\n",
	 "F:5: [tcp] syncookies: 'sometimes' is not one of: auto, always, never\n"},
	{PORT "tso = yes\n", "F:4: [port lab] tso: 'yes' is not one of: auto, no\n"},
	{PORT "[tcp]\ntso_max_bytes = 1000\n",
	 "F:5: [tcp] tso_max_bytes: 1000 is out of range 2048..65535\n"},
	{PORT "[http]\nstore_threads = 65\n",
	 "F:5: [http] store_threads: 65 is out of range 0..64\n"},
	{PORT "[http]\nstore_queue = 0\n", "F:5: [http] store_queue: 0 is out of range 1..65536\n"},
	{PORT "[diag]\necho_port = 7\nchargen_port = 7\n",
	 "F:6: [diag] chargen_port: port 7 is also echo_port\n"},
	{PORT "[diag]\necho_port = 70000\n",
	 "F:5: [diag] echo_port: 70000 is out of range 0..65535\n"},
	{PORT "[site /pkg]\nroot = /tmp\nauth = negotiate\n",
	 "F:6: [site /pkg] auth: authentication needs at least one [trust REALM] section\n"},
	{PORT "[site /pkg]\nroot = /tmp\nauth = negotiate digest\n",
	 "F:6: [site /pkg] auth: 'digest' is not one of: none, negotiate, ntlm, basic, kerberos\n"},
	/* rules about who need someone to be known */
	{PORT "[site /pkg]\nroot = /tmp\nrequire_user = alice@X.TEST\n",
	 "F:4: [site /pkg] auth: a site with require_* rules must ask for authentication\n"},
	{PORT "[trust CORP]\nkind = ntlm\n",
	 "F:5: [trust CORP] netbios_name: an ntlm trust needs its NetBIOS domain name\n"},
	{PORT "[trust EXAMPLE.COM]\nkeytab = /nonexistent/http.keytab\n",
	 "F:5: [trust EXAMPLE.COM] keytab: cannot read '/nonexistent/http.keytab': No such file or "
	 "directory\n"},
	{PORT "[trust EXAMPLE.COM]\nmax_concurrent_api = 151\n",
	 "F:5: [trust EXAMPLE.COM] max_concurrent_api: 151 is out of range 1..150\n"},
	{PORT "[auth]\npersist_non_ntlm = perhaps\n",
	 "F:5: [auth] persist_non_ntlm: 'perhaps' is not yes or no\n"},
	{PORT "[auth]\nbasic_cache_ttl_s = 3601\n",
	 "F:5: [auth] basic_cache_ttl_s: 3601 is out of range 0..3600\n"},
	{PORT "[auth]\nbasic_cache_ttl_s = 5m\n",
	 "F:5: [auth] basic_cache_ttl_s: '5m' is not a non-negative integer\n"},
	{PORT "[auth]\nbasic_cache_entries = 8\n",
	 "F:5: [auth] basic_cache_entries: 8 is out of range 16..65536\n"},
	{PORT "[auth]\nbasic_cache_entries = 100000\n",
	 "F:5: [auth] basic_cache_entries: 100000 is out of range 16..65536\n"},
	/* a 48 KiB token (a large PAC) must fit in a request head */
	{PORT "[http]\nmax_header_bytes = 65536\n",
	 "F:5: [http] max_header_bytes: 65536 cannot hold a token of [auth] max_token_bytes = "
	 "49152: "
	 "at least 66560\n"},
	{PORT "[http]\naccess_log = relative.log\n",
	 "F:5: [http] access_log: 'relative.log' is not an absolute path\n"},
	{PORT "[http]\naccess_log = /nonexistent/dir/access.log\n",
	 "F:5: [http] access_log: directory '/nonexistent/dir' does not exist\n"},
	/* several errors are all reported, in file order within their section */
	{PORT "mtu = 1\nrx_desc = 1\n", "F:4: [port lab] mtu: 1 is out of range 68..9600\n"
					"F:5: [port lab] rx_desc: 1 is out of range 64..4096\n"},
};

static void
test_bad_inputs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct ag_config cfg;
		char *errs = NULL, *p;
		char expected[1024], path[512];
		const char *src = bad_cases[i].expected;
		size_t w = 0;

		snprintf(path, sizeof(path), "%s/t.ini", tmpdir);
		/* expand "F" at the start of each line to the file's path */
		for (const char *l = src; *l != '\0';) {
			const char *nl = strchr(l, '\n');
			size_t len = nl ? (size_t)(nl - l + 1) : strlen(l);
			assert_true(l[0] == 'F');
			w += snprintf(expected + w, sizeof(expected) - w, "%s%.*s", path,
				      (int)(len - 1), l + 1);
			l += len;
		}
		assert_int_equal(load_text(bad_cases[i].text, &cfg, &errs), -EINVAL);
		if (strcmp(errs, expected) != 0) {
			print_error("case %zu:\n%s\nexpected:\n%s\ngot:\n%s\n", i,
				    bad_cases[i].text, expected, errs);
			fail();
		}
		p = errs;
		free(p);
	}
}

static void
test_missing_file(void **state)
{
	struct ag_config cfg;
	char *errs = NULL;
	size_t len;
	FILE *err = open_memstream(&errs, &len);

	(void)state;
	assert_int_equal(ag_config_load("/nonexistent/authgate.ini", &cfg, err), -ENOENT);
	fclose(err);
	assert_string_equal(errs,
			    "/nonexistent/authgate.ini: cannot open: No such file or directory\n");
	free(errs);
}

static void
test_long_line(void **state)
{
	struct ag_config cfg;
	char *errs = NULL, *text = malloc(3000);

	(void)state;
	strcpy(text, PORT "extra_args = ");
	memset(text + strlen(text), 'x', 1500);
	text[strlen(PORT "extra_args = ") + 1500] = '\0';
	strcat(text, "\n");
	assert_int_equal(load_text(text, &cfg, &errs), -EINVAL);
	assert_non_null(strstr(errs, ":4: line longer than 1024 characters"));
	free(errs);
	free(text);
}

static void
test_eal_args(void **state)
{
	struct ag_config cfg;
	struct ag_eal_argv a;
	char *errs = NULL;
	char *extra[] = {"--log-level=authgate.dp:debug"};
	char line[1024] = "";

	(void)state;
	assert_int_equal(
		load_text("[eal]\nfile_prefix = p1\npci = no\nhugepages = auto\n"
			  "memory_mb = 256\nextra_args = --in-memory  --no-telemetry\n" PORT
			  "[port nic]\ndevice = 0000:03:00.1\naddress = 10.0.0.2/24\n",
			  &cfg, &errs),
		0);
	/* auto with too few free hugepages falls back to --no-huge */
	assert_int_equal(ag_eal_argv_build_ex(&cfg, "authgate", 1, extra, 100, &a), 0);
	for (int i = 0; i < a.argc; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s", i ? " " : "",
			 a.argv[i]);
	assert_string_equal(line, "authgate -l 0-1 --main-lcore=0 -m 256 --no-huge --no-pci "
				  "--file-prefix=p1 --log-level=*:info --vdev=net_tap0,iface=ag0 "
				  "--allow=0000:03:00.1 --in-memory --no-telemetry "
				  "--log-level=authgate.dp:debug");
	assert_null(a.argv[a.argc]);
	ag_eal_argv_free(&a);
	/* enough free hugepages: no --no-huge */
	assert_int_equal(ag_eal_argv_build_ex(&cfg, "authgate", 0, NULL, 1024, &a), 0);
	for (int i = 0; i < a.argc; i++)
		assert_string_not_equal(a.argv[i], "--no-huge");
	assert_string_equal(a.argv[6], "--huge-unlink");
	ag_eal_argv_free(&a);
	free(errs);
	errs = NULL;

	/* three lcores on two CPUs: pinned round robin */
	assert_int_equal(
		load_text("[eal]\nlcores = 0-2\ncpus = 0-1\n[dataplane]\nlcores = 1-2\n" PORT, &cfg,
			  &errs),
		0);
	assert_int_equal(ag_eal_argv_build_ex(&cfg, "authgate", 0, NULL, 0, &a), 0);
	assert_string_equal(a.argv[1], "--lcores=0@0,1@1,2@0");
	ag_eal_argv_free(&a);
	free(errs);
	errs = NULL;
	assert_int_not_equal(load_text("[eal]\ncpus = x\n" PORT, &cfg, &errs), 0);
	assert_non_null(strstr(errs, "[eal] cpus"));
	free(errs);
}

/* Control-plane threads: the process's CPUs less the dataplane's; else the main lcore's. */
static void
test_ctrl_cpus(void **state)
{
	cpu_set_t process, dataplane, main_cpus, out;

	(void)state;
	CPU_ZERO(&process);
	CPU_ZERO(&dataplane);
	CPU_ZERO(&main_cpus);
	for (int c = 0; c < 8; c++)
		CPU_SET(c, &process);
	CPU_SET(2, &dataplane);
	CPU_SET(3, &dataplane);
	CPU_SET(0, &main_cpus);
	/* 8 CPUs, lcores polling on 2 and 3: the other six, the main lcore's among them */
	assert_int_equal(ag_ctrl_cpus(&process, &dataplane, &main_cpus, &out), 6);
	assert_false(CPU_ISSET(2, &out));
	assert_false(CPU_ISSET(3, &out));
	assert_true(CPU_ISSET(0, &out) && CPU_ISSET(7, &out));
	/* CPUs outside the process's set (taskset, cgroups) are never handed out */
	CPU_CLR(7, &process);
	assert_int_equal(ag_ctrl_cpus(&process, &dataplane, &main_cpus, &out), 5);
	assert_false(CPU_ISSET(7, &out));
	/* every CPU polls: the main lcore's, as EAL left it */
	CPU_ZERO(&process);
	CPU_SET(2, &process);
	CPU_SET(3, &process);
	assert_int_equal(ag_ctrl_cpus(&process, &dataplane, &main_cpus, &out), 1);
	assert_true(CPU_ISSET(0, &out));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults), cmocka_unit_test(test_lab_config_is_valid),
		cmocka_unit_test(test_full_file),	 cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_missing_file),	 cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_eal_args),	 cmocka_unit_test(test_basic_cache_keys),
		cmocka_unit_test(test_group_table),	 cmocka_unit_test(test_ctrl_cpus),
	};
	int rc;

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(write_file("t.ini", ""));
	unlink(write_file("lab.ini", "")); /* test_lab_config's copy */
	rmdir(tmpdir);
	return rc;
}
