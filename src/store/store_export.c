/*
 * Whole-range reads in one snapshot (see store_export.h).
 *
 * A filtered export is two queries in the same read transaction. The first
 * uses the indexes (journal_ts, or journal_type_ts with a type filter) to
 * find the lowest and highest id that match; the second walks the journal
 * by id between those two and applies the filter to each row. Walking by
 * id keeps the output in id order without a sort, so memory stays constant
 * however large the range; bounding the walk with the index keeps a narrow
 * time range in a large store from reading all of it. The second query
 * writes its filters as "+ts_us" and "+type" so that SQLite cannot pick an
 * index for them, which would make it sort the rows by id again.
 */
#include "store_export.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "store_db.h"

struct store_export {
	sqlite3 *db;
	char errmsg[ERRMSG_SIZE];
};

static int
fail_db(store_export *ex, int rc)
{
	return store_db_fail(ex->db, rc, ex->errmsg);
}

static int
exec(store_export *ex, const char *sql)
{
	return store_db_exec(ex->db, sql, ex->errmsg);
}

store_export *
store_export_open(const char *path, int *err, char *errmsg)
{
	store_export *ex = calloc(1, sizeof *ex);
	struct stat sb;
	int rc;

	if (!ex) {
		*err = err_set(errmsg, ERR_NOMEM, "out of memory");
		return NULL;
	}
	/* SQLite says only "unable to open database file"; say why. */
	if (stat(path, &sb) != 0) {
		snprintf(ex->errmsg, sizeof ex->errmsg, "%s", strerror(errno));
		rc = ERR_SYS;
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(ex->errmsg, sizeof ex->errmsg, "not a regular file");
		rc = ERR_INVAL;
		goto fail;
	}
	rc = sqlite3_open_v2(path, &ex->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = ex->db ? fail_db(ex, rc) : ERR_NOMEM;
		goto fail;
	}
	sqlite3_extended_result_codes(ex->db, 1);
	sqlite3_busy_timeout(ex->db, 5000);
	if ((rc = store_db_check_version(ex->db, ex->errmsg)) ||
	    (rc = exec(ex, "PRAGMA query_only = 1")))
		goto fail;
	return ex;
fail:
	*err = rc;
	snprintf(errmsg, ERRMSG_SIZE, "%.200s: %.300s", path,
		 ex->errmsg[0] ? ex->errmsg : err_str(rc));
	store_export_close(ex);
	return NULL;
}

void
store_export_close(store_export *ex)
{
	if (!ex)
		return;
	sqlite3_close(ex->db);
	free(ex);
}

const char *
store_export_errmsg(store_export *ex)
{
	return ex->errmsg;
}

/*
 * Build "<head> WHERE <id_cond><filters><tail>" with the range's filters as
 * numbered parameters: ?1 after_id, ?2 since, ?3 until, ?5... the types (?4
 * is left to id_cond's upper bound); plus is "+" to
 * keep the filter columns from using an index. Returns a malloc'd string
 * or NULL.
 */
static char *
build_sql(const char *head, const struct store_range *r, const char *id_cond, const char *plus,
	  const char *tail)
{
	size_t cap = strlen(head) + strlen(id_cond) + strlen(tail) + 128 + r->type_count * 16;
	char *sql = malloc(cap);
	size_t n;

	if (!sql)
		return NULL;
	n = (size_t)snprintf(sql, cap, "%s WHERE %s", head, id_cond);
	if (r->has_since)
		n += (size_t)snprintf(sql + n, cap - n, " AND %sts_us >= ?2", plus);
	if (r->has_until)
		n += (size_t)snprintf(sql + n, cap - n, " AND %sts_us < ?3", plus);
	if (r->type_count &&
	    store_db_in_list(sql, cap, &n, *plus ? "+type" : "type", r->type_count, 5)) {
		free(sql);
		return NULL;
	}
	snprintf(sql + n, cap - n, "%s", tail);
	return sql;
}

