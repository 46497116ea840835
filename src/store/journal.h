/*
 * The journal: the seam between the endpoints and where events are kept.
 *
 * Ingest appends batches through it and learns their ids; subscribers read
 * it after an id, in short pages. Those are its only users, and this is all
 * they need. The single-node journal (journal_local.c) is the SQLite store
 * with its writer thread; a replicated journal implements the same
 * operations over a shared stream, and nothing above this header changes.
 *
 * Invariants every implementation keeps: ids are assigned by the journal,
 * strictly increase in commit order and are never reused, also across a
 * power cut (ids it may have lost are reported as such); a batch is
 * acknowledged (status 0) only once it is durable to the journal's
 * promise; batches come back in the order they were appended.
 *
 * Threading: every function is called on the event loop. journal_append()
 * queues the batch; once it is committed or has failed, the journal calls
 * the notify function it was created with (from any thread), and the loop
 * collects finished batches with journal_take_done().
 */
#ifndef SENTINEL_JOURNAL_H
#define SENTINEL_JOURNAL_H

#include <stdint.h>

#include "ingest.h"
#include "store.h"

typedef struct journal journal;
struct writer;

/* What an implementation provides; impl is its own state. */
struct journal_ops {
	int (*append)(void *impl, struct ingest_batch *batch);
	struct ingest_batch *(*take_done)(void *impl);
	int (*read_after)(void *impl, int64_t after_id, int limit, store_row_fn fn, void *arg,
			  int *count_out);
	int (*first_id)(void *impl, int64_t *id_out);
	int (*last_id)(void *impl, int64_t *id_out);
	int (*lost)(void *impl, int64_t id, int64_t *from_out, int64_t *to_out);
	int (*first_id_since)(void *impl, int64_t ts_us, int64_t *id_out);
	const char *(*epoch)(void *impl);
	const char *(*errmsg)(void *impl);
	void (*destroy)(void *impl);
};

/* Wrap an implementation; returns NULL when out of memory (impl untouched). */
journal *journal_new(const struct journal_ops *ops, void *impl);

/* Destroy the implementation, then the journal (NULL is allowed). */
void journal_free(journal *j);

/*
 * Queue a batch for appending. Returns 0, after which the journal owns the
 * batch until journal_take_done() returns it with status, first_id and
 * last_id filled; or ERR_CLOSED when the journal no longer takes batches
 * (the caller keeps the batch).
 */
int journal_append(journal *j, struct ingest_batch *batch);

/* Take every finished batch, oldest first (a list linked by ->next). */
struct ingest_batch *journal_take_done(journal *j);

/*
 * Call fn for up to limit events with id > after_id, in id order, until fn
 * returns non-zero. *count_out gets the number of rows visited.
 */
int journal_read_after(journal *j, int64_t after_id, int limit, store_row_fn fn, void *arg,
		       int *count_out);

/* The lowest id still kept, or 0 when the journal is empty. */
int journal_first_id(journal *j, int64_t *id_out);

/*
 * The highest id the journal has assigned or given up (new ids are above
 * it); INT64_MAX when it cannot tell (a replicated journal whose other
 * nodes may be ahead of this one).
 */
int journal_last_id(journal *j, int64_t *id_out);

/*
 * The first range of ids lost to an unclean stop that ends at or after id
 * (ids that may have been handed out, then lost with the commit that
 * assigned them), in *from_out and *to_out; 0 and 0 when there is none.
 */
int journal_lost(journal *j, int64_t id, int64_t *from_out, int64_t *to_out);

/* The lowest id of an event with timestamp >= ts_us, or 0 when none. */
int journal_first_id_since(journal *j, int64_t ts_us, int64_t *id_out);

/* The journal's identity (hex): a client's ids are valid only within it. */
const char *journal_epoch(journal *j);

/* The message of the last failed read. */
const char *journal_errmsg(journal *j);

/*
 * The single-node journal: appends go to the writer thread, reads to a
 * read-only store handle used on the loop. It owns neither.
 */
journal *journal_local_new(struct writer *w, store *reader);

#endif
