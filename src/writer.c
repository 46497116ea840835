/*
 * Group commit. The queue and the done list are guarded by one mutex; the
 * store handle is touched only by the writer thread. Batches keep their
 * submission order through commit and back to the loop, so events reach
 * the hub in id order.
 */
#include "writer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "hub.h"
#include "log.h"

struct writer {
	store *st;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct ingest_batch *queue, **queue_tail;
	struct ingest_batch *done, **done_tail;
	int stopping, joined;
	atomic_int state;
	struct writer_stats stats; /* guarded by lock */
	writer_notify_fn notify;
	void *notify_arg;
};

/* Append every event of every batch in one transaction. */
static int
commit_group(writer *w, struct ingest_batch *list)
{
	int rc = store_begin(w->st);
	if (rc)
		return rc;
	for (struct ingest_batch *b = list; b; b = b->next) {
		for (size_t i = 0; i < b->count; i++) {
			int64_t id;
			if ((rc = store_append(w->st, &b->events[i], &id)))
				goto fail;
			if (i == 0)
				b->first_id = id;
			b->last_id = id;
		}
	}
	if ((rc = store_commit(w->st)))
		goto fail;
	return 0;
fail:
	store_rollback(w->st);
	return rc;
}

/* Build the hub messages of a committed batch; NULL entries if out of memory. */
static void
build_msgs(struct ingest_batch *b)
{
	if (b->count == 0)
		return;
	b->msgs = calloc(b->count, sizeof *b->msgs);
	if (!b->msgs)
		return;
	for (size_t i = 0; i < b->count; i++)
		b->msgs[i] = hub_msg_new(b->first_id + (int64_t)i, &b->events[i]);
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
record_commit(writer *w, size_t events, size_t batches, int rc, double secs)
{
	static const double bounds[] = WRITER_LATENCY_BOUNDS;

	pthread_mutex_lock(&w->lock);
	if (rc) {
		w->stats.failed += batches;
	} else {
		w->stats.events += events;
		w->stats.commits++;
		for (int i = 0; i < WRITER_LATENCY_BUCKETS; i++)
			if (secs <= bounds[i])
				w->stats.latency_le[i]++;
		w->stats.latency_count++;
		w->stats.latency_sum += secs;
	}
	pthread_mutex_unlock(&w->lock);
}

static void
process(writer *w, struct ingest_batch *list)
{
	int rc = atomic_load(&w->state);
	size_t events = 0, batches = 0;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!rc)
		rc = commit_group(w, list);
	double secs = seconds_since(&t0);
	if (rc && rc != ERR_FULL && !atomic_load(&w->state)) {
		log_error("store write failed, no further events will be accepted "
			  "until restart: %s", store_errmsg(w->st));
		atomic_store(&w->state, rc);
	} else if (rc == ERR_FULL) {
		log_warn("store is full, batch refused: %s", store_errmsg(w->st));
	}
	for (struct ingest_batch *b = list; b; b = b->next) {
		batches++;
		b->status = rc;
		if (rc) {
			snprintf(b->errmsg, sizeof b->errmsg, "the store cannot write: %s",
				 rc == ERR_FULL ? "storage full" : store_errmsg(w->st));
			continue;
		}
		/* Ids are consecutive within a batch: one transaction, one writer. */
		build_msgs(b);
		events += b->count;
	}
	record_commit(w, events, batches, rc, secs);
}

static void *
writer_main(void *arg)
{
	writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->queue && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->queue)
			break; /* stopping with nothing left */
		struct ingest_batch *list = w->queue, **tail = w->queue_tail;
		w->queue = NULL;
		w->queue_tail = &w->queue;
		pthread_mutex_unlock(&w->lock);

		process(w, list);

		pthread_mutex_lock(&w->lock);
		*w->done_tail = list;
		w->done_tail = tail;
		pthread_mutex_unlock(&w->lock);
		w->notify(w->notify_arg);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

writer *
writer_create(store *st, writer_notify_fn notify, void *notify_arg, int *err)
{
	writer *w = calloc(1, sizeof *w);

	if (!w) {
		store_close(st);
		*err = ERR_NOMEM;
		return NULL;
	}
	w->st = st;
	w->notify = notify;
	w->notify_arg = notify_arg;
	w->queue_tail = &w->queue;
	w->done_tail = &w->done;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		store_close(st);
		free(w);
		*err = ERR_SYS;
		return NULL;
	}
	return w;
}

int
writer_submit(writer *w, struct ingest_batch *b)
{
	b->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return ERR_CLOSED;
	}
	*w->queue_tail = b;
	w->queue_tail = &b->next;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

struct ingest_batch *
writer_take_done(writer *w)
{
	pthread_mutex_lock(&w->lock);
	struct ingest_batch *list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->lock);
	return list;
}

int
writer_state(writer *w)
{
	return atomic_load(&w->state);
}

void
writer_get_stats(writer *w, struct writer_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}

void
writer_stop(writer *w)
{
	if (w->joined)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->joined = 1;
	store_close(w->st);
	w->st = NULL;
}

void
writer_destroy(writer *w)
{
	if (!w)
		return;
	writer_stop(w);
	for (struct ingest_batch *b = writer_take_done(w), *next; b; b = next) {
		next = b->next;
		ingest_batch_free(b);
	}
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
