/*
 * fanout: M subscribers on /ws/logs and an open-loop publisher.
 *
 * The publisher posts at a fixed offered rate R, scheduled by the clock and
 * not by answers: event i is due at t_start + i/R, each tick posts every
 * event that has come due (in batches of at most MAX_BATCH over a pool of
 * keep-alive connections), and each event carries its due time in data.t,
 * microseconds of CLOCK_REALTIME. When the server is slow, events wait in
 * the publisher and their latency counts the wait: nothing is hidden by
 * coordinated omission. Every subscriber takes receipt time - data.t for
 * every event; latencies of events due in the measured window (after the
 * warm-up) go into one histogram per thread, merged at the end, and
 * receipts within the window give the delivery rate.
 *
 * Threads: subscribers are spread over --threads workers, each its own
 * event loop and lws context; the publisher has the main thread's loop to
 * itself, so its timing does not suffer from the subscribers' work. The
 * threads share nothing but atomics: the phase, the window, and counters
 * each worker publishes for the main thread's progress checks.
 */
#include <event2/event.h>
#include <libwebsockets.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "buf.h"
#include "err.h"
#include "hist.h"
#include "httpc.h"
#include "log.h"
#include "proc.h"
#include "timestamp.h"
#include "wsc.h"

#define DEFAULT_SUBSCRIBERS 100
#define DEFAULT_RATE        10000
#define DEFAULT_SECONDS     10
#define DEFAULT_WARMUP      1
#define DEFAULT_DRAIN       10
#define DEFAULT_THREADS     1
#define DEFAULT_PUBLISHERS  16
#define DEFAULT_TICK_MS     1
/* Subscriber handshakes in progress at once, per worker. */
#define CONNECT_WINDOW 128
/* How often loops look at the shared state. */
#define POLL_MS 10
/* Events in one POST at most. */
#define MAX_BATCH 1000

enum phase { PHASE_CONNECT, PHASE_RUN, PHASE_STOP };

struct fanout;
struct worker;

struct sub {
	struct wsc ws;
	struct worker *w;
};

struct worker {
	struct fanout *f;
	unsigned index;
	pthread_t thread;
	int started;
	struct event_base *base;
	struct lws_context *lws;
	struct event *poll;
	struct sub *subs;
	unsigned nsubs, launched, established;
	struct hist lat;    /* µs, events due in the window */
	uint64_t received;  /* probe events received */
	uint64_t in_window; /* receipts during the window */
	uint64_t other;     /* messages that are not probes */
	_Atomic uint64_t received_pub;
	_Atomic unsigned established_pub;
	_Atomic unsigned closed_pub;
	char why[128]; /* why the first subscriber closed */
};

struct pub_conn {
	struct fanout *f;
	httpc *c;
	struct buf body;
	unsigned n; /* events in the request in flight */
};

struct fanout {
	const struct bench_opts *o;
	unsigned subscribers, threads, publishers, tick_ms;
	double rate, seconds, warmup, drain;
	_Atomic int phase;
	_Atomic int64_t w0, w1; /* the measured window, realtime µs */
	struct worker *workers;

	/* The publisher: main thread only. */
	struct event_base *base;
	struct event *tick, *poll, *deadline;
	struct pub_conn *conns;
	unsigned nconns;
	int64_t t_start; /* when event 0 is due, realtime µs */
	double step;     /* µs between events */
	uint64_t total, next, published;
	int64_t max_lag_us; /* the furthest a post fell behind its schedule */
	uint64_t errors;
	char first_error[256];
	int publishing_done;
	int64_t drain_until; /* monotonic µs */
	int timed_out, connect_failed;
	struct bench_cpu cpu;
	int64_t cpu_w0;
};

/* ---- subscribers (worker threads) */

static void sub_launch(struct worker *w);

/* A subscriber is in: count it and start the next handshake. */
static void
sub_established(struct wsc *c)
{
	struct sub *s = c->arg;
	struct worker *w = s->w;

	w->established++;
	atomic_store_explicit(&w->established_pub, w->established, memory_order_release);
	sub_launch(w);
}

