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
#include "log.h"
#include "retention.h"
#include "store_ids.h"
#include "store_keys.h"
#include "thread_name.h"
#include "timestamp.h"
#include "wire.h"

/* A commit group stops growing once it holds this many event bytes. */
#define GROUP_MAX_BYTES (2 * 1024 * 1024)
/* Checkpoint after a commit that leaves the WAL this long (SQLite's default). */
#define WAL_CHECKPOINT_FRAMES 1000

struct writer {
	store *st;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct ingest_batch *queue, **queue_tail;
	size_t queued_events; /* events in queue */
	struct ingest_batch *done, **done_tail;
	int stopping, joined;
	atomic_int state;
	atomic_int transient; /* ERR_FULL or ERR_BUSY: the last commit failed, the next may not */
	struct writer_stats stats; /* guarded by lock */
	writer_notify_fn notify;
	void *notify_arg;
	writer_commit_fn on_commit; /* set before any batch: no lock needed */
	void *on_commit_arg;
	int64_t last_id; /* the last id assigned (writer thread only) */
	int64_t id_mark; /* ids up to it may be handed out (store_ids.h) */

	/* Retention, run between commits (writer thread only but for
	 * maintenance_due and the results, which are guarded by lock). */
	struct retention_policy policy;
	int64_t count;                    /* events stored: read at start, then kept */
	int counted;                      /* count is known */
	int maintenance_due;              /* a pass was asked for or a bound crossed */
	struct retention_result pass;     /* what the running pass removed */
	int64_t pass_keys;                /* idempotency keys it expired */
	int64_t retention_max_id;         /* highest id retention deleted, for the loop */
	struct retention_result unlogged; /* passes not yet logged */
	int unlogged_passes;
	int64_t last_log_us;
};

/*
 * Record the answer of a batch that carried an idempotency key, after its
 * events, in their transaction: a retry finds the key exactly when the
 * events are there.
 */
static int
record_key(writer *w, const struct ingest_batch *b)
{
	struct store_key k = {
		.status = b->idem_status,
		.first_id = b->first_id,
		.last_id = b->last_id,
		.created_us = timestamp_now(),
	};
	int rc;

	memcpy(k.hash, b->idem_hash, sizeof k.hash);
	/* A Loki push's answer (204) has no body. */
	if (b->idem_status != 204 && !(k.answer = ingest_answer_json(b)))
		return ERR_NOMEM;
	rc = store_keys_put(w->st, b->idem_key, &k);
	free(k.answer);
	return rc;
}

/*
 * Append every event of every batch in one transaction, with the
 * idempotency keys of those that carry one. Batches with ids assigned by
 * a replicated journal also record, in the same transaction, the highest
 * of them as the position applied ("applied_seq"), so that a crash never
 * separates the rows from the position.
 */
static int
commit_group(writer *w, struct ingest_batch *list)
{
	int64_t applied = 0;
	/* A store file deleted or replaced since: write nothing to it. */
	int rc = store_check_file(w->st);

	if (rc || (rc = store_begin(w->st)))
		return rc;
	for (struct ingest_batch *b = list; b; b = b->next) {
		for (size_t i = 0; i < b->count; i++) {
			int64_t id;
			if (b->ids_assigned) {
				id = b->first_id + (int64_t)i;
				rc = store_append_at(w->st, &b->events[i], id);
			} else {
				rc = store_append(w->st, &b->events[i], &id);
			}
			if (rc)
				goto fail;
			if (i == 0)
				b->first_id = id;
			b->last_id = id;
		}
		if (b->idem_key && b->idem_status && b->count && (rc = record_key(w, b)))
			goto fail;
		if (b->ids_assigned && b->last_id > applied)
			applied = b->last_id;
	}
	if (applied) {
		char text[24];
		snprintf(text, sizeof text, "%lld", (long long)applied);
		if ((rc = store_meta_set(w->st, "applied_seq", text)))
			goto fail;
	}
	if ((rc = store_commit(w->st)))
		goto fail;
	/* If it went just now, the commit went with it: not acknowledged. */
	return store_check_file(w->st);
fail:
	store_rollback(w->st);
	return rc;
}

/*
 * Before a group is committed, make sure that its ids are below a durable
 * high-water mark, so that no power cut can give them out twice.
 */
