/*
 * Unit tests of store.c, on real files in a temporary folder: creation (the
 * folders, WAL mode, the schema version), appending and reading back, ids
 * that are never reused (also when a store was closed without giving its
 * reserved ids back, as after a crash), idempotent migrations, the epoch
 * (also renewed for a copy put back in place), one writer at a time (the
 * writer's lock), refusing foreign, corrupt, missing and newer files, and
 * the migrations agreeing with the documented schema/schema.sql (named by
 * the environment variable SENTINEL_SCHEMA). The folder is removed at the
 * end; it is kept, and its name printed, when a test fails.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert.h"
#include "err.h"
#include "logevent.h"
#include "store.h"
#include "store_db.h"
#include "store_ids.h"
#include "store_open_ok.h"

#define US       INT64_C(1000000)
#define NOW      (INT64_C(1773064800) * US + 123456)
#define NOW_TEXT "2026-03-09T14:00:00.123456Z"

static char root[64];

/* A path under this run's folder. */
static const char *
path_in(char *buf, size_t size, const char *rel)
{
	int n = snprintf(buf, size, "%s/%s", root, rel);
	ASSERT(n > 0 && (size_t)n < size);
	return buf;
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct logevent
event(const char *json)
{
	struct logevent ev;
	char errmsg[ERRMSG_SIZE];
	int rc = logevent_parse(json, strlen(json), NOW, &ev, errmsg);
	if (rc)
		fprintf(stderr, "%s: %s\n", json, errmsg);
	ASSERT_OK(rc);
	return ev;
}

/* store_open must fail with code and a message naming the path (or, when
 * the folder cannot be made, that folder) and containing needle. */
static void
open_fails(const char *path, int flags, int code, const char *needle)
{
	char errmsg[256] = "";
	int err = 12345;
	store *st = store_open(path, flags, &err, errmsg);

	if (st || err != code || !strstr(errmsg, needle))
		fprintf(stderr, "store_open(%s): %s (%d, %s), wanted %s and '%s'\n", path, errmsg,
			err, err_str(err), err_str(code), needle);
	ASSERT_NULL(st);
	ASSERT_EQ(err, code);
	ASSERT_NOT_NULL(strstr(errmsg, code == ERR_SYS ? root : path));
	ASSERT_NOT_NULL(strstr(errmsg, needle));
}

/* Append events in one transaction; their ids go to ids_out. */
static void
append_all(store *st, const char *const *json, size_t n, int64_t *ids_out)
{
	ASSERT_OK(store_begin(st));
	for (size_t i = 0; i < n; i++) {
		struct logevent ev = event(json[i]);
		ids_out[i] = -1;
		ASSERT_OK(store_append(st, &ev, &ids_out[i]));
		logevent_free(&ev);
	}
	ASSERT_OK(store_commit(st));
}

static int64_t
append_one(store *st, const char *json)
{
	int64_t id;
	append_all(st, &json, 1, &id);
	return id;
}

/* Rows collected by store_read_after(). */
struct rows {
	int n;
	int stop_after; /* stop the iteration after this many (0: never) */
	int64_t id[16];
	int64_t ts_us[16];
	char type[16][LOGEVENT_TYPE_MAX + 1];
	char *body[16];
};

static int
collect(const struct store_row *row, void *arg)
{
	struct rows *r = arg;

	ASSERT_LT(r->n, 16);
	ASSERT_EQ(row->body_len, strlen(row->body));
	r->id[r->n] = row->id;
	r->ts_us[r->n] = row->ts_us;
	snprintf(r->type[r->n], sizeof r->type[0], "%s", row->type);
	r->body[r->n] = strdup(row->body);
	ASSERT_NOT_NULL(r->body[r->n]);
	r->n++;
	return r->stop_after && r->n >= r->stop_after;
}

static void
rows_free(struct rows *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->body[i]);
	memset(r, 0, sizeof *r);
}

/* Read up to limit rows after after_id; count must equal the rows seen. */
static void
read_after(store *st, int64_t after, int limit, struct rows *r)
{
	int count = -1;
	ASSERT_OK(store_read_after(st, after, limit, collect, r, &count));
	ASSERT_EQ(count, r->n);
}

