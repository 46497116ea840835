/*
 * Unit tests of store_sql.c on a real store opened read-only, as the reader
 * pool opens it: the exact JSON, JSON lines and CSV of a result (numbers,
 * text with quotes and newlines, bytes that are not UTF-8, blobs, NULL);
 * every kind of statement the authorizer refuses, with its reason, and the
 * reads it allows (the view, json_each, windows, recursive CTEs, read-only
 * pragmas, EXPLAIN); the time limit; the row limit before and after output
 * went out; cancelling; and the handle working as before afterwards.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "assert.h"
#include "buf.h"
#include "err.h"
#include "logevent.h"
#include "store.h"
#include "store_sql.h"

static char root[64], path[256];
static store *ro;

static int
remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int64_t
now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

struct out {
	struct buf b;
	int writes;
	int cancel_after; /* cancel once this many writes happened (0: never) */
};

static int
collect(const void *data, size_t len, void *arg)
{
	struct out *o = arg;
	o->writes++;
	return buf_append(&o->b, data, len);
}

static int
cancelled(void *arg)
{
	struct out *o = arg;
	return o->cancel_after && o->writes >= o->cancel_after;
}

/* Run sql; the result code, the output in o, the message in errmsg. */
static int
run(const char *sql, enum store_sql_format format, int64_t max_rows, int64_t timeout_us,
    struct out *o, char *errmsg)
{
	struct store_sql_limits limits = {
		.deadline_us = timeout_us ? now_us() + timeout_us : 0,
		.timeout_us = timeout_us,
		.max_rows = max_rows,
	};
	memset(&o->b, 0, sizeof o->b);
	o->writes = 0;
	errmsg[0] = '\0';
	return store_sql_run(ro, sql, strlen(sql), format, &limits, collect, cancelled, o, errmsg);
}

/* sql must succeed with exactly want as output. */
static void
expect_output(const char *sql, enum store_sql_format format, const char *want)
{
	char errmsg[ERRMSG_SIZE];
	struct out o = {0};
	int rc = run(sql, format, 1000, 5000000, &o, errmsg);

	if (rc)
		ASSERT_FAIL_("%s: %s", sql, errmsg);
	ASSERT_STR_EQ(o.b.data ? o.b.data : "", want);
	buf_free(&o.b);
}

/* sql must be refused with ERR_INVAL, nothing written, and why in the message. */
static void
expect_refused(const char *sql, const char *why)
{
	char errmsg[ERRMSG_SIZE];
	struct out o = {0};
	int rc = run(sql, STORE_SQL_JSON, 1000, 5000000, &o, errmsg);

	if (rc != ERR_INVAL || !strstr(errmsg, why))
		fprintf(stderr, "%s: %d '%s', wanted '%s'\n", sql, rc, errmsg, why);
	ASSERT_EQ(rc, ERR_INVAL);
	ASSERT_NOT_NULL(strstr(errmsg, why));
	ASSERT_EQ(o.writes, 0);
	buf_free(&o.b);
}

static void
expect_allowed(const char *sql)
{
	char errmsg[ERRMSG_SIZE];
	struct out o = {0};

	if (run(sql, STORE_SQL_JSON, 1000, 5000000, &o, errmsg))
		ASSERT_FAIL_("%s: %s", sql, errmsg);
	ASSERT_NOT_NULL(strstr(o.b.data, "\"complete\":true"));
	buf_free(&o.b);
}

#define VALUES                                                                                 \
	"SELECT id, type, json_extract(data, '$.n') AS n, 1.5 AS f, x'00ff' AS b, NULL AS z, " \
	"message FROM events WHERE id <= 2 ORDER BY id"

TEST(json)
{
	expect_output(VALUES, STORE_SQL_JSON,
		      "{\"columns\":[\"id\",\"type\",\"n\",\"f\",\"b\",\"z\",\"message\"],"
		      "\"rows\":[[1,\"system\",7,1.5,\"00ff\",null,\"Inicio \\\"rápido\\\", "
		      "sí\\nlínea 2 🚀\"],[2,\"agent\",null,1.5,\"00ff\",null,\"dos\"]],"
		      "\"row_count\":2,\"complete\":true}\n");
	expect_output("SELECT 1 AS a WHERE 0", STORE_SQL_JSON,
		      "{\"columns\":[\"a\"],\"rows\":[],\"row_count\":0,\"complete\":true}\n");
	/* Bytes that are not UTF-8 become U+FFFD; control characters escapes. */
	expect_output("SELECT CAST(x'41ff42c3' AS TEXT) AS t, char(1, 9) AS c", STORE_SQL_JSON,
		      "{\"columns\":[\"t\",\"c\"],\"rows\":[[\"A\xef\xbf\xbd"
		      "B\xef\xbf\xbd\",\"\\u0001\\t\"]],\"row_count\":1,\"complete\":true}\n");
}

