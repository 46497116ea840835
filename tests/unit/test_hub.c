/*
 * Unit tests of hub.c: reading in order with and without a good hint, eviction by count and by
 * bytes and what it does to cursors, ids with gaps, hub_forget, and freeing (under ASan a leak
 * fails).
 */
#include <stdint.h>
#include <string.h>

#include "assert.h"
#include "hub.h"

/* A message for id whose body does not depend on the id, so that messages
 * of ids with the same number of digits have the same length. */
static struct wire_msg *
msg(int64_t id)
{
	static char body[] = "{\"type\":\"agent\",\"message\":\"hello\"}";
	struct logevent ev = {
		.body = body,
		.body_len = sizeof body - 1,
		.ts_us = id * 1000,
	};
	struct wire_msg *m;

	strcpy(ev.type, "agent");
	m = wire_msg_new(id, &ev);
	ASSERT_NOT_NULL(m);
	return m;
}

/* The payload length of msg(id). */
static size_t
msg_len(int64_t id)
{
	struct wire_msg *m = msg(id);
	size_t len = m->len;
	wire_msg_free(m);
	return len;
}

/* Expect the next message after `after` to be id. */
static void
next_is(hub *h, int64_t after, uint64_t *hint, int64_t id)
{
	const struct wire_msg *m = NULL;
	enum hub_next_result r = hub_next(h, after, hint, &m);

	if (r != HUB_NEXT_MSG)
		fprintf(stderr, "hub_next(after %lld) = %d, wanted id %lld\n", (long long)after,
			(int)r, (long long)id);
	ASSERT_EQ(r, HUB_NEXT_MSG);
	ASSERT_NOT_NULL(m);
	ASSERT_EQ(m->id, id);
}

/* The same, with a fresh hint. */
static void
next_is0(hub *h, int64_t after, int64_t id)
{
	uint64_t hint = 0;
	next_is(h, after, &hint, id);
}

static void
next_result(hub *h, int64_t after, enum hub_next_result expected)
{
	const struct wire_msg *m = NULL;
	uint64_t hint = 0;

	ASSERT_EQ(hub_next(h, after, &hint, &m), expected);
	ASSERT_NULL(m);
}

TEST(publish_and_read_in_order)
{
	hub *h = hub_create(16, 1 << 20, 0);
	size_t bytes = 0;

	ASSERT_NOT_NULL(h);
	ASSERT_EQ(hub_count(h), 0);
	ASSERT_EQ(hub_bytes(h), 0);
	ASSERT_EQ(hub_last_id(h), 0);
	ASSERT_EQ(hub_floor_id(h), 0);
	next_result(h, 0, HUB_NEXT_NONE);

	struct wire_msg *published[5];
	for (int64_t id = 1; id <= 5; id++) {
		published[id - 1] = msg(id);
		bytes += published[id - 1]->len;
		hub_publish(h, published[id - 1]);
		ASSERT_EQ(hub_last_id(h), id);
	}
	ASSERT_EQ(hub_count(h), 5);
	ASSERT_EQ(hub_bytes(h), bytes);
	ASSERT_EQ(hub_floor_id(h), 0);

	/* A cursor walking forward with its hint gets every message, the
	 * very ones published, then NONE. */
	uint64_t hint = 0;
	int64_t cursor = 0;
	for (int64_t id = 1; id <= 5; id++) {
		const struct wire_msg *m = NULL;
		ASSERT_EQ(hub_next(h, cursor, &hint, &m), HUB_NEXT_MSG);
		ASSERT(m == published[id - 1]);
		cursor = m->id;
	}
	const struct wire_msg *m = NULL;
	ASSERT_EQ(hub_next(h, cursor, &hint, &m), HUB_NEXT_NONE);
	ASSERT_NULL(m);
	next_result(h, 6, HUB_NEXT_NONE);
	next_result(h, INT64_MAX, HUB_NEXT_NONE);

	/* New messages continue the same cursor. */
	hub_publish(h, msg(6));
	next_is(h, cursor, &hint, 6);
	hub_destroy(h);
}

