/*
 * Unit tests of wire.c: the wire form puts "id" first in front of the
 * stored body, byte for byte, within the documented room; and a wire_msg
 * carries what the live feed's filters need.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "logevent.h"
#include "wire.h"

#define US INT64_C(1000000)
/* 2026-03-09T14:00:00.123456Z: the ingest time used by these tests. */
#define NOW      (INT64_C(1773064800) * US + 123456)
#define NOW_TEXT "2026-03-09T14:00:00.123456Z"

/* Parse json (which must be valid) and check its wire form for id. */
static void
wire_is(const char *json, int64_t id, const char *expected)
{
	struct logevent ev;
	char errmsg[ERRMSG_SIZE];
	char *out;
	size_t n;

	ASSERT_OK(logevent_parse(json, strlen(json), NOW, &ev, errmsg));
	/* Exactly the documented room, so ASan sees any overrun. */
	out = malloc(ev.body_len + WIRE_OVERHEAD);
	ASSERT_NOT_NULL(out);
	n = wire_write(id, ev.body, ev.body_len, out);
	ASSERT_BUF_STR(out, n, expected);
	ASSERT_LE(n, ev.body_len + WIRE_OVERHEAD);
	free(out);
	logevent_free(&ev);
}

TEST(write_puts_id_first)
{
	wire_is("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"2026-03-09T14:00:00Z\"}", 1,
		"{\"id\":1,\"type\":\"a\",\"message\":\"m\","
		"\"timestamp\":\"2026-03-09T14:00:00Z\"}");
	wire_is("{ \"message\" : \"m\" , \"type\" : \"agent\" }", 42,
		"{\"id\":42,\"message\":\"m\",\"type\":\"agent\",\"timestamp\":\"" NOW_TEXT "\"}");
	wire_is("{\"type\":\"a\",\"message\":\"m\",\"data\":{\"x\":[1]}}", INT64_MAX,
		"{\"id\":9223372036854775807,\"type\":\"a\",\"message\":\"m\","
		"\"data\":{\"x\":[1]},\"timestamp\":\"" NOW_TEXT "\"}");

	/* On a body that is not a parsed event, too: the smallest object. */
	char out[7 + WIRE_OVERHEAD];
	size_t n = wire_write(7, "{\"a\":1}", 7, out);
	ASSERT_BUF_STR(out, n, "{\"id\":7,\"a\":1}");
}

TEST(msg_new)
{
	static char body[] = "{\"type\":\"agent\",\"message\":\"Diagnosticando\"}";
	struct logevent ev = {.body = body, .body_len = sizeof body - 1, .ts_us = 1234567};
	strcpy(ev.type, "agent");

	struct wire_msg *m = wire_msg_new(42, &ev);
	ASSERT_NOT_NULL(m);
	ASSERT_EQ(m->id, 42);
	ASSERT_EQ(m->ts_us, 1234567);
	ASSERT_STR_EQ(m->type, "agent");
	ASSERT_BUF_STR(m->data, m->len,
		       "{\"id\":42,\"type\":\"agent\",\"message\":\"Diagnosticando\"}");
	wire_msg_free(m);

	m = wire_msg_new(INT64_MAX, &ev);
	ASSERT_NOT_NULL(m);
	ASSERT_BUF_STR(m->data, m->len,
		       "{\"id\":9223372036854775807,\"type\":\"agent\","
		       "\"message\":\"Diagnosticando\"}");
	wire_msg_free(m);
	wire_msg_free(NULL);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(write_puts_id_first),
		TEST_ENTRY(msg_new),
	};

	return test_run(tests, argc, argv);
}