TEST(ndjson_and_csv)
{
	expect_output(VALUES, STORE_SQL_NDJSON,
		      "{\"id\":1,\"type\":\"system\",\"n\":7,\"f\":1.5,\"b\":\"00ff\",\"z\":null,"
		      "\"message\":\"Inicio \\\"rápido\\\", sí\\nlínea 2 🚀\"}\n"
		      "{\"id\":2,\"type\":\"agent\",\"n\":null,\"f\":1.5,\"b\":\"00ff\",\"z\":null,"
		      "\"message\":\"dos\"}\n");
	expect_output(VALUES, STORE_SQL_CSV,
		      "id,type,n,f,b,z,message\r\n"
		      "1,system,7,1.5,00ff,,\"Inicio \"\"rápido\"\", sí\nlínea 2 🚀\"\r\n"
		      "2,agent,,1.5,00ff,,dos\r\n");
	expect_output("SELECT ' x' AS \"a,b\"", STORE_SQL_CSV, "\"a,b\"\r\n\" x\"\r\n");
}

TEST(refused)
{
	expect_refused("INSERT INTO journal (ts_us, type, body) VALUES (1, 'x', '{}')",
		       "writing (INSERT)");
	expect_refused("UPDATE journal SET body = '{}'", "not allowed");
	expect_refused("DELETE FROM journal", "writing (DELETE)");
	expect_refused("DROP TABLE journal", "only SELECT");
	expect_refused("CREATE TABLE x (a)", "only SELECT");
	expect_refused("CREATE TEMP TABLE x (a)", "only SELECT");
	expect_refused("ALTER TABLE journal ADD COLUMN x", "only SELECT");
	expect_refused("ATTACH DATABASE '/tmp/x.db' AS x", "ATTACH");
	expect_refused("DETACH DATABASE main", "ATTACH");
	expect_refused("PRAGMA query_only = 0", "PRAGMA query_only with a value");
	expect_refused("PRAGMA journal_mode = DELETE", "PRAGMA journal_mode with a value");
	expect_refused("PRAGMA writable_schema = 1", "PRAGMA writable_schema");
	expect_refused("PRAGMA wal_checkpoint", "PRAGMA wal_checkpoint");
	expect_refused("SELECT * FROM pragma_query_only", "PRAGMA query_only");
	expect_refused("SELECT load_extension('/tmp/x.so')", "function load_extension");
	expect_refused("SELECT sqlite_compileoption_get(0)", "function sqlite_compileoption_get");
	expect_refused("BEGIN", "transactions");
	expect_refused("SAVEPOINT a", "transactions");
	expect_refused("VACUUM", "the statement would write"); /* past the authorizer */
	expect_refused("ANALYZE", "only SELECT");
	expect_refused("REINDEX", "only SELECT");
	expect_refused("SELECT * FROM dbstat", "reading the table dbstat");
	expect_refused("SELECT 1; SELECT 2", "one SQL statement at a time");
	expect_refused("SELECT 1; DELETE FROM journal", "one SQL statement at a time");
	expect_refused("  -- nothing\n ;", "no SQL statement");
	expect_refused("SELEC 1", "syntax error");
	expect_refused("SELECT nope FROM events", "no such column");
	expect_refused("SELECT json_extract('{', '$.a')", "malformed JSON");

	char errmsg[ERRMSG_SIZE];
	struct out o = {0};
	struct store_sql_limits limits = {.max_rows = 10};
	ASSERT_EQ(store_sql_run(ro, "SELECT 1\0; DELETE FROM journal", 30, STORE_SQL_JSON, &limits,
				collect, cancelled, &o, errmsg),
		  ERR_INVAL);
	ASSERT_STR_EQ(errmsg, "the query holds a NUL byte");
}

TEST(allowed)
{
	expect_allowed("SELECT id, timestamp, message FROM events WHERE type = 'error' AND "
		       "json_extract(data, '$.service') = 'postgresql' ORDER BY ts_us, id;");
	expect_allowed("SELECT e.id, f.key, f.value FROM events AS e, json_each(e.body) AS f");
	expect_allowed("SELECT id, row_number() OVER (PARTITION BY type ORDER BY id DESC) FROM "
		       "events");
	expect_allowed("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE "
		       "x < 10) SELECT count(*), sum(x) FROM c");
	expect_allowed("SELECT strftime('%Y-%m-%dT%H:00Z', ts_us / 1000000, 'unixepoch'), "
		       "unixepoch('2026-03-09T14:00:00'), body ->> '$.type', body -> '$.data' "
		       "FROM events");
	expect_allowed("SELECT id, hex(hash), key, value FROM journal, meta");
	expect_allowed("SELECT * FROM chain_deleted");
	expect_allowed("SELECT name, sql FROM sqlite_schema");
	expect_allowed("PRAGMA table_info(events)");
	expect_allowed("SELECT * FROM pragma_index_list('journal')");
	expect_allowed("PRAGMA user_version");
	expect_allowed("EXPLAIN QUERY PLAN SELECT id FROM events WHERE ts_us > 5");
	expect_allowed("SELECT count(*) FROM dbstat");
}

