/* SQLite helpers shared by the store's connections (store_db.h). */
#include "store_db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

int
store_db_create_file(const char *path, char *errmsg)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);

	if (fd >= 0)
		return close(fd) == 0 ? 0 : err_set(errmsg, ERR_SYS, "cannot create %s", path);
	if (errno == EEXIST)
		return 0; /* SQLite opens it, or says why it cannot */
	return err_set(errmsg, ERR_SYS, "cannot create %s: %s", path, strerror(errno));
}

int
store_db_map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return ERR_NOMEM;
	case SQLITE_FULL:
		return ERR_FULL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ERR_BUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return ERR_CORRUPT;
	case SQLITE_INTERRUPT:
		return ERR_CLOSED;
	default:
		return ERR_IO;
	}
}

int
store_db_fail(sqlite3 *db, int rc, char *errmsg)
{
	int err = store_db_map_rc(rc);

	snprintf(errmsg, ERRMSG_SIZE, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return err ? err : ERR_IO; /* an unexpected ROW or DONE is still a failure */
}

int
store_db_exec(sqlite3 *db, const char *sql, char *errmsg)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc == SQLITE_OK)
		return 0;
	snprintf(errmsg, ERRMSG_SIZE, "%s", msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	rc = store_db_map_rc(rc);
	return rc ? rc : ERR_IO;
}

int
store_db_query_int(sqlite3 *db, const char *sql, int64_t *out, char *errmsg)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return store_db_fail(db, rc, errmsg);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = store_db_fail(db, rc, errmsg);
		sqlite3_finalize(s);
		return rc;
	}
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	return 0;
}

int
store_db_check_version(sqlite3 *db, char *errmsg)
{
	int64_t version;
	int rc = store_db_query_int(db, "PRAGMA user_version", &version, errmsg);

	if (rc)
		return rc;
	if (version < 1)
		return err_set(errmsg, ERR_SCHEMA, "not a sentinel-logd store (schema version 0)");
	if (version > store_latest_version())
		return err_set(errmsg, ERR_SCHEMA,
			       "the store has schema version %lld but this program knows only up "
			       "to %d",
			       (long long)version, store_latest_version());
	return 0;
}

int
store_db_epoch(sqlite3 *db, char epoch[STORE_EPOCH_SIZE], char *errmsg)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'epoch'", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return store_db_fail(db, rc, errmsg);
	epoch[0] = '\0';
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(epoch, STORE_EPOCH_SIZE, "%s", (const char *)sqlite3_column_text(s, 0));
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(db, rc, errmsg);
	sqlite3_finalize(s);
	return rc;
}

int
store_db_renew_epoch(sqlite3 *db, char epoch[STORE_EPOCH_SIZE], char *errmsg)
{
	int rc = store_db_exec(
		db, "UPDATE meta SET value = lower(hex(randomblob(8))) WHERE key = 'epoch'",
		errmsg);

	return rc ? rc : store_db_epoch(db, epoch, errmsg);
}

struct store_row
store_db_row(sqlite3_stmt *s)
{
	return (struct store_row){
		.id = sqlite3_column_int64(s, 0),
		.ts_us = sqlite3_column_int64(s, 1),
		.type = (const char *)sqlite3_column_text(s, 2),
		.body = (const char *)sqlite3_column_text(s, 3),
		.body_len = (size_t)sqlite3_column_bytes(s, 3),
	};
}

int
store_db_each(sqlite3_stmt *s, store_row_fn fn, void *arg, int *count_out)
{
	int rc, count = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_row row = store_db_row(s);
		count++;
		if (fn(&row, arg))
			break;
	}
	*count_out = count;
	return rc;
}

int
store_db_in_list(char *sql, size_t size, size_t *len, const char *column, size_t count, int first)
{
	size_t n = *len;

	n += (size_t)snprintf(sql + n, n < size ? size - n : 0, " AND %s IN (", column);
	for (size_t i = 0; i < count; i++) {
		const char *sep = i ? "," : "";
		if (first)
			n += (size_t)snprintf(sql + n, n < size ? size - n : 0, "%s?%zu", sep,
					      (size_t)first + i);
		else
			n += (size_t)snprintf(sql + n, n < size ? size - n : 0, "%s?", sep);
	}
	n += (size_t)snprintf(sql + n, n < size ? size - n : 0, ")");
	if (n >= size)
		return ERR_TOOBIG;
	*len = n;
	return 0;
}
