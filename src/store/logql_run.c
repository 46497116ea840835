/*
 * LogQL over the store (see logql_run.h). Each request is one scan of the
 * time index (store_scan) with a callback that runs the query's pipeline
 * on every row and files what passes under its label set: streams for log
 * queries, series of step values for metric queries, sets of names or
 * values for the listings. Label sets are keyed by their JSON text in a
 * small open-addressing hash table.
 *
 * A metric query counts each entry into every step whose window
 * (t - range, t] holds it through a difference array per series, so it
 * costs one update per entry whatever the range and the step.
 */
#include "logql_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* A set of strings, each with a slot of data, in insertion order. */
struct strset {
	char **keys; /* insertion order */
	size_t n, cap;
	size_t *table;  /* index + 1 into keys, 0: free */
	size_t buckets; /* a power of two */
};

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The index of key, added when missing (*added set). Returns -1: no memory. */
static long
strset_put(struct strset *ss, const char *key, int *added)
{
	*added = 0;
	if ((ss->n + 1) * 2 > ss->buckets) {
		size_t nb = ss->buckets ? ss->buckets * 2 : 64;
		size_t *nt = calloc(nb, sizeof *nt);
		if (!nt)
			return -1;
		for (size_t i = 0; i < ss->n; i++) {
			size_t b = hash(ss->keys[i]) & (nb - 1);
			while (nt[b])
				b = (b + 1) & (nb - 1);
			nt[b] = i + 1;
		}
		free(ss->table);
		ss->table = nt;
		ss->buckets = nb;
	}
	size_t b = hash(key) & (ss->buckets - 1);
	for (; ss->table[b]; b = (b + 1) & (ss->buckets - 1))
		if (!strcmp(ss->keys[ss->table[b] - 1], key))
			return (long)ss->table[b] - 1;
	if (ss->n == ss->cap) {
		size_t cap = ss->cap ? ss->cap * 2 : 16;
		char **more = realloc(ss->keys, cap * sizeof *more);
		if (!more)
			return -1;
		ss->keys = more;
		ss->cap = cap;
	}
	if (!(ss->keys[ss->n] = strdup(key)))
		return -1;
	ss->table[b] = ++ss->n;
	*added = 1;
	return (long)ss->n - 1;
}

static void
strset_free(struct strset *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		free(ss->keys[i]);
	free(ss->keys);
	free(ss->table);
}

static int
by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything one request's scan builds. */
struct run {
	const struct logql_request *req;
	struct logql_labels labels, group;
	struct buf key;      /* a label set's JSON */
	struct strset sets;  /* streams, series, names or values */
	struct buf *values;  /* STREAMS: each stream's entries */
	double (*series)[2]; /* MATRIX: per series, steps + 1 pairs (count, weight) */
	size_t nsteps;
	int entries;  /* STREAMS: entries kept */
	int failed;   /* ERR_NOMEM */
	int too_many; /* MATRIX: series past the bound */
};

/* The label set in r->labels as JSON in r->key, filed; returns its index. */
static long
file_labels(struct run *r, struct logql_labels *ls, int *added)
{
	r->key.len = 0;
	if (logql_labels_json(ls, &r->key))
		return -1;
	return strset_put(&r->sets, r->key.data, added);
}

/* Nanoseconds as Loki writes them: a string of digits. */
static int
put_ns(struct buf *b, int64_t us)
{
	return buf_printf(b, "\"%lld000\"", (long long)us);
}

static int
on_stream_row(const struct store_row *row, void *arg)
{
	struct run *r = arg;
	char *line = NULL;
	size_t len = 0;
	int added,
		rc = logql_eval(r->req->query, row->body, row->body_len, &r->labels, &line, &len);

	if (rc <= 0) {
		r->failed = rc < 0;
		return rc < 0;
	}
	long i = file_labels(r, &r->labels, &added);
	if (i >= 0 && added) {
		struct buf *more = realloc(r->values, r->sets.n * sizeof *more);
		if (!more)
			i = -1;
		else {
			r->values = more;
			memset(&r->values[i], 0, sizeof *more);
		}
	}
	if (i < 0 || (r->values[i].len && buf_append(&r->values[i], ",", 1)) ||
	    buf_append(&r->values[i], "[", 1) || put_ns(&r->values[i], row->ts_us) ||
	    buf_append(&r->values[i], ",", 1) || logql_json_string(&r->values[i], line, len) ||
	    buf_append(&r->values[i], "]", 1))
		r->failed = 1;
	free(line);
	return r->failed || ++r->entries >= r->req->limit;
}

