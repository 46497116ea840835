/*
 * Read endpoints. Queries run on the loop's read-only store handle, each in
 * one short read transaction, and each bounded by its answer whatever the
 * size of the store: /api/events reads its page by index search (at most
 * QUERY_LIMIT_MAX events, store_list), /api/stats and /metrics read the
 * store's counters and a few single-row searches. Nothing here counts or
 * scans the journal, so these stay on the loop.
 */
#include "api.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "procinfo.h"
#include "query.h"
#include "reply.h"
#include "request.h"
#include "store_chain.h"
#include "version.h"
#include "wire.h"

struct api {
	struct api_sources src;
	int stopping;
};

api *
api_create(const struct api_sources *src)
{
	api *a = calloc(1, sizeof *a);

	if (!a)
		return NULL;
	a->src = *src;
	return a;
}

void
api_destroy(api *a)
{
	free(a);
}

void
api_stop(api *a)
{
	a->stopping = 1;
}

int
api_healthz(api *a, struct lws *wsi, struct reply *r)
{
	static const char ok[] = "{\"status\":\"ok\"}";
	const char *why = NULL;

	if (a->stopping)
		why = "the server is shutting down";
	else if (writer_state(a->src.writer))
		why = "the store cannot write";
	else if (a->src.ready)
		a->src.ready(a->src.hooks_arg, &why);
	if (!why)
		return reply_send(wsi, r, 200, "application/json", ok, sizeof ok - 1) ? -1 : 0;
	return reply_error(wsi, r, HTTP_STATUS_SERVICE_UNAVAILABLE, why, -1) ? -1 : 0;
}

struct list_out {
	struct buf *b;
	int64_t min_id, max_id;
	int first, failed;
};

static int
append_event(const struct store_row *row, void *arg)
{
	struct list_out *lo = arg;
	char head[WIRE_OVERHEAD];
	size_t n = wire_write(row->id, "{}", 2, head) - 1; /* "{"id":N," */

	if ((!lo->first && buf_append(lo->b, ",", 1)) || buf_append(lo->b, head, n) ||
	    buf_append(lo->b, row->body + 1, row->body_len - 1)) {
		lo->failed = 1;
		return 1;
	}
	lo->first = 0;
	if (!lo->min_id || row->id < lo->min_id)
		lo->min_id = row->id;
	if (row->id > lo->max_id)
		lo->max_id = row->id;
	return 0;
}

_Static_assert(QUERY_MAX_TYPES <= STORE_LIST_MAX_TYPES, "a page takes every type a query names");

/*
 * Read one page of GET /api/events into lo, on the loop. Every form is
 * bounded by its page (store_list reads it by index search), with one
 * exception: a time bound also reads the events of its id range whose
 * timestamps lie outside it, which are few unless events were stored long
 * out of time order (old events imported after newer ones). This is the
 * one place to hand such pages to a reader thread, should that matter.
 */
static int
read_page(api *a, const struct store_filter *f, struct list_out *lo, int *count)
{
	return store_list(a->src.reader, f, append_event, lo, count);
}

/* Queue a response body; returns the handlers' result. */
static int
send_body(struct lws *wsi, struct reply *r, const char *type, struct buf *b)
{
	int rc = reply_send(wsi, r, 200, type, b->data, b->len);
	buf_free(b);
	return rc ? -1 : 0;
}

static int
send_error(struct lws *wsi, struct reply *r, int status, const char *msg)
{
	return reply_error(wsi, r, status, msg, -1) ? -1 : 0;
}

