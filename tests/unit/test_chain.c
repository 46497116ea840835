/*
 * Unit tests of chain.c: the link (SHA-256 of the previous hash, the id as
 * 8 bytes big-endian and the body) against values computed independently
 * (Python's hashlib), hex in and out, and the walk that checks a chain:
 * intact, and each way it breaks (a changed body or hash, a hole in the
 * ids, an id at or below one passed, a missing hash), with the first bad id
 * it names, and deleted links carrying the walk across deletions.
 */
#include <stdint.h>
#include <string.h>

#include "assert.h"
#include "chain.h"
#include "err.h"

#define BODY1 "{\"type\":\"system\",\"message\":\"one\"}"
#define BODY2 "{\"type\":\"agent\",\"message\":\"dos \xc3\xb1 \xf0\x9f\x9a\x80\"}"
/* hashlib.sha256(b'\0' * 32 + (1).to_bytes(8, 'big') + BODY1) */
#define HASH1 "b697abbf58ff4107d558000826869346789b22ad936ac34da42febe8d5478001"
/* ... and from it, id 2 and BODY2 */
#define HASH2 "b261929ecec9fe79c0f0f4d30c192c4dd8052f69a674235352c5af212c2b471e"

static const char *const bodies[] = {BODY1, BODY2, "{\"n\":3}", "{\"n\":4}", "{\"n\":5}"};

/* Link ids 1..n of bodies from zero into hashes. */
static void
link_all(chain *c, unsigned char (*hashes)[CHAIN_HASH_SIZE], int n)
{
	static const unsigned char zero[CHAIN_HASH_SIZE];
	for (int i = 0; i < n; i++)
		ASSERT_OK(chain_link(c, i ? hashes[i - 1] : zero, i + 1, bodies[i],
				     strlen(bodies[i]), hashes[i]));
}

TEST(link_matches_sha256)
{
	unsigned char h[2][CHAIN_HASH_SIZE];
	char hex[CHAIN_HEX_SIZE];
	chain *c = chain_new();

	ASSERT_NOT_NULL(c);
	link_all(c, h, 2);
	chain_hex(h[0], hex);
	ASSERT_STR_EQ(hex, HASH1);
	chain_hex(h[1], hex);
	ASSERT_STR_EQ(hex, HASH2);
	/* The same context again gives the same link. */
	unsigned char again[CHAIN_HASH_SIZE];
	ASSERT_OK(chain_link(c, h[0], 2, BODY2, strlen(BODY2), again));
	ASSERT_EQ(memcmp(again, h[1], CHAIN_HASH_SIZE), 0);
	/* The id counts: the same body under another id links differently. */
	ASSERT_OK(chain_link(c, h[0], 3, BODY2, strlen(BODY2), again));
	ASSERT_NE(memcmp(again, h[1], CHAIN_HASH_SIZE), 0);
	chain_free(c);
}

TEST(hex)
{
	unsigned char h[CHAIN_HASH_SIZE];
	char hex[CHAIN_HEX_SIZE];

	ASSERT_OK(chain_unhex(HASH1, strlen(HASH1), h));
	chain_hex(h, hex);
	ASSERT_STR_EQ(hex, HASH1);
	char upper[] = "B697ABBF58FF4107D558000826869346789B22AD936AC34DA42FEBE8D5478001";
	ASSERT_OK(chain_unhex(upper, strlen(upper), h));
	chain_hex(h, hex);
	ASSERT_STR_EQ(hex, HASH1);
	memset(h, 0x5a, sizeof h);
	ASSERT_EQ(chain_unhex(HASH1, 63, h), ERR_INVAL);
	ASSERT_EQ(chain_unhex("g" HASH1, 64, h), ERR_INVAL);
	ASSERT_EQ(h[0], 0x5a); /* untouched on failure */
}

TEST(check_intact_and_deleted_links)
{
	unsigned char h[5][CHAIN_HASH_SIZE];
	struct chain_check k;
	chain *c = chain_new();

	link_all(c, h, 5);
	chain_check_start(&k, 0, NULL);
	for (int i = 0; i < 5; i++)
		ASSERT_OK(chain_check_event(&k, c, i + 1, bodies[i], strlen(bodies[i]), h[i]));
	ASSERT_EQ(k.broken, 0);
	ASSERT_EQ(k.events, 5);
	ASSERT_EQ(k.prev_id, 5);
	ASSERT_EQ(memcmp(k.prev, h[4], CHAIN_HASH_SIZE), 0);

	/* 1 and 2 deleted below everything (the anchor is 2), 4 deleted in
	 * the middle (its link kept). */
	chain_check_start(&k, 2, h[1]);
	ASSERT_OK(chain_check_event(&k, c, 3, bodies[2], strlen(bodies[2]), h[2]));
	ASSERT_OK(chain_check_deleted(&k, 4, h[3]));
	ASSERT_OK(chain_check_event(&k, c, 5, bodies[4], strlen(bodies[4]), h[4]));
	ASSERT_EQ(k.broken, 0);
	ASSERT_EQ(k.events, 2);
	ASSERT_EQ(k.deleted, 1);
	chain_free(c);
}