static int
reserve_ids(writer *w, struct ingest_batch *list)
{
	int64_t n = 0;

	/* Ids a replicated journal assigned are its own to keep. */
	for (struct ingest_batch *b = list; b; b = b->next)
		if (!b->ids_assigned)
			n += (int64_t)b->count;
	return n ? store_ids_reserve(w->st, w->last_id + n, &w->id_mark) : 0;
}

/* Build the wire form of a committed batch; NULL entries if out of memory. */
static void
build_msgs(struct ingest_batch *b)
{
	if (b->count == 0)
		return;
	b->msgs = calloc(b->count, sizeof *b->msgs);
	if (!b->msgs)
		return;
	for (size_t i = 0; i < b->count; i++)
		b->msgs[i] = wire_msg_new(b->first_id + (int64_t)i, &b->events[i]);
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

/* Commit a list of batches; returns the number of events committed. */
static int64_t
process(writer *w, struct ingest_batch *list)
{
	int rc = atomic_load(&w->state);
	size_t events = 0, batches = 0;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!rc)
		rc = reserve_ids(w, list);
	if (!rc)
		rc = commit_group(w, list);
	double secs = seconds_since(&t0);
	/* A full disk, or another process holding the write lock past the busy
	 * timeout, may pass: refuse this group and try the next. Anything else
	 * leaves the file's state untrusted: stop until restart. */
	int transient = rc == ERR_FULL || rc == ERR_BUSY;
	if (rc && !transient && !atomic_load(&w->state)) {
		log_error("store write failed, no further events will be accepted "
			  "until restart: %s",
			  store_errmsg(w->st));
		atomic_store(&w->state, rc);
	} else if (transient) {
		log_warn("store %s, batch refused: %s",
			 rc == ERR_FULL ? "is full" : "is locked by another process",
			 store_errmsg(w->st));
	}
	atomic_store(&w->transient, transient ? rc : 0);
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
		if (b->count)
			w->last_id = b->last_id;
	}
	record_commit(w, events, batches, rc, secs);
	if (w->on_commit)
		w->on_commit(w->on_commit_arg, list, rc);
	return rc ? 0 : (int64_t)events;
}

/* Hand the count of stored events to the stats (the loop reads it there). */
static void
publish_count(writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->stats.stored = w->counted ? w->count : -1;
	pthread_mutex_unlock(&w->lock);
}

/*
 * A write of the writer's own (a checkpoint, a retention step) failed. A
 * busy store (readers holding a snapshot) or a full disk may pass; any
 * other failure stops the writer as a failed commit does, since after a
 * failed write or fsync what the disk holds is not known, and a later sync
 * that succeeds proves nothing.
 */
static void
maintenance_failed(writer *w, int rc, const char *what)
{
	if (rc == ERR_BUSY)
		return; /* the next one will do */
	if (rc == ERR_FULL) {
		log_warn("%s failed, will try again: %s", what, store_errmsg(w->st));
		return;
	}
	if (atomic_load(&w->state))
		return;
	log_error("%s failed, no further events will be accepted until restart: %s", what,
		  store_errmsg(w->st));
	atomic_store(&w->state, rc);
}

/*
 * Checkpoint once the WAL has grown past SQLite's usual 1,000 frames. The
 * writer does what SQLite would do after a commit, but sees a failure
 * (store_manual_checkpoints).
 */
static void
checkpoint_if_due(writer *w)
{
	int rc;

	if (atomic_load(&w->state) || store_wal_frames(w->st) < WAL_CHECKPOINT_FRAMES)
		return;
	if ((rc = store_checkpoint(w->st, 0)))
		maintenance_failed(w, rc, "checkpoint");
}

/* Keep the WAL near its target size, also while readers are attached. */
static void
bound_wal(writer *w)
{
	struct store_sizes sz;
	int rc;

	if (!store_sizes(w->st, &sz) && sz.wal_bytes > RETENTION_WAL_TARGET &&
	    (rc = store_checkpoint(w->st, 1)))
		maintenance_failed(w, rc, "checkpoint");
}

