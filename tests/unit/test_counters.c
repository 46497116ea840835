/*
 * Unit tests of the store's counters (counters.c, through store.h), on
 * real files in a temporary folder: the events per type follow appends,
 * deletions and rollbacks, survive a reopen, are computed by the migration
 * for an existing store and counted again by store_recount(); the marks
 * keep what schema/schema.sql promises, and give the same first id at or
 * after a time, and the same listings, as plain SQL over the whole
 * journal, also with timestamps far out of order, after retention and
 * after a reopen; every listing and deletion reads the journal by index
 * search, never by a full scan (EXPLAIN QUERY PLAN). The folder is removed
 * at the end; it is kept, and its name printed, when a test fails.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "counters.h"
#include "embedded.h"
#include "err.h"
#include "logevent.h"
#include "store.h"
#include "store_open_ok.h"
#include "timestamp.h"

#define US INT64_C(1000000)
/* 2026-03-09T14:00:00Z */
#define T0 (INT64_C(1773064800) * US)

extern const struct embedded_file embedded_migrations[];
extern const size_t embedded_migrations_count;

static char root[64];

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static const char *
path_in(char *buf, size_t size, const char *rel)
{
	int n = snprintf(buf, size, "%s/%s", root, rel);
	ASSERT(n > 0 && (size_t)n < size);
	return buf;
}

/* Append one event of type at ts_us, inside the caller's transaction. */
static int64_t
add(store *st, const char *type, int64_t ts_us)
{
	char ts[TIMESTAMP_FORMAT_SIZE], json[256], errmsg[ERRMSG_SIZE];
	struct logevent ev;
	int64_t id = -1;

	timestamp_format(ts_us, ts);
	snprintf(json, sizeof json, "{\"type\":\"%s\",\"message\":\"m\",\"timestamp\":\"%s\"}",
		 type, ts);
	if (logevent_parse(json, strlen(json), T0, &ev, errmsg))
		ASSERT_FAIL_("%s: %s", json, errmsg);
	ASSERT_EQ(ev.ts_us, ts_us);
	ASSERT_OK(store_append(st, &ev, &id));
	logevent_free(&ev);
	return id;
}

/* A plain SQLite connection, as an auditor's sqlite3 shell would have. */
static sqlite3 *
sq_open(const char *path, int flags)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK)
		fprintf(stderr, "sqlite3_open_v2(%s): %s\n", path, sqlite3_errmsg(db));
	ASSERT_EQ(rc, SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void
sq_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "%s: %s\n", sql, msg ? msg : "");
	sqlite3_free(msg);
	ASSERT_EQ(rc, SQLITE_OK);
}

/* The first column of the first row of sql (NULL or no row reads as 0). */
static int64_t
sq_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v = 0;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		ASSERT_FAIL_("%s: %s", sql, sqlite3_errmsg(db));
	rc = sqlite3_step(s);
	ASSERT(rc == SQLITE_ROW || rc == SQLITE_DONE);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* The counts store_type_counts() reports, as "a=3 b=2". */
struct counts {
	char text[512];
	size_t len;
};

static void
add_count(const char *type, int64_t n, void *arg)
{
	struct counts *c = arg;
	c->len += (size_t)snprintf(c->text + c->len, sizeof c->text - c->len, "%s%s=%lld",
				   c->len ? " " : "", type, (long long)n);
	ASSERT_LT(c->len, sizeof c->text);
}

static void
counts_are(store *st, const char *want, int64_t total)
{
	struct counts c = {.len = 0};
	int64_t n = -1;

	c.text[0] = '\0';
	ASSERT_OK(store_type_counts(st, add_count, &c));
	ASSERT_STR_EQ(c.text, want);
	ASSERT_OK(store_count(st, &n));
	ASSERT_EQ(n, total);
}