TEST(hint_does_not_change_answers)
{
	hub *h = hub_create(8, 1 << 20, 0);

	for (int64_t id = 1; id <= 8; id++)
		hub_publish(h, msg(id));

	/* Every hint, good, stale, past the end or absurd, gives the same
	 * answer as a fresh one. */
	static const uint64_t hints[] = {0, 1, 2, 3, 5, 7, 8, 9, 100, UINT64_MAX};
	for (int64_t after = 0; after < 8; after++) {
		for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
			uint64_t hint = hints[i];
			next_is(h, after, &hint, after + 1);
		}
	}

	/* A hint from a cursor further on, then one from further back. */
	uint64_t hint = 0;
	next_is(h, 6, &hint, 7);
	next_is(h, 1, &hint, 2);
	next_is(h, 2, &hint, 3);
	next_is(h, 7, &hint, 8);
	next_is(h, 0, &hint, 1);
	hub_destroy(h);
}

TEST(evict_by_count)
{
	hub *h = hub_create(4, SIZE_MAX, 0);
	uint64_t hint = 0;

	hub_publish(h, msg(1));
	next_is(h, 0, &hint, 1); /* a reader at 1 with a hint into the ring */
	for (int64_t id = 2; id <= 10; id++)
		hub_publish(h, msg(id));

	ASSERT_EQ(hub_count(h), 4);
	ASSERT_EQ(hub_floor_id(h), 6);
	ASSERT_EQ(hub_last_id(h), 10);
	ASSERT_EQ(hub_bytes(h), msg_len(7) + msg_len(8) + msg_len(9) + msg_len(10));
	ASSERT_EQ(msg_len(10), msg_len(9) + 1);

	/* Older than the floor: behind, read the store. */
	next_result(h, 0, HUB_NEXT_BEHIND);
	next_result(h, 1, HUB_NEXT_BEHIND);
	next_result(h, 5, HUB_NEXT_BEHIND);
	const struct wire_msg *m = NULL;
	ASSERT_EQ(hub_next(h, 1, &hint, &m), HUB_NEXT_BEHIND);
	/* Exactly at the floor: everything after it is here. */
	next_is(h, 6, &hint, 7);
	next_is(h, 7, &hint, 8);
	next_is(h, 8, &hint, 9);
	next_is(h, 9, &hint, 10);
	next_result(h, 10, HUB_NEXT_NONE);
	hub_destroy(h);
}

TEST(evict_by_bytes)
{
	size_t len = msg_len(1);

	hub *h = hub_create(100, 3 * len, 0);
	for (int64_t id = 1; id <= 5; id++)
		hub_publish(h, msg(id));
	ASSERT_EQ(hub_count(h), 3);
	ASSERT_EQ(hub_bytes(h), 3 * len);
	ASSERT_EQ(hub_floor_id(h), 2);
	next_result(h, 1, HUB_NEXT_BEHIND);
	next_is0(h, 2, 3);
	next_is0(h, 4, 5);

	/* A message bigger than the whole budget pushes out everything else
	 * but is kept itself, so the newest event is always in the hub. */
	char body[512];
	memset(body, 'x', sizeof body);
	static const char head[] = "{\"type\":\"a\",\"message\":\"";
	memcpy(body, head, sizeof head - 1);
	memcpy(body + sizeof body - 2, "\"}", 2);
	struct logevent ev = {.body = body, .body_len = sizeof body, .ts_us = 6};
	strcpy(ev.type, "a");
	struct wire_msg *big = wire_msg_new(6, &ev);
	ASSERT_NOT_NULL(big);
	ASSERT_GT(big->len, 3 * len);
	hub_publish(h, big);
	ASSERT_EQ(hub_count(h), 1);
	ASSERT_EQ(hub_bytes(h), big->len);
	ASSERT_EQ(hub_floor_id(h), 5);
	next_is0(h, 5, 6);
	next_result(h, 4, HUB_NEXT_BEHIND);

	/* The next small one evicts the big one. */
	hub_publish(h, msg(7));
	ASSERT_EQ(hub_count(h), 1);
	ASSERT_EQ(hub_bytes(h), len);
	ASSERT_EQ(hub_floor_id(h), 6);
	next_is0(h, 6, 7);
	hub_destroy(h);
}

