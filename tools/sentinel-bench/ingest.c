/*
 * The ingest scenarios: closed-loop producers that each keep the server
 * busy with their own requests.
 *
 * ingest-http: P keep-alive connections, each posting a batch and waiting
 * for its answer before the next (batch 1 posts a bare object, the way a
 * single-event producer does). ingest-ws: P /ws/ingest connections, each
 * with up to W array messages in flight, answers taken in order.
 *
 * The body of a full batch is built once per producer and sent again and
 * again (ids, not bodies, make events distinct in the store), so the client
 * spends its time on the wire, not on formatting. The rate is the events
 * the server accepted divided by the time from the first request to the
 * last answer; every answer's "accepted" is checked. With --idempotency
 * each post carries an Idempotency-Key of its own (producer and sequence
 * number), so the server fingerprints and records every request.
 */
#include <event2/event.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "buf.h"
#include "err.h"
#include "hist.h"
#include "httpc.h"
#include "log.h"
#include "wsc.h"

#define DEFAULT_BATCH     1000
#define DEFAULT_PRODUCERS 2
#define DEFAULT_EVENTS    1000000
#define DEFAULT_WINDOW    8
#define WINDOW_MAX        64

struct ingest_run;

struct producer {
	struct ingest_run *run;
	unsigned index;
	uint64_t unsent;             /* events not yet sent */
	unsigned in_flight;          /* requests or messages awaiting their answer */
	unsigned sizes[WINDOW_MAX];  /* events in each, oldest first (a ring) */
	int64_t sent_us[WINDOW_MAX]; /* when each was sent */
	unsigned head;               /* ring index of the oldest */
	struct buf full;             /* the body of a full batch */
	struct buf part;             /* the body of the last, smaller batch */
	httpc *http;
	struct wsc ws;
	uint64_t posts;       /* requests sent, for --idempotency's keys */
	unsigned char *frame; /* LWS_PRE + the message, for lws to mask in place */
	size_t frame_cap;
	int done;
};

struct ingest_run {
	const struct bench_opts *o;
	int ws; /* /ws/ingest, else HTTP */
	unsigned batch, producers, window;
	uint64_t events;
	struct event_base *base;
	struct lws_context *lws;
	struct event *deadline;
	struct producer *p;
	unsigned active; /* producers not done */
	uint64_t accepted, requests, errors;
	struct hist lat; /* request (or message) latency, µs */
	int64_t t0, t1;  /* first send, last answer */
	int timed_out;
	char first_error[256];
	size_t bytes_sent; /* request bodies */
	int64_t t_key;     /* the run's part of --idempotency's keys: its start */
};

/* The producer is done; the last one ends the run. */
static void
finish_producer(struct producer *p)
{
	struct ingest_run *run = p->run;

	if (p->done)
		return;
	p->done = 1;
	if (--run->active == 0)
		event_base_loopexit(run->base, NULL);
}

/* The producer failed: count it, keep the first reason, and stop it. */
static void
producer_error(struct producer *p, const char *what, const char *detail)
{
	struct ingest_run *run = p->run;

	run->errors++;
	if (!run->first_error[0]) {
		snprintf(run->first_error, sizeof run->first_error, "%s%s%s", what,
			 detail ? ": " : "", detail ? detail : "");
		log_error("producer %u: %s", p->index, run->first_error);
	}
	finish_producer(p);
}

/* Check an answer {"accepted":N,...} for the oldest request in flight. */
static int
take_answer(struct producer *p, const char *body, size_t len)
{
	struct ingest_run *run = p->run;
	unsigned want = p->sizes[p->head];
	const char *a = len > 12 ? memmem(body, len, "\"accepted\":", 11) : NULL;
	int64_t now = bench_mono_us();

	if (!p->in_flight)
		return -1;
	hist_record(&run->lat, (uint64_t)(now - p->sent_us[p->head]));
	p->head = (p->head + 1) % WINDOW_MAX;
	p->in_flight--;
	run->t1 = now;
	/* --any-2xx: a server that does not count what it accepted. */
	if (!run->o->any_2xx && (!a || strtoul(a + 11, NULL, 10) != want))
		return -1;
	run->accepted += want;
	return 0;
}

