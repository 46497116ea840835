/*
 * Idempotency keys: the answers given to ingest requests that carried a
 * key, so that a producer's retry is answered again instead of stored
 * twice (table idempotency_keys, schema/schema.sql).
 *
 * The writer records a key in the transaction that commits the request's
 * events, so both reach the disk together or neither does: a retry after a
 * crash finds the key exactly when it finds the events. The loop looks
 * keys up on its read-only handle (one primary-key lookup). Keys older
 * than the window are deleted in bounded steps, each a short transaction
 * of its own, by the writer between commits.
 */
#ifndef SENTINEL_STORE_KEYS_H
#define SENTINEL_STORE_KEYS_H

#include <stdint.h>

#include "ingest.h"
#include "store.h"

/* Bytes of a request's fingerprint (SHA-256). */
#define STORE_KEY_HASH_SIZE INGEST_KEY_HASH_SIZE

/* What a key's request was and how it was answered. */
struct store_key {
	unsigned char hash[STORE_KEY_HASH_SIZE]; /* the request's fingerprint */
	int status;                              /* the answer's HTTP status */
	int64_t first_id, last_id;               /* the ids it stored */
	int64_t created_us;                      /* when */
	char *answer;                            /* the answer's body (NUL-terminated) */
};

/*
 * Look key up. Returns 1 with *out filled (out->answer malloc'd, for the
 * caller to free), 0 when the store has no such key (*out untouched), or a
 * negative ERR_* with the message in store_errmsg().
 */
int store_keys_get(store *st, const char *key, struct store_key *out);

/*
 * Inside a transaction on a writable handle: record k under key, replacing
 * what an earlier use of the key (expired) left.
 */
int store_keys_put(store *st, const char *key, const struct store_key *k);

/*
 * On a writable handle, in a transaction of its own: delete up to limit
 * keys created before cutoff_us, oldest first. *deleted_out gets how many.
 */
int store_keys_expire(store *st, int64_t cutoff_us, int limit, int64_t *deleted_out);

#endif
