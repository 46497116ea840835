/*
 * Unit tests for idem.c: keys in flight (the first request goes on, the
 * same request waits for its answer, another is refused, at most
 * IDEM_MAX_WAITERS wait), a first request that stores nothing, waiters
 * that leave, keys answered from the store, the window, and fingerprints.
 * The journal is played by hand: the test calls the batch's on_done as the
 * server's wake-up handler would.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "assert.h"
#include "err.h"
#include "idem.h"
#include "ingest.h"
#include "store.h"
#include "store_keys.h"
#include "timestamp.h"

#define US     INT64_C(1000000)
#define WINDOW (3600 * US)

static char root[64];

/* What one request was answered. */
struct seen {
	int calls;
	int status;
	int replayed;
	char body[256];
	char errmsg[256];
};

static void
on_answer(void *arg, const struct idem_answer *a)
{
	struct seen *s = arg;

	s->calls++;
	s->status = a->status;
	s->replayed = a->replayed;
	snprintf(s->body, sizeof s->body, "%s", a->body ? a->body : "");
	snprintf(s->errmsg, sizeof s->errmsg, "%s", a->errmsg ? a->errmsg : "");
}

/* A store with the schema, and the loop's read-only handle on it. */
static store *
open_reader(const char *name, store **writer_out)
{
	char path[256], errmsg[ERRMSG_SIZE];
	int err;

	snprintf(path, sizeof path, "%s/%s.db", root, name);
	store *w = store_open(path, STORE_WRITE, &err, errmsg);
	ASSERT_NOT_NULL(w);
	store *r = store_open(path, STORE_READONLY, &err, errmsg);
	ASSERT_NOT_NULL(r);
	*writer_out = w;
	return r;
}

static void
hash_of(const char *body, unsigned char *out)
{
	idem_fingerprint("events", "json", body, strlen(body), out);
}

/* A parsed batch of n events, as the endpoint hands it to the journal. */
static struct ingest_batch *
batch_of(int n)
{
	char body[512] = "[";
	struct ingest_error err;

	for (int i = 0; i < n; i++)
		strcat(body, i ? ",{\"type\":\"t\",\"message\":\"m\"}"
			       : "{\"type\":\"t\",\"message\":\"m\"}");
	strcat(body, "]");
	struct ingest_batch *b = ingest_parse(body, strlen(body), INGEST_JSON, 4096, &err);
	ASSERT_NOT_NULL(b);
	b->idem_key = strdup("k");
	ASSERT_NOT_NULL(b->idem_key);
	return b;
}

/* The journal is done with b: committed with these ids, or failed. */
static void
commit(struct ingest_batch *b, int64_t first_id, int status)
{
	b->first_id = first_id;
	b->last_id = first_id + (int64_t)b->count - 1;
	b->status = status;
	if (status)
		snprintf(b->errmsg, sizeof b->errmsg, "storage full");
	b->on_done(b);
}

TEST(the_first_goes_on_the_same_waits_another_is_refused)
{
	store *w, *r = open_reader("inflight", &w);
	idem *id = idem_create(r, WINDOW);
	unsigned char h1[INGEST_KEY_HASH_SIZE], h2[INGEST_KEY_HASH_SIZE];
	struct seen first = {0}, same = {0}, other = {0}, later = {0};
	struct idem_wait *w1 = NULL, *w2 = NULL, *w3 = NULL;
	struct idem_stats st;

	ASSERT_NOT_NULL(id);
	ASSERT_EQ(idem_enabled(id), 1);
	hash_of("[1]", h1);
	hash_of("[2]", h2);
	ASSERT_EQ(idem_check(id, "k", h1, 0, on_answer, &first, &w1), IDEM_NEW);
	ASSERT_NOT_NULL(w1);
	ASSERT_EQ(idem_check(id, "k", h1, 0, on_answer, &same, &w2), IDEM_WAITING);
	ASSERT_EQ(idem_check(id, "k", h2, 0, on_answer, &other, &w3), IDEM_ANSWERED);
	ASSERT_EQ(other.calls, 1);
	ASSERT_EQ(other.status, 422);
	ASSERT_EQ(first.calls + same.calls, 0);

	struct ingest_batch *b = batch_of(3);
	idem_attach(w1, b);
	ASSERT_EQ(b->idem_status, 200);
	ASSERT_MEM_EQ(b->idem_hash, h1, INGEST_KEY_HASH_SIZE);
	commit(b, 7, 0);
	ASSERT_EQ(first.calls, 1);
	ASSERT_EQ(first.status, 200);
	ASSERT_EQ(first.replayed, 0);
	ASSERT_STR_EQ(first.body, "{\"accepted\":3,\"first_id\":7,\"last_id\":9}");
	ASSERT_EQ(same.calls, 1);
	ASSERT_EQ(same.replayed, 1);
	ASSERT_STR_EQ(same.body, first.body);

	/* No longer in flight; the store (not written here) does not know it. */
	ASSERT_EQ(idem_check(id, "k", h2, 0, on_answer, &later, &w1), IDEM_NEW);
	idem_abandon(w1);
	ASSERT_EQ(later.calls, 0);
	idem_get_stats(id, &st);
	ASSERT_EQ(st.replays, 1);
	ASSERT_EQ(st.conflicts, 1);
	idem_destroy(id);
	store_close(r);
	store_close(w);
}

