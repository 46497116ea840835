/*
 * Unit tests of ingest.c: splitting a request body (one object, an array,
 * NDJSON) into validated events, the index of the event at fault when one is
 * bad, the size limit, and the JSON answers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "ingest.h"
#include "timestamp.h"

#define TS "\"timestamp\":\"2026-03-09T14:00:00.123456\""
/* Three small valid events and their stored bodies. */
#define EV_A    "{\"type\":\"a\",\"message\":\"one\"," TS "}"
#define EV_B    "{\"type\":\"b\",\"message\":\"two\"," TS "}"
#define EV_C    "{\"type\":\"c\",\"message\":\"three\"," TS "}"
#define SEED_US (INT64_C(1773064800) * 1000000 + 123456)

static struct ingest_batch *
parse_ok(const char *body, enum ingest_format format, size_t expected_count)
{
	struct ingest_error err = {.code = 0};
	struct ingest_batch *b =
		ingest_parse(body, strlen(body), format, INGEST_EVENT_MAX_DEFAULT, &err);

	if (!b)
		fprintf(stderr, "body: %s\nerror %d at %zu: %s\n", body, err.code, err.index,
			err.msg);
	ASSERT_NOT_NULL(b);
	ASSERT_EQ(b->count, expected_count);
	ASSERT_EQ(b->status, 0);
	ASSERT_NULL(b->msgs);
	ASSERT_NULL(b->owner);
	return b;
}

/* Body i of the batch is exactly expected. */
static void
body_is(const struct ingest_batch *b, size_t i, const char *expected)
{
	ASSERT_LT(i, b->count);
	ASSERT_EQ(b->events[i].body_len, strlen(b->events[i].body));
	ASSERT_STR_EQ(b->events[i].body, expected);
}

/* A body that must be refused with code, index and a message holding needle. */
static void
parse_bad_max(const char *body, enum ingest_format format, size_t event_max, int code, size_t index,
	      const char *needle)
{
	struct ingest_error err;
	struct ingest_batch *b;

	memset(&err, 0, sizeof err);
	b = ingest_parse(body, strlen(body), format, event_max, &err);
	if (b || err.code != code || err.index != index || !strstr(err.msg, needle))
		fprintf(stderr,
			"body: %s\nerror %d (%s) at %zu: %s\n"
			"wanted %d (%s) at %zu: '%s'\n",
			body, err.code, err_str(err.code), err.index, err.msg, code, err_str(code),
			index, needle);
	ASSERT_NULL(b);
	ASSERT_EQ(err.code, code);
	ASSERT_EQ(err.index, index);
	ASSERT_NOT_NULL(strstr(err.msg, needle));
}

static void
parse_bad(const char *body, enum ingest_format format, int code, size_t index, const char *needle)
{
	parse_bad_max(body, format, INGEST_EVENT_MAX_DEFAULT, code, index, needle);
}

TEST(single_object)
{
	struct ingest_batch *b = parse_ok(EV_A, INGEST_JSON, 1);
	body_is(b, 0, EV_A);
	ASSERT_STR_EQ(b->events[0].type, "a");
	ASSERT_EQ(b->events[0].ts_us, SEED_US);
	ingest_batch_free(b);

	b = parse_ok(" \r\n\t{ \"type\" : \"a\" , \"message\" : \"one\" , " TS " }\n\n",
		     INGEST_JSON, 1);
	body_is(b, 0, EV_A);
	ingest_batch_free(b);
}

TEST(array_of_objects)
{
	struct ingest_batch *b = parse_ok("[" EV_A "," EV_B "," EV_C "]", INGEST_JSON, 3);
	body_is(b, 0, EV_A);
	body_is(b, 1, EV_B);
	body_is(b, 2, EV_C);
	ASSERT_STR_EQ(b->events[0].type, "a");
	ASSERT_STR_EQ(b->events[1].type, "b");
	ASSERT_STR_EQ(b->events[2].type, "c");
	ingest_batch_free(b);

	b = parse_ok("\n [\n  " EV_A " ,\n\t" EV_B "\r\n ,  " EV_C "\n ] \n", INGEST_JSON, 3);
	body_is(b, 0, EV_A);
	body_is(b, 1, EV_B);
	body_is(b, 2, EV_C);
	ingest_batch_free(b);

	b = parse_ok("[" EV_A "]", INGEST_JSON, 1);
	body_is(b, 0, EV_A);
	ingest_batch_free(b);
}

