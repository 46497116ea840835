/*
 * Auditors' SQL (store_sql.h). The authorizer is the gate: it sees every
 * table, column, function and pragma a statement touches while SQLite
 * prepares it, and only what is on the lists below passes. Two checks
 * stand behind it: the handle is read-only (opened so, and query_only),
 * and a statement SQLite does not call read-only is refused. The
 * authorizer stays set until the statement is finalized, since SQLite may
 * prepare it again.
 */
#include "store_sql.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "store_db.h"

/* Instructions between two looks at the clock. */
#define PROGRESS_STEPS 1000

/* Tables and views that may be read: the store's, and SQLite's table-valued
 * functions for JSON. Reading the events view reads journal through it. */
static const char *const readable[] = {
	"chain_deleted", "events",        "journal",       "json_each",       "json_tree",
	"meta",          "sqlite_master", "sqlite_schema", "sqlite_sequence",
};

/* Functions, by name: the JSON, date and time, aggregate, window, math and
 * text functions of SQLite, and nothing that loads code, reads files or
 * tells about the connection. */
static const char *const functions[] = {
	"->",
	"->>",
	"abs",
	"acos",
	"acosh",
	"asin",
	"asinh",
	"atan",
	"atan2",
	"atanh",
	"avg",
	"ceil",
	"ceiling",
	"char",
	"coalesce",
	"concat",
	"concat_ws",
	"cos",
	"cosh",
	"count",
	"cume_dist",
	"current_date",
	"current_time",
	"current_timestamp",
	"date",
	"datetime",
	"degrees",
	"dense_rank",
	"exp",
	"first_value",
	"floor",
	"format",
	"glob",
	"group_concat",
	"hex",
	"ifnull",
	"iif",
	"instr",
	"json",
	"json_array",
	"json_array_length",
	"json_each",
	"json_error_position",
	"json_extract",
	"json_group_array",
	"json_group_object",
	"json_insert",
	"json_object",
	"json_patch",
	"json_pretty",
	"json_quote",
	"json_remove",
	"json_replace",
	"json_set",
	"json_tree",
	"json_type",
	"json_valid",
	"julianday",
	"lag",
	"last_value",
	"lead",
	"length",
	"like",
	"likelihood",
	"likely",
	"ln",
	"log",
	"log10",
	"log2",
	"lower",
	"ltrim",
	"max",
	"min",
	"mod",
	"nth_value",
	"ntile",
	"nullif",
	"octet_length",
	"percent_rank",
	"pi",
	"pow",
	"power",
	"printf",
	"quote",
	"radians",
	"random",
	"randomblob",
	"rank",
	"replace",
	"round",
	"row_number",
	"rtrim",
	"sign",
	"sin",
	"sinh",
	"soundex",
	"sqlite_version",
	"sqrt",
	"strftime",
	"string_agg",
	"substr",
	"substring",
	"sum",
	"tan",
	"tanh",
	"time",
	"timediff",
	"total",
	"trim",
	"trunc",
	"typeof",
	"unhex",
	"unicode",
	"unixepoch",
	"unlikely",
	"upper",
	"zeroblob",
};

/* Pragmas that only read: with an argument, it names a table or index. */
static const char *const pragmas_named[] = {
	"collation_list", "compile_options", "database_list", "foreign_key_list", "function_list",
	"index_info",     "index_list",      "index_xinfo",   "module_list",      "pragma_list",
	"table_info",     "table_list",      "table_xinfo",
};

/* Pragmas that read a setting without an argument and set it with one. */
static const char *const pragmas_read[] = {
	"application_id", "auto_vacuum", "data_version", "encoding",       "freelist_count",
	"journal_mode",   "page_count",  "page_size",    "schema_version", "user_version",
};

/* SQLite's limits while a query runs: what one statement may build. */
static const struct {
	int id, value;
} query_limits[] = {
	{SQLITE_LIMIT_LENGTH, 32 * 1024 * 1024},
	{SQLITE_LIMIT_SQL_LENGTH, 100 * 1024},
	{SQLITE_LIMIT_COLUMN, 500},
	{SQLITE_LIMIT_EXPR_DEPTH, 200},
	{SQLITE_LIMIT_COMPOUND_SELECT, 50},
	{SQLITE_LIMIT_VDBE_OP, 250000},
	{SQLITE_LIMIT_FUNCTION_ARG, 100},
	{SQLITE_LIMIT_ATTACHED, 0},
	{SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000},
	{SQLITE_LIMIT_VARIABLE_NUMBER, 100},
	{SQLITE_LIMIT_TRIGGER_DEPTH, 1},
	{SQLITE_LIMIT_WORKER_THREADS, 0},
};
#define QUERY_LIMIT_COUNT (sizeof query_limits / sizeof query_limits[0])

