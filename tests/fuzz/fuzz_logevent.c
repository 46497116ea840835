/*
 * Fuzz target: event validation, logevent_parse() on arbitrary bytes.
 *
 * Properties of an accepted event: its stored body is one minified JSON
 * object ('{' ... '}', no raw newline, body_len == strlen) that jansson
 * reads back as the producer's object, plus a "timestamp" member exactly
 * when the producer gave none; type and ts_us agree with the body; parsing
 * the body again is a fixed point; its wire form is the body with "id" in
 * front. A refused event gets ERR_JSON or ERR_EVENT and a message that can
 * be quoted in a JSON error answer whenever the input was valid UTF-8.
 * Whatever jsonscan reads by itself (the fast path), jansson reads too, to
 * the same value, and its minified text is that value.
 */
#include <jansson.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "ingest.h"
#include "jsonscan.h"
#include "logevent.h"
#include "timestamp.h"
#include "wire.h"

#define JFLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL)

static void
check_refused(const uint8_t *data, size_t size, int rc, const char *errmsg)
{
	size_t len = strnlen(errmsg, ERRMSG_SIZE);

	FUZZ_CHECK(rc == ERR_JSON || rc == ERR_EVENT, "rc %d", rc);
	FUZZ_CHECK(len > 0 && len < ERRMSG_SIZE, "errmsg of %zu bytes", len);
	if (fuzz_utf8_valid((const char *)data, size)) {
		char *json = ingest_error_json(errmsg, 0);
		FUZZ_CHECK(json != NULL,
			   "the error message of a UTF-8 input is not UTF-8 itself, so "
			   "it cannot be sent in a JSON answer: \"%s\"",
			   errmsg);
		free(json);
	}
}

/* The wire form: {"id":N, then the body's members. */
static void
check_wire(const struct logevent *ev, json_t *body)
{
	static const int64_t ids[] = {1, 42, INT64_MAX};
	char *out = malloc(ev->body_len + WIRE_OVERHEAD);

	FUZZ_CHECK(out != NULL, "out of memory");
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		char prefix[WIRE_OVERHEAD];
		int plen = snprintf(prefix, sizeof prefix, "{\"id\":%lld,", (long long)ids[i]);
		size_t n = wire_write(ids[i], ev->body, ev->body_len, out);
		json_error_t jerr;

		FUZZ_CHECK(n <= ev->body_len + WIRE_OVERHEAD, "wire %zu bytes", n);
		FUZZ_CHECK(n == (size_t)plen + ev->body_len - 1, "wire %zu bytes", n);
		FUZZ_CHECK(!memcmp(out, prefix, (size_t)plen), "wire prefix %.*s", (int)n, out);
		json_t *w = json_loadb(out, n, JFLAGS, &jerr);
		FUZZ_CHECK(w != NULL, "wire form is not JSON (%s): %.*s", jerr.text, (int)n, out);
		json_t *id = json_object_get(w, "id");
		FUZZ_CHECK(json_is_number(id) && json_number_value(id) == (double)ids[i],
			   "wire id");
		json_object_del(w, "id");
		FUZZ_CHECK(json_equal(w, body), "wire form and body differ: %.*s", (int)n, out);
		json_decref(w);
	}
	free(out);
}

