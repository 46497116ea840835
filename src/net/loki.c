/*
 * Loki's read endpoints (see loki.h). Each request's parameters are read
 * into one struct, its query parsed, and the whole request handed to
 * logql_run() in one call: the only place a query runs, so that it can
 * move to another thread with its own store handle without changing the
 * endpoints.
 */
#include "loki.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "logql.h"
#include "logql_run.h"
#include "mapping.h"
#include "reply.h"
#include "request.h"
#include "timestamp.h"
#include "version.h"

/* Entries a log query returns at most (Loki's max_entries_limit_per_query). */
#define LOKI_LIMIT_MAX 5000
/* match[] selectors of one /series request. */
#define LOKI_MATCH_MAX 16

#define HOUR_US (3600LL * 1000000)

struct loki {
	store *reader;
	int max_scan;
};

loki *
loki_create(store *reader, int max_scan)
{
	loki *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	l->reader = reader;
	l->max_scan = max_scan;
	return l;
}

void
loki_destroy(loki *l)
{
	free(l);
}

int
loki_parse_time(const char *text, int64_t *us_out)
{
	size_t len = strlen(text), digits = strspn(text, "0123456789");

	if (!len)
		return ERR_INVAL;
	if (digits == len)
		return mapping_epoch_us(text, len, len <= 10 ? MAPPING_UNIT_S : MAPPING_UNIT_NS,
					us_out);
	if (text[digits] == '.' && strspn(text + digits + 1, "0123456789") == len - digits - 1)
		return mapping_epoch_us(text, len, MAPPING_UNIT_S, us_out);
	return timestamp_parse(text, len, us_out);
}

/* A step: a duration ("30s") or seconds ("30", "0.5"). */
static int
parse_step(const char *text, int64_t *us_out)
{
	size_t len = strlen(text);

	if (len && strspn(text, "0123456789.") == len)
		return mapping_epoch_us(text, len, MAPPING_UNIT_S, us_out) || !*us_out ? ERR_INVAL
										       : 0;
	return logql_duration(text, len, us_out);
}

/* The parameters of one request, as given. */
struct params {
	char *errmsg;
	char query[LOGQL_QUERY_MAX + 1];
	int has_query, has_start, has_end, has_since, has_time, has_step;
	int64_t start, end, since, time, step;
	int limit;
	int backward;
	logql *matches[LOKI_MATCH_MAX];
	size_t match_count;
};

static int
bad_param(struct params *p, const char *name, const char *value, const char *want)
{
	return err_set(p->errmsg, ERR_INVAL, "invalid parameter '%s' (%.64s): %s", name, value,
		       want);
}

static int
take_param(const char *name, const char *value, void *arg)
{
	struct params *p = arg;

	if (!strcmp(name, "query")) {
		if (strlen(value) > LOGQL_QUERY_MAX)
			return bad_param(p, name, "...", "too long");
		strcpy(p->query, value);
		p->has_query = 1;
	} else if (!strcmp(name, "start")) {
		if (loki_parse_time(value, &p->start))
			return bad_param(p, name, value, "expected a time");
		p->has_start = 1;
	} else if (!strcmp(name, "end")) {
		if (loki_parse_time(value, &p->end))
			return bad_param(p, name, value, "expected a time");
		p->has_end = 1;
	} else if (!strcmp(name, "time")) {
		if (loki_parse_time(value, &p->time))
			return bad_param(p, name, value, "expected a time");
		p->has_time = 1;
	} else if (!strcmp(name, "since")) {
		if (logql_duration(value, strlen(value), &p->since))
			return bad_param(p, name, value, "expected a duration");
		p->has_since = 1;
	} else if (!strcmp(name, "step")) {
		if (parse_step(value, &p->step))
			return bad_param(p, name, value, "expected a duration or seconds");
		p->has_step = 1;
	} else if (!strcmp(name, "limit")) {
		char *end;
		long n = strtol(value, &end, 10);
		if (*end || end == value || n < 0)
			return bad_param(p, name, value, "expected a number of entries");
		if (n > LOKI_LIMIT_MAX)
			return err_set(p->errmsg, ERR_INVAL,
				       "max entries limit per query exceeded, limit > "
				       "max_entries_limit (%ld > %d)",
				       n, LOKI_LIMIT_MAX);
		p->limit = (int)n;
	} else if (!strcmp(name, "direction")) {
		if (!strcmp(value, "forward") || !strcmp(value, "FORWARD"))
			p->backward = 0;
		else if (!strcmp(value, "backward") || !strcmp(value, "BACKWARD"))
			p->backward = 1;
		else
			return bad_param(p, name, value, "expected forward or backward");
	} else if (!strcmp(name, "match[]") || !strcmp(name, "match")) {
		if (p->match_count == LOKI_MATCH_MAX)
			return err_set(p->errmsg, ERR_INVAL, "at most %d match[] selectors",
				       LOKI_MATCH_MAX);
		logql *q = logql_parse(value, p->errmsg);
		if (!q)
			return ERR_INVAL;
		p->matches[p->match_count++] = q;
		if (logql_kind(q) != LOGQL_LOG || q == NULL)
			return err_set(p->errmsg, ERR_INVAL, "match[] takes a stream selector");
	}
	/* Others (interval, delay_for, token, ...) do not change the answer. */
	return 0;
}

