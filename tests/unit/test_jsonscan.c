/*
 * Unit tests of jsonscan.c: the events it reads itself come out minified
 * with their members found; everything jansson refuses, and everything it
 * leaves to jansson on purpose (escaped member names, deep nesting, numbers
 * near a double's range), is "not sure". Whatever it accepts, jansson
 * accepts too, with the same flags.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "jsonscan.h"

#define JFLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL)

/* Scan json; when it is decided, jansson must agree that it is valid. */
static int
scan(const char *json, char *out, size_t *out_len, struct jsonscan_event *ev)
{
	size_t len = strlen(json);
	int rc = jsonscan_event(json, len, out, out_len, ev);

	if (rc) {
		json_error_t jerr;
		json_t *root = json_loadb(json, len, JFLAGS, &jerr);
		if (!root)
			fprintf(stderr, "jansson refuses what jsonscan accepted: %s (%s)\n", json,
				jerr.text);
		ASSERT_NOT_NULL(root);
		json_decref(root);
		out[*out_len] = '\0';
	}
	return rc;
}

/* json is read, and minified to want. */
static void
accepted(const char *json, const char *want)
{
	char out[1024];
	size_t n = 0;
	struct jsonscan_event ev;

	if (!scan(json, out, &n, &ev))
		fprintf(stderr, "not decided: %s\n", json);
	ASSERT_EQ(jsonscan_event(json, strlen(json), out, &n, &ev), 1);
	out[n] = '\0';
	ASSERT_STR_EQ(out, want);
}

/* json is left to jansson. */
static void
undecided(const char *json)
{
	char out[1024];
	size_t n = 0;
	struct jsonscan_event ev;

	if (scan(json, out, &n, &ev))
		fprintf(stderr, "decided: %s\n", json);
	ASSERT_EQ(jsonscan_event(json, strlen(json), out, &n, &ev), 0);
}

TEST(reads_and_minifies)
{
	accepted("{}", "{}");
	accepted(" { \"type\" : \"a\" ,\n\t\"message\":\"m  x\" } \r\n",
		 "{\"type\":\"a\",\"message\":\"m  x\"}");
	accepted("{\"a\":[1, -0.5e-3, 2E+2, 0, true, false, null, [], {}, \"s\"]}",
		 "{\"a\":[1,-0.5e-3,2E+2,0,true,false,null,[],{},\"s\"]}");
	accepted("{\"d\":{\"x\":{\"y\":[{\"z\":1}]}}}", "{\"d\":{\"x\":{\"y\":[{\"z\":1}]}}}");
	/* Escapes in values, kept as written; UTF-8 of 2, 3 and 4 bytes. */
	accepted("{\"m\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude80\\u0000\"}",
		 "{\"m\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude80\\u0000\"}");
	accepted("{\"m\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80\"}",
		 "{\"m\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80\"}");
	/* The same name in different objects is no duplicate. */
	accepted("{\"k\":{\"k\":1},\"j\":{\"k\":2}}", "{\"k\":{\"k\":1},\"j\":{\"k\":2}}");
	/* Underflow reads as 0 (as jansson does); 300 digits are no overflow. */
	accepted("{\"n\":1e-400}", "{\"n\":1e-400}");
}

TEST(finds_the_members)
{
	static const char json[] =
		"{\"id\":7,\"type\":\"agent\",\"message\":\"a\\nb\","
		"\"data\":{\"type\":\"x\"},\"timestamp\":\"2026-03-09T14:00:00Z\","
		"\"other\":1}";
	char out[sizeof json];
	size_t n;
	struct jsonscan_event ev;

	ASSERT_EQ(jsonscan_event(json, strlen(json), out, &n, &ev), 1);
	ASSERT_EQ(ev.id.kind, JSONSCAN_OTHER);
	ASSERT_EQ(ev.type.kind, JSONSCAN_STRING);
	ASSERT_MEM_EQ(ev.type.text, "agent", 5);
	ASSERT_EQ(ev.type.len, 5);
	ASSERT_EQ(ev.type.escaped, 0);
	ASSERT_EQ(ev.message.kind, JSONSCAN_STRING);
	ASSERT_EQ(ev.message.escaped, 1);
	ASSERT_EQ(ev.data.kind, JSONSCAN_OBJECT);
	ASSERT_EQ(ev.timestamp.kind, JSONSCAN_STRING);
	ASSERT_EQ(ev.timestamp.len, 20);
	ASSERT_MEM_EQ(ev.timestamp.text, "2026-03-09T14:00:00Z", 20);

	ASSERT_EQ(jsonscan_event("{\"type\":[]}", 11, out, &n, &ev), 1);
	ASSERT_EQ(ev.type.kind, JSONSCAN_OTHER);
	ASSERT_EQ(ev.message.kind, JSONSCAN_ABSENT);
	ASSERT_EQ(ev.data.kind, JSONSCAN_ABSENT);
}