/* The step index range [*lo, *hi] whose windows (t - range, t] hold ts. */
static int
steps_of(const struct logql_request *req, int64_t range, size_t nsteps, int64_t ts, size_t *lo,
	 size_t *hi)
{
	int64_t step = req->step_us > 0 ? req->step_us : 1, from = ts - req->start_us;
	int64_t k0 = from <= 0 ? 0 : (from + step - 1) / step;
	int64_t k1 = from + range - 1 < 0 ? -1 : (from + range - 1) / step;

	if (k1 > (int64_t)nsteps - 1)
		k1 = (int64_t)nsteps - 1;
	if (k0 > k1)
		return 0;
	*lo = (size_t)k0;
	*hi = (size_t)k1;
	return 1;
}

static int
on_metric_row(const struct store_row *row, void *arg)
{
	struct run *r = arg;
	const logql *q = r->req->query;
	char *line = NULL;
	size_t len = 0, lo, hi;
	int added, rc = logql_eval(q, row->body, row->body_len, &r->labels, &line, &len);

	if (rc <= 0) {
		r->failed = rc < 0;
		return rc < 0;
	}
	free(line);
	if (!steps_of(r->req, logql_range_us(q), r->nsteps, row->ts_us, &lo, &hi))
		return 0;
	if (logql_group(q, &r->labels, &r->group)) {
		r->failed = 1;
		return 1;
	}
	long i = file_labels(r, &r->group, &added);
	if (i < 0) {
		r->failed = 1;
		return 1;
	}
	if (added) {
		if (r->sets.n > LOGQL_MAX_SERIES) {
			r->too_many = 1;
			return 1;
		}
		double(*more)[2] = realloc(r->series, r->sets.n * (r->nsteps + 1) * sizeof *more);
		if (!more) {
			r->failed = 1;
			return 1;
		}
		r->series = more;
		memset(r->series + (size_t)i * (r->nsteps + 1), 0, (r->nsteps + 1) * sizeof *more);
	}
	double(*d)[2] = r->series + (size_t)i * (r->nsteps + 1);
	enum logql_range_fn fn = logql_range_fn(q);
	double w = fn == LOGQL_BYTES_OVER_TIME || fn == LOGQL_BYTES_RATE ? (double)len : 1;
	d[lo][0] += 1;
	d[lo][1] += w;
	d[hi + 1][0] -= 1;
	d[hi + 1][1] -= w;
	return 0;
}

static int
on_listing_row(const struct store_row *row, void *arg)
{
	struct run *r = arg;
	const struct logql_request *req = r->req;
	int added, rc;

	if (req->what == LOGQL_RUN_SERIES) {
		for (size_t m = 0; m < req->match_count; m++) {
			rc = logql_eval_stream(req->matches[m], row->body, row->body_len,
					       &r->labels);
			if (rc < 0 || (rc == 1 && file_labels(r, &r->labels, &added) < 0)) {
				r->failed = 1;
				return 1;
			}
			if (rc == 1)
				break;
		}
		return 0;
	}
	rc = logql_eval_stream(req->query, row->body, row->body_len, &r->labels);
	for (size_t i = 0; rc == 1 && i < r->labels.n; i++) {
		const struct logql_label *l = &r->labels.v[i];
		if (req->what == LOGQL_RUN_LABELS)
			rc = strset_put(&r->sets, l->name, &added) < 0 ? -1 : 1;
		else if (!strcmp(l->name, req->label))
			rc = strset_put(&r->sets, l->value, &added) < 0 ? -1 : 1;
	}
	r->failed = rc < 0;
	return r->failed;
}