/* The body for the next request of n events. */
static const struct buf *
next_body(struct producer *p, unsigned n)
{
	return n == p->run->batch ? &p->full : &p->part;
}

/* Note a request of n events as sent now. */
static void
note_sent(struct producer *p, unsigned n, size_t bytes)
{
	struct ingest_run *run = p->run;
	unsigned slot = (p->head + p->in_flight) % WINDOW_MAX;

	p->sizes[slot] = n;
	p->sent_us[slot] = bench_mono_us();
	if (!run->t0)
		run->t0 = p->sent_us[slot];
	p->in_flight++;
	p->unsent -= n;
	run->requests++;
	run->bytes_sent += bytes;
}

/* ---- HTTP */

static void http_answered(httpc *c, int status, const char *body, size_t len, void *arg);

/* Post the producer's next batch, or finish it when none is left. */
static void
http_send(struct producer *p)
{
	unsigned n = p->unsent < p->run->batch ? (unsigned)p->unsent : p->run->batch;
	const struct buf *b = next_body(p, n);
	const char *headers = BENCH_JSON_HEADERS;
	char keyed[160];

	if (!n) {
		finish_producer(p);
		return;
	}
	if (p->run->o->idempotency) {
		snprintf(keyed, sizeof keyed,
			 BENCH_JSON_HEADERS "Idempotency-Key: bench-%lld-%u-%llu\r\n",
			 (long long)p->run->t_key, p->index, (unsigned long long)p->posts++);
		headers = keyed;
	}
	if (httpc_request(p->http, "POST", p->run->o->post.path, headers, b->data, b->len)) {
		producer_error(p, "cannot post", httpc_errmsg(p->http));
		return;
	}
	note_sent(p, n, b->len);
}

/* An answer to a post: check it and post the next batch. */
static void
http_answered(httpc *c, int status, const char *body, size_t len, void *arg)
{
	struct producer *p = arg;
	char detail[160];

	if (p->done)
		return;
	if (status < 0) {
		producer_error(p, httpc_errmsg(c), NULL);
		return;
	}
	if ((p->run->o->any_2xx ? status / 100 != 2 : status != 200) || take_answer(p, body, len)) {
		snprintf(detail, sizeof detail, "HTTP %d %.*s", status,
			 (int)(len > 120 ? 120 : len), body);
		producer_error(p, "unexpected answer", detail);
		return;
	}
	http_send(p);
}

/* ---- WebSocket */

/* The ingest connection is open: start sending. */
static void
ws_established(struct wsc *c)
{
	wsc_want_write(c);
}

/* Send one message if the window has room. */
static int
ws_writeable(struct wsc *c)
{
	struct producer *p = c->arg;
	struct ingest_run *run = p->run;
	unsigned n = p->unsent < run->batch ? (unsigned)p->unsent : run->batch;
	const struct buf *b;

	if (p->done || !n || p->in_flight >= run->window)
		return 0;
	b = next_body(p, n);
	if (LWS_PRE + b->len > p->frame_cap) {
		unsigned char *bigger = realloc(p->frame, LWS_PRE + b->len);
		if (!bigger) {
			producer_error(p, "out of memory", NULL);
			return 1;
		}
		p->frame = bigger;
		p->frame_cap = LWS_PRE + b->len;
	}
	memcpy(p->frame + LWS_PRE, b->data, b->len);
	if (wsc_send(c, p->frame + LWS_PRE, b->len)) {
		producer_error(p, "cannot send a message", NULL);
		return 1;
	}
	note_sent(p, n, b->len);
	if (p->unsent && p->in_flight < run->window)
		wsc_want_write(c);
	return 0;
}

