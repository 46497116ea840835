/*
 * Unit tests of retention.c on real store files: parsing per-type ages,
 * which policy is active or over its bound, steps by age (per-type ages
 * before the default, the types they name kept from it), by count and by
 * size, each bounded by its batch and reporting what it deleted, and
 * compaction giving the freed pages back to the file system. Time is a
 * fixed "now" handed to every step, so ages are exact.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert.h"
#include "err.h"
#include "logevent.h"
#include "retention.h"
#include "store.h"
#include "timestamp.h"

#define US     INT64_C(1000000)
#define MINUTE (60 * US)
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)
#define NOW    (INT64_C(1773064800) * US) /* 2026-03-09T14:00:00Z */

static char root[64];

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A new store in this run's folder; its path goes to path. */
static store *
store_new(const char *name, char *path, size_t size)
{
	char errmsg[ERRMSG_SIZE] = "";
	int err = 0, n = snprintf(path, size, "%s/%s/sentinel.db", root, name);

	ASSERT(n > 0 && (size_t)n < size);
	store *st = store_open(path, STORE_WRITE, &err, errmsg);
	if (!st)
		fprintf(stderr, "store_open(%s): %s\n", path, errmsg);
	ASSERT_NOT_NULL(st);
	return st;
}

/* Append one event of type at ts_us with a message of pad bytes; its id. */
static int64_t
add(store *st, const char *type, int64_t ts_us, size_t pad)
{
	char ts[TIMESTAMP_FORMAT_SIZE], errmsg[ERRMSG_SIZE];
	struct logevent ev;
	int64_t id = -1;

	timestamp_format(ts_us, ts);
	size_t size = pad + 256;
	char *json = malloc(size);
	ASSERT_NOT_NULL(json);
	int n = snprintf(json, size, "{\"type\":\"%s\",\"timestamp\":\"%s\",\"message\":\"", type,
			 ts);
	ASSERT(n > 0 && (size_t)n + pad + 3 < size);
	memset(json + n, 'x', pad);
	memcpy(json + n + pad, "\"}", 3);
	if (logevent_parse(json, strlen(json), NOW, &ev, errmsg))
		ASSERT_FAIL_("%s: %s", json, errmsg);
	ASSERT_EQ(ev.ts_us, ts_us);
	ASSERT_OK(store_begin(st));
	ASSERT_OK(store_append(st, &ev, &id));
	ASSERT_OK(store_commit(st));
	logevent_free(&ev);
	free(json);
	return id;
}

static int64_t
count(store *st)
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

/* Bytes of the pages in use, as the size bound counts them. */
static int64_t
used_bytes(store *st)
{
	struct store_sizes sz;
	ASSERT_OK(store_sizes(st, &sz));
	return sz.db_bytes - sz.free_bytes;
}

/* The ids still stored, in order, into ids (at most max); their number. */
struct ids {
	int n;
	int64_t id[64];
};

static int
collect_id(const struct store_row *row, void *arg)
{
	struct ids *r = arg;
	ASSERT_LT(r->n, 64);
	r->id[r->n++] = row->id;
	return 0;
}

/* The store holds exactly these ids (a list ending with 0). */
static void
holds(store *st, const int64_t *want)
{
	struct ids r = {0};
	int seen = -1, n = 0;

	ASSERT_OK(store_read_after(st, 0, 64, collect_id, &r, &seen));
	while (want[n])
		n++;
	if (r.n != n)
		for (int i = 0; i < r.n; i++)
			fprintf(stderr, "stored id %lld\n", (long long)r.id[i]);
	ASSERT_EQ(r.n, n);
	for (int i = 0; i < n; i++)
		ASSERT_EQ(r.id[i], want[i]);
}

/* One step; it must return want_rc. */
static void
step(store *st, const struct retention_policy *p, int batch, int64_t *n,
     struct retention_result *res, int want_rc)
{
	int rc = retention_step(st, p, NOW, batch, n, res);
	if (rc != want_rc)
		fprintf(stderr, "retention_step: %d (%s): %s\n", rc, rc < 0 ? err_str(rc) : "",
			store_errmsg(st));
	ASSERT_EQ(rc, want_rc);
}

/* retention_add_type() must refuse arg with ERR_INVAL, p untouched. */
static void
add_type_fails(struct retention_policy *p, const char *arg, const char *needle)
{
	struct retention_policy before = *p;
	char errmsg[ERRMSG_SIZE] = "";
	int rc = retention_add_type(p, arg, errmsg);

	if (rc != ERR_INVAL || !strstr(errmsg, needle))
		fprintf(stderr, "'%s': %d '%s', wanted '%s'\n", arg, rc, errmsg, needle);
	ASSERT_EQ(rc, ERR_INVAL);
	ASSERT_NOT_NULL(strstr(errmsg, needle));
	ASSERT_MEM_EQ(p, &before, sizeof before);
}

