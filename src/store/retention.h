/*
 * Retention and compaction: the policies that keep the store bounded, and
 * the bounded steps that apply them.
 *
 * Steps run on the writer thread, between group commits, on the writer's
 * own store handle (SQLite has one writer at a time, and the event loop
 * must never wait for it). Each step deletes at most a small batch in its
 * own transaction, so ingest waits at most one step. Compaction then hands
 * freed pages back to the file system (incremental vacuum) and truncates
 * the WAL. Idempotency keys (store_keys.h) expire the same way, in steps
 * of their own.
 */
#ifndef SENTINEL_RETENTION_H
#define SENTINEL_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "logevent.h"
#include "store.h"

#define RETENTION_MAX_TYPES 32
/* Events deleted per step: one short transaction. */
#define RETENTION_BATCH 2000
/* The writer checkpoints when the WAL grows past this. */
#define RETENTION_WAL_TARGET (4 * 1024 * 1024)

struct retention_policy {
	int64_t max_age_us; /* --retain-age: 0 for none */
	int64_t max_events; /* --retain-events: 0 for none */
	int64_t max_bytes;  /* --retain-bytes, file plus WAL: 0 for none */
	size_t type_count;  /* --retain TYPE=DUR, overriding max_age_us */
	struct {
		char type[LOGEVENT_TYPE_MAX + 1];
		int64_t max_age_us;
	} types[RETENTION_MAX_TYPES];
	int64_t interval_us; /* --retention-interval: time between passes */
	/* --idempotency-window: how long an idempotency key is kept; 0 for
	 * none (keys are neither recorded nor kept). */
	int64_t key_window_us;
};

/* What one step or pass removed. */
struct retention_result {
	int64_t by_age, by_count, by_bytes; /* events deleted, per policy */
	int64_t max_id;                     /* highest id deleted, 0 if none */
};

/* Returns 1 when any policy on events is set, else 0. */
int retention_active(const struct retention_policy *p);

/*
 * Parse "TYPE=DUR" (e.g. "security=365d") into p. Returns 0, or ERR_INVAL
 * with the reason in errmsg.
 */
int retention_add_type(struct retention_policy *p, const char *arg, char *errmsg);

/*
 * Delete at most batch events that a policy no longer keeps, in one
 * transaction, and add what was deleted to *res. *count is the number of
 * events stored, kept by the caller (counting is O(events)); the step
 * lowers it by what it deletes. Returns 1 when more work remains, 0 when
 * the store is within every bound, or a negative ERR_*.
 */
int retention_step(store *st, const struct retention_policy *p, int64_t now_us, int batch,
		   int64_t *count, struct retention_result *res);

/*
 * Delete up to batch idempotency keys older than p->key_window_us (every
 * key when it is 0), in one transaction; *deleted_out gets how many.
 * Returns 1 when more may remain, 0 when none does, or a negative ERR_*.
 */
int retention_expire_keys(store *st, const struct retention_policy *p, int64_t now_us, int batch,
			  int64_t *deleted_out);

/*
 * Return free pages to the file system (at most max_pages) and checkpoint
 * the WAL, truncating it. Cheap when there is nothing to do.
 */
int retention_compact(store *st, int max_pages);

/* Returns 1 when the store is past a count or size bound, else 0 (cheap). */
int retention_over_bounds(store *st, const struct retention_policy *p, int64_t count);

#endif