static int64_t
last_id(store *st)
{
	int64_t id = -1;
	ASSERT_OK(store_last_id(st, &id));
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

/* The first column of the first row of sql: an integer, or text into buf. */
static int64_t
sq_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v;

	ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static const char *
sq_text(sqlite3 *db, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *s;
	const unsigned char *t;

	ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
	t = sqlite3_column_text(s, 0);
	snprintf(buf, size, "%s", t ? (const char *)t : "(null)");
	sqlite3_finalize(s);
	return buf;
}

static int
file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

static long long
file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static void
assert_epoch(const char *epoch)
{
	ASSERT_EQ(strlen(epoch), 16);
	for (const char *p = epoch; *p; p++)
		ASSERT((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
}

/* Three events as a producer sends them... */
#define EV1 "{\"type\":\"system\",\"message\":\"one\",\"timestamp\":\"2026-03-09T14:00:00.123456\"}"
#define EV2                                                                       \
	"{ \"type\" : \"agent\" ,"                                                \
	" \"message\" : \"Diagnosticando servicio postgresql \xf0\x9f\x94\x8d\"," \
	" \"data\" : { \"step\" : \"diagnose\" , \"n\" : 0.10 } }"
#define EV3                                          \
	"{\"type\":\"error\",\"message\":\"three\"," \
	"\"timestamp\":\"2026-03-09T16:00:00+02:00\",\"host\":\"db-1\"}"
/* ...and as stored: the second has no timestamp, so it gets NOW's. */
#define EV2_BODY                                                               \
	"{\"type\":\"agent\","                                                 \
	"\"message\":\"Diagnosticando servicio postgresql \xf0\x9f\x94\x8d\"," \
	"\"data\":{\"step\":\"diagnose\",\"n\":0.10},\"timestamp\":\"" NOW_TEXT "\"}"

static const char *const three[] = {EV1, EV2, EV3};
static const char *const three_body[] = {EV1, EV2_BODY, EV3};
static const char *const three_type[] = {"system", "agent", "error"};
static const int64_t three_ts[] = {NOW, NOW, INT64_C(1773064800) * US};

/* Row i of r is event k of three[] with id. */
static void
row_is(const struct rows *r, int i, int k, int64_t id)
{
	ASSERT_LT(i, r->n);
	ASSERT_EQ(r->id[i], id);
	ASSERT_EQ(r->ts_us[i], three_ts[k]);
	ASSERT_STR_EQ(r->type[i], three_type[k]);
	ASSERT_STR_EQ(r->body[i], three_body[k]);
}

TEST(open_creates_folders_and_wal_file)
{
	char path[512], wal[560], epoch[STORE_EPOCH_SIZE], buf[64];
	path_in(path, sizeof path, "new/a/b/c/sentinel.db");
	snprintf(wal, sizeof wal, "%s-wal", path);

	ASSERT(!file_exists(path));
	store *st = store_open_ok(path, STORE_WRITE);
	ASSERT(file_exists(path));
	ASSERT_GE(store_latest_version(), 1);
	ASSERT_EQ(store_schema_version(st), store_latest_version());
	assert_epoch(store_epoch(st));
	snprintf(epoch, sizeof epoch, "%s", store_epoch(st));
	ASSERT_EQ(last_id(st), 0);
	struct rows r = {0};
	read_after(st, 0, 100, &r);
	ASSERT_EQ(r.n, 0);
	store_close(st);

	/* What another program sees in the file. */
	sqlite3 *db = sq_open(path, SQLITE_OPEN_READONLY);
	ASSERT_STR_EQ(sq_text(db, "PRAGMA journal_mode", buf, sizeof buf), "wal");
	ASSERT_EQ(sq_int(db, "PRAGMA user_version"), store_latest_version());
	ASSERT_EQ(sq_int(db, "PRAGMA auto_vacuum"), 2); /* incremental */
	ASSERT_STR_EQ(sq_text(db, "SELECT value FROM meta WHERE key = 'epoch'", buf, sizeof buf),
		      epoch);
	ASSERT_EQ(sq_int(db, "SELECT count(*) FROM journal"), 0);
	sqlite3_close(db);

	/* A writable handle leaves no WAL behind when it closes. */
	ASSERT_LE(file_size(wal), 0);
}

TEST(append_and_read)
{
	char path[512];
	int64_t ids[3];
	struct rows r = {0};

	path_in(path, sizeof path, "append/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE);
	append_all(st, three, 3, ids);
	ASSERT_EQ(ids[0], 1);
	ASSERT_EQ(ids[1], 2);
	ASSERT_EQ(ids[2], 3);
	ASSERT_EQ(last_id(st), 3);

	read_after(st, 1, 10, &r);
	ASSERT_EQ(r.n, 2);
	row_is(&r, 0, 1, 2);
	row_is(&r, 1, 2, 3);
	rows_free(&r);

	read_after(st, 0, 2, &r); /* the limit */
	ASSERT_EQ(r.n, 2);
	row_is(&r, 0, 0, 1);
	row_is(&r, 1, 1, 2);
	rows_free(&r);

	read_after(st, 3, 10, &r);
	ASSERT_EQ(r.n, 0);
	read_after(st, 1000, 10, &r);
	ASSERT_EQ(r.n, 0);

	r.stop_after = 1; /* the callback stops the iteration */
	read_after(st, 0, 10, &r);
	ASSERT_EQ(r.n, 1);
	row_is(&r, 0, 0, 1);
	rows_free(&r);

	/* A read-only handle, opened while the writer is open, sees the same. */
	store *ro = store_open_ok(path, STORE_READONLY);
	ASSERT_STR_EQ(store_epoch(ro), store_epoch(st));
	ASSERT_EQ(store_schema_version(ro), store_latest_version());
	ASSERT_EQ(last_id(ro), 3);
	read_after(ro, 1, 10, &r);
	ASSERT_EQ(r.n, 2);
	row_is(&r, 0, 1, 2);
	row_is(&r, 1, 2, 3);
	rows_free(&r);

	/* Uncommitted rows are invisible to it; committed ones appear on the
	 * next read, since every read is its own short transaction. */
	struct logevent ev = event(three[0]);
	int64_t id = -1;
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_append(st, &ev, &id));
	ASSERT_EQ(id, 4);
	read_after(ro, 3, 10, &r);
	ASSERT_EQ(r.n, 0);
	ASSERT_EQ(last_id(ro), 3);
	ASSERT_OK(store_commit(st));
	read_after(ro, 3, 10, &r);
	ASSERT_EQ(r.n, 1);
	row_is(&r, 0, 0, 4);
	rows_free(&r);
	ASSERT_EQ(last_id(ro), 4);

	/* A rolled-back append leaves nothing. */
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_append(st, &ev, &id));
	ASSERT_OK(store_rollback(st));
	ASSERT_EQ(last_id(st), 4);
	read_after(st, 4, 10, &r);
	ASSERT_EQ(r.n, 0);
	logevent_free(&ev);

	store_close(ro);
	store_close(st);

	/* And after closing and reopening read-only, still the same. */
	ro = store_open_ok(path, STORE_READONLY);
	read_after(ro, 0, 10, &r);
	ASSERT_EQ(r.n, 4);
	row_is(&r, 0, 0, 1);
	row_is(&r, 1, 1, 2);
	row_is(&r, 2, 2, 3);
	row_is(&r, 3, 0, 4);
	rows_free(&r);
	store_close(ro);
}

TEST(ids_are_never_reused)
{
	char path[512];
	int64_t ids[3];
	struct rows r = {0};

	path_in(path, sizeof path, "ids/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE);
	append_all(st, three, 3, ids);
	ASSERT_EQ(ids[2], 3);
	store_close(st);

	/* Retention, or an auditor, deletes every row. */
	sqlite3 *db = sq_open(path, SQLITE_OPEN_READWRITE);
	sq_exec(db, "DELETE FROM journal");
	ASSERT_EQ(sq_int(db, "SELECT count(*) FROM journal"), 0);
	sqlite3_close(db);

	st = store_open_ok(path, STORE_WRITE);
	ASSERT_EQ(last_id(st), 3); /* with an empty table */
	read_after(st, 0, 10, &r);
	ASSERT_EQ(r.n, 0);
	ASSERT_EQ(append_one(st, three[1]), 4);
	ASSERT_EQ(last_id(st), 4);
	read_after(st, 0, 10, &r);
	ASSERT_EQ(r.n, 1);
	row_is(&r, 0, 1, 4);
	rows_free(&r);

	/* Again with the newest row deleted under an open handle. */
	db = sq_open(path, SQLITE_OPEN_READWRITE);
	sq_exec(db, "DELETE FROM journal WHERE id = 4");
	sqlite3_close(db);
	ASSERT_EQ(last_id(st), 4);
	ASSERT_EQ(append_one(st, three[2]), 5);
	store_close(st);

	st = store_open_ok(path, STORE_READONLY);
	ASSERT_EQ(last_id(st), 5);
	store_close(st);
}

/* The ids found lost when st was opened, as "from-to" (or "none"). */
static const char *
lost_at_open(store *st, char *buf, size_t size)
{
	int64_t from, to;
	store_lost_at_open(st, &from, &to);
	if (!to)
		snprintf(buf, size, "none");
	else
		snprintf(buf, size, "%lld-%lld", (long long)from, (long long)to);
	return buf;
}

static const char *
lost_after(store *st, int64_t id, char *buf, size_t size)
{
	int64_t from = -1, to = -1;
	ASSERT_OK(store_ids_lost(st, id, &from, &to));
	snprintf(buf, size, "%lld-%lld", (long long)from, (long long)to);
	return buf;
}

TEST(ids_survive_an_unclean_stop)
{
	char path[512], buf[64];
	int64_t mark = -1, ids[3];

	path_in(path, sizeof path, "mark/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE);
	ASSERT_STR_EQ(lost_at_open(st, buf, sizeof buf), "none");
	ASSERT_OK(store_ids_mark(st, &mark));
	ASSERT_EQ(mark, 0);
	/* Ids 1..3 are reserved with a block ahead, then assigned. */
	ASSERT_OK(store_ids_reserve(st, 3, &mark));
	ASSERT_EQ(mark, 3 + STORE_IDS_BLOCK);
	append_all(st, three, 3, ids);
	ASSERT_EQ(ids[2], 3);
	/* Within the mark: nothing to write, the mark stays. */
	ASSERT_OK(store_ids_reserve(st, 3 + STORE_IDS_BLOCK, &mark));
	ASSERT_EQ(mark, 3 + STORE_IDS_BLOCK);
	int64_t stored = -1;
	ASSERT_OK(store_ids_mark(st, &stored));
	ASSERT_EQ(stored, mark);
	/* Closed without giving the rest of the block back, as a crash of the
	 * process. The machine did not restart (the same boot id), so the
	 * kernel kept every commit: nothing was lost, and ids go on. */
	store_close(st);
	st = store_open_ok(path, STORE_WRITE);
	ASSERT_STR_EQ(lost_at_open(st, buf, sizeof buf), "none");
	ASSERT_EQ(last_id(st), 3);
	ASSERT_OK(store_ids_mark(st, &stored));
	ASSERT_EQ(stored, 3);

	/* Reserved again, then closed as a power cut would leave it: the
	 * next open sees another boot of the machine. */
	mark = stored;
	ASSERT_OK(store_ids_reserve(st, 4, &mark));
	ASSERT_EQ(mark, 4 + STORE_IDS_BLOCK);
	ASSERT_OK(store_meta_set(st, "id_reserved_boot", "an-earlier-boot"));
	store_close(st);

	st = store_open_ok(path, STORE_WRITE);
	char want[64];
	snprintf(want, sizeof want, "4-%d", 4 + STORE_IDS_BLOCK);
	ASSERT_STR_EQ(lost_at_open(st, buf, sizeof buf), want);
	ASSERT_EQ(last_id(st), 4 + STORE_IDS_BLOCK);
	ASSERT_EQ(append_one(st, three[0]), 5 + STORE_IDS_BLOCK);
	ASSERT_STR_EQ(lost_after(st, 0, buf, sizeof buf), want);
	ASSERT_STR_EQ(lost_after(st, 4, buf, sizeof buf), want);
	ASSERT_STR_EQ(lost_after(st, 4 + STORE_IDS_BLOCK, buf, sizeof buf), want);
	ASSERT_STR_EQ(lost_after(st, 5 + STORE_IDS_BLOCK, buf, sizeof buf), "0-0");
	/* A clean stop gives the reservation back: nothing lost next time,
	 * whatever the boot. */
	ASSERT_OK(store_ids_reserve(st, 6 + STORE_IDS_BLOCK, &mark));
	ASSERT_OK(store_meta_set(st, "id_reserved_boot", "an-earlier-boot"));
	ASSERT_OK(store_ids_release(st));
	store_close(st);

	st = store_open_ok(path, STORE_WRITE);
	ASSERT_STR_EQ(lost_at_open(st, buf, sizeof buf), "none");
	ASSERT_EQ(last_id(st), 5 + STORE_IDS_BLOCK);
	store_close(st);

	/* Readers see the recorded range too. */
	st = store_open_ok(path, STORE_READONLY);
	ASSERT_STR_EQ(lost_after(st, 1, buf, sizeof buf), want);
	store_close(st);
	sqlite3 *db = sq_open(path, SQLITE_OPEN_READONLY);
	ASSERT_EQ(sq_int(db, "SELECT count(*) FROM lost_ids"), 1);
	ASSERT_EQ(sq_int(db, "SELECT count(*) FROM lost_ids WHERE found_at LIKE "
			     "'20__-__-__T__:__:__.___Z'"),
		  1);
	sqlite3_close(db);
}

TEST(ids_need_no_mark_under_sync_full)
{
	char path[512], buf[64];
	int64_t mark = 0, ids[3];

	path_in(path, sizeof path, "markfull/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE | STORE_SYNC_FULL);
	ASSERT_OK(store_ids_reserve(st, 3, &mark));
	ASSERT_EQ(mark, 0);
	append_all(st, three, 3, ids);
	store_close(st);
	st = store_open_ok(path, STORE_WRITE | STORE_SYNC_FULL);
	ASSERT_STR_EQ(lost_at_open(st, buf, sizeof buf), "none");
	ASSERT_EQ(append_one(st, three[0]), 4);
	store_close(st);
}

static int64_t
event_count(store *st)
{
	int64_t n = -1;
	ASSERT_OK(store_count(st, &n));
	return n;
}

static int64_t
first_id(store *st)
{
	int64_t id = -1;
	ASSERT_OK(store_first_id(st, &id));
	return id;
}

static int64_t
first_id_since(store *st, int64_t ts_us)
{
	int64_t id = -1;
	ASSERT_OK(store_first_id_since(st, ts_us, &id));
	return id;
}

TEST(retention_deletes)
{
	static const char *const six[] = {
		"{\"type\":\"a\",\"message\":\"1\",\"timestamp\":\"2026-03-09T14:00:00Z\"}",
		"{\"type\":\"b\",\"message\":\"2\",\"timestamp\":\"2026-03-09T14:00:01Z\"}",
		"{\"type\":\"a\",\"message\":\"3\",\"timestamp\":\"2026-03-09T14:00:02Z\"}",
		"{\"type\":\"b\",\"message\":\"4\",\"timestamp\":\"2026-03-09T14:00:03Z\"}",
		"{\"type\":\"c\",\"message\":\"5\",\"timestamp\":\"2026-03-09T14:00:04Z\"}",
		"{\"type\":\"a\",\"message\":\"6\",\"timestamp\":\"2026-03-09T14:00:05Z\"}",
	};
	const int64_t t0 = INT64_C(1773064800) * US;
	char path[512];
	int64_t ids[6], deleted, max_id;
	struct rows r = {0};

	store *st = store_open_ok(path_in(path, sizeof path, "retention/sentinel.db"), STORE_WRITE);
	ASSERT_EQ(first_id(st), 0);
	ASSERT_EQ(first_id_since(st, 0), 0);
	append_all(st, six, 6, ids);
	ASSERT_EQ(ids[5], 6);
	ASSERT_EQ(event_count(st), 6);
	ASSERT_EQ(first_id(st), 1);
	ASSERT_EQ(first_id_since(st, 0), 1);
	ASSERT_EQ(first_id_since(st, t0 + 3 * US), 4);
	ASSERT_EQ(first_id_since(st, t0 + 3 * US - 1), 4);
	ASSERT_EQ(first_id_since(st, t0 + 3 * US + 1), 5);
	ASSERT_EQ(first_id_since(st, t0 + 6 * US), 0);

	/* By count: the two oldest. */
	deleted = max_id = 0;
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_oldest(st, 2, &deleted, &max_id));
	ASSERT_OK(store_commit(st));
	ASSERT_EQ(deleted, 2);
	ASSERT_EQ(max_id, 2);
	ASSERT_EQ(first_id(st), 3);
	ASSERT_EQ(event_count(st), 4);

	/* By age, one type: only "a" older than 14:00:05 (id 3). */
	deleted = max_id = 0;
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_older(st, t0 + 5 * US, "a", NULL, 0, 100, &deleted, &max_id));
	ASSERT_OK(store_commit(st));
	ASSERT_EQ(deleted, 1);
	ASSERT_EQ(max_id, 3);

	/* By age, all types but "b": id 5 (id 6 is not older). max_id is
	 * only ever raised. */
	const char *const except_b[] = {"b"};
	deleted = 0;
	max_id = 100;
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_older(st, t0 + 5 * US, NULL, except_b, 1, 100, &deleted, &max_id));
	ASSERT_OK(store_commit(st));
	ASSERT_EQ(deleted, 1);
	ASSERT_EQ(max_id, 100);
	read_after(st, 0, 10, &r);
	ASSERT_EQ(r.n, 2);
	ASSERT_EQ(r.id[0], 4);
	ASSERT_EQ(r.id[1], 6);
	rows_free(&r);

	/* The limit bounds a step. */
	deleted = max_id = 0;
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_older(st, t0 + 10 * US, NULL, NULL, 0, 1, &deleted, &max_id));
	ASSERT_OK(store_commit(st));
	ASSERT_EQ(deleted, 1);
	ASSERT_EQ(max_id, 4);

	/* Retention removes every row: ids still go on from the highest. */
	deleted = max_id = 0;
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_oldest(st, 100, &deleted, &max_id));
	ASSERT_OK(store_commit(st));
	ASSERT_EQ(deleted, 1);
	ASSERT_EQ(max_id, 6);
	ASSERT_EQ(event_count(st), 0);
	ASSERT_EQ(first_id(st), 0);
	ASSERT_EQ(last_id(st), 6);
	ASSERT_EQ(append_one(st, six[0]), 7);
	ASSERT_EQ(first_id(st), 7);
	store_close(st);
}

