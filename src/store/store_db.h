/*
 * SQLite plumbing shared by the store's kinds of connection: store.c (the
 * server's handles), store_export.c (one snapshot for an export) and
 * store_backup.c (the two ends of a copy). Private to src/store/: nothing
 * outside this folder includes it.
 *
 * Every helper that fails writes SQLite's message into errmsg
 * (ERRMSG_SIZE bytes) and returns a project error code (err.h).
 */
#ifndef SENTINEL_STORE_DB_H
#define SENTINEL_STORE_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * Create the database file path, empty and with mode 0640 (less as the
 * umask says), unless something is there already. SQLite would make it
 * 0644, and gives the -wal and -shm files the mode of the database file:
 * so all three are 0640. Returns 0, or ERR_SYS with a message in errmsg.
 */
int store_db_create_file(const char *path, char *errmsg);

/* Map an SQLite result code to a project error code (0 for OK, ROW, DONE). */
int store_db_map_rc(int sqlite_rc);

/* Record db's last error in errmsg; returns its code, never 0. */
int store_db_fail(sqlite3 *db, int sqlite_rc, char *errmsg);

/* Run SQL that returns no rows. */
int store_db_exec(sqlite3 *db, const char *sql, char *errmsg);

/* Run a query returning one integer; no row or NULL reads as 0. */
int store_db_query_int(sqlite3 *db, const char *sql, int64_t *out, char *errmsg);

/*
 * Check that the file is a sentinel-logd store this program can read:
 * PRAGMA user_version between 1 and the newest migration. Reading it also
 * validates the file's header.
 */
int store_db_check_version(sqlite3 *db, char *errmsg);

/* Read the store's epoch into epoch ("" when the meta table has none). */
int store_db_epoch(sqlite3 *db, char epoch[STORE_EPOCH_SIZE], char *errmsg);

/* Give the store a new random epoch, and read it into epoch. */
int store_db_renew_epoch(sqlite3 *db, char epoch[STORE_EPOCH_SIZE], char *errmsg);

/* The columns "id, ts_us, type, body" of the current row of s. */
struct store_row store_db_row(sqlite3_stmt *s);

/*
 * Step s, calling fn for each row ("id, ts_us, type, body") until fn returns
 * non-zero. Returns SQLite's last result: SQLITE_ROW when fn stopped,
 * SQLITE_DONE at the end, or the error; *count_out gets the rows passed to fn.
 */
int store_db_each(sqlite3_stmt *s, store_row_fn fn, void *arg, int *count_out);

/*
 * Append " AND <column> IN (?N,?N+1,...)" (count placeholders numbered from
 * first, or unnumbered when first is 0) to sql, which has size bytes and
 * holds *len of them. Returns 0, or ERR_TOOBIG when it does not fit.
 */
int store_db_in_list(char *sql, size_t size, size_t *len, const char *column, size_t count,
		     int first);

/* A store handle's connection, message buffer and flags, for the store's
 * other files (store_ids.c). */
sqlite3 *store__db(store *st);
char *store__errmsg(store *st);
int store__flags(const store *st);

#endif