TEST(counts_follow_appends_deletions_and_rollbacks)
{
	char path[512];
	int64_t deleted = 0, max_id = 0, id;
	char errmsg[ERRMSG_SIZE];
	struct logevent ev;

	path_in(path, sizeof path, "counts/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE);
	counts_are(st, "", 0);

	ASSERT_OK(store_begin(st));
	add(st, "a", T0);
	add(st, "b", T0 + 1);
	add(st, "a", T0 + 2);
	add(st, "b", T0 + 3);
	add(st, "a", T0 + 4);
	/* Not counted before the commit. */
	counts_are(st, "", 0);
	ASSERT_OK(store_commit(st));
	counts_are(st, "a=3 b=2", 5);

	/* A rolled back transaction counts nothing. */
	ASSERT_OK(store_begin(st));
	add(st, "c", T0 + 5);
	add(st, "a", T0 + 6);
	ASSERT_OK(store_rollback(st));
	counts_are(st, "a=3 b=2", 5);

	/* Nor does an append outside a transaction, which is refused. */
	const char *json = "{\"type\":\"c\",\"message\":\"m\"}";
	ASSERT_OK(logevent_parse(json, strlen(json), T0, &ev, errmsg));
	ASSERT_EQ(store_append(st, &ev, &id), ERR_INVAL);
	logevent_free(&ev);
	counts_are(st, "a=3 b=2", 5);

	/* Deletions, by count and by age; a type with no event left goes. */
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_oldest(st, 2, &deleted, &max_id));
	ASSERT_OK(store_commit(st));
	ASSERT_EQ(deleted, 2);
	counts_are(st, "a=2 b=1", 3);
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_older(st, T0 + 10, "b", NULL, 0, 100, &deleted, &max_id));
	ASSERT_OK(store_commit(st));
	ASSERT_EQ(deleted, 1);
	counts_are(st, "a=2", 2);

	/* A rolled back deletion counts nothing either. */
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_oldest(st, 1, &deleted, &max_id));
	ASSERT_OK(store_rollback(st));
	counts_are(st, "a=2", 2);
	store_close(st);

	/* They are in the file. */
	st = store_open_ok(path, STORE_READONLY);
	counts_are(st, "a=2", 2);
	store_close(st);

	/* Rows changed by hand are not seen until they are counted again. */
	sqlite3 *db = sq_open(path, SQLITE_OPEN_READWRITE);
	sq_exec(db, "INSERT INTO journal (ts_us, type, body) "
		    "VALUES (1, 'z', '{\"type\":\"z\",\"message\":\"m\"}')");
	sqlite3_close(db);
	st = store_open_ok(path, STORE_WRITE);
	counts_are(st, "a=2", 2);
	ASSERT_EQ(store_recount(st), ERR_INVAL); /* outside a transaction */
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_recount(st));
	ASSERT_OK(store_commit(st));
	counts_are(st, "a=2 z=1", 3);
	store_close(st);
}

/* Check the marks against their definitions in schema/schema.sql. */
static void
marks_keep_their_promises(const char *path)
{
	sqlite3 *db = sq_open(path, SQLITE_OPEN_READONLY);
	sqlite3_stmt *s;
	int64_t prev = 0, last = sq_int(db, "SELECT max(id) FROM journal_marks"), first;
	char sql[256];

	first = sq_int(db, "SELECT min(id) FROM journal");
	ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT id, ts_hi, ts_lo FROM journal_marks ORDER BY id",
				     -1, &s, NULL),
		  SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0), hi = sqlite3_column_int64(s, 1),
			lo = sqlite3_column_int64(s, 2);
		/* No mark below the oldest event kept. */
		ASSERT_GE(id, first);
		/* Every event up to the mark is at or before ts_hi. */
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM journal WHERE id <= %lld AND ts_us > %lld",
			 (long long)id, (long long)hi);
		ASSERT_EQ(sq_int(db, sql), 0);
		/* Every event after the previous mark, up to the last, is at or
		 * after ts_lo. */
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM journal WHERE id > %lld AND id <= %lld AND ts_us < "
			 "%lld",
			 (long long)prev, (long long)last, (long long)lo);
		ASSERT_EQ(sq_int(db, sql), 0);
		prev = id;
	}
	sqlite3_finalize(s);
	/* Both only grow with id, which the lookups rely on. */
	ASSERT_EQ(sq_int(db, "SELECT count(*) FROM journal_marks AS a, journal_marks AS b "
			     "WHERE a.id < b.id AND (a.ts_hi > b.ts_hi OR a.ts_lo > b.ts_lo)"),
		  0);
	/* The open run is at most a run long. */
	snprintf(sql, sizeof sql, "SELECT count(*) FROM journal WHERE id > %lld", (long long)last);
	ASSERT_LE(sq_int(db, sql), COUNTERS_RUN);
	sqlite3_close(db);
}