int
api_events(api *a, struct lws *wsi, struct reply *r)
{
	char errmsg[ERRMSG_SIZE];
	struct query q;
	struct buf b = {0};
	struct list_out lo = {.b = &b, .first = 1};
	int count;

	if (request_parse_query(wsi, &q, query_set_list, errmsg))
		return send_error(wsi, r, 400, errmsg);

	struct store_filter f = {
		.after_id = q.has_after_id ? q.after_id : 0,
		.before_id = q.has_before_id ? q.before_id : 0,
		.has_since = q.has_since && q.since_us != QUERY_SINCE_ALL,
		.since_us = q.since_us,
		.has_until = q.has_until,
		.until_us = q.until_us,
		.types = q.types,
		.type_count = q.type_count,
		.limit = q.limit,
		.descending = q.descending,
	};
	if (q.has_before_id && q.before_id == 0) /* nothing is below id 0 */
		f.limit = 0;
	if (buf_append(&b, "{\"events\":[", 11) || read_page(a, &f, &lo, &count) || lo.failed) {
		log_error("GET /api/events failed: %s", store_errmsg(a->src.reader));
		buf_free(&b);
		return send_error(wsi, r, 503, "the store cannot be read");
	}
	/* next_after_id: where the next ascending page starts (every event
	 * exactly once); next_before_id: the same for descending pages. */
	int64_t next_after = lo.max_id ? lo.max_id : f.after_id;
	if (buf_printf(&b, "],\"next_after_id\":%lld", (long long)next_after) ||
	    (q.descending && lo.min_id &&
	     buf_printf(&b, ",\"next_before_id\":%lld", (long long)lo.min_id)) ||
	    buf_printf(&b, ",\"last_id\":%lld}", (long long)hub_last_id(a->src.hub))) {
		buf_free(&b);
		return send_error(wsi, r, 503, "out of memory");
	}
	return send_body(wsi, r, "application/json", &b);
}

static void
append_type_count(const char *type, int64_t count, void *arg)
{
	struct buf *b = arg;
	if (b->data[b->len - 1] != '{')
		buf_append(b, ",", 1);
	buf_json_string(b, type);
	buf_printf(b, ":%lld", (long long)count);
}

int
api_stats(api *a, struct lws *wsi, struct reply *r)
{
	struct store_stats st;
	struct store_chain_ends ends;
	struct writer_stats ws;
	struct cursor_stats ls;
	char head[CHAIN_HEX_SIZE], anchor[CHAIN_HEX_SIZE];
	struct buf b = {0};
	int rc;

	if (store_stats(a->src.reader, &st) || store_chain_ends(a->src.reader, &ends)) {
		log_error("GET /api/stats failed: %s", store_errmsg(a->src.reader));
		return send_error(wsi, r, 503, "the store cannot be read");
	}
	writer_get_stats(a->src.writer, &ws);
	cursor_set_get_stats(a->src.cursors, &ls);
	rc = buf_printf(&b,
			"{\"version\":\"%s\",\"epoch\":\"%s\",\"count\":%lld,"
			"\"first_id\":%lld,\"last_id\":%lld,\"first_timestamp\":",
			SENTINEL_VERSION, store_epoch(a->src.reader), (long long)st.count,
			(long long)st.first_id, (long long)st.last_id);
	rc = rc || (st.first_ts[0] ? buf_json_string(&b, st.first_ts) : buf_printf(&b, "null"));
	rc = rc || buf_printf(&b, ",\"last_timestamp\":");
	rc = rc || (st.last_ts[0] ? buf_json_string(&b, st.last_ts) : buf_printf(&b, "null"));
	rc = rc || buf_printf(&b, ",\"types\":{");
	rc = rc || store_type_counts(a->src.reader, append_type_count, &b);
	rc = rc ||
	     buf_printf(&b,
			"},\"store_bytes\":%lld,\"wal_bytes\":%lld,\"free_bytes\":%lld,"
			"\"subscribers\":%u,\"ingested\":%llu,\"commits\":%llu,"
			"\"deliveries\":%llu,\"sync\":\"%s\",",
			(long long)st.db_bytes, (long long)st.wal_bytes, (long long)st.free_bytes,
			ls.cursors, (unsigned long long)ws.events, (unsigned long long)ws.commits,
			(unsigned long long)ls.deliveries, a->src.sync_full ? "full" : "normal");
	chain_hex(ends.head_hash, head);
	chain_hex(ends.anchor_hash, anchor);
	rc = rc || buf_printf(&b,
			      "\"chain\":{\"head_id\":%lld,\"head_hash\":\"%s\",\"anchor_id\":%lld,"
			      "\"anchor_hash\":\"%s\"}}",
			      (long long)ends.head_id, head, (long long)ends.anchor_id, anchor);
	if (rc) {
		buf_free(&b);
		return send_error(wsi, r, 503, "the store cannot be read");
	}
	return send_body(wsi, r, "application/json", &b);
}