TEST(add_type)
{
	struct retention_policy p = {0};
	char errmsg[ERRMSG_SIZE], arg[128], type[LOGEVENT_TYPE_MAX + 2];

	ASSERT_OK(retention_add_type(&p, "security=365d", errmsg));
	ASSERT_EQ(p.type_count, 1);
	ASSERT_STR_EQ(p.types[0].type, "security");
	ASSERT_EQ(p.types[0].max_age_us, 365 * DAY);
	ASSERT_EQ(p.max_age_us, 0); /* the default age is another option */

	/* A type that is a prefix of another, or the other way round, is a
	 * type of its own. */
	ASSERT_OK(retention_add_type(&p, "sec=90s", errmsg));
	ASSERT_OK(retention_add_type(&p, "security.audit=2h", errmsg));
	ASSERT_EQ(p.type_count, 3);
	ASSERT_STR_EQ(p.types[1].type, "sec");
	ASSERT_EQ(p.types[1].max_age_us, 90 * US);
	ASSERT_STR_EQ(p.types[2].type, "security.audit");
	ASSERT_EQ(p.types[2].max_age_us, 2 * HOUR);

	/* The last age given for a type wins. */
	ASSERT_OK(retention_add_type(&p, "security=10m", errmsg));
	ASSERT_EQ(p.type_count, 3);
	ASSERT_EQ(p.types[0].max_age_us, 10 * MINUTE);
	ASSERT_EQ(p.types[1].max_age_us, 90 * US);

	add_type_fails(&p, "security", "expected TYPE=DURATION");
	add_type_fails(&p, "", "expected TYPE=DURATION");
	add_type_fails(&p, "=1d", "expected TYPE=DURATION");
	add_type_fails(&p, "bad type=1d", "expected TYPE=DURATION");
	add_type_fails(&p, "a=", "'' is not a duration");
	add_type_fails(&p, "a=1", "'1' is not a duration");
	add_type_fails(&p, "a=1y", "'1y' is not a duration");
	add_type_fails(&p, "a=-1d", "'-1d' is not a duration");
	add_type_fails(&p, "a=0d", "'0d' is not a duration");
	add_type_fails(&p, "a=1d=2d", "'1d=2d' is not a duration");
	add_type_fails(&p, "a= 1d", "' 1d' is not a duration");

	/* Types are 1 to 64 characters. */
	memset(type, 't', LOGEVENT_TYPE_MAX);
	type[LOGEVENT_TYPE_MAX] = '\0';
	snprintf(arg, sizeof arg, "%s=1d", type);
	ASSERT_OK(retention_add_type(&p, arg, errmsg));
	ASSERT_EQ(p.type_count, 4);
	ASSERT_STR_EQ(p.types[3].type, type);
	snprintf(arg, sizeof arg, "%st=1d", type);
	add_type_fails(&p, arg, "expected TYPE=DURATION");

	/* At most RETENTION_MAX_TYPES types; a known one may still change. */
	for (int i = (int)p.type_count; i < RETENTION_MAX_TYPES; i++) {
		snprintf(arg, sizeof arg, "type%d=%dm", i, i + 1);
		ASSERT_OK(retention_add_type(&p, arg, errmsg));
	}
	ASSERT_EQ(p.type_count, RETENTION_MAX_TYPES);
	ASSERT_EQ(p.types[RETENTION_MAX_TYPES - 1].max_age_us, RETENTION_MAX_TYPES * MINUTE);
	add_type_fails(&p, "one.more=1d", "at most 32 per-type ages");
	ASSERT_OK(retention_add_type(&p, "sec=1d", errmsg));
	ASSERT_EQ(p.types[1].max_age_us, DAY);
	ASSERT_EQ(p.type_count, RETENTION_MAX_TYPES);
}

