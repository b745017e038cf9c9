/* Site selection, shared by the auth gate and the content store. */
#include "dataplane/http/path.h"
#include "dataplane/http/site.h"

#include <string.h>

int
site_select(const struct site_conf *sites, unsigned int n, const char *path, size_t len,
	    long *rest_out)
{
	int best = -1;
	long best_rest = -1;

	/* longest prefix wins, so "/pkg/big" can be its own site inside "/pkg" */
	for (unsigned int i = 0; i < n; i++) {
		long r = path_strip_prefix(path, len, sites[i].prefix, strlen(sites[i].prefix));

		if (r >= 0 && (best < 0 || r > best_rest)) {
			best = (int)i;
			best_rest = r;
		}
	}
	if (rest_out != NULL)
		*rest_out = best_rest;
	return best;
}