/* Read data.t: the digits after "data":{"t": in the message. */
static int
probe_time(const char *data, size_t len, int64_t *t)
{
	static const char key[] = "\"data\":{\"t\":";
	const char *p = memmem(data, len, key, sizeof key - 1), *end = data + len;
	int64_t v = 0;

	if (!p)
		return -1;
	p += sizeof key - 1;
	if (p >= end || *p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	*t = v;
	return 0;
}

/* One event: take its latency if it is a probe due in the window. */
static int
sub_message(struct wsc *c, const char *data, size_t len)
{
	struct sub *s = c->arg;
	struct worker *w = s->w;
	struct fanout *f = w->f;
	int64_t t, now, w0, w1;

	if (probe_time(data, len, &t)) {
		w->other++;
		return 0;
	}
	now = timestamp_now();
	w0 = atomic_load_explicit(&f->w0, memory_order_relaxed);
	w1 = atomic_load_explicit(&f->w1, memory_order_relaxed);
	w->received++;
	if (now >= w0 && now < w1)
		w->in_window++;
	if (t >= w0 && t < w1)
		hist_record(&w->lat, now > t ? (uint64_t)(now - t) : 0);
	atomic_store_explicit(&w->received_pub, w->received, memory_order_relaxed);
	return 0;
}

/* A subscriber was lost before the end: the main thread stops the run. */
static void
sub_closed(struct wsc *c, const char *why)
{
	struct sub *s = c->arg;
	struct worker *w = s->w;

	if (atomic_load(&w->f->phase) == PHASE_STOP)
		return;
	if (!atomic_load(&w->closed_pub))
		snprintf(w->why, sizeof w->why, "%s", why);
	atomic_fetch_add(&w->closed_pub, 1);
	sub_launch(w);
}

static const struct wsc_ops sub_ops = {
	.established = sub_established,
	.message = sub_message,
	.writeable = NULL, /* subscribers never send */
	.closed = sub_closed,
};

/* Start handshakes until CONNECT_WINDOW are in progress. */
static void
sub_launch(struct worker *w)
{
	while (w->launched < w->nsubs &&
	       w->launched - w->established - atomic_load(&w->closed_pub) < CONNECT_WINDOW) {
		struct sub *s = &w->subs[w->launched++];
		bench_ws_connect(&s->ws, w->lws, &w->f->o->ws, NULL);
	}
}

/* Leave the worker's loop once the main thread says stop. */
static void
worker_poll(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (atomic_load(&w->f->phase) == PHASE_STOP)
		event_base_loopexit(w->base, NULL);
}

/* A worker thread: its own loop and lws context, its share of the subscribers. */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct timeval tv = {0, POLL_MS * 1000};

	w->base = bench_base_new();
	if (!w->base)
		goto out;
	w->poll = event_new(w->base, -1, EV_PERSIST, worker_poll, w);
	if (!w->poll || event_add(w->poll, &tv) ||
	    !(w->lws = wsc_context_new(w->base, (int)w->f->o->timeout_s, 0)))
		goto out;
	sub_launch(w);
	if (event_base_dispatch(w->base) < 0)
		log_error("worker %u: the event loop failed", w->index);
out:
	if (!w->lws) {
		snprintf(w->why, sizeof w->why, "cannot set up the worker");
		atomic_store(&w->closed_pub, w->nsubs);
	}
	if (w->lws)
		lws_context_destroy(w->lws);
	w->lws = NULL;
	if (w->poll)
		event_free(w->poll);
	if (w->base)
		event_base_free(w->base);
	return NULL;
}

/* ---- the publisher (main thread) */

static void pub_pump(struct fanout *f);
static void stop(struct fanout *f);

/* A post failed: the offered load is no longer what was asked, so stop. */
static void
pub_failed(struct fanout *f, const char *what)
{
	f->errors++;
	if (!f->first_error[0]) {
		snprintf(f->first_error, sizeof f->first_error, "%s", what);
		log_error("publisher: %s", what);
	}
	stop(f);
}

/* Every event was posted and answered: wait for the subscribers. */
static void
pub_check_done(struct fanout *f)
{
	if (f->publishing_done || f->next < f->total)
		return;
	for (unsigned i = 0; i < f->nconns; i++)
		if (httpc_busy(f->conns[i].c))
			return;
	f->publishing_done = 1;
	f->drain_until = bench_mono_us() + (int64_t)(f->drain * 1e6);
	bench_cpu_end(&f->cpu);
}