TEST(many_events)
{
	/* More than the batch's first allocation, so it has to grow. */
	enum { N = 1000 };
	size_t len = 2 + N * (sizeof EV_A);
	char *body = malloc(len + 1), *p = body;
	ASSERT_NOT_NULL(body);
	*p++ = '[';
	for (int i = 0; i < N; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, EV_A, sizeof EV_A - 1);
		p += sizeof EV_A - 1;
	}
	*p++ = ']';
	*p = '\0';

	struct ingest_batch *b = parse_ok(body, INGEST_JSON, N);
	for (size_t i = 0; i < N; i++)
		body_is(b, i, EV_A);
	ingest_batch_free(b);
	free(body);
}

TEST(empty_array)
{
	struct ingest_batch *b = parse_ok("[]", INGEST_JSON, 0);
	ingest_batch_free(b);
	b = parse_ok(" [ \n\t ] \r\n", INGEST_JSON, 0);
	ingest_batch_free(b);
}

TEST(ndjson)
{
	struct ingest_batch *b = parse_ok(EV_A "\n" EV_B "\n" EV_C "\n", INGEST_NDJSON, 3);
	body_is(b, 0, EV_A);
	body_is(b, 1, EV_B);
	body_is(b, 2, EV_C);
	ingest_batch_free(b);

	/* Blank lines, CRLF line ends, no final newline. */
	b = parse_ok("\n\r\n" EV_A "\r\n\r\n   \n\t\n" EV_B "\r\n" EV_C, INGEST_NDJSON, 3);
	body_is(b, 0, EV_A);
	body_is(b, 1, EV_B);
	body_is(b, 2, EV_C);
	ingest_batch_free(b);

	/* Whitespace inside a line goes, inside strings it stays. */
	b = parse_ok("  { \"type\" : \"a\" , \"message\" : \"o n e\" , " TS " }  \r\n",
		     INGEST_NDJSON, 1);
	body_is(b, 0, "{\"type\":\"a\",\"message\":\"o n e\"," TS "}");
	ingest_batch_free(b);

	b = parse_ok("", INGEST_NDJSON, 0);
	ingest_batch_free(b);
	b = parse_ok("\n\r\n \n", INGEST_NDJSON, 0);
	ingest_batch_free(b);
}

TEST(ndjson_errors)
{
	/* The index counts events, not lines: blank lines are skipped. */
	parse_bad(EV_A "\n\n" EV_B "\n\n{\"type\":\"c\"}\n" EV_C "\n", INGEST_NDJSON, ERR_EVENT, 2,
		  "'message'");
	parse_bad(EV_A "\n{\"type\":\"b\",\n\"message\":\"x\"}\n", INGEST_NDJSON, ERR_JSON, 1,
		  "invalid JSON");
	parse_bad("[" EV_A "]\n", INGEST_NDJSON, ERR_EVENT, 0, "object");
	parse_bad(EV_A " " EV_B "\n", INGEST_NDJSON, ERR_JSON, 0, "invalid JSON");
}

TEST(error_index_points_at_the_bad_element)
{
	parse_bad("[" EV_A "," EV_B ",{\"type\":\"c\"}," EV_C "]", INGEST_JSON, ERR_EVENT, 2,
		  "'message'");
	parse_bad("[{\"message\":\"x\"}," EV_A "]", INGEST_JSON, ERR_EVENT, 0, "'type'");
	parse_bad("[" EV_A ",{\"type\":\"b\",\"message\":\"m\",\"id\":3}]", INGEST_JSON, ERR_EVENT,
		  1, "'id'");
	parse_bad("[" EV_A "," EV_B ",{\"type\":\"c\",\"message\":\"m\","
		  "\"timestamp\":\"soon\"}]",
		  INGEST_JSON, ERR_EVENT, 2, "'timestamp'");
	parse_bad("[" EV_A ",{\"type\":\"b\",\"message\":\"m\",\"data\":[]}]", INGEST_JSON,
		  ERR_EVENT, 1, "'data'");
	parse_bad("[" EV_A ",{\"type\":\"b\" \"message\":\"m\"}]", INGEST_JSON, ERR_JSON, 1,
		  "invalid JSON");
	parse_bad("[" EV_A ",{\"type\":\"b\",\"message\":\"\xff\"}]", INGEST_JSON, ERR_JSON, 1,
		  "invalid JSON");
	parse_bad("[" EV_A ",[" EV_B "]]", INGEST_JSON, ERR_EVENT, 1, "object");
	parse_bad("{\"type\":\"a\"}", INGEST_JSON, ERR_EVENT, 0, "'message'");
}