/* An answer: check it, then send more or finish. */
static int
ws_message(struct wsc *c, const char *data, size_t len)
{
	struct producer *p = c->arg;
	char detail[160];

	if (p->done)
		return 0;
	if (take_answer(p, data, len)) {
		snprintf(detail, sizeof detail, "%.*s", (int)(len > 120 ? 120 : len), data);
		producer_error(p, "unexpected answer", detail);
		return 1;
	}
	if (!p->unsent && !p->in_flight) {
		finish_producer(p);
		return 0;
	}
	if (p->unsent)
		wsc_want_write(c);
	return 0;
}

/* A connection that ends before its producer is done is a failure. */
static void
ws_closed(struct wsc *c, const char *why)
{
	struct producer *p = c->arg;

	if (!p->done)
		producer_error(p, "the connection ended", why);
}

static const struct wsc_ops ingest_ops = {
	.established = ws_established,
	.message = ws_message,
	.writeable = ws_writeable,
	.closed = ws_closed,
};

/* ---- the run */

/* The run took longer than --timeout. */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ingest_run *run = arg;

	(void)fd;
	(void)what;
	run->timed_out = 1;
	log_error("the run did not finish within %.0f s", run->o->timeout_s);
	event_base_loopexit(run->base, NULL);
}

/* Build the producers' bodies and connections. */
static int
setup(struct ingest_run *run)
{
	uint64_t share = run->events / run->producers, extra = run->events % run->producers;
	struct timeval tv = {
		(time_t)run->o->timeout_s,
		(suseconds_t)((run->o->timeout_s - (double)(time_t)run->o->timeout_s) * 1e6)};

	hist_init(&run->lat);
	run->base = bench_base_new();
	if (!run->base)
		return -1;
	run->deadline = evtimer_new(run->base, on_deadline, run);
	run->p = calloc(run->producers, sizeof *run->p);
	if (!run->deadline || !run->p || evtimer_add(run->deadline, &tv))
		return -1;
	if (run->ws && !(run->lws = wsc_context_new(run->base, (int)run->o->timeout_s, 0)))
		return -1;
	for (unsigned i = 0; i < run->producers; i++) {
		struct producer *p = &run->p[i];
		p->run = run;
		p->index = i;
		p->unsent = share + (i < extra);
		p->ws.ops = &ingest_ops;
		p->ws.arg = p;
		if (bench_events_json(&p->full, (uint64_t)i * 1000000, run->batch, run->ws, 0, 0) ||
		    bench_events_json(&p->part, (uint64_t)i * 1000000,
				      (unsigned)(p->unsent % run->batch), run->ws, 0, 0))
			return -1;
		if (!run->ws &&
		    !(p->http = bench_http_new(run->base, &run->o->post, http_answered, p)))
			return -1;
		if (p->unsent)
			run->active++;
		else
			p->done = 1;
	}
	return 0;
}

/* Free what setup() made (lws first: it owns connections into the producers). */
static void
teardown(struct ingest_run *run)
{
	if (run->lws)
		lws_context_destroy(run->lws);
	for (unsigned i = 0; run->p && i < run->producers; i++) {
		httpc_free(run->p[i].http);
		wsc_release(&run->p[i].ws);
		buf_free(&run->p[i].full);
		buf_free(&run->p[i].part);
		free(run->p[i].frame);
	}
	free(run->p);
	if (run->deadline)
		event_free(run->deadline);
	if (run->base)
		event_base_free(run->base);
}

/* Run the producers to the end; returns 0 when every event was accepted. */
static int
run_ingest(struct ingest_run *run)
{
	if (setup(run)) {
		log_error("cannot set up the producers (out of memory?)");
		return -1;
	}
	for (unsigned i = 0; i < run->producers; i++) {
		struct producer *p = &run->p[i];
		if (p->done)
			continue;
		if (run->ws)
			bench_ws_connect(&p->ws, run->lws, &run->o->ingest, NULL);
		else
			http_send(p);
	}
	if (run->active && event_base_dispatch(run->base) < 0) {
		log_error("the event loop failed");
		return -1;
	}
	return run->errors || run->timed_out || run->accepted != run->events ? -1 : 0;
}

