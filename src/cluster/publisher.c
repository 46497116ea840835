/*
 * Publishing batches to the stream (see publisher.h).
 *
 * Every event in flight has an entry in a table keyed by its natsMsg:
 * libnats hands the same message back to the acknowledgement handler, so
 * the entry says which batch and which event it is. Entries live from just
 * before the first publish until the acknowledgement or the give-up, across
 * retries. One mutex guards the queue, the table, the retry list and the
 * done list; it is never held across a libnats call, because libnats may
 * call publisher_on_ack() from inside one (an error it cannot send).
 *
 * Message ids are "NODE/BOOT/N": NODE names the node, BOOT the process
 * start, N counts events; or "key/KEY/I" for the I-th event of a request
 * with the Idempotency-Key KEY, the same from any node. The stream drops a
 * message whose id it has seen within its duplicate window, so a retry
 * after a lost acknowledgement, or a producer's retry with its key, stores
 * nothing twice and is acknowledged with the original sequence.
 */
#include "publisher.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "thread_name.h"
#include "timestamp.h"

/* Events in flight (published or waiting for a retry) at most. */
#define MAX_IN_FLIGHT 8192
/* Table slots: a power of two, at least twice MAX_IN_FLIGHT. */
#define TABLE_SIZE 16384
/* Each publish waits this long for its acknowledgement (ms) at most. */
#define ATTEMPT_WAIT_MS 2000
/* Back-off after an error: from this, doubling, up to 1 s (µs). */
#define RETRY_FIRST_US 50000
#define RETRY_MAX_US   1000000

/* One batch while its events are in flight. */
struct pub_batch {
	struct ingest_batch *b;
	size_t acked, failed;
	char error[120]; /* the first error, for the answer */
};

/* One event in flight. */
struct entry {
	natsMsg *msg; /* NULL: a free slot */
	struct pub_batch *pb;
	size_t index;
	int64_t deadline_us; /* give up after this */
	int attempts;
};

/* An event waiting to be sent again. */
struct retry {
	natsMsg *msg;
	int64_t due_us;
};

struct publisher {
	char *stream, *subject, *node;
	int64_t ack_timeout_us;
	uint64_t boot;    /* the process start, in message ids */
	uint64_t counter; /* events numbered so far (thread only) */
	void (*notify)(void *arg);
	void *notify_arg;
	jsCtx *js;

	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping;
	struct ingest_batch *queue, **queue_tail;
	struct ingest_batch *done, **done_tail;
	struct entry table[TABLE_SIZE];
	size_t in_flight;
	struct retry retries[MAX_IN_FLIGHT];
	size_t retry_count;
	struct publisher_stats stats;
};

static uint64_t
hash_ptr(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return x;
}

/* The slot of msg, or NULL (lock held). */
static struct entry *
find(publisher *p, const natsMsg *msg)
{
	for (uint64_t i = hash_ptr(msg);; i++) {
		struct entry *e = &p->table[i & (TABLE_SIZE - 1)];
		if (!e->msg || e->msg == msg)
			return e->msg ? e : NULL;
	}
}

/* A free slot for msg (lock held; the table is never full). */
static struct entry *
insert(publisher *p, natsMsg *msg)
{
	for (uint64_t i = hash_ptr(msg);; i++) {
		struct entry *e = &p->table[i & (TABLE_SIZE - 1)];
		if (!e->msg) {
			e->msg = msg;
			p->in_flight++;
			return e;
		}
	}
}

/* Free e's slot, shifting later entries of its run back (lock held). */
static void
erase(publisher *p, struct entry *e)
{
	uint64_t hole = (uint64_t)(e - p->table);

	e->msg = NULL;
	p->in_flight--;
	for (uint64_t i = hole + 1;; i++) {
		struct entry *next = &p->table[i & (TABLE_SIZE - 1)];
		if (!next->msg)
			return;
		uint64_t home = hash_ptr(next->msg) & (TABLE_SIZE - 1);
		/* Move next into the hole unless its home lies between them. */
		if (((i - home) & (TABLE_SIZE - 1)) >= ((i - hole) & (TABLE_SIZE - 1))) {
			p->table[hole & (TABLE_SIZE - 1)] = *next;
			next->msg = NULL;
			hole = i;
		}
	}
}

