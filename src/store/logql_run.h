/*
 * Running LogQL (logql.h) over the store: log queries, metric queries over
 * time steps, and the label and series listings of the Loki API. Every
 * request is bounded: it reads at most max_scan rows, in one statement
 * over the time index, and a metric query is refused rather than answered
 * with counts that a cut-off scan would falsify.
 *
 * One function runs a whole request on a read-only store handle and
 * writes the answer's JSON, so the caller may run it on any thread that
 * owns such a handle.
 */
#ifndef SENTINEL_LOGQL_RUN_H
#define SENTINEL_LOGQL_RUN_H

#include <stdint.h>

#include "buf.h"
#include "logql.h"
#include "store.h"

enum logql_run_what {
	LOGQL_RUN_STREAMS,      /* a log query: entries in [start, end) */
	LOGQL_RUN_MATRIX,       /* a metric query at start, start + step, ..., end */
	LOGQL_RUN_VECTOR,       /* a metric query at end */
	LOGQL_RUN_LABELS,       /* the label names in [start, end) */
	LOGQL_RUN_LABEL_VALUES, /* the values of label in [start, end) */
	LOGQL_RUN_SERIES,       /* the label sets matching any of matches */
};

/* Loki's bounds: points of one series, series of one answer. */
#define LOGQL_MAX_POINTS 11000
#define LOGQL_MAX_SERIES 500

struct logql_request {
	enum logql_run_what what;
	const logql *query;    /* the query; for LABELS and LABEL_VALUES optional */
	const logql **matches; /* SERIES: the match[] selectors */
	size_t match_count;
	const char *label; /* LABEL_VALUES */
	int64_t start_us, end_us;
	int64_t step_us; /* MATRIX */
	int limit;       /* STREAMS: entries at most */
	int backward;    /* STREAMS: newest first */
	int max_scan;    /* rows read at most */
};

/*
 * Run req on st and append the JSON value of Loki's "data" member to out
 * (for example {"resultType":"streams","result":[...],"stats":{}}).
 * Returns 0; ERR_INVAL when the request is past its bounds (the message
 * says which, for a 400); ERR_NOMEM; or the store's error (a 503), with
 * the reason in errmsg.
 */
int logql_run(store *st, const struct logql_request *req, struct buf *out, char *errmsg);

#endif