/* A time in seconds as Prometheus writes it: a number, to milliseconds. */
static int
put_seconds(struct buf *b, int64_t us)
{
	if (us % 1000000 == 0)
		return buf_printf(b, "%lld", (long long)(us / 1000000));
	return buf_printf(b, "%lld.%03lld", (long long)(us / 1000000),
			  (long long)(us % 1000000 / 1000));
}

/* A sample value: the shortest decimal that reads back as v. */
static int
put_value(struct buf *b, double v)
{
	char text[64];

	for (int digits = 15; digits <= 17; digits++) {
		snprintf(text, sizeof text, "%.*g", digits, v);
		if (strtod(text, NULL) == v)
			break;
	}
	return buf_printf(b, "\"%s\"", text);
}

static int
write_streams(struct run *r, struct buf *out)
{
	int rc = buf_printf(out, "{\"resultType\":\"streams\",\"result\":[");

	for (size_t i = 0; !rc && i < r->sets.n; i++)
		rc = buf_printf(out, "%s{\"stream\":%s,\"values\":[", i ? "," : "",
				r->sets.keys[i]) ||
		     buf_append(out, r->values[i].data, r->values[i].len) ||
		     buf_append(out, "]}", 2);
	return rc || buf_printf(out, "],\"stats\":{}}");
}

static int
write_series(struct run *r, struct buf *out, int vector)
{
	const logql *q = r->req->query;
	double secs = (double)logql_range_us(q) / 1e6;
	enum logql_range_fn fn = logql_range_fn(q);
	int per_second = fn == LOGQL_RATE || fn == LOGQL_BYTES_RATE, first = 1;
	int rc = buf_printf(out, "{\"resultType\":\"%s\",\"result\":[",
			    vector ? "vector" : "matrix");

	for (size_t i = 0; !rc && i < r->sets.n; i++) {
		double(*d)[2] = r->series + i * (r->nsteps + 1), count = 0, weight = 0;
		int points = 0;
		rc = buf_printf(out, "%s{\"metric\":%s,\"%s\":", first ? "" : ",", r->sets.keys[i],
				vector ? "value" : "values");
		first = 0;
		rc = rc || (!vector && buf_append(out, "[", 1));
		for (size_t k = 0; !rc && k < r->nsteps; k++) {
			count += d[k][0];
			weight += d[k][1];
			if (count < 0.5)
				continue; /* no entry in this window: no point, as in Loki */
			double v = per_second ? weight / secs : weight;
			rc = (points++ && buf_append(out, ",", 1)) || buf_append(out, "[", 1) ||
			     put_seconds(out, r->req->start_us + (int64_t)k * r->req->step_us) ||
			     buf_append(out, ",", 1) || put_value(out, v) ||
			     buf_append(out, "]", 1);
		}
		rc = rc || (!vector && buf_append(out, "]", 1)) || buf_append(out, "}", 1);
	}
	return rc || buf_printf(out, "],\"stats\":{}}");
}

/* vector(N): the same value at every step, with no labels. */
static int
write_constant(const struct logql_request *req, size_t nsteps, int vector, struct buf *out)
{
	double v = logql_vector_value(req->query);
	int rc = buf_printf(out, "{\"resultType\":\"%s\",\"result\":[{\"metric\":{},\"%s\":",
			    vector ? "vector" : "matrix", vector ? "value" : "values");

	rc = rc || (!vector && buf_append(out, "[", 1));
	for (size_t k = 0; !rc && k < nsteps; k++)
		rc = (k && buf_append(out, ",", 1)) || buf_append(out, "[", 1) ||
		     put_seconds(out, req->start_us + (int64_t)k * req->step_us) ||
		     buf_append(out, ",", 1) || put_value(out, v) || buf_append(out, "]", 1);
	rc = rc || (!vector && buf_append(out, "]", 1));
	return rc || buf_printf(out, "}],\"stats\":{}}");
}