/* A small deterministic generator (xorshift64*). */
static uint64_t
rnd(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(2685821657736338717);
}

static int64_t
rnd_in(uint64_t *state, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd(state) % (uint64_t)(hi - lo + 1));
}

/*
 * Append n events one second apart from *t with some disorder: most are
 * late or early by up to 2 s, one in 200 is days late, one in 500 days
 * early. Types a (60 %), b (30 %), c (10 %), and d every 4000th.
 */
static void
add_events(store *st, uint64_t *rs, int64_t *seq, int n)
{
	ASSERT_OK(store_begin(st));
	for (int i = 0; i < n; i++, (*seq)++) {
		int64_t ts = T0 + *seq * US + rnd_in(rs, -2 * US, 2 * US);
		int64_t r = rnd_in(rs, 0, 999);
		if (r < 5)
			ts -= rnd_in(rs, 1, 30) * 86400 * US;
		else if (r < 7)
			ts += rnd_in(rs, 1, 30) * 86400 * US;
		const char *type = *seq % 4000 == 17 ? "d"
				   : r % 10 < 6      ? "a"
				   : r % 10 < 9      ? "b"
						     : "c";
		add(st, type, ts);
		if (rnd_in(rs, 0, 3000) == 0) { /* split the transaction */
			ASSERT_OK(store_commit(st));
			ASSERT_OK(store_begin(st));
		}
	}
	ASSERT_OK(store_commit(st));
}

/* The first id at or after ts, by the store and by a plain scan. */
static void
first_since_agrees(store *st, sqlite3 *db, int64_t ts)
{
	char sql[128];
	int64_t got = -1;

	snprintf(sql, sizeof sql, "SELECT min(id) FROM journal WHERE ts_us >= %lld", (long long)ts);
	ASSERT_OK(store_first_id_since(st, ts, &got));
	if (got != sq_int(db, sql))
		fprintf(stderr, "first id since %lld\n", (long long)ts);
	ASSERT_EQ(got, sq_int(db, sql));
}

struct ids {
	int n;
	int64_t id[1000];
};

static int
collect_id(const struct store_row *row, void *arg)
{
	struct ids *r = arg;
	ASSERT_LT(r->n, 1000);
	r->id[r->n++] = row->id;
	return 0;
}

static const char types_pool[][LOGEVENT_TYPE_MAX + 1] = {"a", "b", "c", "d", "e"};

/* A random filter: an id range, a time range, types, a limit, an order. */
static struct store_filter
random_filter(uint64_t *rs, int64_t last, int64_t seconds)
{
	struct store_filter f = {.limit = (int)rnd_in(rs, 1, 40)};
	int64_t r = rnd_in(rs, 0, 15);

	if (r & 1)
		f.after_id = rnd_in(rs, 0, last);
	if (r & 2)
		f.before_id = rnd_in(rs, 1, last + 10);
	if (r & 4) {
		f.has_since = 1;
		f.since_us = T0 + rnd_in(rs, -5, seconds + 5) * US;
	}
	if (r & 8) {
		f.has_until = 1;
		f.until_us = f.has_since && rnd_in(rs, 0, 3)
				     ? f.since_us + rnd_in(rs, 0, 300) * US
				     : T0 + rnd_in(rs, -5, seconds + 5) * US;
	}
	switch (rnd_in(rs, 0, 4)) {
	case 0: /* one type, maybe a rare or missing one */
		f.types = &types_pool[rnd_in(rs, 0, 4)];
		f.type_count = 1;
		break;
	case 1: /* several */
		f.types = &types_pool[rnd_in(rs, 0, 2)];
		f.type_count = (size_t)rnd_in(rs, 2, 3);
		break;
	default:
		break;
	}
	f.descending = (int)rnd_in(rs, 0, 1);
	return f;
}

