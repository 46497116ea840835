/*
 * LogQL, the query language of Loki, in the subset that covers how people
 * explore logs: parsing a query into a plan, and running its pipeline on
 * one event. Pure: no store and no network, so it is unit-tested and
 * fuzzed on its own; the store runs plans over time ranges (logql_run.h).
 *
 * How an event looks through LogQL: its line is its "message"; its labels
 * are "type" and every member of its "data" object whose name is a label
 * name ([A-Za-z_][A-Za-z0-9_]*) and whose value is a string, number or
 * boolean (numbers as written, up to 15 significant digits).
 *
 * The subset:
 *   log query     {matchers} stages...
 *     matchers    name = "v", != "v", =~ "re", !~ "re", separated by commas
 *     stages      |= "text"  != "text"  |~ "re"  !~ "re"   (line filters)
 *                 | json      (labels from the line's JSON, nested names
 *                              joined with _)
 *                 | logfmt    (labels from key=value pairs)
 *                 | name op value [and|, name op value]...
 *                             (op: = == != =~ !~ > >= < <=; value: "string"
 *                              or a number)
 *                 | drop name, ...
 *   metric query  count_over_time(LOG [DUR]), rate(...), bytes_over_time(...),
 *                 bytes_rate(...); optionally inside sum [by|without (l, ...)] (...)
 *                 (or with by/without after it); vector(N) [+ vector(N)]...
 * Regular expressions are POSIX extended ones; "(?i)" at the start makes
 * them case-insensitive and \d \w \s (and \D \W \S) are understood. A
 * matcher's regex must match the whole value, a line filter's anywhere,
 * as in Loki. Anything else is refused with a message saying what.
 */
#ifndef SENTINEL_LOGQL_H
#define SENTINEL_LOGQL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The longest query text accepted. */
#define LOGQL_QUERY_MAX 8192

typedef struct logql logql;

/* A set of labels: name/value pairs with unique names. */
struct logql_label {
	char *name, *value;
};
struct logql_labels {
	struct logql_label *v;
	size_t n, cap;
};

enum logql_kind {
	LOGQL_LOG,    /* a log query: streams of lines */
	LOGQL_METRIC, /* a range aggregation, maybe summed */
	LOGQL_VECTOR, /* a constant: vector(N) + ... */
};

enum logql_range_fn {
	LOGQL_COUNT_OVER_TIME,
	LOGQL_RATE,
	LOGQL_BYTES_OVER_TIME,
	LOGQL_BYTES_RATE,
};

/*
 * Parse a query. Returns the plan, or NULL with a message ("parse error:
 * ...", or what is not supported) in errmsg.
 */
logql *logql_parse(const char *text, char *errmsg);

void logql_free(logql *q);

enum logql_kind logql_kind(const logql *q);

/* LOGQL_METRIC: the function, its range in microseconds, and whether it is
 * summed (sum_by: labels kept; 0 = all dropped, see logql_group). */
enum logql_range_fn logql_range_fn(const logql *q);
int64_t logql_range_us(const logql *q);

/* LOGQL_VECTOR: its value. */
double logql_vector_value(const logql *q);

/*
 * The one "type" a log query's selector requires (type="x"), or NULL when
 * it does not pin one: the store then scans every type.
 */
const char *logql_type(const logql *q);

/*
 * Run the stream selector and the pipeline on one event (its JSON object,
 * with or without "id"). Returns 1 when it passes, with its labels (after
 * the pipeline) in *labels and its line, malloc'd for the caller to free,
 * in *line (line_len bytes and a NUL); 0 when it does not; ERR_NOMEM.
 * *labels is cleared first.
 */
int logql_eval(const logql *q, const char *json, size_t len, struct logql_labels *labels,
	       char **line, size_t *line_len);

/*
 * Only the selector (for /series and /labels): returns 1 when the event's
 * stream labels match, filled into *labels; 0; ERR_NOMEM. q may be NULL
 * (everything matches).
 */
int logql_eval_stream(const logql *q, const char *json, size_t len, struct logql_labels *labels);

/*
 * A metric query's series for an entry's labels: all of them, or what its
 * sum keeps (by: only these; without: all but these), into *out (cleared
 * first). Returns 0 or ERR_NOMEM.
 */
int logql_group(const logql *q, const struct logql_labels *labels, struct logql_labels *out);

/* Label sets. */
int logql_labels_set(struct logql_labels *ls, const char *name, const char *value,
		     size_t value_len);
const char *logql_labels_get(const struct logql_labels *ls, const char *name);
void logql_labels_clear(struct logql_labels *ls);
void logql_labels_free(struct logql_labels *ls);

/* Append the labels as a JSON object, sorted by name ({"a":"1","type":"x"}). */
int logql_labels_json(struct logql_labels *ls, struct buf *out);

/* Append s (len bytes, may hold NULs) as a JSON string literal. */
int logql_json_string(struct buf *out, const char *s, size_t len);

/*
 * Parse a Prometheus-style duration ("90s", "5m", "1h30m", "500ms", "1d",
 * "1w") into microseconds. Returns 0, or ERR_INVAL with *us_out untouched.
 */
int logql_duration(const char *text, size_t len, int64_t *us_out);

#endif
