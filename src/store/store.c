/*
 * The SQLite store.
 *
 * Invariants: ids come from AUTOINCREMENT, so they only grow and are never
 * reused; the schema is built only by the embedded migrations (never a
 * second copy of the DDL here); reads are short transactions, keyed by id,
 * so that a long replay never holds a snapshot that starves checkpoints.
 */
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "counters.h"
#include "embedded.h"
#include "err.h"
#include "log.h"
#include "store_db.h"

/* Room for the listing statement of STORE_LIST_MAX_TYPES types. */
#define LIST_SQL_SIZE 8192

/* migrations/NNNN_*.sql in order (migrations_data.c, generated). */
extern const struct embedded_file embedded_migrations[];
extern const size_t embedded_migrations_count;

struct store {
	sqlite3 *db;
	char *path;
	int flags;
	sqlite3_stmt *append;
	sqlite3_stmt *read_after;
	sqlite3_stmt *last_id;
	sqlite3_stmt *first_id;
	sqlite3_stmt *first_id_since;
	sqlite3_stmt *until_marks;
	sqlite3_stmt *count;
	sqlite3_stmt *meta_set;
	counters *counters; /* writable handles: type counts and marks */
	int in_txn;         /* store_begin() ran, its commit or rollback not yet */
	char epoch[STORE_EPOCH_SIZE];
	char errmsg[ERRMSG_SIZE];
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

/* Create every missing folder above path, like mkdir -p on its dirname. */
static int
make_parent_dirs(const char *path, char *errmsg)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof buf)
		return err_set(errmsg, ERR_INVAL, "path too long: %s", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return err_set(errmsg, ERR_SYS, "cannot create folder %s: %s", buf,
				       strerror(errno));
		*p = '/';
	}
	return 0;
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

/* Pragmas, migrations and statements: everything after sqlite3_open. */
static int
setup(store *st)
{
	int rc;
	int64_t pages;

	sqlite3_busy_timeout(st->db, 5000);
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
		/* id NULL: the next id; a given id is a replicated journal's. */
		if ((rc = prepare(st,
				  "INSERT INTO journal (id, ts_us, type, body) VALUES (?, ?, ?, ?)",
				  &st->append)) ||
		    (rc = prepare(st, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
				  &st->meta_set)))
			return rc;
		if (!(st->counters = counters_new(st->db, st->errmsg, &rc)))
			return rc;
	} else {
		int64_t version;
		if ((rc = store_db_check_version(st->db, st->errmsg)) ||
		    (rc = query_int(st, "PRAGMA user_version", &version)))
			return rc;
		/* The reads below use what the newest migration made. */
		if (version < store_latest_version())
			return err_set(st->errmsg, ERR_SCHEMA,
				       "the store has schema version %lld: open it for writing "
				       "first (sentinel-logd migrate) to bring it to %d",
				       (long long)version, store_latest_version());
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
	    (rc = prepare(st, sql_first_id_since, &st->first_id_since)) ||
	    (rc = prepare(st, sql_until_marks, &st->until_marks)) ||
	    (rc = prepare(st, "SELECT coalesce(sum(events), 0) FROM type_counts", &st->count)))
		return rc;

	sqlite3_stmt *s;
	if ((rc = prepare(st, "SELECT value FROM meta WHERE key = 'epoch'", &s)))
		return rc;
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(st->epoch, sizeof st->epoch, "%s",
			 (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return 0;
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
		if ((rc = make_parent_dirs(path, errmsg))) {
			free(st->path);
			free(st);
			*err = rc;
			return NULL;
		}
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
	if ((rc = setup(st)))
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
	counters_free(st->counters);
	if (st->db && (st->flags & STORE_WRITE))
		sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(st->db);
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

int
store_schema_version(store *st)
{
	int64_t v = 0;
	return query_int(st, "PRAGMA user_version", &v) ? -1 : (int)v;
}

int
store_begin(store *st)
{
	int rc = exec(st, "BEGIN IMMEDIATE");
	if (!rc)
		st->in_txn = 1;
	return rc;
}

/* The counters go in with the rows they count, or neither does. */
int
store_commit(store *st)
{
	int rc;

	if (st->counters && (rc = counters_flush(st->counters)))
		return rc;
	if ((rc = exec(st, "COMMIT")))
		return rc;
	if (st->counters)
		counters_committed(st->counters);
	st->in_txn = 0;
	return 0;
}

int
store_rollback(store *st)
{
	/* Keep the message of the failure that led here: SQLite may have rolled
	 * back already, and "no transaction is active" would replace it. */
	int rc = sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	if (st->counters)
		counters_forget(st->counters);
	st->in_txn = 0;
	return rc == SQLITE_OK || sqlite3_get_autocommit(st->db) ? 0 : store_db_map_rc(rc);
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

/* Insert ev with id, or with the next id when id is 0. */
static int
insert(store *st, const struct logevent *ev, int64_t id, int64_t *id_out)
{
	sqlite3_stmt *s = st->append;
	int rc;

	if ((rc = need_txn(st)))
		return rc;
	if (id)
		sqlite3_bind_int64(s, 1, id);
	else
		sqlite3_bind_null(s, 1);
	sqlite3_bind_int64(s, 2, ev->ts_us);
	sqlite3_bind_text(s, 3, ev->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, ev->body, (int)ev->body_len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return fail_db(st, rc);
	id = sqlite3_last_insert_rowid(st->db);
	if ((rc = counters_appended(st->counters, ev->type, ev->ts_us, id)))
		return rc;
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
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_row row = store_db_row(s);
		count++;
		if (fn(&row, arg))
			break;
	}
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
	int rc = sqlite3_wal_checkpoint_v2(
		st->db, NULL, truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE,
		NULL, NULL);
	return rc == SQLITE_OK ? 0 : fail_db(st, rc);
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
	int rc = sqlite3_prepare_v2(
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
	return step_int(st, st->count, count_out);
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
	int64_t *ids = malloc((size_t)(limit > 0 ? limit : 1) * sizeof *ids);
	sqlite3_stmt *del = NULL;
	int n = 0, rc;

	if (!ids)
		return ERR_NOMEM;
	if ((rc = need_txn(st)))
		goto out;
	while (n < limit && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		ids[n++] = sqlite3_column_int64(sel, 0);
		if ((rc = counters_deleted(st->counters,
					   (const char *)sqlite3_column_text(sel, 1))))
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
		sqlite3_bind_int64(del, 1, ids[i]);
		rc = sqlite3_step(del);
		sqlite3_reset(del);
		if (rc != SQLITE_DONE) {
			rc = fail_db(st, rc);
			goto out;
		}
		if (ids[i] > *max_id)
			*max_id = ids[i];
	}
	*deleted_out = n;
	rc = 0;
out:
	sqlite3_finalize(del);
	free(ids);
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
		n = (size_t)snprintf(sql, size,
				     "SELECT id, type FROM journal WHERE ts_us < ? AND type = ?");
	else if (!exclude_count)
		n = (size_t)snprintf(sql, size, "SELECT id, type FROM journal WHERE ts_us < ?");
	else
		n = (size_t)snprintf(
			sql, size,
			"SELECT j.id, j.type FROM type_counts AS t CROSS JOIN journal AS j"
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
	int rc = sqlite3_prepare_v2(st->db, "SELECT id, type FROM journal ORDER BY id LIMIT ?", -1,
				    &sel, NULL);
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
	return exec(st, "VACUUM");
}

void
store_progress(store *st, int (*fn)(void *arg), void *arg)
{
	sqlite3_progress_handler(st->db, fn ? 10000 : 0, fn, arg);
}