/* A post was answered: count its events and post what has come due since. */
static void
pub_answered(httpc *c, int status, const char *body, size_t len, void *arg)
{
	struct pub_conn *pc = arg;
	struct fanout *f = pc->f;
	char what[200];

	if (status < 0) {
		pub_failed(f, httpc_errmsg(c));
	} else if (f->o->any_2xx ? status / 100 != 2 : status != 200) {
		snprintf(what, sizeof what, "HTTP %d %.*s", status, (int)(len > 120 ? 120 : len),
			 body);
		pub_failed(f, what);
	} else {
		f->published += pc->n;
	}
	pc->n = 0;
	pub_pump(f);
	pub_check_done(f);
}

/* An idle publishing connection, opening one more if the pool allows. */
static struct pub_conn *
pub_idle(struct fanout *f)
{
	struct pub_conn *pc;

	for (unsigned i = 0; i < f->nconns; i++)
		if (!httpc_busy(f->conns[i].c))
			return &f->conns[i];
	if (f->nconns == f->publishers)
		return NULL;
	pc = &f->conns[f->nconns];
	pc->f = f;
	pc->c = bench_http_new(f->base, &f->o->post, pub_answered, pc);
	if (!pc->c)
		return NULL;
	f->nconns++;
	return pc;
}

/* Post every event that has come due, as far as idle connections allow. */
static void
pub_pump(struct fanout *f)
{
	int64_t now = timestamp_now();
	uint64_t due;

	if (now < f->t_start || f->errors)
		return;
	due = (uint64_t)((double)(now - f->t_start) / f->step) + 1;
	if (due > f->total)
		due = f->total;
	while (f->next < due) {
		struct pub_conn *pc = pub_idle(f);
		unsigned max = f->o->max_batch ? f->o->max_batch : MAX_BATCH;
		unsigned n = due - f->next > max ? max : (unsigned)(due - f->next);
		int64_t sched = f->t_start + (int64_t)((double)f->next * f->step);

		if (!pc)
			break;
		pc->body.len = 0;
		/* One event a post with --max-batch 1: a bare object. */
		if (bench_events_json(&pc->body, f->next, n, max > 1, sched, f->step)) {
			pub_failed(f, "out of memory");
			return;
		}
		if (now - sched > f->max_lag_us)
			f->max_lag_us = now - sched;
		if (httpc_request(pc->c, "POST", f->o->post.path, BENCH_JSON_HEADERS, pc->body.data,
				  pc->body.len)) {
			pub_failed(f, httpc_errmsg(pc->c));
			return;
		}
		pc->n = n;
		f->next += n;
	}
	if (f->next == f->total)
		event_del(f->tick);
}

/* The clock: post what has come due. */
static void
pub_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pub_pump(arg);
}

/* Sums of what the workers published. */
static void
worker_totals(struct fanout *f, uint64_t *received, unsigned *established, unsigned *closed)
{
	*received = 0;
	*established = *closed = 0;
	for (unsigned i = 0; i < f->threads; i++) {
		*received +=
			atomic_load_explicit(&f->workers[i].received_pub, memory_order_relaxed);
		*established += atomic_load(&f->workers[i].established_pub);
		*closed += atomic_load(&f->workers[i].closed_pub);
	}
}

/* Every subscriber is in: fix the schedule and the window, start the clock. */
static void
start_publishing(struct fanout *f)
{
	struct timeval tv = {0, (suseconds_t)f->tick_ms * 1000};

	f->t_start = timestamp_now() + 20000; /* let the tick timer settle */
	f->step = 1e6 / f->rate;
	atomic_store(&f->w0, f->t_start + (int64_t)(f->warmup * 1e6));
	atomic_store(&f->w1, f->t_start + (int64_t)((f->warmup + f->seconds) * 1e6));
	f->total = (uint64_t)llround(f->rate * (f->warmup + f->seconds));
	atomic_store(&f->phase, PHASE_RUN);
	if (event_add(f->tick, &tv))
		pub_failed(f, "cannot start the tick timer");
}

/* End the run: the workers leave their loops, and so does the main thread. */
static void
stop(struct fanout *f)
{
	atomic_store(&f->phase, PHASE_STOP);
	event_base_loopexit(f->base, NULL);
}