/* Prepare sql and bind the range's filters; *out untouched on failure. */
static int
prepare_range(store_export *ex, char *sql, const struct store_range *r, sqlite3_stmt **out)
{
	sqlite3_stmt *s;
	int rc;

	if (!sql) {
		snprintf(ex->errmsg, sizeof ex->errmsg, "out of memory");
		return ERR_NOMEM;
	}
	rc = sqlite3_prepare_v2(ex->db, sql, -1, &s, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return fail_db(ex, rc);
	rc = sqlite3_bind_int64(s, 1, r->after_id);
	if (rc == SQLITE_OK && r->has_since)
		rc = sqlite3_bind_int64(s, 2, r->since_us);
	if (rc == SQLITE_OK && r->has_until)
		rc = sqlite3_bind_int64(s, 3, r->until_us);
	for (size_t i = 0; rc == SQLITE_OK && i < r->type_count; i++)
		rc = sqlite3_bind_text(s, (int)i + 5, r->types[i], -1, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		rc = fail_db(ex, rc);
		sqlite3_finalize(s);
		return rc;
	}
	*out = s;
	return 0;
}

/*
 * The lowest and highest matching id, through the indexes. *hi_out is 0
 * when nothing matches. Only for a range with a time or type filter.
 */
static int
id_bounds(store_export *ex, const struct store_range *r, int64_t *lo_out, int64_t *hi_out)
{
	sqlite3_stmt *s;
	int rc;

	/* "+id": the id bound must not steer SQLite away from the index. */
	rc = prepare_range(ex,
			   build_sql("SELECT min(id), max(id) FROM journal", r, "+id > ?1", "", ""),
			   r, &s);
	if (rc)
		return rc;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = fail_db(ex, rc);
		sqlite3_finalize(s);
		return rc;
	}
	*lo_out = sqlite3_column_int64(s, 0);
	*hi_out = sqlite3_column_int64(s, 1); /* NULL reads as 0 */
	sqlite3_finalize(s);
	return 0;
}