TEST(scalar_elements_are_bad_events)
{
	/* An element that is valid JSON but not an object is a bad event,
	 * like an element that is an array. */
	parse_bad("[" EV_A ",42]", INGEST_JSON, ERR_EVENT, 1, "object");
	parse_bad("[" EV_A ",\"x\"]", INGEST_JSON, ERR_EVENT, 1, "object");
	parse_bad("[null]", INGEST_JSON, ERR_EVENT, 0, "object");
	parse_bad(EV_A "\n42\n", INGEST_NDJSON, ERR_EVENT, 1, "object");
}

TEST(bad_arrays)
{
	parse_bad("[", INGEST_JSON, ERR_JSON, 0, "not terminated");
	parse_bad("[ ", INGEST_JSON, ERR_JSON, 0, "not terminated");
	parse_bad("[" EV_A, INGEST_JSON, ERR_JSON, 0, "not terminated");
	parse_bad("[" EV_A ",", INGEST_JSON, ERR_JSON, 1, "not terminated");
	parse_bad("[" EV_A "," EV_B, INGEST_JSON, ERR_JSON, 1, "not terminated");
	parse_bad("[{\"type\":\"a\",\"message\":\"]", INGEST_JSON, ERR_JSON, 0, "not terminated");
	parse_bad("[" EV_A "] x", INGEST_JSON, ERR_JSON, 1, "after the array");
	parse_bad("[" EV_A "][" EV_B "]", INGEST_JSON, ERR_JSON, 1, "after the array");
	parse_bad("[]]", INGEST_JSON, ERR_JSON, 0, "after the array");
	parse_bad("[] " EV_A, INGEST_JSON, ERR_JSON, 0, "after the array");
	parse_bad("[" EV_A ",]", INGEST_JSON, ERR_JSON, 1, "invalid JSON");
	parse_bad("[," EV_A "]", INGEST_JSON, ERR_JSON, 0, "invalid JSON");
	parse_bad("[" EV_A ",," EV_B "]", INGEST_JSON, ERR_JSON, 1, "invalid JSON");
	parse_bad("[" EV_A " " EV_B "]", INGEST_JSON, ERR_JSON, 0, "invalid JSON");
	parse_bad("[" EV_A "}]", INGEST_JSON, ERR_JSON, 0, "invalid JSON");
	parse_bad(EV_A " x", INGEST_JSON, ERR_JSON, 0, "invalid JSON");
	parse_bad(EV_A EV_B, INGEST_JSON, ERR_JSON, 0, "invalid JSON");
}

TEST(not_an_object_or_array)
{
	parse_bad("", INGEST_JSON, ERR_JSON, 0, "expected an event object");
	parse_bad(" \n ", INGEST_JSON, ERR_JSON, 0, "expected an event object");
	parse_bad("42", INGEST_JSON, ERR_JSON, 0, "expected an event object");
	parse_bad("\"event\"", INGEST_JSON, ERR_JSON, 0, "expected an event object");
	parse_bad("null", INGEST_JSON, ERR_JSON, 0, "expected an event object");
	parse_bad("x" EV_A, INGEST_JSON, ERR_JSON, 0, "expected an event object");
}

TEST(event_size_limit)
{
	size_t len = strlen(EV_A);

	/* Exactly at the limit is fine, one byte over is not. */
	struct ingest_error err;
	struct ingest_batch *b = ingest_parse(EV_A, len, INGEST_JSON, len, &err);
	ASSERT_NOT_NULL(b);
	ASSERT_EQ(b->count, 1);
	ingest_batch_free(b);
	parse_bad_max(EV_A, INGEST_JSON, len - 1, ERR_TOOBIG, 0, "limit");

	b = ingest_parse("[" EV_A "," EV_A "]", 2 * len + 3, INGEST_JSON, len, &err);
	ASSERT_NOT_NULL(b);
	ASSERT_EQ(b->count, 2);
	ingest_batch_free(b);

	/* The big one is the third: index 2, whatever its neighbours. */
	const char *big = "{\"type\":\"a\",\"message\":\"a much longer message than the"
			  " others, long enough to be over the limit of these tests\"}";
	char body[512];
	snprintf(body, sizeof body, "[%s,%s,%s,%s]", EV_A, EV_B, big, EV_C);
	parse_bad_max(body, INGEST_JSON, len + 2, ERR_TOOBIG, 2, "limit");
	snprintf(body, sizeof body, "%s\n%s\n\n%s\n%s\n", EV_A, EV_B, big, EV_C);
	parse_bad_max(body, INGEST_NDJSON, len + 2, ERR_TOOBIG, 2, "limit");
	/* The message gives both sizes. */
	char needle[64];
	snprintf(needle, sizeof needle, "%zu bytes", strlen(big));
	parse_bad_max(body, INGEST_NDJSON, len + 2, ERR_TOOBIG, 2, needle);
	snprintf(needle, sizeof needle, "%zu bytes", len + 2);
	parse_bad_max(body, INGEST_NDJSON, len + 2, ERR_TOOBIG, 2, needle);
}

