/*
 * Applying the stream into the local store (see applier.h).
 *
 * The thread gathers what the consumer has (up to GATHER_BYTES), splits it
 * into runs of consecutive sequence numbers, each one batch with its ids
 * assigned, submits them together, and waits until the writer reports the
 * commit. GATHER_BYTES stays below the writer's group bound, so one
 * gathering is one transaction: all of it is committed, or none.
 *
 * A message carries the event's stored body, and its type and timestamp in
 * headers (publisher.c), so no node parses or changes it: every node
 * stores the same bytes. A message without those headers (published to
 * the subject by something else) is validated here, with the stream's own
 * timestamp as its ingest time; one that is not an event is skipped.
 */
#include "applier.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "stream.h"
#include "thread_name.h"
#include "timestamp.h"

/* What one gathering holds at most: below the writer's 2 MiB group bound. */
#define GATHER_BYTES (1024 * 1024)
#define GATHER_MSGS  8192
/* How long NextMsg waits for the first message of a gathering (ms). */
#define WAIT_MS 200
/* How often the stream's facts are read (µs). */
#define POLL_US 5000000
/* Before reading again after a failed commit (µs). */
#define RETRY_US 1000000

struct applier {
	char *stream, *subject;
	char epoch[STREAM_EPOCH_SIZE];
	writer *w;
	jsCtx *js;
	void (*notify)(void *arg);
	void *notify_arg;
	pthread_t thread;
	int started;
	int retrying; /* logged a failed commit, not yet a success (thread only) */
	atomic_int stopping;
	atomic_int fatal;

	/* Guarded by lock: what the writer reported, and the figures. */
	pthread_mutex_t lock;
	pthread_cond_t committed_cond;
	int64_t committed; /* the highest sequence committed */
	int failed;        /* a commit of the current gathering failed */
	uint64_t stream_last, lag;
};

/* The writer's report after each commit (writer thread). */
static void
on_commit(void *arg, const struct ingest_batch *list, int status)
{
	applier *a = arg;

	pthread_mutex_lock(&a->lock);
	for (const struct ingest_batch *b = list; b; b = b->next) {
		if (!b->ids_assigned)
			continue;
		if (status)
			a->failed = 1;
		else if (b->last_id > a->committed)
			a->committed = b->last_id;
	}
	pthread_cond_broadcast(&a->committed_cond);
	pthread_mutex_unlock(&a->lock);
}

/* Subscribe from sequence start on. Returns NULL after logging why. */
static natsSubscription *
subscribe(applier *a, int64_t start)
{
	natsSubscription *sub = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	jsSubOptions_Init(&so);
	so.Stream = a->stream;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverByStartSequence;
	so.Config.OptStartSeq = (uint64_t)start;
	/* Heartbeats let the ordered consumer notice a lost server quickly. */
	so.Config.Heartbeat = INT64_C(1000000000);
	s = js_SubscribeSync(&sub, a->js, a->subject, NULL, &so, &jerr);
	if (s != NATS_OK) {
		log_warn("cluster: cannot read the stream from %lld: %s", (long long)start,
			 nats_GetLastError(NULL));
		return NULL;
	}
	/* Bound what libnats buffers ahead of the writer. */
	natsSubscription_SetPendingLimits(sub, 65536, 64 * 1024 * 1024);
	return sub;
}

/* Fill ev from a message of sequence seq. Returns 0, or -1 to skip it. */
static int
to_event(natsMsg *m, jsMsgMetaData *meta, struct logevent *ev)
{
	const char *data = natsMsg_GetData(m), *type = NULL, *ts = NULL;
	int len = natsMsg_GetDataLength(m);
	char errmsg[ERRMSG_SIZE];
	char *end;

	if (natsMsgHeader_Get(m, "Sentinel-Type", &type) == NATS_OK &&
	    natsMsgHeader_Get(m, "Sentinel-Ts", &ts) == NATS_OK && type &&
	    logevent_type_valid(type, strlen(type)) && ts && *ts && len > 2 &&
	    (strtoll(ts, &end, 10), !*end)) {
		memset(ev, 0, sizeof *ev);
		ev->ts_us = strtoll(ts, NULL, 10);
		ev->body = malloc((size_t)len + 1);
		if (!ev->body)
			return -1;
		memcpy(ev->body, data, (size_t)len);
		ev->body[len] = '\0';
		ev->body_len = (size_t)len;
		snprintf(ev->type, sizeof ev->type, "%s", type);
		return 0;
	}
	if (logevent_parse(data ? data : "", (size_t)(len > 0 ? len : 0), meta->Timestamp / 1000,
			   ev, errmsg)) {
		log_warn("cluster: stream message %" PRIu64 " is not an event, skipped: %s",
			 meta->Sequence.Stream, errmsg);
		return -1;
	}
	return 0;
}

