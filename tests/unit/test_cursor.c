/*
 * Unit tests of cursor.c over an in-memory journal (journal_new with ops of
 * this file's own) and a real hub: where a cursor starts (nothing, after_id,
 * since, an unknown epoch, an id above the journal's), replay from the
 * journal then the hub with no gap and no duplicate, the type and since
 * filters, the budget of a turn, the control messages (hello, live, gap
 * for retention and for lost ids, reset), a sink that drops events, waking
 * and stopping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "cursor.h"
#include "err.h"

/* ------------------------------------------------------ in-memory journal */

#define MAX_ROWS 64

struct mem {
	struct {
		int64_t id, ts_us;
		char type[16];
		char body[64];
	} rows[MAX_ROWS];
	int count;
	int64_t last_id;            /* highest id handed out */
	int64_t lost_from, lost_to; /* one lost range, or 0 and 0 */
	int reads;                  /* read_after calls */
};

static int
mem_read_after(void *impl, int64_t after_id, int limit, store_row_fn fn, void *arg, int *count_out)
{
	struct mem *m = impl;
	int n = 0;

	m->reads++;
	for (int i = 0; i < m->count && n < limit; i++) {
		if (m->rows[i].id <= after_id)
			continue;
		struct store_row row = {m->rows[i].id, m->rows[i].ts_us, m->rows[i].type,
					m->rows[i].body, strlen(m->rows[i].body)};
		n++;
		if (fn(&row, arg))
			break;
	}
	*count_out = n;
	return 0;
}

static int
mem_first_id(void *impl, int64_t *id_out)
{
	struct mem *m = impl;
	*id_out = m->count ? m->rows[0].id : 0;
	return 0;
}

static int
mem_last_id(void *impl, int64_t *id_out)
{
	*id_out = ((struct mem *)impl)->last_id;
	return 0;
}

static int
mem_lost(void *impl, int64_t id, int64_t *from_out, int64_t *to_out)
{
	struct mem *m = impl;
	int hit = m->lost_to && m->lost_to >= id;
	*from_out = hit ? m->lost_from : 0;
	*to_out = hit ? m->lost_to : 0;
	return 0;
}

static int
mem_first_id_since(void *impl, int64_t ts_us, int64_t *id_out)
{
	struct mem *m = impl;
	*id_out = 0;
	for (int i = 0; i < m->count; i++)
		if (m->rows[i].ts_us >= ts_us) {
			*id_out = m->rows[i].id;
			break;
		}
	return 0;
}

static const char *
mem_epoch(void *impl)
{
	(void)impl;
	return "abc123";
}

static const char *
mem_errmsg(void *impl)
{
	(void)impl;
	return "";
}

static const struct journal_ops mem_ops = {
	.read_after = mem_read_after,
	.first_id = mem_first_id,
	.last_id = mem_last_id,
	.lost = mem_lost,
	.first_id_since = mem_first_id_since,
	.epoch = mem_epoch,
	.errmsg = mem_errmsg,
};

/* Store an event of type with id; its timestamp is id seconds. */
static void
mem_add(struct mem *m, int64_t id, const char *type)
{
	ASSERT_LT(m->count, MAX_ROWS);
	m->rows[m->count].id = id;
	m->rows[m->count].ts_us = id * 1000000;
	snprintf(m->rows[m->count].type, sizeof m->rows[m->count].type, "%s", type);
	snprintf(m->rows[m->count].body, sizeof m->rows[m->count].body,
		 "{\"type\":\"%s\",\"message\":\"m%lld\"}", type, (long long)id);
	m->count++;
	m->last_id = id;
}

/* Publish the stored event id to the hub, as the server does after commit. */
static void
publish(hub *h, struct mem *m, int64_t id)
{
	for (int i = 0; i < m->count; i++) {
		if (m->rows[i].id != id)
			continue;
		struct logevent ev = {m->rows[i].body, strlen(m->rows[i].body), m->rows[i].ts_us,
				      ""};
		strcpy(ev.type, m->rows[i].type);
		struct wire_msg *w = wire_msg_new(id, &ev);
		ASSERT_NOT_NULL(w);
		hub_publish(h, w);
		return;
	}
	ASSERT(0);
}

/* --------------------------------------------------------------- the sink */

/* What a sink was handed, as text: "1 2 gap(3-4,retention) 5 live(5)". */
struct record {
	char text[2048];
	int wakes;
	int drop_odd; /* drop events with odd ids, as a LogQL filter would */
};