TEST(capacity_not_a_power_of_two)
{
	hub *h = hub_create(3, SIZE_MAX, 0);

	for (int64_t id = 1; id <= 10; id++) {
		hub_publish(h, msg(id));
		ASSERT_LE(hub_count(h), 3);
	}
	ASSERT_EQ(hub_count(h), 3);
	ASSERT_EQ(hub_floor_id(h), 7);
	uint64_t hint = 0;
	next_is(h, 7, &hint, 8);
	next_is(h, 8, &hint, 9);
	next_is(h, 9, &hint, 10);
	next_result(h, 6, HUB_NEXT_BEHIND);
	hub_destroy(h);

	/* Zero means one. */
	h = hub_create(0, SIZE_MAX, 0);
	hub_publish(h, msg(1));
	hub_publish(h, msg(2));
	ASSERT_EQ(hub_count(h), 1);
	ASSERT_EQ(hub_floor_id(h), 1);
	next_is0(h, 1, 2);
	hub_destroy(h);
}

TEST(ids_with_gaps)
{
	hub *h = hub_create(16, SIZE_MAX, 0);
	static const int64_t ids[] = {1, 2, 5, 9};

	for (size_t i = 0; i < 4; i++)
		hub_publish(h, msg(ids[i]));
	ASSERT_EQ(hub_last_id(h), 9);

	/* The first id above after, for every after, with a fresh hint and
	 * with the hint of a cursor that just read something else. */
	static const int64_t first_above[] = {1, 2, 5, 5, 5, 9, 9, 9, 9};
	for (int64_t after = 0; after < 9; after++) {
		next_is0(h, after, first_above[after]);
		uint64_t hint = 0;
		next_is(h, 0, &hint, 1);
		next_is(h, after, &hint, first_above[after]);
	}
	next_result(h, 9, HUB_NEXT_NONE);
	next_result(h, 10, HUB_NEXT_NONE);

	/* A cursor reading in order. */
	uint64_t hint = 0;
	int64_t cursor = 0;
	for (size_t i = 0; i < 4; i++) {
		next_is(h, cursor, &hint, ids[i]);
		cursor = ids[i];
	}
	hub_destroy(h);

	/* Gaps and eviction: the floor is the last evicted id, and ids between
	 * it and the oldest held one were never committed. */
	h = hub_create(2, SIZE_MAX, 0);
	for (size_t i = 0; i < 4; i++)
		hub_publish(h, msg(ids[i]));
	ASSERT_EQ(hub_floor_id(h), 2);
	next_result(h, 1, HUB_NEXT_BEHIND);
	next_is0(h, 2, 5);
	next_is0(h, 3, 5);
	next_is0(h, 4, 5);
	next_is0(h, 5, 9);
	hub_destroy(h);
}

TEST(starts_after_the_store)
{
	/* The store already holds 100 events: the hub covers ids above 100. */
	hub *h = hub_create(8, SIZE_MAX, 100);

	ASSERT_EQ(hub_last_id(h), 100);
	ASSERT_EQ(hub_floor_id(h), 100);
	next_result(h, 100, HUB_NEXT_NONE);
	next_result(h, 99, HUB_NEXT_BEHIND);
	next_result(h, 0, HUB_NEXT_BEHIND);
	hub_publish(h, msg(101));
	next_is0(h, 100, 101);
	next_result(h, 99, HUB_NEXT_BEHIND);
	next_result(h, 101, HUB_NEXT_NONE);
	hub_destroy(h);
}

TEST(forget)
{
	hub *h = hub_create(8, SIZE_MAX, 0);

	for (int64_t id = 1; id <= 3; id++)
		hub_publish(h, msg(id));
	/* Event 4 was committed but has no wire form. */
	hub_forget(h, 4);
	ASSERT_EQ(hub_count(h), 0);
	ASSERT_EQ(hub_bytes(h), 0);
	ASSERT_EQ(hub_floor_id(h), 4);
	ASSERT_EQ(hub_last_id(h), 4);
	next_result(h, 3, HUB_NEXT_BEHIND);
	next_result(h, 0, HUB_NEXT_BEHIND);
	next_result(h, 4, HUB_NEXT_NONE);

	hub_publish(h, msg(5));
	next_is0(h, 4, 5);
	next_result(h, 3, HUB_NEXT_BEHIND);
	next_result(h, 5, HUB_NEXT_NONE);
	ASSERT_EQ(hub_count(h), 1);
	hub_destroy(h);
}