TEST(strings_with_delimiters)
{
	/* ']', ',', '}', '[', '{' and escaped quotes inside strings do not
	 * end an array element. */
	const char *e1 = "{\"type\":\"a\",\"message\":\"x],}[{ \\\"q\\\" ,\\\"]\"," TS
			 ",\"data\":{\"s\":\"}]\",\"b\":\"\\\\\"}}";
	const char *e2 = "{\"type\":\"b\",\"message\":\"\\\\\\\"],\"," TS "}";
	const char *e3 = "{\"type\":\"c\",\"message\":\"\\u005d\\u002c\"," TS "}";
	char body[512];

	snprintf(body, sizeof body, "[ %s , %s,%s ]", e1, e2, e3);
	struct ingest_batch *b = parse_ok(body, INGEST_JSON, 3);
	body_is(b, 0, e1);
	body_is(b, 1, e2);
	body_is(b, 2, e3);
	ingest_batch_free(b);

	snprintf(body, sizeof body, "%s\n%s\n%s", e1, e2, e3);
	b = parse_ok(body, INGEST_NDJSON, 3);
	body_is(b, 0, e1);
	body_is(b, 1, e2);
	body_is(b, 2, e3);
	ingest_batch_free(b);
}

TEST(nested_data)
{
	const char *e1 = "{\"type\":\"a\",\"message\":\"m\"," TS
			 ",\"data\":{\"a\":[[1,2],[],{\"b\":[3,{\"c\":[]}]}],\"d\":{\"e\":{}}}}";
	const char *e2 = "{\"type\":\"b\",\"message\":\"m\"," TS ",\"list\":[[[]]]}";
	char body[512];

	snprintf(body, sizeof body, "[%s,%s]", e1, e2);
	struct ingest_batch *b = parse_ok(body, INGEST_JSON, 2);
	body_is(b, 0, e1);
	body_is(b, 1, e2);
	ingest_batch_free(b);
}

TEST(events_without_timestamp)
{
	int64_t before = timestamp_now();
	struct ingest_batch *b = parse_ok("[{\"type\":\"a\",\"message\":\"m\"},"
					  "{\"type\":\"b\",\"message\":\"n\"}]",
					  INGEST_JSON, 2);
	int64_t after = timestamp_now();

	/* One ingest time for the whole request, in the body and in ts_us. */
	ASSERT_EQ(b->events[0].ts_us, b->events[1].ts_us);
	ASSERT_GE(b->events[0].ts_us, before);
	ASSERT_LE(b->events[0].ts_us, after);
	char ts[TIMESTAMP_FORMAT_SIZE], expected[128];
	timestamp_format(b->events[0].ts_us, ts);
	snprintf(expected, sizeof expected,
		 "{\"type\":\"a\",\"message\":\"m\",\"timestamp\":\"%s\"}", ts);
	body_is(b, 0, expected);
	snprintf(expected, sizeof expected,
		 "{\"type\":\"b\",\"message\":\"n\",\"timestamp\":\"%s\"}", ts);
	body_is(b, 1, expected);
	ingest_batch_free(b);
}

TEST(answer_json)
{
	struct ingest_batch *b = parse_ok("[" EV_A "," EV_B "," EV_C "]", INGEST_JSON, 3);
	b->first_id = 5;
	b->last_id = 7;
	char *s = ingest_answer_json(b);
	ASSERT_STR_EQ(s, "{\"accepted\":3,\"first_id\":5,\"last_id\":7}");
	free(s);

	b->first_id = INT64_C(9007199254740993);
	b->last_id = INT64_MAX;
	s = ingest_answer_json(b);
	ASSERT_STR_EQ(s, "{\"accepted\":3,\"first_id\":9007199254740993,"
			 "\"last_id\":9223372036854775807}");
	free(s);
	ingest_batch_free(b);

	b = parse_ok("[]", INGEST_JSON, 0);
	s = ingest_answer_json(b);
	ASSERT_STR_EQ(s, "{\"accepted\":0,\"first_id\":null,\"last_id\":null}");
	free(s);
	ingest_batch_free(b);
}