/* Append ev (sequence seq) to the run in *run, starting a new one as needed. */
static int
add_to_run(struct ingest_batch **runs, struct ingest_batch **run, size_t *cap, int64_t seq,
	   struct logevent *ev)
{
	struct ingest_batch *r = *run;

	if (!r || r->first_id + (int64_t)r->count != seq) {
		r = calloc(1, sizeof *r);
		if (!r)
			return ERR_NOMEM;
		r->ids_assigned = 1;
		r->first_id = seq;
		if (*run)
			(*run)->next = r;
		else
			*runs = r;
		*run = r;
		*cap = 0;
	}
	if (r->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct logevent *ne = realloc(r->events, ncap * sizeof *ne);
		if (!ne)
			return ERR_NOMEM;
		r->events = ne;
		*cap = ncap;
	}
	r->events[r->count++] = *ev;
	return 0;
}

static void
free_runs(struct ingest_batch *runs)
{
	for (struct ingest_batch *b = runs, *next; b; b = next) {
		next = b->next;
		ingest_batch_free(b);
	}
}

/*
 * Gather what the consumer has, after position, into runs. Returns the
 * number of messages taken (0 on a timeout), or -1 when the subscription
 * failed.
 */
static int
gather(applier *a, natsSubscription *sub, int64_t position, struct ingest_batch **runs,
       int64_t *last)
{
	struct ingest_batch *run = NULL;
	size_t bytes = 0, cap = 0;
	int taken = 0;
	natsMsg *m = NULL;
	natsStatus s = natsSubscription_NextMsg(&m, sub, WAIT_MS);

	*runs = NULL;
	if (s == NATS_TIMEOUT)
		return 0;
	if (s != NATS_OK)
		return -1;
	do {
		jsMsgMetaData *meta = NULL;
		struct logevent ev;

		taken++;
		if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
			int64_t seq = (int64_t)meta->Sequence.Stream;
			pthread_mutex_lock(&a->lock);
			a->lag = meta->NumPending;
			pthread_mutex_unlock(&a->lock);
			/* A consumer reset may deliver what is applied already. */
			if (seq > position && !to_event(m, meta, &ev)) {
				bytes += ev.body_len;
				if (add_to_run(runs, &run, &cap, seq, &ev)) {
					logevent_free(&ev);
					jsMsgMetaData_Destroy(meta);
					natsMsg_Destroy(m);
					free_runs(*runs);
					*runs = NULL;
					return -1;
				}
				position = seq;
			}
			jsMsgMetaData_Destroy(meta);
		}
		natsMsg_Destroy(m);
		m = NULL;
	} while (bytes < GATHER_BYTES && taken < GATHER_MSGS &&
		 natsSubscription_NextMsg(&m, sub, 0) == NATS_OK);
	*last = position;
	return taken;
}

/* Submit the runs and wait for their commit. Returns 0, or -1 if it failed. */
static int
apply(applier *a, struct ingest_batch *runs, int64_t last)
{
	int failed;

	pthread_mutex_lock(&a->lock);
	a->failed = 0;
	pthread_mutex_unlock(&a->lock);
	for (struct ingest_batch *b = runs, *next; b; b = next) {
		next = b->next;
		if (writer_submit(a->w, b)) {
			free_runs(b);
			return -1;
		}
	}
	pthread_mutex_lock(&a->lock);
	while (a->committed < last && !a->failed && !atomic_load(&a->stopping))
		pthread_cond_wait(&a->committed_cond, &a->lock);
	failed = a->failed || a->committed < last;
	pthread_mutex_unlock(&a->lock);
	return failed ? -1 : 0;
}

