/*
 * The hash chain that makes the journal tamper-evident.
 *
 * Every stored event carries hash = SHA-256(previous hash || id || body):
 * the previous hash is the one of the event stored just before it (32 zero
 * bytes for the first event of a store), id is the event id as 8 bytes,
 * big-endian, and body is the exact stored body (the event without "id").
 * A change to any body, id or hash, an event removed from the middle or
 * one inserted after the fact, breaks the link of the next event, so
 * walking the chain in id order names the first id that does not follow.
 *
 * Retention keeps the chain checkable: the hash of the newest event it
 * deleted below every kept one is the anchor the walk starts from, and the
 * hash of an event it deleted between kept ones is kept as a "deleted
 * link" (store_chain.h).
 *
 * This file is pure computation (no SQLite): the server, the verify
 * command and the export verifier share it. A chain handle is one SHA-256
 * context; use it from one thread.
 */
#ifndef SENTINEL_CHAIN_H
#define SENTINEL_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#define CHAIN_HASH_SIZE 32
/* A hash as lowercase hex, with its NUL. */
#define CHAIN_HEX_SIZE (2 * CHAIN_HASH_SIZE + 1)

typedef struct chain chain;

/* A SHA-256 context for chain links. NULL when libcrypto cannot give one. */
chain *chain_new(void);
void chain_free(chain *c);

/* out = SHA-256(prev || id as 8 bytes big-endian || body). Returns 0 or ERR_SYS. */
int chain_link(chain *c, const unsigned char *prev, int64_t id, const char *body, size_t len,
	       unsigned char *out);

/* Write hash as CHAIN_HEX_SIZE bytes of lowercase hex and a NUL. */
void chain_hex(const unsigned char *hash, char *out);

/* Read exactly 64 hex digits (either case) into out. Returns 0 or ERR_INVAL. */
int chain_unhex(const char *text, size_t len, unsigned char *out);

/*
 * A walk along the chain, in id order, from an anchor. Feed it every
 * stored event and every deleted link; it stops believing at the first
 * event whose hash does not follow from what came before.
 */
struct chain_check {
	unsigned char prev[CHAIN_HASH_SIZE]; /* the hash the next event must follow */
	int64_t prev_id;                     /* the id that hash belongs to */
	int64_t anchor_id;
	int64_t events;  /* events whose link held */
	int64_t deleted; /* deleted links passed */
	int broken;
	int64_t bad_id;   /* the first id that is wrong or missing */
	int64_t row_id;   /* the first stored event whose link failed */
	int64_t after_id; /* the last id whose link held (or the anchor's) */
	char reason[256];
};

/* Start at the anchor: its id (0 for none) and hash (NULL: 32 zero bytes). */
void chain_check_start(struct chain_check *k, int64_t anchor_id, const unsigned char *anchor_hash);

/*
 * The next stored event, in id order; hash is its stored hash (NULL when it
 * has none). Returns 0 while the chain holds, 1 once it is broken (the
 * check then ignores everything else), or ERR_SYS when hashing failed.
 */
int chain_check_event(struct chain_check *k, chain *c, int64_t id, const char *body, size_t len,
		      const unsigned char *hash);

/* A deleted link, in id order among the events. Returns 0 or 1 as above. */
int chain_check_deleted(struct chain_check *k, int64_t id, const unsigned char *hash);

#endif
