/*
 * Fuzz target: splitting a request body into events, ingest_parse() with
 * INGEST_JSON and INGEST_NDJSON.
 *
 * The first input byte chooses the format (bit 0) and the event size limit
 * (bits 1-2); the rest is the body. The splitter is checked against jansson
 * reading the whole body: an accepted JSON body is one object or an array
 * whose elements are, in order, the batch's events; an accepted NDJSON body
 * has one event per non-blank line. A refusal names the first event at
 * fault: every event before the index is valid on its own, the one at the
 * index is not (or is over the limit). Error messages of UTF-8 bodies can be
 * quoted in a JSON answer. A JSON body is also read as a /ws/ingest
 * envelope (ingest_envelope()), checked against jansson as well.
 */
#include <jansson.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "ingest.h"
#include "logevent.h"
#include "wire.h"

#define JFLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL)

/* Appended "timestamp" member plus slack: what validation may add to a text. */
#define BODY_GROWTH 64

static const size_t event_limits[] = {INGEST_EVENT_MAX_DEFAULT, 24, 96, 1024};

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The non-blank lines of an NDJSON body, as (start, length) pairs. */
struct line {
	const char *p;
	size_t len;
};

static size_t
split_lines(const char *body, size_t len, struct line **out)
{
	const char *p = body, *end = body + len;
	size_t n = 0;
	struct line *lines = malloc((len + 1) * sizeof *lines);

	FUZZ_CHECK(lines != NULL, "out of memory");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *q = p;
		while (q < e && is_space(*q))
			q++;
		if (q < e)
			lines[n++] = (struct line){p, (size_t)(e - p)};
		p = nl ? nl + 1 : end;
	}
	*out = lines;
	return n;
}

/* Event ev is the JSON value want, plus a "timestamp" member if want has none. */
static void
check_event_is(const struct logevent *ev, json_t *want, size_t i)
{
	json_error_t jerr;
	json_t *got;

	FUZZ_CHECK(ev->body && ev->body_len == strlen(ev->body) && ev->body_len >= 2 &&
			   ev->body[0] == '{' && ev->body[ev->body_len - 1] == '}' &&
			   !memchr(ev->body, '\n', ev->body_len),
		   "event %zu: malformed body %s", i, ev->body ? ev->body : "(null)");
	got = json_loadb(ev->body, ev->body_len, JFLAGS, &jerr);
	FUZZ_CHECK(json_is_object(got), "event %zu: body is not an object (%s): %s", i, jerr.text,
		   ev->body);
	FUZZ_CHECK(json_is_object(want), "event %zu: accepted a non-object", i);
	if (!json_object_get(want, "timestamp"))
		json_object_del(got, "timestamp"); /* the ingest time, added */
	FUZZ_CHECK(json_equal(got, want), "event %zu: body %s differs from its element", i,
		   ev->body);
	json_decref(got);
}

/* The batch's wire messages and answer, as the writer and the loop make them. */
static void
check_answer(struct ingest_batch *b)
{
	json_error_t jerr;

	b->first_id = 1000;
	b->last_id = b->first_id + (int64_t)b->count - 1;
	for (size_t i = 0; i < b->count; i++) {
		struct wire_msg *m = wire_msg_new(b->first_id + (int64_t)i, &b->events[i]);
		FUZZ_CHECK(m != NULL, "out of memory");
		json_t *w = json_loadb(m->data, m->len, JFLAGS, &jerr);
		FUZZ_CHECK(json_is_object(w), "wire message %zu is not an object (%s)", i,
			   jerr.text);
		FUZZ_CHECK(json_number_value(json_object_get(w, "id")) ==
				   (double)(b->first_id + (int64_t)i),
			   "wire message %zu: id", i);
		json_decref(w);
		wire_msg_free(m);
	}
	char *answer = ingest_answer_json(b);
	FUZZ_CHECK(answer != NULL, "no answer");
	json_t *a = json_loads(answer, 0, &jerr);
	FUZZ_CHECK(a && json_integer_value(json_object_get(a, "accepted")) == (json_int_t)b->count,
		   "answer %s for %zu events", answer, b->count);
	json_decref(a);
	free(answer);
}

