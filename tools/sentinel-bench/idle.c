/*
 * idle: the server's memory per idle subscriber.
 *
 * Read the server's resident set, open K connections to the live feed that
 * receive nothing, wait until every one is established and a settling time
 * has passed, and read it again: (after - before) / K. The server's pid
 * comes from --pid or from the process listening on the post URL's port,
 * so the server must run on this machine (it does: loopback only).
 * Handshakes are started CONNECT_WINDOW at a time, so the listen backlog
 * never overflows.
 */
#include <event2/event.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "err.h"
#include "log.h"
#include "proc.h"
#include "wsc.h"

#define DEFAULT_CONNECTIONS 1000
#define DEFAULT_SETTLE      2.0
#define CONNECT_WINDOW      128

struct idle {
	const struct bench_opts *o;
	struct event_base *base;
	struct lws_context *lws;
	struct event *deadline, *settle;
	struct wsc *conns;
	unsigned k, launched, established, closed;
	pid_t pid;
	long rss0, rss1;
	int64_t t0, t_all;
	int measured, timed_out;
	char why[128];
};

static void launch(struct idle *d);

/* The settling time is over: read the server's memory again. */
static void
on_settled(evutil_socket_t fd, short what, void *arg)
{
	struct idle *d = arg;

	(void)fd;
	(void)what;
	if (proc_rss_kib(d->pid, &d->rss1))
		snprintf(d->why, sizeof d->why, "cannot read the server's memory");
	else
		d->measured = 1;
	event_base_loopexit(d->base, NULL);
}

/* One more connection is in; after the last, let the server settle. */
static void
on_established(struct wsc *c)
{
	struct idle *d = c->arg;

	d->established++;
	if (d->established == d->k) {
		double s = d->o->settle > 0 ? d->o->settle : DEFAULT_SETTLE;
		struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
		d->t_all = bench_mono_us();
		log_info("%u connections established; settling", d->k);
		if (evtimer_add(d->settle, &tv))
			event_base_loopexit(d->base, NULL);
		return;
	}
	launch(d);
}

/* Idle subscribers get nothing; anything that comes is ignored. */
static int
on_message(struct wsc *c, const char *data, size_t len)
{
	(void)c;
	(void)data;
	(void)len;
	return 0;
}

/* A connection ended before the measurement: the run failed. */
static void
on_closed(struct wsc *c, const char *why)
{
	struct idle *d = c->arg;

	if (d->measured)
		return;
	if (!d->closed++) {
		snprintf(d->why, sizeof d->why, "a connection ended: %s", why);
		log_error("%s", d->why);
	}
	event_base_loopexit(d->base, NULL);
}

static const struct wsc_ops idle_ops = {
	.established = on_established,
	.message = on_message,
	.writeable = NULL, /* idle subscribers never send */
	.closed = on_closed,
};

/* Start handshakes until CONNECT_WINDOW are in progress. */
static void
launch(struct idle *d)
{
	while (!d->closed && d->launched < d->k && d->launched - d->established < CONNECT_WINDOW) {
		struct wsc *c = &d->conns[d->launched++];
		c->ops = &idle_ops;
		c->arg = d;
		bench_ws_connect(c, d->lws, &d->o->ws, NULL);
	}
}

/* The connections took longer than --timeout. */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct idle *d = arg;

	(void)fd;
	(void)what;
	d->timed_out = 1;
	snprintf(d->why, sizeof d->why, "timed out with %u of %u connections established",
		 d->established, d->k);
	log_error("%s", d->why);
	event_base_loopexit(d->base, NULL);
}

/* Measure; returns 0, or -1 with the reason in d->why or logged. */
static int
run_idle(struct idle *d)
{
	struct timeval tv = {(time_t)d->o->timeout_s, 0};

	d->base = bench_base_new();
	if (!d->base)
		return -1;
	d->deadline = evtimer_new(d->base, on_deadline, d);
	d->settle = evtimer_new(d->base, on_settled, d);
	d->conns = calloc(d->k, sizeof *d->conns);
	if (!d->deadline || !d->settle || !d->conns || evtimer_add(d->deadline, &tv) ||
	    !(d->lws = wsc_context_new(d->base, (int)d->o->timeout_s, 0)))
		return -1;
	if (proc_rss_kib(d->pid, &d->rss0)) {
		snprintf(d->why, sizeof d->why, "cannot read the server's memory");
		return -1;
	}
	d->t0 = bench_mono_us();
	launch(d);
	if (event_base_dispatch(d->base) < 0) {
		log_error("the event loop failed");
		return -1;
	}
	return d->measured ? 0 : -1;
}

int
bench_idle(const struct bench_opts *o, struct report *r)
{
	struct idle d;
	double per;
	int rc;

	memset(&d, 0, sizeof d);
	d.o = o;
	d.k = o->connections ? o->connections : DEFAULT_CONNECTIONS;
	report_param(r, "connections", d.k);
	d.pid = bench_server_pid(o);
	if (!d.pid) {
		log_error("cannot find the server's process: give --pid");
		report_note(r, "server process not found");
		r->incomplete = 1;
		return 1;
	}
	if (proc_raise_nofile(d.k + 64)) {
		log_error("cannot raise the open-file limit to %u", d.k + 64);
		report_note(r, "open-file limit too low");
		r->incomplete = 1;
		return 1;
	}
	rc = run_idle(&d);
	per = d.measured ? (double)(d.rss1 - d.rss0) / d.k : 0;
	report_value(r, per, "KiB/connection");
	report_num(r, "pid", (double)d.pid);
	report_num(r, "rss_before_kib", (double)d.rss0);
	report_num(r, "rss_after_kib", (double)d.rss1);
	report_num(r, "established", d.established);
	report_num(r, "connect_seconds", d.t_all ? (double)(d.t_all - d.t0) / 1e6 : -1);
	report_note(r, "server RSS %.1f -> %.1f MiB with %u connections", (double)d.rss0 / 1024,
		    (double)d.rss1 / 1024, d.established);
	if (d.t_all)
		report_note(r, "all connected in %.2f s", (double)(d.t_all - d.t0) / 1e6);
	if (rc) {
		r->incomplete = 1;
		report_note(r, "%s", d.why[0] ? d.why : "failed");
	}
	if (d.lws)
		lws_context_destroy(d.lws);
	for (unsigned i = 0; d.conns && i < d.k; i++)
		wsc_release(&d.conns[i]);
	free(d.conns);
	if (d.settle)
		event_free(d.settle);
	if (d.deadline)
		event_free(d.deadline);
	if (d.base)
		event_base_free(d.base);
	return rc ? 1 : 0;
}