TEST(active_and_over_bounds)
{
	struct retention_policy none = {0}, p;
	char path[512], errmsg[ERRMSG_SIZE];
	store *st = store_new("bounds", path, sizeof path);

	ASSERT_EQ(retention_active(&none), 0);
	p = none, p.max_age_us = 1;
	ASSERT_EQ(retention_active(&p), 1);
	p = none, p.max_events = 1;
	ASSERT_EQ(retention_active(&p), 1);
	p = none, p.max_bytes = 1;
	ASSERT_EQ(retention_active(&p), 1);
	p = none;
	ASSERT_OK(retention_add_type(&p, "a=1d", errmsg));
	ASSERT_EQ(retention_active(&p), 1);
	p = none, p.interval_us = HOUR; /* how often, not what to keep */
	ASSERT_EQ(retention_active(&p), 0);

	for (int i = 0; i < 20; i++)
		add(st, "a", NOW - DAY, 1000);
	int64_t used = used_bytes(st);
	ASSERT_GT(used, 20 * 1000);

	/* Nothing is ever over no bound, and age is not a bound. */
	ASSERT_EQ(retention_over_bounds(st, &none, 20), 0);
	p = none, p.max_age_us = 1;
	ASSERT_EQ(retention_over_bounds(st, &p, 20), 0);

	/* Count: past max_events, not at it. */
	p = none, p.max_events = 20;
	ASSERT_EQ(retention_over_bounds(st, &p, 20), 0);
	ASSERT_EQ(retention_over_bounds(st, &p, 21), 1);

	/* Size: past 3/4 of max_bytes. */
	p = none, p.max_bytes = used * 2;
	ASSERT_EQ(retention_over_bounds(st, &p, 20), 0);
	p.max_bytes = used / 3 * 4 + 4;
	ASSERT_EQ(retention_over_bounds(st, &p, 20), 0);
	p.max_bytes = used;
	ASSERT_EQ(retention_over_bounds(st, &p, 20), 1);
	store_close(st);
}

TEST(no_policy_deletes_nothing)
{
	struct retention_policy none = {0};
	struct retention_result res = {0};
	char path[512];
	store *st = store_new("none", path, sizeof path);
	int64_t n = 5;

	for (int i = 0; i < 5; i++)
		add(st, "a", NOW - 1000 * DAY, 10);
	step(st, &none, 100, &n, &res, 0);
	ASSERT_EQ(n, 5);
	ASSERT_EQ(res.by_age + res.by_count + res.by_bytes, 0);
	ASSERT_EQ(res.max_id, 0);
	ASSERT_EQ(count(st), 5);
	store_close(st);
}

TEST(by_age)
{
	struct retention_policy p = {.max_age_us = HOUR};
	struct retention_result res = {0};
	char path[512], errmsg[ERRMSG_SIZE];
	store *st = store_new("age", path, sizeof path);
	int64_t n = 0;

	ASSERT_OK(retention_add_type(&p, "debug=1m", errmsg));     /* shorter */
	ASSERT_OK(retention_add_type(&p, "security=30d", errmsg)); /* longer */
	ASSERT_EQ(add(st, "debug", NOW - 2 * MINUTE, 10), 1);      /* goes */
	ASSERT_EQ(add(st, "debug", NOW - 30 * US, 10), 2);         /* stays */
	ASSERT_EQ(add(st, "security", NOW - 2 * DAY, 10), 3);      /* stays */
	ASSERT_EQ(add(st, "security", NOW - 31 * DAY, 10), 4);     /* goes */
	ASSERT_EQ(add(st, "app", NOW - 2 * HOUR, 10), 5);          /* goes */
	ASSERT_EQ(add(st, "app", NOW - 30 * MINUTE, 10), 6);       /* stays */
	ASSERT_EQ(add(st, "app", NOW - HOUR, 10), 7);              /* stays: not older */
	ASSERT_EQ(add(st, "other", NOW - HOUR - 1, 10), 8);        /* goes */
	ASSERT_EQ(add(st, "app", NOW + MINUTE, 10), 9);            /* stays */
	n = 9;

	step(st, &p, 100, &n, &res, 0);
	ASSERT_EQ(res.by_age, 4);
	ASSERT_EQ(res.by_count, 0);
	ASSERT_EQ(res.by_bytes, 0);
	ASSERT_EQ(res.max_id, 8);
	ASSERT_EQ(n, 5);
	holds(st, (const int64_t[]){2, 3, 6, 7, 9, 0});

	/* Within bounds now: a step deletes nothing and changes nothing. */
	step(st, &p, 100, &n, &res, 0);
	ASSERT_EQ(res.by_age, 4);
	ASSERT_EQ(res.max_id, 8);
	ASSERT_EQ(n, 5);

	/* Per-type ages alone: other types are kept whatever their age. */
	struct retention_policy only = {0};
	struct retention_result r2 = {.max_id = 100}; /* max_id is only raised */
	ASSERT_OK(retention_add_type(&only, "security=1d", errmsg));
	ASSERT_EQ(add(st, "app", NOW - 1000 * DAY, 10), 10);
	n = 6;
	step(st, &only, 100, &n, &r2, 0);
	ASSERT_EQ(r2.by_age, 1);
	ASSERT_EQ(r2.max_id, 100);
	ASSERT_EQ(n, 5);
	holds(st, (const int64_t[]){2, 6, 7, 9, 10, 0});
	store_close(st);
}

