/*
 * Counters: what the store keeps about its journal, in the same
 * transaction as the rows, so that reading it does not grow with the store:
 * the events of each type (type_counts) and, every COUNTERS_RUN events
 * appended, a mark that bounds where a time lies in id order
 * (journal_marks; schema/schema.sql says what each column promises).
 *
 * A counters object belongs to one writable store handle and is used on
 * its thread only. Appends and deletions are gathered in memory during a
 * transaction and written by counters_flush() just before its commit; a
 * mark is written as soon as its run is complete. After a commit,
 * counters_committed() makes the gathered state the new starting point;
 * after a rollback, counters_forget() returns to the last one.
 *
 * Private to src/store/: store.c drives it, nothing outside this folder
 * includes it. Every function that fails writes SQLite's message into the
 * errmsg buffer given to counters_new() and returns a negative ERR_*.
 */
#ifndef SENTINEL_COUNTERS_H
#define SENTINEL_COUNTERS_H

#include <sqlite3.h>
#include <stdint.h>

/* Events per mark: the most rows a time lookup reads past its mark. */
#define COUNTERS_RUN 1024

typedef struct counters counters;

/*
 * Load the open run's state from db (reading at most the rows after the
 * last mark). errmsg (ERRMSG_SIZE bytes) receives this object's messages
 * for its whole life. Returns NULL with *err set on failure.
 */
counters *counters_new(sqlite3 *db, char *errmsg, int *err);

/* Free the object and its statements (NULL is allowed). */
void counters_free(counters *c);

/* Inside a transaction: count an appended event; may write a mark. */
int counters_appended(counters *c, const char *type, int64_t ts_us, int64_t id);

/* Inside a transaction: count a deleted event of this type. */
int counters_deleted(counters *c, const char *type);

/* Write what this transaction gathered; call it just before COMMIT. */
int counters_flush(counters *c);

/* The transaction committed: its state is the new starting point. */
void counters_committed(counters *c);

/* The transaction rolled back: forget what it gathered. */
void counters_forget(counters *c);

/*
 * Count every type again from the journal, replacing type_counts (linear
 * in the store: for offline repair after rows were changed by hand).
 * Inside a transaction.
 */
int counters_recount(counters *c);

#endif
