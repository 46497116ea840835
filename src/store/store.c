/*
 * The SQLite store.
 *
 * Invariants: ids come from AUTOINCREMENT, so they only grow and are never
 * reused, and opening for writing first moves the sequence past any id an
 * unclean stop may have handed out (store_ids.c); the schema is built only
 * by the embedded migrations (never a second copy of the DDL here); reads
 * are short transactions, keyed by id, so that a long replay never holds a
 * snapshot that starves checkpoints. A writable handle holds the store's
 * lock (store_lock.h) and keeps its mark (store_mark.h) at the last id it
 * committed; at open, a store that ends below its mark is an older copy put
 * back in place and gets a new epoch, since its next ids were already
 * handed out under the old one.
 *
 * A writable handle links every event it appends into the hash chain
 * (chain.h) in the same statement: it keeps the newest link (the head) in
 * memory, restores it when a transaction rolls back, and records it in meta
 * with every commit that made links. Deletions keep what the chain needs
 * (store_chain__forget) in the transaction that deletes.
 *
 * Inside a transaction, appends are staged and inserted STAGE_ROWS at a
 * time with one statement (a statement costs about as much as the rows it
 * inserts, and AUTOINCREMENT writes its sequence row once per statement),
 * with the ids AUTOINCREMENT would have chosen. Staged rows are copied, so
 * an event may be freed once appended; they are inserted before the
 * commit, and an error inserting them fails the commit like any error
 * inside the transaction.
 *
 * Rows change only inside store_begin()'s transactions on a writable
 * handle, and every append and deletion also moves the counters (events
 * per type, marks of where a time lies in id order: counters.h), written
 * just before the commit, so that no read on the event loop has to count
 * or scan the journal.
 */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "chain.h"
#include "counters.h"
#include "embedded.h"
#include "err.h"
#include "log.h"
#include "store_db.h"
#include "store_ids.h"
#include "store_lock.h"
#include "store_mark.h"

/* Rows per multi-row INSERT, and the parameters of one row. */
#define STAGE_ROWS 64
#define ROW_PARAMS 5

/* An appended row not yet inserted; its texts are in the store's stage_text. */
struct staged {
	int64_t id, ts_us;
	size_t type_off, body_off, body_len;
	unsigned char hash[CHAIN_HASH_SIZE];
};

/* How long a statement waits for another connection's lock. */
#define BUSY_TIMEOUT_MS 5000

/* Room for the listing statement of STORE_LIST_MAX_TYPES types. */
#define LIST_SQL_SIZE 8192

/* migrations/NNNN_*.sql in order (migrations_data.c, generated). */
extern const struct embedded_file embedded_migrations[];
extern const size_t embedded_migrations_count;

struct store {
	sqlite3 *db;
	char *path;
	int flags;
	store_lock *lock;          /* held by a writable handle */
	store_mark *mark;          /* kept by a writable handle */
	int64_t marked_id;         /* the last id written to the mark */
	int mark_failed;           /* a mark update failed (logged once) */
	char renewal[ERRMSG_SIZE]; /* why the epoch was renewed at open, or "" */
	sqlite3_stmt *append;
	sqlite3_stmt *read_after;
	sqlite3_stmt *last_id;
	sqlite3_stmt *first_id;
	sqlite3_stmt *first_id_since;
	sqlite3_stmt *until_marks;
	sqlite3_stmt *count;
	sqlite3_stmt *meta_set;
	sqlite3_stmt *append_many; /* STAGE_ROWS rows */
	struct staged stage[STAGE_ROWS];
	int staged;
	struct buf stage_text;
	sqlite3_stmt *stmts[STORE_STMTS]; /* the other files' (store__stmt) */
	counters *counters;               /* writable handles: type counts and marks */
	int in_txn;                       /* store_begin() ran, its commit or rollback not yet */
	int64_t version;                  /* read-only handles: the schema version at open */
	char epoch[STORE_EPOCH_SIZE];
	int64_t lost_from, lost_to; /* ids found lost at open (store_ids.h) */
	int64_t wal_frames;         /* after the last commit, with manual checkpoints */
	char errmsg[ERRMSG_SIZE];

	/* The hash chain, on a writable handle. */
	chain *chain;
	unsigned char head[CHAIN_HASH_SIZE]; /* the newest link */
	int64_t head_id;
	unsigned char begin_head[CHAIN_HASH_SIZE]; /* the head when the transaction began */
	int64_t begin_head_id;
	int64_t next_id; /* the id store_append gives next; 0: read it first */
	int head_dirty;  /* links were made in this transaction */
};

/*
 * The first id at or after a time: start after the last mark whose events
 * are all older (journal_marks_ts_hi), then read rows in id order; at most
 * a run of them (COUNTERS_RUN) come before one qualifies, unless retention
 * deleted those. "+" keeps SQLite on the rowid.
 */
static const char sql_first_id_since[] =
	"SELECT id FROM journal WHERE id > coalesce((SELECT id FROM journal_marks "
	"WHERE ts_hi < ?1 ORDER BY ts_hi DESC, id DESC LIMIT 1), 0) "
	"AND +ts_us >= ?1 ORDER BY id LIMIT 1";

/*
 * For "before a time": the last mark at or before which an event may be
 * older (journal_marks_ts_lo), and the last mark. Every event between the
 * two is at or after the time; the open run after the last mark is not
 * known.
 */
static const char sql_until_marks[] =
	"SELECT (SELECT id FROM journal_marks WHERE ts_lo < ?1 "
	"ORDER BY ts_lo DESC, id DESC LIMIT 1), (SELECT max(id) FROM journal_marks)";

/* Record the connection's last error and return its project code. */
static int
fail_db(store *st, int rc)
{
	return store_db_fail(st->db, rc, st->errmsg);
}

static int
exec(store *st, const char *sql)
{
	return store_db_exec(st->db, sql, st->errmsg);
}

static int
query_int(store *st, const char *sql, int64_t *out)
{
	return store_db_query_int(st->db, sql, out, st->errmsg);
}