struct run {
	sqlite3 *db;
	enum store_sql_format format;
	const struct store_sql_limits *limits;
	store_sql_write_fn write;
	store_sql_cancel_fn cancel;
	void *arg;
	char denied[256]; /* why the authorizer refused, first refusal only */
	int timed_out, cancelled;
	struct buf out; /* output not yet written */
	size_t written; /* bytes handed to write */
	int64_t rows;   /* rows read */
	int ncols;
	const char **names; /* column names (valid while the statement lives) */
	char *errmsg;
};

/* Whether name is on the list (a short one: a linear scan will do). */
static int
listed(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; name && i < n; i++)
		if (!strcasecmp(name, list[i]))
			return 1;
	return 0;
}

#define LISTED(name, list) listed(name, list, sizeof list / sizeof list[0])

static int
deny(struct run *r, const char *fmt, const char *a, const char *b)
{
	if (!r->denied[0])
		snprintf(r->denied, sizeof r->denied, fmt, a ? a : "", b ? b : "");
	return SQLITE_DENY;
}

/* SQLite's authorizer: allow what is on the lists, say why the rest is not. */
static int
authorize(void *arg, int action, const char *a1, const char *a2, const char *db, const char *view)
{
	struct run *r = arg;
	(void)db;
	(void)view;

	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_RECURSIVE:
		return SQLITE_OK;
	case SQLITE_READ:
		/* No column ("" for count(*)) reads nothing: it is also how a
		 * recursive common table expression is counted. */
		if (LISTED(a1, readable) || (a1 && !strncasecmp(a1, "pragma_", 7)) ||
		    (a2 && !a2[0]))
			return SQLITE_OK;
		return deny(r, "reading the table %s is not allowed%s", a1, NULL);
	case SQLITE_FUNCTION:
		if (LISTED(a2, functions))
			return SQLITE_OK;
		return deny(r, "the function %s is not allowed%s", a2, NULL);
	case SQLITE_PRAGMA:
		if (LISTED(a1, pragmas_named) || (!a2 && LISTED(a1, pragmas_read)))
			return SQLITE_OK;
		return deny(r, "PRAGMA %s%s is not allowed: only pragmas that read are", a1,
			    a2 ? " with a value" : "");
	case SQLITE_UPDATE:
		/* SQLite asks this while it sets up a table-valued function
		 * (json_each, pragma_table_info): no statement of ours can
		 * write, the handle being read-only. */
		if (a1 && (!strcmp(a1, "sqlite_master") || !strcmp(a1, "sqlite_temp_master")))
			return SQLITE_OK;
		return deny(r, "writing (UPDATE of %s) is not allowed: the connection only reads%s",
			    a1, NULL);
	case SQLITE_INSERT:
	case SQLITE_DELETE:
		if (a1 && (!strcmp(a1, "sqlite_master") || !strcmp(a1, "sqlite_temp_master")))
			return deny(r,
				    "changing the schema is not allowed: only SELECT (and WITH, "
				    "EXPLAIN, read-only PRAGMA) is%s%s",
				    NULL, NULL);
		return deny(r, "writing (%s) is not allowed: the connection only reads%s",
			    action == SQLITE_INSERT ? "INSERT" : "DELETE", NULL);
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		return deny(r, "ATTACH and DETACH are not allowed%s%s", NULL, NULL);
	case SQLITE_TRANSACTION:
	case SQLITE_SAVEPOINT:
		return deny(r, "transactions are not allowed: each query is its own%s%s", NULL,
			    NULL);
	default:
		return deny(r,
			    "this statement is not allowed: only SELECT (and WITH, EXPLAIN, "
			    "read-only PRAGMA) is%s%s",
			    NULL, NULL);
	}
}