static void
append(struct record *r, const char *s)
{
	size_t len = strlen(r->text);
	snprintf(r->text + len, sizeof r->text - len, "%s%s", len ? " " : "", s);
}

static long
rec_event(void *arg, const struct cursor_event *ev)
{
	struct record *r = arg;
	char buf[128], want[64];

	if (r->drop_odd && ev->id % 2)
		return 0;
	/* The wire form starts with the id; a stored body does not have it. */
	snprintf(want, sizeof want, "{\"id\":%lld,", (long long)ev->id);
	if (ev->wire)
		ASSERT(!strncmp(ev->json, want, strlen(want)));
	else
		ASSERT_EQ(ev->json[1], '"');
	snprintf(buf, sizeof buf, "%lld", (long long)ev->id);
	append(r, buf);
	return (long)ev->len;
}

static int
rec_control(void *arg, const char *name, const char *json, size_t len)
{
	struct record *r = arg;
	char buf[300];
	long long a = 0, b = 0;
	char reason[32] = "";

	ASSERT_EQ(json[len], '\0');
	if (!strcmp(name, "gap")) {
		ASSERT_EQ(sscanf(json,
				 "{\"control\":\"gap\",\"from_id\":%lld,\"to_id\":%lld,\"reason\":"
				 "\"%31["
				 "a-z]",
				 &a, &b, reason),
			  3);
		snprintf(buf, sizeof buf, "gap(%lld-%lld,%s)", a, b, reason);
	} else if (!strcmp(name, "live")) {
		ASSERT_EQ(sscanf(json, "{\"control\":\"live\",\"last_id\":%lld}", &a), 1);
		snprintf(buf, sizeof buf, "live(%lld)", a);
	} else if (!strcmp(name, "hello")) {
		ASSERT_EQ(sscanf(json,
				 "{\"control\":\"hello\",\"epoch\":\"abc123\",\"first_id\":%lld,"
				 "\"last_id\":%lld}",
				 &a, &b),
			  2);
		snprintf(buf, sizeof buf, "hello(%lld-%lld)", a, b);
	} else {
		ASSERT_STR_EQ(name, "reset");
		ASSERT_STR_EQ(json, "{\"control\":\"reset\",\"epoch\":\"abc123\"}");
		snprintf(buf, sizeof buf, "reset");
	}
	append(r, buf);
	return 0;
}

static void
rec_wake(void *arg)
{
	((struct record *)arg)->wakes++;
}

/* --------------------------------------------------------------- fixture */

struct fixture {
	struct mem mem;
	journal *j;
	hub *h;
	cursor_set *set;
	struct record rec;
	struct cursor_sink sink;
};

/* Events 1..n stored; those from hub_from on also in the hub. */
static void
setup(struct fixture *f, int64_t n, int64_t hub_from)
{
	memset(f, 0, sizeof *f);
	for (int64_t id = 1; id <= n; id++)
		mem_add(&f->mem, id, id % 3 ? "agent" : "error");
	f->j = journal_new(&mem_ops, &f->mem);
	f->h = hub_create(1000, 1 << 20, hub_from - 1);
	ASSERT_NOT_NULL(f->j);
	ASSERT_NOT_NULL(f->h);
	for (int64_t id = hub_from; id <= n; id++)
		publish(f->h, &f->mem, id);
	f->set = cursor_set_create(f->j, f->h);
	ASSERT_NOT_NULL(f->set);
	f->sink = (struct cursor_sink){rec_event, rec_control, &f->rec};
}

static void
teardown(struct fixture *f)
{
	cursor_set_destroy(f->set);
	hub_destroy(f->h);
	journal_free(f->j);
}

