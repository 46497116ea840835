/*
 * The store's counters (counters.h). Per transaction, the change of each
 * type's count is gathered in a small table in memory and written as one
 * upsert per type at the commit, so that appending an event costs a few
 * comparisons here; a mark costs two statements per COUNTERS_RUN events.
 *
 * The open run (the events after the last mark) is kept twice: as of the
 * last commit, and as the running transaction leaves it, so that a
 * rollback returns to the first without reading anything.
 */
#include "counters.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "logevent.h"
#include "store_db.h"

/* Distinct types gathered before they are written early. */
#define TYPES_MAX 64

/* The events after the last mark. */
struct run {
	int64_t last_mark; /* id of the last mark, 0 when none */
	int64_t hi;        /* highest ts_us of any event appended so far */
	int64_t lo;        /* lowest ts_us in the open run */
	int64_t events;    /* events in the open run */
};

struct counters {
	sqlite3 *db;
	char *errmsg;
	struct run committed, pending;
	int deleted; /* this transaction deleted events */
	size_t ntypes, last;
	struct {
		char type[LOGEVENT_TYPE_MAX + 1];
		int64_t delta;
	} types[TYPES_MAX];
	sqlite3_stmt *add_type, *drop_type, *lower_lo, *add_mark, *trim;
};

static int
prepare(counters *c, const char *sql, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	return rc == SQLITE_OK ? 0 : store_db_fail(c->db, rc, c->errmsg);
}

/* Step a statement that returns no rows, then reset it. */
static int
run_stmt(counters *c, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_db_fail(c->db, rc, c->errmsg);
}