/* SQLite's progress handler: stop at the deadline, or when cancelled. */
static int
progress(void *arg)
{
	struct run *r = arg;

	if (r->cancel && r->cancel(r->arg)) {
		r->cancelled = 1;
		return 1;
	}
	if (r->limits->deadline_us) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000 > r->limits->deadline_us) {
			r->timed_out = 1;
			return 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ output */

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* Append s (n bytes) as a JSON string. */
static int
json_text(struct buf *b, const unsigned char *s, size_t n)
{
	size_t i = 0, run = 0;
	int rc = buf_append(b, "\"", 1);

	while (!rc && i < n) {
		unsigned char c = s[i];
		size_t len = 1;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80 && (len = utf8_len(s + i, n - i))) {
			i += len;
			continue;
		}
		/* A byte that needs writing differently: flush the run first. */
		if ((rc = buf_append(b, s + run, i - run)))
			break;
		if (c == '"' || c == '\\')
			rc = buf_printf(b, "\\%c", c);
		else if (c == '\n')
			rc = buf_append(b, "\\n", 2);
		else if (c == '\t')
			rc = buf_append(b, "\\t", 2);
		else if (c < 0x20 || c == 0x7f)
			rc = buf_printf(b, "\\u%04x", c);
		else
			rc = buf_append(b, replacement, 3);
		run = ++i;
	}
	return rc || buf_append(b, s + run, n - run) || buf_append(b, "\"", 1) ? ERR_NOMEM : 0;
}

/* Append s (n bytes) as a CSV field, quoted when it must be. */
static int
csv_text(struct buf *b, const unsigned char *s, size_t n)
{
	int quote = n && (s[0] == ' ' || s[n - 1] == ' ');
	size_t i;

	for (i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (quote && buf_append(b, "\"", 1))
		return ERR_NOMEM;
	for (i = 0; i < n;) {
		size_t len = s[i] < 0x80 ? 1 : utf8_len(s + i, n - i);
		int rc;
		if (!len) {
			rc = buf_append(b, replacement, 3);
			len = 1;
		} else if (s[i] == '"') {
			rc = buf_append(b, "\"\"", 2);
		} else {
			rc = buf_append(b, s + i, len);
		}
		if (rc)
			return ERR_NOMEM;
		i += len;
	}
	return quote && buf_append(b, "\"", 1) ? ERR_NOMEM : 0;
}

static int
hex_blob(struct buf *b, const unsigned char *p, size_t n, int quoted)
{
	static const char digits[] = "0123456789abcdef";
	char pair[2];

	if (quoted && buf_append(b, "\"", 1))
		return ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		pair[0] = digits[p[i] >> 4];
		pair[1] = digits[p[i] & 0xf];
		if (buf_append(b, pair, 2))
			return ERR_NOMEM;
	}
	return quoted && buf_append(b, "\"", 1) ? ERR_NOMEM : 0;
}

/* Append column i of the current row as a JSON value or a CSV field. */
static int
value(struct run *r, sqlite3_stmt *s, int i)
{
	int csv = r->format == STORE_SQL_CSV;
	struct buf *b = &r->out;

	switch (sqlite3_column_type(s, i)) {
	case SQLITE_INTEGER:
		return buf_printf(b, "%lld", (long long)sqlite3_column_int64(s, i));
	case SQLITE_FLOAT:
		if (!isfinite(sqlite3_column_double(s, i)))
			return csv ? 0 : buf_append(b, "null", 4);
		/* SQLite's own spelling: shortest that reads back the same. */
		return buf_printf(b, "%s", (const char *)sqlite3_column_text(s, i));
	case SQLITE_TEXT: {
		const unsigned char *t = sqlite3_column_text(s, i);
		size_t n = (size_t)sqlite3_column_bytes(s, i);
		if (!t)
			return ERR_NOMEM;
		return csv ? csv_text(b, t, n) : json_text(b, t, n);
	}
	case SQLITE_BLOB:
		return hex_blob(b, sqlite3_column_blob(s, i), (size_t)sqlite3_column_bytes(s, i),
				!csv);
	default:
		return csv ? 0 : buf_append(b, "null", 4);
	}
}

/* Hand the output built so far to write. */
static int
flush(struct run *r)
{
	int rc;

	if (!r->out.len)
		return 0;
	if ((rc = r->write(r->out.data, r->out.len, r->arg)))
		return rc;
	r->written += r->out.len;
	r->out.len = 0;
	return 0;
}

