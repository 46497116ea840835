/*
 * Unit tests of the store's hash chain (store_chain.c, and the links
 * store.c makes) on real files:
 *
 * - every appended event carries the link of chain.h, and the head in meta
 *   follows it; a rolled-back transaction leaves no link behind; two
 *   handles appending in turn keep one chain;
 * - retention keeps the chain checkable: deleting the oldest events moves
 *   the anchor, deleting between kept events leaves deleted links (only
 *   those a walk needs), deleting everything leaves the head as anchor;
 * - a store made before the chain gets its links when opened for writing,
 *   also after an upgrade was interrupted;
 * - each way of tampering with the file through SQLite (a body, an id, a
 *   deleted or inserted row, two rows swapped, the newest rows deleted, a
 *   rebuilt tail) is found, at the right id;
 * - an export of the chain (store_export_chain) checks out on its own.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "assert.h"
#include "chain.h"
#include "err.h"
#include "logevent.h"
#include "store.h"
#include "store_chain.h"
#include "store_export.h"
#include "store_open_ok.h"
#include "timestamp.h"

#define US  INT64_C(1000000)
#define NOW (INT64_C(1773064800) * US) /* 2026-03-09T14:00:00Z */

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
path_of(const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s/sentinel.db", root, name);
	ASSERT(n > 0 && (size_t)n < size);
	return buf;
}

/* The body of event n: its type cycles through three, its time is n hours. */
static void
body_of(int n, char *out, size_t size)
{
	static const char *const types[] = {"system", "security", "agent"};
	char ts[TIMESTAMP_FORMAT_SIZE];

	timestamp_format(NOW + n * 3600 * US, ts);
	snprintf(out, size,
		 "{\"type\":\"%s\",\"message\":\"evento %d \xc3\xb1\",\"timestamp\":\"%s\"}",
		 types[n % 3], n, ts);
}

/* Append events from..to (numbered as body_of) in one transaction. */
static void
append_range(store *st, int from, int to)
{
	char json[256], errmsg[ERRMSG_SIZE];

	ASSERT_OK(store_begin(st));
	for (int n = from; n <= to; n++) {
		struct logevent ev;
		int64_t id;
		body_of(n, json, sizeof json);
		if (logevent_parse(json, strlen(json), NOW, &ev, errmsg))
			ASSERT_FAIL_("%s: %s", json, errmsg);
		ASSERT_OK(store_append(st, &ev, &id));
		logevent_free(&ev);
	}
	ASSERT_OK(store_commit(st));
}

static void
verify(store *st, struct store_chain_report *r)
{
	memset(r, 0x5a, sizeof *r);
	if (store_chain_verify(st, NULL, NULL, r))
		ASSERT_FAIL_("store_chain_verify: %s", store_errmsg(st));
}

static void
expect_intact(store *st, int64_t events, int64_t deleted, int64_t head_id)
{
	struct store_chain_report r;

	verify(st, &r);
	if (r.check.broken)
		ASSERT_FAIL_("broken at %lld: %s", (long long)r.check.bad_id, r.check.reason);
	ASSERT_EQ(r.check.events, events);
	ASSERT_EQ(r.check.deleted, deleted);
	ASSERT_EQ(r.head_id, head_id);
	ASSERT_EQ(r.check.prev_id, head_id);
	ASSERT_MEM_EQ(r.check.prev, r.head_hash, CHAIN_HASH_SIZE);
}

/* Open the file as the sqlite3 shell would and run sql. */
static void
tamper(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		ASSERT_FAIL_("%s: %s", sql, msg);
	sqlite3_close(db);
}

static int64_t
query_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v;

	ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

