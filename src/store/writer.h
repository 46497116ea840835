/*
 * The writer: a thread that owns the writable store handle and commits
 * ingest batches with group commit.
 *
 * The loop submits validated batches; the writer takes everything queued,
 * commits it in one transaction (one fsync under --sync full for all of
 * them), builds each event's wire form, and hands the batches back through
 * a done queue, then calls notify, from the writer thread, to wake the
 * loop. The loop never waits for a commit.
 *
 * A batch is acknowledged only after its commit returned success, and
 * only if the file it was committed to is still the store's (not deleted
 * or replaced). A failed commit fails every batch in it. "Disk full", and
 * another process holding the write lock past the busy timeout, leave the
 * writer able to try again with the next batch; any other I/O error stops
 * it for good, whether it hit a commit, a checkpoint (the writer runs them
 * itself, since SQLite's automatic ones ignore failures) or a retention
 * step: after a failed write or fsync the file's state is not trusted, so
 * nothing more is written, not even the checkpoint at close; restart to
 * recover from the WAL. A batch refused that way may be found in the store
 * after the restart (whole), when its fsync, not its write, failed.
 *
 * Ids: before a group is committed the writer makes sure that the ids it
 * assigns itself are below the durable high-water mark (store_ids.h); a
 * clean stop gives the rest back.
 */
#ifndef SENTINEL_WRITER_H
#define SENTINEL_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "retention.h"
#include "store.h"

typedef struct writer writer;
typedef void (*writer_notify_fn)(void *arg);

/*
 * Start a writer on st (a STORE_WRITE handle, which it now owns and closes).
 * Returns NULL with *err set on failure; st is then closed too.
 */
writer *writer_create(store *st, const struct retention_policy *policy, writer_notify_fn notify,
		      void *notify_arg, int *err);

/*
 * Ask for a retention pass (the loop's timer does this). The writer runs it
 * in bounded steps between commits, so ingest waits at most one step. A
 * pass also expires idempotency keys (retention_expire_keys).
 */
void writer_request_maintenance(writer *w);

/* The highest id retention has deleted so far (0 if none). */
int64_t writer_retention_max_id(writer *w);

/* Queue a batch for commit. Fails with ERR_CLOSED once stopping. */
int writer_submit(writer *w, struct ingest_batch *batch);

/*
 * A function the writer calls on its own thread after every commit
 * attempt, with the group's batches (a list linked by ->next, still the
 * writer's: read only) and the result. A replicated journal's applier uses
 * it so as never to run ahead of a failed commit.
 */
typedef void (*writer_commit_fn)(void *arg, const struct ingest_batch *list, int status);

/* Set the commit function; call it before submitting anything. */
void writer_on_commit(writer *w, writer_commit_fn fn, void *arg);

/* The number of events queued and not yet taken for a commit (any thread). */
size_t writer_queued_events(writer *w);

/* Take every finished batch, oldest first (a list linked by ->next). */
struct ingest_batch *writer_take_done(writer *w);

/*
 * 0 while the writer can commit; ERR_FULL or ERR_BUSY while the last commit
 * failed for lack of space or for another process's lock (it tries again
 * with the next batch); otherwise the error that stopped it.
 */
int writer_state(writer *w);

/* Upper bounds (seconds) of the commit latency histogram's buckets. */
#define WRITER_LATENCY_BOUNDS                                                             \
	{                                                                                 \
		0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5 \
	}
#define WRITER_LATENCY_BUCKETS 12

struct writer_stats {
	uint64_t events;            /* events committed since start */
	uint64_t commits;           /* transactions committed */
	uint64_t failed;            /* batches refused because the store could not write */
	uint64_t retention_deleted; /* events removed by retention */
	uint64_t retention_passes;  /* retention passes finished */
	uint64_t keys_expired;      /* idempotency keys deleted, past --idempotency-window */
	/* Events in the store: counted once when the writer starts (-1 until
	 * then, or if that failed), then kept up to date by every commit and
	 * retention step. Rows deleted by hand with SQL are not seen. */
	int64_t stored;
	/* Commit latency: cumulative counts per bucket (Prometheus style). */
	uint64_t latency_le[WRITER_LATENCY_BUCKETS];
	uint64_t latency_count;
	double latency_sum;
};

/* A consistent copy of the writer's counters. */
void writer_get_stats(writer *w, struct writer_stats *out);

/*
 * Commit everything submitted so far, stop the thread and close the store.
 * Finished batches stay available to writer_take_done() until destroy.
 */
void writer_stop(writer *w);

/* Stop if needed, then free the writer and any batches it still holds. */
void writer_destroy(writer *w);

#endif
