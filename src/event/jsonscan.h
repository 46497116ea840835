/*
 * A one-pass reader for the common event: it checks a JSON object the way
 * jansson does with the options logevent.c uses (strict UTF-8, no
 * duplicate member at any level, numbers that fit a double), writes it
 * minified, and notes where its top-level members are, all without
 * building a tree or allocating. It only ever says "this is valid, here is
 * what it holds" or "not sure": anything it does not handle itself (an
 * error of any kind, a member name with an escape, deep nesting, large
 * objects) is left to jansson, so that every refusal keeps jansson's
 * message.
 */
#ifndef SENTINEL_JSONSCAN_H
#define SENTINEL_JSONSCAN_H

#include <stddef.h>

/* The kind of a top-level member's value. */
enum jsonscan_kind {
	JSONSCAN_ABSENT = 0,
	JSONSCAN_STRING,
	JSONSCAN_OBJECT,
	JSONSCAN_OTHER, /* array, number, true, false, null */
};

/* One top-level member: its kind and, for a string, its raw text. */
struct jsonscan_member {
	enum jsonscan_kind kind;
	const char *text; /* a string's characters between the quotes, in the input */
	size_t len;
	int escaped; /* the string holds a backslash escape: text is not its value */
};

/* The top-level members logevent.c looks at. */
struct jsonscan_event {
	struct jsonscan_member id, type, message, data, timestamp;
};

/*
 * Read text (len bytes, no NUL among them) as one JSON object. Returns 1
 * when it is valid as jansson would read it, with its minified form in out
 * (which must hold len bytes), that form's length in *out_len and the
 * members in *ev; returns 0 when it cannot tell, with out, *out_len and
 * *ev in any state.
 */
int jsonscan_event(const char *text, size_t len, char *out, size_t *out_len,
		   struct jsonscan_event *ev);

#endif