/* Log the passes not yet reported (at most once a second unless forced). */
static void
log_pass(writer *w, int force)
{
	struct retention_result *u = &w->unlogged;
	int64_t total = u->by_age + u->by_count + u->by_bytes, now = timestamp_now();
	struct store_sizes sz = {0};

	if (!total || (!force && now - w->last_log_us < 1000000))
		return;
	store_sizes(w->st, &sz);
	log_info("retention: %d pass(es) removed %lld events (by age %lld, by count %lld, "
		 "by size %lld) up to id %lld; store %lld bytes, WAL %lld bytes",
		 w->unlogged_passes, (long long)total, (long long)u->by_age, (long long)u->by_count,
		 (long long)u->by_bytes, (long long)u->max_id, (long long)sz.db_bytes,
		 (long long)sz.wal_bytes);
	memset(u, 0, sizeof *u);
	w->unlogged_passes = 0;
	w->last_log_us = now;
}

/* The pass is over: compact, log it, and hand the result to the loop. */
static void
finish_pass(writer *w)
{
	struct retention_result *r = &w->pass;
	int64_t total = r->by_age + r->by_count + r->by_bytes;

	if (total || w->pass_keys) {
		int rc = retention_compact(w->st, 100000);
		if (rc)
			maintenance_failed(w, rc, "compaction");
	}
	if (total) {
		/* Passes follow each other quickly under a count or size bound:
		 * report them at most once a second. */
		struct retention_result *u = &w->unlogged;
		u->by_age += r->by_age;
		u->by_count += r->by_count;
		u->by_bytes += r->by_bytes;
		u->max_id = r->max_id;
		w->unlogged_passes++;
		log_pass(w, 0);
	}
	pthread_mutex_lock(&w->lock);
	w->stats.retention_deleted += (uint64_t)total;
	w->stats.keys_expired += (uint64_t)w->pass_keys;
	w->stats.retention_passes++;
	if (r->max_id > w->retention_max_id)
		w->retention_max_id = r->max_id;
	pthread_mutex_unlock(&w->lock);
	memset(r, 0, sizeof *r);
	w->pass_keys = 0;
	if (total)
		w->notify(w->notify_arg);
}

/*
 * One step of idempotency key expiry, a short transaction. Returns 1 when
 * more keys may be due, else 0 (also after a failure, which stops the
 * writer as a failed retention step does).
 */
static int
expire_keys(writer *w)
{
	int64_t n = 0;
	int rc = retention_expire_keys(w->st, &w->policy, timestamp_now(), RETENTION_BATCH, &n);

	if (rc < 0) {
		maintenance_failed(w, rc, "expiring idempotency keys");
		return 0;
	}
	w->pass_keys += n;
	return rc;
}

/*
 * Retention steps after a commit: enough of them to delete at least twice
 * what was just committed (so that a size or count bound holds under
 * sustained ingest), each its own short transaction; then one step of key
 * expiry. The pass ends when nothing is left to do.
 */
static void
maintain(writer *w, int64_t committed)
{
	int64_t budget = committed * 2 > RETENTION_BATCH ? committed * 2 : RETENTION_BATCH;
	int rc = 0, keys;

	if (retention_active(&w->policy)) {
		do {
			int64_t before = w->pass.by_age + w->pass.by_count + w->pass.by_bytes;
			rc = retention_step(w->st, &w->policy, timestamp_now(), RETENTION_BATCH,
					    &w->count, &w->pass);
			budget -= w->pass.by_age + w->pass.by_count + w->pass.by_bytes - before;
		} while (rc > 0 && budget > 0);
		publish_count(w);
	}
	keys = rc < 0 || atomic_load(&w->state) ? 0 : expire_keys(w);
	if (rc < 0)
		maintenance_failed(w, rc, "retention step");
	else
		bound_wal(w);
	if (rc <= 0 && keys <= 0) {
		finish_pass(w);
		pthread_mutex_lock(&w->lock);
		w->maintenance_due = 0;
		pthread_mutex_unlock(&w->lock);
	}
}

/*
 * Take the next commit group off the queue (lock held): whole batches, at
 * least one, until GROUP_MAX_BYTES. A bounded group keeps each commit's
 * WAL growth and latency bounded when producers outpace the disk.
 */