/* A started cursor for the parameters "name=value&..." (query_set_subscribe). */
static cursor *
start(struct fixture *f, const char *params)
{
	struct query q;
	char buf[256], errmsg[ERRMSG_SIZE], *save = NULL;

	query_init(&q);
	snprintf(buf, sizeof buf, "%s", params);
	for (char *p = strtok_r(buf, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(p, '=');
		ASSERT_NOT_NULL(eq);
		*eq = '\0';
		ASSERT_OK(query_set_subscribe(&q, p, eq + 1, 100 * 1000000LL, errmsg));
	}
	cursor *c = cursor_new(f->set, &q, rec_wake, &f->rec);
	ASSERT_NOT_NULL(c);
	ASSERT_OK(cursor_start(c));
	return c;
}

/* Run turns until the cursor waits; returns the number of turns. */
static int
drain(struct fixture *f, cursor *c)
{
	int turns = 0, rc;

	while ((rc = cursor_fill(c, &f->sink, 1000, 1 << 20)) == 1)
		turns++;
	ASSERT_EQ(rc, 0);
	return turns + 1;
}

/* ------------------------------------------------------------------ tests */

TEST(no_parameters_is_live_only)
{
	struct fixture f;
	setup(&f, 5, 1);
	cursor *c = start(&f, "");
	ASSERT_EQ(cursor_last_id(c), 5);
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "");

	mem_add(&f.mem, 6, "agent");
	publish(f.h, &f.mem, 6);
	cursor_set_wake(f.set);
	ASSERT_EQ(f.rec.wakes, 1);
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "6");
	/* Woken only while waiting, once per wait. */
	cursor_set_wake(f.set);
	cursor_set_wake(f.set);
	ASSERT_EQ(f.rec.wakes, 2);
	cursor_free(c);
	teardown(&f);
}

TEST(after_id_replays_from_journal_then_hub)
{
	struct fixture f;
	setup(&f, 12, 8); /* 1..7 only in the journal */
	cursor *c = start(&f, "after_id=3&control=1");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "hello(1-12) 4 5 6 7 8 9 10 11 12 live(12)");
	ASSERT(f.mem.reads >= 1);

	struct cursor_stats st;
	cursor_set_get_stats(f.set, &st);
	ASSERT_EQ(st.cursors, 1);
	ASSERT_EQ(st.deliveries, 9);
	ASSERT_EQ(st.replay_rows, 9); /* one page: 4..12 */
	cursor_free(c);
	cursor_set_get_stats(f.set, &st);
	ASSERT_EQ(st.cursors, 0);
	teardown(&f);
}

TEST(budget_ends_a_turn)
{
	struct fixture f;
	setup(&f, 10, 6);
	cursor *c = start(&f, "after_id=0");
	ASSERT_EQ(cursor_fill(c, &f.sink, 3, 1 << 20), 1);
	ASSERT_STR_EQ(f.rec.text, "1 2 3");
	ASSERT_EQ(cursor_fill(c, &f.sink, 3, 1 << 20), 1);
	ASSERT_STR_EQ(f.rec.text, "1 2 3 4 5 6");
	/* A byte budget of one event's worth also ends the turn. */
	ASSERT_EQ(cursor_fill(c, &f.sink, 100, 1), 1);
	ASSERT_STR_EQ(f.rec.text, "1 2 3 4 5 6 7");
	ASSERT_EQ(cursor_fill(c, &f.sink, 100, 1 << 20), 0);
	ASSERT_STR_EQ(f.rec.text, "1 2 3 4 5 6 7 8 9 10");
	cursor_free(c);
	teardown(&f);
}

TEST(type_filter_moves_the_cursor)
{
	struct fixture f;
	setup(&f, 10, 5);
	cursor *c = start(&f, "after_id=0&type=error");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "3 6 9");
	ASSERT_EQ(cursor_last_id(c), 10);
	cursor_free(c);
	teardown(&f);
}

TEST(since_filters_the_replay_only)
{
	struct fixture f;
	setup(&f, 10, 1);
	/* Event N has timestamp N s; since 6 s starts at id 6. */
	cursor *c = start(&f, "since=1970-01-01T00:00:06Z");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "6 7 8 9 10");
	cursor_free(c);

	f.rec.text[0] = '\0';
	/* since=all replays everything; after_id takes the later start. */
	c = start(&f, "since=all&after_id=7");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "8 9 10");
	cursor_free(c);
	teardown(&f);
}

TEST(sink_may_drop_events)
{
	struct fixture f;
	setup(&f, 6, 4);
	f.rec.drop_odd = 1;
	cursor *c = start(&f, "after_id=0");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "2 4 6");
	ASSERT_EQ(cursor_last_id(c), 6);
	struct cursor_stats st;
	cursor_set_get_stats(f.set, &st);
	ASSERT_EQ(st.deliveries, 3);
	cursor_free(c);
	teardown(&f);
}

