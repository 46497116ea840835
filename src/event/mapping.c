/*
 * The mapping (see mapping.h). An object is parsed once with jansson to
 * learn which members it lacks; the added members are then spliced in as
 * text before its closing brace, and the result goes through
 * logevent_parse() like any event, so a mapped event obeys every rule an
 * unmapped one does. A numeric timestamp is converted from its text, not
 * from jansson's double, so that nanoseconds and microseconds come out
 * exact.
 */
#include "mapping.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "timestamp.h"

/* The last microsecond of the year 9999, the latest time we can write. */
#define MAPPING_MAX_US 253402300799999999LL

void
mapping_init(struct mapping *m)
{
	memset(m, 0, sizeof *m);
}

static int
set_field(char *out, const char *name, const char *value, char *errmsg)
{
	size_t len = strlen(value);

	if (len < 1 || len > MAPPING_FIELD_MAX)
		return err_set(errmsg, ERR_INVAL,
			       "parameter '%s': expected a field name of 1 to %d "
			       "characters",
			       name, MAPPING_FIELD_MAX);
	memcpy(out, value, len + 1);
	return 0;
}

int
mapping_set(struct mapping *m, const char *name, const char *value, char *errmsg)
{
	static const struct {
		const char *name;
		enum mapping_unit unit;
	} units[] = {{"auto", MAPPING_UNIT_AUTO},
		     {"s", MAPPING_UNIT_S},
		     {"ms", MAPPING_UNIT_MS},
		     {"us", MAPPING_UNIT_US},
		     {"ns", MAPPING_UNIT_NS}};
	int rc;

	if (!strcmp(name, "type")) {
		if (!logevent_type_valid(value, strlen(value)))
			return err_set(
				errmsg, ERR_INVAL,
				"parameter 'type': expected 1-64 characters of A-Za-z0-9_.:-");
		strcpy(m->type, value);
	} else if (!strcmp(name, "message_field")) {
		if ((rc = set_field(m->message_field, name, value, errmsg)))
			return rc;
	} else if (!strcmp(name, "timestamp_field")) {
		if ((rc = set_field(m->timestamp_field, name, value, errmsg)))
			return rc;
	} else if (!strcmp(name, "timestamp_unit")) {
		size_t i, n = sizeof units / sizeof units[0];
		for (i = 0; i < n && strcmp(units[i].name, value); i++)
			;
		if (i == n)
			return err_set(
				errmsg, ERR_INVAL,
				"parameter 'timestamp_unit': expected auto, s, ms, us or ns");
		m->unit = units[i].unit;
	} else {
		return 1;
	}
	m->active = 1;
	return 0;
}

int
mapping_epoch_us(const char *text, size_t len, enum mapping_unit unit, int64_t *us_out)
{
	const char *p = text, *end = text + len;
	unsigned long long whole = 0;
	char frac[7] = "000000"; /* up to 6 fractional digits, zero-padded */
	size_t digits = 0, nfrac = 0;
	int64_t us;

	for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
		if (whole > (~0ULL - 9) / 10)
			return ERR_INVAL;
		whole = whole * 10 + (unsigned long long)(*p - '0');
	}
	if (!digits)
		return ERR_INVAL; /* also a leading '-': no time before 1970 */
	if (p < end && *p == '.') {
		for (p++; p < end && *p >= '0' && *p <= '9'; p++)
			if (nfrac < 6)
				frac[nfrac++] = *p;
	}
	if (p != end)
		return ERR_INVAL; /* an exponent, or not a number */
	if (unit == MAPPING_UNIT_AUTO)
		unit = whole < 100000000000ULL         ? MAPPING_UNIT_S
		       : whole < 100000000000000ULL    ? MAPPING_UNIT_MS
		       : whole < 100000000000000000ULL ? MAPPING_UNIT_US
						       : MAPPING_UNIT_NS;
	switch (unit) {
	case MAPPING_UNIT_S:
		if (whole > (unsigned long long)MAPPING_MAX_US / 1000000)
			return ERR_INVAL;
		us = (int64_t)whole * 1000000 + atoi(frac);
		break;
	case MAPPING_UNIT_MS:
		if (whole > (unsigned long long)MAPPING_MAX_US / 1000)
			return ERR_INVAL;
		frac[3] = '\0';
		us = (int64_t)whole * 1000 + atoi(frac);
		break;
	case MAPPING_UNIT_US:
		if (whole > (unsigned long long)MAPPING_MAX_US)
			return ERR_INVAL;
		us = (int64_t)whole;
		break;
	default:
		us = (int64_t)(whole / 1000);
		break;
	}
	if (us > MAPPING_MAX_US)
		return ERR_INVAL;
	*us_out = us;
	return 0;
}

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* The end of the string starting at p (its opening quote). */
static const char *
string_end(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return end;
}