static int
head(struct run *r)
{
	struct buf *b = &r->out;
	int rc = 0;

	if (r->format == STORE_SQL_NDJSON)
		return 0;
	if (r->format == STORE_SQL_JSON)
		rc = buf_append(b, "{\"columns\":[", 12);
	for (int i = 0; !rc && i < r->ncols; i++) {
		const char *name = r->names[i];
		size_t n = strlen(name);
		if (i)
			rc = buf_append(b, ",", 1);
		if (!rc)
			rc = r->format == STORE_SQL_CSV
				     ? csv_text(b, (const unsigned char *)name, n)
				     : json_text(b, (const unsigned char *)name, n);
	}
	if (!rc)
		rc = r->format == STORE_SQL_CSV ? buf_append(b, "\r\n", 2)
						: buf_append(b, "],\"rows\":[", 10);
	return rc ? ERR_NOMEM : 0;
}

static int
row(struct run *r, sqlite3_stmt *s)
{
	struct buf *b = &r->out;
	int rc = 0;

	if (r->format == STORE_SQL_JSON)
		rc = buf_append(b, r->rows ? ",[" : "[", r->rows ? 2 : 1);
	else if (r->format == STORE_SQL_NDJSON)
		rc = buf_append(b, "{", 1);
	for (int i = 0; !rc && i < r->ncols; i++) {
		if (i)
			rc = buf_append(b, ",", 1);
		if (!rc && r->format == STORE_SQL_NDJSON)
			rc = json_text(b, (const unsigned char *)r->names[i],
				       strlen(r->names[i])) ||
			     buf_append(b, ":", 1);
		if (!rc)
			rc = value(r, s, i);
	}
	if (!rc)
		rc = r->format == STORE_SQL_JSON     ? buf_append(b, "]", 1)
		     : r->format == STORE_SQL_NDJSON ? buf_append(b, "}\n", 2)
						     : buf_append(b, "\r\n", 2);
	return rc ? ERR_NOMEM : 0;
}

/* ------------------------------------------------------------ the run */

/* The code and message for a statement that failed to prepare or step. */
static int
sql_failure(struct run *r, int sqlite_rc)
{
	if (r->timed_out)
		return err_set(r->errmsg, ERR_TIMEOUT,
			       "the query ran past the time limit of %lld s (--sql-timeout)",
			       (long long)(r->limits->timeout_us / 1000000));
	if (r->cancelled)
		return err_set(r->errmsg, ERR_CLOSED, "the query was cancelled");
	if (r->denied[0])
		return err_set(r->errmsg, ERR_INVAL, "%s", r->denied);
	switch (sqlite_rc & 0xff) {
	case SQLITE_ERROR:
	case SQLITE_TOOBIG:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_AUTH:
	case SQLITE_READONLY:
		return err_set(r->errmsg, ERR_INVAL, "%s", sqlite3_errmsg(r->db));
	default:
		return store_db_fail(r->db, sqlite_rc, r->errmsg);
	}
}

/* Prepare the one statement of sql; more than one is refused. */
static int
prepare_one(struct run *r, const char *sql, size_t len, sqlite3_stmt **out)
{
	sqlite3_stmt *s = NULL, *extra = NULL;
	const char *tail;
	int rc;

	if (memchr(sql, '\0', len))
		return err_set(r->errmsg, ERR_INVAL, "the query holds a NUL byte");
	if (len > (size_t)sqlite3_limit(r->db, SQLITE_LIMIT_SQL_LENGTH, -1))
		return err_set(r->errmsg, ERR_INVAL, "the query is longer than %d bytes",
			       sqlite3_limit(r->db, SQLITE_LIMIT_SQL_LENGTH, -1));
	rc = sqlite3_prepare_v3(r->db, sql, (int)len, 0, &s, &tail);
	if (rc != SQLITE_OK)
		return sql_failure(r, rc);
	if (!s)
		return err_set(r->errmsg, ERR_INVAL, "the query holds no SQL statement");
	/* Whatever follows may only be comments, blanks and semicolons. */
	size_t rest = len - (size_t)(tail - sql);
	r->denied[0] = '\0';
	rc = sqlite3_prepare_v3(r->db, tail, (int)rest, 0, &extra, NULL);
	sqlite3_finalize(extra);
	if (rc != SQLITE_OK || extra) {
		sqlite3_finalize(s);
		return err_set(r->errmsg, ERR_INVAL, "send one SQL statement at a time");
	}
	if (!sqlite3_stmt_readonly(s)) {
		sqlite3_finalize(s);
		return err_set(r->errmsg, ERR_INVAL,
			       "the statement would write: only reading is "
			       "allowed");
	}
	*out = s;
	return 0;
}

