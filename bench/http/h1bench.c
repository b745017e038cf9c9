/* Instructions per request head: the parser against its version before the fast paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/callgrind.h>

#include "dataplane/http/h1.h"
#include "tests/fuzz/h1_oracle.h"

/*
 * usage: h1bench new|old HEAD N, under callgrind --instr-atstart=no (bench/http/callgrind.sh):
 * only the N parses are counted. The heads: what bench/tcp/reqbench sends, what curl sends,
 * and a browser's GET with Negotiate credentials and a cookie.
 */
static const char *const heads[] = {
	"GET /secure/f.bin HTTP/1.1\r\nHost: gw.authgate.test\r\n\r\n",
	"GET /pkg/sub/setup.cab HTTP/1.1\r\nHost: gw.authgate.test:8080\r\nUser-Agent: "
	"curl/7.88.1\r\nAccept: */*\r\n\r\n",
	"GET /pkg/sub/windows-update-kb5034441.cab HTTP/1.1\r\nHost: gw.authgate.test:8080\r\n"
	"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
	"Gecko) Chrome/120.0.0.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml,"
	"application/xml;q=0.9,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate, br\r\n"
	"Accept-Language: en-US,en;q=0.9\r\nConnection: keep-alive\r\nAuthorization: Negotiate "
	"YIIGhgYGKwYBBQUCoIIGejCCBnagMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYKKwYBBAGCNwICHgYKKwYBBAGC"
	"NwICCqKCBkAEggY8YIIGOAYJKoZIhvcSAQICAQBuggYnMIIGI6ADAgEFoQMCAQ6iBwMFACAAAACjggR\r\n"
	"Cookie: session=abcdef0123456789; theme=dark\r\n\r\n",
};

int
main(int argc, char **argv)
{
	static struct h1_request req;
	struct h1_parser p;
	unsigned long ok = 0, i, n;
	unsigned h;
	int old;

	if (argc != 4 || (strcmp(argv[1], "new") != 0 && strcmp(argv[1], "old") != 0) ||
	    (h = (unsigned)atoi(argv[2])) >= sizeof(heads) / sizeof(heads[0])) {
		fprintf(stderr, "usage: h1bench new|old HEAD(0-%zu) N\n",
			sizeof(heads) / sizeof(heads[0]) - 1);
		return 2;
	}
	old = strcmp(argv[1], "old") == 0;
	n = strtoul(argv[3], NULL, 10);
	CALLGRIND_START_INSTRUMENTATION;
	for (i = 0; i < n; i++) {
		if (old) {
			h1o_parser_init(&p, NULL);
			ok += h1o_parse(&p, heads[h], strlen(heads[h]), &req) == H1_OK;
		} else {
			h1_parser_init(&p, NULL);
			ok += h1_parse(&p, heads[h], strlen(heads[h]), &req) == H1_OK;
		}
	}
	CALLGRIND_STOP_INSTRUMENTATION;
	if (ok != n) {
		fprintf(stderr, "h1bench: head %u refused\n", h);
		return 1;
	}
	printf("head=%u bytes=%zu fields=%u parses=%lu\n", h, strlen(heads[h]), req.nheaders, n);
	return 0;
}
