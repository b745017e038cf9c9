/* authgate-ctl's human output: telemetry values as aligned plain-text tables. */
#ifndef AG_APP_CTL_FMT_H
#define AG_APP_CTL_FMT_H

#include <stdbool.h>
#include <stdio.h>

#include "app/ctl_json.h"

/* Tables with at most this many entries show the entries as columns (ports side by side). */
#define CTL_FMT_MAX_SIDE_BY_SIDE 4

struct ctl_fmt_opts {
	bool hide_zero;	  /* a dict of scalars: leave out rows whose value is the number 0 */
	const char *keep; /* the row hide_zero never leaves out ("total"); may be NULL */
	/*
	 * The dict is a listing (neighbours, flows): its dict members are entries,
	 * one row each however few, after the scalar members (totals) as key/value rows.
	 */
	bool entity_rows;
	/*
	 * Header over the entry names when entries are rows. When every entry has
	 * a field of this name, the entries are keyed by position only and that
	 * field is shown as the name instead of the key.
	 */
	const char *row_label;
};

/*
 * Print v for a human: a scalar on one line; an array one item per line; a
 * dict of scalars as key/value rows; a dict of dicts as a table. Numbers are
 * printed exactly as received and right-aligned; control characters in
 * strings are escaped so a gateway's data cannot drive the terminal.
 * Returns 0, -ENOMEM or -EIO.
 */
int ctl_fmt_print(FILE *out, const struct ctl_json *v, const struct ctl_fmt_opts *opts);

#endif