TEST(migrations_are_idempotent)
{
	char path[512], epoch[STORE_EPOCH_SIZE];
	int64_t ids[3];
	struct rows r = {0};

	path_in(path, sizeof path, "again/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE);
	append_all(st, three, 3, ids);
	snprintf(epoch, sizeof epoch, "%s", store_epoch(st));
	store_close(st);

	sqlite3 *db = sq_open(path, SQLITE_OPEN_READONLY);
	int64_t objects = sq_int(db, "SELECT count(*) FROM sqlite_master");
	sqlite3_close(db);

	for (int i = 0; i < 2; i++) {
		st = store_open_ok(path, STORE_WRITE);
		ASSERT_EQ(store_schema_version(st), store_latest_version());
		ASSERT_STR_EQ(store_epoch(st), epoch);
		ASSERT_EQ(last_id(st), 3);
		read_after(st, 0, 10, &r);
		ASSERT_EQ(r.n, 3);
		row_is(&r, 0, 0, 1);
		row_is(&r, 1, 1, 2);
		row_is(&r, 2, 2, 3);
		rows_free(&r);
		store_close(st);
	}

	db = sq_open(path, SQLITE_OPEN_READONLY);
	/* The epoch, the ids' mark and the chain's head, each once. */
	char keys[256];
	ASSERT_STR_EQ(sq_text(db,
			      "SELECT group_concat(key, ',') FROM (SELECT key FROM meta "
			      "ORDER BY key)",
			      keys, sizeof keys),
		      "chain_head_hash,chain_head_id,epoch,id_reserved");
	ASSERT_EQ(sq_int(db, "SELECT count(*) FROM sqlite_master"), objects);
	ASSERT_EQ(sq_int(db, "PRAGMA user_version"), store_latest_version());
	sqlite3_close(db);
}

TEST(epoch_differs_between_stores)
{
	char a[512], b[512], epoch[STORE_EPOCH_SIZE];

	store *st = store_open_ok(path_in(a, sizeof a, "epoch/a.db"), STORE_WRITE);
	assert_epoch(store_epoch(st));
	snprintf(epoch, sizeof epoch, "%s", store_epoch(st));
	store_close(st);

	st = store_open_ok(path_in(b, sizeof b, "epoch/b.db"), STORE_WRITE);
	assert_epoch(store_epoch(st));
	ASSERT(strcmp(store_epoch(st), epoch) != 0);
	store_close(st);

	/* A re-created store gets a new epoch. */
	ASSERT_OK(unlink(a));
	st = store_open_ok(a, STORE_WRITE);
	ASSERT(strcmp(store_epoch(st), epoch) != 0);
	store_close(st);
}

TEST(sync_full)
{
	char path[512];

	store *st = store_open_ok(path_in(path, sizeof path, "full/sentinel.db"),
				  STORE_WRITE | STORE_SYNC_FULL);
	ASSERT_EQ(append_one(st, three[0]), 1);
	ASSERT_EQ(append_one(st, three[1]), 2);
	store_close(st);
	st = store_open_ok(path, STORE_READONLY);
	ASSERT_EQ(last_id(st), 2);
	store_close(st);
}

TEST(one_writer_at_a_time)
{
	char path[512], lock[560], pid[32], errmsg[ERRMSG_SIZE] = "";
	int err = 0;

	path_in(path, sizeof path, "lock/sentinel.db");
	snprintf(lock, sizeof lock, "%s.lock", path);
	snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
	store *w = store_open_ok(path, STORE_WRITE);
	ASSERT_EQ(append_one(w, three[0]), 1);
	ASSERT(file_exists(lock));

	/* A second writer, even in the same process, is refused and told who
	 * holds the store. */
	ASSERT_NULL(store_open(path, STORE_WRITE, &err, errmsg));
	ASSERT_EQ(err, ERR_BUSY);
	ASSERT_NOT_NULL(strstr(errmsg, path));
	ASSERT_NOT_NULL(strstr(errmsg, "in use by another writer"));
	ASSERT_NOT_NULL(strstr(errmsg, pid));
	ASSERT_NOT_NULL(strstr(errmsg, "test_store"));

	/* Readers are not refused, and see what the writer committed. */
	store *r = store_open_ok(path, STORE_READONLY);
	ASSERT_EQ(last_id(r), 1);
	store_close(r);

	/* Once the writer is gone, the next one may write. */
	store_close(w);
	w = store_open_ok(path, STORE_WRITE);
	ASSERT_EQ(append_one(w, three[1]), 2);
	store_close(w);
}

/* Copy the file from to to, byte for byte. */
static void
copy_file(const char *from, const char *to)
{
	char buf[65536];
	size_t n;
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");

	ASSERT_NOT_NULL(in);
	ASSERT_NOT_NULL(out);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		ASSERT_EQ(fwrite(buf, 1, n, out), n);
	ASSERT_OK(fclose(in));
	ASSERT_OK(fclose(out));
}

TEST(a_copy_put_back_gets_a_new_epoch)
{
	char path[512], saved[512], moved[512], epoch[STORE_EPOCH_SIZE];

	path_in(path, sizeof path, "copy/sentinel.db");
	path_in(saved, sizeof saved, "copy/saved.db");
	store *st = store_open_ok(path, STORE_WRITE);
	ASSERT_NULL(store_renewal(st)); /* a new store */
	ASSERT_EQ(append_one(st, three[0]), 1);
	snprintf(epoch, sizeof epoch, "%s", store_epoch(st));
	store_close(st); /* checkpointed: the file holds everything */
	copy_file(path, saved);

	/* The store goes on; a reopen keeps the epoch. */
	st = store_open_ok(path, STORE_WRITE);
	ASSERT_NULL(store_renewal(st));
	ASSERT_STR_EQ(store_epoch(st), epoch);
	ASSERT_EQ(append_one(st, three[1]), 2);
	ASSERT_EQ(append_one(st, three[2]), 3);
	store_close(st);

	/* The copy, taken at id 1, is put back: id 2 would be handed out again. */
	copy_file(saved, path);
	st = store_open_ok(path, STORE_WRITE);
	ASSERT_NOT_NULL(store_renewal(st));
	ASSERT_NOT_NULL(strstr(store_renewal(st), "ends at id 1 but ids up to 3"));
	assert_epoch(store_epoch(st));
	ASSERT(strcmp(store_epoch(st), epoch) != 0);
	snprintf(epoch, sizeof epoch, "%s", store_epoch(st));
	ASSERT_EQ(append_one(st, three[1]), 2);
	store_close(st);

	/* The new epoch is kept from then on. */
	st = store_open_ok(path, STORE_WRITE);
	ASSERT_NULL(store_renewal(st));
	ASSERT_STR_EQ(store_epoch(st), epoch);
	store_close(st);
	st = store_open_ok(path, STORE_READONLY);
	ASSERT_STR_EQ(store_epoch(st), epoch);
	store_close(st);

	/* A copy with events but no mark of its own may be anyone's copy. */
	copy_file(path, path_in(moved, sizeof moved, "copy/moved.db"));
	st = store_open_ok(moved, STORE_WRITE);
	ASSERT_NOT_NULL(store_renewal(st));
	ASSERT_NOT_NULL(strstr(store_renewal(st), "has no"));
	ASSERT(strcmp(store_epoch(st), epoch) != 0);

	/* A cluster node's store takes its epoch from its stream, and keeps it. */
	ASSERT_OK(store_meta_set(st, "stream", "SENTINEL"));
	ASSERT_OK(store_meta_set(st, "epoch", "00112233445566ff"));
	store_close(st);
	ASSERT_OK(unlink(path_in(saved, sizeof saved, "copy/moved.db.mark")));
	st = store_open_ok(moved, STORE_WRITE);
	ASSERT_NULL(store_renewal(st));
	ASSERT_STR_EQ(store_epoch(st), "00112233445566ff");
	store_close(st);
}

/* Write n bytes of data to path. */
static void
write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fwrite(data, 1, n, f), n);
	ASSERT_OK(fclose(f));
}