TEST(time_limit)
{
	char errmsg[ERRMSG_SIZE];
	struct out o = {0};
	int64_t t0 = now_us();
	int rc = run("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
		     "SELECT count(*) FROM c",
		     STORE_SQL_JSON, 1000, 300000, &o, errmsg);

	ASSERT_EQ(rc, ERR_TIMEOUT);
	ASSERT_STR_EQ(errmsg, "the query ran past the time limit of 0 s (--sql-timeout)");
	ASSERT_EQ(o.writes, 0);
	ASSERT_GE(now_us() - t0, 300000);
	ASSERT_LT(now_us() - t0, 3000000);
	/* The next query has its own limit, not the last one's deadline. */
	expect_output("SELECT 2 AS two", STORE_SQL_CSV, "two\r\n2\r\n");
	buf_free(&o.b);
}

TEST(row_limit)
{
	char errmsg[ERRMSG_SIZE];
	struct out o = {0};

	/* Before anything went out: refused whole. */
	ASSERT_EQ(run("SELECT id FROM events", STORE_SQL_JSON, 3, 0, &o, errmsg), ERR_TOOBIG);
	ASSERT_STR_EQ(errmsg, "the result has more than 3 rows (--sql-max-rows): narrow the "
			      "query or add a LIMIT");
	ASSERT_EQ(o.writes, 0);
	buf_free(&o.b);
	ASSERT_OK(run("SELECT id FROM events LIMIT 3", STORE_SQL_JSON, 3, 0, &o, errmsg));
	buf_free(&o.b);

	/* After rows went out: JSON ends the document saying why... */
	const char *big = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE "
			  "x < 100) SELECT x, zeroblob(2000) FROM c";
	ASSERT_OK(run(big, STORE_SQL_JSON, 50, 0, &o, errmsg));
	ASSERT_GE(o.writes, 2);
	ASSERT_NOT_NULL(strstr(o.b.data, "],\"row_count\":50,\"complete\":false,\"error\":\"the "
					 "result has more than 50 rows"));
	ASSERT_EQ(o.b.data[o.b.len - 1], '\n');
	buf_free(&o.b);
	/* ... CSV cannot: the caller is told, and cuts the answer short. */
	ASSERT_EQ(run(big, STORE_SQL_CSV, 50, 0, &o, errmsg), ERR_TOOBIG);
	ASSERT_GE(o.writes, 1);
	buf_free(&o.b);
}

TEST(cancel)
{
	char errmsg[ERRMSG_SIZE];
	struct out o = {.cancel_after = 1};

	ASSERT_EQ(run("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x, "
		      "zeroblob(1000) FROM c",
		      STORE_SQL_NDJSON, 100000000, 0, &o, errmsg),
		  ERR_CLOSED);
	/* Stopped within a few instructions of it: not after 10^8 rows. */
	ASSERT_GE(o.writes, 1);
	ASSERT_LT(o.writes, 20);
	buf_free(&o.b);
	/* The handle serves the store as before. */
	int64_t id = 0;
	ASSERT_OK(store_last_id(ro, &id));
	ASSERT_EQ(id, 12);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(json),    TEST_ENTRY(ndjson_and_csv), TEST_ENTRY(refused),
		TEST_ENTRY(allowed), TEST_ENTRY(time_limit),     TEST_ENTRY(row_limit),
		TEST_ENTRY(cancel),
	};
	static const char *const events[] = {
		"{\"type\":\"system\",\"message\":\"Inicio \\\"rápido\\\", sí\\nlínea 2 🚀\","
		"\"data\":{\"n\":7}}",
		"{\"type\":\"agent\",\"message\":\"dos\"}",
	};
	char errmsg[ERRMSG_SIZE];
	int err, rc;

	snprintf(root, sizeof root, "/tmp/sentinel-unit-sql-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	printf("in %s\n", root);
	snprintf(path, sizeof path, "%s/sentinel.db", root);
	store *st = store_open(path, STORE_WRITE, &err, errmsg);
	ASSERT_NOT_NULL(st);
	ASSERT_OK(store_begin(st));
	for (int i = 0; i < 12; i++) {
		const char *json = events[i < 2 ? i : 1];
		struct logevent ev;
		int64_t id;
		ASSERT_OK(logevent_parse(json, strlen(json), 0, &ev, errmsg));
		ASSERT_OK(store_append(st, &ev, &id));
		logevent_free(&ev);
	}
	ASSERT_OK(store_commit(st));
	store_close(st);
	ro = store_open(path, STORE_READONLY, &err, errmsg);
	ASSERT_NOT_NULL(ro);
	rc = test_run(tests, argc, argv);
	store_close(ro);
	ASSERT_OK(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS));
	return rc;
}