/* Every event of pb is answered: move its batch to the done list (lock held). */
static void
finish(publisher *p, struct pub_batch *pb)
{
	struct ingest_batch *b = pb->b;

	if (pb->failed) {
		b->status = ERR_IO;
		snprintf(b->errmsg, sizeof b->errmsg,
			 "the cluster did not acknowledge %zu of %zu events (%s); retry the "
			 "request: events already stored are not stored twice only when it "
			 "carries an Idempotency-Key",
			 pb->failed, b->count, pb->error);
		free(b->ids);
		b->ids = NULL;
	} else {
		int64_t lo = b->ids[0], hi = b->ids[0];
		int consecutive = 1;
		for (size_t i = 1; i < b->count; i++) {
			consecutive &= b->ids[i] == b->ids[i - 1] + 1;
			lo = b->ids[i] < lo ? b->ids[i] : lo;
			hi = b->ids[i] > hi ? b->ids[i] : hi;
		}
		b->status = 0;
		b->first_id = lo;
		b->last_id = hi;
		if (consecutive) { /* the usual case: the answer needs no list */
			free(b->ids);
			b->ids = NULL;
		}
	}
	free(pb);
	b->next = NULL;
	*p->done_tail = b;
	p->done_tail = &b->next;
}

/* One event of pb will not be acknowledged (lock held). */
static void
give_up(publisher *p, struct pub_batch *pb, const char *why)
{
	if (!pb->failed)
		snprintf(pb->error, sizeof pb->error, "%s", why);
	pb->failed++;
	p->stats.failed++;
}

/* Returns 1 when pb is complete and was moved to the done list (lock held). */
static int
maybe_finish(publisher *p, struct pub_batch *pb)
{
	if (pb->acked + pb->failed < pb->b->count)
		return 0;
	finish(p, pb);
	return 1;
}

void
publisher_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	publisher *p = closure;
	int64_t now = timestamp_now();
	int done = 0, keep = 0;
	struct entry *e;
	(void)js;

	pthread_mutex_lock(&p->lock);
	e = find(p, msg);
	if (!e) {
		pthread_mutex_unlock(&p->lock);
		natsMsg_Destroy(msg);
		return;
	}
	struct pub_batch *pb = e->pb;
	if (!pb) { /* given up on at stop: nobody waits for it */
		erase(p, e);
		pthread_mutex_unlock(&p->lock);
		natsMsg_Destroy(msg);
		return;
	}
	if (pa) {
		pb->b->ids[e->index] = (int64_t)pa->Sequence;
		pb->acked++;
		p->stats.published++;
		erase(p, e);
	} else if (!p->stopping && now < e->deadline_us && p->retry_count < MAX_IN_FLIGHT) {
		/* Leader elections, a lost acknowledgement: send it again. */
		int64_t backoff = RETRY_FIRST_US << (e->attempts < 5 ? e->attempts : 5);
		e->attempts++;
		p->retries[p->retry_count++] = (struct retry){
			.msg = msg,
			.due_us = now + (backoff < RETRY_MAX_US ? backoff : RETRY_MAX_US),
		};
		keep = 1;
		pthread_cond_signal(&p->wake);
	} else {
		char why[100];
		snprintf(why, sizeof why, "%s",
			 pae && pae->ErrText ? pae->ErrText
			 : pae               ? natsStatus_GetText(pae->Err)
					     : "no acknowledgement");
		give_up(p, pb, why);
		erase(p, e);
	}
	if (!keep)
		done = maybe_finish(p, pb);
	pthread_cond_signal(&p->wake); /* room in the table, or a retry due */
	pthread_mutex_unlock(&p->lock);
	if (!keep)
		natsMsg_Destroy(msg);
	if (done)
		p->notify(p->notify_arg);
}

/* Send msg (registered in the table); on a failure it is given up on. */
static void
send_msg(publisher *p, natsMsg *msg, int retry)
{
	jsPubOptions o;
	natsStatus s;

	/* The message carries its Nats-Msg-Id header from build_msg(). */
	jsPubOptions_Init(&o);
	o.ExpectStream = p->stream;
	o.MaxWait = ATTEMPT_WAIT_MS;
	s = js_PublishMsgAsync(p->js, &msg, &o);
	if (s == NATS_OK)
		return;
	/* Not sent (stalled, disconnected, too large): retry or give up. */
	int64_t now = timestamp_now();
	int done = 0, keep = 0;
	pthread_mutex_lock(&p->lock);
	struct entry *e = find(p, msg);
	if (e) {
		struct pub_batch *pb = e->pb;
		if (s != NATS_MAX_PAYLOAD && !p->stopping && now < e->deadline_us &&
		    p->retry_count < MAX_IN_FLIGHT) {
			e->attempts++;
			p->retries[p->retry_count++] =
				(struct retry){.msg = msg, .due_us = now + RETRY_FIRST_US};
			keep = 1;
		} else {
			give_up(p, pb, natsStatus_GetText(s));
			erase(p, e);
			done = maybe_finish(p, pb);
		}
	}
	if (retry)
		p->stats.retried++;
	pthread_mutex_unlock(&p->lock);
	if (!keep)
		natsMsg_Destroy(msg);
	if (done)
		p->notify(p->notify_arg);
}

