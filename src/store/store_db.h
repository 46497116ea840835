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

#include "chain.h"
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

/*
 * The hash chain's storage (store_chain.c): journal.hash, the anchor and
 * the head in meta, and the links of deleted events in chain_deleted.
 */

/* The anchor (id 0 and 32 zero bytes when retention never deleted any). */
int store_chain__anchor(sqlite3 *db, int64_t *id_out, unsigned char *hash_out, char *errmsg);

/*
 * The head: the id and hash of the newest element of the chain, as the
 * writer last recorded it in meta, or else the newest stored event, deleted
 * link or anchor (id 0 and zero bytes for an empty store).
 */
int store_chain__head(sqlite3 *db, int64_t *id_out, unsigned char *hash_out, char *errmsg);

/*
 * The element of the chain with the highest id at or below upto: a stored
 * event, a deleted link or the anchor (never below the anchor).
 */
int store_chain__link_at(sqlite3 *db, int64_t upto, int64_t *id_out, unsigned char *hash_out,
			 char *errmsg);

/*
 * Give every event without a hash its link, in id order, in bounded
 * transactions (a store made before the chain existed). Resumes where an
 * interrupted run stopped. Cheap when there is nothing to do.
 */
int store_chain__upgrade(sqlite3 *db, chain *c, char *errmsg);

/* One element of the chain: an id and its hash. */
struct store_link {
	int64_t id;
	unsigned char hash[CHAIN_HASH_SIZE];
};

/*
 * Inside the transaction that deleted the events links[0..n) (in any
 * order; the array is sorted in place): keep what a walk of the chain
 * needs to go on. Below every kept event the anchor moves up; between kept
 * events the hash of the last deleted one before each kept event stays as
 * a deleted link.
 */
int store_chain__forget(sqlite3 *db, struct store_link *links, int n, char *errmsg);

/* The statements the store's other files run often. */
enum store_stmt { STORE_STMT_KEY_GET, STORE_STMT_KEY_PUT, STORE_STMT_KEY_EXPIRE, STORE_STMTS };

/*
 * The handle's statement for slot: prepared from sql on first use and kept
 * until the handle closes (the same slot always gets the same sql). NULL
 * when it cannot be prepared, with the message in store__errmsg(). Reset
 * it after use.
 */
sqlite3_stmt *store__stmt(store *st, enum store_stmt slot, const char *sql);

#endif