TEST(error_json)
{
	char *s = ingest_error_json("field 'message' must be a string", 2);
	ASSERT_STR_EQ(s, "{\"error\":\"field 'message' must be a string\",\"index\":2}");
	free(s);

	s = ingest_error_json("body too large", -1);
	ASSERT_STR_EQ(s, "{\"error\":\"body too large\"}");
	free(s);

	s = ingest_error_json("say \"hi\"\\ \n\t now", 0);
	ASSERT_STR_EQ(s, "{\"error\":\"say \\\"hi\\\"\\\\ \\n\\t now\",\"index\":0}");
	free(s);

	s = ingest_error_json("se\xc3\xb1"
			      "al \xf0\x9f\x93\xa1",
			      12345);
	ASSERT_STR_EQ(s, "{\"error\":\"se\xc3\xb1"
			 "al \xf0\x9f\x93\xa1\",\"index\":12345}");
	free(s);
}

/* The error of every refused body can be answered as JSON. */
TEST(error_json_of_parse_errors)
{
	static const char *bodies[] = {
		"[" EV_A ",{\"type\":\"b\",\"message\":\"\xff\"}]",
		"{\"type\":\"a\",\"message\":\"caf\xc3\"}",
		"{\"type\":\"a\",\"message\":\"\xe2\x80\xa6\xe2\x80\xa6\xe2\x80\xa6\xe2\x80\xa6"
		"\xe2\x80\xa6\xe2\x80\xa6\xe2\x80\xa6\x01\"}",
		"{\"type\":\"a\",\"message\":\"\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1"
		"\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1",
		"[" EV_A " \xc3\xb1]",
		"{\"type\":\"a\",\"message\":\"m\",\"data\":{\"\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1"
		"\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\":x}}",
	};

	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		struct ingest_error err;
		struct ingest_batch *b = ingest_parse(bodies[i], strlen(bodies[i]), INGEST_JSON,
						      INGEST_EVENT_MAX_DEFAULT, &err);
		ASSERT_NULL(b);
		ASSERT_EQ(err.code, ERR_JSON);
		char *s = ingest_error_json(err.msg, (long)err.index);
		if (!s)
			fprintf(stderr, "no JSON for the error '%s'\n", err.msg);
		ASSERT_NOT_NULL(s);
		ASSERT_NOT_NULL(strstr(s, "\"error\":\"invalid JSON"));
		free(s);
	}
}

/* ingest_envelope() on msg: its result, and the key and events it found. */
static int
envelope(const char *msg, char **key, char *events, size_t size, char *errmsg)
{
	const char *ev = NULL;
	size_t len = 0;

	*key = NULL;
	events[0] = '\0';
	errmsg[0] = '\0';
	int rc = ingest_envelope(msg, strlen(msg), key, &ev, &len, errmsg);
	if (rc == 1) {
		ASSERT_LT(len, size);
		memcpy(events, ev, len);
		events[len] = '\0';
	}
	return rc;
}