static void
check_json_accepted(const char *body, size_t len, struct ingest_batch *b)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);

	FUZZ_CHECK(doc != NULL, "accepted a body jansson refuses (%s): %.*s", jerr.text, (int)len,
		   body);
	if (json_is_array(doc)) {
		FUZZ_CHECK(json_array_size(doc) == b->count, "%zu elements, %zu events",
			   json_array_size(doc), b->count);
		for (size_t i = 0; i < b->count; i++)
			check_event_is(&b->events[i], json_array_get(doc, i), i);
	} else {
		FUZZ_CHECK(json_is_object(doc) && b->count == 1, "one object, %zu events",
			   b->count);
		check_event_is(&b->events[0], doc, 0);
	}
	json_decref(doc);
}

static void
check_ndjson_accepted(const char *body, size_t len, struct ingest_batch *b)
{
	struct line *lines;
	size_t n = split_lines(body, len, &lines);

	FUZZ_CHECK(n == b->count, "%zu non-blank lines, %zu events", n, b->count);
	for (size_t i = 0; i < n; i++) {
		json_error_t jerr;
		json_t *want = json_loadb(lines[i].p, lines[i].len, JFLAGS, &jerr);
		FUZZ_CHECK(want != NULL, "line %zu accepted but jansson refuses it: %s", i,
			   jerr.text);
		check_event_is(&b->events[i], want, i);
		json_decref(want);
	}
	free(lines);
}

/* Validate one event text alone, as the batch should have. */
static int
event_ok(const char *text, size_t len, size_t event_max)
{
	char errmsg[ERRMSG_SIZE];
	struct logevent ev;

	if (len > event_max)
		return ERR_TOOBIG;
	int rc = logevent_parse(text, len, FUZZ_NOW_US, &ev, errmsg);
	if (!rc)
		logevent_free(&ev);
	return rc;
}

static void
check_ndjson_refused(const char *body, size_t len, size_t event_max, const struct ingest_error *err)
{
	struct line *lines;
	size_t n = split_lines(body, len, &lines);

	FUZZ_CHECK(err->index < n, "index %zu of %zu lines", err->index, n);
	for (size_t i = 0; i < err->index; i++)
		FUZZ_CHECK(event_ok(lines[i].p, lines[i].len, event_max) == 0,
			   "line %zu before the index %zu is bad", i, err->index);
	int rc = event_ok(lines[err->index].p, lines[err->index].len, event_max);
	FUZZ_CHECK(rc == err->code, "line %zu: alone %d, in the batch %d", err->index, rc,
		   err->code);
	free(lines);
}

/*
 * When jansson reads the whole body, the index is the first element that
 * is not a valid event. Elements are validated from their dumped form, which
 * differs from the text only in spelling; the size limit is skipped, and so
 * are bodies with a NUL byte (jansson skips some of them, so its reading is
 * no oracle there).
 */
static void
check_json_refused(const char *body, size_t len, size_t event_max, const struct ingest_error *err)
{
	json_error_t jerr;
	json_t *doc;

	if (event_max != INGEST_EVENT_MAX_DEFAULT || memchr(body, '\0', len))
		return;
	doc = json_loadb(body, len, JFLAGS, &jerr);
	if (!doc)
		return;
	if (!json_is_array(doc)) {
		FUZZ_CHECK(err->index == 0, "index %zu for one object", err->index);
		json_decref(doc);
		return;
	}
	FUZZ_CHECK(err->index < json_array_size(doc), "index %zu of %zu elements", err->index,
		   json_array_size(doc));
	for (size_t i = 0; i <= err->index; i++) {
		char *text = json_dumps(json_array_get(doc, i), JSON_COMPACT | JSON_ENCODE_ANY);
		FUZZ_CHECK(text != NULL, "out of memory");
		int rc = event_ok(text, strlen(text), INGEST_EVENT_MAX_DEFAULT);
		if (i < err->index)
			FUZZ_CHECK(rc == 0, "element %zu before the index %zu is bad: %s", i,
				   err->index, text);
		else
			FUZZ_CHECK(rc != 0, "element %zu at the index is a valid event: %s", i,
				   text);
		free(text);
	}
	json_decref(doc);
}

/*
 * The envelope reader: an envelope's events are exactly jansson's "events"
 * member, and an object jansson reads with a string "idempotency_key" and
 * no "type" is never taken for something else (member names written with
 * escapes are left out: the reader compares them as written).
 */
