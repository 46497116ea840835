/*
 * The read side of the Loki HTTP API, so that Grafana's Loki data source,
 * logcli and Loki's client libraries work against the store:
 * GET /loki/api/v1/query_range, /query, /labels, /label/NAME/values,
 * /series, /status/buildinfo, and GET /ready. Queries are LogQL (logql.h),
 * run on the loop's read-only store handle by logql_run(), each bounded by
 * max_scan rows. Answers have Loki's shapes; errors are Loki's plain-text
 * ones with a 400. (The push is http_ingest.c's, the tail ws_logs.c's.)
 */
#ifndef SENTINEL_LOKI_H
#define SENTINEL_LOKI_H

#include <stdint.h>

#include "store.h"

struct lws;
struct reply;
typedef struct loki loki;

/* The endpoint over the loop's read-only handle. NULL when out of memory. */
loki *loki_create(store *reader, int max_scan);
void loki_destroy(loki *l);

/*
 * Answer GET path (a /loki/api/v1/ path other than push and tail, or
 * /ready). Returns 0, or -1 to close the connection.
 */
int loki_serve(loki *l, struct lws *wsi, struct reply *r, const char *path);

/*
 * Parse a Loki time parameter: nanoseconds since the epoch (more than 10
 * digits), seconds (up to 10 digits, or with a fraction) or RFC 3339, into
 * microseconds. Returns 0, or ERR_INVAL with *us_out untouched.
 */
int loki_parse_time(const char *text, int64_t *us_out);

#endif