static void
check_accepted(const uint8_t *data, size_t size, const struct logevent *ev)
{
	char errmsg[ERRMSG_SIZE];
	json_error_t jerr;
	json_t *in, *body, *ts;

	FUZZ_CHECK(ev->body != NULL, "no body");
	FUZZ_CHECK(ev->body_len == strlen(ev->body), "body_len %zu, strlen %zu", ev->body_len,
		   strlen(ev->body));
	FUZZ_CHECK(ev->body_len >= 2 && ev->body[0] == '{' && ev->body[ev->body_len - 1] == '}',
		   "body is not braced: %s", ev->body);
	FUZZ_CHECK(!memchr(ev->body, '\n', ev->body_len) && !memchr(ev->body, '\r', ev->body_len),
		   "raw newline in body: %s", ev->body);
	FUZZ_CHECK(ev->body_len <= size + 64, "body grew from %zu to %zu bytes", size,
		   ev->body_len);
	FUZZ_CHECK(logevent_type_valid(ev->type, strlen(ev->type)), "type '%s'", ev->type);

	in = json_loadb((const char *)data, size, JFLAGS, &jerr);
	FUZZ_CHECK(json_is_object(in), "accepted input is not a JSON object: %s", jerr.text);
	body = json_loadb(ev->body, ev->body_len, JFLAGS, &jerr);
	FUZZ_CHECK(json_is_object(body), "body is not a JSON object (%s): %s", jerr.text, ev->body);

	FUZZ_CHECK(json_object_get(body, "id") == NULL, "body has an id");
	FUZZ_CHECK(json_is_string(json_object_get(body, "message")), "message");
	json_t *type = json_object_get(body, "type");
	FUZZ_CHECK(json_is_string(type) && !strcmp(json_string_value(type), ev->type),
		   "type '%s' vs body %s", ev->type, ev->body);
	ts = json_object_get(body, "timestamp");
	FUZZ_CHECK(json_is_string(ts), "timestamp missing in %s", ev->body);
	int64_t us = 0;
	FUZZ_CHECK(!timestamp_parse(json_string_value(ts), json_string_length(ts), &us) &&
			   us == ev->ts_us,
		   "timestamp %s vs ts_us %lld", json_string_value(ts), (long long)ev->ts_us);
	if (!json_object_get(in, "timestamp")) {
		char now[TIMESTAMP_FORMAT_SIZE];
		timestamp_format(FUZZ_NOW_US, now);
		FUZZ_CHECK(!strcmp(json_string_value(ts), now) && ev->ts_us == FUZZ_NOW_US,
			   "added timestamp %s, expected %s", json_string_value(ts), now);
		/* The rest of the body is the producer's object. */
		json_t *rest = json_deep_copy(body);
		json_object_del(rest, "timestamp");
		FUZZ_CHECK(json_equal(rest, in), "body differs from the input: %s", ev->body);
		json_decref(rest);
	} else {
		FUZZ_CHECK(json_equal(body, in), "body differs from the input: %s", ev->body);
	}

	/* The stored body is a fixed point of validation. */
	struct logevent again;
	FUZZ_CHECK(!logevent_parse(ev->body, ev->body_len, FUZZ_NOW_US + 1, &again, errmsg),
		   "body refused (%s): %s", errmsg, ev->body);
	FUZZ_CHECK(again.body_len == ev->body_len && !memcmp(again.body, ev->body, ev->body_len),
		   "body changed on a second pass: %s -> %s", ev->body, again.body);
	FUZZ_CHECK(again.ts_us == ev->ts_us && !strcmp(again.type, ev->type), "second pass");
	logevent_free(&again);

	check_wire(ev, body);
	json_decref(body);
	json_decref(in);
}

/* jsonscan decides only what jansson accepts, and keeps its value. */
static void
check_scan(const uint8_t *data, size_t size)
{
	struct jsonscan_event ev;
	char *out = malloc(size + 1);
	size_t n = 0;
	json_error_t jerr;

	FUZZ_CHECK(out != NULL, "out of memory");
	if (!memchr(data, '\0', size) && jsonscan_event((const char *)data, size, out, &n, &ev)) {
		json_t *in = json_loadb((const char *)data, size, JFLAGS, &jerr);
		FUZZ_CHECK(json_is_object(in), "jsonscan read what jansson refuses (%s)",
			   jerr.text);
		FUZZ_CHECK(n <= size, "minified %zu of %zu bytes", n, size);
		json_t *min = json_loadb(out, n, JFLAGS, &jerr);
		FUZZ_CHECK(min && json_equal(min, in), "jsonscan's text differs: %.*s", (int)n,
			   out);
		json_t *d = json_object_get(in, "data");
		FUZZ_CHECK((ev.data.kind == JSONSCAN_OBJECT) == json_is_object(d) &&
				   (ev.data.kind == JSONSCAN_ABSENT) == !d,
			   "data's kind");
		json_t *t = json_object_get(in, "type");
		FUZZ_CHECK((ev.type.kind == JSONSCAN_STRING) == json_is_string(t), "type's kind");
		if (json_is_string(t) && !ev.type.escaped)
			FUZZ_CHECK(ev.type.len == json_string_length(t) &&
					   !memcmp(ev.type.text, json_string_value(t), ev.type.len),
				   "type's text");
		json_decref(min);
		json_decref(in);
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errmsg[ERRMSG_SIZE];
	struct logevent ev;
	int rc;

	check_scan(data, size);
	memset(&ev, 0xa5, sizeof ev); /* untouched on failure: left as is */
	errmsg[0] = '\0';
	rc = logevent_parse((const char *)data, size, FUZZ_NOW_US, &ev, errmsg);
	if (rc) {
		const unsigned char *raw = (const unsigned char *)&ev;
		for (size_t i = 0; i < sizeof ev; i++)
			FUZZ_CHECK(raw[i] == 0xa5, "out was written on failure");
		check_refused(data, size, rc, errmsg);
		return 0;
	}
	check_accepted(data, size, &ev);
	logevent_free(&ev);
	return 0;
}