/* The main thread's view of the run: connect, publish, drain, stop. */
static void
main_poll(evutil_socket_t fd, short what, void *arg)
{
	struct fanout *f = arg;
	unsigned established, closed;
	uint64_t received;
	int phase = atomic_load(&f->phase);

	(void)fd;
	(void)what;
	worker_totals(f, &received, &established, &closed);
	if (phase == PHASE_CONNECT) {
		if (closed) {
			f->connect_failed = 1;
			log_error("%u subscriber(s) could not connect", closed);
			stop(f);
		} else if (established == f->subscribers) {
			log_info("%u subscribers connected; publishing", established);
			start_publishing(f);
		}
		return;
	}
	if (closed) {
		log_error("%u subscriber(s) lost during the run", closed);
		stop(f);
		return;
	}
	if (!f->publishing_done) {
		/* The CPU window starts with the measured window. */
		if (!f->cpu_w0 && timestamp_now() >= atomic_load(&f->w0)) {
			f->cpu_w0 = 1;
			bench_cpu_begin(&f->cpu, f->cpu.server);
		}
		return;
	}
	if (received >= f->published * f->subscribers || bench_mono_us() >= f->drain_until)
		stop(f);
}

/* The run took longer than --timeout. */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct fanout *f = arg;

	(void)fd;
	(void)what;
	f->timed_out = 1;
	log_error("the run did not finish within %.0f s", f->o->timeout_s);
	stop(f);
}

/* Create the publisher's loop and start the worker threads. */
static int
setup(struct fanout *f)
{
	struct timeval poll_tv = {0, POLL_MS * 1000};
	struct timeval dl = {(time_t)f->o->timeout_s, 0};
	unsigned per = f->subscribers / f->threads, extra = f->subscribers % f->threads;

	f->base = bench_base_new();
	if (!f->base)
		return -1;
	f->tick = event_new(f->base, -1, EV_PERSIST, pub_tick, f);
	f->poll = event_new(f->base, -1, EV_PERSIST, main_poll, f);
	f->deadline = evtimer_new(f->base, on_deadline, f);
	f->conns = calloc(f->publishers, sizeof *f->conns);
	f->workers = calloc(f->threads, sizeof *f->workers);
	if (!f->tick || !f->poll || !f->deadline || !f->conns || !f->workers ||
	    event_add(f->poll, &poll_tv) || evtimer_add(f->deadline, &dl))
		return -1;
	for (unsigned i = 0; i < f->threads; i++) {
		struct worker *w = &f->workers[i];
		w->f = f;
		w->index = i;
		w->nsubs = per + (i < extra);
		hist_init(&w->lat);
		w->subs = calloc(w->nsubs ? w->nsubs : 1, sizeof *w->subs);
		if (!w->subs)
			return -1;
		for (unsigned j = 0; j < w->nsubs; j++) {
			w->subs[j].w = w;
			w->subs[j].ws.ops = &sub_ops;
			w->subs[j].ws.arg = &w->subs[j];
		}
	}
	for (unsigned i = 0; i < f->threads; i++) {
		if (pthread_create(&f->workers[i].thread, NULL, worker_main, &f->workers[i])) {
			log_error("cannot start a worker thread");
			atomic_store(&f->phase, PHASE_STOP);
			return -1;
		}
		f->workers[i].started = 1;
	}
	return 0;
}

/* What the workers measured, summed once they are joined. */
struct totals {
	struct hist lat;
	uint64_t received, in_window, other;
	unsigned established, closed;
	char why[128];
};

/* Stop and join the workers; sum what they measured into *t. */
static void
join_workers(struct fanout *f, struct totals *t)
{
	atomic_store(&f->phase, PHASE_STOP);
	for (unsigned i = 0; f->workers && i < f->threads; i++) {
		struct worker *w = &f->workers[i];
		if (!w->started)
			continue;
		pthread_join(w->thread, NULL);
		w->started = 0;
		hist_merge(&t->lat, &w->lat);
		t->received += w->received;
		t->in_window += w->in_window;
		t->other += w->other;
		t->established += w->established;
		t->closed += atomic_load(&w->closed_pub);
		if (!t->why[0] && w->why[0])
			snprintf(t->why, sizeof t->why, "%s", w->why);
	}
}

/* Free what setup() made; the workers are joined already. */
static void
teardown(struct fanout *f)
{
	for (unsigned i = 0; f->workers && i < f->threads; i++) {
		struct worker *w = &f->workers[i];
		for (unsigned j = 0; w->subs && j < w->nsubs; j++)
			wsc_release(&w->subs[j].ws);
		free(w->subs);
	}
	free(f->workers);
	for (unsigned i = 0; i < f->nconns; i++) {
		httpc_free(f->conns[i].c);
		buf_free(&f->conns[i].body);
	}
	free(f->conns);
	if (f->tick)
		event_free(f->tick);
	if (f->poll)
		event_free(f->poll);
	if (f->deadline)
		event_free(f->deadline);
	if (f->base)
		event_base_free(f->base);
}