/* Read the last mark and the open run after it. */
static int
load(counters *c)
{
	struct run r = {.hi = INT64_MIN, .lo = INT64_MAX};
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(c->db,
				"SELECT id, ts_hi FROM journal_marks ORDER BY id DESC LIMIT 1", -1,
				&s, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		r.last_mark = sqlite3_column_int64(s, 0);
		r.hi = sqlite3_column_int64(s, 1);
	} else if (rc != SQLITE_DONE) {
		goto fail;
	}
	sqlite3_finalize(s);
	rc = sqlite3_prepare_v2(c->db,
				"SELECT count(*), min(ts_us), max(ts_us) FROM journal WHERE id > ?",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(s, 1, r.last_mark);
	if ((rc = sqlite3_step(s)) != SQLITE_ROW)
		goto fail;
	r.events = sqlite3_column_int64(s, 0);
	if (r.events) {
		r.lo = sqlite3_column_int64(s, 1);
		if (sqlite3_column_int64(s, 2) > r.hi)
			r.hi = sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	c->committed = c->pending = r;
	return 0;
fail:
	rc = store_db_fail(c->db, rc, c->errmsg);
	sqlite3_finalize(s);
	return rc;
}

counters *
counters_new(sqlite3 *db, char *errmsg, int *err)
{
	counters *c = calloc(1, sizeof *c);
	int rc;

	if (!c) {
		*err = err_set(errmsg, ERR_NOMEM, "out of memory");
		return NULL;
	}
	c->db = db;
	c->errmsg = errmsg;
	if ((rc = prepare(c,
			  "INSERT INTO type_counts (type, events) VALUES (?1, ?2) "
			  "ON CONFLICT (type) DO UPDATE SET events = events + excluded.events",
			  &c->add_type)) ||
	    (rc = prepare(c, "DELETE FROM type_counts WHERE type = ?1 AND events <= 0",
			  &c->drop_type)) ||
	    (rc = prepare(c, "UPDATE journal_marks SET ts_lo = ?1 WHERE ts_lo > ?1",
			  &c->lower_lo)) ||
	    (rc = prepare(c, "INSERT INTO journal_marks (id, ts_hi, ts_lo) VALUES (?1, ?2, ?3)",
			  &c->add_mark)) ||
	    (rc = prepare(
		     c,
		     "DELETE FROM journal_marks WHERE id < coalesce((SELECT min(id) FROM journal), "
		     "(SELECT seq FROM sqlite_sequence WHERE name = 'journal') + 1)",
		     &c->trim)) ||
	    (rc = load(c))) {
		counters_free(c);
		*err = rc;
		return NULL;
	}
	return c;
}

void
counters_free(counters *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->add_type);
	sqlite3_finalize(c->drop_type);
	sqlite3_finalize(c->lower_lo);
	sqlite3_finalize(c->add_mark);
	sqlite3_finalize(c->trim);
	free(c);
}

/* Write the gathered type counts and empty the table. */
static int
write_types(counters *c)
{
	int rc;

	for (size_t i = 0; i < c->ntypes; i++) {
		if (!c->types[i].delta)
			continue;
		sqlite3_bind_text(c->add_type, 1, c->types[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(c->add_type, 2, c->types[i].delta);
		if ((rc = run_stmt(c, c->add_type)))
			return rc;
		if (c->types[i].delta < 0) {
			/* A type with no event left has no row. */
			sqlite3_bind_text(c->drop_type, 1, c->types[i].type, -1, SQLITE_STATIC);
			if ((rc = run_stmt(c, c->drop_type)))
				return rc;
		}
	}
	c->ntypes = 0;
	c->last = 0;
	return 0;
}

/* Add delta to type's gathered count. */
static int
count_type(counters *c, const char *type, int64_t delta)
{
	size_t i;
	int rc;

	/* Consecutive events are often of one type: try the last one first. */
	if (c->last < c->ntypes && !strcmp(c->types[c->last].type, type)) {
		c->types[c->last].delta += delta;
		return 0;
	}
	for (i = 0; i < c->ntypes; i++)
		if (!strcmp(c->types[i].type, type))
			break;
	if (i == TYPES_MAX) {
		if ((rc = write_types(c)))
			return rc;
		i = 0;
	}
	if (i == c->ntypes) {
		size_t len = strlen(type);
		if (len > LOGEVENT_TYPE_MAX)
			return err_set(c->errmsg, ERR_INVAL, "type of %zu bytes", len);
		memcpy(c->types[i].type, type, len + 1);
		c->types[i].delta = 0;
		c->ntypes++;
	}
	c->types[i].delta += delta;
	c->last = i;
	return 0;
}

/* Close the open run at id: lower the later bounds, then add its mark. */
static int
write_mark(counters *c, int64_t id)
{
	struct run *r = &c->pending;
	int rc;

	sqlite3_bind_int64(c->lower_lo, 1, r->lo);
	if ((rc = run_stmt(c, c->lower_lo)))
		return rc;
	sqlite3_bind_int64(c->add_mark, 1, id);
	sqlite3_bind_int64(c->add_mark, 2, r->hi);
	sqlite3_bind_int64(c->add_mark, 3, r->lo);
	if ((rc = run_stmt(c, c->add_mark)))
		return rc;
	r->last_mark = id;
	r->lo = INT64_MAX;
	r->events = 0;
	return 0;
}

int
counters_appended(counters *c, const char *type, int64_t ts_us, int64_t id)
{
	struct run *r = &c->pending;
	int rc = count_type(c, type, 1);

	if (rc)
		return rc;
	if (ts_us > r->hi)
		r->hi = ts_us;
	if (ts_us < r->lo)
		r->lo = ts_us;
	if (++r->events >= COUNTERS_RUN)
		return write_mark(c, id);
	return 0;
}

int
counters_deleted(counters *c, const char *type)
{
	c->deleted = 1;
	return count_type(c, type, -1);
}

int
counters_flush(counters *c)
{
	int rc = write_types(c);

	if (rc)
		return rc;
	/* The marks of runs whose every event is gone bound nothing. */
	if (c->deleted && (rc = run_stmt(c, c->trim)))
		return rc;
	c->deleted = 0;
	return 0;
}

void
counters_committed(counters *c)
{
	c->committed = c->pending;
}

void
counters_forget(counters *c)
{
	c->pending = c->committed;
	c->ntypes = 0;
	c->last = 0;
	c->deleted = 0;
}

int
counters_recount(counters *c)
{
	int rc = store_db_exec(c->db,
			       "DELETE FROM type_counts;"
			       "INSERT INTO type_counts (type, events) "
			       "SELECT type, count(*) FROM journal GROUP BY type",
			       c->errmsg);
	if (rc)
		return rc;
	c->ntypes = 0;
	c->last = 0;
	return 0;
}
