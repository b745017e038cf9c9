/* Request-target to filesystem-safe path: percent-decoding, normalisation, traversal refusal. */
#ifndef AG_DATAPLANE_HTTP_PATH_H
#define AG_DATAPLANE_HTTP_PATH_H

#include <stddef.h>

/*
 * Decodes and normalises an origin-form ("/a/b?q") or absolute-form ("http://h/a/b") target
 * into out: always starts with '/', no query, no "." segments, no empty segments.
 * Returns 0, -EINVAL (NUL or %00, "..", backslash, %2F, control bytes, bad %-escape, not a
 * path) or -ENAMETOOLONG (does not fit in out_size, NUL included).
 * A trailing '/' is kept: it names a directory, which the store refuses.
 */
int path_normalize(const char *target, size_t len, char *out, size_t out_size, size_t *len_out);

/*
 * If the normalised path lies under prefix (at a segment boundary: "/pkg" matches "/pkg" and
 * "/pkg/x", not "/pkgx"), returns the offset of the remainder ('/'-led or empty), else -1.
 * A prefix of "/" matches everything.
 */
long path_strip_prefix(const char *path, size_t len, const char *prefix, size_t prefix_len);

#endif