TEST(drop_through)
{
	hub *h = hub_create(8, SIZE_MAX, 0);

	for (int64_t id = 1; id <= 5; id++)
		hub_publish(h, msg(id));
	/* Retention deleted ids 1-3: a cursor before 3 must go to the store
	 * (and learn of the gap); one at 3 or later is served as before. */
	hub_drop_through(h, 3);
	ASSERT_EQ(hub_count(h), 2);
	ASSERT_EQ(hub_bytes(h), 2 * msg_len(1));
	ASSERT_EQ(hub_floor_id(h), 3);
	ASSERT_EQ(hub_last_id(h), 5);
	next_result(h, 2, HUB_NEXT_BEHIND);
	next_is0(h, 3, 4);
	next_is0(h, 4, 5);

	/* Below the floor: nothing to do. */
	hub_drop_through(h, 1);
	ASSERT_EQ(hub_count(h), 2);
	ASSERT_EQ(hub_floor_id(h), 3);

	/* Everything: the hub is empty and caught up with the last id. */
	hub_drop_through(h, 100);
	ASSERT_EQ(hub_count(h), 0);
	ASSERT_EQ(hub_bytes(h), 0);
	ASSERT_EQ(hub_floor_id(h), 5);
	ASSERT_EQ(hub_last_id(h), 5);
	next_result(h, 4, HUB_NEXT_BEHIND);
	next_result(h, 5, HUB_NEXT_NONE);
	hub_publish(h, msg(6));
	next_is0(h, 5, 6);
	hub_destroy(h);
}

TEST(fast_and_slow_readers)
{
	/* 1000 events through a ring of 8. A reader that keeps up gets every
	 * id from the hub; one that reads every 20 events falls behind, takes
	 * the missing ids "from the store" (up to the floor) and still sees
	 * every id exactly once, in order. */
	hub *h = hub_create(8, SIZE_MAX, 0);
	int64_t fast = 0, slow = 0, from_store = 0;
	uint64_t fast_hint = 0, slow_hint = 0;

	for (int64_t id = 1; id <= 1000; id++) {
		hub_publish(h, msg(id));
		next_is(h, fast, &fast_hint, fast + 1);
		fast++;
		if (id % 20 != 0)
			continue;
		for (;;) {
			const struct wire_msg *m = NULL;
			enum hub_next_result r = hub_next(h, slow, &slow_hint, &m);
			if (r == HUB_NEXT_NONE)
				break;
			if (r == HUB_NEXT_BEHIND) {
				ASSERT_LT(slow, hub_floor_id(h));
				from_store += hub_floor_id(h) - slow;
				slow = hub_floor_id(h);
				continue;
			}
			ASSERT_EQ(r, HUB_NEXT_MSG);
			ASSERT_EQ(m->id, slow + 1);
			slow = m->id;
		}
		ASSERT_EQ(slow, id);
	}
	ASSERT_EQ(fast, 1000);
	ASSERT_EQ(slow, 1000);
	ASSERT_EQ(from_store, 50 * 12); /* 12 of every 20 were evicted */
	ASSERT_EQ(hub_count(h), 8);
	hub_destroy(h);
}

TEST(destroy)
{
	/* Messages still held are freed with the hub; ASan reports a leak. */
	hub *h = hub_create(4, SIZE_MAX, 0);
	for (int64_t id = 1; id <= 3; id++)
		hub_publish(h, msg(id));
	hub_destroy(h);
	hub_destroy(NULL);
	h = hub_create(1, 1, 0);
	hub_destroy(h);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(publish_and_read_in_order),
		TEST_ENTRY(hint_does_not_change_answers),
		TEST_ENTRY(evict_by_count),
		TEST_ENTRY(evict_by_bytes),
		TEST_ENTRY(capacity_not_a_power_of_two),
		TEST_ENTRY(ids_with_gaps),
		TEST_ENTRY(starts_after_the_store),
		TEST_ENTRY(forget),
		TEST_ENTRY(drop_through),
		TEST_ENTRY(fast_and_slow_readers),
		TEST_ENTRY(destroy),
	};

	return test_run(tests, argc, argv);
}