TEST(a_failed_commit_answers_everyone_with_its_error)
{
	store *w, *r = open_reader("failed", &w);
	idem *id = idem_create(r, WINDOW);
	unsigned char h[INGEST_KEY_HASH_SIZE];
	struct seen first = {0}, same = {0};
	struct idem_wait *w1, *w2;

	hash_of("[1]", h);
	ASSERT_EQ(idem_check(id, "k", h, 0, on_answer, &first, &w1), IDEM_NEW);
	ASSERT_EQ(idem_check(id, "k", h, 0, on_answer, &same, &w2), IDEM_WAITING);
	struct ingest_batch *b = batch_of(1);
	idem_attach(w1, b);
	commit(b, 1, ERR_FULL);
	ASSERT_EQ(first.status, 503);
	ASSERT_EQ(same.status, 503);
	ASSERT_EQ(same.replayed, 0);
	ASSERT_STR_EQ(same.errmsg, "storage full");
	/* The key is free for the retry. */
	ASSERT_EQ(idem_check(id, "k", h, 0, on_answer, &first, &w1), IDEM_NEW);
	idem_abandon(w1);
	idem_destroy(id);
	store_close(r);
	store_close(w);
}

TEST(at_most_so_many_wait)
{
	store *w, *r = open_reader("busy", &w);
	idem *id = idem_create(r, WINDOW);
	unsigned char h[INGEST_KEY_HASH_SIZE];
	struct seen s[IDEM_MAX_WAITERS + 1];
	struct idem_wait *waits[IDEM_MAX_WAITERS + 1];
	struct idem_stats st;

	memset(s, 0, sizeof s);
	hash_of("[1]", h);
	ASSERT_EQ(idem_check(id, "k", h, 0, on_answer, &s[0], &waits[0]), IDEM_NEW);
	for (int i = 1; i < IDEM_MAX_WAITERS; i++)
		ASSERT_EQ(idem_check(id, "k", h, 0, on_answer, &s[i], &waits[i]), IDEM_WAITING);
	ASSERT_EQ(idem_check(id, "k", h, 0, on_answer, &s[IDEM_MAX_WAITERS],
			     &waits[IDEM_MAX_WAITERS]),
		  IDEM_ANSWERED);
	ASSERT_EQ(s[IDEM_MAX_WAITERS].status, 409);
	idem_get_stats(id, &st);
	ASSERT_EQ(st.busy, 1);

	/* One leaves: its place is free again, and it is never answered. */
	idem_cancel(waits[3]);
	struct seen late = {0};
	struct idem_wait *late_wait;
	ASSERT_EQ(idem_check(id, "k", h, 0, on_answer, &late, &late_wait), IDEM_WAITING);

	/* The first stores nothing after all: the others are told to retry. */
	idem_abandon(waits[0]);
	ASSERT_EQ(s[0].calls, 0);
	ASSERT_EQ(s[3].calls, 0);
	for (int i = 1; i < IDEM_MAX_WAITERS; i++) {
		if (i == 3)
			continue;
		ASSERT_EQ(s[i].calls, 1);
		ASSERT_EQ(s[i].status, 409);
	}
	ASSERT_EQ(late.status, 409);
	idem_destroy(id);
	store_close(r);
	store_close(w);
}

