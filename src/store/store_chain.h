/*
 * The store's hash chain (chain.h) as the file keeps it, and its check.
 *
 * journal.hash holds each event's link; meta holds the anchor
 * (chain_anchor_id, chain_anchor_hash: the newest event retention deleted
 * below every kept one) and the head (chain_head_id, chain_head_hash: the
 * newest link the writer made); chain_deleted holds the links of events
 * retention deleted between kept ones. The writer keeps all of them in the
 * same transactions as the rows (store.c).
 */
#ifndef SENTINEL_STORE_CHAIN_H
#define SENTINEL_STORE_CHAIN_H

#include <stdint.h>

#include "buf.h"
#include "chain.h"
#include "store.h"

/* Where the chain starts and ends. Ids are 0 and hashes zero bytes when unset. */
struct store_chain_ends {
	int64_t anchor_id;
	unsigned char anchor_hash[CHAIN_HASH_SIZE];
	int64_t head_id;
	unsigned char head_hash[CHAIN_HASH_SIZE];
};

/* Read the anchor and the head (a few indexed lookups). */
int store_chain_ends(store *st, struct store_chain_ends *out);

/* What a check of the whole chain found. */
struct store_chain_report {
	struct chain_check check; /* the walk: intact or the first break */
	int64_t anchor_id;        /* where the walk started */
	unsigned char anchor_hash[CHAIN_HASH_SIZE];
	int64_t head_id; /* the head recorded by the writer, when the walk ended */
	unsigned char head_hash[CHAIN_HASH_SIZE];
	int64_t first_id, last_id; /* the first and last stored event checked */
};

/*
 * Walk the whole chain of st in id order, in short read transactions (a
 * long check never pins the WAL), and fill *out: intact, or the first id at
 * which it breaks and why. Between transactions keep_going(arg) (NULL:
 * always) may return 0 to stop: the function then returns ERR_CLOSED.
 * Returns 0 when the walk finished, whatever it found, or an error with the
 * detail in store_errmsg(st).
 */
int store_chain_verify(store *st, int (*keep_going)(void *arg), void *arg,
		       struct store_chain_report *out);

/*
 * Append the report as one JSON object (GET /api/verify, verify --json):
 * "intact", the events and deleted links checked, the first and last event
 * id, the anchor and the head; when broken, "bad_id" (the first id that is
 * wrong or missing), "row_id" (the first stored event whose link failed),
 * "after_id" (the last id whose link held) and "reason". Returns 0 or
 * ERR_NOMEM.
 */
int store_chain_report_json(const struct store_chain_report *r, struct buf *b);

#endif