int
store_latest_version(void)
{
	return (int)embedded_migrations_count;
}

/* Apply every migration newer than the file's user_version, atomically. */
static int
migrate(store *st)
{
	int64_t version;
	int rc;

	if ((rc = exec(st, "BEGIN IMMEDIATE")))
		return rc;
	if ((rc = query_int(st, "PRAGMA user_version", &version)))
		goto fail;
	if (version > store_latest_version()) {
		snprintf(st->errmsg, sizeof st->errmsg,
			 "the store has schema version %lld but this program knows only up to %d",
			 (long long)version, store_latest_version());
		rc = ERR_SCHEMA;
		goto fail;
	}
	for (int v = (int)version; v < store_latest_version(); v++) {
		char sql[64];
		/* An upgrade may count every event once: minutes on a store of
		 * millions, so say what is going on. */
		if (version > 0)
			log_info("%s: applying migration %s", st->path,
				 embedded_migrations[v].name);
		if ((rc = exec(st, embedded_migrations[v].data))) {
			char detail[sizeof st->errmsg];
			memcpy(detail, st->errmsg, sizeof detail);
			snprintf(st->errmsg, sizeof st->errmsg, "migration %s failed: %.200s",
				 embedded_migrations[v].name, detail);
			goto fail;
		}
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		if ((rc = exec(st, sql)))
			goto fail;
	}
	return exec(st, "COMMIT");
fail:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int
prepare(store *st, const char *sql, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	return rc == SQLITE_OK ? 0 : fail_db(st, rc);
}

/* The INSERT of STAGE_ROWS rows. */
static int
prepare_append_many(store *st)
{
	static const char head[] = "INSERT INTO journal (id, ts_us, type, body, hash) VALUES ";
	static const char row[] = ",(?,?,?,?,?)";
	char sql[sizeof head + STAGE_ROWS * sizeof row];
	size_t n = sizeof head - 1;

	memcpy(sql, head, n);
	for (int i = 0; i < STAGE_ROWS; i++) {
		/* The first row without its comma. */
		memcpy(sql + n, row + !i, sizeof row - 1 - !i);
		n += sizeof row - 1 - !i;
	}
	sql[n] = '\0';
	return prepare(st, sql, &st->append_many);
}

/* Pragmas, migrations and statements: everything after sqlite3_open. */
static int
setup(store *st)
{
	int rc;
	int64_t pages;

	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	/* Validate the header now, so a corrupt or foreign file is reported
	 * at open rather than on the first write. */
	if ((rc = query_int(st, "PRAGMA page_count", &pages)))
		return rc;
	if (st->flags & STORE_WRITE) {
		/* auto_vacuum only takes effect before the first table exists. */
		if (pages == 0 && (rc = exec(st, "PRAGMA auto_vacuum = INCREMENTAL")))
			return rc;
		if ((rc = exec(st, "PRAGMA journal_mode = WAL")))
			return rc;
		if ((rc = exec(st, st->flags & STORE_SYNC_FULL ? "PRAGMA synchronous = FULL"
							       : "PRAGMA synchronous = NORMAL")))
			return rc;
		/* A checkpoint that resets the WAL also cuts the file back. */
		if ((rc = exec(st, "PRAGMA journal_size_limit = 4194304")))
			return rc;
		if ((rc = migrate(st)))
			return rc;
		/* Before anything can append: ids an unclean stop may have
		 * handed out are never assigned again. */
		if ((rc = store_ids_recover(st, &st->lost_from, &st->lost_to)))
			return rc;
		/* Events stored before the chain existed get their links now,
		 * before anything new is appended. */
		if (!(st->chain = chain_new()))
			return err_set(st->errmsg, ERR_NOMEM, "cannot get a SHA-256 context");
		if ((rc = store_chain__upgrade(st->db, st->chain, st->errmsg)) ||
		    (rc = store_chain__head(st->db, &st->head_id, st->head, st->errmsg)))
			return rc;
		/* From here on, the statement journal of each multi-row INSERT
		 * (a few pages, dropped at the statement's end) stays in memory
		 * instead of a temporary file created, written and deleted in
		 * every transaction. Migrations and upgrades above, and VACUUM,
		 * whose temporary data can be as large as the store, use files. */
		if ((rc = exec(st, "PRAGMA temp_store = MEMORY")))
			return rc;
		if ((rc = prepare(st,
				  "INSERT INTO journal (id, ts_us, type, body, hash) "
				  "VALUES (?, ?, ?, ?, ?)",
				  &st->append)) ||
		    (rc = prepare(st, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
				  &st->meta_set)) ||
		    (rc = prepare_append_many(st)))
			return rc;
		if (!(st->counters = counters_new(st->db, st->errmsg, &rc)))
			return rc;
	} else {
		if ((rc = store_db_check_version(st->db, st->errmsg)) ||
		    (rc = query_int(st, "PRAGMA user_version", &st->version)))
			return rc;
		if ((rc = exec(st, "PRAGMA query_only = 1")))
			return rc;
	}
	if ((rc = prepare(st,
			  "SELECT id, ts_us, type, body FROM journal WHERE id > ? "
			  "ORDER BY id LIMIT ?",
			  &st->read_after)) ||
	    (rc = prepare(st, "SELECT seq FROM sqlite_sequence WHERE name = 'journal'",
			  &st->last_id)) ||
	    (rc = prepare(st, "SELECT min(id) FROM journal", &st->first_id)) ||
	    (rc = store_db_epoch(st->db, st->epoch, st->errmsg)))
		return rc;
	/* A reader of a store no writer has migrated yet has no counters:
	 * what needs them says so (need_counters), the rest works. */
	if (!(st->flags & STORE_WRITE) && st->version < store_latest_version())
		return 0;
	if ((rc = prepare(st, sql_first_id_since, &st->first_id_since)) ||
	    (rc = prepare(st, sql_until_marks, &st->until_marks)) ||
	    (rc = prepare(st, "SELECT coalesce(sum(events), 0) FROM type_counts", &st->count)))
		return rc;

	return 0;
}

/*
 * Read the mark beside a writable store; renew the epoch if the store is
 * a copy, then bring the mark up to date. A store with events but no mark
 * may be a copy too (a backup moved elsewhere, or restored together with
 * an old mark that was then removed), and is treated as one: its clients
 * start over once, rather than risk skipping reused ids. A cluster node's
 * ids and epoch are its stream's: a copy of its store catches up from the
 * stream and hands out no id twice, so it keeps its epoch.
 */
static int
check_mark(store *st)
{
	char epoch[STORE_EPOCH_SIZE], stream[256];
	int64_t marked, last;
	int rc, replica;

	st->mark = store_mark_open(st->path, st->flags & STORE_SYNC_FULL, epoch, &marked, &rc,
				   st->errmsg);
	if (!st->mark)
		return rc;
	if ((rc = store_last_id(st, &last)) ||
	    (rc = store_meta_get(st, "stream", stream, sizeof stream, &replica)))
		return rc;
	if (!replica && !epoch[0] && last > 0)
		snprintf(st->renewal, sizeof st->renewal,
			 "it holds ids up to %lld but has no %s.mark: it may be a copy",
			 (long long)last, st->path);
	else if (!replica && !strcmp(epoch, st->epoch) && last < marked)
		snprintf(st->renewal, sizeof st->renewal,
			 "it ends at id %lld but ids up to %lld were committed to it (%s.mark): "
			 "it is an older copy, such as a restored backup",
			 (long long)last, (long long)marked, st->path);
	if (st->renewal[0] && (rc = store_db_renew_epoch(st->db, st->epoch, st->errmsg)))
		return rc;
	if ((rc = store_mark_set(st->mark, st->epoch, last, st->errmsg)))
		return rc;
	st->marked_id = last;
	return 0;
}

/* After a commit: move the mark to the new last id, if it grew. */
static void
advance_mark(store *st)
{
	char errmsg[ERRMSG_SIZE];
	int64_t last;

	if (!st->mark || store_last_id(st, &last) || last == st->marked_id)
		return;
	if (store_mark_set(st->mark, st->epoch, last, errmsg)) {
		/* The commit stands; only the detection of a restored copy
		 * is weaker until the mark can be written again. */
		if (!st->mark_failed)
			log_warn("%s", errmsg);
		st->mark_failed = 1;
		return;
	}
	st->mark_failed = 0;
	st->marked_id = last;
}

store *
store_open(const char *path, int flags, int *err, char *errmsg)
{
	store *st = calloc(1, sizeof *st);
	int rc, open_flags;

	if (!st || !(st->path = strdup(path))) {
		free(st);
		*err = err_set(errmsg, ERR_NOMEM, "out of memory");
		return NULL;
	}
	st->flags = flags;
	if (flags & STORE_WRITE) {
		/* One writer at a time; this also creates the folders. */
		if (!(st->lock = store_lock_take(path, err, errmsg))) {
			free(st->path);
			free(st);
			return NULL;
		}
		if ((rc = store_db_create_file(path, st->errmsg)))
			goto fail;
		open_flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	} else {
		open_flags = SQLITE_OPEN_READONLY;
	}
	open_flags |= SQLITE_OPEN_NOMUTEX; /* one thread per handle */
	rc = sqlite3_open_v2(path, &st->db, open_flags, NULL);
	if (rc != SQLITE_OK) {
		rc = fail_db(st, rc);
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if ((rc = setup(st)) || ((flags & STORE_WRITE) && (rc = check_mark(st))))
		goto fail;
	return st;
fail:
	*err = rc;
	snprintf(errmsg, ERRMSG_SIZE, "%.200s: %.300s", path, st->errmsg);
	store_close(st);
	return NULL;
}

void
store_close(store *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->append);
	sqlite3_finalize(st->read_after);
	sqlite3_finalize(st->last_id);
	sqlite3_finalize(st->first_id);
	sqlite3_finalize(st->first_id_since);
	sqlite3_finalize(st->until_marks);
	sqlite3_finalize(st->count);
	sqlite3_finalize(st->meta_set);
	sqlite3_finalize(st->append_many);
	buf_free(&st->stage_text);
	chain_free(st->chain);
	for (int i = 0; i < STORE_STMTS; i++)
		sqlite3_finalize(st->stmts[i]);
	counters_free(st->counters);
	if (st->db && (st->flags & STORE_WRITE))
		sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(st->db);
	store_mark_close(st->mark);
	store_lock_release(st->lock);
	free(st->path);
	free(st);
}

const char *
store_errmsg(store *st)
{
	return st->errmsg;
}

const char *
store_epoch(store *st)
{
	return st->epoch;
}

const char *
store_renewal(store *st)
{
	return st->renewal[0] ? st->renewal : NULL;
}

int
store_schema_version(store *st)
{
	int64_t v = 0;
	return query_int(st, "PRAGMA user_version", &v) ? -1 : (int)v;
}

/* Forget the staged rows (after they were inserted, or with a rollback). */
static void
unstage(store *st)
{
	st->staged = 0;
	st->stage_text.len = 0;
}

/* Bind one staged row to parameters from ROW_PARAMS * i + 1 on. */
static void
bind_row(store *st, sqlite3_stmt *s, int i, const struct staged *r)
{
	const char *text = st->stage_text.data;
	int p = ROW_PARAMS * i;

	sqlite3_bind_int64(s, p + 1, r->id);
	sqlite3_bind_int64(s, p + 2, r->ts_us);
	sqlite3_bind_text(s, p + 3, text + r->type_off, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, p + 4, text + r->body_off, (int)r->body_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, p + 5, r->hash, CHAIN_HASH_SIZE, SQLITE_STATIC);
}

static int
step_done(store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : fail_db(st, rc);
}

/* Insert the staged rows: all in one statement when there are STAGE_ROWS. */
static int
flush(store *st)
{
	int rc = 0;

	if (st->staged == STAGE_ROWS) {
		for (int i = 0; i < STAGE_ROWS; i++)
			bind_row(st, st->append_many, i, &st->stage[i]);
		rc = step_done(st, st->append_many);
	} else {
		for (int i = 0; !rc && i < st->staged; i++) {
			bind_row(st, st->append, 0, &st->stage[i]);
			rc = step_done(st, st->append);
		}
	}
	unstage(st);
	return rc;
}

int
store_begin(store *st)
{
	int rc = exec(st, "BEGIN IMMEDIATE");

	unstage(st);
	if (!rc) {
		memcpy(st->begin_head, st->head, CHAIN_HASH_SIZE);
		st->begin_head_id = st->head_id;
		st->next_id = 0;
		st->head_dirty = 0;
		st->in_txn = 1;
	}
	return rc;
}

/* The counters go in with the rows they count, or neither does. */
int
store_commit(store *st)
{
	int rc;

	if ((rc = flush(st)))
		return rc;
	if (st->head_dirty) {
		char text[32], hex[CHAIN_HEX_SIZE];
		snprintf(text, sizeof text, "%lld", (long long)st->head_id);
		chain_hex(st->head, hex);
		if ((rc = store_meta_set(st, "chain_head_id", text)) ||
		    (rc = store_meta_set(st, "chain_head_hash", hex)))
			return rc;
	}
	if (st->counters && (rc = counters_flush(st->counters)))
		return rc;
	if ((rc = exec(st, "COMMIT")))
		return rc;
	if (st->counters)
		counters_committed(st->counters);
	st->in_txn = 0;
	st->head_dirty = 0;
	advance_mark(st);
	return 0;
}

int
store_rollback(store *st)
{
	unstage(st);
	/* Keep the message of the failure that led here: SQLite may have rolled
	 * back already, and "no transaction is active" would replace it. */
	int rc = sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);

	/* The links and counts made since the transaction began are gone with it. */
	memcpy(st->head, st->begin_head, CHAIN_HASH_SIZE);
	st->head_id = st->begin_head_id;
	st->next_id = 0;
	st->head_dirty = 0;
	if (st->counters)
		counters_forget(st->counters);
	st->in_txn = 0;
	return rc == SQLITE_OK || sqlite3_get_autocommit(st->db) ? 0 : store_db_map_rc(rc);
}