static void
take_group(writer *w, struct ingest_batch **list, struct ingest_batch ***tail)
{
	struct ingest_batch *b = w->queue, *last = NULL;
	size_t bytes = 0;

	while (b && (!last || bytes < GROUP_MAX_BYTES)) {
		for (size_t i = 0; i < b->count; i++)
			bytes += b->events[i].body_len;
		w->queued_events -= b->count;
		last = b;
		b = b->next;
	}
	*list = w->queue;
	*tail = last ? &last->next : w->queue_tail;
	if (last)
		last->next = NULL;
	w->queue = b;
	if (!b)
		w->queue_tail = &w->queue;
}

static void *
writer_main(void *arg)
{
	writer *w = arg;
	int active = retention_active(&w->policy);

	thread_name_set("writer");
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->queue && !w->stopping && !w->maintenance_due)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->queue && w->stopping)
			break; /* everything accepted is committed */

		struct ingest_batch *list, **tail;
		take_group(w, &list, &tail);
		pthread_mutex_unlock(&w->lock);

		int over = 0;
		int64_t committed = 0;
		if (list) {
			committed = process(w, list);
			w->count += committed;
			over = active && committed &&
			       retention_over_bounds(w->st, &w->policy, w->count);
		}

		pthread_mutex_lock(&w->lock);
		if (list) {
			*w->done_tail = list;
			w->done_tail = tail;
		}
		if (w->counted)
			w->stats.stored = w->count;
		if (over)
			w->maintenance_due = 1;
		/* A writer stopped by an error writes nothing more, not even
		 * retention's deletions. */
		if (atomic_load(&w->state))
			w->maintenance_due = 0;
		int maintain_now = w->maintenance_due && !w->stopping;
		pthread_mutex_unlock(&w->lock);
		if (list) {
			w->notify(w->notify_arg);
			checkpoint_if_due(w);
		}
		/* Alternate one commit and one retention step, so that neither
		 * sustained ingest nor a long pass starves the other. */
		if (maintain_now)
			maintain(w, committed);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	log_pass(w, 1);
	return NULL;
}

writer *
writer_create(store *st, const struct retention_policy *policy, writer_notify_fn notify,
	      void *notify_arg, int *err)
{
	writer *w = calloc(1, sizeof *w);

	if (!w) {
		store_close(st);
		*err = ERR_NOMEM;
		return NULL;
	}
	if (store_last_id(st, &w->last_id) || store_ids_mark(st, &w->id_mark)) {
		log_error("cannot read the store's ids: %s", store_errmsg(st));
		store_close(st);
		free(w);
		*err = ERR_IO;
		return NULL;
	}
	store_manual_checkpoints(st);
	w->st = st;
	if (policy)
		w->policy = *policy;
	w->notify = notify;
	w->notify_arg = notify_arg;
	w->queue_tail = &w->queue;
	w->done_tail = &w->done;
	/* The store's counters (one row per type, not a count of the rows),
	 * read before the thread starts so that the first stats have them;
	 * from here on commits and retention move the count. */
	if (store_count(st, &w->count))
		log_error("cannot count the events in the store: %s", store_errmsg(st));
	else
		w->counted = 1;
	w->stats.stored = w->counted ? w->count : -1;
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
	w->queued_events += b->count;
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

void
writer_request_maintenance(writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->maintenance_due = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void
writer_on_commit(writer *w, writer_commit_fn fn, void *arg)
{
	pthread_mutex_lock(&w->lock);
	w->on_commit = fn;
	w->on_commit_arg = arg;
	pthread_mutex_unlock(&w->lock);
}

size_t
writer_queued_events(writer *w)
{
	pthread_mutex_lock(&w->lock);
	size_t n = w->queued_events;
	pthread_mutex_unlock(&w->lock);
	return n;
}

int64_t
writer_retention_max_id(writer *w)
{
	pthread_mutex_lock(&w->lock);
	int64_t id = w->retention_max_id;
	pthread_mutex_unlock(&w->lock);
	return id;
}

int
writer_state(writer *w)
{
	int state = atomic_load(&w->state);
	return state ? state : atomic_load(&w->transient);
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
	if (atomic_load(&w->state)) {
		/* A write failed: leave the file as it is, the WAL included. */
		store_abandon(w->st);
	} else {
		/* The rest of the reserved block was never handed out. */
		if (store_ids_release(w->st))
			log_warn("cannot release the reserved ids: %s", store_errmsg(w->st));
		store_close(w->st);
	}
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
