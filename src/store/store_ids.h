/*
 * Ids across power cuts: the durable high-water mark of ids handed out,
 * and the ranges an unclean stop may have lost.
 *
 * Under --sync normal a commit reaches the disk only at the next sync, yet
 * its events are acknowledged and broadcast at once; a power cut may then
 * take the commit back, and without more care its ids would be assigned
 * again to other events. So the writer never hands out an id above a mark
 * that is already durable: it moves the mark ahead in blocks of
 * STORE_IDS_BLOCK ids, each move a commit synced on its own. When the store
 * is next opened for writing, the ids between the journal's last id and the
 * mark are recorded as lost (table lost_ids) and the journal's sequence
 * moves past them. A clean stop gives the unused rest of a block back.
 * Under --sync full every commit is synced before it is acknowledged, so no
 * mark is needed and none is moved.
 */
#ifndef SENTINEL_STORE_IDS_H
#define SENTINEL_STORE_IDS_H

#include <stdint.h>

#include "store.h"

/* Ids reserved per synced commit of the mark. */
#define STORE_IDS_BLOCK 65536

/*
 * On a writable handle outside a transaction: record the ids between the
 * journal's last id and the mark as lost and move the sequence past them.
 * *from_out and *to_out get that range, or 0 and 0 when nothing was lost.
 */
int store_ids_recover(store *st, int64_t *from_out, int64_t *to_out);

/* The durable high-water mark as stored. */
int store_ids_mark(store *st, int64_t *mark_out);

/*
 * Make ids up to through safe to hand out: if they are above *mark, move
 * the mark past them (by a block) in a commit of its own that is synced
 * before this returns, and update *mark. Nothing is done under
 * STORE_SYNC_FULL. Outside a transaction.
 */
int store_ids_reserve(store *st, int64_t through, int64_t *mark);

/* Give back the unused reservation at a clean stop: the mark becomes the last id. */
int store_ids_release(store *st);

/*
 * The first lost range that ends at or after id, in *from_out and *to_out
 * (0 and 0 when there is none).
 */
int store_ids_lost(store *st, int64_t id, int64_t *from_out, int64_t *to_out);

#endif