/* The counters exist: not so for a reader of a store no writer has migrated yet. */
static int
need_counters(store *st)
{
	if (st->count)
		return 0;
	return err_set(st->errmsg, ERR_SCHEMA,
		       "the store has schema version %lld: open it for writing first "
		       "(sentinel-logd migrate) to bring it to %d",
		       (long long)st->version, store_latest_version());
}

/* Rows change only inside store_begin()'s transactions, with their counters. */
static int
need_txn(store *st)
{
	if (!st->counters || !st->in_txn)
		return err_set(st->errmsg, ERR_INVAL,
			       "the journal changes only in a transaction on a writable handle");
	return 0;
}

/*
 * At a transaction's first append: the next id AUTOINCREMENT would give,
 * and, if another handle appended since this one's last link, its head.
 */
static int
prepare_append(store *st)
{
	int64_t seq;
	int rc = store_last_id(st, &seq);

	if (rc)
		return rc;
	if (seq > st->head_id &&
	    (rc = store_chain__head(st->db, &st->head_id, st->head, st->errmsg)))
		return rc;
	st->next_id = seq + 1;
	return 0;
}

/* Stage a row; the rows go in when STAGE_ROWS are staged, or at commit. */
static int
stage(store *st, const struct logevent *ev, int64_t id, const unsigned char *hash)
{
	struct staged *r = &st->stage[st->staged];
	size_t type_len = strlen(ev->type) + 1;

	r->id = id;
	r->ts_us = ev->ts_us;
	r->type_off = st->stage_text.len;
	r->body_off = r->type_off + type_len;
	r->body_len = ev->body_len;
	memcpy(r->hash, hash, CHAIN_HASH_SIZE);
	if (buf_append(&st->stage_text, ev->type, type_len) ||
	    buf_append(&st->stage_text, ev->body, ev->body_len))
		return err_set(st->errmsg, ERR_NOMEM, "out of memory");
	return ++st->staged == STAGE_ROWS ? flush(st) : 0;
}