/* Walk ids 1..5 with event `bad` changed by how; the walk must name want. */
enum change { BODY, HASH, MISSING, NO_HASH };

static void
walk_broken(enum change how, int bad, int64_t want_bad, int64_t want_row, int64_t want_after)
{
	unsigned char h[5][CHAIN_HASH_SIZE];
	struct chain_check k;
	chain *c = chain_new();
	int rc = 0;

	link_all(c, h, 5);
	chain_check_start(&k, 0, NULL);
	for (int i = 0; i < 5 && !rc; i++) {
		const char *body = bodies[i];
		const unsigned char *hash = h[i];
		unsigned char other[CHAIN_HASH_SIZE];
		if (i + 1 == bad) {
			if (how == MISSING)
				continue;
			if (how == BODY)
				body = "{\"n\":0}";
			if (how == NO_HASH)
				hash = NULL;
			if (how == HASH) {
				memcpy(other, h[i], sizeof other);
				other[7] ^= 1;
				hash = other;
			}
		}
		rc = chain_check_event(&k, c, i + 1, body, strlen(body), hash);
	}
	ASSERT_EQ(rc, 1);
	ASSERT_EQ(k.broken, 1);
	ASSERT_EQ(k.bad_id, want_bad);
	ASSERT_EQ(k.row_id, want_row);
	ASSERT_EQ(k.after_id, want_after);
	ASSERT(k.reason[0]);
	/* Once broken, the walk takes nothing more. */
	ASSERT_EQ(chain_check_event(&k, c, 9, "{}", 2, h[0]), 1);
	ASSERT_EQ(k.bad_id, want_bad);
	chain_free(c);
}

TEST(check_breaks)
{
	walk_broken(BODY, 3, 3, 3, 2);
	walk_broken(HASH, 1, 1, 1, 0);
	walk_broken(NO_HASH, 4, 4, 4, 3);
	/* A hole: 3 is missing, so 4 does not follow from 2. */
	walk_broken(MISSING, 3, 3, 4, 2);
}

TEST(check_out_of_order)
{
	unsigned char h[5][CHAIN_HASH_SIZE];
	struct chain_check k;
	chain *c = chain_new();

	link_all(c, h, 5);
	/* An event at or below the anchor was inserted after retention. */
	chain_check_start(&k, 3, h[2]);
	ASSERT_EQ(chain_check_event(&k, c, 2, bodies[1], strlen(bodies[1]), h[1]), 1);
	ASSERT_EQ(k.bad_id, 2);
	/* A deleted link with the id of an event already passed. */
	chain_check_start(&k, 0, NULL);
	ASSERT_OK(chain_check_event(&k, c, 1, bodies[0], strlen(bodies[0]), h[0]));
	ASSERT_EQ(chain_check_deleted(&k, 1, h[0]), 1);
	ASSERT_EQ(k.bad_id, 1);
	/* With no anchor, the first event may have any id (the store began
	 * later, or its oldest events were gone before the chain). */
	chain_check_start(&k, 0, NULL);
	unsigned char first[CHAIN_HASH_SIZE];
	static const unsigned char zero[CHAIN_HASH_SIZE];
	ASSERT_OK(chain_link(c, zero, 500, "{}", 2, first));
	ASSERT_OK(chain_check_event(&k, c, 500, "{}", 2, first));
	/* ... but a broken first link is that event's. */
	chain_check_start(&k, 0, NULL);
	ASSERT_EQ(chain_check_event(&k, c, 500, "{ }", 3, first), 1);
	ASSERT_EQ(k.bad_id, 500);
	chain_free(c);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(link_matches_sha256),
		TEST_ENTRY(hex),
		TEST_ENTRY(check_intact_and_deleted_links),
		TEST_ENTRY(check_breaks),
		TEST_ENTRY(check_out_of_order),
	};
	return test_run(tests, argc, argv);
}