/* The listing of f, by the store and by plain SQL over the journal. */
static void
listing_agrees(store *st, sqlite3 *db, const struct store_filter *f)
{
	char sql[512];
	size_t n;
	struct ids got = {0}, want = {0};
	int count = -1;
	sqlite3_stmt *s;

	n = (size_t)snprintf(sql, sizeof sql, "SELECT id FROM journal WHERE id > %lld",
			     (long long)f->after_id);
	if (f->before_id)
		n += (size_t)snprintf(sql + n, sizeof sql - n, " AND id < %lld",
				      (long long)f->before_id);
	if (f->has_since)
		n += (size_t)snprintf(sql + n, sizeof sql - n, " AND ts_us >= %lld",
				      (long long)f->since_us);
	if (f->has_until)
		n += (size_t)snprintf(sql + n, sizeof sql - n, " AND ts_us < %lld",
				      (long long)f->until_us);
	for (size_t i = 0; i < f->type_count; i++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, "%s'%s'", i ? "," : " AND type IN (",
				      f->types[i]);
	snprintf(sql + n, sizeof sql - n, "%s ORDER BY id %s LIMIT %d", f->type_count ? ")" : "",
		 f->descending ? "DESC" : "ASC", f->limit);
	ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW)
		want.id[want.n++] = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);

	ASSERT_OK(store_list(st, f, collect_id, &got, &count));
	ASSERT_EQ(count, got.n);
	if (got.n != want.n || memcmp(got.id, want.id, (size_t)got.n * sizeof got.id[0]))
		fprintf(stderr, "listing differs from: %s\n", sql);
	ASSERT_EQ(got.n, want.n);
	for (int i = 0; i < got.n; i++)
		ASSERT_EQ(got.id[i], want.id[i]);
}

/* Compare lookups and listings with plain SQL, many times over. */
static void
lookups_agree(store *st, const char *path, uint64_t *rs, int64_t seconds)
{
	sqlite3 *db = sq_open(path, SQLITE_OPEN_READONLY);
	int64_t last = sq_int(db, "SELECT seq FROM sqlite_sequence WHERE name = 'journal'");

	marks_keep_their_promises(path);
	for (int i = 0; i < 150; i++)
		first_since_agrees(st, db, T0 + rnd_in(rs, -40 * 86400, seconds + 40 * 86400) * US);
	for (int i = 0; i < 150; i++)
		first_since_agrees(st, db, T0 + rnd_in(rs, -5, seconds + 5) * US);
	for (int i = 0; i < 500; i++) {
		struct store_filter f = random_filter(rs, last, seconds);
		listing_agrees(st, db, &f);
	}
	sqlite3_close(db);
}

TEST(marks_agree_with_plain_sql)
{
	char path[512];
	uint64_t rs = 0x5eed;
	int64_t seq = 0, deleted = 0, max_id = 0;

	path_in(path, sizeof path, "marks/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE);
	store *reader = store_open_ok(path, STORE_READONLY);
	lookups_agree(reader, path, &rs, 10); /* empty */

	/* Less than a run, then many runs in transactions of every size. */
	add_events(st, &rs, &seq, 700);
	lookups_agree(reader, path, &rs, seq);
	for (int i = 0; i < 12; i++)
		add_events(st, &rs, &seq, (int)rnd_in(&rs, 1, 2500));
	lookups_agree(reader, path, &rs, seq);

	/* Retention: by count, by age of one type, by age of the others. */
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_oldest(st, 3000, &deleted, &max_id));
	ASSERT_OK(
		store_delete_older(st, T0 + seq / 2 * US, "b", NULL, 0, 100000, &deleted, &max_id));
	const char *const keep_a[] = {"a"};
	ASSERT_OK(store_delete_older(st, T0 + seq / 3 * US, NULL, keep_a, 1, 100000, &deleted,
				     &max_id));
	ASSERT_OK(store_commit(st));
	lookups_agree(reader, path, &rs, seq);

	/* A reopened writer goes on from the open run. */
	store_close(st);
	st = store_open_ok(path, STORE_WRITE);
	add_events(st, &rs, &seq, 3000);
	lookups_agree(reader, path, &rs, seq);

	/* Everything deleted, then new events. */
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_oldest(st, 1000000, &deleted, &max_id));
	ASSERT_OK(store_commit(st));
	lookups_agree(reader, path, &rs, seq);
	add_events(st, &rs, &seq, 2000);
	lookups_agree(reader, path, &rs, seq);
	store_close(reader);
	store_close(st);
}