/* ingest-http or ingest-ws: run it and fill the report. */
static int
ingest(const struct bench_opts *o, struct report *r, int ws)
{
	struct ingest_run run;
	struct bench_cpu cpu;
	char p50[32], p99[32];
	double secs;
	int rc;

	memset(&run, 0, sizeof run);
	run.o = o;
	run.ws = ws;
	run.batch = o->batch ? o->batch : DEFAULT_BATCH;
	run.producers = o->producers ? o->producers : DEFAULT_PRODUCERS;
	run.events = o->events ? o->events : DEFAULT_EVENTS;
	run.window = o->window ? o->window : DEFAULT_WINDOW;
	if (run.window > WINDOW_MAX)
		run.window = WINDOW_MAX;
	report_param(r, "batch", run.batch);
	report_param(r, "producers", run.producers);
	if (ws)
		report_param(r, "window", run.window);
	report_param(r, "events", (double)run.events);
	if (o->idempotency) {
		report_param(r, "idempotency", 1);
		run.t_key = bench_mono_us(); /* keys differ from one run to the next */
	}

	bench_cpu_begin(&cpu, bench_server_pid(o));
	rc = run_ingest(&run);
	bench_cpu_end(&cpu);
	secs = run.t1 > run.t0 ? (double)(run.t1 - run.t0) / 1e6 : 0;
	report_value(r, secs > 0 ? (double)run.accepted / secs : 0, "events/s");
	report_num(r, "accepted", (double)run.accepted);
	report_num(r, "seconds", secs);
	report_num(r, "requests", (double)run.requests);
	report_num(r, "errors", (double)run.errors);
	report_num(r, "latency_p50_us", (double)hist_quantile(&run.lat, 0.5));
	report_num(r, "latency_p99_us", (double)hist_quantile(&run.lat, 0.99));
	report_num(r, "latency_max_us", (double)run.lat.max);
	report_num(r, "body_bytes", (double)run.bytes_sent);
	report_note(r, "%llu events in %.2f s", (unsigned long long)run.accepted, secs);
	report_note(r, "%s p50 %s, p99 %s", ws ? "answer" : "request",
		    report_duration((double)hist_quantile(&run.lat, 0.5), p50, sizeof p50),
		    report_duration((double)hist_quantile(&run.lat, 0.99), p99, sizeof p99));
	bench_cpu_report(&cpu, r, (double)run.accepted, run.batch == 1 ? "request" : "event");
	if (rc) {
		r->incomplete = 1;
		report_note(r, "%llu errors%s%s%s", (unsigned long long)run.errors,
			    run.timed_out ? ", timed out" : "", run.first_error[0] ? ": " : "",
			    run.first_error);
	}
	teardown(&run);
	return rc ? 1 : 0;
}

int
bench_ingest_http(const struct bench_opts *o, struct report *r)
{
	return ingest(o, r, 0);
}

int
bench_ingest_ws(const struct bench_opts *o, struct report *r)
{
	return ingest(o, r, 1);
}

int
bench_http_fill(const struct bench_opts *o, uint64_t events, unsigned batch, unsigned producers)
{
	struct ingest_run run;
	int rc;

	memset(&run, 0, sizeof run);
	run.o = o;
	run.batch = batch;
	run.producers = producers;
	run.events = events;
	run.window = 1;
	rc = run_ingest(&run);
	if (rc)
		log_error("filling the store failed: %llu of %llu events accepted%s%s",
			  (unsigned long long)run.accepted, (unsigned long long)events,
			  run.first_error[0] ? ": " : "", run.first_error);
	teardown(&run);
	return rc ? 1 : 0;
}