/* Build event i of b as a message with its id and headers. */
static natsMsg *
build_msg(publisher *p, struct ingest_batch *b, size_t i)
{
	const struct logevent *ev = &b->events[i];
	char id[160], ts[24];
	natsMsg *m = NULL;

	/* A producer's key names its request's events on every node alike. */
	if (b->idem_key)
		snprintf(id, sizeof id, "key/%s/%zu", b->idem_key, i);
	else
		snprintf(id, sizeof id, "%s/%" PRIu64 "/%" PRIu64, p->node, p->boot, ++p->counter);
	snprintf(ts, sizeof ts, "%lld", (long long)ev->ts_us);
	if (natsMsg_Create(&m, p->subject, NULL, ev->body, (int)ev->body_len) != NATS_OK ||
	    natsMsgHeader_Set(m, "Nats-Msg-Id", id) != NATS_OK ||
	    natsMsgHeader_Set(m, "Sentinel-Type", ev->type) != NATS_OK ||
	    natsMsgHeader_Set(m, "Sentinel-Ts", ts) != NATS_OK) {
		natsMsg_Destroy(m);
		return NULL;
	}
	return m;
}

/* Publish every event of a batch taken off the queue. */
static void
publish_batch(publisher *p, struct ingest_batch *b)
{
	struct pub_batch *pb = calloc(1, sizeof *pb);
	int64_t deadline = timestamp_now() + p->ack_timeout_us;
	int done = 0;

	free(b->ids);
	b->ids = calloc(b->count, sizeof *b->ids);
	pthread_mutex_lock(&p->lock);
	if (!pb || !b->ids) {
		b->status = ERR_NOMEM;
		snprintf(b->errmsg, sizeof b->errmsg, "out of memory");
		b->next = NULL;
		*p->done_tail = b;
		p->done_tail = &b->next;
		free(pb);
		pthread_mutex_unlock(&p->lock);
		p->notify(p->notify_arg);
		return;
	}
	pb->b = b;
	pthread_mutex_unlock(&p->lock);

	for (size_t i = 0; i < b->count; i++) {
		natsMsg *m = build_msg(p, b, i);
		pthread_mutex_lock(&p->lock);
		while (!p->stopping && p->in_flight >= MAX_IN_FLIGHT)
			pthread_cond_wait(&p->wake, &p->lock);
		if (!m || p->stopping) {
			give_up(p, pb, m ? "the server is stopping" : "out of memory");
			done = maybe_finish(p, pb);
			pthread_mutex_unlock(&p->lock);
			natsMsg_Destroy(m);
			if (done)
				p->notify(p->notify_arg);
			continue;
		}
		struct entry *e = insert(p, m);
		e->pb = pb;
		e->index = i;
		e->deadline_us = deadline;
		e->attempts = 0;
		pthread_mutex_unlock(&p->lock);
		send_msg(p, m, 0);
	}
}

/* Take the retries that are due (lock held); returns how many. */
static size_t
take_due(publisher *p, natsMsg **out, size_t max, int64_t now, int64_t *next_due)
{
	size_t n = 0, kept = 0;

	*next_due = INT64_MAX;
	for (size_t i = 0; i < p->retry_count; i++) {
		struct retry r = p->retries[i];
		if (r.due_us <= now && n < max) {
			out[n++] = r.msg;
		} else {
			p->retries[kept++] = r;
			if (r.due_us < *next_due)
				*next_due = r.due_us;
		}
	}
	p->retry_count = kept;
	return n;
}

