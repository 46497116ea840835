/*
 * Unit tests of logevent.c: every rejected event gets the right code and a
 * message naming what is wrong; an accepted event's body is the producer's
 * text minus whitespace outside strings (plus "timestamp" when it had none),
 * byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "logevent.h"

#define US INT64_C(1000000)
/* 2026-03-09T14:00:00.123456Z: the ingest time used by these tests. */
#define NOW       (INT64_C(1773064800) * US + 123456)
#define NOW_TEXT  "2026-03-09T14:00:00.123456Z"
#define UNTOUCHED INT64_C(-424242)

/* An event of len bytes that must be rejected with code and a message
 * containing needle; the output must be left as it was. */
static void
bad_n(const char *json, size_t len, int code, const char *needle)
{
	struct logevent ev = {.body = NULL, .body_len = 7, .ts_us = UNTOUCHED};
	char errmsg[ERRMSG_SIZE];
	int rc;

	memset(errmsg, 0, sizeof errmsg);
	strcpy(ev.type, "untouched");
	rc = logevent_parse(json, len, NOW, &ev, errmsg);
	if (rc != code || !strstr(errmsg, needle))
		fprintf(stderr, "input: %.*s\nerrmsg: %s\nwanted: %s, '%s'\n", (int)len, json,
			errmsg, err_str(code), needle);
	ASSERT_EQ(rc, code);
	ASSERT_NOT_NULL(strstr(errmsg, needle));
	ASSERT_LT(strlen(errmsg), ERRMSG_SIZE);
	ASSERT_NULL(ev.body);
	ASSERT_EQ(ev.body_len, 7);
	ASSERT_EQ(ev.ts_us, UNTOUCHED);
	ASSERT_STR_EQ(ev.type, "untouched");
}

static void
bad(const char *json, int code, const char *needle)
{
	bad_n(json, strlen(json), code, needle);
}

/* An event that must be accepted with exactly this body, time and type. */
static void
good_now(const char *json, int64_t now_us, const char *body, int64_t ts_us, const char *type)
{
	struct logevent ev;
	char errmsg[ERRMSG_SIZE] = "";
	int rc = logevent_parse(json, strlen(json), now_us, &ev, errmsg);

	if (rc != 0)
		fprintf(stderr, "input: %s\nerrmsg: %s\n", json, errmsg);
	ASSERT_EQ(rc, 0);
	ASSERT_NOT_NULL(ev.body);
	ASSERT_EQ(ev.body_len, strlen(ev.body));
	ASSERT_STR_EQ(ev.body, body);
	ASSERT_EQ(ev.ts_us, ts_us);
	ASSERT_STR_EQ(ev.type, type);
	logevent_free(&ev);
	ASSERT_NULL(ev.body);
	ASSERT_EQ(ev.body_len, 0);
}

static void
good(const char *json, const char *body, int64_t ts_us, const char *type)
{
	good_now(json, NOW, body, ts_us, type);
}

TEST(rejects_bad_json)
{
	bad("", ERR_JSON, "invalid JSON");
	bad("   ", ERR_JSON, "invalid JSON");
	bad("{", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"m\"", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"m}", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"m\",}", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\" \"message\":\"m\"}", ERR_JSON, "invalid JSON");
	bad("{type:\"a\",\"message\":\"m\"}", ERR_JSON, "invalid JSON");
	bad("{'type':'a','message':'m'}", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"m\",\"data\":{\"n\":01}}", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"m\",\"data\":{\"n\":NaN}}", ERR_JSON, "invalid JSON");
	/* A raw control character inside a string. */
	bad("{\"type\":\"a\",\"message\":\"tab\there\"}", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"bad escape \\q\"}", ERR_JSON, "invalid JSON");
}