/* One metric family: its HELP and TYPE lines and a single sample. */
static int
metric(struct buf *b, const char *name, const char *type, const char *help, double value)
{
	return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name,
			  value);
}

/* The standard process metrics of Prometheus clients (process_*). */
static int
process_metrics(struct buf *b)
{
	struct procinfo pi;

	if (procinfo_read(&pi))
		return 0; /* /proc unreadable: leave them out rather than fail */
	return metric(b, "process_cpu_seconds_total", "counter",
		      "Total user and system CPU time spent in seconds.", pi.cpu_seconds) ||
	       metric(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
		      (double)pi.resident_bytes) ||
	       metric(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
		      (double)pi.virtual_bytes) ||
	       metric(b, "process_open_fds", "gauge", "Number of open file descriptors.",
		      (double)pi.open_fds) ||
	       metric(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
		      (double)pi.max_fds) ||
	       metric(b, "process_start_time_seconds", "gauge",
		      "Start time of the process since unix epoch in seconds.", pi.start_time);
}

/*
 * What the store holds, from cheap sources only: the count the writer keeps
 * (read from the store's counters at its start, then moved by every commit
 * and retention step; -1 if they could not be read) and the oldest
 * timestamp, which is one index seek. A gauge without a value is left out.
 */
static int
store_metrics(struct buf *b, int64_t stored, int has_oldest, int64_t oldest_us)
{
	if (stored >= 0 &&
	    metric(b, "sentinel_events_stored", "gauge", "Events in the store.", (double)stored))
		return ERR_NOMEM;
	if (has_oldest && metric(b, "sentinel_oldest_event_timestamp_seconds", "gauge",
				 "Timestamp of the oldest event in the store, in seconds since "
				 "1970 (UTC).",
				 (double)oldest_us / 1e6))
		return ERR_NOMEM;
	return 0;
}