static void *
publisher_main(void *arg)
{
	publisher *p = arg;
	natsMsg *due[64];

	thread_name_set("publisher");
	pthread_mutex_lock(&p->lock);
	for (;;) {
		int64_t now = timestamp_now(), next_due;
		size_t n = take_due(p, due, sizeof due / sizeof due[0], now, &next_due);
		if (n) {
			pthread_mutex_unlock(&p->lock);
			for (size_t i = 0; i < n; i++)
				send_msg(p, due[i], 1);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		if (p->queue) {
			struct ingest_batch *b = p->queue;
			p->queue = b->next;
			if (!p->queue)
				p->queue_tail = &p->queue;
			pthread_mutex_unlock(&p->lock);
			publish_batch(p, b);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		if (p->stopping && !p->retry_count)
			break;
		if (next_due == INT64_MAX) {
			pthread_cond_wait(&p->wake, &p->lock);
		} else {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t wait_ns = (next_due - now) * 1000 + ts.tv_nsec;
			ts.tv_sec += (time_t)(wait_ns / 1000000000);
			ts.tv_nsec = (long)(wait_ns % 1000000000);
			pthread_cond_timedwait(&p->wake, &p->lock, &ts);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static char *
dup_or_null(const char *s, int *failed)
{
	char *d = strdup(s);
	*failed |= !d;
	return d;
}

publisher *
publisher_create(const char *stream, const char *subject, const char *node, int64_t ack_timeout_us,
		 void (*notify)(void *arg), void *arg)
{
	publisher *p = calloc(1, sizeof *p);
	int failed = 0;

	if (!p)
		return NULL;
	p->stream = dup_or_null(stream, &failed);
	p->subject = dup_or_null(subject, &failed);
	p->node = dup_or_null(node, &failed);
	if (failed) {
		publisher_destroy(p);
		return NULL;
	}
	p->ack_timeout_us = ack_timeout_us;
	p->boot = (uint64_t)timestamp_now();
	p->notify = notify;
	p->notify_arg = arg;
	p->queue_tail = &p->queue;
	p->done_tail = &p->done;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	return p;
}

int
publisher_start(publisher *p, jsCtx *js)
{
	p->js = js;
	if (pthread_create(&p->thread, NULL, publisher_main, p))
		return ERR_SYS;
	p->started = 1;
	return 0;
}

int
publisher_submit(publisher *p, struct ingest_batch *b)
{
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		return ERR_CLOSED;
	}
	b->next = NULL;
	*p->queue_tail = b;
	p->queue_tail = &b->next;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

struct ingest_batch *
publisher_take_done(publisher *p)
{
	pthread_mutex_lock(&p->lock);
	struct ingest_batch *list = p->done;
	p->done = NULL;
	p->done_tail = &p->done;
	pthread_mutex_unlock(&p->lock);
	return list;
}

void
publisher_get_stats(publisher *p, struct publisher_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->stats;
	out->pending = p->in_flight;
	pthread_mutex_unlock(&p->lock);
}

void
publisher_stop(publisher *p)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (p->started) {
		pthread_join(p->thread, NULL);
		p->started = 0;
	}
	/* Wait a little for acknowledgements still on their way, then give
	 * up on the rest: their producers get an error and may retry. */
	if (p->js) {
		jsPubOptions o;
		jsPubOptions_Init(&o);
		o.MaxWait = ATTEMPT_WAIT_MS;
		js_PublishAsyncComplete(p->js, &o);
	}
	pthread_mutex_lock(&p->lock);
	/* Events waiting for a retry are ours: drop them. */
	for (size_t i = 0; i < p->retry_count; i++) {
		struct entry *e = find(p, p->retries[i].msg);
		if (e) {
			struct pub_batch *pb = e->pb;
			give_up(p, pb, "the server stopped");
			erase(p, e);
			maybe_finish(p, pb);
		}
		natsMsg_Destroy(p->retries[i].msg);
	}
	p->retry_count = 0;
	/* Events still with libnats: answer their batches now; a late
	 * acknowledgement finds its entry without a batch (publisher_on_ack). */
	for (size_t i = 0; i < TABLE_SIZE; i++) {
		struct entry *e = &p->table[i];
		if (!e->msg || !e->pb)
			continue;
		struct pub_batch *pb = e->pb;
		give_up(p, pb, "the server stopped");
		e->pb = NULL;
		maybe_finish(p, pb);
	}
	for (struct ingest_batch *b = p->queue, *next; b; b = next) {
		next = b->next;
		b->status = ERR_CLOSED;
		snprintf(b->errmsg, sizeof b->errmsg, "the server is shutting down");
		b->next = NULL;
		*p->done_tail = b;
		p->done_tail = &b->next;
	}
	p->queue = NULL;
	p->queue_tail = &p->queue;
	pthread_mutex_unlock(&p->lock);
}

void
publisher_destroy(publisher *p)
{
	if (!p)
		return;
	for (struct ingest_batch *b = publisher_take_done(p), *next; b; b = next) {
		next = b->next;
		ingest_batch_free(b);
	}
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->stream);
	free(p->subject);
	free(p->node);
	free(p);
}
