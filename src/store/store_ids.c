/*
 * The id high-water mark and the lost ranges (store_ids.h).
 *
 * The mark is meta 'id_reserved'; the journal's sequence is SQLite's own
 * (sqlite_sequence, AUTOINCREMENT), which may be written like any table.
 * Invariant: every id ever acknowledged or broadcast is at or below the
 * mark that is on the disk, or below the journal's last id when the commit
 * that assigned it is on the disk. Recovery therefore makes the sequence at
 * least the mark, and only ids above both are assigned afterwards.
 *
 * Only a restart of the machine can take back a commit: when the process
 * alone dies (kill -9, a crash), the kernel still holds everything it
 * wrote. So each move of the mark also records the machine's boot id (meta
 * 'id_reserved_boot'); when the store is opened again in the same boot,
 * nothing between the journal's last id and the mark was handed out and
 * lost, the mark simply comes back down, and ids go on without a gap. When
 * the boot id differs or cannot be read, the range is recorded as lost.
 */
#include "store_ids.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "procinfo.h"
#include "store_db.h"

static int
query_int(store *st, const char *sql, int64_t *out)
{
	return store_db_query_int(store__db(st), sql, out, store__errmsg(st));
}

static int
exec(store *st, const char *sql)
{
	return store_db_exec(store__db(st), sql, store__errmsg(st));
}

/* Run sql that returns no rows, binding a and b to its parameters. */
static int
run(store *st, const char *sql, int64_t a, int64_t b)
{
	sqlite3 *db = store__db(st);
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return store_db_fail(db, rc, store__errmsg(st));
	if (sqlite3_bind_parameter_count(s) >= 1)
		sqlite3_bind_int64(s, 1, a);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, b);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? 0 : store_db_fail(db, rc, store__errmsg(st));
	sqlite3_finalize(s);
	return rc;
}

static int
last_seq(store *st, int64_t *out)
{
	return query_int(st,
			 "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'journal'",
			 out);
}

int
store_ids_mark(store *st, int64_t *mark_out)
{
	return query_int(st,
			 "SELECT coalesce(max(CAST(value AS INTEGER)), 0) FROM meta"
			 " WHERE key = 'id_reserved'",
			 mark_out);
}

/* Returns 1 when the mark was moved in this boot of the machine, else 0. */
static int
same_boot(store *st)
{
	char now[PROCINFO_BOOT_ID_SIZE], then[PROCINFO_BOOT_ID_SIZE];
	int found;

	return !procinfo_boot_id(now) &&
	       !store_meta_get(st, "id_reserved_boot", then, sizeof then, &found) && found &&
	       !strcmp(now, then);
}

int
store_ids_recover(store *st, int64_t *from_out, int64_t *to_out)
{
	int64_t seq, mark;
	int rc;

	if ((rc = exec(st, "BEGIN IMMEDIATE")))
		return rc;
	if ((rc = last_seq(st, &seq)) || (rc = store_ids_mark(st, &mark)))
		goto fail;
	if (mark > seq && same_boot(st)) {
		/* The process died, the machine did not: nothing was lost. */
		if ((rc = run(st, "UPDATE meta SET value = ? WHERE key = 'id_reserved'", seq, 0)))
			goto fail;
		mark = seq;
	} else if (mark > seq) {
		if ((rc = run(st,
			      "INSERT INTO lost_ids (from_id, to_id, found_at)"
			      " VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
			      seq + 1, mark)) ||
		    (rc = run(st, "DELETE FROM sqlite_sequence WHERE name = 'journal'", 0, 0)) ||
		    (rc = run(st, "INSERT INTO sqlite_sequence (name, seq) VALUES ('journal', ?)",
			      mark, 0)))
			goto fail;
	}
	if ((rc = exec(st, "COMMIT")))
		goto fail;
	*from_out = mark > seq ? seq + 1 : 0;
	*to_out = mark > seq ? mark : 0;
	return 0;
fail:
	sqlite3_exec(store__db(st), "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int
store_ids_reserve(store *st, int64_t through, int64_t *mark)
{
	int64_t want = through + STORE_IDS_BLOCK;
	int rc, rc2;

	if (through <= *mark || (store__flags(st) & STORE_SYNC_FULL))
		return 0;
	/* The level cannot change inside a transaction: set it around one. */
	if ((rc = exec(st, "PRAGMA synchronous = FULL")))
		return rc;
	if (!(rc = exec(st, "BEGIN IMMEDIATE"))) {
		char boot[PROCINFO_BOOT_ID_SIZE];
		rc = run(st, "UPDATE meta SET value = ? WHERE key = 'id_reserved'", want, 0);
		if (!rc)
			rc = procinfo_boot_id(boot)
				     ? run(st, "DELETE FROM meta WHERE key = 'id_reserved_boot'", 0,
					   0)
				     : store_meta_set(st, "id_reserved_boot", boot);
		rc = rc ? rc : exec(st, "COMMIT");
		if (rc)
			sqlite3_exec(store__db(st), "ROLLBACK", NULL, NULL, NULL);
	}
	rc2 = exec(st, "PRAGMA synchronous = NORMAL");
	if (rc || (rc = rc2))
		return rc;
	*mark = want;
	return 0;
}

int
store_ids_release(store *st)
{
	int64_t seq;
	int rc;

	if ((rc = last_seq(st, &seq)))
		return rc;
	return run(st, "UPDATE meta SET value = ? WHERE key = 'id_reserved'", seq, 0);
}

int
store_ids_lost(store *st, int64_t id, int64_t *from_out, int64_t *to_out)
{
	sqlite3 *db = store__db(st);
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT from_id, to_id FROM lost_ids WHERE to_id >= ?"
				    " ORDER BY from_id LIMIT 1",
				    -1, &s, NULL);
	int64_t from = 0, to = 0;

	if (rc != SQLITE_OK)
		return store_db_fail(db, rc, store__errmsg(st));
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		from = sqlite3_column_int64(s, 0);
		to = sqlite3_column_int64(s, 1);
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(db, rc, store__errmsg(st));
	sqlite3_finalize(s);
	if (rc)
		return rc;
	*from_out = from;
	*to_out = to;
	return 0;
}