int
api_metrics(api *a, struct lws *wsi, struct reply *r)
{
	static const double bounds[] = WRITER_LATENCY_BOUNDS;
	struct store_sizes st;
	struct writer_stats ws;
	struct cursor_stats ls;
	struct idem_stats ks;
	struct buf b = {0};
	int64_t oldest_us = 0;
	int rc, has_oldest = 0;

	/* Only cheap reads here: scrapers call this often, on the loop. */
	if (store_sizes(a->src.reader, &st) ||
	    (has_oldest = store_oldest_ts(a->src.reader, &oldest_us)) < 0) {
		log_error("GET /metrics failed: %s", store_errmsg(a->src.reader));
		return send_error(wsi, r, 503, "the store cannot be read");
	}
	writer_get_stats(a->src.writer, &ws);
	cursor_set_get_stats(a->src.cursors, &ls);
	idem_get_stats(a->src.keys, &ks);
	rc = buf_printf(&b,
			"# HELP sentinel_build_info The version of sentinel-logd, as a label.\n"
			"# TYPE sentinel_build_info gauge\n"
			"sentinel_build_info{version=\"%s\"} 1\n",
			SENTINEL_VERSION) ||
	     process_metrics(&b) ||
	     metric(&b, "sentinel_events_ingested_total", "counter",
		    "Events committed to the store since start.", (double)ws.events) ||
	     metric(&b, "sentinel_commits_total", "counter",
		    "Group-commit transactions since start.", (double)ws.commits) ||
	     metric(&b, "sentinel_ingest_failed_batches_total", "counter",
		    "Ingest batches refused because the store could not write.",
		    (double)ws.failed) ||
	     metric(&b, "sentinel_deliveries_total", "counter",
		    "Event messages sent to subscribers.", (double)ls.deliveries) ||
	     metric(&b, "sentinel_replay_rows_total", "counter",
		    "Events read from the store for subscribers that were behind.",
		    (double)ls.replay_rows) ||
	     metric(&b, "sentinel_retention_deleted_total", "counter",
		    "Events removed by retention since start.", (double)ws.retention_deleted) ||
	     metric(&b, "sentinel_idempotent_replays_total", "counter",
		    "Ingest requests answered with the answer of an earlier request with the "
		    "same Idempotency-Key.",
		    (double)ks.replays) ||
	     metric(&b, "sentinel_idempotency_conflicts_total", "counter",
		    "Ingest requests refused because their Idempotency-Key was another "
		    "request's (422).",
		    (double)ks.conflicts) ||
	     metric(&b, "sentinel_idempotency_busy_total", "counter",
		    "Ingest requests refused because too many waited for one Idempotency-Key "
		    "(409).",
		    (double)ks.busy) ||
	     metric(&b, "sentinel_idempotency_keys_expired_total", "counter",
		    "Idempotency keys deleted once older than --idempotency-window.",
		    (double)ws.keys_expired) ||
	     metric(&b, "sentinel_subscribers", "gauge",
		    "Connected subscribers (/ws/logs, /loki/api/v1/tail, /api/stream).",
		    (double)ls.cursors) ||
	     metric(&b, "sentinel_ingest_connections", "gauge", "Connected /ws/ingest producers.",
		    (double)ws_ingest_count(a->src.producers)) ||
	     metric(&b, "sentinel_last_id", "gauge", "Highest id committed.",
		    (double)hub_last_id(a->src.hub)) ||
	     metric(&b, "sentinel_store_bytes", "gauge", "Size of the store file.",
		    (double)st.db_bytes) ||
	     metric(&b, "sentinel_wal_bytes", "gauge", "Size of the write-ahead log.",
		    (double)st.wal_bytes) ||
	     store_metrics(&b, ws.stored, has_oldest, oldest_us);
	rc = rc || buf_printf(&b, "# HELP sentinel_commit_duration_seconds Time to commit one "
				  "group of batches, fsync included.\n"
				  "# TYPE sentinel_commit_duration_seconds histogram\n");
	for (int i = 0; !rc && i < WRITER_LATENCY_BUCKETS; i++)
		rc = buf_printf(&b, "sentinel_commit_duration_seconds_bucket{le=\"%g\"} %llu\n",
				bounds[i], (unsigned long long)ws.latency_le[i]);
	rc = rc || buf_printf(&b,
			      "sentinel_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
			      "sentinel_commit_duration_seconds_sum %.9f\n"
			      "sentinel_commit_duration_seconds_count %llu\n",
			      (unsigned long long)ws.latency_count, ws.latency_sum,
			      (unsigned long long)ws.latency_count);
	rc = rc || buf_printf(&b, "# HELP sentinel_requests_rejected_total Requests and upgrades "
				  "refused, by reason.\n"
				  "# TYPE sentinel_requests_rejected_total counter\n");
	for (int i = 0; !rc && i < REJECTS_REASONS; i++)
		rc = buf_printf(
			&b, "sentinel_requests_rejected_total{reason=\"%s\"} %llu\n",
			rejects_reason_name((enum rejects_reason)i),
			(unsigned long long)rejects_count(a->src.rejects, (enum rejects_reason)i));
	rc = rc || (a->src.metrics && a->src.metrics(a->src.hooks_arg, &b));
	if (rc) {
		buf_free(&b);
		return send_error(wsi, r, 503, "out of memory");
	}
	return send_body(wsi, r, "text/plain; version=0.0.4; charset=utf-8", &b);
}

/* Go on checking while someone wants the answer. */
static int
verify_wanted(void *arg)
{
	return !readpool_cancelled(arg);
}

/* The check, on a reader thread: one JSON object. */
static int
run_verify(store *st, readpool_job *job, void *arg, char *errmsg)
{
	struct store_chain_report report;
	struct buf b = {0};
	int rc;

	(void)arg;
	if ((rc = store_chain_verify(st, verify_wanted, job, &report))) {
		snprintf(errmsg, ERRMSG_SIZE, "%s", store_errmsg(st));
		return rc;
	}
	if (store_chain_report_json(&report, &b) || buf_append(&b, "\n", 1)) {
		buf_free(&b);
		return err_set(errmsg, ERR_NOMEM, "out of memory");
	}
	rc = readpool_write(job, b.data, b.len);
	buf_free(&b);
	if (rc)
		return err_set(errmsg, rc, "the answer could not be sent");
	return 0;
}

int
api_verify(api *a, struct lws *wsi, struct reply *r, struct reply_stream **stream)
{
	return reply_stream_start(wsi, r, a->src.pool, "application/json",
				  &(struct readpool_job_options){
					  .run = run_verify,
					  .buffer = 64 * 1024,
				  },
				  stream);
}