/* [start, end) from the parameters, the start defaulting to back_us before end. */
static int
time_range(struct params *p, int64_t back_us, int64_t *start, int64_t *end)
{
	*end = p->has_end ? p->end : timestamp_now();
	*start = p->has_start ? p->start : *end - (p->has_since ? p->since : back_us);
	if (*end < *start)
		return err_set(p->errmsg, ERR_INVAL,
			       "the query time range is invalid: the end is before the start");
	return 0;
}

/* Send {"status":"success","data":<b>}; b is freed. */
static int
send_success(struct lws *wsi, struct reply *r, struct buf *b)
{
	struct buf out = {0};
	int rc = buf_printf(&out, "{\"status\":\"success\",\"data\":") ||
		 buf_append(&out, b->data ? b->data : "null", b->data ? b->len : 4) ||
		 buf_append(&out, "}", 1);

	buf_free(b);
	if (!rc)
		rc = reply_send(wsi, r, 200, "application/json", out.data, out.len);
	buf_free(&out);
	return rc ? -1 : 0;
}

static int
send_error(struct lws *wsi, struct reply *r, int status, const char *msg)
{
	return reply_text(wsi, r, status, msg) ? -1 : 0;
}

/* Run req and answer with its data or its error. */
static int
run(loki *l, struct lws *wsi, struct reply *r, struct logql_request *req)
{
	char errmsg[ERRMSG_SIZE];
	struct buf b = {0};
	int rc;

	req->max_scan = l->max_scan;
	rc = logql_run(l->reader, req, &b, errmsg);
	if (rc) {
		buf_free(&b);
		if (rc != ERR_INVAL)
			log_error("a Loki query failed: %s", errmsg);
		return send_error(wsi, r, rc == ERR_INVAL ? 400 : 503, errmsg);
	}
	return send_success(wsi, r, &b);
}

/* The default step: about 250 points over the range, at least a second. */
static int64_t
default_step(int64_t start, int64_t end)
{
	int64_t s = (end - start) / 250;
	s = (s + 999999) / 1000000 * 1000000;
	return s < 1000000 ? 1000000 : s;
}

static int
query_range(loki *l, struct lws *wsi, struct reply *r, struct params *p, logql *q, int instant)
{
	struct logql_request req = {.query = q, .limit = p->limit, .backward = p->backward};

	if (instant) {
		if (logql_kind(q) == LOGQL_LOG)
			return send_error(wsi, r, 400,
					  "log queries are not supported as an instant query type, "
					  "please change your query to a range query type");
		req.what = LOGQL_RUN_VECTOR;
		req.start_us = req.end_us = p->has_time ? p->time : timestamp_now();
		return run(l, wsi, r, &req);
	}
	if (time_range(p, HOUR_US, &req.start_us, &req.end_us))
		return send_error(wsi, r, 400, p->errmsg);
	if (logql_kind(q) == LOGQL_LOG) {
		req.what = LOGQL_RUN_STREAMS;
	} else {
		req.what = LOGQL_RUN_MATRIX;
		req.step_us = p->has_step ? p->step : default_step(req.start_us, req.end_us);
	}
	return run(l, wsi, r, &req);
}

