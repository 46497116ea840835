/*
 * Reading a whole filtered range of the store in one snapshot, for the
 * export tool.
 *
 * An export handle is its own read-only SQLite connection. Unlike the
 * server's paged reads (store_read_after), store_export_each() holds one
 * read transaction for the whole range, so that what it returns is one
 * consistent state of the store even while a server commits: a prefix of
 * the commits, with no id missing between the first and the last row.
 * The price is that the WAL cannot be checkpointed past that snapshot
 * until the export ends. One thread per handle.
 */
#ifndef SENTINEL_STORE_EXPORT_H
#define SENTINEL_STORE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct store_export store_export;

/* Which events to read; zero-initialised means every event. */
struct store_range {
	int64_t after_id; /* only ids > after_id */
	int has_since;
	int64_t since_us; /* only ts_us >= since_us */
	int has_until;
	int64_t until_us;  /* only ts_us < until_us */
	size_t type_count; /* only these types (0: any) */
	const char *const *types;
};

/*
 * Open the store at path read-only. Fails when the file is missing, is not
 * an SQLite database, or is not a sentinel-logd store this program can
 * read. Returns NULL on failure with *err set and a message, which names
 * the file, in errmsg.
 */
store_export *store_export_open(const char *path, int *err, char *errmsg);

/* Close the handle (NULL is allowed). */
void store_export_close(store_export *ex);

/* The message of the last failure on this handle. */
const char *store_export_errmsg(store_export *ex);

/*
 * Call fn for every event in range, in id order, all read in one
 * transaction. A non-zero return from fn stops the iteration and is
 * returned as is (use a negative ERR_* code). *count_out gets the number
 * of rows passed to fn, also on failure.
 */
int store_export_each(store_export *ex, const struct store_range *range, store_row_fn fn, void *arg,
		      uint64_t *count_out);

/* What an element of the chain passed to a store_link_fn is. */
enum store_link_kind {
	STORE_LINK_ANCHOR,  /* where the walk starts: the first element passed */
	STORE_LINK_EVENT,   /* a stored event, row non-NULL */
	STORE_LINK_DELETED, /* the link of an event retention deleted */
};

/* One element of the hash chain; hash has CHAIN_HASH_SIZE bytes. */
typedef int (*store_link_fn)(enum store_link_kind kind, int64_t id, const unsigned char *hash,
			     const struct store_row *row, void *arg);

/*
 * Call fn for the hash chain from after_id on, in id order, all read in one
 * transaction: first the anchor (the element just before the first one
 * passed: the event or deleted link at or below after_id, or the store's
 * anchor when retention deleted past after_id), then every event and
 * deleted link after it. A third party can check the links from the anchor
 * on (chain.h) with nothing but what fn saw. Returns as store_export_each()
 * does; *count_out gets the number of events. A store older than the chain
 * (not yet opened for writing) gives ERR_SCHEMA.
 */
int store_export_chain(store_export *ex, int64_t after_id, store_link_fn fn, void *arg,
		       uint64_t *count_out);

#endif