TEST(retention_gap_is_reported)
{
	struct fixture f;
	setup(&f, 10, 9);
	/* Retention removed 1..4. */
	memmove(&f.mem.rows[0], &f.mem.rows[4], 6 * sizeof f.mem.rows[0]);
	f.mem.count = 6;
	cursor *c = start(&f, "after_id=2&control=1");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "hello(5-10) gap(3-4,retention) 5 6 7 8 9 10 live(10)");
	cursor_free(c);

	/* Without control=1 the events come, the gap is silent. */
	f.rec.text[0] = '\0';
	c = start(&f, "after_id=2");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "5 6 7 8 9 10");
	cursor_free(c);
	teardown(&f);
}

TEST(gap_in_the_middle_of_a_replay)
{
	struct fixture f;
	setup(&f, 10, 10);
	/* Ids 4..6 gone from the middle (as between two retention steps). */
	memmove(&f.mem.rows[3], &f.mem.rows[6], 4 * sizeof f.mem.rows[0]);
	f.mem.count = 7;
	cursor *c = start(&f, "after_id=1&control=1");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "hello(1-10) 2 3 gap(4-6,retention) 7 8 9 10 live(10)");
	cursor_free(c);
	teardown(&f);
}

TEST(lost_ids_are_named_whole)
{
	struct fixture f;
	setup(&f, 5, 1);
	/* An unclean stop lost 6..9 (handed out, never committed); new ids
	 * start at 10. A client that saw 7 before the stop resumes. */
	f.mem.lost_from = 6;
	f.mem.lost_to = 9;
	for (int64_t id = 10; id <= 11; id++) {
		mem_add(&f.mem, id, "agent");
		publish(f.h, &f.mem, id);
	}
	cursor *c = start(&f, "after_id=7&control=1");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "hello(1-11) gap(6-9,lost) 10 11 live(11)");
	cursor_free(c);

	/* From before the range: the gap comes in its place. */
	f.rec.text[0] = '\0';
	c = start(&f, "after_id=4&control=1");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "hello(1-11) 5 gap(6-9,lost) 10 11 live(11)");
	cursor_free(c);
	teardown(&f);
}

TEST(reset_for_other_epoch_or_unknown_id)
{
	struct fixture f;
	setup(&f, 4, 1);
	cursor *c = start(&f, "after_id=2&epoch=beef&control=1");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "hello(1-4) reset 1 2 3 4 live(4)");
	cursor_free(c);

	f.rec.text[0] = '\0';
	c = start(&f, "after_id=99&epoch=abc123&control=1");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "hello(1-4) reset 1 2 3 4 live(4)");
	cursor_free(c);

	/* The store's own epoch and a known id: a plain resume. */
	f.rec.text[0] = '\0';
	c = start(&f, "after_id=3&epoch=abc123&control=1");
	drain(&f, c);
	ASSERT_STR_EQ(f.rec.text, "hello(1-4) 4 live(4)");
	cursor_free(c);
	teardown(&f);
}

TEST(stop_wakes_all_and_refuses_new)
{
	struct fixture f;
	setup(&f, 3, 1);
	cursor *a = start(&f, "");
	cursor *b = start(&f, "after_id=0");
	ASSERT_EQ(cursor_fill(b, &f.sink, 1, 1 << 20), 1); /* b is not waiting */
	cursor_set_stop(f.set);
	ASSERT_EQ(f.rec.wakes, 2);
	ASSERT_EQ(cursor_set_stopping(f.set), 1);

	struct query q;
	query_init(&q);
	cursor *c = cursor_new(f.set, &q, rec_wake, &f.rec);
	ASSERT_NOT_NULL(c);
	ASSERT_EQ(cursor_start(c), ERR_CLOSED);
	cursor_free(c); /* never started */
	cursor_free(a);
	cursor_free(b);
	teardown(&f);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(no_parameters_is_live_only),
		TEST_ENTRY(after_id_replays_from_journal_then_hub),
		TEST_ENTRY(budget_ends_a_turn),
		TEST_ENTRY(type_filter_moves_the_cursor),
		TEST_ENTRY(since_filters_the_replay_only),
		TEST_ENTRY(sink_may_drop_events),
		TEST_ENTRY(retention_gap_is_reported),
		TEST_ENTRY(gap_in_the_middle_of_a_replay),
		TEST_ENTRY(lost_ids_are_named_whole),
		TEST_ENTRY(reset_for_other_epoch_or_unknown_id),
		TEST_ENTRY(stop_wakes_all_and_refuses_new),
	};
	return test_run(tests, argc, argv);
}