TEST(not_a_database)
{
	char dir[512], path[512], small[512];
	unsigned char junk[4096], back[4096];

	ASSERT_OK(mkdir(path_in(dir, sizeof dir, "junk"), 0755));
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)(i * 7 + 13);
	write_file(path_in(path, sizeof path, "junk/sentinel.db"), junk, sizeof junk);

	open_fails(path, STORE_WRITE, ERR_CORRUPT, "not a database");
	open_fails(path, STORE_READONLY, ERR_CORRUPT, "not a database");
	/* The foreign file is left as it was. */
	FILE *f = fopen(path, "rb");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fread(back, 1, sizeof back, f), sizeof back);
	ASSERT_EQ(fgetc(f), EOF);
	fclose(f);
	ASSERT_MEM_EQ(back, junk, sizeof junk);

	/* A short text file. */
	static const char text[] = "id,type,message\n1,agent,hello\n";
	write_file(path_in(small, sizeof small, "junk/small.db"), text, sizeof text - 1);
	open_fails(small, STORE_WRITE, ERR_CORRUPT, "not a database");
	ASSERT_EQ(file_size(small), sizeof text - 1);
}

TEST(missing_file)
{
	char path[512];

	/* Read-only never creates anything. */
	open_fails(path_in(path, sizeof path, "missing.db"), STORE_READONLY, ERR_IO,
		   "unable to open");
	ASSERT(!file_exists(path));
	open_fails(path_in(path, sizeof path, "nowhere/missing.db"), STORE_READONLY, ERR_IO,
		   "unable to open");
	ASSERT(!file_exists(path_in(path, sizeof path, "nowhere")));
}

