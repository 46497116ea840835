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

/* What splitting one request needs along the way. */
struct parse_ctx {
	struct ingest_batch *b;
	size_t cap;  /* of b->events */
	size_t seen; /* events met so far, kept or not: the next one's index */
	size_t event_max;
	int64_t now_us;
	const struct ingest_options *o; /* or NULL */
	struct ingest_error *err;
};

/* A partial request leaves the event at fault out. */
static int
reject(struct parse_ctx *c, int code)
{
	struct ingest_batch *b = c->b;

	if (code == ERR_NOMEM || !c->o || !c->o->partial)
		return code;
	if (b->reject_count < INGEST_REJECTS_MAX) {
		if (!b->rejects && !(b->rejects = calloc(INGEST_REJECTS_MAX, sizeof *b->rejects)))
			goto nomem;
		struct ingest_reject *r = &b->rejects[b->reject_count];
		if (!(r->msg = strdup(c->err->msg)))
			goto nomem;
		r->index = c->err->index;
	}
	b->reject_count++;
	return 0;
nomem:
	fail(c->err, ERR_NOMEM, c->err->index, "out of memory");
	return ERR_NOMEM;
}

/* Append one event to the batch, validating it: an object's text, or a line
 * of plain text when line is set. */
static int
add_event(struct parse_ctx *c, const char *text, size_t len, int line)
{
	struct ingest_batch *b = c->b;
	const struct mapping *m = c->o ? &c->o->map : NULL;
	size_t index = c->seen++;
	int rc;

	if (len > c->event_max) {
		char msg[ERRMSG_SIZE];
		snprintf(msg, sizeof msg, "event of %zu bytes is over the limit of %zu bytes", len,
			 c->event_max);
		fail(c->err, ERR_TOOBIG, index, msg);
		return reject(c, ERR_TOOBIG);
	}
	if (b->count == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		struct logevent *ne = realloc(b->events, ncap * sizeof *ne);
		if (!ne) {
			fail(c->err, ERR_NOMEM, index, "out of memory");
			return ERR_NOMEM;
		}
		b->events = ne;
		c->cap = ncap;
	}
	rc = line ? mapping_line(m, text, len, c->now_us, &b->events[b->count], c->err->msg)
		  : mapping_event(m, text, len, c->now_us, &b->events[b->count], c->err->msg);
	if (rc) {
		c->err->code = rc;
		c->err->index = index;
		return reject(c, rc);
	}
	b->count++;
	return 0;
}

/*
 * Find the end of the array element (close ']') or object member value
 * (close '}') starting at p: the first ',' or close at nesting depth 0
 * outside strings. Returns NULL if there is none.
 */
static const char *
element_end(const char *p, const char *end, char close)
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
				return c == close ? p : NULL;
			depth--;
		} else if (c == ',' && depth == 0) {
			return p;
		}
	}
	return NULL;
}

static int
parse_array(struct parse_ctx *c, const char *p, const char *end)
{
	p++; /* '[' */
	while (p < end && is_space(*p))
		p++;
	if (p < end && *p == ']') {
		p++;
		goto trailer;
	}
	for (;;) {
		const char *e = element_end(p, end, ']');
		if (!e) {
			fail(c->err, ERR_JSON, c->seen,
			     "invalid JSON: the array is not terminated");
			return ERR_JSON;
		}
		int rc = add_event(c, p, (size_t)(e - p), 0);
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
		fail(c->err, ERR_JSON, c->seen, "invalid JSON: unexpected text after the array");
		return ERR_JSON;
	}
	return 0;
}

/* One event a line: objects, or plain text (text set). */
static int
parse_lines(struct parse_ctx *c, const char *p, const char *end, int text)
{
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		const char *q = p;
		while (q < e && is_space(*q))
			q++;
		if (text && e > p && e[-1] == '\r')
			e--; /* CRLF line ends */
		if (q < e) {
			int rc = add_event(c, p, (size_t)(e - p), text);
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
	return ingest_parse_opts(body, len, format, event_max, NULL, err);
}

struct ingest_batch *
ingest_parse_opts(const char *body, size_t len, enum ingest_format format, size_t event_max,
		  const struct ingest_options *o, struct ingest_error *err)
{
	struct parse_ctx c = {
		.event_max = event_max, .now_us = timestamp_now(), .o = o, .err = err};
	const char *p = body, *end = body + len;
	int rc;

	if (!(c.b = calloc(1, sizeof *c.b))) {
		fail(err, ERR_NOMEM, 0, "out of memory");
		return NULL;
	}
	if (o && o->has_format)
		format = o->format;
	if (format == INGEST_NDJSON || format == INGEST_TEXT) {
		rc = parse_lines(&c, p, end, format == INGEST_TEXT);
	} else {
		while (p < end && is_space(*p))
			p++;
		if (p < end && *p == '[')
			rc = parse_array(&c, p, end);
		else if (p < end && *p == '{')
			rc = add_event(&c, p, (size_t)(end - p), 0);
		else {
			fail(err, ERR_JSON, 0,
			     "invalid JSON: expected an event object or an array of them");
			rc = ERR_JSON;
		}
	}
	if (rc) {
		ingest_batch_free(c.b);
		return NULL;
	}
	return c.b;
}

void
ingest_options_init(struct ingest_options *o)
{
	memset(o, 0, sizeof *o);
	mapping_init(&o->map);
}

int
ingest_option_set(struct ingest_options *o, const char *name, const char *value, char *errmsg)
{
	int rc;

	if (!strcmp(name, "partial")) {
		if (strcmp(value, "0") && strcmp(value, "1") && strcmp(value, "true") &&
		    strcmp(value, "false"))
			return err_set(errmsg, ERR_INVAL, "parameter 'partial': expected 1 or 0");
		o->partial = !strcmp(value, "1") || !strcmp(value, "true");
		return 0;
	}
	if (!strcmp(name, "format")) {
		if (!strcmp(value, "json"))
			o->format = INGEST_JSON;
		else if (!strcmp(value, "ndjson"))
			o->format = INGEST_NDJSON;
		else if (!strcmp(value, "text"))
			o->format = INGEST_TEXT;
		else
			return err_set(errmsg, ERR_INVAL,
				       "parameter 'format': expected json, ndjson or text");
		o->has_format = 1;
		return 0;
	}
	rc = mapping_set(&o->map, name, value, errmsg);
	if (rc == 1)
		return err_set(errmsg, ERR_INVAL,
			       "unknown parameter '%s' (known: type, message_field, "
			       "timestamp_field, timestamp_unit, format, partial)",
			       name);
	return rc;
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
	for (size_t i = 0; b->rejects && i < b->reject_count && i < INGEST_REJECTS_MAX; i++)
		free(b->rejects[i].msg);
	free(b->rejects);
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

/* The closing quote of the JSON string whose opening quote is at p, or NULL. */
static const char *
string_end(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p;
	}
	return NULL;
}

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && is_space(*p))
		p++;
	return p;
}