/* Insert ev with id, or with the next id when id is 0, and link it. */
static int
insert(store *st, const struct logevent *ev, int64_t id, int64_t *id_out)
{
	sqlite3_stmt *s = st->append;
	unsigned char hash[CHAIN_HASH_SIZE];
	int rc;

	if ((rc = need_txn(st)))
		return rc;
	if (!st->next_id && (rc = prepare_append(st)))
		return rc;
	if (!id)
		id = st->next_id;
	if (chain_link(st->chain, st->head, id, ev->body, ev->body_len, hash))
		return err_set(st->errmsg, ERR_SYS, "SHA-256 failed");
	if (!sqlite3_get_autocommit(st->db)) {
		rc = stage(st, ev, id, hash);
	} else {
		/* Outside a transaction nothing would insert it later. */
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, ev->ts_us);
		sqlite3_bind_text(s, 3, ev->type, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, ev->body, (int)ev->body_len, SQLITE_STATIC);
		sqlite3_bind_blob(s, 5, hash, CHAIN_HASH_SIZE, SQLITE_STATIC);
		rc = step_done(st, s);
	}
	if (rc || (rc = counters_appended(st->counters, ev->type, ev->ts_us, id)))
		return rc;
	memcpy(st->head, hash, CHAIN_HASH_SIZE);
	st->head_id = id;
	st->next_id = id + 1;
	st->head_dirty = 1;
	*id_out = id;
	return 0;
}

int
store_append(store *st, const struct logevent *ev, int64_t *id_out)
{
	return insert(st, ev, 0, id_out);
}