TEST(rejects_trailing_garbage)
{
	bad("{\"type\":\"a\",\"message\":\"m\"} x", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"m\"}}", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"m\"},", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"m\"}{\"type\":\"a\",\"message\":\"m\"}", ERR_JSON,
	    "invalid JSON");
	/* A NUL byte inside the given length is not the end of the text. */
	static const char nul[] = "{\"type\":\"a\",\"message\":\"m\"}\0{}";
	bad_n(nul, sizeof nul - 1, ERR_JSON, "invalid JSON");
}

TEST(rejects_duplicate_keys)
{
	bad("{\"type\":\"a\",\"type\":\"b\",\"message\":\"m\"}", ERR_JSON, "duplicate");
	bad("{\"type\":\"a\",\"message\":\"m\",\"message\":\"m\"}", ERR_JSON, "duplicate");
	bad("{\"type\":\"a\",\"message\":\"m\",\"data\":{\"k\":1,\"k\":2}}", ERR_JSON, "duplicate");
}

TEST(rejects_invalid_utf8)
{
	bad("{\"type\":\"a\",\"message\":\"\xff\"}", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"\x80\"}", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"caf\xc3\"}", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"\xe2\x82\"}", ERR_JSON, "invalid JSON");
	/* An overlong "/" and a UTF-16 surrogate written as UTF-8. */
	bad("{\"type\":\"a\",\"message\":\"\xc0\xaf\"}", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"\xed\xa0\x80\"}", ERR_JSON, "invalid JSON");
	bad("{\"type\":\"a\",\"message\":\"m\",\"k\xfe\":1}", ERR_JSON, "invalid JSON");
}

TEST(rejects_arrays)
{
	bad("[]", ERR_EVENT, "object");
	bad("[{\"type\":\"a\",\"message\":\"m\"}]", ERR_EVENT, "object");
}

TEST(rejects_scalars_as_bad_events)
{
	/* Valid JSON that is not an object is a bad event, not bad JSON:
	 * "invalid JSON" would send the producer looking for a syntax error
	 * that is not there. */
	bad("\"hello\"", ERR_EVENT, "object");
	bad("42", ERR_EVENT, "object");
	bad("null", ERR_EVENT, "object");
	bad("true", ERR_EVENT, "object");
}

TEST(rejects_bad_type)
{
	bad("{\"message\":\"m\"}", ERR_EVENT, "'type'");
	bad("{}", ERR_EVENT, "'type'");
	bad("{\"type\":5,\"message\":\"m\"}", ERR_EVENT, "'type'");
	bad("{\"type\":null,\"message\":\"m\"}", ERR_EVENT, "'type'");
	bad("{\"type\":[\"a\"],\"message\":\"m\"}", ERR_EVENT, "'type'");
	bad("{\"type\":\"\",\"message\":\"m\"}", ERR_EVENT, "'type'");
	bad("{\"type\":\"a b\",\"message\":\"m\"}", ERR_EVENT, "'type'");
	bad("{\"type\":\" a\",\"message\":\"m\"}", ERR_EVENT, "'type'");
	bad("{\"type\":\"caf\xc3\xa9\",\"message\":\"m\"}", ERR_EVENT, "'type'");
	bad("{\"type\":\"caf\\u00e9\",\"message\":\"m\"}", ERR_EVENT, "'type'");
	bad("{\"type\":\"a/b\",\"message\":\"m\"}", ERR_EVENT, "'type'");
	bad("{\"type\":\"a\\nb\",\"message\":\"m\"}", ERR_EVENT, "'type'");
	/* A NUL is valid in JSON strings (kept in messages) but never in a type. */
	bad("{\"type\":\"a\\u0000b\",\"message\":\"m\"}", ERR_EVENT, "'type'");

	/* 64 characters are fine, 65 are not. */
	char json[200], type[70];
	memset(type, 'x', 65);
	type[65] = '\0';
	snprintf(json, sizeof json, "{\"type\":\"%s\",\"message\":\"m\"}", type);
	bad(json, ERR_EVENT, "'type'");
	type[64] = '\0';
	snprintf(json, sizeof json,
		 "{\"type\":\"%s\",\"message\":\"m\",\"timestamp\":\"" NOW_TEXT "\"}", type);
	good(json, json, NOW, type);
}

