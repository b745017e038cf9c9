/* libFuzzer target for the chunked body decoder: bounds, and the same answer however split. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/http/chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check(bool cond)
{
	if (!cond)
		abort();
}

struct run {
	enum chunked_rc rc;
	size_t consumed;
	uint64_t data_len;
	uint64_t data_hash;
};

/* Feeds buf in pieces of step bytes (0: whole), max_data room per call. */
static void
decode(const uint8_t *buf, size_t len, size_t step, size_t max_data, struct run *out)
{
	struct chunked c;
	size_t pos = 0, avail = 0;
	enum chunked_rc rc = CHUNKED_AGAIN;

	chunked_init(&c);
	memset(out, 0, sizeof(*out));
	out->data_hash = 1469598103934665603ull;
	while (pos < len) {
		size_t used, off, dlen;

		if (step == 0)
			avail = len;
		else if (avail < pos + step)
			avail = pos + step;
		if (avail > len)
			avail = len;
		rc = chunked_parse(&c, buf + pos, avail - pos, max_data, &used, &off, &dlen);
		fuzz_check(used <= avail - pos);
		if (rc == CHUNKED_DATA) {
			fuzz_check(dlen > 0 && dlen <= max_data && off + dlen == used);
			for (size_t i = 0; i < dlen; i++)
				out->data_hash =
					(out->data_hash ^ buf[pos + off + i]) * 1099511628211ull;
			out->data_len += dlen;
		} else {
			fuzz_check(dlen == 0);
		}
		pos += used;
		if (rc == CHUNKED_DONE || rc == CHUNKED_ERROR)
			break;
		if (rc == CHUNKED_AGAIN && avail == len && used == 0 && max_data > 0)
			break;
		if (rc == CHUNKED_AGAIN && avail == len && pos == len)
			break;
	}
	fuzz_check(c.data_total == out->data_len);
	out->rc = rc;
	out->consumed = pos;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, bytes, odd;

	decode(data, size, 0, 1u << 20, &whole);
	decode(data, size, 1, 1u << 20, &bytes);
	decode(data, size, 3, 5, &odd);
	/* where the body ends and what it holds never depend on how the bytes arrived */
	fuzz_check(whole.rc == bytes.rc && whole.rc == odd.rc);
	if (whole.rc == CHUNKED_DONE) {
		fuzz_check(whole.consumed == bytes.consumed && whole.consumed == odd.consumed);
		fuzz_check(whole.data_len == bytes.data_len && whole.data_len == odd.data_len);
		fuzz_check(whole.data_hash == bytes.data_hash && whole.data_hash == odd.data_hash);
		/* a body is never shorter than its framing: size line, CRLFs, last chunk */
		fuzz_check(whole.consumed >= whole.data_len + 5);
	}
	return 0;
}