TEST(folder_cannot_be_made)
{
	char file[512], path[512];

	char needle[600];

	write_file(path_in(file, sizeof file, "afile"), "x", 1);
	snprintf(needle, sizeof needle, "cannot create folder %s/sub", file);
	open_fails(path_in(path, sizeof path, "afile/sub/sentinel.db"), STORE_WRITE, ERR_SYS,
		   needle);
}

TEST(newer_schema)
{
	char path[512], sql[64];

	path_in(path, sizeof path, "newer/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE);
	ASSERT_EQ(append_one(st, three[0]), 1);
	store_close(st);

	sqlite3 *db = sq_open(path, SQLITE_OPEN_READWRITE);
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", store_latest_version() + 1);
	sq_exec(db, sql);
	sqlite3_close(db);

	char version[16];
	snprintf(version, sizeof version, "%d", store_latest_version() + 1);
	open_fails(path, STORE_WRITE, ERR_SCHEMA, version);

	/* Nothing was changed. */
	db = sq_open(path, SQLITE_OPEN_READONLY);
	ASSERT_EQ(sq_int(db, "PRAGMA user_version"), store_latest_version() + 1);
	ASSERT_EQ(sq_int(db, "SELECT count(*) FROM journal"), 1);
	sqlite3_close(db);
}

TEST(readonly_foreign_database)
{
	char path[512];

	/* A valid SQLite file that is not a store. */
	sqlite3 *db = sq_open(path_in(path, sizeof path, "foreign.db"),
			      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	sq_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
	sqlite3_close(db);
	open_fails(path, STORE_READONLY, ERR_SCHEMA, "schema version 0");
}

TEST(checkpoint)
{
	char path[512], wal[560];
	int64_t ids[3];

	path_in(path, sizeof path, "ckpt/sentinel.db");
	snprintf(wal, sizeof wal, "%s-wal", path);
	store *st = store_open_ok(path, STORE_WRITE);
	append_all(st, three, 3, ids);
	ASSERT_GT(file_size(wal), 0);
	ASSERT_OK(store_checkpoint(st, 0));
	ASSERT_GT(file_size(wal), 0); /* passive: the WAL keeps its size */
	ASSERT_OK(store_checkpoint(st, 1));
	ASSERT_EQ(file_size(wal), 0);
	ASSERT_EQ(append_one(st, three[0]), 4);
	store_close(st);

	st = store_open_ok(path, STORE_READONLY);
	ASSERT_EQ(last_id(st), 4);
	store_close(st);
}

TEST(audit_view)
{
	char path[512], buf[256];
	int64_t ids[3];

	path_in(path, sizeof path, "view/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE);
	append_all(st, three, 3, ids);
	store_close(st);

	/* The auditors' columns, straight from SQL. */
	sqlite3 *db = sq_open(path, SQLITE_OPEN_READONLY);
	ASSERT_STR_EQ(sq_text(db, "SELECT type FROM events WHERE id = 2", buf, sizeof buf),
		      "agent");
	ASSERT_STR_EQ(sq_text(db, "SELECT message FROM events WHERE id = 2", buf, sizeof buf),
		      "Diagnosticando servicio postgresql \xf0\x9f\x94\x8d");
	ASSERT_STR_EQ(sq_text(db, "SELECT timestamp FROM events WHERE id = 2", buf, sizeof buf),
		      NOW_TEXT);
	ASSERT_STR_EQ(sq_text(db, "SELECT timestamp FROM events WHERE id = 3", buf, sizeof buf),
		      "2026-03-09T16:00:00+02:00");
	ASSERT_STR_EQ(sq_text(db, "SELECT json_extract(data, '$.step') FROM events WHERE id = 2",
			      buf, sizeof buf),
		      "diagnose");
	ASSERT_STR_EQ(sq_text(db, "SELECT data FROM events WHERE id = 1", buf, sizeof buf),
		      "(null)");
	ASSERT_EQ(sq_int(db, "SELECT ts_us FROM events WHERE id = 3"), three_ts[2]);
	ASSERT_EQ(sq_int(db, "SELECT count(*) FROM events WHERE type = 'error'"
			     " AND json_extract(body, '$.host') = 'db-1'"),
		  1);
	sqlite3_close(db);
}

/*
 * SQL with comments removed, every run of whitespace made one space, and
 * no space after "(" or before "," and ")" (ALTER TABLE ... ADD COLUMN
 * leaves " , col)" in the stored CREATE TABLE).
 */
static char *
normalise_sql(const char *sql)
{
	size_t len = strlen(sql), n = 0;
	char *out = malloc(len + 1);
	char quote = 0;
	int space = 0;

	ASSERT_NOT_NULL(out);
	for (size_t i = 0; i < len; i++) {
		char c = sql[i];
		if (quote) {
			out[n++] = c;
			if (c == quote)
				quote = 0;
			continue;
		}
		if (c == '-' && sql[i + 1] == '-') {
			while (i < len && sql[i] != '\n')
				i++;
			space = 1;
			continue;
		}
		if (c == '/' && sql[i + 1] == '*') {
			const char *end = strstr(sql + i + 2, "*/");
			i = end ? (size_t)(end - sql) + 1 : len;
			space = 1;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			space = 1;
			continue;
		}
		if (space && n > 0 && c != ',' && c != ')' && out[n - 1] != '(')
			out[n++] = ' ';
		space = 0;
		if (c == '\'' || c == '"' || c == '`')
			quote = c;
		out[n++] = c;
	}
	out[n] = '\0';
	return out;
}

/* Every schema object of db as "type name on tbl_name: normalised sql". */
struct schema {
	size_t n;
	char *line[64];
};

static void
schema_read(sqlite3 *db, struct schema *s)
{
	sqlite3_stmt *st;
	int rc;

	memset(s, 0, sizeof *s);
	ASSERT_EQ(sqlite3_prepare_v2(db,
				     "SELECT type, name, tbl_name, sql FROM sqlite_master"
				     " WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
				     -1, &st, NULL),
		  SQLITE_OK);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *sql = (const char *)sqlite3_column_text(st, 3);
		char *norm = normalise_sql(sql ? sql : "");
		size_t size = strlen(norm) + 256;
		ASSERT_LT(s->n, 64);
		s->line[s->n] = malloc(size);
		ASSERT_NOT_NULL(s->line[s->n]);
		snprintf(s->line[s->n], size, "%s %s on %s: %s", sqlite3_column_text(st, 0),
			 sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), norm);
		free(norm);
		s->n++;
	}
	ASSERT_EQ(rc, SQLITE_DONE);
	sqlite3_finalize(st);
}

static void
schema_free(struct schema *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->line[i]);
	s->n = 0;
}