TEST(the_first_may_leave_its_batch_still_answers_the_others)
{
	store *w, *r = open_reader("leave", &w);
	idem *id = idem_create(r, WINDOW);
	unsigned char h[INGEST_KEY_HASH_SIZE];
	struct seen first = {0}, same = {0};
	struct idem_wait *w1, *w2;

	hash_of("[1]", h);
	ASSERT_EQ(idem_check(id, "k", h, 1, on_answer, &first, &w1), IDEM_NEW);
	struct ingest_batch *b = batch_of(2);
	idem_attach(w1, b);
	ASSERT_EQ(b->idem_status, 204); /* a Loki push */
	idem_cancel(w1);
	ASSERT_EQ(idem_check(id, "k", h, 1, on_answer, &same, &w2), IDEM_WAITING);
	commit(b, 1, 0);
	ASSERT_EQ(first.calls, 0);
	ASSERT_EQ(same.calls, 1);
	ASSERT_EQ(same.status, 204);
	ASSERT_EQ(same.replayed, 1);
	ASSERT_STR_EQ(same.body, "");
	idem_destroy(id);
	store_close(r);
	store_close(w);
}

TEST(answered_keys_come_from_the_store_within_the_window)
{
	store *w, *r = open_reader("stored", &w);
	idem *id = idem_create(r, WINDOW);
	unsigned char h[INGEST_KEY_HASH_SIZE], other[INGEST_KEY_HASH_SIZE];
	char answer[] = "{\"accepted\":2,\"first_id\":4,\"last_id\":5}";
	struct store_key k = {.status = 200, .first_id = 4, .last_id = 5, .answer = answer};
	struct seen s1 = {0}, s2 = {0}, s3 = {0};
	struct idem_wait *wait = NULL;

	hash_of("[1]", h);
	hash_of("[1] ", other);
	memcpy(k.hash, h, sizeof k.hash);
	k.created_us = timestamp_now();
	ASSERT_OK(store_begin(w));
	ASSERT_OK(store_keys_put(w, "fresh", &k));
	k.created_us = timestamp_now() - WINDOW - US;
	ASSERT_OK(store_keys_put(w, "stale", &k));
	ASSERT_OK(store_commit(w));

	ASSERT_EQ(idem_check(id, "fresh", h, 0, on_answer, &s1, &wait), IDEM_ANSWERED);
	ASSERT_EQ(s1.status, 200);
	ASSERT_EQ(s1.replayed, 1);
	ASSERT_STR_EQ(s1.body, k.answer);
	ASSERT_EQ(idem_check(id, "fresh", other, 0, on_answer, &s2, &wait), IDEM_ANSWERED);
	ASSERT_EQ(s2.status, 422);
	/* Past the window a key counts as unused. */
	ASSERT_EQ(idem_check(id, "stale", other, 0, on_answer, &s3, &wait), IDEM_NEW);
	ASSERT_EQ(s3.calls, 0);
	idem_abandon(wait);
	idem_destroy(id);

	/* A window of 0 turns keys off. */
	id = idem_create(r, 0);
	ASSERT_EQ(idem_enabled(id), 0);
	idem_destroy(id);
	store_close(r);
	store_close(w);
}

TEST(fingerprints)
{
	unsigned char a[INGEST_KEY_HASH_SIZE], b[INGEST_KEY_HASH_SIZE];

	idem_fingerprint("events", "json", "[1]", 3, a);
	idem_fingerprint("events", "json", "[1]", 3, b);
	ASSERT_MEM_EQ(a, b, sizeof a);
	idem_fingerprint("loki", "json", "[1]", 3, b);
	ASSERT(memcmp(a, b, sizeof a) != 0);
	idem_fingerprint("events", "json&partial=1", "[1]", 3, b);
	ASSERT(memcmp(a, b, sizeof a) != 0);
	idem_fingerprint("events", "json", "[2]", 3, b);
	ASSERT(memcmp(a, b, sizeof a) != 0);
	/* The parts are kept apart. */
	idem_fingerprint("ab", "c", "", 0, a);
	idem_fingerprint("a", "bc", "", 0, b);
	ASSERT(memcmp(a, b, sizeof a) != 0);
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(the_first_goes_on_the_same_waits_another_is_refused),
		TEST_ENTRY(a_failed_commit_answers_everyone_with_its_error),
		TEST_ENTRY(at_most_so_many_wait),
		TEST_ENTRY(the_first_may_leave_its_batch_still_answers_the_others),
		TEST_ENTRY(answered_keys_come_from_the_store_within_the_window),
		TEST_ENTRY(fingerprints),
	};
	int rc;

	snprintf(root, sizeof root, "/tmp/sentinel-unit-idem-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	rc = test_run(tests, argc, argv);
	ASSERT_OK(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS));
	return rc;
}