int
store_append_at(store *st, const struct logevent *ev, int64_t id)
{
	int64_t got;

	if (id < 1)
		return err_set(st->errmsg, ERR_INVAL, "event id %lld is not positive",
			       (long long)id);
	return insert(st, ev, id, &got);
}

int
store_meta_set(store *st, const char *key, const char *value)
{
	sqlite3_stmt *s = st->meta_set;
	int rc;

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return fail_db(st, rc);
	if (!strcmp(key, "epoch"))
		snprintf(st->epoch, sizeof st->epoch, "%s", value);
	return 0;
}

int
store_meta_get(store *st, const char *key, char *out, size_t size, int *found)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return fail_db(st, rc);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
		*found = 1;
	} else if (rc == SQLITE_DONE) {
		*found = 0;
	} else {
		rc = fail_db(st, rc);
		sqlite3_finalize(s);
		return rc;
	}
	sqlite3_finalize(s);
	return 0;
}

int
store_check_file(store *st)
{
	int moved = 0;
	int rc = sqlite3_file_control(st->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved);

	if (rc != SQLITE_OK)
		return fail_db(st, rc);
	if (moved)
		return err_set(st->errmsg, ERR_IO, "the store file %s was deleted or replaced",
			       st->path);
	return 0;
}

/* Step a prepared one-integer query; NULL or no row reads as 0. */
static int
step_int(store *st, sqlite3_stmt *s, int64_t *out)
{
	int rc = sqlite3_step(s);
	int64_t v = 0;

	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE) {
		rc = fail_db(st, rc);
		sqlite3_reset(s);
		return rc;
	}
	sqlite3_reset(s);
	*out = v;
	return 0;
}

int
store_last_id(store *st, int64_t *id_out)
{
	return step_int(st, st->last_id, id_out);
}

int
store_first_id(store *st, int64_t *id_out)
{
	return step_int(st, st->first_id, id_out);
}

int
store_first_id_since(store *st, int64_t ts_us, int64_t *id_out)
{
	int rc = need_counters(st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st->first_id_since, 1, ts_us);
	return step_int(st, st->first_id_since, id_out);
}

int
store_read_after(store *st, int64_t after_id, int limit, store_row_fn fn, void *arg, int *count_out)
{
	sqlite3_stmt *s = st->read_after;
	int rc, count = 0;

	sqlite3_bind_int64(s, 1, after_id);
	sqlite3_bind_int(s, 2, limit);
	rc = store_db_each(s, fn, arg, &count);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		rc = fail_db(st, rc);
	else
		rc = 0;
	sqlite3_reset(s);
	*count_out = count;
	return rc;
}

int
store_checkpoint(store *st, int truncate)
{
	/* A truncating checkpoint would wait, in the busy handler, for every
	 * reader of an older snapshot to finish: an auditor's query of
	 * seconds on the reader pool would hold the writer, and with it every
	 * producer and subscriber, as long. Without the wait it copies what no
	 * reader needs, and says SQLITE_BUSY when a reader kept it from
	 * truncating; the next one will. */
	sqlite3_busy_timeout(st->db, 0);
	int rc = sqlite3_wal_checkpoint_v2(
		st->db, NULL, truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE,
		NULL, NULL);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	return rc == SQLITE_OK ? 0 : fail_db(st, rc);
}

/* The WAL hook of manual checkpoints: note the WAL's length, checkpoint nothing. */
static int
note_wal_frames(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	((store *)arg)->wal_frames = frames;
	return SQLITE_OK;
}

void
store_manual_checkpoints(store *st)
{
	/* This replaces the hook that checkpoints automatically. */
	sqlite3_wal_hook(st->db, note_wal_frames, st);
}

int64_t
store_wal_frames(const store *st)
{
	return st->wal_frames;
}

void
store_abandon(store *st)
{
	if (!st)
		return;
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	st->flags &= ~STORE_WRITE; /* store_close: no checkpoint */
	store_close(st);
}

/* An id range of a listing: id > lo AND id < hi. */
struct id_range {
	int64_t lo, hi;
};

/* Parameters of the listing statement (list_sql); the types follow. */
enum { P_LO = 1, P_HI, P_SINCE, P_UNTIL, P_LIMIT, P_TYPE };

/*
 * The listing statement for f. It reads one id range in the order asked,
 * by the rowid or, with types, by journal_type (type, id); each type is
 * its own search, and several are merged in id order, each read no
 * further than the page. Times are filtered on the way ("+" keeps SQLite
 * off the time indexes, which would read and sort the whole range): the
 * range itself comes from the marks (list_ranges).
 */
static int
list_sql(const struct store_filter *f, char *sql, size_t size)
{
	const char *dir = f->descending ? "DESC" : "ASC";
	size_t arms = f->type_count ? f->type_count : 1, n = 0;

	for (size_t i = 0; i < arms && n < size; i++) {
		n += (size_t)snprintf(sql + n, size - n,
				      "%s%sSELECT id, ts_us, type, body FROM journal WHERE ",
				      i ? " UNION ALL " : "", arms > 1 ? "SELECT * FROM (" : "");
		if (n < size && f->type_count)
			n += (size_t)snprintf(sql + n, size - n, "type = ?%zu AND ", P_TYPE + i);
		if (n < size)
			n += (size_t)snprintf(sql + n, size - n, "id > ?%d AND id < ?%d", P_LO,
					      P_HI);
		if (n < size && f->has_since)
			n += (size_t)snprintf(sql + n, size - n, " AND +ts_us >= ?%d", P_SINCE);
		if (n < size && f->has_until)
			n += (size_t)snprintf(sql + n, size - n, " AND +ts_us < ?%d", P_UNTIL);
		if (n < size)
			n += (size_t)snprintf(sql + n, size - n, " ORDER BY id %s LIMIT ?%d%s", dir,
					      P_LIMIT, arms > 1 ? ")" : "");
	}
	if (n < size && arms > 1)
		n += (size_t)snprintf(sql + n, size - n, " ORDER BY id %s LIMIT ?%d", dir, P_LIMIT);
	return n < size ? 0 : ERR_TOOBIG;
}

