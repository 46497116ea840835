/*
 * replay: one client reads N stored events from the start of the store.
 *
 * The store must hold at least N events; the scenario asks the server how
 * many it holds (GET /api/stats) and posts the missing ones first, so a
 * filled store is reused by later runs. Then one connection to the live
 * feed with after_id=0 reads until it has N events; the rate is N over the
 * time from the connection request to the N-th event. Ids are checked to
 * follow each other without a gap.
 */
#include <event2/event.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "err.h"
#include "httpc.h"
#include "log.h"
#include "wsc.h"

#define DEFAULT_EVENTS 1000000
#define FILL_BATCH     1000
#define FILL_PRODUCERS 2
/* How long the server may take to say how many events it holds. */
#define STATS_TIMEOUT_S 30

struct replay {
	const struct bench_opts *o;
	struct event_base *base;
	struct lws_context *lws;
	struct event *deadline;
	struct wsc ws;
	uint64_t want, received, gaps, other;
	int64_t last_id;
	int64_t t_connect, t_first, t_last;
	int done, timed_out;
	char why[128];
};

/* How many events the server holds (its /api/stats); -1 when it cannot say. */
static int64_t
stored_count(const struct bench_opts *o)
{
	struct event_base *base = bench_base_new();
	httpc *c = base ? bench_http_new(base, &o->stats, NULL, NULL) : NULL;
	struct httpc_answer a;
	int64_t count = -1;

	if (c) {
		httpc_set_timeout(c, STATS_TIMEOUT_S);
		if (!httpc_call(c, "GET", o->stats.path, NULL, NULL, 0, &a)) {
			const char *p =
				a.status == 200 ? memmem(a.body, a.len, "\"count\":", 8) : NULL;
			if (p)
				count = strtoll(p + 8, NULL, 10);
			httpc_answer_free(&a);
		}
	}
	httpc_free(c);
	if (base)
		event_base_free(base);
	return count;
}

/* Nothing to do: the replay starts by itself. */
static void
on_established(struct wsc *c)
{
	(void)c;
}

/* One event: check its id follows the last, stop at the N-th. */
static int
on_message(struct wsc *c, const char *data, size_t len)
{
	struct replay *rp = c->arg;
	int64_t id = 0;
	size_t i = 6;

	if (rp->done)
		return 1;
	if (len < 8 || memcmp(data, "{\"id\":", 6)) {
		rp->other++;
		return 0;
	}
	while (i < len && data[i] >= '0' && data[i] <= '9')
		id = id * 10 + (data[i++] - '0');
	if (rp->last_id && id != rp->last_id + 1)
		rp->gaps++;
	rp->last_id = id;
	if (!rp->received++)
		rp->t_first = bench_mono_us();
	if (rp->received < rp->want)
		return 0;
	rp->t_last = bench_mono_us();
	rp->done = 1;
	event_base_loopexit(rp->base, NULL);
	return 1;
}

/* The connection ended before N events: the run failed. */
static void
on_closed(struct wsc *c, const char *why)
{
	struct replay *rp = c->arg;

	if (rp->done)
		return;
	snprintf(rp->why, sizeof rp->why, "%s", why);
	event_base_loopexit(rp->base, NULL);
}

static const struct wsc_ops replay_ops = {
	.established = on_established,
	.message = on_message,
	.writeable = NULL, /* the reader never sends */
	.closed = on_closed,
};

/* The replay took longer than --timeout. */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct replay *rp = arg;

	(void)fd;
	(void)what;
	rp->timed_out = 1;
	log_error("the replay did not finish within %.0f s", rp->o->timeout_s);
	event_base_loopexit(rp->base, NULL);
}

/* Read want events from after_id=0. Returns 0, or -1. */
static int
run_replay(struct replay *rp)
{
	struct timeval tv = {(time_t)rp->o->timeout_s, 0};
	char path[URL_PATH_MAX + 32];

	snprintf(path, sizeof path, "%s", rp->o->ws.path);
	if (url_append_param(path, sizeof path, "after_id", "0")) {
		log_error("the --ws-url path is too long");
		return -1;
	}
	rp->base = bench_base_new();
	if (!rp->base)
		return -1;
	rp->deadline = evtimer_new(rp->base, on_deadline, rp);
	if (!rp->deadline || evtimer_add(rp->deadline, &tv) ||
	    !(rp->lws = wsc_context_new(rp->base, (int)rp->o->timeout_s, 0)))
		return -1;
	rp->ws.ops = &replay_ops;
	rp->ws.arg = rp;
	rp->t_connect = bench_mono_us();
	bench_ws_connect(&rp->ws, rp->lws, &rp->o->ws, path);
	if (!rp->done && !rp->why[0] && event_base_dispatch(rp->base) < 0) {
		log_error("the event loop failed");
		return -1;
	}
	return rp->done ? 0 : -1;
}

int
bench_replay(const struct bench_opts *o, struct report *r)
{
	struct replay rp;
	struct bench_cpu cpu;
	int64_t stored;
	double secs;
	int rc;

	memset(&rp, 0, sizeof rp);
	rp.o = o;
	rp.want = o->events ? o->events : DEFAULT_EVENTS;
	report_param(r, "events", (double)rp.want);
	report_value(r, 0, "events/s");

	stored = stored_count(o);
	if (stored < 0)
		log_warn("the server does not say how many events it holds; posting %llu",
			 (unsigned long long)rp.want);
	if (stored < (int64_t)rp.want) {
		uint64_t missing = rp.want - (uint64_t)(stored > 0 ? stored : 0);
		log_info("filling the store with %llu events", (unsigned long long)missing);
		if (bench_http_fill(o, missing, FILL_BATCH, FILL_PRODUCERS)) {
			report_note(r, "could not fill the store");
			r->incomplete = 1;
			return 1;
		}
	}
	report_num(r, "stored_before", (double)stored);

	bench_cpu_begin(&cpu, bench_server_pid(o));
	rc = run_replay(&rp);
	bench_cpu_end(&cpu);
	secs = rp.t_last > rp.t_connect ? (double)(rp.t_last - rp.t_connect) / 1e6 : 0;
	report_value(r, secs > 0 ? (double)rp.received / secs : 0, "events/s");
	report_num(r, "received", (double)rp.received);
	report_num(r, "seconds", secs);
	report_num(r, "gaps", (double)rp.gaps);
	report_num(r, "first_event_ms",
		   rp.t_first ? (double)(rp.t_first - rp.t_connect) / 1000 : -1);
	report_note(r, "%llu events in %.2f s, first after %.1f ms",
		    (unsigned long long)rp.received, secs,
		    rp.t_first ? (double)(rp.t_first - rp.t_connect) / 1000 : -1.0);
	if (rp.gaps)
		report_note(r, "%llu gaps in the ids", (unsigned long long)rp.gaps);
	bench_cpu_report(&cpu, r, (double)rp.received, "event");
	if (rc) {
		r->incomplete = 1;
		report_note(r, "%s", rp.timed_out ? "timed out" : rp.why[0] ? rp.why : "failed");
	}
	if (rp.lws)
		lws_context_destroy(rp.lws);
	wsc_release(&rp.ws);
	if (rp.deadline)
		event_free(rp.deadline);
	if (rp.base)
		event_base_free(rp.base);
	return rc ? 1 : 0;
}