static int
write_listing(struct run *r, struct buf *out)
{
	int rc = buf_append(out, "[", 1);

	if (r->req->what != LOGQL_RUN_SERIES && r->sets.n > 1)
		qsort(r->sets.keys, r->sets.n, sizeof *r->sets.keys, by_string);
	for (size_t i = 0; !rc && i < r->sets.n; i++) {
		rc = i && buf_append(out, ",", 1);
		if (r->req->what == LOGQL_RUN_SERIES)
			rc = rc || buf_append(out, r->sets.keys[i], strlen(r->sets.keys[i]));
		else
			rc = rc || logql_json_string(out, r->sets.keys[i], strlen(r->sets.keys[i]));
	}
	return rc || buf_append(out, "]", 1);
}

int
logql_run(store *st, const struct logql_request *req, struct buf *out, char *errmsg)
{
	struct run r = {.req = req};
	struct store_scan f = {.since_us = req->start_us,
			       .until_us = req->end_us,
			       .limit = req->max_scan,
			       .descending = 1};
	store_row_fn fn = on_listing_row;
	int vector = req->what == LOGQL_RUN_VECTOR, rows = 0, rc = 0;

	if (req->what == LOGQL_RUN_MATRIX || vector) {
		if (vector)
			r.nsteps = 1;
		else if (req->step_us <= 0 ||
			 (req->end_us - req->start_us) / req->step_us + 1 > LOGQL_MAX_POINTS)
			return err_set(errmsg, ERR_INVAL,
				       "exceeded maximum resolution of %d points per timeseries. "
				       "Try increasing the value of the step parameter",
				       LOGQL_MAX_POINTS);
		else
			r.nsteps = (size_t)((req->end_us - req->start_us) / req->step_us + 1);
		if (logql_kind(req->query) == LOGQL_VECTOR) {
			rc = write_constant(req, r.nsteps, vector, out);
			return rc ? err_set(errmsg, ERR_NOMEM, "out of memory") : 0;
		}
		/* The windows of the steps: (start - range, end]. */
		f.since_us = req->start_us - logql_range_us(req->query) + 1;
		f.until_us = req->end_us + 1;
		f.descending = 0;
		f.type = logql_type(req->query);
		fn = on_metric_row;
	} else if (req->what == LOGQL_RUN_STREAMS) {
		f.descending = req->backward;
		f.type = logql_type(req->query);
		fn = on_stream_row;
		if (req->limit <= 0)
			goto write;
	} else if (req->what != LOGQL_RUN_SERIES) {
		f.type = logql_type(req->query);
	}
	if ((rc = store_scan(st, &f, fn, &r, &rows))) {
		err_set(errmsg, rc, "the store cannot be read: %s", store_errmsg(st));
		goto done;
	}
	if (r.failed) {
		rc = err_set(errmsg, ERR_NOMEM, "out of memory");
		goto done;
	}
	if (r.too_many) {
		rc = err_set(errmsg, ERR_INVAL,
			     "maximum of series (%d) reached for a single query; aggregate with "
			     "sum by (...)",
			     LOGQL_MAX_SERIES);
		goto done;
	}
	if (fn == on_metric_row && rows >= req->max_scan) {
		rc = err_set(errmsg, ERR_INVAL,
			     "the query reads more than %d events; narrow its time range or its "
			     "selector (--loki-max-scan)",
			     req->max_scan);
		goto done;
	}
write:
	if (fn == on_stream_row)
		rc = write_streams(&r, out);
	else if (fn == on_metric_row)
		rc = write_series(&r, out, vector);
	else
		rc = write_listing(&r, out);
	if (rc)
		rc = err_set(errmsg, ERR_NOMEM, "out of memory");
done:
	for (size_t i = 0; r.values && i < r.sets.n; i++)
		buf_free(&r.values[i]);
	free(r.values);
	free(r.series);
	strset_free(&r.sets);
	logql_labels_free(&r.labels);
	logql_labels_free(&r.group);
	buf_free(&r.key);
	return rc;
}