/* Is the member name at p (len bytes, as written) name? */
static int
name_is(const char *p, size_t len, const char *name)
{
	return len == strlen(name) && !memcmp(p, name, len);
}

/* The key of an envelope: a JSON string, checked as the header is. */
static char *
envelope_key(const char *json, size_t len, char *errmsg)
{
	json_t *j = json_loadb(json, len, JSON_DECODE_ANY, NULL);
	char *key = NULL;

	if (!json_is_string(j))
		err_set(errmsg, ERR_INVAL, "\"idempotency_key\" must be a string");
	else
		key = ingest_key_parse(json_string_value(j), errmsg);
	json_decref(j);
	return key;
}

int
ingest_envelope(const char *msg, size_t len, char **key_out, const char **events_out,
		size_t *events_len_out, char *errmsg)
{
	const char *p = msg, *end = msg + len, *key = NULL, *events = NULL;
	size_t key_len = 0, events_len = 0;
	int others = 0, comma = 0;

	p = skip_space(p, end);
	if (p == end || *p != '{')
		return 0;
	p = skip_space(p + 1, end);
	while (p < end && *p != '}') {
		/* Anything that is not an object is the event parser's to refuse. */
		const char *name = p + 1, *q = *p == '"' ? string_end(p, end) : NULL, *v, *e;
		if (!q)
			return 0;
		p = skip_space(q + 1, end);
		if (p == end || *p != ':')
			return 0;
		v = skip_space(p + 1, end);
		if (!(e = element_end(v, end, '}')))
			return 0;
		size_t n = (size_t)(q - name), vlen = (size_t)(e - v);
		while (vlen && is_space(v[vlen - 1]))
			vlen--;
		if (name_is(name, n, "type"))
			return 0; /* an event, whatever else it holds */
		if (name_is(name, n, "idempotency_key")) {
			key = v;
			key_len = vlen;
		} else if (name_is(name, n, "events")) {
			events = v;
			events_len = vlen;
		} else {
			others = 1;
		}
		comma = *e == ',';
		p = comma ? skip_space(e + 1, end) : e;
	}
	if (p == end || comma || skip_space(p + 1, end) != end || !key)
		return 0;
	if (!events || others)
		return err_set(
			errmsg, ERR_INVAL,
			"an envelope holds \"idempotency_key\" and \"events\", nothing else");
	char *k = envelope_key(key, key_len, errmsg);
	if (!k)
		return ERR_INVAL;
	*key_out = k;
	*events_out = events;
	*events_len_out = events_len;
	return 1;
}

/* Append ,"rejected":[...],"rejected_count":N for a partial batch. */
static int
append_rejects(struct buf *out, const struct ingest_batch *b)
{
	int rc = buf_append(out, ",\"rejected\":[", 13);

	for (size_t i = 0; !rc && i < b->reject_count && i < INGEST_REJECTS_MAX; i++) {
		char *one = ingest_error_json(b->rejects[i].msg, (long)b->rejects[i].index);
		rc = !one || (i && buf_append(out, ",", 1)) || buf_append(out, one, strlen(one));
		free(one);
	}
	return rc || buf_printf(out, "],\"rejected_count\":%zu", b->reject_count);
}

char *
ingest_answer_json(const struct ingest_batch *b)
{
	struct buf out = {0};
	int rc;

	if (b->count == 0)
		rc = buf_printf(&out, "{\"accepted\":0,\"first_id\":null,\"last_id\":null");
	else
		rc = buf_printf(&out, "{\"accepted\":%zu,\"first_id\":%lld,\"last_id\":%lld",
				b->count, (long long)b->first_id, (long long)b->last_id);
	if (!rc && b->ids) {
		rc = buf_append(&out, ",\"ids\":[", 8);
		for (size_t i = 0; !rc && i < b->count; i++)
			rc = buf_printf(&out, "%s%lld", i ? "," : "", (long long)b->ids[i]);
		rc = rc || buf_append(&out, "]", 1);
	}
	if (!rc && b->reject_count)
		rc = append_rejects(&out, b);
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
