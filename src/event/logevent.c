/*
 * Event validation. The common event is read once by jsonscan, which
 * checks it and writes the minified body in one pass without building a
 * tree; whatever jsonscan leaves undecided, every refusal among it, is read
 * by jansson, which checks the JSON (syntax, UTF-8, duplicate keys) and the
 * fields and gives the reason. Either way the stored body is the producer's
 * text minified, not a re-serialisation, so numbers such as 0.1 or 1.50
 * keep their spelling.
 */
#include "logevent.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jsonscan.h"
#include "timestamp.h"

int
logevent_type_valid(const char *type, size_t len)
{
	if (len < 1 || len > LOGEVENT_TYPE_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = type[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * Copy valid JSON text without whitespace outside strings. Returns the
 * length written; out must hold len bytes.
 */
static size_t
minify(const char *text, size_t len, char *out)
{
	size_t n = 0;
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			out[n++] = c;
			if (c == '\\' && i + 1 < len)
				out[n++] = text[++i];
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
			out[n++] = c;
		} else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			out[n++] = c;
		}
	}
	return n;
}

/* Check the fields of a parsed event; fills type and ts on success. */
static int
check_fields(json_t *root, struct logevent *ev, int *has_ts, char *errmsg)
{
	json_t *v;

	if (!json_is_object(root))
		return err_set(errmsg, ERR_EVENT, "an event must be a JSON object");
	if (json_object_get(root, "id"))
		return err_set(errmsg, ERR_EVENT,
			       "field 'id' is assigned by the store and may not be set");

	v = json_object_get(root, "type");
	if (!v)
		return err_set(errmsg, ERR_EVENT, "missing required field 'type'");
	if (!json_is_string(v))
		return err_set(errmsg, ERR_EVENT, "field 'type' must be a string");
	size_t tlen = json_string_length(v);
	if (!logevent_type_valid(json_string_value(v), tlen))
		return err_set(errmsg, ERR_EVENT,
			       "field 'type' must be 1-64 characters of A-Za-z0-9_.:-");
	memcpy(ev->type, json_string_value(v), tlen);
	ev->type[tlen] = '\0';

	v = json_object_get(root, "message");
	if (!v)
		return err_set(errmsg, ERR_EVENT, "missing required field 'message'");
	if (!json_is_string(v))
		return err_set(errmsg, ERR_EVENT, "field 'message' must be a string");

	v = json_object_get(root, "data");
	if (v && !json_is_object(v))
		return err_set(errmsg, ERR_EVENT, "field 'data' must be a JSON object");

	v = json_object_get(root, "timestamp");
	*has_ts = v != NULL;
	if (v) {
		if (!json_is_string(v))
			return err_set(errmsg, ERR_EVENT,
				       "field 'timestamp' must be an ISO 8601 string");
		if (timestamp_parse(json_string_value(v), json_string_length(v), &ev->ts_us))
			return err_set(errmsg, ERR_EVENT,
				       "field 'timestamp' is not a valid ISO 8601 time: "
				       "expected YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+HH:MM]");
	}
	return 0;
}

/*
 * The fields of an event jsonscan read, when they pass every check that
 * check_fields() makes; ev is written only then. Returns 1, or 0 to leave
 * the event to jansson (which also words the refusal).
 */
static int
scanned_fields(const struct jsonscan_event *f, struct logevent *ev, int *has_ts)
{
	const struct jsonscan_member *ts = &f->timestamp;
	int64_t us = 0;

	if (f->id.kind || f->type.kind != JSONSCAN_STRING || f->type.escaped ||
	    !logevent_type_valid(f->type.text, f->type.len) || f->message.kind != JSONSCAN_STRING ||
	    (f->data.kind && f->data.kind != JSONSCAN_OBJECT))
		return 0;
	if (ts->kind &&
	    (ts->kind != JSONSCAN_STRING || ts->escaped || timestamp_parse(ts->text, ts->len, &us)))
		return 0;
	memcpy(ev->type, f->type.text, f->type.len);
	ev->type[f->type.len] = '\0';
	*has_ts = ts->kind != JSONSCAN_ABSENT;
	if (*has_ts)
		ev->ts_us = us;
	return 1;
}

/* Read text with jansson: the reason for a refusal, or ev's fields. */
static int
parse_slow(const char *text, size_t len, struct logevent *ev, int *has_ts, char *errmsg)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	/* Integers as reals: a 20-digit id in "data" is valid JSON, and we
	 * never use the numeric value, only the text. */
	root = json_loadb(text, len,
			  JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY |
				  JSON_ALLOW_NUL,
			  &jerr);
	if (!root)
		return err_set(errmsg, ERR_JSON, "invalid JSON: %s (line %d, column %d)", jerr.text,
			       jerr.line, jerr.column);
	rc = check_fields(root, ev, has_ts, errmsg);
	json_decref(root);
	return rc;
}

int
logevent_parse(const char *text, size_t len, int64_t now_us, struct logevent *out, char *errmsg)
{
	static const char ts_prefix[] = ",\"timestamp\":\"";
	struct logevent ev = {0};
	struct jsonscan_event scanned;
	int has_ts = 0, rc;

	/* A raw NUL is never valid JSON, but jansson lets one pass after a
	 * number; the body would then carry it to every reader. */
	if (memchr(text, '\0', len))
		return err_set(errmsg, ERR_JSON,
			       "invalid JSON: a raw NUL byte (write it as \\u0000 in a string)");
	ev.body = malloc(len + sizeof ts_prefix + TIMESTAMP_FORMAT_SIZE + 2);
	if (!ev.body)
		return err_set(errmsg, ERR_NOMEM, "out of memory");
	if (!jsonscan_event(text, len, ev.body, &ev.body_len, &scanned) ||
	    !scanned_fields(&scanned, &ev, &has_ts)) {
		if ((rc = parse_slow(text, len, &ev, &has_ts, errmsg))) {
			free(ev.body);
			return rc;
		}
		ev.body_len = minify(text, len, ev.body);
	}
	if (!has_ts) {
		/* The object holds at least type and message, so it ends in
		 * "...}" after a member and a comma is right. */
		char *p = ev.body + ev.body_len - 1;
		ev.ts_us = now_us;
		memcpy(p, ts_prefix, sizeof ts_prefix - 1);
		p += sizeof ts_prefix - 1;
		timestamp_format(now_us, p);
		p += TIMESTAMP_FORMAT_SIZE - 1;
		*p++ = '"';
		*p++ = '}';
		ev.body_len = (size_t)(p - ev.body);
	}
	ev.body[ev.body_len] = '\0';
	*out = ev;
	return 0;
}

void
logevent_free(struct logevent *ev)
{
	free(ev->body);
	ev->body = NULL;
	ev->body_len = 0;
}