/* Fill the report from the totals. Returns 0, or 1 when the run fell short. */
static int
fill_report(struct fanout *f, struct totals *t, struct report *r)
{
	uint64_t expected = f->published * f->subscribers;
	char d50[32], d99[32], d999[32], dmax[32], lag[32];
	double p50 = (double)hist_quantile(&t->lat, 0.5),
	       p99 = (double)hist_quantile(&t->lat, 0.99),
	       p999 = (double)hist_quantile(&t->lat, 0.999);
	int short_run = f->connect_failed || f->timed_out || f->errors || t->closed ||
			f->published < f->total || t->received < expected;

	report_value(r, (double)t->in_window / f->seconds, "deliveries/s");
	report_num(r, "latency_p50_us", p50);
	report_num(r, "latency_p99_us", p99);
	report_num(r, "latency_p999_us", p999);
	report_num(r, "latency_max_us", (double)t->lat.max);
	report_num(r, "latency_samples", (double)t->lat.count);
	report_num(r, "published", (double)f->published);
	report_num(r, "expected", (double)expected);
	report_num(r, "delivered", (double)t->received);
	report_num(r, "publisher_max_lag_us", (double)f->max_lag_us);
	report_note(r, "latency p50 %s, p99 %s, p99.9 %s, max %s",
		    report_duration(p50, d50, sizeof d50), report_duration(p99, d99, sizeof d99),
		    report_duration(p999, d999, sizeof d999),
		    report_duration((double)t->lat.max, dmax, sizeof dmax));
	report_note(r, "delivered %llu of %llu", (unsigned long long)t->received,
		    (unsigned long long)expected);
	report_note(r, "publisher lag max %s",
		    report_duration((double)f->max_lag_us, lag, sizeof lag));
	bench_cpu_report(&f->cpu, r, (double)t->in_window, "delivery");
	if (t->other)
		report_note(r, "%llu other messages", (unsigned long long)t->other);
	if (!short_run)
		return 0;
	r->incomplete = 1;
	if (f->connect_failed || t->closed)
		report_note(r, "%u subscriber(s) lost: %s", t->closed, t->why);
	if (f->errors)
		report_note(r, "publisher: %s", f->first_error);
	if (f->timed_out)
		report_note(r, "timed out");
	return 1;
}

int
bench_fanout(const struct bench_opts *o, struct report *r)
{
	struct fanout f;
	struct totals t;
	int rc = 0;

	memset(&f, 0, sizeof f);
	memset(&t, 0, sizeof t);
	hist_init(&t.lat);
	f.o = o;
	f.subscribers = o->subscribers ? o->subscribers : DEFAULT_SUBSCRIBERS;
	f.rate = o->rate > 0 ? o->rate : DEFAULT_RATE;
	f.seconds = o->seconds > 0 ? o->seconds : DEFAULT_SECONDS;
	f.warmup = o->warmup >= 0 ? o->warmup : DEFAULT_WARMUP;
	f.drain = o->drain > 0 ? o->drain : DEFAULT_DRAIN;
	f.threads = o->threads ? o->threads : DEFAULT_THREADS;
	f.publishers = o->publishers ? o->publishers : DEFAULT_PUBLISHERS;
	f.tick_ms = o->tick_ms ? o->tick_ms : DEFAULT_TICK_MS;
	if (f.threads > f.subscribers)
		f.threads = f.subscribers;
	report_param(r, "subscribers", f.subscribers);
	report_param(r, "rate", f.rate);
	report_param(r, "seconds", f.seconds);
	report_param(r, "threads", f.threads);
	if (o->max_batch)
		report_param(r, "max_batch", o->max_batch);

	if (proc_raise_nofile(f.subscribers + f.publishers + 64)) {
		log_error("cannot raise the open-file limit to %u",
			  f.subscribers + f.publishers + 64);
		report_note(r, "open-file limit too low");
		r->incomplete = 1;
		return 1;
	}
	f.cpu.server = bench_server_pid(o);
	if (setup(&f)) {
		log_error("cannot set up the run (out of memory?)");
		rc = 1;
	} else if (event_base_dispatch(f.base) < 0) {
		log_error("the event loop failed");
		rc = 1;
	}
	join_workers(&f, &t);
	rc |= fill_report(&f, &t, r);
	teardown(&f);
	return rc;
}