TEST(appends_are_linked)
{
	char path[256], json[256];
	unsigned char prev[CHAIN_HASH_SIZE] = {0}, want[CHAIN_HASH_SIZE];
	struct store_chain_ends ends;
	chain *c = chain_new();

	store *st = store_open_ok(path_of("linked", path, sizeof path), STORE_WRITE);
	ASSERT_OK(store_chain_ends(st, &ends));
	ASSERT_EQ(ends.head_id, 0);
	expect_intact(st, 0, 0, 0);
	append_range(st, 1, 5);
	append_range(st, 6, 6);

	/* Each row's hash is its link, computed here from the stored body. */
	sqlite3 *db;
	sqlite3_stmt *s;
	ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT id, body, hash FROM journal ORDER BY id", -1, &s,
				     NULL),
		  SQLITE_OK);
	for (int n = 1; n <= 6; n++) {
		ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
		ASSERT_EQ(sqlite3_column_int64(s, 0), n);
		body_of(n, json, sizeof json);
		ASSERT_STR_EQ((const char *)sqlite3_column_text(s, 1), json);
		ASSERT_OK(chain_link(c, prev, n, json, strlen(json), want));
		ASSERT_EQ(sqlite3_column_bytes(s, 2), CHAIN_HASH_SIZE);
		ASSERT_MEM_EQ(sqlite3_column_blob(s, 2), want, CHAIN_HASH_SIZE);
		memcpy(prev, want, sizeof prev);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);

	ASSERT_OK(store_chain_ends(st, &ends));
	ASSERT_EQ(ends.head_id, 6);
	ASSERT_MEM_EQ(ends.head_hash, prev, CHAIN_HASH_SIZE);
	ASSERT_EQ(ends.anchor_id, 0);
	expect_intact(st, 6, 0, 6);

	/* A rolled-back transaction leaves no link: the next event links to 6. */
	char errmsg[ERRMSG_SIZE];
	struct logevent ev;
	int64_t id;
	body_of(7, json, sizeof json);
	ASSERT_OK(logevent_parse(json, strlen(json), NOW, &ev, errmsg));
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_append(st, &ev, &id));
	ASSERT_EQ(id, 7);
	ASSERT_OK(store_rollback(st));
	logevent_free(&ev);
	append_range(st, 8, 8);
	expect_intact(st, 7, 0, 7);
	store_close(st);

	/* The next writer goes on from the head the last one recorded. (Two
	 * writers at once cannot happen: the store's lock admits one.) */
	store *a = store_open_ok(path, STORE_WRITE);
	append_range(a, 9, 10);
	expect_intact(a, 9, 0, 9);
	store_close(a);
	chain_free(c);
}

/* Delete (in one transaction) the events of type older than cutoff hours. */
static void
delete_older(store *st, const char *type, int hours)
{
	int64_t deleted, max_id = 0;

	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_older(st, NOW + hours * 3600 * US, type, NULL, 0, 1000, &deleted,
				     &max_id));
	ASSERT_OK(store_commit(st));
}

static void
delete_oldest(store *st, int n)
{
	int64_t deleted, max_id = 0;

	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_oldest(st, n, &deleted, &max_id));
	ASSERT_EQ(deleted, n);
	ASSERT_OK(store_commit(st));
}

TEST(retention_keeps_the_chain_checkable)
{
	char path[256];
	struct store_chain_ends ends;

	store *st = store_open_ok(path_of("retention", path, sizeof path), STORE_WRITE);
	append_range(st, 1, 12);
	/* Oldest first: 1..3 go, the anchor is 3. */
	delete_oldest(st, 3);
	ASSERT_OK(store_chain_ends(st, &ends));
	ASSERT_EQ(ends.anchor_id, 3);
	ASSERT_EQ(query_int(path, "SELECT count(*) FROM chain_deleted"), 0);
	expect_intact(st, 9, 0, 12);

	/* "security" (4, 7, 10) older than 8 hours goes: 4 is the oldest, so
	 * the anchor moves to it; 7 is between kept events, so its link stays
	 * for 8 to follow. */
	delete_older(st, "security", 8);
	ASSERT_OK(store_chain_ends(st, &ends));
	ASSERT_EQ(ends.anchor_id, 4);
	ASSERT_EQ(query_int(path, "SELECT count(*) FROM chain_deleted"), 1);
	ASSERT_EQ(query_int(path, "SELECT id FROM chain_deleted"), 7);
	expect_intact(st, 7, 1, 12);

	/* 6 (a "system" event) goes alone: 6 and 7 are then one run before
	 * 8, and only 7's link is needed. */
	delete_older(st, "system", 7);
	ASSERT_EQ(query_int(path, "SELECT group_concat(id) FROM chain_deleted"), 7);
	expect_intact(st, 6, 1, 12);

	/* 5 goes (the oldest kept): everything below 8 is gone. */
	int64_t deleted, max_id = 0;
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_delete_older(st, NOW + 7 * 3600 * US, NULL, NULL, 0, 1000, &deleted,
				     &max_id));
	ASSERT_OK(store_commit(st));
	ASSERT_EQ(deleted, 1);
	/* Below every kept event now: the anchor moves to 7, no link left. */
	ASSERT_OK(store_chain_ends(st, &ends));
	ASSERT_EQ(ends.anchor_id, 7);
	ASSERT_EQ(query_int(path, "SELECT count(*) FROM chain_deleted"), 0);
	expect_intact(st, 5, 0, 12);

	/* The newest event goes (its timestamp is the oldest): its link stays
	 * for the next event to follow. */
	tamper(path, "UPDATE journal SET ts_us = 0 WHERE id = 12");
	delete_older(st, NULL, 0);
	ASSERT_EQ(query_int(path, "SELECT max(id) FROM journal"), 11);
	ASSERT_EQ(query_int(path, "SELECT group_concat(id) FROM chain_deleted"), 12);
	expect_intact(st, 4, 1, 12);
	append_range(st, 13, 14);
	expect_intact(st, 6, 1, 14);

	/* Everything goes: the head is the anchor, and the chain goes on. */
	delete_oldest(st, 6);
	ASSERT_OK(store_chain_ends(st, &ends));
	ASSERT_EQ(ends.anchor_id, 14);
	ASSERT_EQ(ends.head_id, 14);
	ASSERT_MEM_EQ(ends.anchor_hash, ends.head_hash, CHAIN_HASH_SIZE);
	ASSERT_EQ(query_int(path, "SELECT count(*) FROM chain_deleted"), 0);
	expect_intact(st, 0, 0, 14);
	append_range(st, 15, 16);
	expect_intact(st, 2, 0, 16);
	store_close(st);
}