/*
 * The id ranges that can hold events of f, in ascending order: at most
 * two, found in the marks with a search each. since starts the range at
 * the first id at or after it. until ends it at the last mark at or before
 * which an older event may lie, and opens a second range for the open run,
 * which the marks do not cover yet. Returns the number of ranges (0: no
 * event can match), or a negative ERR_*.
 */
static int
list_ranges(store *st, const struct store_filter *f, struct id_range out[2])
{
	int64_t lo = f->after_id, hi = f->before_id ? f->before_id : INT64_MAX;
	int rc, n = 0;

	if (f->has_since) {
		int64_t first;
		if ((rc = store_first_id_since(st, f->since_us, &first)))
			return rc;
		if (!first)
			return 0;
		if (first - 1 > lo)
			lo = first - 1;
	}
	if (!f->has_until) {
		out[n++] = (struct id_range){lo, hi};
	} else {
		sqlite3_stmt *s = st->until_marks;
		int64_t below, last;
		if ((rc = need_counters(st)))
			return rc;
		sqlite3_bind_int64(s, 1, f->until_us);
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW) {
			rc = fail_db(st, rc);
			sqlite3_reset(s);
			return rc;
		}
		below = sqlite3_column_int64(s, 0); /* 0 for NULL: no such mark */
		last = sqlite3_column_int64(s, 1);
		sqlite3_reset(s);
		if (below == last) {
			out[n++] = (struct id_range){lo, hi};
		} else {
			if (below)
				out[n++] = (struct id_range){lo, below + 1 < hi ? below + 1 : hi};
			out[n++] = (struct id_range){last > lo ? last : lo, hi};
		}
	}
	/* Drop the ranges that hold no id. */
	int kept = 0;
	for (int i = 0; i < n; i++)
		if (out[i].hi - out[i].lo > 1)
			out[kept++] = out[i];
	return kept;
}

/* Bind everything of f but the range and the limit. */
static void
list_bind(sqlite3_stmt *s, const struct store_filter *f)
{
	if (f->has_since)
		sqlite3_bind_int64(s, P_SINCE, f->since_us);
	if (f->has_until)
		sqlite3_bind_int64(s, P_UNTIL, f->until_us);
	for (size_t i = 0; i < f->type_count; i++)
		sqlite3_bind_text(s, P_TYPE + (int)i, f->types[i], -1, SQLITE_STATIC);
}

/* Read one range of the listing into fn; *stop is set when fn stopped it. */
static int
list_range(store *st, sqlite3_stmt *s, const struct id_range *r, int limit, store_row_fn fn,
	   void *arg, int *count, int *stop)
{
	int rc;

	sqlite3_bind_int64(s, P_LO, r->lo);
	sqlite3_bind_int64(s, P_HI, r->hi);
	sqlite3_bind_int(s, P_LIMIT, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_row row = store_db_row(s);
		(*count)++;
		if (fn(&row, arg)) {
			*stop = 1;
			break;
		}
	}
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : fail_db(st, rc);
	sqlite3_reset(s);
	return rc;
}

int
store_list(store *st, const struct store_filter *f, store_row_fn fn, void *arg, int *count_out)
{
	struct id_range ranges[2];
	char sql[LIST_SQL_SIZE];
	sqlite3_stmt *s = NULL;
	int rc, n, count = 0, stop = 0, began = 0;

	if (f->limit <= 0 || f->type_count > STORE_LIST_MAX_TYPES) {
		*count_out = 0;
		return f->limit <= 0 ? 0 : err_set(st->errmsg, ERR_INVAL, "too many types");
	}
	/* One snapshot for the marks and the rows. */
	if (sqlite3_get_autocommit(st->db)) {
		if ((rc = exec(st, "BEGIN")))
			return rc;
		began = 1;
	}
	if ((n = rc = list_ranges(st, f, ranges)) <= 0)
		goto out;
	if ((rc = list_sql(f, sql, sizeof sql))) {
		err_set(st->errmsg, rc, "the listing does not fit its buffer");
		goto out;
	}
	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = fail_db(st, rc);
		goto out;
	}
	list_bind(s, f);
	for (int i = 0; i < n && !stop && count < f->limit; i++) {
		const struct id_range *r = &ranges[f->descending ? n - 1 - i : i];
		if ((rc = list_range(st, s, r, f->limit - count, fn, arg, &count, &stop)))
			goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	if (began)
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL); /* a read: nothing to lose */
	*count_out = count;
	return rc < 0 ? rc : 0;
}

/* Call fn with each line of sql's query plan. */
static int
explain(store *st, const char *sql, void (*fn)(const char *detail, void *arg), void *arg)
{
	char text[LIST_SQL_SIZE + 32];
	sqlite3_stmt *s;
	int rc;

	snprintf(text, sizeof text, "EXPLAIN QUERY PLAN %s", sql);
	rc = sqlite3_prepare_v2(st->db, text, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return fail_db(st, rc);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(s, 3), arg);
	rc = rc == SQLITE_DONE ? 0 : fail_db(st, rc);
	sqlite3_finalize(s);
	return rc;
}

