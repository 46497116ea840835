/*
 * The mark: a small file beside a store, PATH.mark, recording the store's
 * epoch and the highest id committed to it, written by the writer after
 * every commit that raised the id, before anything is acknowledged.
 *
 * It lives outside the SQLite file on purpose: a copy of the store (a
 * backup taken with sqlite3 .backup or VACUUM INTO, a copied file) keeps
 * the epoch but not the ids committed after the copy was taken. When such
 * a copy is put back in place, the store ends below its mark, and new
 * events would reuse ids that clients already hold under the same epoch;
 * store.c then gives the store a new epoch, so that those clients start
 * over (reset) instead of silently skipping the reused ids.
 *
 * The record has a fixed length and is rewritten in place, so an update
 * never needs a new block (it works on a full disk) and a reader never
 * sees half of it. Private to src/store/: nothing outside this folder
 * includes it. One thread per mark.
 */
#ifndef SENTINEL_STORE_MARK_H
#define SENTINEL_STORE_MARK_H

#include <stdint.h>

#include "store.h"

typedef struct store_mark store_mark;

/*
 * Open (creating it, 0640, if missing) the mark of the store at path and read
 * it: epoch gets the recorded epoch, or "" when the file is new or holds
 * no valid record, and *last_id the recorded id (0 then). With sync, each
 * update is flushed to disk (fdatasync) before store_mark_set() returns.
 * Returns NULL with *err set and a message naming the file in errmsg.
 */
store_mark *store_mark_open(const char *path, int sync, char epoch[STORE_EPOCH_SIZE],
			    int64_t *last_id, int *err, char *errmsg);

/* Record epoch and last_id. Returns 0, or ERR_SYS with a message in errmsg. */
int store_mark_set(store_mark *m, const char *epoch, int64_t last_id, char *errmsg);

/* Flush the mark to disk and close it (NULL is allowed). */
void store_mark_close(store_mark *m);

#endif