TEST(upgrade_links_an_older_store)
{
	char path[256];
	struct store_chain_report before, after;

	store *st = store_open_ok(path_of("upgrade", path, sizeof path), STORE_WRITE);
	append_range(st, 1, 25);
	verify(st, &before);
	store_close(st);

	/* As a store made before the chain: no hashes, no head. */
	tamper(path, "UPDATE journal SET hash = NULL; DELETE FROM meta WHERE key LIKE 'chain_%'");
	st = store_open_ok(path, STORE_READONLY);
	struct store_chain_report r;
	verify(st, &r);
	ASSERT_EQ(r.check.broken, 1);
	ASSERT_EQ(r.check.bad_id, 1);
	store_close(st);
	st = store_open_ok(path, STORE_WRITE);
	expect_intact(st, 25, 0, 25);
	verify(st, &after);
	ASSERT_MEM_EQ(after.head_hash, before.head_hash, CHAIN_HASH_SIZE);
	ASSERT_EQ(query_int(path, "SELECT count(*) FROM meta WHERE key = 'chain_upgrade_id'"), 0);
	store_close(st);

	/* Interrupted after event 10: the rest is linked from there. */
	tamper(path, "UPDATE journal SET hash = NULL WHERE id > 10;"
		     "INSERT OR REPLACE INTO meta VALUES ('chain_upgrade_id', '10');"
		     "UPDATE meta SET value = '10' WHERE key = 'chain_head_id'");
	st = store_open_ok(path, STORE_WRITE);
	expect_intact(st, 25, 0, 25);
	verify(st, &after);
	ASSERT_MEM_EQ(after.head_hash, before.head_hash, CHAIN_HASH_SIZE);
	append_range(st, 26, 26);
	expect_intact(st, 26, 0, 26);
	store_close(st);
}

/* A fresh store of 20 events, tampered with by sql, checked: the first bad
 * id must be want. */
static void
tampered(const char *name, const char *sql, int64_t want_bad, int64_t want_after)
{
	char path[256];
	struct store_chain_report r;

	store *st = store_open_ok(path_of(name, path, sizeof path), STORE_WRITE);
	append_range(st, 1, 20);
	store_close(st);
	tamper(path, sql);
	st = store_open_ok(path, STORE_READONLY);
	verify(st, &r);
	if (!r.check.broken || r.check.bad_id != want_bad || r.check.after_id != want_after)
		fprintf(stderr, "%s: broken %d at %lld after %lld: %s\n", sql, r.check.broken,
			(long long)r.check.bad_id, (long long)r.check.after_id, r.check.reason);
	ASSERT_EQ(r.check.broken, 1);
	ASSERT_EQ(r.check.bad_id, want_bad);
	ASSERT_EQ(r.check.after_id, want_after);
	store_close(st);
}

