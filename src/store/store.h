/*
 * The store: one SQLite database file in WAL mode holding the journal.
 *
 * A store handle is one SQLite connection and is used by one thread only.
 * The server opens one writable handle for the writer thread and one
 * read-only handle for the event loop; tools open their own. One writable
 * handle at a time, in any process, may hold a store (store_lock.h);
 * read-only handles are never refused for that.
 *
 * Rows change only inside store_begin()'s transactions on a writable
 * handle, and the store keeps its counters (events per type, and marks of
 * where a time lies in id order) in the same transaction. Every read the
 * event loop makes is bounded by its page, whatever the size of the store:
 * an index search, then at most the rows asked for plus those a filter
 * skips on the way (and at most COUNTERS_RUN-sized runs of them where the
 * marks bound a time); the functions below that cost more say so.
 */
#ifndef SENTINEL_STORE_H
#define SENTINEL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "logevent.h"

typedef struct store store;

enum store_flags {
	STORE_READONLY = 0,
	STORE_WRITE = 1 << 0,     /* lock, create the file and folders, migrate */
	STORE_SYNC_FULL = 1 << 1, /* fsync every commit (power-loss safe) */
};

#define STORE_EPOCH_SIZE 33

/* One stored event as read back. Pointers are valid during the callback. */
struct store_row {
	int64_t id;
	int64_t ts_us;
	const char *type;
	const char *body;
	size_t body_len;
};

/* Return non-zero to stop the iteration early. */
typedef int (*store_row_fn)(const struct store_row *row, void *arg);

/*
 * Open the store at path. With STORE_WRITE the handle takes the writer's
 * lock (ERR_BUSY when another writer holds it), the folders and file are
 * created as needed and pending migrations applied. Returns NULL on failure
 * with *err set and a message, which names the file, in errmsg.
 */
store *store_open(const char *path, int flags, int *err, char *errmsg);

/* Close the handle; a writable one checkpoints and truncates the WAL first,
 * then releases the writer's lock. */
void store_close(store *st);

/* The SQLite message of the last failure on this handle. */
const char *store_errmsg(store *st);

/*
 * The store's epoch (hex), made when the store was created and renewed
 * when a writable open finds it is a copy put back in place.
 */
const char *store_epoch(store *st);

/*
 * Why a writable open gave the store a new epoch (a sentence), or NULL
 * when it kept its epoch.
 */
const char *store_renewal(store *st);

/* The schema version of the file (PRAGMA user_version). */
int store_schema_version(store *st);

/* The number of migrations this program knows. */
int store_latest_version(void);

/* Transactions on a writable handle. */
int store_begin(store *st);
int store_commit(store *st);
int store_rollback(store *st);

/*
 * Append one event inside a transaction (ERR_INVAL outside one); *id_out
 * untouched on failure.
 */
int store_append(store *st, const struct logevent *ev, int64_t *id_out);

/*
 * Inside a transaction: append ev with the given id, which a replicated
 * journal assigned (a stream's sequence number). Ids must still only grow.
 */
int store_append_at(store *st, const struct logevent *ev, int64_t id);

/*
 * The meta table: facts about the store as a whole (schema/schema.sql).
 * store_meta_set works inside or outside a transaction, on a writable
 * handle; setting "epoch" also changes store_epoch(). store_meta_get
 * copies the value into out (size bytes) and sets *found.
 */
int store_meta_set(store *st, const char *key, const char *value);
int store_meta_get(store *st, const char *key, char *out, size_t size, int *found);

/*
 * Check that the file at the store's path is still the one this handle
 * has open: ERR_IO, with a message, when it was deleted, renamed or
 * replaced since (whatever is written then is out of everyone's reach).
 */
int store_check_file(store *st);

/*
 * The highest id ever assigned or given up (0 for a new store): new ids
 * are above it.
 */
int store_last_id(store *st, int64_t *id_out);

/*
 * The ids that opening this writable handle found lost to an unclean stop
 * (store_ids.h), or 0 and 0.
 */
void store_lost_at_open(const store *st, int64_t *from_out, int64_t *to_out);

/* The lowest id still stored, or 0 when the journal is empty. */
int store_first_id(store *st, int64_t *id_out);

/*
 * The lowest id of an event whose timestamp is at or after ts_us, or 0
 * when there is none. One search in the marks, then at most a run of rows.
 */
int store_first_id_since(store *st, int64_t ts_us, int64_t *id_out);

/*
 * Call fn for up to limit events with id > after_id, in id order, in one
 * short read transaction, until fn returns non-zero. *count_out gets the
 * number of rows visited.
 */
int store_read_after(store *st, int64_t after_id, int limit, store_row_fn fn, void *arg,
		     int *count_out);

/* The most types a listing filters on. */
#define STORE_LIST_MAX_TYPES 32

/* A filtered range of the journal (GET /api/events). */
struct store_filter {
	int64_t after_id;  /* id > after_id */
	int64_t before_id; /* id < before_id; 0: no upper bound */
	int has_since, has_until;
	int64_t since_us;                           /* ts_us >= since_us */
	int64_t until_us;                           /* ts_us < until_us */
	const char (*types)[LOGEVENT_TYPE_MAX + 1]; /* type IN (...) */
	size_t type_count;
	int limit;
	int descending; /* newest first */
};