/* The end of the JSON value starting at p. */
static const char *
value_end(const char *p, const char *end)
{
	int depth = 0;

	while (p < end) {
		char c = *p;
		if (c == '"') {
			p = string_end(p, end);
			if (!depth)
				return p;
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (!depth)
				return p;
			if (--depth == 0)
				return p + 1;
		} else if (!depth &&
			   (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
			return p;
		}
		p++;
	}
	return p;
}

/*
 * The text of member key of the (valid) JSON object text, or NULL when it
 * has none written without escapes.
 */
static const char *
member_text(const char *text, size_t len, const char *key, size_t *vlen)
{
	const char *p = skip_space(text, text + len), *end = text + len;
	size_t klen = strlen(key);

	if (p == end || *p != '{')
		return NULL;
	for (p = skip_space(p + 1, end); p < end && *p == '"';) {
		const char *kend = string_end(p, end);
		int match = (size_t)(kend - p) == klen + 2 && !memcmp(p + 1, key, klen);
		p = skip_space(kend, end);
		if (p == end || *p != ':')
			return NULL;
		p = skip_space(p + 1, end);
		const char *v = p;
		p = value_end(p, end);
		if (match) {
			*vlen = (size_t)(p - v);
			return v;
		}
		p = skip_space(p, end);
		if (p < end && *p == ',')
			p = skip_space(p + 1, end);
	}
	return NULL;
}

/* Append ,"name":<value as JSON> to add. */
static int
add_member(struct buf *add, const char *name, json_t *value)
{
	char *s = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
	int rc;

	if (!s)
		return ERR_NOMEM;
	rc = buf_printf(add, ",\"%s\":%s", name, s);
	free(s);
	return rc;
}

/* The time named by timestamp_field, as "timestamp" to add. */
static int
add_timestamp(const struct mapping *m, const char *text, size_t len, json_t *root, struct buf *add,
	      char *errmsg)
{
	json_t *v = json_object_get(root, m->timestamp_field);
	char iso[TIMESTAMP_FORMAT_SIZE + 2];
	int64_t us;

	if (!v)
		return 0; /* neither: the ingest time, as for any event */
	if (json_is_string(v)) {
		if (timestamp_parse(json_string_value(v), json_string_length(v), &us))
			return err_set(errmsg, ERR_EVENT,
				       "field '%s' is not a valid ISO 8601 time or epoch number",
				       m->timestamp_field);
	} else if (json_is_number(v)) {
		size_t vlen = 0;
		const char *num = member_text(text, len, m->timestamp_field, &vlen);
		char buf[64];
		if (!num) {
			/* The name was written with escapes: go by the value. */
			snprintf(buf, sizeof buf, "%.6f", json_number_value(v));
			num = buf;
			vlen = strlen(buf);
		}
		if (mapping_epoch_us(num, vlen, m->unit, &us))
			return err_set(
				errmsg, ERR_EVENT,
				"field '%s' is not a time since 1970 in the years up to 9999",
				m->timestamp_field);
	} else {
		return err_set(errmsg, ERR_EVENT,
			       "field '%s' must be an ISO 8601 string or a number since the epoch",
			       m->timestamp_field);
	}
	iso[0] = '"';
	timestamp_format(us, iso + 1);
	strcat(iso, "\"");
	return buf_printf(add, ",\"timestamp\":%s", iso);
}

/* The members m adds to root, as text starting with a comma. */
static int
additions(const struct mapping *m, const char *text, size_t len, json_t *root, struct buf *add,
	  char *errmsg)
{
	int rc = 0;

	if (m->type[0] && !json_object_get(root, "type"))
		rc = buf_printf(add, ",\"type\":\"%s\"", m->type);
	if (!rc && m->message_field[0] && !json_object_get(root, "message")) {
		json_t *v = json_object_get(root, m->message_field);
		if (!v)
			return err_set(errmsg, ERR_EVENT,
				       "missing field 'message' (nor '%s', named by message_field)",
				       m->message_field);
		if (!json_is_string(v))
			return err_set(errmsg, ERR_EVENT, "field '%s' must be a string",
				       m->message_field);
		rc = add_member(add, "message", v);
	}
	if (!rc && m->timestamp_field[0] && !json_object_get(root, "timestamp"))
		rc = add_timestamp(m, text, len, root, add, errmsg);
	if (rc == ERR_NOMEM)
		err_set(errmsg, rc, "out of memory");
	return rc;
}

int
mapping_event(const struct mapping *m, const char *text, size_t len, int64_t now_us,
	      struct logevent *out, char *errmsg)
{
	struct buf add = {0}, whole = {0};
	json_error_t jerr;
	json_t *root;
	int rc;

	if (!m || !m->active)
		return logevent_parse(text, len, now_us, out, errmsg);
	root = json_loadb(text, len,
			  JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY |
				  JSON_ALLOW_NUL,
			  &jerr);
	if (!root || !json_is_object(root)) {
		/* Not an object: logevent_parse() says what is wrong. */
		json_decref(root);
		return logevent_parse(text, len, now_us, out, errmsg);
	}
	rc = additions(m, text, len, root, &add, errmsg);
	if (rc || !add.len) {
		json_decref(root);
		buf_free(&add);
		return rc ? rc : logevent_parse(text, len, now_us, out, errmsg);
	}
	/* The object's text up to its closing brace, then the additions. */
	size_t close = len;
	while (close > 0 && text[close - 1] != '}')
		close--;
	/* An empty object takes the additions without their first comma. */
	size_t skip = json_object_size(root) ? 0 : 1;
	json_decref(root);
	if (buf_append(&whole, text, close - 1) ||
	    buf_append(&whole, add.data + skip, add.len - skip) || buf_append(&whole, "}", 1)) {
		rc = err_set(errmsg, ERR_NOMEM, "out of memory");
		goto done;
	}
	rc = logevent_parse(whole.data, whole.len, now_us, out, errmsg);
done:
	buf_free(&add);
	buf_free(&whole);
	return rc;
}

int
mapping_line(const struct mapping *m, const char *line, size_t len, int64_t now_us,
	     struct logevent *out, char *errmsg)
{
	json_t *o;
	char *text;
	int rc;

	if (!m || !m->type[0])
		return err_set(errmsg, ERR_EVENT,
			       "plain-text lines need a type: add ?type=NAME to the URL");
	json_t *s = json_stringn(line, len);
	if (!s)
		return err_set(errmsg, ERR_EVENT, "the line is not valid UTF-8");
	o = json_pack("{s:o}", "message", s); /* takes s, also on failure */
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return err_set(errmsg, ERR_NOMEM, "out of memory");
	rc = mapping_event(m, text, strlen(text), now_us, out, errmsg);
	free(text);
	return rc;
}