int
store_scan(store *st, const struct store_scan *f, store_row_fn fn, void *arg, int *count_out)
{
	const char *sql =
		f->type         ? (f->descending
					   ? "SELECT id, ts_us, type, body FROM journal WHERE type = ?4 "
					     "AND ts_us >= ?1 AND ts_us < ?2 "
					     "ORDER BY ts_us DESC, id DESC LIMIT ?3"
					   : "SELECT id, ts_us, type, body FROM journal WHERE type = ?4 "
					     "AND ts_us >= ?1 AND ts_us < ?2 "
					     "ORDER BY ts_us, id LIMIT ?3")
		: f->descending ? "SELECT id, ts_us, type, body FROM journal INDEXED BY journal_ts "
				  "WHERE ts_us >= ?1 AND ts_us < ?2 "
				  "ORDER BY ts_us DESC, id DESC LIMIT ?3"
				: "SELECT id, ts_us, type, body FROM journal INDEXED BY journal_ts "
				  "WHERE ts_us >= ?1 AND ts_us < ?2 ORDER BY ts_us, id LIMIT ?3";
	sqlite3_stmt *s;
	int rc, count = 0;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return fail_db(st, rc);
	sqlite3_bind_int64(s, 1, f->since_us);
	sqlite3_bind_int64(s, 2, f->until_us);
	sqlite3_bind_int(s, 3, f->limit);
	if (f->type)
		sqlite3_bind_text(s, 4, f->type, -1, SQLITE_STATIC);
	rc = store_db_each(s, fn, arg, &count);
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : fail_db(st, rc);
	sqlite3_finalize(s);
	*count_out = count;
	return rc;
}

int
store_list_plan(store *st, const struct store_filter *f, void (*fn)(const char *detail, void *arg),
		void *arg)
{
	char sql[LIST_SQL_SIZE];
	int rc;

	if (f->type_count > STORE_LIST_MAX_TYPES)
		return err_set(st->errmsg, ERR_INVAL, "too many types");
	if ((rc = list_sql(f, sql, sizeof sql)))
		return err_set(st->errmsg, rc, "the listing does not fit its buffer");
	if ((f->has_since && (rc = explain(st, sql_first_id_since, fn, arg))) ||
	    (f->has_until && (rc = explain(st, sql_until_marks, fn, arg))))
		return rc;
	return explain(st, sql, fn, arg);
}

/* Copy the "timestamp" of event id into out (empty if none). */
static int
event_timestamp(store *st, int64_t id, char *out, size_t size)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(
		st->db, "SELECT json_extract(body, '$.timestamp') FROM journal WHERE id = ?", -1,
		&s, NULL);
	out[0] = '\0';
	if (rc != SQLITE_OK)
		return fail_db(st, rc);
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : fail_db(st, rc);
	sqlite3_finalize(s);
	return rc;
}

int
store_stats(store *st, struct store_stats *out)
{
	struct store_stats r = {0};
	struct store_sizes sz;
	int rc;

	if ((rc = store_count(st, &r.count)) || (rc = store_first_id(st, &r.first_id)) ||
	    (rc = store_last_id(st, &r.last_id)) || (rc = store_sizes(st, &sz)))
		return rc;
	if (r.first_id && (rc = event_timestamp(st, r.first_id, r.first_ts, sizeof r.first_ts)))
		return rc;
	int64_t newest;
	if ((rc = query_int(st, "SELECT max(id) FROM journal", &newest)))
		return rc;
	if (newest && (rc = event_timestamp(st, newest, r.last_ts, sizeof r.last_ts)))
		return rc;
	r.db_bytes = sz.db_bytes;
	r.free_bytes = sz.free_bytes;
	r.wal_bytes = sz.wal_bytes;
	*out = r;
	return 0;
}

int
store_type_counts(store *st, void (*fn)(const char *type, int64_t count, void *arg), void *arg)
{
	sqlite3_stmt *s;
	int rc = need_counters(st);

	if (rc)
		return rc;
	rc = sqlite3_prepare_v2(
		st->db, "SELECT type, events FROM type_counts WHERE events > 0 ORDER BY type", -1,
		&s, NULL);
	if (rc != SQLITE_OK)
		return fail_db(st, rc);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1), arg);
	rc = rc == SQLITE_DONE ? 0 : fail_db(st, rc);
	sqlite3_finalize(s);
	return rc;
}

int
store_sizes(store *st, struct store_sizes *out)
{
	int64_t pages, page_size, free_pages;
	char wal[4200];
	struct stat sb;
	int rc;

	if ((rc = query_int(st, "PRAGMA page_count", &pages)) ||
	    (rc = query_int(st, "PRAGMA page_size", &page_size)) ||
	    (rc = query_int(st, "PRAGMA freelist_count", &free_pages)))
		return rc;
	snprintf(wal, sizeof wal, "%s-wal", st->path);
	out->db_bytes = pages * page_size;
	out->free_bytes = free_pages * page_size;
	out->wal_bytes = stat(wal, &sb) == 0 ? (int64_t)sb.st_size : 0;
	return 0;
}

int
store_count(store *st, int64_t *count_out)
{
	int rc = need_counters(st);
	return rc ? rc : step_int(st, st->count, count_out);
}

int
store_recount(store *st)
{
	int rc = need_txn(st);
	return rc ? rc : counters_recount(st->counters);
}