static int
schema_has(const struct schema *s, const char *line)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->line[i], line) == 0)
			return 1;
	return 0;
}

/* Whether an object of this type and name is in the schema. */
static int
schema_has_object(const struct schema *s, const char *type_name)
{
	size_t len = strlen(type_name);
	for (size_t i = 0; i < s->n; i++)
		if (strncmp(s->line[i], type_name, len) == 0 && s->line[i][len] == ' ')
			return 1;
	return 0;
}

static char *
read_text_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text;
	long size;

	if (!f)
		fprintf(stderr, "cannot read %s\n", path);
	ASSERT_NOT_NULL(f);
	ASSERT_OK(fseek(f, 0, SEEK_END));
	size = ftell(f);
	ASSERT_GT(size, 0);
	rewind(f);
	text = malloc((size_t)size + 1);
	ASSERT_NOT_NULL(text);
	ASSERT_EQ(fread(text, 1, (size_t)size, f), size);
	text[size] = '\0';
	fclose(f);
	return text;
}

TEST(migrations_match_schema_sql)
{
	const char *schema_path = getenv("SENTINEL_SCHEMA");
	char path[512];
	struct schema documented, migrated;

	if (!schema_path || !*schema_path)
		fprintf(stderr, "SENTINEL_SCHEMA must name schema/schema.sql\n");
	ASSERT_NOT_NULL(schema_path);
	ASSERT(*schema_path);

	/* schema/schema.sql applied to an empty database. */
	char *sql = read_text_file(schema_path);
	sqlite3 *db = sq_open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	sq_exec(db, sql);
	free(sql);
	schema_read(db, &documented);
	sqlite3_close(db);

	/* The database the migrations build. */
	store *st = store_open_ok(path_in(path, sizeof path, "schema/sentinel.db"), STORE_WRITE);
	store_close(st);
	db = sq_open(path, SQLITE_OPEN_READONLY);
	schema_read(db, &migrated);
	sqlite3_close(db);

	int same = documented.n == migrated.n;
	for (size_t i = 0; same && i < documented.n; i++)
		same = strcmp(documented.line[i], migrated.line[i]) == 0;
	if (!same) {
		fprintf(stderr, "schema/schema.sql (-) and migrations/ (+) disagree:\n");
		for (size_t i = 0; i < documented.n; i++)
			if (!schema_has(&migrated, documented.line[i]))
				fprintf(stderr, "- %s\n", documented.line[i]);
		for (size_t i = 0; i < migrated.n; i++)
			if (!schema_has(&documented, migrated.line[i]))
				fprintf(stderr, "+ %s\n", migrated.line[i]);
	}
	ASSERT(same);

	/* And the comparison compared something. */
	ASSERT(schema_has_object(&migrated, "table journal"));
	ASSERT(schema_has_object(&migrated, "table meta"));
	ASSERT(schema_has_object(&migrated, "table lost_ids"));
	ASSERT(schema_has_object(&migrated, "view events"));
	ASSERT(schema_has_object(&migrated, "index journal_ts"));
	ASSERT(schema_has_object(&migrated, "index journal_type_ts"));
	schema_free(&documented);
	schema_free(&migrated);
}