static int
listing(loki *l, struct lws *wsi, struct reply *r, struct params *p, logql *q,
	enum logql_run_what what, const char *label)
{
	struct logql_request req = {.what = what, .query = q, .label = label};

	if (q && logql_kind(q) != LOGQL_LOG)
		return send_error(wsi, r, 400, "the query must be a stream selector");
	if (what == LOGQL_RUN_SERIES) {
		if (!p->match_count)
			return send_error(wsi, r, 400, "at least one match[] selector is required");
		req.matches = (const logql **)p->matches;
		req.match_count = p->match_count;
	}
	if (time_range(p, 6 * HOUR_US, &req.start_us, &req.end_us))
		return send_error(wsi, r, 400, p->errmsg);
	return run(l, wsi, r, &req);
}

static int
buildinfo(struct lws *wsi, struct reply *r)
{
	/* Grafana reads the version to know which API features it may use:
	 * this is the Loki release whose API the endpoints follow. */
	struct buf b = {0};

	if (buf_printf(&b,
		       "{\"version\":\"2.9.0\",\"revision\":\"sentinel-logd %s\",\"branch\":\"\","
		       "\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"}",
		       SENTINEL_VERSION)) {
		buf_free(&b);
		return -1;
	}
	int rc = reply_send(wsi, r, 200, "application/json", b.data, b.len);
	buf_free(&b);
	return rc ? -1 : 0;
}

int
loki_serve(loki *l, struct lws *wsi, struct reply *r, const char *path)
{
	static const char prefix[] = "/loki/api/v1/";
	char errmsg[ERRMSG_SIZE], label[256];
	struct params *p;
	logql *q = NULL;
	int rc;

	if (!strcmp(path, "/ready"))
		return reply_send(wsi, r, 200, "text/plain; charset=utf-8", "ready\n", 6) ? -1 : 0;
	if (strncmp(path, prefix, sizeof prefix - 1))
		return send_error(wsi, r, 404, "404 page not found");
	path += sizeof prefix - 1;
	if (!strcmp(path, "status/buildinfo"))
		return buildinfo(wsi, r);

	if (!(p = calloc(1, sizeof *p)))
		return send_error(wsi, r, 503, "out of memory");
	p->errmsg = errmsg;
	p->limit = 100;
	p->backward = 1;
	if (request_query_each(wsi, take_param, p)) {
		rc = send_error(wsi, r, 400, errmsg);
		goto done;
	}
	if (p->has_query && p->query[0] && !(q = logql_parse(p->query, errmsg))) {
		rc = send_error(wsi, r, 400, errmsg);
		goto done;
	}
	if (!strcmp(path, "query_range") || !strcmp(path, "query")) {
		if (!q)
			rc = send_error(wsi, r, 400, "query parameter is required");
		else
			rc = query_range(l, wsi, r, p, q, path[5] == '\0');
	} else if (!strcmp(path, "labels") || !strcmp(path, "label")) {
		rc = listing(l, wsi, r, p, q, LOGQL_RUN_LABELS, NULL);
	} else if (!strcmp(path, "series")) {
		rc = listing(l, wsi, r, p, NULL, LOGQL_RUN_SERIES, NULL);
	} else if (!strncmp(path, "label/", 6) && sscanf(path + 6, "%255[^/]", label) == 1 &&
		   !strcmp(path + 6 + strlen(label), "/values")) {
		rc = listing(l, wsi, r, p, q, LOGQL_RUN_LABEL_VALUES, label);
	} else {
		rc = send_error(wsi, r, 404, "404 page not found");
	}
done:
	for (size_t i = 0; i < p->match_count; i++)
		logql_free(p->matches[i]);
	logql_free(q);
	free(p);
	return rc;
}
