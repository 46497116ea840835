/*
 * sentinel-bench: the load generator behind the README's performance figures.
 *
 * Each scenario is a function that runs one bounded load against a server
 * (every loop stops after a count of events and a deadline, whichever comes
 * first) and fills a report. Options are parsed once, in main.c; a value
 * of 0 means "the scenario's default".
 */
#ifndef SENTINEL_BENCH_H
#define SENTINEL_BENCH_H

#include <stdint.h>
#include <sys/types.h>

#include "httpc.h"
#include "report.h"
#include "resolve.h"
#include "url.h"

struct event_base;

/*
 * A URL the scenarios load, resolved once (to loopback addresses only),
 * so that the load loops never call the resolver.
 */
struct bench_target {
	struct url url;
	struct resolve_list addrs;       /* its loopback addresses */
	char address[RESOLVE_TEXT_SIZE]; /* the first, as text (for libwebsockets) */
	char path[URL_PATH_MAX];         /* the request path: path and query */
};

struct bench_opts {
	struct bench_target post;   /* --post-url: POST target */
	struct bench_target ws;     /* --ws-url: the live feed */
	struct bench_target ingest; /* --ingest-url: streaming ingest (default: ws-url's host) */
	struct bench_target stats;  /* GET /api/stats on post-url's host */
	int json;
	int header;
	int verbose;
	double timeout_s; /* the hard limit of one run */
	pid_t pid;        /* the server, 0: find it by post-url's port */

	/* ingest-http, ingest-ws, replay */
	unsigned batch;
	unsigned producers;
	unsigned window;
	uint64_t events;

	/* fanout */
	unsigned subscribers;
	double rate;
	double seconds;
	double warmup;
	double drain;
	unsigned threads;
	unsigned publishers;
	unsigned tick_ms;

	/* idle */
	unsigned connections;
	double settle;

	/* fsync */
	const char *dir;
	unsigned count;

	/* ingest-http, fanout: any 2xx answer accepts a post's events (a
	 * server other than sentinel-logd, such as nginx with nchan) */
	int any_2xx;
	/* fanout: events in one post at most */
	unsigned max_batch;
	/* ingest-http: every post carries an Idempotency-Key of its own */
	int idempotency;

	/* nats-ingest, nats-replay */
	const char *nats_url;
};

/* Scenarios: each returns 0, or 1 when the run failed or is incomplete. */
int bench_ingest_http(const struct bench_opts *o, struct report *r);
int bench_ingest_ws(const struct bench_opts *o, struct report *r);
int bench_fanout(const struct bench_opts *o, struct report *r);
int bench_replay(const struct bench_opts *o, struct report *r);
int bench_idle(const struct bench_opts *o, struct report *r);
int bench_fsync(const struct bench_opts *o, struct report *r);
int bench_nats_ingest(const struct bench_opts *o, struct report *r);
int bench_nats_replay(const struct bench_opts *o, struct report *r);

/*
 * Post events through the HTTP client until the server holds at least
 * `events` more than before: batches of `batch`, `producers` connections.
 * Used by replay to fill a store. Returns 0, or 1 after logging why.
 */
int bench_http_fill(const struct bench_opts *o, uint64_t events, unsigned batch,
		    unsigned producers);

/* The headers of a post of benchmark events. */
#define BENCH_JSON_HEADERS "Content-Type: application/json\r\n"

struct wsc;
struct lws_context;

/* An HTTP client connection to t (httpc.h). NULL when out of memory. */
httpc *bench_http_new(struct event_base *base, const struct bench_target *t, httpc_done_fn done,
		      void *arg);

/*
 * Connect c to t's address with request path (NULL: t's own), sending an
 * Origin as the server's own page would (wsc.h).
 */
void bench_ws_connect(struct wsc *c, struct lws_context *ctx, const struct bench_target *t,
		      const char *path);

/* Monotonic time in microseconds. */
int64_t bench_mono_us(void);

/* A libevent base with precise (timerfd) timers. NULL after logging why. */
struct event_base *bench_base_new(void);

/* The server's pid: --pid, or the process listening on post-url's port; 0 if unknown. */
pid_t bench_server_pid(const struct bench_opts *o);

/* CPU use of this process and of the server over an interval. */
struct bench_cpu {
	pid_t server;
	double self0, server0;
	int64_t t0;
	int server_ok;
	int ended;
	double self_pct, server_pct; /* of one core, once ended */
	double server_cpu_s;         /* the server's CPU time in the interval, once ended */
};

void bench_cpu_begin(struct bench_cpu *c, pid_t server);

/* Close the interval (only the first call counts). */
void bench_cpu_end(struct bench_cpu *c);

/*
 * Add "client x%, server y%" (of one core) to r, and the server's CPU time
 * per unit of work: units of what (e.g. "event") done in the interval.
 * Ends the interval if open.
 */
void bench_cpu_report(struct bench_cpu *c, struct report *r, double units, const char *what);

/*
 * The JSON of `count` benchmark events with sequence numbers from seq on,
 * appended to b: a bare object when count is 1 and !array, else an array.
 * Events imitate the seed's (agent, monitor and system events with Spanish
 * text, an emoji and a data object), about 120 bytes each. t_us, when not
 * 0, is put first in each event's data as "t" (the fan-out probe); t_step
 * is added to it from one event to the next. Returns 0 or ERR_NOMEM.
 */
struct buf;
int bench_events_json(struct buf *b, uint64_t seq, unsigned count, int array, int64_t t_us,
		      double t_step);

#endif