/* Read the stream's facts; a re-created or truncated stream is fatal. */
static void
poll_stream(applier *a)
{
	struct stream_facts f;
	char errmsg[ERRMSG_SIZE];
	int64_t committed;

	int rc = stream_get(a->js, a->stream, &f, errmsg);

	if (rc == ERR_INVAL) {
		log_error("cluster: %s: this node cannot apply it any more; stopping", errmsg);
		atomic_store(&a->fatal, 1);
		a->notify(a->notify_arg);
		return;
	}
	if (rc)
		return; /* unreachable for now: the connection retries */
	pthread_mutex_lock(&a->lock);
	a->stream_last = f.last_seq;
	committed = a->committed;
	pthread_mutex_unlock(&a->lock);
	if (strcmp(f.epoch, a->epoch)) {
		log_error("cluster: the stream '%s' was re-created (epoch %s, was %s): this node "
			  "must rebuild its store; stopping",
			  a->stream, f.epoch, a->epoch);
	} else if ((int64_t)f.last_seq < committed) {
		log_error("cluster: the stream '%s' ends at %" PRIu64
			  " but this node applied up to "
			  "%lld: the stream lost events; stopping to rebuild",
			  a->stream, f.last_seq, (long long)committed);
	} else {
		return;
	}
	atomic_store(&a->fatal, 1);
	a->notify(a->notify_arg);
}

static void *
applier_main(void *arg)
{
	applier *a = arg;
	natsSubscription *sub = NULL;
	int64_t next_poll = 0, resume_at = 0;

	thread_name_set("applier");
	while (!atomic_load(&a->stopping) && !atomic_load(&a->fatal)) {
		int64_t now = timestamp_now(), position, last;
		struct ingest_batch *runs;

		if (now >= next_poll) {
			poll_stream(a);
			next_poll = now + POLL_US;
			continue;
		}
		if (!sub) {
			if (now < resume_at) {
				struct timespec ts = {0, 50 * 1000000};
				nanosleep(&ts, NULL);
				continue;
			}
			pthread_mutex_lock(&a->lock);
			position = a->committed;
			pthread_mutex_unlock(&a->lock);
			sub = subscribe(a, position + 1);
			if (!sub) {
				resume_at = now + RETRY_US;
				continue;
			}
		}
		pthread_mutex_lock(&a->lock);
		position = a->committed;
		pthread_mutex_unlock(&a->lock);
		int n = gather(a, sub, position, &runs, &last);
		if (n < 0) { /* the subscription broke: start a new one */
			natsSubscription_Destroy(sub);
			sub = NULL;
			resume_at = now + RETRY_US / 4;
			continue;
		}
		if (!runs)
			continue;
		if (apply(a, runs, last)) {
			/* Not committed: read again from the last committed. */
			if (!a->retrying)
				log_warn("cluster: applying up to %lld failed; retrying every "
					 "second",
					 (long long)last);
			a->retrying = 1;
			natsSubscription_Destroy(sub);
			sub = NULL;
			resume_at = now + RETRY_US;
		} else if (a->retrying) {
			log_info("cluster: applying again, up to %lld", (long long)last);
			a->retrying = 0;
		}
	}
	if (sub)
		natsSubscription_Destroy(sub);
	return NULL;
}

applier *
applier_create(const char *stream, const char *subject, const char *epoch, writer *w,
	       int64_t applied, void (*notify)(void *arg), void *arg)
{
	applier *a = calloc(1, sizeof *a);

	if (!a)
		return NULL;
	a->stream = strdup(stream);
	a->subject = strdup(subject);
	if (!a->stream || !a->subject) {
		applier_destroy(a);
		return NULL;
	}
	snprintf(a->epoch, sizeof a->epoch, "%s", epoch);
	a->w = w;
	a->committed = applied;
	a->notify = notify;
	a->notify_arg = arg;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->committed_cond, NULL);
	writer_on_commit(w, on_commit, a);
	return a;
}

int
applier_start(applier *a, jsCtx *js)
{
	a->js = js;
	if (pthread_create(&a->thread, NULL, applier_main, a))
		return ERR_SYS;
	a->started = 1;
	return 0;
}

void
applier_get_stats(applier *a, struct applier_stats *out)
{
	pthread_mutex_lock(&a->lock);
	out->applied = a->committed;
	out->stream_last =
		a->stream_last > (uint64_t)a->committed ? a->stream_last : (uint64_t)a->committed;
	out->lag = a->lag;
	pthread_mutex_unlock(&a->lock);
}

int
applier_fatal(applier *a)
{
	return atomic_load(&a->fatal);
}

void
applier_stop(applier *a)
{
	atomic_store(&a->stopping, 1);
	pthread_mutex_lock(&a->lock);
	pthread_cond_broadcast(&a->committed_cond);
	pthread_mutex_unlock(&a->lock);
	if (a->started) {
		pthread_join(a->thread, NULL);
		a->started = 0;
	}
}

void
applier_destroy(applier *a)
{
	if (!a)
		return;
	if (a->w) {
		pthread_cond_destroy(&a->committed_cond);
		pthread_mutex_destroy(&a->lock);
	}
	free(a->stream);
	free(a->subject);
	free(a);
}
