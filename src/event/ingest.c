/*
 * Splitting a request into events. Arrays are split at their top-level
 * commas by a small scanner that only tracks strings and nesting; each
 * element is then validated on its own by logevent_parse(), which rejects
 * anything the split let through (an element that is not valid JSON).
 */
#include "ingest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "timestamp.h"

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
fail(struct ingest_error *err, int code, size_t index, const char *msg)
{
	err->code = code;
	err->index = index;
	snprintf(err->msg, sizeof err->msg, "%s", msg);
}

/* Append one event text to the batch, validating it. */
static int
add_event(struct ingest_batch *b, size_t *cap, const char *text, size_t len, size_t event_max,
	  int64_t now_us, struct ingest_error *err)
{
	if (len > event_max) {
		char msg[ERRMSG_SIZE];
		snprintf(msg, sizeof msg, "event of %zu bytes is over the limit of %zu bytes", len,
			 event_max);
		fail(err, ERR_TOOBIG, b->count, msg);
		return ERR_TOOBIG;
	}
	if (b->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct logevent *ne = realloc(b->events, ncap * sizeof *ne);
		if (!ne) {
			fail(err, ERR_NOMEM, b->count, "out of memory");
			return ERR_NOMEM;
		}
		b->events = ne;
		*cap = ncap;
	}
	int rc = logevent_parse(text, len, now_us, &b->events[b->count], err->msg);
	if (rc) {
		err->code = rc;
		err->index = b->count;
		return rc;
	}
	b->count++;
	return 0;
}

/*
 * Find the end of the array element starting at p: the first ',' or ']'
 * at nesting depth 0 outside strings. Returns NULL if there is none.
 */
static const char *
element_end(const char *p, const char *end)
{
	int depth = 0, in_string = 0;

	for (; p < end; p++) {
		char c = *p;
		if (in_string) {
			if (c == '\\')
				p++;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return c == ']' ? p : NULL;
			depth--;
		} else if (c == ',' && depth == 0) {
			return p;
		}
	}
	return NULL;
}

static int
parse_array(struct ingest_batch *b, size_t *cap, const char *p, const char *end, size_t event_max,
	    int64_t now_us, struct ingest_error *err)
{
	p++; /* '[' */
	while (p < end && is_space(*p))
		p++;
	if (p < end && *p == ']') {
		p++;
		goto trailer;
	}
	for (;;) {
		const char *e = element_end(p, end);
		if (!e) {
			fail(err, ERR_JSON, b->count, "invalid JSON: the array is not terminated");
			return ERR_JSON;
		}
		int rc = add_event(b, cap, p, (size_t)(e - p), event_max, now_us, err);
		if (rc)
			return rc;
		p = e + 1;
		if (*e == ']')
			break;
	}
trailer:
	while (p < end && is_space(*p))
		p++;
	if (p != end) {
		fail(err, ERR_JSON, b->count, "invalid JSON: unexpected text after the array");
		return ERR_JSON;
	}
	return 0;
}

static int
parse_lines(struct ingest_batch *b, size_t *cap, const char *p, const char *end, size_t event_max,
	    int64_t now_us, struct ingest_error *err)
{
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		const char *q = p;
		while (q < e && is_space(*q))
			q++;
		if (q < e) {
			int rc = add_event(b, cap, p, (size_t)(e - p), event_max, now_us, err);
			if (rc)
				return rc;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

struct ingest_batch *
ingest_parse(const char *body, size_t len, enum ingest_format format, size_t event_max,
	     struct ingest_error *err)
{
	struct ingest_batch *b = calloc(1, sizeof *b);
	const char *p = body, *end = body + len;
	int64_t now_us = timestamp_now();
	size_t cap = 0;
	int rc;

	if (!b) {
		fail(err, ERR_NOMEM, 0, "out of memory");
		return NULL;
	}
	if (format == INGEST_NDJSON) {
		rc = parse_lines(b, &cap, p, end, event_max, now_us, err);
	} else {
		while (p < end && is_space(*p))
			p++;
		if (p < end && *p == '[')
			rc = parse_array(b, &cap, p, end, event_max, now_us, err);
		else if (p < end && *p == '{')
			rc = add_event(b, &cap, p, (size_t)(end - p), event_max, now_us, err);
		else {
			fail(err, ERR_JSON, 0,
			     "invalid JSON: expected an event object or an array of them");
			rc = ERR_JSON;
		}
	}
	if (rc) {
		ingest_batch_free(b);
		return NULL;
	}
	return b;
}

void
ingest_batch_free(struct ingest_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->count; i++) {
		logevent_free(&b->events[i]);
		if (b->msgs)
			wire_msg_free(b->msgs[i]);
	}
	free(b->events);
	free(b->msgs);
	free(b->ids);
	free(b->idem_key);
	free(b);
}

char *
ingest_key_parse(const char *value, char *errmsg)
{
	size_t len = strlen(value);
	char *key;

	if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
		value++;
		len -= 2;
	}
	if (len < 1 || len > INGEST_KEY_MAX) {
		err_set(errmsg, ERR_INVAL, "Idempotency-Key must be 1 to %d characters",
			INGEST_KEY_MAX);
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		if (value[i] < 0x20 || value[i] > 0x7e || value[i] == '"' || value[i] == '\\') {
			err_set(errmsg, ERR_INVAL,
				"Idempotency-Key must be printable ASCII without quotes or "
				"backslashes inside");
			return NULL;
		}
	}
	key = strndup(value, len);
	if (!key)
		err_set(errmsg, ERR_NOMEM, "out of memory");
	return key;
}

char *
ingest_answer_json(const struct ingest_batch *b)
{
	struct buf out = {0};
	int rc;

	if (b->count == 0)
		return strdup("{\"accepted\":0,\"first_id\":null,\"last_id\":null}");
	rc = buf_printf(&out, "{\"accepted\":%zu,\"first_id\":%lld,\"last_id\":%lld", b->count,
			(long long)b->first_id, (long long)b->last_id);
	if (!rc && b->ids) {
		rc = buf_append(&out, ",\"ids\":[", 8);
		for (size_t i = 0; !rc && i < b->count; i++)
			rc = buf_printf(&out, "%s%lld", i ? "," : "", (long long)b->ids[i]);
		rc = rc || buf_append(&out, "]", 1);
	}
	if (rc || buf_append(&out, "}", 1)) {
		buf_free(&out);
		return NULL;
	}
	return out.data;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if there is none. */
static size_t
utf8_seq(const unsigned char *p)
{
	size_t n = p[0] < 0x80             ? 1
		   : (p[0] & 0xe0) == 0xc0 ? 2
		   : (p[0] & 0xf0) == 0xe0 ? 3
		   : (p[0] & 0xf8) == 0xf0 ? 4
					   : 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

char *
ingest_error_json(const char *msg, long index)
{
	/* Messages quote input (jansson's "near '...'", a parameter's value)
	 * and may cut a character in half: keep them valid UTF-8. */
	char clean[2 * ERRMSG_SIZE];
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)msg; *p && n + 4 < sizeof clean;) {
		size_t len = utf8_seq(p);
		if (len) {
			memcpy(clean + n, p, len);
			n += len;
			p += len;
		} else {
			clean[n++] = '?';
			p++;
		}
	}
	clean[n] = '\0';

	json_t *o = json_pack("{s:s}", "error", clean);
	char *s;

	if (!o)
		return NULL;
	if (index >= 0 && json_object_set_new(o, "index", json_integer(index))) {
		json_decref(o);
		return NULL;
	}
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}