/*
 * Call fn for each event matching f, in id order, up to f->limit, in one
 * read transaction, until fn returns non-zero. *count_out gets the number
 * of rows visited. Each type is one search of (type, id); a time bound is
 * turned into an id range by the marks and checked on the rows read, so
 * the rows read are the page plus the rows of the range whose time is
 * outside the bounds: about a run at each end of a time range, plus any
 * event stored long after its timestamp's neighbours.
 */
int store_list(store *st, const struct store_filter *f, store_row_fn fn, void *arg, int *count_out);

/*
 * Call fn with each line of the query plans (EXPLAIN QUERY PLAN) of the
 * statements store_list runs for f, for tests and diagnostics.
 */
int store_list_plan(store *st, const struct store_filter *f,
		    void (*fn)(const char *detail, void *arg), void *arg);

/* A time range of the journal in time order (the Loki API). */
struct store_scan {
	int64_t since_us, until_us; /* since_us <= ts_us < until_us */
	const char *type;           /* only this type, or NULL */
	int descending;             /* newest first */
	int limit;                  /* rows at most */
};

/*
 * Call fn for each event of the range in time order (ids break ties), in
 * one read transaction, until fn returns non-zero or limit rows were read.
 * It walks the time index (with the type, when one is given), so it costs
 * the rows visited, not the size of the range. *count_out gets the number
 * of rows visited.
 */
int store_scan(store *st, const struct store_scan *f, store_row_fn fn, void *arg, int *count_out);

/* File sizes: the database file, its free pages, and the WAL. */
struct store_sizes {
	int64_t db_bytes, free_bytes, wal_bytes;
};

/* Read the sizes (cheap: two pragmas and a stat). */
int store_sizes(store *st, struct store_sizes *out);

/* The number of events stored, from the counters (one row per type). */
int store_count(store *st, int64_t *count_out);

/*
 * Inside a transaction: count the events of each type again from the
 * journal (linear in the store), after rows were inserted or deleted by
 * hand with SQL, which the counters do not see.
 */
int store_recount(store *st);

/*
 * The oldest event timestamp stored (the smallest ts_us; cheap: one index
 * seek). Returns 1 with *ts_us_out set, 0 when the journal is empty (then
 * *ts_us_out is untouched), or a negative ERR_*.
 */
int store_oldest_ts(store *st, int64_t *ts_us_out);

/*
 * Inside a transaction: delete up to limit events whose timestamp is
 * before cutoff_us, only of type (if not NULL) and none of the excluded
 * types. *deleted_out gets the number deleted; *max_id is raised to the
 * highest id deleted. The events are found by index range: what the
 * excluded types keep is not read.
 */
int store_delete_older(store *st, int64_t cutoff_us, const char *type, const char *const *exclude,
		       size_t exclude_count, int limit, int64_t *deleted_out, int64_t *max_id);

/* Call fn with each line of the query plan of store_delete_older's selection. */
int store_delete_older_plan(store *st, const char *type, size_t exclude_count,
			    void (*fn)(const char *detail, void *arg), void *arg);

/* Inside a transaction: delete the limit oldest events (lowest ids). */
int store_delete_oldest(store *st, int limit, int64_t *deleted_out, int64_t *max_id);

/* Rebuild the whole file (VACUUM): slow, for offline compaction. */
int store_vacuum(store *st);

/*
 * Call fn every few thousand steps of SQLite's virtual machine during long
 * statements on this handle (NULL: stop). A non-zero return interrupts
 * the statement, which then fails with ERR_CLOSED and is rolled back.
 */
void store_progress(store *st, int (*fn)(void *arg), void *arg);

/* Move up to max_pages free pages to the end of the file and cut them off. */
int store_incremental_vacuum(store *st, int max_pages);

/* Facts about the store for /api/stats and /metrics. */
struct store_stats {
	int64_t count;
	int64_t first_id, last_id;      /* 0 when empty; last_id is the highest ever */
	char first_ts[64], last_ts[64]; /* their "timestamp" fields */
	int64_t db_bytes, wal_bytes, free_bytes;
};

/* Fill *out: the counters, and a search each for the first and last event. */
int store_stats(store *st, struct store_stats *out);

/* Call fn(type, count, arg) for each type in the journal, from the counters. */
int store_type_counts(store *st, void (*fn)(const char *type, int64_t count, void *arg), void *arg);

/*
 * Checkpoint the WAL; with truncate, also shrink it to zero bytes. It never
 * waits for readers: ERR_BUSY when one kept it from finishing.
 */
int store_checkpoint(store *st, int truncate);

/*
 * Take the checkpoints of a writable handle over from SQLite, whose
 * automatic ones ignore their errors: commits no longer checkpoint, and
 * store_wal_frames() says how long the WAL has grown, so that the caller
 * checkpoints with store_checkpoint() and sees when one fails.
 */
void store_manual_checkpoints(store *st);

/* The WAL's length in frames after the last commit (store_manual_checkpoints). */
int64_t store_wal_frames(const store *st);

/*
 * Close a writable handle after a write or sync on it failed: nothing more
 * is written, not even the checkpoint a clean close makes. The next open
 * recovers from the WAL.
 */
void store_abandon(store *st);

#endif
