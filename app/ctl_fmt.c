/* Telemetry values to aligned text tables for authgate-ctl; --json bypasses all of this. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/ctl_fmt.h"

#define FMT_GAP	    "  "
#define FMT_MISSING "-"

struct fmt_cell {
	char *text; /* NULL: this entry has no such field */
	size_t width;
	bool num;
};

struct fmt_table {
	size_t rows, cols;
	bool header; /* row 0 names the columns */
	struct fmt_cell *cells;
};

/* Display columns: one per code point; the reader has already validated the UTF-8. */
static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/*
 * Principal names and addresses in replies can come from clients, so C0 and
 * C1 controls (ESC, CSI) are shown escaped rather than sent to the terminal.
 */
static char *
sanitize(const char *s, size_t len)
{
	char *out = malloc(len * 6 + 1), *w = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n') {
			w += sprintf(w, "\\n");
		} else if (c == '\t') {
			w += sprintf(w, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			w += sprintf(w, "\\x%02x", c);
		} else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0x9f) {
			w += sprintf(w, "\\u%04x", (unsigned char)s[i + 1]);
			i++;
		} else {
			*w++ = (char)c;
		}
	}
	*w = '\0';
	return out;
}

static char *
compact_json(const struct ctl_json *v)
{
	char *buf = NULL, *out;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	ctl_json_write(f, v, false);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	out = sanitize(buf, len);
	free(buf);
	return out;
}

/* The text a value shows in a cell or on a line of its own. */
static char *
value_text(const struct ctl_json *v)
{
	switch (v->type) {
	case CTL_JSON_NULL:
		return strdup("null");
	case CTL_JSON_BOOL:
		return strdup(v->boolean ? "true" : "false");
	case CTL_JSON_NUMBER:
		return strdup(v->num.text);
	case CTL_JSON_STRING:
		return sanitize(v->str.s, v->str.len);
	default:
		return compact_json(v);
	}
}

static int
table_init(struct fmt_table *t, size_t rows, size_t cols, bool header)
{
	t->rows = rows;
	t->cols = cols;
	t->header = header;
	t->cells = calloc(rows * cols > 0 ? rows * cols : 1, sizeof(*t->cells));
	return t->cells == NULL ? -ENOMEM : 0;
}

static void
table_free(struct fmt_table *t)
{
	for (size_t i = 0; i < t->rows * t->cols; i++)
		free(t->cells[i].text);
	free(t->cells);
	t->cells = NULL;
}

static int
cell_set_text(struct fmt_table *t, size_t r, size_t c, const char *s)
{
	struct fmt_cell *cell = &t->cells[r * t->cols + c];

	cell->text = sanitize(s, strlen(s));
	if (cell->text == NULL)
		return -ENOMEM;
	cell->width = text_width(cell->text);
	return 0;
}

static int
cell_set_value(struct fmt_table *t, size_t r, size_t c, const struct ctl_json *v)
{
	struct fmt_cell *cell = &t->cells[r * t->cols + c];

	cell->text = value_text(v);
	if (cell->text == NULL)
		return -ENOMEM;
	cell->width = text_width(cell->text);
	cell->num = v->type == CTL_JSON_NUMBER;
	return 0;
}

static void
pad(FILE *out, size_t n)
{
	while (n-- > 0)
		putc(' ', out);
}

/*
 * A column of numbers is right-aligned, header included. In a column that
 * mixes text and numbers (a port's driver above its counters) text starts at
 * the left edge and numbers are right-aligned among themselves, so their
 * digits still line up.
 */
static int
table_print(FILE *out, const struct fmt_table *t)
{
	size_t *col_w = calloc(t->cols, sizeof(*col_w));
	size_t *num_w = calloc(t->cols, sizeof(*num_w));
	bool *all_num = calloc(t->cols, sizeof(*all_num));
	int rc = -ENOMEM;

	if (col_w == NULL || num_w == NULL || all_num == NULL)
		goto cleanup;
	for (size_t c = 0; c < t->cols; c++) {
		bool any = false, only = true;

		for (size_t r = 0; r < t->rows; r++) {
			const struct fmt_cell *cell = &t->cells[r * t->cols + c];
			size_t w = cell->text ? cell->width : strlen(FMT_MISSING);

			if (w > col_w[c])
				col_w[c] = w;
			if (t->header && r == 0)
				continue;
			if (cell->num) {
				any = true;
				if (cell->width > num_w[c])
					num_w[c] = cell->width;
			} else if (cell->text != NULL) {
				only = false;
			}
		}
		all_num[c] = any && only;
	}

	for (size_t r = 0; r < t->rows; r++) {
		/* spaces are held back so that no line ends in blanks */
		size_t owed = 0;

		for (size_t c = 0; c < t->cols; c++) {
			const struct fmt_cell *cell = &t->cells[r * t->cols + c];
			const char *text = cell->text ? cell->text : FMT_MISSING;
			size_t w = cell->text ? cell->width : strlen(FMT_MISSING);
			size_t lead = 0, trail;

			if (*text == '\0') {
				owed += col_w[c] + strlen(FMT_GAP);
				continue;
			}
			if (all_num[c])
				lead = col_w[c] - w;
			else if (cell->num)
				lead = num_w[c] - w;
			trail = col_w[c] - w - lead;
			pad(out, owed + lead);
			fputs(text, out);
			owed = trail + strlen(FMT_GAP);
		}
		putc('\n', out);
	}
	rc = ferror(out) ? -EIO : 0;

cleanup:
	free(col_w);
	free(num_w);
	free(all_num);
	return rc;
}