TEST(leaves_errors_to_jansson)
{
	static const char *const bad[] = {
		"",
		" ",
		"[]",
		"1",
		"\"s\"",
		"{",
		"}",
		"{\"a\"}",
		"{\"a\":}",
		"{\"a\":1,}",
		"{\"a\":1 \"b\":2}",
		"{a:1}",
		"{'a':1}",
		"{\"a\":01}",
		"{\"a\":1.}",
		"{\"a\":.5}",
		"{\"a\":1e}",
		"{\"a\":-}",
		"{\"a\":+1}",
		"{\"a\":NaN}",
		"{\"a\":tru}",
		"{\"a\":truex}",
		"{\"a\":nul}",
		"{\"a\":[1,]}",
		"{\"a\":[1 2]}",
		"{\"a\":1}x",
		"{\"a\":1}{}",
		"{\"a\":1}}",
		"{\"a\":\"tab\there\"}",
		"{\"a\":\"\\q\"}",
		"{\"a\":\"\\u12\"}",
		"{\"a\":\"\\u12G4\"}",
		"{\"a\":\"\\ud83d\"}",
		"{\"a\":\"\\ud83d\\u0041\"}",
		"{\"a\":\"\\ude80\"}",
		"{\"a\":\"\xff\"}",
		"{\"a\":\"\x80\"}",
		"{\"a\":\"\xc0\xaf\"}",
		"{\"a\":\"\xc3\"}",
		"{\"a\":\"\xe0\x80\xaf\"}",
		"{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\xf8\x88\x80\x80\x80\"}",
		"{\"a\":1,\"a\":2}",
		"{\"d\":{\"k\":1,\"k\":2}}",
		"{\"a\":[{\"k\":1,\"k\":1}]}",
		"{\"a\":1\f}",
		"{\"a\":1e400}",
		"{\"a\":-1E+309}",
		/* Left to jansson on purpose: a name with an escape. */
		"{\"\\u0061\":1}",
		"{\"a\\n\":1}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		undecided(bad[i]);
}

TEST(leaves_deep_and_wide_objects_to_jansson)
{
	char json[4096];
	size_t n = 0;

	/* 32 levels are read, 33 are not. */
	for (int depth = 32; depth <= 33; depth++) {
		n = 0;
		for (int i = 0; i < depth; i++) {
			if (i % 2) {
				json[n++] = '[';
			} else {
				json[n++] = '{';
				n += (size_t)sprintf(json + n, "\"k\":");
			}
		}
		json[n++] = '1';
		for (int i = depth - 1; i >= 0; i--)
			json[n++] = i % 2 ? ']' : '}';
		json[n] = '\0';
		if (depth == 32)
			accepted(json, json);
		else
			undecided(json);
	}
	/* 64 members are read, 65 are not. */
	for (int members = 64; members <= 65; members++) {
		n = (size_t)sprintf(json, "{");
		for (int i = 0; i < members; i++)
			n += (size_t)sprintf(json + n, "%s\"k%d\":%d", i ? "," : "", i, i);
		sprintf(json + n, "}");
		if (members == 64)
			accepted(json, json);
		else
			undecided(json);
	}
	/* Integer parts past 300 digits are checked against the range. */
	for (int digits = 305; digits <= 320; digits += 15) {
		n = (size_t)sprintf(json, "{\"n\":");
		memset(json + n, '9', (size_t)digits);
		sprintf(json + n + digits, "}");
		if (digits == 305)
			accepted(json, json);
		else
			undecided(json);
	}
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(reads_and_minifies),
		TEST_ENTRY(finds_the_members),
		TEST_ENTRY(leaves_errors_to_jansson),
		TEST_ENTRY(leaves_deep_and_wide_objects_to_jansson),
	};

	return test_run(tests, argc, argv);
}