TEST(normalise)
{
	/* The helper above, so that a broken normaliser cannot hide a
	 * difference. */
	char *s = normalise_sql("CREATE  TABLE t (\n    a INT, -- the a\n  b TEXT /* b\n */ )");
	ASSERT_STR_EQ(s, "CREATE TABLE t (a INT, b TEXT)");
	free(s);
	s = normalise_sql("CREATE TABLE t (a INT , b TEXT)");
	ASSERT_STR_EQ(s, "CREATE TABLE t (a INT, b TEXT)");
	free(s);
	s = normalise_sql("SELECT '--  not a comment'   AS x");
	ASSERT_STR_EQ(s, "SELECT '--  not a comment' AS x");
	free(s);
}

/* The writer keeps statement journals in memory (temp_store = MEMORY, 2),
 * also across a transaction of several 64-row statements; VACUUM, whose
 * temporary copy can be as large as the store, runs on files and gives
 * the setting back. */
TEST(temp_store_in_memory_but_vacuum_on_files)
{
	char path[512], texts[200][96];
	const char *json[200];
	int64_t ids[200], n = -1;

	for (int i = 0; i < 200; i++) {
		snprintf(texts[i], sizeof texts[i],
			 "{\"type\":\"system\",\"message\":\"event %d\"}", i);
		json[i] = texts[i];
	}
	path_in(path, sizeof path, "temp/sentinel.db");
	store *st = store_open_ok(path, STORE_WRITE);
	ASSERT_EQ(sq_int(store__db(st), "PRAGMA temp_store"), 2);
	append_all(st, json, 200, ids);
	for (int i = 0; i < 200; i++)
		ASSERT_EQ(ids[i], i + 1);
	ASSERT_EQ(last_id(st), 200);

	ASSERT_OK(store_vacuum(st));
	ASSERT_EQ(sq_int(store__db(st), "PRAGMA temp_store"), 2);
	ASSERT_OK(store_count(st, &n));
	ASSERT_EQ(n, 200);
	store_close(st);

	/* Readers keep SQLite's default. */
	st = store_open_ok(path, STORE_READONLY);
	ASSERT_EQ(sq_int(store__db(st), "PRAGMA temp_store"), 0);
	store_close(st);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(open_creates_folders_and_wal_file),
		TEST_ENTRY(append_and_read),
		TEST_ENTRY(ids_are_never_reused),
		TEST_ENTRY(ids_survive_an_unclean_stop),
		TEST_ENTRY(ids_need_no_mark_under_sync_full),
		TEST_ENTRY(retention_deletes),
		TEST_ENTRY(migrations_are_idempotent),
		TEST_ENTRY(epoch_differs_between_stores),
		TEST_ENTRY(sync_full),
		TEST_ENTRY(one_writer_at_a_time),
		TEST_ENTRY(a_copy_put_back_gets_a_new_epoch),
		TEST_ENTRY(not_a_database),
		TEST_ENTRY(missing_file),
		TEST_ENTRY(folder_cannot_be_made),
		TEST_ENTRY(newer_schema),
		TEST_ENTRY(readonly_foreign_database),
		TEST_ENTRY(checkpoint),
		TEST_ENTRY(audit_view),
		TEST_ENTRY(normalise),
		TEST_ENTRY(migrations_match_schema_sql),
		TEST_ENTRY(temp_store_in_memory_but_vacuum_on_files),
	};
	int rc;

	snprintf(root, sizeof root, "/tmp/sentinel-unit-store-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	printf("in %s\n", root);
	rc = test_run(tests, argc, argv);
	ASSERT_OK(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS));
	ASSERT(!file_exists(root));
	return rc;
}
