/*
 * Loki pushes (see loki_push.h). The body is parsed whole with jansson
 * (it is bounded by the body limit), each event is built as a JSON object
 * and then validated by logevent_parse() like any producer's event.
 */
#include "loki_push.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mapping.h"
#include "timestamp.h"

static struct ingest_batch *
fail(struct ingest_batch *b, struct ingest_error *err, int code, size_t index, const char *fmt,
     const char *arg)
{
	err->code = code;
	err->index = index;
	snprintf(err->msg, sizeof err->msg, fmt, arg);
	ingest_batch_free(b);
	return NULL;
}

/* The event of one entry, its text malloc'd into *text. */
static int
entry_text(const char *type, json_t *labels, json_t *entry, char **text, const char **why)
{
	json_t *ts = json_array_get(entry, 0), *line = json_array_get(entry, 1);
	json_t *meta = json_array_get(entry, 2), *o = NULL, *data = NULL, *v;
	char iso[TIMESTAMP_FORMAT_SIZE];
	const char *key;
	int64_t us;

	*why = "each entry must be [\"<nanoseconds>\", \"<line>\"]";
	if (!json_is_array(entry) || json_array_size(entry) < 2 || json_array_size(entry) > 3 ||
	    !json_is_string(ts) || !json_is_string(line) || (meta && !json_is_object(meta)))
		return ERR_EVENT;
	*why = "an entry's time must be nanoseconds since 1970 as a string of digits";
	if (mapping_epoch_us(json_string_value(ts), json_string_length(ts), MAPPING_UNIT_NS, &us))
		return ERR_EVENT;
	timestamp_format(us, iso);
	*why = "out of memory";
	if (!(data = json_object()))
		return ERR_NOMEM;
	json_object_foreach(labels, key, v)
	{
		if (strcmp(key, "type") && json_object_set(data, key, v))
			goto nomem;
	}
	json_object_foreach(meta, key, v)
	{
		*why = "structured metadata values must be strings";
		if (!json_is_string(v)) {
			json_decref(data);
			return ERR_EVENT;
		}
		if (!json_object_get(data, key) && json_object_set(data, key, v))
			goto nomem;
	}
	o = json_pack("{s:s,s:O,s:s}", "type", type, "message", line, "timestamp", iso);
	if (!o || (json_object_size(data) && json_object_set(o, "data", data)))
		goto nomem;
	json_decref(data);
	*text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return *text ? 0 : ERR_NOMEM;
nomem:
	*why = "out of memory";
	json_decref(data);
	json_decref(o);
	return ERR_NOMEM;
}

/* The checks of one stream's labels; its type into type. */
static const char *
stream_type(json_t *labels, const char **why)
{
	const char *key;
	json_t *v;

	if (!json_is_object(labels)) {
		*why = "each stream needs a \"stream\" object of labels";
		return NULL;
	}
	json_object_foreach(labels, key, v)
	{
		if (!json_is_string(v)) {
			*why = "label values must be strings";
			return NULL;
		}
	}
	v = json_object_get(labels, "type");
	if (!v)
		return LOKI_PUSH_DEFAULT_TYPE;
	if (!logevent_type_valid(json_string_value(v), json_string_length(v))) {
		*why = "label 'type' must be 1-64 characters of A-Za-z0-9_.:-";
		return NULL;
	}
	return json_string_value(v);
}

struct ingest_batch *
loki_push_parse(const char *body, size_t len, size_t event_max, struct ingest_error *err)
{
	struct ingest_batch *b = calloc(1, sizeof *b);
	int64_t now_us = timestamp_now();
	size_t total = 0, si, ei;
	json_t *root, *streams, *stream, *entry;
	json_error_t jerr;
	const char *why = "";

	if (!b)
		return fail(NULL, err, ERR_NOMEM, 0, "%s", "out of memory");
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(b, err, ERR_JSON, 0, "invalid JSON: %s", jerr.text);
	streams = json_object_get(root, "streams");
	if (!json_is_array(streams)) {
		json_decref(root);
		return fail(b, err, ERR_EVENT, 0, "%s", "expected {\"streams\":[...]}");
	}
	json_array_foreach(streams, si, stream)
	{
		json_t *values = json_object_get(stream, "values");
		if (json_is_array(values))
			total += json_array_size(values);
	}
	if (total && !(b->events = calloc(total, sizeof *b->events))) {
		json_decref(root);
		return fail(b, err, ERR_NOMEM, 0, "%s", "out of memory");
	}
	json_array_foreach(streams, si, stream)
	{
		json_t *labels = json_object_get(stream, "stream");
		json_t *values = json_object_get(stream, "values");
		const char *type = stream_type(labels, &why);
		if (!type || !json_is_array(values)) {
			json_decref(root);
			return fail(b, err, ERR_EVENT, b->count, "%s",
				    type ? "each stream needs a \"values\" array" : why);
		}
		json_array_foreach(values, ei, entry)
		{
			char *text = NULL;
			int rc = entry_text(type, labels, entry, &text, &why);
			if (!rc && strlen(text) > event_max) {
				rc = ERR_TOOBIG;
				why = "an entry is over the event size limit";
			}
			if (!rc)
				rc = logevent_parse(text, strlen(text), now_us,
						    &b->events[b->count], err->msg);
			else
				snprintf(err->msg, sizeof err->msg, "%s", why);
			free(text);
			if (rc) {
				char msg[ERRMSG_SIZE];
				memcpy(msg, err->msg, sizeof msg);
				json_decref(root);
				return fail(b, err, rc, b->count, "%s", msg);
			}
			b->count++;
		}
	}
	json_decref(root);
	return b;
}