/* Step through the rows, writing them as they come. */
static int
read_rows(struct run *r, sqlite3_stmt *s)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (r->rows == r->limits->max_rows)
			return err_set(r->errmsg, ERR_TOOBIG,
				       "the result has more than %lld rows (--sql-max-rows): "
				       "narrow the query or add a LIMIT",
				       (long long)r->limits->max_rows);
		if ((rc = row(r, s)))
			return err_set(r->errmsg, rc, "out of memory");
		r->rows++;
		if (r->out.len >= STORE_SQL_CHUNK && (rc = flush(r))) {
			if (rc == ERR_TIMEOUT)
				return err_set(r->errmsg, rc,
					       "the query ran past the time limit of %lld s "
					       "(--sql-timeout) while its answer was read",
					       (long long)(r->limits->timeout_us / 1000000));
			return err_set(r->errmsg, rc, "the answer could not be sent");
		}
	}
	return rc == SQLITE_DONE ? 0 : sql_failure(r, rc);
}

/* Finish the output after the rows, or after a failure (rc). */
static int
finish(struct run *r, int rc)
{
	if (!rc) {
		if (r->format == STORE_SQL_JSON &&
		    buf_printf(&r->out, "],\"row_count\":%lld,\"complete\":true}\n",
			       (long long)r->rows))
			return err_set(r->errmsg, ERR_NOMEM, "out of memory");
		return flush(r);
	}
	/* Nothing sent yet: the caller answers with the error instead. */
	if (!r->written || r->format != STORE_SQL_JSON || rc == ERR_CLOSED)
		return rc;
	/* Rows went out already: end the document, saying why it stops. */
	if (buf_printf(&r->out,
		       "],\"row_count\":%lld,\"complete\":false,\"error\":", (long long)r->rows) ||
	    json_text(&r->out, (const unsigned char *)r->errmsg, strlen(r->errmsg)) ||
	    buf_append(&r->out, "}\n", 2))
		return rc;
	return flush(r) ? rc : 0;
}

int
store_sql_run(store *st, const char *sql, size_t len, enum store_sql_format format,
	      const struct store_sql_limits *limits, store_sql_write_fn write,
	      store_sql_cancel_fn cancel, void *arg, char *errmsg)
{
	struct run r = {
		.db = store__db(st),
		.format = format,
		.limits = limits,
		.write = write,
		.cancel = cancel,
		.arg = arg,
		.errmsg = errmsg,
	};
	int saved[QUERY_LIMIT_COUNT];
	sqlite3_stmt *s = NULL;
	int rc;

	for (size_t i = 0; i < QUERY_LIMIT_COUNT; i++)
		saved[i] = sqlite3_limit(r.db, query_limits[i].id, query_limits[i].value);
	sqlite3_db_config(r.db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_set_authorizer(r.db, authorize, &r);
	sqlite3_progress_handler(r.db, PROGRESS_STEPS, progress, &r);

	if ((rc = prepare_one(&r, sql, len, &s)))
		goto out;
	r.ncols = sqlite3_column_count(s);
	if (!(r.names = calloc((size_t)(r.ncols ? r.ncols : 1), sizeof *r.names))) {
		rc = err_set(errmsg, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < r.ncols; i++) {
		r.names[i] = sqlite3_column_name(s, i);
		if (!r.names[i]) {
			rc = err_set(errmsg, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if ((rc = head(&r))) {
		rc = err_set(errmsg, rc, "out of memory");
		goto out;
	}
	rc = finish(&r, read_rows(&r, s));
out:
	sqlite3_finalize(s);
	sqlite3_progress_handler(r.db, 0, NULL, NULL);
	sqlite3_set_authorizer(r.db, NULL, NULL);
	for (size_t i = 0; i < QUERY_LIMIT_COUNT; i++)
		sqlite3_limit(r.db, query_limits[i].id, saved[i]);
	free(r.names);
	buf_free(&r.out);
	return rc;
}