TEST(envelopes)
{
	char events[256], errmsg[ERRMSG_SIZE], *key;

	/* Events, and objects that are not envelopes: 0, for the event parser. */
	ASSERT_EQ(envelope("{\"type\":\"a\",\"message\":\"m\"}", &key, events, 256, errmsg), 0);
	ASSERT_EQ(envelope("[{\"type\":\"a\",\"message\":\"m\"}]", &key, events, 256, errmsg), 0);
	ASSERT_EQ(envelope("{\"message\":\"m\",\"idempotency_key\":\"k\",\"type\":\"a\"}", &key,
			   events, 256, errmsg),
		  0);
	ASSERT_EQ(envelope("{}", &key, events, 256, errmsg), 0);
	ASSERT_EQ(envelope("{\"events\":[]}", &key, events, 256, errmsg), 0);
	ASSERT_EQ(
		envelope("{\"idempotency_key\":\"k\",\"events\":[]} x", &key, events, 256, errmsg),
		0);
	ASSERT_EQ(envelope("{\"idempotency_key\":\"k\",\"events\":[],}", &key, events, 256, errmsg),
		  0);
	ASSERT_EQ(envelope("{\"idempotency_key\":\"k\",\"events\":[", &key, events, 256, errmsg),
		  0);
	ASSERT_NULL(key);

	/* An envelope: the key, and the events' bytes as sent. */
	ASSERT_EQ(envelope(" { \"idempotency_key\" : \"order-7\" , \"events\" : [{\"type\":\"a\","
			   "\"message\":\"}]{,\"}, {\"type\":\"b\",\"message\":\"n\"}] } ",
			   &key, events, 256, errmsg),
		  1);
	ASSERT_STR_EQ(key, "order-7");
	ASSERT_STR_EQ(events, "[{\"type\":\"a\",\"message\":\"}]{,\"}, "
			      "{\"type\":\"b\",\"message\":\"n\"}]");
	free(key);
	ASSERT_EQ(envelope("{\"events\":{\"type\":\"a\",\"message\":\"m\"},"
			   "\"idempotency_key\":\"a\\/b\"}",
			   &key, events, 256, errmsg),
		  1);
	ASSERT_STR_EQ(key, "a/b");
	ASSERT_STR_EQ(events, "{\"type\":\"a\",\"message\":\"m\"}");
	free(key);

	/* Envelopes that are wrong. */
	ASSERT_EQ(envelope("{\"idempotency_key\":\"k\"}", &key, events, 256, errmsg), ERR_INVAL);
	ASSERT_NOT_NULL(strstr(errmsg, "\"events\""));
	ASSERT_EQ(envelope("{\"idempotency_key\":\"k\",\"events\":[],\"x\":1}", &key, events, 256,
			   errmsg),
		  ERR_INVAL);
	ASSERT_EQ(envelope("{\"idempotency_key\":7,\"events\":[]}", &key, events, 256, errmsg),
		  ERR_INVAL);
	ASSERT_NOT_NULL(strstr(errmsg, "must be a string"));
	ASSERT_EQ(envelope("{\"idempotency_key\":\"\",\"events\":[]}", &key, events, 256, errmsg),
		  ERR_INVAL);
	ASSERT_NOT_NULL(strstr(errmsg, "1 to 128"));
	ASSERT_EQ(envelope("{\"idempotency_key\":\"caf\u00e9\",\"events\":[]}", &key, events, 256,
			   errmsg),
		  ERR_INVAL);
	ASSERT_NOT_NULL(strstr(errmsg, "printable ASCII"));
	ASSERT_NULL(key);
}

TEST(key_header_values)
{
	char errmsg[ERRMSG_SIZE], long_key[200];

	char *k = ingest_key_parse("\"quoted-key\"", errmsg);
	ASSERT_STR_EQ(k, "quoted-key");
	free(k);
	k = ingest_key_parse("8e2f7c1a-4b0e-4d5e-9a7b-2f3c4d5e6f70", errmsg);
	ASSERT_STR_EQ(k, "8e2f7c1a-4b0e-4d5e-9a7b-2f3c4d5e6f70");
	free(k);
	memset(long_key, 'k', 129);
	long_key[129] = '\0';
	ASSERT_NULL(ingest_key_parse(long_key, errmsg));
	long_key[128] = '\0';
	k = ingest_key_parse(long_key, errmsg);
	ASSERT_NOT_NULL(k);
	free(k);
	ASSERT_NULL(ingest_key_parse("tab\there", errmsg));
	ASSERT_NULL(ingest_key_parse("", errmsg));
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(single_object),
		TEST_ENTRY(array_of_objects),
		TEST_ENTRY(many_events),
		TEST_ENTRY(empty_array),
		TEST_ENTRY(ndjson),
		TEST_ENTRY(ndjson_errors),
		TEST_ENTRY(error_index_points_at_the_bad_element),
		TEST_ENTRY(bad_arrays),
		TEST_ENTRY(not_an_object_or_array),
		TEST_ENTRY(event_size_limit),
		TEST_ENTRY(strings_with_delimiters),
		TEST_ENTRY(nested_data),
		TEST_ENTRY(events_without_timestamp),
		TEST_ENTRY(answer_json),
		TEST_ENTRY(error_json),
		TEST_ENTRY(error_json_of_parse_errors),
		TEST_ENTRY(envelopes),
		TEST_ENTRY(key_header_values),
		TEST_ENTRY(scalar_elements_are_bad_events),
	};

	return test_run(tests, argc, argv);
}