static void
check_envelope(const char *body, size_t len)
{
	char errmsg[ERRMSG_SIZE], *key = NULL;
	const char *events = NULL;
	size_t events_len = 0;
	int rc = ingest_envelope(body, len, &key, &events, &events_len, errmsg);
	json_t *doc = memchr(body, '\0', len) ? NULL : json_loadb(body, len, JFLAGS, NULL);

	FUZZ_CHECK(rc == 0 || rc == 1 || rc == ERR_INVAL, "envelope: code %d", rc);
	if (rc == 1) {
		FUZZ_CHECK(key && *key && events >= body && events + events_len <= body + len,
			   "envelope: key or events out of place");
		if (doc) {
			json_t *want = json_object_get(doc, "events");
			json_t *got =
				json_loadb(events, events_len, JFLAGS | JSON_DECODE_ANY, NULL);
			FUZZ_CHECK(json_is_object(doc) && json_object_size(doc) == 2 && want &&
					   json_is_string(json_object_get(doc, "idempotency_key")),
				   "envelope: accepted %.*s", (int)len, body);
			FUZZ_CHECK(got && json_equal(got, want), "envelope: events %.*s",
				   (int)events_len, events);
			json_decref(got);
		}
		free(key);
	} else if (rc == ERR_INVAL) {
		FUZZ_CHECK(!key && strnlen(errmsg, sizeof errmsg) > 0, "envelope: refusal");
	} else if (doc && json_is_object(doc) && !memchr(body, '\\', len)) {
		FUZZ_CHECK(!json_is_string(json_object_get(doc, "idempotency_key")) ||
				   json_object_get(doc, "type"),
			   "envelope: not taken for one: %.*s", (int)len, body);
	}
	json_decref(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_error err;
	struct ingest_batch *b;

	if (size < 1)
		return 0;
	enum ingest_format format = data[0] & 1 ? INGEST_NDJSON : INGEST_JSON;
	size_t event_max = event_limits[(data[0] >> 1) & 3];
	size_t len = size - 1;
	/* An exact-size copy: ASan sees a read past the body. */
	char *body = malloc(len ? len : 1);

	FUZZ_CHECK(body != NULL, "out of memory");
	memcpy(body, data + 1, len);
	memset(&err, 0, sizeof err);
	if (format == INGEST_JSON)
		check_envelope(body, len);
	b = ingest_parse(body, len, format, event_max, &err);
	if (b) {
		FUZZ_CHECK(b->status == 0 && !b->msgs && !b->owner && !b->next, "fresh batch");
		FUZZ_CHECK(b->count > 0 || format == INGEST_NDJSON || len >= 2,
			   "empty batch from %zu bytes", len);
		for (size_t i = 0; i < b->count; i++)
			FUZZ_CHECK(b->events[i].body_len <= event_max + BODY_GROWTH,
				   "event %zu of %zu bytes over the limit %zu", i,
				   b->events[i].body_len, event_max);
		if (format == INGEST_JSON)
			check_json_accepted(body, len, b);
		else
			check_ndjson_accepted(body, len, b);
		check_answer(b);
		ingest_batch_free(b);
	} else {
		size_t mlen = strnlen(err.msg, sizeof err.msg);
		FUZZ_CHECK(err.code == ERR_JSON || err.code == ERR_EVENT || err.code == ERR_TOOBIG,
			   "code %d", err.code);
		FUZZ_CHECK(mlen > 0 && mlen < sizeof err.msg, "message of %zu bytes", mlen);
		FUZZ_CHECK(err.index <= len, "index %zu for %zu bytes", err.index, len);
		FUZZ_CHECK(err.code != ERR_TOOBIG || len > event_max,
			   "too big: a body of %zu bytes, the limit %zu", len, event_max);
		if (fuzz_utf8_valid(body, len)) {
			char *json = ingest_error_json(err.msg, (long)err.index);
			FUZZ_CHECK(json != NULL,
				   "the error message of a UTF-8 body is not UTF-8 itself, so "
				   "it cannot be sent in a JSON answer: \"%s\"",
				   err.msg);
			free(json);
		}
		if (format == INGEST_NDJSON)
			check_ndjson_refused(body, len, event_max, &err);
		else
			check_json_refused(body, len, event_max, &err);
	}
	free(body);
	return 0;
}
