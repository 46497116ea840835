/*
 * The one-pass event reader (jsonscan.h). A recursive descent over the
 * bytes, copying each token to the output as it is checked. It refuses (0,
 * "not sure") rather than decide anything jansson decides with more care:
 * nesting deeper than DEPTH_MAX, objects of more than KEYS_MAX members
 * (duplicates are found by comparing every pair), member names with an
 * escape (whose value differs from their text), numbers whose range needs
 * strtod to tell, and every error. jansson then reads the event again.
 */
#include "jsonscan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 32
#define KEYS_MAX  64
/* Integer parts of up to this many digits cannot overflow a double. */
#define SAFE_DIGITS 300

struct scan {
	const unsigned char *p, *end;
	char *out;
	size_t n;
	int depth;
};

static int value(struct scan *s, struct jsonscan_member *m);

static void
skip_space(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static void
emit(struct scan *s, const unsigned char *from, size_t len)
{
	memcpy(s->out + s->n, from, len);
	s->n += len;
}

/* Length of the well-formed UTF-8 sequence of 2-4 bytes at p, or 0. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	uint32_t v;
	size_t n;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		v = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		v = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		v = p[0] & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return n;
}

/* The value of the 4 hex digits after "\u" at p, or -1. */
static long
hex4(const unsigned char *p, const unsigned char *end)
{
	long v = 0;

	if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		unsigned char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v += c - '0';
		else if (c >= 'a' && c <= 'f')
			v += c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v += c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* The string at s->p (its opening quote); *escaped tells whether it has an escape. */
static int
string(struct scan *s, int *escaped)
{
	const unsigned char *start = s->p, *p = s->p + 1, *end = s->end;

	*escaped = 0;
	for (;;) {
		if (p >= end)
			return 0;
		unsigned char c = *p;
		if (c == '"')
			break;
		if (c < 0x20)
			return 0;
		if (c < 0x80 && c != '\\') {
			p++;
		} else if (c == '\\') {
			*escaped = 1;
			if (end - p < 2)
				return 0;
			if (p[1] && strchr("\"\\/bfnrt", p[1])) {
				p += 2;
				continue;
			}
			long v = hex4(p, end);
			if (v < 0 || (v >= 0xdc00 && v <= 0xdfff))
				return 0;
			p += 6;
			if (v >= 0xd800 && v <= 0xdbff) {
				long low = hex4(p, end);
				if (low < 0xdc00 || low > 0xdfff)
					return 0;
				p += 6;
			}
		} else {
			size_t n = utf8_len(p, end);
			if (!n)
				return 0;
			p += n;
		}
	}
	p++;
	emit(s, start, (size_t)(p - start));
	s->p = p;
	return 1;
}

static int
is_digit(const unsigned char *p, const unsigned char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* 1 when the number's text (len bytes) is beyond a double's range, or too long to tell. */
static int
overflows(const unsigned char *text, size_t len)
{
	char copy[SAFE_DIGITS + 64];
	double d;

	if (len >= sizeof copy)
		return 1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	errno = 0;
	d = strtod(copy, NULL);
	return (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
}

static int
number(struct scan *s)
{
	const unsigned char *start = s->p, *p = s->p, *end = s->end, *digits;
	int check = 0;

	if (*p == '-')
		p++;
	if (p < end && *p == '0') {
		p++;
	} else if (is_digit(p, end)) {
		digits = p;
		while (is_digit(p, end))
			p++;
		check = p - digits > SAFE_DIGITS;
	} else {
		return 0;
	}
	if (p < end && *p == '.') {
		if (!is_digit(++p, end))
			return 0;
		while (is_digit(p, end))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		check = 1;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(p, end))
			return 0;
		while (is_digit(p, end))
			p++;
	}
	if (check && overflows(start, (size_t)(p - start)))
		return 0;
	emit(s, start, (size_t)(p - start));
	s->p = p;
	return 1;
}

static int
literal(struct scan *s)
{
	static const char *const words[] = {"true", "false", "null"};
	size_t left = (size_t)(s->end - s->p);

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t n = strlen(words[i]);
		if (left >= n && !memcmp(s->p, words[i], n)) {
			emit(s, s->p, n);
			s->p += n;
			return 1;
		}
	}
	return 0;
}

/* The member of top named by key, or NULL. */
static struct jsonscan_member *
member(struct jsonscan_event *top, const unsigned char *key, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
	} known[] = {
		{"id", offsetof(struct jsonscan_event, id)},
		{"type", offsetof(struct jsonscan_event, type)},
		{"message", offsetof(struct jsonscan_event, message)},
		{"data", offsetof(struct jsonscan_event, data)},
		{"timestamp", offsetof(struct jsonscan_event, timestamp)},
	};

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strlen(known[i].name) == len && !memcmp(known[i].name, key, len))
			return (struct jsonscan_member *)((char *)top + known[i].off);
	return NULL;
}