static bool
row_hidden(const struct ctl_json_member *m, const struct ctl_fmt_opts *o)
{
	if (!o->hide_zero || !ctl_json_is_zero(m->value))
		return false;
	return o->keep == NULL || strcmp(m->key, o->keep) != 0;
}

/* Non-empty dicts inside a dict of scalars open an indented section of the same table. */
static bool
is_section(const struct ctl_json *v)
{
	return v->type == CTL_JSON_OBJECT && v->obj.n > 0;
}

static size_t
kv_rows(const struct ctl_json *v, const struct ctl_fmt_opts *o)
{
	size_t rows = 0;

	for (size_t i = 0; i < v->obj.n; i++) {
		const struct ctl_json_member *m = &v->obj.members[i];

		if (o != NULL && row_hidden(m, o))
			continue;
		rows += 1 + (is_section(m->value) ? kv_rows(m->value, NULL) : 0);
	}
	return rows;
}

/* o is NULL inside sections: hiding zero rows is for the top level (drops) only. */
static int
kv_fill(struct fmt_table *t, size_t *r, const struct ctl_json *v, const struct ctl_fmt_opts *o,
	unsigned int level)
{
	int rc = 0;

	for (size_t i = 0; i < v->obj.n && rc == 0; i++) {
		const struct ctl_json_member *m = &v->obj.members[i];
		char *key;

		if (o != NULL && row_hidden(m, o))
			continue;
		if (asprintf(&key, "%*s%s", (int)(2 * level), "", m->key) < 0)
			return -ENOMEM;
		rc = cell_set_text(t, *r, 0, key);
		free(key);
		if (rc != 0)
			break;
		if (is_section(m->value)) {
			rc = cell_set_text(t, (*r)++, 1, "");
			if (rc == 0)
				rc = kv_fill(t, r, m->value, NULL, level + 1);
		} else {
			rc = cell_set_value(t, (*r)++, 1, m->value);
		}
	}
	return rc;
}

static int
print_kv(FILE *out, const struct ctl_json *v, const struct ctl_fmt_opts *o)
{
	struct fmt_table t;
	size_t r = 0;
	int rc;

	rc = table_init(&t, kv_rows(v, o), 2, false);
	if (rc != 0)
		return rc;
	rc = kv_fill(&t, &r, v, o, 0);
	if (rc == 0)
		rc = table_print(out, &t);
	table_free(&t);
	return rc;
}

/* Inner keys in the order they are first seen: the gateway's order is meaningful. */
static int
field_union(const struct ctl_json *v, const char *skip, const char ***fields_out, size_t *n_out)
{
	size_t cap = 0, n = 0;
	const char **fields;

	for (size_t i = 0; i < v->obj.n; i++)
		cap += v->obj.members[i].value->obj.n;
	fields = calloc(cap ? cap : 1, sizeof(*fields));
	if (fields == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < v->obj.n; i++) {
		const struct ctl_json *inner = v->obj.members[i].value;

		for (size_t k = 0; k < inner->obj.n; k++) {
			const char *key = inner->obj.members[k].key;
			size_t j;

			if (skip != NULL && strcmp(key, skip) == 0)
				continue;
			for (j = 0; j < n; j++)
				if (strcmp(fields[j], key) == 0)
					break;
			if (j == n)
				fields[n++] = key;
		}
	}
	*fields_out = fields;
	*n_out = n;
	return 0;
}

/*
 * An entry that carries its own name (neighbours: "ip") under the row label
 * is keyed by position only, so that field replaces the key column.
 */
static bool
entries_named_by(const struct ctl_json *v, const char *field)
{
	if (field == NULL)
		return false;
	for (size_t e = 0; e < v->obj.n; e++) {
		const struct ctl_json *name = ctl_json_get(v->obj.members[e].value, field);

		if (name == NULL || !ctl_json_is_scalar(name))
			return false;
	}
	return true;
}