/* The number of migrations before 0005_counters.sql. */
static int
counters_migration(void)
{
	for (size_t i = 0; i < embedded_migrations_count; i++)
		if (!strcmp(embedded_migrations[i].name, "0005_counters.sql"))
			return (int)i;
	ASSERT_FAIL_("no migration 0005_counters.sql");
	return -1;
}

TEST(migration_counts_an_existing_store)
{
	char path[512], sql[128];
	uint64_t rs = 0xfeed;
	int64_t seq = 0;

	path_in(path, sizeof path, "migrate/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE);
	add_events(st, &rs, &seq, 5000);
	store_close(st);

	/* The store as it was before the counters. */
	sqlite3 *db = sq_open(path, SQLITE_OPEN_READWRITE);
	sq_exec(db, "DROP TABLE type_counts; DROP TABLE journal_marks; DROP INDEX journal_type");
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", counters_migration());
	sq_exec(db, sql);
	sqlite3_close(db);

	/* A reader reads it by id, but cannot count or look up times until a
	 * writer migrated it, and says so. */
	store *old = store_open_ok(path, STORE_READONLY);
	int64_t last = -1, since = -1, counted = -1;
	ASSERT_OK(store_last_id(old, &last));
	ASSERT_EQ(last, 5000);
	ASSERT_EQ(store_count(old, &counted), ERR_SCHEMA);
	ASSERT_NOT_NULL(strstr(store_errmsg(old), "open it for writing first"));
	ASSERT_EQ(store_first_id_since(old, 0, &since), ERR_SCHEMA);
	store_close(old);

	st = store_open_ok(path, STORE_WRITE);
	ASSERT_EQ(store_schema_version(st), store_latest_version());
	db = sq_open(path, SQLITE_OPEN_READONLY);
	ASSERT_EQ(sq_int(db, "SELECT count(*) FROM journal_marks"), 5000 / 1024);
	ASSERT_EQ(sq_int(db, "SELECT count(*) FROM (SELECT type, count(*) AS n FROM journal "
			     "GROUP BY type EXCEPT SELECT type, events FROM type_counts)"),
		  0);
	ASSERT_EQ(sq_int(db, "SELECT count(*) FROM type_counts"), 4);
	sqlite3_close(db);
	int64_t n = -1;
	ASSERT_OK(store_count(st, &n));
	ASSERT_EQ(n, 5000);
	lookups_agree(st, path, &rs, seq);
	/* The store's own marks follow the migration's. */
	add_events(st, &rs, &seq, 3000);
	lookups_agree(st, path, &rs, seq);
	store_close(st);
}

/* Collect plan lines into one text, a line each. */
struct plan {
	char text[4096];
	size_t len;
};

static void
add_line(const char *detail, void *arg)
{
	struct plan *p = arg;
	p->len += (size_t)snprintf(p->text + p->len, sizeof p->text - p->len, "%s\n", detail);
	ASSERT_LT(p->len, sizeof p->text);
}

/* Does line (len bytes) start with prefix? */
static int
starts(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return n <= len && !strncmp(line, prefix, n);
}

/*
 * Every line of p that reads the journal is one of the allowed searches,
 * none scans it, and none sorts unless sorting is allowed (the few rows
 * of each arm of a merge).
 */
static void
plan_searches(const struct plan *p, const char *const *allowed, size_t nallowed, int sorts)
{
	for (const char *line = p->text, *end; *line; line = end + 1) {
		end = strchr(line, '\n');
		size_t len = (size_t)(end - line);
		int ok = 1;
		if (starts(line, len, "SEARCH journal ") || starts(line, len, "SEARCH j ")) {
			ok = 0;
			for (size_t i = 0; i < nallowed && !ok; i++)
				ok = starts(line, len, allowed[i]);
		}
		if (starts(line, len, "SCAN journal") || starts(line, len, "SCAN j ") ||
		    (!sorts && strstr(line, "TEMP B-TREE") && strstr(line, "TEMP B-TREE") < end))
			ok = 0;
		if (!ok)
			fprintf(stderr, "not allowed: %.*s\nin the plan:\n%s", (int)len, line,
				p->text);
		ASSERT(ok);
	}
}

TEST(every_listing_and_deletion_searches)
{
	static const char *const listing[] = {
		"SEARCH journal USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
		/* after the mark found for since, at most a run */
		"SEARCH journal USING INTEGER PRIMARY KEY (rowid>?)",
		"SEARCH journal USING INDEX journal_type (type=? AND rowid>? AND rowid<?)",
	};
	static const char *const deletion[] = {
		"SEARCH journal USING INDEX journal_ts (ts_us<?)",
		"SEARCH journal USING INDEX journal_type_ts (type=? AND ts_us<?)",
		"SEARCH j USING INDEX journal_type_ts (type=? AND ts_us<?)",
	};
	char path[512];
	uint64_t rs = 0xbeef;
	int64_t seq = 0;

	path_in(path, sizeof path, "plans/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE);
	add_events(st, &rs, &seq, 3000);
	store *reader = store_open_ok(path, STORE_READONLY);

	/* Every form of GET /api/events: with and without each bound, none
	 * to three types, both orders. */
	for (int form = 0; form < 2 * 2 * 2 * 3 * 2; form++) {
		struct store_filter f = {
			.after_id = form & 1 ? 10 : 0,
			.before_id = form & 2 ? 2000 : 0,
			.has_since = !!(form & 4),
			.since_us = T0 + 100 * US,
			.has_until = (form >> 3) % 3 == 2,
			.until_us = T0 + 200 * US,
			.types = types_pool,
			.type_count = (size_t)(form >> 3) % 3 == 1 ? 1
				      : (form >> 3) % 3 == 2       ? 3
								   : 0,
			.limit = 50,
			.descending = form >= 24,
		};
		struct plan p = {.len = 0};
		p.text[0] = '\0';
		ASSERT_OK(store_list_plan(reader, &f, add_line, &p));
		plan_searches(&p, listing, 3, f.type_count > 1);
		/* Each time bound is one search in the marks. */
		if (f.has_since)
			ASSERT_NOT_NULL(strstr(p.text, "SEARCH journal_marks USING COVERING INDEX "
						       "journal_marks_ts_hi (ts_hi<?)"));
		if (f.has_until)
			ASSERT_NOT_NULL(strstr(p.text, "SEARCH journal_marks USING COVERING INDEX "
						       "journal_marks_ts_lo (ts_lo<?)"));
	}

	/* Retention by age: one type, every type, every type but some. */
	for (int form = 0; form < 3; form++) {
		struct plan p = {.len = 0};
		p.text[0] = '\0';
		ASSERT_OK(store_delete_older_plan(st, form == 0 ? "a" : NULL, form == 2 ? 2 : 0,
						  add_line, &p));
		plan_searches(&p, deletion, 3, 0);
	}
	store_close(reader);
	store_close(st);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(counts_follow_appends_deletions_and_rollbacks),
		TEST_ENTRY(marks_agree_with_plain_sql),
		TEST_ENTRY(migration_counts_an_existing_store),
		TEST_ENTRY(every_listing_and_deletion_searches),
	};
	int rc;

	snprintf(root, sizeof root, "/tmp/sentinel-unit-counters-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	printf("in %s\n", root);
	rc = test_run(tests, argc, argv);
	if (rc == 0)
		ASSERT_OK(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS));
	return rc;
}