TEST(rejects_bad_message)
{
	bad("{\"type\":\"a\"}", ERR_EVENT, "'message'");
	bad("{\"type\":\"a\",\"msg\":\"m\"}", ERR_EVENT, "'message'");
	bad("{\"type\":\"a\",\"message\":5}", ERR_EVENT, "'message'");
	bad("{\"type\":\"a\",\"message\":null}", ERR_EVENT, "'message'");
	bad("{\"type\":\"a\",\"message\":{\"text\":\"m\"}}", ERR_EVENT, "'message'");
	bad("{\"type\":\"a\",\"message\":[\"m\"]}", ERR_EVENT, "'message'");
	bad("{\"type\":\"a\",\"message\":false}", ERR_EVENT, "'message'");
}

TEST(rejects_bad_data)
{
	bad("{\"type\":\"a\",\"message\":\"m\",\"data\":[]}", ERR_EVENT, "'data'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"data\":[{\"k\":1}]}", ERR_EVENT, "'data'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"data\":\"k=1\"}", ERR_EVENT, "'data'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"data\":null}", ERR_EVENT, "'data'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"data\":3}", ERR_EVENT, "'data'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"data\":true}", ERR_EVENT, "'data'");
}

TEST(rejects_bad_timestamp)
{
	bad("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":1773064800}", ERR_EVENT,
	    "'timestamp'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":null}", ERR_EVENT, "'timestamp'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":{}}", ERR_EVENT, "'timestamp'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"\"}", ERR_EVENT, "'timestamp'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"yesterday\"}", ERR_EVENT,
	    "'timestamp'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"2023-02-29T00:00:00\"}", ERR_EVENT,
	    "'timestamp'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"2026-03-09\"}", ERR_EVENT,
	    "'timestamp'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"2026-03-09T14:00:00.\"}", ERR_EVENT,
	    "'timestamp'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\" 2026-03-09T14:00:00\"}", ERR_EVENT,
	    "'timestamp'");
}

TEST(rejects_id)
{
	bad("{\"id\":1,\"type\":\"a\",\"message\":\"m\"}", ERR_EVENT, "'id'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"id\":null}", ERR_EVENT, "'id'");
	bad("{\"type\":\"a\",\"message\":\"m\",\"id\":\"x\"}", ERR_EVENT, "'id'");
	/* The same key spelled with an escape is still "id". */
	bad("{\"type\":\"a\",\"message\":\"m\",\"\\u0069d\":7}", ERR_EVENT, "'id'");
}

TEST(type_valid)
{
	ASSERT(logevent_type_valid("a", 1));
	ASSERT(logevent_type_valid("agent", 5));
	ASSERT(logevent_type_valid("Az09_.:-", 8));
	ASSERT(logevent_type_valid("app.db:slow-query_2", 19));
	/* Only len bytes count. */
	ASSERT(logevent_type_valid("ab cd", 2));
	ASSERT(!logevent_type_valid("ab cd", 5));
	ASSERT(!logevent_type_valid("", 0));
	ASSERT(!logevent_type_valid("a\0b", 3));
	ASSERT(!logevent_type_valid("a/b", 3));
	ASSERT(!logevent_type_valid("a\"b", 3));
	ASSERT(!logevent_type_valid("caf\xc3\xa9", 5));

	char type[66];
	memset(type, 'T', sizeof type);
	ASSERT(logevent_type_valid(type, 64));
	ASSERT(!logevent_type_valid(type, 65));
	ASSERT(!logevent_type_valid(type, 66));
}