TEST(by_age_in_batches)
{
	struct retention_policy p = {.max_age_us = HOUR};
	struct retention_result res = {0};
	char path[512], errmsg[ERRMSG_SIZE];
	store *st = store_new("age-batches", path, sizeof path);
	int64_t n = 8;

	ASSERT_OK(retention_add_type(&p, "debug=1m", errmsg));
	for (int i = 0; i < 3; i++)
		add(st, "debug", NOW - DAY, 10); /* 1-3 */
	for (int i = 0; i < 3; i++)
		add(st, "app", NOW - DAY, 10); /* 4-6 */
	add(st, "app", NOW, 10);               /* 7 */
	add(st, "debug", NOW, 10);             /* 8 */

	/* Two a step: debug 1-2; debug 3 and app 4; app 5-6 (a full batch,
	 * so the step cannot know it was the last); then nothing. */
	static const struct {
		int rc;
		int64_t by_age, max_id, n;
	} want[] = {{1, 2, 2, 6}, {1, 4, 4, 4}, {1, 6, 6, 2}, {0, 6, 6, 2}};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		step(st, &p, 2, &n, &res, want[i].rc);
		ASSERT_EQ(res.by_age, want[i].by_age);
		ASSERT_EQ(res.max_id, want[i].max_id);
		ASSERT_EQ(n, want[i].n);
	}
	holds(st, (const int64_t[]){7, 8, 0});
	store_close(st);
}

TEST(by_count)
{
	struct retention_policy p = {.max_events = 5};
	struct retention_result res = {0};
	char path[512];
	store *st = store_new("count", path, sizeof path);
	int64_t n = 12;

	for (int i = 0; i < 12; i++)
		add(st, "a", NOW, 10);

	/* 7 over the bound, 3 a step. */
	step(st, &p, 3, &n, &res, 1);
	ASSERT_EQ(res.by_count, 3);
	ASSERT_EQ(res.max_id, 3);
	ASSERT_EQ(n, 9);
	step(st, &p, 3, &n, &res, 1);
	ASSERT_EQ(res.by_count, 6);
	ASSERT_EQ(n, 6);
	step(st, &p, 3, &n, &res, 0);
	ASSERT_EQ(res.by_count, 7);
	ASSERT_EQ(res.max_id, 7);
	ASSERT_EQ(n, 5);
	ASSERT_EQ(count(st), 5);
	ASSERT_EQ(first_id(st), 8);
	ASSERT_EQ(res.by_age + res.by_bytes, 0);

	/* Exactly at the bound: nothing more goes. */
	step(st, &p, 3, &n, &res, 0);
	ASSERT_EQ(res.by_count, 7);
	ASSERT_EQ(count(st), 5);

	/* In one step when the batch allows it. */
	for (int i = 0; i < 4; i++)
		add(st, "a", NOW, 10);
	n += 4;
	step(st, &p, 100, &n, &res, 0);
	ASSERT_EQ(res.by_count, 11);
	ASSERT_EQ(res.max_id, 11);
	ASSERT_EQ(n, 5);
	holds(st, (const int64_t[]){12, 13, 14, 15, 16, 0});
	store_close(st);
}

TEST(age_then_count_in_one_step)
{
	struct retention_policy p = {.max_age_us = HOUR, .max_events = 5};
	struct retention_result res = {0};
	char path[512];
	store *st = store_new("age-count", path, sizeof path);
	int64_t n = 10;

	for (int i = 0; i < 10; i++)
		add(st, "a", i == 3 || i == 6 ? NOW - DAY : NOW, 10);
	/* Age takes 4 and 7; the count bound then needs 3 more, the oldest. */
	step(st, &p, 100, &n, &res, 0);
	ASSERT_EQ(res.by_age, 2);
	ASSERT_EQ(res.by_count, 3);
	ASSERT_EQ(res.max_id, 7);
	ASSERT_EQ(n, 5);
	holds(st, (const int64_t[]){5, 6, 8, 9, 10, 0});
	store_close(st);
}

