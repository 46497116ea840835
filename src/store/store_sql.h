/*
 * An auditor's SQL on a read-only store handle (POST /api/sql).
 *
 * One statement is run under an authorizer that allows reading the store's
 * tables and the events view, a list of functions (JSON, date and time,
 * aggregates, windows, math, text), read-only pragmas and recursive common
 * table expressions, and refuses everything else (writes, ATTACH, pragmas
 * that change state, load_extension, ...) with the reason. A time limit
 * (progress handler) and a row limit bound its cost; tighter SQLite limits
 * bound what one statement may build. The handle's settings are restored
 * afterwards, so that it can serve other work.
 *
 * The result is written as it is read, through a write function, in pieces
 * of about STORE_SQL_CHUNK bytes: as JSON ({"columns":[...],"rows":[[...]],
 * "row_count":N,"complete":true}), as JSON lines (one object a row) or as
 * CSV (a header line, then a line a row). Text is UTF-8 (bytes that are not
 * become U+FFFD), blobs are lowercase hex, a NULL is null (empty in CSV).
 */
#ifndef SENTINEL_STORE_SQL_H
#define SENTINEL_STORE_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_SQL_CHUNK (32 * 1024)

enum store_sql_format {
	STORE_SQL_JSON,
	STORE_SQL_NDJSON,
	STORE_SQL_CSV,
};

struct store_sql_limits {
	int64_t deadline_us; /* CLOCK_MONOTONIC µs; 0: none */
	int64_t timeout_us;  /* the time limit, for messages */
	int64_t max_rows;    /* more rows than this is an error */
};

/* Take a piece of output: returns 0 or an ERR_* code that stops the query. */
typedef int (*store_sql_write_fn)(const void *data, size_t len, void *arg);

/* Returns non-zero when nobody wants the result any more. */
typedef int (*store_sql_cancel_fn)(void *arg);

/*
 * Run sql (len bytes) on st (a read-only handle) and write its result in
 * format. Returns 0 when the whole result was written. Otherwise returns
 * ERR_INVAL (refused or not valid SQL: the reason in errmsg), ERR_TIMEOUT,
 * ERR_TOOBIG (more than max_rows rows), ERR_CLOSED (cancelled), an error of
 * write, or a store error, with the reason in errmsg; rows written before
 * the failure stay written, and in JSON the document is then finished with
 * "complete":false and "error", and 0 is returned, unless nothing was
 * written yet.
 */
int store_sql_run(store *st, const char *sql, size_t len, enum store_sql_format format,
		  const struct store_sql_limits *limits, store_sql_write_fn write,
		  store_sql_cancel_fn cancel, void *arg, char *errmsg);

#endif