/* After a member or an element: ',' (1), or the closing character (2); 0 otherwise. */
static int
next(struct scan *s, unsigned char close)
{
	skip_space(s);
	if (s->p >= s->end)
		return 0;
	if (*s->p == ',' || *s->p == close) {
		int more = *s->p == ',';
		emit(s, s->p, 1);
		s->p++;
		skip_space(s);
		return more ? 1 : 2;
	}
	return 0;
}

/* The object at s->p; top, when not NULL, receives its known members. */
static int
object(struct scan *s, struct jsonscan_event *top)
{
	struct {
		const unsigned char *name;
		size_t len;
	} keys[KEYS_MAX];
	size_t nkeys = 0;
	int more, escaped;

	if (++s->depth > DEPTH_MAX)
		return 0;
	emit(s, s->p++, 1);
	skip_space(s);
	if (s->p < s->end && *s->p == '}') {
		emit(s, s->p++, 1);
		s->depth--;
		return 1;
	}
	do {
		if (s->p >= s->end || *s->p != '"' || nkeys == KEYS_MAX)
			return 0;
		const unsigned char *name = s->p + 1;
		if (!string(s, &escaped) || escaped)
			return 0;
		size_t len = (size_t)(s->p - name) - 1;
		for (size_t i = 0; i < nkeys; i++)
			if (keys[i].len == len && !memcmp(keys[i].name, name, len))
				return 0;
		keys[nkeys].name = name;
		keys[nkeys++].len = len;
		skip_space(s);
		if (s->p >= s->end || *s->p != ':')
			return 0;
		emit(s, s->p++, 1);
		skip_space(s);
		if (!value(s, top ? member(top, name, len) : NULL))
			return 0;
	} while ((more = next(s, '}')) == 1);
	s->depth--;
	return more == 2;
}

static int
array(struct scan *s)
{
	int more;

	if (++s->depth > DEPTH_MAX)
		return 0;
	emit(s, s->p++, 1);
	skip_space(s);
	if (s->p < s->end && *s->p == ']') {
		emit(s, s->p++, 1);
		s->depth--;
		return 1;
	}
	do {
		if (!value(s, NULL))
			return 0;
	} while ((more = next(s, ']')) == 1);
	s->depth--;
	return more == 2;
}

/* The value at s->p; m, when not NULL, says what it was. */
static int
value(struct scan *s, struct jsonscan_member *m)
{
	const unsigned char *start = s->p;
	enum jsonscan_kind kind = JSONSCAN_OTHER;
	int ok, escaped = 0;

	if (s->p >= s->end)
		return 0;
	switch (*s->p) {
	case '"':
		kind = JSONSCAN_STRING;
		ok = string(s, &escaped);
		break;
	case '{':
		kind = JSONSCAN_OBJECT;
		ok = object(s, NULL);
		break;
	case '[':
		ok = array(s);
		break;
	case 't':
	case 'f':
	case 'n':
		ok = literal(s);
		break;
	default:
		ok = number(s);
		break;
	}
	if (ok && m) {
		m->kind = kind;
		m->text = (const char *)start + 1;
		m->len = kind == JSONSCAN_STRING ? (size_t)(s->p - start) - 2 : 0;
		m->escaped = escaped;
	}
	return ok;
}

int
jsonscan_event(const char *text, size_t len, char *out, size_t *out_len, struct jsonscan_event *ev)
{
	struct scan s = {.p = (const unsigned char *)text,
			 .end = (const unsigned char *)text + len,
			 .out = out};

	memset(ev, 0, sizeof *ev);
	skip_space(&s);
	if (s.p >= s.end || *s.p != '{' || !object(&s, ev))
		return 0;
	skip_space(&s);
	if (s.p != s.end)
		return 0;
	*out_len = s.n;
	return 1;
}