TEST(body_is_minified_text)
{
	/* Whitespace outside strings goes; inside strings it stays, and
	 * escaped quotes and backslashes do not end a string early. */
	good("  {\n\t\"type\" : \"agent\" ,\r\n"
	     "  \"message\" : \"  two  spaces,\\ttab \\\"quoted\\\" back\\\\slash \\\\\" ,\n"
	     "  \"timestamp\" : \"2026-03-09T14:00:00.123456\" ,\n"
	     "  \"data\" : { \"k\" : [ 1 , 2 , { } , [ ] ] , \"s\" : \"a : b , c\" ,"
	     " \"q\" : \"\\\"\" , \"e\" : \"\" }\n"
	     "}\n\n",
	     "{\"type\":\"agent\","
	     "\"message\":\"  two  spaces,\\ttab \\\"quoted\\\" back\\\\slash \\\\\","
	     "\"timestamp\":\"2026-03-09T14:00:00.123456\","
	     "\"data\":{\"k\":[1,2,{},[]],\"s\":\"a : b , c\",\"q\":\"\\\"\",\"e\":\"\"}}",
	     NOW, "agent");
	/* Already minified text is stored as it is. */
	good("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"2026-03-09T14:00:00Z\"}",
	     "{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"2026-03-09T14:00:00Z\"}",
	     INT64_C(1773064800) * US, "a");
	/* An empty message is a string like any other. */
	good("{\"type\":\"a\",\"message\":\"\",\"timestamp\":\"2026-03-09T14:00:00Z\"}",
	     "{\"type\":\"a\",\"message\":\"\",\"timestamp\":\"2026-03-09T14:00:00Z\"}",
	     INT64_C(1773064800) * US, "a");
}

TEST(numbers_keep_their_spelling)
{
	good("{\"type\":\"metric\",\"message\":\"m\",\"timestamp\":\"2026-03-09T14:00:00.123456\","
	     "\"data\":{\"a\": 0.10, \"b\": 1e5, \"c\": 12345678901234567890123,"
	     " \"d\": -0.0, \"e\": 1E-7, \"f\": [1.50, 2, -3], \"g\": 100}}",
	     "{\"type\":\"metric\",\"message\":\"m\",\"timestamp\":\"2026-03-09T14:00:00.123456\","
	     "\"data\":{\"a\":0.10,\"b\":1e5,\"c\":12345678901234567890123,"
	     "\"d\":-0.0,\"e\":1E-7,\"f\":[1.50,2,-3],\"g\":100}}",
	     NOW, "metric");
}

TEST(unicode_is_kept_byte_for_byte)
{
	/* The seed's Spanish text and emoji, raw and as escapes. */
	good("{\"type\": \"agent\", \"message\": \"Diagnosticando servicio postgresql \xe2\x80\x94"
	     " conexi\xc3\xb3n perdida, reintentando\xe2\x80\xa6 \xf0\x9f\x94\x8d\xe2\x9c\x85\","
	     " \"timestamp\": \"2026-03-09T14:00:00.123456\","
	     " \"data\": {\"se\xc3\xb1"
	     "al\": \"\xf0\x9f\x93\xa1 a\xc3\xb1o\","
	     " \"esc\": \"caf\\u00e9 \\ud83d\\ude80\"}}",
	     "{\"type\":\"agent\",\"message\":\"Diagnosticando servicio postgresql \xe2\x80\x94"
	     " conexi\xc3\xb3n perdida, reintentando\xe2\x80\xa6 \xf0\x9f\x94\x8d\xe2\x9c\x85\","
	     "\"timestamp\":\"2026-03-09T14:00:00.123456\","
	     "\"data\":{\"se\xc3\xb1"
	     "al\":\"\xf0\x9f\x93\xa1 a\xc3\xb1o\","
	     "\"esc\":\"caf\\u00e9 \\ud83d\\ude80\"}}",
	     NOW, "agent");
}