TEST(by_size)
{
	struct retention_policy p = {0};
	struct retention_result res = {0};
	char path[512];
	store *st = store_new("size", path, sizeof path);
	int64_t n = 400, id = 0;
	int steps = 0;

	for (int i = 0; i < 400; i++)
		id = add(st, "a", NOW, 1000);
	ASSERT_EQ(id, 400);
	/* Deleting starts past 3/4 of max_bytes: here half of what is used. */
	int64_t used = used_bytes(st);
	p.max_bytes = used * 2 / 3 / 4 * 4;
	int64_t threshold = p.max_bytes / 4 * 3;
	ASSERT_LT(threshold, used / 2 + 4);

	/* Each step deletes a batch of the oldest while the pages in use are
	 * over the threshold, and says there may be more; the first step that
	 * finds them under it deletes nothing and says it is done. */
	for (;;) {
		int64_t before = used_bytes(st), deleted = res.by_bytes;
		int more = before > threshold;
		step(st, &p, 25, &n, &res, more);
		ASSERT_EQ(res.by_bytes - deleted, more ? 25 : 0);
		if (!more)
			break;
		ASSERT_EQ(res.max_id, res.by_bytes);
		ASSERT_LT(++steps, 100);
	}
	ASSERT_LE(used_bytes(st), threshold);
	ASSERT_GT(steps, 1);
	ASSERT_EQ(res.by_age + res.by_count, 0);
	ASSERT_EQ(n, 400 - res.by_bytes);
	ASSERT_EQ(count(st), n);
	ASSERT_EQ(first_id(st), res.max_id + 1);
	/* About half of the events are left. */
	ASSERT_GT(n, 100);
	ASSERT_LT(n, 300);
	store_close(st);
}

static int64_t
file_size(const char *path)
{
	struct stat sb;
	ASSERT_OK(stat(path, &sb));
	return (int64_t)sb.st_size;
}

TEST(compact_shrinks_the_file)
{
	struct retention_policy p = {.max_events = 10};
	struct retention_result res = {0};
	struct store_sizes a, b;
	char path[512], wal[600];
	store *st = store_new("compact", path, sizeof path);
	int64_t n = 300;

	snprintf(wal, sizeof wal, "%s-wal", path);
	for (int i = 0; i < 300; i++)
		add(st, "a", NOW, 2000);
	while (retention_step(st, &p, NOW, 1000, &n, &res) > 0)
		;
	ASSERT_EQ(n, 10);
	ASSERT_OK(store_checkpoint(st, 1));
	ASSERT_OK(store_sizes(st, &a));
	int64_t before = file_size(path);
	ASSERT_EQ(before, a.db_bytes);
	ASSERT_GT(a.free_bytes, 100 * 2000);

	/* At most max_pages at a time. */
	ASSERT_OK(retention_compact(st, 1));
	ASSERT_OK(store_sizes(st, &b));
	int64_t page = a.db_bytes - b.db_bytes;
	ASSERT_GT(page, 0);
	ASSERT_EQ(a.free_bytes - b.free_bytes, page);
	ASSERT_EQ(file_size(path), b.db_bytes);
	ASSERT_EQ(b.wal_bytes, 0);

	/* Then all of them: the file is what is in use, and the WAL empty. */
	ASSERT_OK(retention_compact(st, 100000));
	ASSERT_OK(store_sizes(st, &b));
	ASSERT_EQ(b.free_bytes, 0);
	ASSERT_EQ(b.wal_bytes, 0);
	ASSERT_EQ(file_size(wal), 0);
	ASSERT_EQ(file_size(path), b.db_bytes);
	ASSERT_EQ(b.db_bytes, a.db_bytes - a.free_bytes);
	ASSERT_LT(b.db_bytes * 4, before);
	ASSERT_EQ(count(st), 10);

	/* Nothing to do: cheap, and nothing changes. */
	ASSERT_OK(retention_compact(st, 100000));
	ASSERT_EQ(file_size(path), b.db_bytes);
	store_close(st);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(add_type),
		TEST_ENTRY(active_and_over_bounds),
		TEST_ENTRY(no_policy_deletes_nothing),
		TEST_ENTRY(by_age),
		TEST_ENTRY(by_age_in_batches),
		TEST_ENTRY(by_count),
		TEST_ENTRY(age_then_count_in_one_step),
		TEST_ENTRY(by_size),
		TEST_ENTRY(compact_shrinks_the_file),
	};
	int rc;

	snprintf(root, sizeof root, "/tmp/sentinel-unit-retention-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	printf("in %s\n", root);
	rc = test_run(tests, argc, argv);
	ASSERT_OK(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS));
	return rc;
}