TEST(tampering_is_found)
{
	tampered("body", "UPDATE journal SET body = replace(body, 'evento', 'EVENTO') WHERE id = 7",
		 7, 6);
	tampered("id", "UPDATE journal SET id = 100 WHERE id = 9", 9, 8);
	tampered("delete", "DELETE FROM journal WHERE id = 12", 12, 11);
	tampered("insert",
		 "INSERT INTO journal (ts_us, type, body, hash) SELECT ts_us, type, body, hash "
		 "FROM journal WHERE id = 20",
		 21, 20);
	tampered("swap",
		 "UPDATE journal SET body = CASE id WHEN 4 THEN (SELECT body FROM journal WHERE "
		 "id = 15) ELSE (SELECT body FROM journal WHERE id = 4) END WHERE id IN (4, 15)",
		 4, 3);
	tampered("swap-rows",
		 "UPDATE journal SET id = -4 WHERE id = 4; UPDATE journal SET id = 4 WHERE id = "
		 "15; UPDATE journal SET id = 15 WHERE id = -4",
		 4, 3);
	tampered("truncate", "DELETE FROM journal WHERE id > 17", 18, 17);
	tampered("no-hash", "UPDATE journal SET hash = NULL WHERE id = 3", 3, 2);
	/* Below the anchor: an event "restored" after retention deleted it. */
	tampered("below-anchor",
		 "INSERT INTO meta VALUES ('chain_anchor_id', '5'), ('chain_anchor_hash', "
		 "(SELECT lower(hex(hash)) FROM journal WHERE id = 5)); DELETE FROM journal "
		 "WHERE id BETWEEN 2 AND 5",
		 1, 5);
	/* A tail rebuilt with a hash that is not the writer's. */
	tampered("rebuilt",
		 "UPDATE journal SET hash = (SELECT hash FROM journal WHERE id = 19) WHERE id = 20;"
		 "DELETE FROM journal WHERE id = 19",
		 19, 18);
}

struct exported {
	chain *c;
	struct chain_check k;
	int anchors, events, deleted;
	int64_t anchor_id;
};

static int
take_link(enum store_link_kind kind, int64_t id, const unsigned char *hash,
	  const struct store_row *row, void *arg)
{
	struct exported *e = arg;

	switch (kind) {
	case STORE_LINK_ANCHOR:
		ASSERT_EQ(e->anchors + e->events + e->deleted, 0);
		e->anchors++;
		e->anchor_id = id;
		chain_check_start(&e->k, id, hash);
		return 0;
	case STORE_LINK_DELETED:
		e->deleted++;
		ASSERT_OK(chain_check_deleted(&e->k, id, hash));
		return 0;
	default:
		e->events++;
		ASSERT_EQ(row->id, id);
		ASSERT_OK(chain_check_event(&e->k, e->c, id, row->body, row->body_len, hash));
		return 0;
	}
}

static void
export_from(const char *path, int64_t after_id, struct exported *e)
{
	char errmsg[ERRMSG_SIZE];
	uint64_t count = 0;
	int err;
	store_export *ex = store_export_open(path, &err, errmsg);

	ASSERT_NOT_NULL(ex);
	memset(e, 0, sizeof *e);
	e->c = chain_new();
	ASSERT_OK(store_export_chain(ex, after_id, take_link, e, &count));
	ASSERT_EQ(count, (uint64_t)e->events);
	ASSERT_EQ(e->anchors, 1);
	ASSERT_EQ(e->k.broken, 0);
	chain_free(e->c);
	store_export_close(ex);
}

TEST(export_checks_out)
{
	char path[256];
	struct exported e;

	store *st = store_open_ok(path_of("export", path, sizeof path), STORE_WRITE);
	append_range(st, 1, 12);
	delete_oldest(st, 2);
	delete_older(st, "security", 8); /* 4 and 7 */
	export_from(path, 0, &e);
	ASSERT_EQ(e.anchor_id, 2);
	ASSERT_EQ(e.events, 8);
	ASSERT_EQ(e.deleted, 2);
	export_from(path, 7, &e);
	ASSERT_EQ(e.anchor_id, 7); /* the deleted link of 7 */
	ASSERT_EQ(e.events, 5);
	ASSERT_EQ(e.deleted, 0);
	export_from(path, 1, &e);
	ASSERT_EQ(e.anchor_id, 2); /* retention deleted past 1 */
	export_from(path, 12, &e);
	ASSERT_EQ(e.anchor_id, 12);
	ASSERT_EQ(e.events, 0);
	store_close(st);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(appends_are_linked),
		TEST_ENTRY(retention_keeps_the_chain_checkable),
		TEST_ENTRY(upgrade_links_an_older_store),
		TEST_ENTRY(tampering_is_found),
		TEST_ENTRY(export_checks_out),
	};
	int rc;

	snprintf(root, sizeof root, "/tmp/sentinel-unit-chain-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	printf("in %s\n", root);
	rc = test_run(tests, argc, argv);
	ASSERT_OK(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS));
	return rc;
}