TEST(extra_fields_are_kept)
{
	good("{\"host\": \"db-1\", \"type\": \"monitor\", \"level\": 3,"
	     " \"message\": \"cpu\", \"tags\": [\"a\", \"b\"], \"ID\": 5,"
	     " \"nested\": {\"x\": null, \"y\": [true, false]},"
	     " \"timestamp\": \"2026-03-09T14:00:00.123456Z\"}",
	     "{\"host\":\"db-1\",\"type\":\"monitor\",\"level\":3,"
	     "\"message\":\"cpu\",\"tags\":[\"a\",\"b\"],\"ID\":5,"
	     "\"nested\":{\"x\":null,\"y\":[true,false]},"
	     "\"timestamp\":\"2026-03-09T14:00:00.123456Z\"}",
	     NOW, "monitor");
	/* "id" inside data is the producer's own field. */
	good("{\"type\":\"a\",\"message\":\"m\",\"data\":{\"id\":9}}",
	     "{\"type\":\"a\",\"message\":\"m\",\"data\":{\"id\":9},\"timestamp\":\"" NOW_TEXT
	     "\"}",
	     NOW, "a");
}

TEST(timestamp_is_verbatim)
{
	/* The text stays as sent; ts_us is the instant in UTC. */
	good("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"2026-03-09T16:00:00.5+02:00\"}",
	     "{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"2026-03-09T16:00:00.5+02:00\"}",
	     INT64_C(1773064800) * US + 500000, "a");
	good("{\"timestamp\":\"2026-03-09t14:00:00z\",\"type\":\"a\",\"message\":\"m\"}",
	     "{\"timestamp\":\"2026-03-09t14:00:00z\",\"type\":\"a\",\"message\":\"m\"}",
	     INT64_C(1773064800) * US, "a");
	/* The producer's time is kept even when now_us differs. */
	good_now("{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"1999-12-31T23:59:59Z\"}", NOW,
		 "{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"1999-12-31T23:59:59Z\"}",
		 INT64_C(946684799) * US, "a");
}

TEST(timestamp_added_when_absent)
{
	good("{\"type\":\"system\",\"message\":\"started\"}",
	     "{\"type\":\"system\",\"message\":\"started\",\"timestamp\":\"" NOW_TEXT "\"}", NOW,
	     "system");
	/* After a last member that ends in '}', and with trailing space. */
	good(" { \"type\" : \"a\" , \"message\" : \"m\" , \"data\" : { \"k\" : \"}\" } } \n\t",
	     "{\"type\":\"a\",\"message\":\"m\",\"data\":{\"k\":\"}\"},\"timestamp\":\"" NOW_TEXT
	     "\"}",
	     NOW, "a");
	/* A "timestamp" inside data is not the event's. */
	good("{\"type\":\"a\",\"message\":\"m\",\"data\":{\"timestamp\":\"x\"}}",
	     "{\"type\":\"a\",\"message\":\"m\",\"data\":{\"timestamp\":\"x\"},"
	     "\"timestamp\":\"" NOW_TEXT "\"}",
	     NOW, "a");
	good_now("{\"type\":\"a\",\"message\":\"m\"}", 0,
		 "{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"1970-01-01T00:00:00.000000Z\"}",
		 0, "a");
	good_now("{\"type\":\"a\",\"message\":\"m\"}", -1,
		 "{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"1969-12-31T23:59:59.999999Z\"}",
		 -1, "a");
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(rejects_bad_json),
		TEST_ENTRY(rejects_trailing_garbage),
		TEST_ENTRY(rejects_duplicate_keys),
		TEST_ENTRY(rejects_invalid_utf8),
		TEST_ENTRY(rejects_arrays),
		TEST_ENTRY(rejects_bad_type),
		TEST_ENTRY(rejects_bad_message),
		TEST_ENTRY(rejects_bad_data),
		TEST_ENTRY(rejects_bad_timestamp),
		TEST_ENTRY(rejects_id),
		TEST_ENTRY(type_valid),
		TEST_ENTRY(body_is_minified_text),
		TEST_ENTRY(numbers_keep_their_spelling),
		TEST_ENTRY(unicode_is_kept_byte_for_byte),
		TEST_ENTRY(extra_fields_are_kept),
		TEST_ENTRY(timestamp_is_verbatim),
		TEST_ENTRY(timestamp_added_when_absent),
		TEST_ENTRY(rejects_scalars_as_bad_events),
	};

	return test_run(tests, argc, argv);
}