static int
print_dict_of_dicts(FILE *out, const struct ctl_json *v, const struct ctl_fmt_opts *o)
{
	bool side_by_side = !o->entity_rows && v->obj.n <= CTL_FMT_MAX_SIDE_BY_SIDE;
	const char *name_field = NULL;
	const char **fields = NULL;
	struct fmt_table t = {0};
	size_t nf;
	int rc;

	if (!side_by_side && entries_named_by(v, o->row_label))
		name_field = o->row_label;
	rc = field_union(v, name_field, &fields, &nf);
	if (rc != 0)
		return rc;
	if (side_by_side)
		rc = table_init(&t, nf + 1, v->obj.n + 1, true);
	else
		rc = table_init(&t, v->obj.n + 1, nf + 1, true);
	if (rc != 0)
		goto cleanup;

	rc = cell_set_text(&t, 0, 0, side_by_side ? "" : (o->row_label ? o->row_label : ""));
	for (size_t f = 0; f < nf && rc == 0; f++)
		rc = side_by_side ? cell_set_text(&t, f + 1, 0, fields[f])
				  : cell_set_text(&t, 0, f + 1, fields[f]);
	for (size_t e = 0; e < v->obj.n && rc == 0; e++) {
		const struct ctl_json_member *m = &v->obj.members[e];

		if (side_by_side)
			rc = cell_set_text(&t, 0, e + 1, m->key);
		else if (name_field != NULL)
			rc = cell_set_value(&t, e + 1, 0, ctl_json_get(m->value, name_field));
		else
			rc = cell_set_text(&t, e + 1, 0, m->key);
		for (size_t f = 0; f < nf && rc == 0; f++) {
			const struct ctl_json *fv = ctl_json_get(m->value, fields[f]);

			if (fv == NULL)
				continue;
			rc = side_by_side ? cell_set_value(&t, f + 1, e + 1, fv)
					  : cell_set_value(&t, e + 1, f + 1, fv);
		}
	}
	if (rc == 0)
		rc = table_print(out, &t);

cleanup:
	table_free(&t);
	free(fields);
	return rc;
}

/*
 * A listing (flows) is a few totals plus one member per entry: the totals as
 * key/value rows, a blank line, then the entries as a table. members are
 * borrowed, so the views are freed with free(), not ctl_json_free().
 */
static int
print_listing(FILE *out, const struct ctl_json *v, const struct ctl_fmt_opts *o)
{
	struct ctl_json totals = {.type = CTL_JSON_OBJECT};
	struct ctl_json entries = {.type = CTL_JSON_OBJECT};
	int rc = -ENOMEM;

	totals.obj.members = calloc(v->obj.n, sizeof(*totals.obj.members));
	entries.obj.members = calloc(v->obj.n, sizeof(*entries.obj.members));
	if (totals.obj.members == NULL || entries.obj.members == NULL)
		goto cleanup;
	for (size_t i = 0; i < v->obj.n; i++) {
		if (v->obj.members[i].value->type == CTL_JSON_OBJECT)
			entries.obj.members[entries.obj.n++] = v->obj.members[i];
		else
			totals.obj.members[totals.obj.n++] = v->obj.members[i];
	}
	rc = 0;
	if (totals.obj.n > 0)
		rc = print_kv(out, &totals, o);
	if (rc == 0 && totals.obj.n > 0 && entries.obj.n > 0)
		putc('\n', out);
	if (rc == 0 && entries.obj.n > 0)
		rc = print_dict_of_dicts(out, &entries, o);

cleanup:
	free(totals.obj.members);
	free(entries.obj.members);
	return rc;
}

static int
print_line(FILE *out, const struct ctl_json *v)
{
	char *text = value_text(v);

	if (text == NULL)
		return -ENOMEM;
	fprintf(out, "%s\n", text);
	free(text);
	return ferror(out) ? -EIO : 0;
}

int
ctl_fmt_print(FILE *out, const struct ctl_json *v, const struct ctl_fmt_opts *opts)
{
	static const struct ctl_fmt_opts defaults;
	const struct ctl_fmt_opts *o = opts ? opts : &defaults;
	bool all_dicts = true;
	int rc = 0;

	if (v->type == CTL_JSON_ARRAY) {
		for (size_t i = 0; i < v->arr.n && rc == 0; i++)
			rc = print_line(out, v->arr.items[i]);
		return rc;
	}
	if (v->type != CTL_JSON_OBJECT)
		return print_line(out, v);
	if (v->obj.n == 0)
		return 0;
	for (size_t i = 0; i < v->obj.n; i++)
		if (v->obj.members[i].value->type != CTL_JSON_OBJECT)
			all_dicts = false;
	if (all_dicts)
		return print_dict_of_dicts(out, v, o);
	return o->entity_rows ? print_listing(out, v, o) : print_kv(out, v, o);
}
