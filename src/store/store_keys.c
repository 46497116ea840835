/* The idempotency_keys table (see store_keys.h). */
#include "store_keys.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store_db.h"

/* A statement could not be prepared (the message is recorded). */
static int
prepare_failed(store *st)
{
	int rc = store_db_map_rc(sqlite3_errcode(store__db(st)));
	return rc ? rc : ERR_IO;
}

/* Record the statement's failure and reset it; returns the project code. */
static int
stmt_fail(store *st, sqlite3_stmt *s, int rc)
{
	rc = store_db_fail(store__db(st), rc, store__errmsg(st));
	sqlite3_reset(s);
	return rc;
}

int
store_keys_get(store *st, const char *key, struct store_key *out)
{
	sqlite3_stmt *s =
		store__stmt(st, STORE_STMT_KEY_GET,
			    "SELECT body_hash, status, first_id, last_id, created_us, answer"
			    " FROM idempotency_keys WHERE key = ?");
	int rc;

	if (!s)
		return prepare_failed(st);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	if (rc != SQLITE_ROW)
		return stmt_fail(st, s, rc);
	const void *hash = sqlite3_column_blob(s, 0);
	const unsigned char *answer = sqlite3_column_text(s, 5);
	char *copy = strdup(answer ? (const char *)answer : "");
	if (!copy || !hash || sqlite3_column_bytes(s, 0) != STORE_KEY_HASH_SIZE) {
		free(copy);
		sqlite3_reset(s);
		return copy ? ERR_SCHEMA : ERR_NOMEM;
	}
	memcpy(out->hash, hash, STORE_KEY_HASH_SIZE);
	out->status = sqlite3_column_int(s, 1);
	out->first_id = sqlite3_column_int64(s, 2);
	out->last_id = sqlite3_column_int64(s, 3);
	out->created_us = sqlite3_column_int64(s, 4);
	out->answer = copy;
	sqlite3_reset(s);
	return 1;
}

int
store_keys_put(store *st, const char *key, const struct store_key *k)
{
	sqlite3_stmt *s =
		store__stmt(st, STORE_STMT_KEY_PUT,
			    "INSERT OR REPLACE INTO idempotency_keys (key, body_hash, status,"
			    " first_id, last_id, answer, created_us)"
			    " VALUES (?, ?, ?, ?, ?, ?, ?)");
	int rc;

	if (!s)
		return prepare_failed(st);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, k->hash, STORE_KEY_HASH_SIZE, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, k->status);
	sqlite3_bind_int64(s, 4, k->first_id);
	sqlite3_bind_int64(s, 5, k->last_id);
	sqlite3_bind_text(s, 6, k->answer ? k->answer : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, k->created_us);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		return stmt_fail(st, s, rc);
	sqlite3_reset(s);
	return 0;
}

int
store_keys_expire(store *st, int64_t cutoff_us, int limit, int64_t *deleted_out)
{
	sqlite3_stmt *s = store__stmt(st, STORE_STMT_KEY_EXPIRE,
				      "DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM"
				      " idempotency_keys WHERE created_us < ? ORDER BY created_us"
				      " LIMIT ?)");
	int rc;

	if (!s)
		return prepare_failed(st);
	if ((rc = store_begin(st)))
		return rc;
	sqlite3_bind_int64(s, 1, cutoff_us);
	sqlite3_bind_int(s, 2, limit);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		rc = stmt_fail(st, s, rc);
		goto fail;
	}
	int64_t n = sqlite3_changes(store__db(st));
	sqlite3_reset(s);
	if ((rc = store_commit(st)))
		goto fail;
	*deleted_out = n;
	return 0;
fail:
	store_rollback(st);
	return rc;
}