int
store_export_each(store_export *ex, const struct store_range *range, store_row_fn fn, void *arg,
		  uint64_t *count_out)
{
	struct store_range r = *range;
	sqlite3_stmt *s = NULL;
	uint64_t count = 0;
	int64_t lo = 0, hi = INT64_MAX;
	int rc;

	if (r.after_id < 0)
		r.after_id = 0;
	/* A deferred BEGIN: the snapshot is taken by the first read below and
	 * kept until COMMIT, for both queries. */
	if ((rc = exec(ex, "BEGIN")))
		goto out;
	if (r.has_since || r.has_until || r.type_count) {
		if ((rc = id_bounds(ex, &r, &lo, &hi)))
			goto fail;
		if (hi == 0)
			goto done; /* nothing matches */
		r.after_id = lo - 1;
	}
	if ((rc = prepare_range(ex,
				build_sql("SELECT id, ts_us, type, body FROM journal", &r,
					  "id > ?1 AND id <= ?4", "+", " ORDER BY id"),
				&r, &s)))
		goto fail;
	if ((rc = sqlite3_bind_int64(s, 4, hi)) != SQLITE_OK) {
		rc = fail_db(ex, rc);
		goto fail;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_row row = store_db_row(s);
		if (!row.type || !row.body) {
			snprintf(ex->errmsg, sizeof ex->errmsg, "event %lld has no type or body",
				 (long long)row.id);
			rc = ERR_CORRUPT;
			goto fail;
		}
		count++;
		if ((rc = fn(&row, arg)))
			goto fail;
	}
	if (rc != SQLITE_DONE) {
		rc = fail_db(ex, rc);
		goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
done:
	rc = exec(ex, "COMMIT");
	goto out;
fail:
	sqlite3_finalize(s);
	sqlite3_exec(ex->db, "ROLLBACK", NULL, NULL, NULL);
out:
	*count_out = count;
	return rc;
}

/* Pass the deleted links before id (0: all that are left) to fn. */
static int
pass_links(store_export *ex, sqlite3_stmt *links, int64_t before, int *more, store_link_fn fn,
	   void *arg)
{
	int rc;

	while (*more) {
		int64_t id = sqlite3_column_int64(links, 0);
		const void *hash = sqlite3_column_blob(links, 1);
		if (before && id >= before)
			return 0;
		if (!hash || sqlite3_column_bytes(links, 1) != CHAIN_HASH_SIZE) {
			snprintf(ex->errmsg, sizeof ex->errmsg, "deleted link %lld has no hash",
				 (long long)id);
			return ERR_CORRUPT;
		}
		if ((rc = fn(STORE_LINK_DELETED, id, hash, NULL, arg)))
			return rc;
		rc = sqlite3_step(links);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return fail_db(ex, rc);
		*more = rc == SQLITE_ROW;
	}
	return 0;
}

/* Prepare "sql" with one id bound and step to its first row. */
static int
start_walk(store_export *ex, const char *sql, int64_t from, sqlite3_stmt **out, int *more)
{
	int rc = sqlite3_prepare_v2(ex->db, sql, -1, out, NULL);

	if (rc != SQLITE_OK)
		return fail_db(ex, rc);
	sqlite3_bind_int64(*out, 1, from);
	rc = sqlite3_step(*out);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail_db(ex, rc);
	*more = rc == SQLITE_ROW;
	return 0;
}

int
store_export_chain(store_export *ex, int64_t after_id, store_link_fn fn, void *arg,
		   uint64_t *count_out)
{
	sqlite3_stmt *rows = NULL, *links = NULL;
	unsigned char anchor[CHAIN_HASH_SIZE];
	int64_t anchor_id;
	uint64_t count = 0;
	int more_rows, more_links, rc;

	if (after_id < 0)
		after_id = 0;
	if ((rc = exec(ex, "BEGIN")))
		goto out;
	if (sqlite3_prepare_v2(ex->db,
			       "SELECT journal.hash, chain_deleted.hash FROM journal, "
			       "chain_deleted LIMIT 0",
			       -1, &rows, NULL) != SQLITE_OK) {
		rc = err_set(ex->errmsg, ERR_SCHEMA,
			     "the store has no hash chain yet: open it once for writing "
			     "(sentinel-logd migrate, or the server) to link its events");
		goto fail;
	}
	sqlite3_finalize(rows);
	rows = NULL;
	if ((rc = store_chain__link_at(ex->db, after_id, &anchor_id, anchor, ex->errmsg)) ||
	    (rc = fn(STORE_LINK_ANCHOR, anchor_id, anchor, NULL, arg)))
		goto fail;
	if ((rc = start_walk(ex,
			     "SELECT id, ts_us, type, body, hash FROM journal WHERE id > ? "
			     "ORDER BY id",
			     anchor_id, &rows, &more_rows)) ||
	    (rc = start_walk(ex, "SELECT id, hash FROM chain_deleted WHERE id > ? ORDER BY id",
			     anchor_id, &links, &more_links)))
		goto fail;
	while (more_rows) {
		struct store_row row = store_db_row(rows);
		const void *hash = sqlite3_column_blob(rows, 4);
		if ((rc = pass_links(ex, links, row.id, &more_links, fn, arg)))
			goto fail;
		if (!row.type || !row.body || !hash ||
		    sqlite3_column_bytes(rows, 4) != CHAIN_HASH_SIZE) {
			snprintf(ex->errmsg, sizeof ex->errmsg,
				 "event %lld has no type, body or hash", (long long)row.id);
			rc = ERR_CORRUPT;
			goto fail;
		}
		count++;
		if ((rc = fn(STORE_LINK_EVENT, row.id, hash, &row, arg)))
			goto fail;
		rc = sqlite3_step(rows);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			rc = fail_db(ex, rc);
			goto fail;
		}
		more_rows = rc == SQLITE_ROW;
	}
	if ((rc = pass_links(ex, links, 0, &more_links, fn, arg)))
		goto fail;
	sqlite3_finalize(rows);
	sqlite3_finalize(links);
	rc = exec(ex, "COMMIT");
	goto out;
fail:
	sqlite3_finalize(rows);
	sqlite3_finalize(links);
	sqlite3_exec(ex->db, "ROLLBACK", NULL, NULL, NULL);
out:
	*count_out = count;
	return rc;
}
