/*
 * nats-ingest and nats-replay: the ingest and replay scenarios against a
 * NATS JetStream server, to measure sentinel-logd beside it on the same
 * machine (make bench-peers). The events are the same bytes that
 * ingest-http posts one a request, one message each, on one subject of a
 * stream kept in files.
 *
 * nats-ingest publishes asynchronously with up to NATS_PENDING messages
 * awaiting their acknowledgement (JetStream acknowledges a message once
 * the stream stored it), and counts the acknowledgements. nats-replay
 * reads the stream from its first message with an ordered consumer, the
 * client library's in-order replay, after filling it when it holds fewer
 * messages than asked for. Both report the server's CPU like the other
 * scenarios (--pid: the nats-server process).
 */
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "buf.h"
#include "log.h"

#define NATS_STREAM  "SENTINEL_BENCH"
#define NATS_SUBJECT "sentinel.bench"
/* Asynchronous publishes awaiting their acknowledgement, at most. */
#define NATS_PENDING   4096
#define DEFAULT_EVENTS 1000000

struct nats_run {
	natsConnection *nc;
	jsCtx *js;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t acked, failed, received, want;
	int64_t t_first, t_last; /* monotonic µs: the first and the last message received */
	char why[256];
};

/* Every acknowledgement: count it (the library frees nothing itself). */
static void
on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct nats_run *n = closure;

	pthread_mutex_lock(&n->lock);
	if (pa) {
		n->acked++;
	} else {
		if (!n->failed)
			snprintf(n->why, sizeof n->why, "publish failed: %s",
				 pae && pae->ErrText ? pae->ErrText : "no acknowledgement");
		n->failed++;
	}
	pthread_mutex_unlock(&n->lock);
	natsMsg_Destroy(msg);
}

static int
nats_fail(struct nats_run *n, const char *what, natsStatus s)
{
	snprintf(n->why, sizeof n->why, "%s: %s", what,
		 nats_GetLastError(NULL) ? nats_GetLastError(NULL) : natsStatus_GetText(s));
	log_error("%s", n->why);
	return -1;
}

/* Connect to the server and open JetStream. Returns 0, or -1 with n->why. */
static int
nats_open(struct nats_run *n, const struct bench_opts *o)
{
	jsOptions jo;
	natsStatus s;

	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	if ((s = natsConnection_ConnectTo(&n->nc, o->nats_url)) != NATS_OK)
		return nats_fail(n, "cannot connect to the NATS server", s);
	jsOptions_Init(&jo);
	jo.Wait = 10000;
	jo.PublishAsync.MaxPending = NATS_PENDING;
	jo.PublishAsync.StallWait = 10000;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = n;
	if ((s = natsConnection_JetStream(&n->js, n->nc, &jo)) != NATS_OK)
		return nats_fail(n, "JetStream", s);
	return 0;
}

static void
nats_close(struct nats_run *n)
{
	jsCtx_Destroy(n->js);
	if (n->nc) {
		natsConnection_Close(n->nc);
		natsConnection_Destroy(n->nc);
	}
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
}

/* The stream's message count, or -1 when it does not exist. */
static int64_t
stream_messages(struct nats_run *n)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	int64_t count = -1;

	if (js_GetStreamInfo(&si, n->js, NATS_STREAM, NULL, &jerr) == NATS_OK && si)
		count = (int64_t)si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return count;
}

/* A new, empty stream in files. Returns 0, or -1 with n->why. */
static int
stream_create(struct nats_run *n)
{
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	const char *subjects[] = {NATS_SUBJECT};
	jsErrCode jerr = 0;
	natsStatus s;

	if (stream_messages(n) >= 0)
		js_DeleteStream(n->js, NATS_STREAM, NULL, &jerr);
	jsStreamConfig_Init(&sc);
	sc.Name = NATS_STREAM;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	if ((s = js_AddStream(&si, n->js, &sc, NULL, &jerr)) != NATS_OK)
		return nats_fail(n, "cannot create the stream", s);
	jsStreamInfo_Destroy(si);
	return 0;
}

/* Publish count events, numbered from seq on, and wait for every acknowledgement. */
static int
publish(struct nats_run *n, uint64_t seq, uint64_t count)
{
	struct buf b = {0};
	jsPubOptions po;
	natsStatus s;

	for (uint64_t i = 0; i < count; i++) {
		b.len = 0;
		if (bench_events_json(&b, seq + i, 1, 0, 0, 0)) {
			buf_free(&b);
			snprintf(n->why, sizeof n->why, "out of memory");
			return -1;
		}
		s = js_PublishAsync(n->js, NATS_SUBJECT, b.data, (int)b.len, NULL);
		if (s != NATS_OK) {
			buf_free(&b);
			return nats_fail(n, "publish", s);
		}
	}
	buf_free(&b);
	jsPubOptions_Init(&po);
	po.MaxWait = 60000;
	if ((s = js_PublishAsyncComplete(n->js, &po)) != NATS_OK)
		return nats_fail(n, "waiting for the acknowledgements", s);
	return n->failed ? -1 : 0;
}