int
store_oldest_ts(store *st, int64_t *ts_us_out)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, "SELECT ts_us FROM journal ORDER BY ts_us LIMIT 1", -1,
				    &s, NULL);
	if (rc != SQLITE_OK)
		return fail_db(st, rc);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ts_us_out = sqlite3_column_int64(s, 0);
		rc = 1;
	} else {
		rc = rc == SQLITE_DONE ? 0 : fail_db(st, rc);
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Delete the events whose ids and types sel selects (bound by the caller),
 * and count them off their types. The ids are read first and deleted
 * after, so no row is deleted under a cursor.
 */
static int
delete_selected(store *st, sqlite3_stmt *sel, int limit, int64_t *deleted_out, int64_t *max_id)
{
	struct store_link *links = malloc((size_t)(limit > 0 ? limit : 1) * sizeof *links);
	sqlite3_stmt *del = NULL;
	int n = 0, rc;

	if (!links)
		return ERR_NOMEM;
	if ((rc = need_txn(st)))
		goto out;
	while (n < limit && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		const void *hash = sqlite3_column_blob(sel, 1);
		links[n].id = sqlite3_column_int64(sel, 0);
		/* A missing hash stays missing: the walk then breaks after it. */
		if (hash && sqlite3_column_bytes(sel, 1) == CHAIN_HASH_SIZE)
			memcpy(links[n].hash, hash, CHAIN_HASH_SIZE);
		else
			memset(links[n].hash, 0, CHAIN_HASH_SIZE);
		n++;
		if ((rc = counters_deleted(st->counters,
					   (const char *)sqlite3_column_text(sel, 2))))
			goto out;
	}
	if (n < limit && rc != SQLITE_DONE) {
		rc = fail_db(st, rc);
		goto out;
	}
	sqlite3_reset(sel);
	rc = sqlite3_prepare_v2(st->db, "DELETE FROM journal WHERE id = ?", -1, &del, NULL);
	if (rc != SQLITE_OK) {
		rc = fail_db(st, rc);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		sqlite3_bind_int64(del, 1, links[i].id);
		rc = sqlite3_step(del);
		sqlite3_reset(del);
		if (rc != SQLITE_DONE) {
			rc = fail_db(st, rc);
			goto out;
		}
		if (links[i].id > *max_id)
			*max_id = links[i].id;
	}
	if (n && (rc = store_chain__forget(st->db, links, n, st->errmsg)))
		goto out;
	*deleted_out = n;
	rc = 0;
out:
	sqlite3_finalize(del);
	free(links);
	return rc;
}

/*
 * The selection of a deletion by age: events of type (or of any type but
 * the excluded ones) older than cutoff, by index range only. One type:
 * journal_type_ts (type, ts_us). Every type: journal_ts. Every type but
 * some: one journal_type_ts range per other type, taken from type_counts,
 * so that the events the excluded types keep are never read again. The
 * parameters are the cutoff, the type or the excluded types, the limit.
 */
static int
delete_older_sql(const char *type, size_t exclude_count, char *sql, size_t size)
{
	size_t n;
	int rc;

	if (type)
		n = (size_t)snprintf(
			sql, size,
			"SELECT id, hash, type FROM journal WHERE ts_us < ? AND type = ?");
	else if (!exclude_count)
		n = (size_t)snprintf(sql, size,
				     "SELECT id, hash, type FROM journal WHERE ts_us < ?");
	else
		n = (size_t)snprintf(
			sql, size,
			"SELECT j.id, j.hash, j.type FROM type_counts AS t CROSS JOIN journal AS j"
			" WHERE j.type = t.type AND j.ts_us < ?");
	if (n >= size)
		return ERR_TOOBIG;
	if (!type && exclude_count &&
	    (rc = store_db_in_list(sql, size, &n, "t.type NOT", exclude_count, 0)))
		return rc;
	n += (size_t)snprintf(sql + n, size - n, " LIMIT ?");
	return n < size ? 0 : ERR_TOOBIG;
}

int
store_delete_older(store *st, int64_t cutoff_us, const char *type, const char *const *exclude,
		   size_t exclude_count, int limit, int64_t *deleted_out, int64_t *max_id)
{
	char sql[2048];
	sqlite3_stmt *sel;
	int rc, bind = 1;

	if ((rc = delete_older_sql(type, exclude_count, sql, sizeof sql)))
		return err_set(st->errmsg, rc, "too many types");
	rc = sqlite3_prepare_v2(st->db, sql, -1, &sel, NULL);
	if (rc != SQLITE_OK)
		return fail_db(st, rc);
	sqlite3_bind_int64(sel, bind++, cutoff_us);
	if (type)
		sqlite3_bind_text(sel, bind++, type, -1, SQLITE_STATIC);
	for (size_t i = 0; !type && i < exclude_count; i++)
		sqlite3_bind_text(sel, bind++, exclude[i], -1, SQLITE_STATIC);
	sqlite3_bind_int(sel, bind, limit);
	rc = delete_selected(st, sel, limit, deleted_out, max_id);
	sqlite3_finalize(sel);
	return rc;
}

int
store_delete_older_plan(store *st, const char *type, size_t exclude_count,
			void (*fn)(const char *detail, void *arg), void *arg)
{
	char sql[2048];
	int rc = delete_older_sql(type, exclude_count, sql, sizeof sql);
	return rc ? err_set(st->errmsg, rc, "too many types") : explain(st, sql, fn, arg);
}

int
store_delete_oldest(store *st, int limit, int64_t *deleted_out, int64_t *max_id)
{
	sqlite3_stmt *sel;
	int rc = sqlite3_prepare_v2(
		st->db, "SELECT id, hash, type FROM journal ORDER BY id LIMIT ?", -1, &sel, NULL);
	if (rc != SQLITE_OK)
		return fail_db(st, rc);
	sqlite3_bind_int(sel, 1, limit);
	rc = delete_selected(st, sel, limit, deleted_out, max_id);
	sqlite3_finalize(sel);
	return rc;
}

int
store_incremental_vacuum(store *st, int max_pages)
{
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)", max_pages);
	return exec(st, sql);
}

int
store_vacuum(store *st)
{
	/* VACUUM copies the whole store into a temporary database: on disk. */
	int rc = exec(st, "PRAGMA temp_store = FILE");

	if (!rc)
		rc = exec(st, "VACUUM");
	int rc2 = exec(st, "PRAGMA temp_store = MEMORY");
	return rc ? rc : rc2;
}

void
store_progress(store *st, int (*fn)(void *arg), void *arg)
{
	sqlite3_progress_handler(st->db, fn ? 10000 : 0, fn, arg);
}

void
store_lost_at_open(const store *st, int64_t *from_out, int64_t *to_out)
{
	*from_out = st->lost_from;
	*to_out = st->lost_to;
}

/* ------------------------------------------------------------ module-private */

sqlite3 *
store__db(store *st)
{
	return st->db;
}

char *
store__errmsg(store *st)
{
	return st->errmsg;
}

int
store__flags(const store *st)
{
	return st->flags;
}

sqlite3_stmt *
store__stmt(store *st, enum store_stmt slot, const char *sql)
{
	if (!st->stmts[slot] && prepare(st, sql, &st->stmts[slot]))
		return NULL;
	return st->stmts[slot];
}