int
bench_nats_ingest(const struct bench_opts *o, struct report *r)
{
	struct nats_run n;
	struct bench_cpu cpu;
	uint64_t events = o->events ? o->events : DEFAULT_EVENTS;
	int64_t t0, t1;
	double secs;
	int rc;

	memset(&n, 0, sizeof n);
	report_param(r, "events", (double)events);
	report_param(r, "pending", NATS_PENDING);
	report_value(r, 0, "events/s");
	if (nats_open(&n, o) || stream_create(&n)) {
		rc = -1;
		goto out;
	}
	bench_cpu_begin(&cpu, o->pid);
	t0 = bench_mono_us();
	rc = publish(&n, 0, events);
	t1 = bench_mono_us();
	bench_cpu_end(&cpu);
	secs = (double)(t1 - t0) / 1e6;
	report_value(r, secs > 0 ? (double)n.acked / secs : 0, "events/s");
	report_num(r, "accepted", (double)n.acked);
	report_num(r, "seconds", secs);
	report_num(r, "errors", (double)n.failed);
	report_note(r, "%llu events acknowledged in %.2f s", (unsigned long long)n.acked, secs);
	bench_cpu_report(&cpu, r, (double)n.acked, "event");
out:
	if (rc) {
		r->incomplete = 1;
		report_note(r, "%s", n.why[0] ? n.why : "failed");
	}
	nats_close(&n);
	return rc ? 1 : 0;
}

/* Every replayed message: count it, and say when the last one came. */
static void
on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct nats_run *n = closure;
	int64_t now = bench_mono_us();

	natsMsg_Destroy(msg);
	pthread_mutex_lock(&n->lock);
	if (!n->received)
		n->t_first = now;
	n->received++;
	n->t_last = now;
	if (n->received == n->want)
		pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

/* Wait until every message came or the deadline passed. Returns 0, or -1. */
static int
wait_replay(struct nats_run *n, double timeout_s)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)timeout_s;
	pthread_mutex_lock(&n->lock);
	while (n->received < n->want && rc == 0)
		rc = pthread_cond_timedwait(&n->cond, &n->lock, &until);
	rc = n->received < n->want ? -1 : 0;
	pthread_mutex_unlock(&n->lock);
	if (rc)
		snprintf(n->why, sizeof n->why, "timed out");
	return rc;
}

int
bench_nats_replay(const struct bench_opts *o, struct report *r)
{
	struct nats_run n;
	struct bench_cpu cpu;
	natsSubscription *sub = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	int64_t stored, t0;
	double secs;
	int rc = -1;

	memset(&n, 0, sizeof n);
	n.want = o->events ? o->events : DEFAULT_EVENTS;
	report_param(r, "events", (double)n.want);
	report_value(r, 0, "events/s");
	if (nats_open(&n, o))
		goto out;
	stored = stream_messages(&n);
	if (stored < (int64_t)n.want) {
		log_info("filling the stream with %llu events",
			 (unsigned long long)(n.want - (uint64_t)(stored > 0 ? stored : 0)));
		if ((stored < 0 && stream_create(&n)) ||
		    publish(&n, stored > 0 ? (uint64_t)stored : 0,
			    n.want - (uint64_t)(stored > 0 ? stored : 0)))
			goto out;
	}
	jsSubOptions_Init(&so);
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverAll;
	bench_cpu_begin(&cpu, o->pid);
	t0 = bench_mono_us();
	s = js_Subscribe(&sub, n.js, NATS_SUBJECT, on_msg, &n, NULL, &so, &jerr);
	if (s != NATS_OK) {
		nats_fail(&n, "cannot subscribe", s);
		goto out;
	}
	rc = wait_replay(&n, o->timeout_s);
	bench_cpu_end(&cpu);
	natsSubscription_Unsubscribe(sub);
	pthread_mutex_lock(&n.lock);
	secs = n.t_last > t0 ? (double)(n.t_last - t0) / 1e6 : 0;
	report_value(r, secs > 0 ? (double)n.received / secs : 0, "events/s");
	report_num(r, "received", (double)n.received);
	report_num(r, "seconds", secs);
	report_num(r, "first_event_ms", n.t_first ? (double)(n.t_first - t0) / 1000 : -1);
	report_note(r, "%llu events in %.2f s, first after %.1f ms", (unsigned long long)n.received,
		    secs, n.t_first ? (double)(n.t_first - t0) / 1000 : -1.0);
	pthread_mutex_unlock(&n.lock);
	bench_cpu_report(&cpu, r, (double)n.received, "event");
out:
	if (rc) {
		r->incomplete = 1;
		report_note(r, "%s", n.why[0] ? n.why : "failed");
	}
	natsSubscription_Destroy(sub);
	nats_close(&n);
	return rc ? 1 : 0;
}
