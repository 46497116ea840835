/* The position of a follow and the subscribe protocol's messages (see cursor.h). */
#include "cursor.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "query.h"

/*
 * Messages are parsed as the server parses events, so that every event it
 * took can be read back: NUL in strings is allowed, and integers are read
 * as reals, since an event's data may hold integers beyond 64 bits.
 */
#define PARSE_FLAGS (JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL)

/* Ids up to this are exact as reals (2^53); the store will not reach it. */
#define EXACT_MAX 9007199254740992.0

void
cursor_init(struct cursor *c, const struct state *resume, const char *since, const char *types)
{
	memset(c, 0, sizeof *c);
	c->types = types;
	if (resume) {
		c->positioned = 1;
		c->last_id = resume->last_id;
		strcpy(c->epoch, resume->epoch);
	} else {
		c->since = since;
	}
}

int
cursor_check_query(const char *query, char *errmsg)
{
	static const char *const managed[] = {"after_id", "epoch", "control", "since", "type"};

	const char *q = query;

	while (*q) {
		size_t nlen = strcspn(q, "=&");
		for (size_t i = 0; i < sizeof managed / sizeof managed[0]; i++)
			if (nlen == strlen(managed[i]) && !memcmp(q, managed[i], nlen))
				return err_set(errmsg, ERR_INVAL,
					       "the URL may not set '%s': sentinel-tail sends it "
					       "itself (use --since and --type to choose events)",
					       managed[i]);
		q += strcspn(q, "&");
		if (*q == '&')
			q++;
	}
	return 0;
}

int
cursor_request(const struct cursor *c, const struct url *u, char *buf, size_t size)
{
	char id[24];

	if (url_request_path(u, buf, size))
		return ERR_TOOBIG;
	if (url_append_param(buf, size, "control", "1"))
		return ERR_TOOBIG;
	if (c->positioned) {
		snprintf(id, sizeof id, "%lld", (long long)c->last_id);
		if (url_append_param(buf, size, "after_id", id) ||
		    url_append_param(buf, size, "epoch", c->epoch))
			return ERR_TOOBIG;
	}
	/* since= shapes the first replay only: once live, after_id says it all. */
	if (c->since && !c->live && url_append_param(buf, size, "since", c->since))
		return ERR_TOOBIG;
	if (c->types && url_append_param(buf, size, "type", c->types))
		return ERR_TOOBIG;
	return 0;
}

/* Read an id or a count: a whole number, as PARSE_FLAGS reads it. Returns 0 or -1. */
static int
number_of(const json_t *v, int64_t *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	if (d < 0 || d > EXACT_MAX || d != (double)(int64_t)d)
		return -1;
	*out = (int64_t)d;
	return 0;
}

/* The server's epoch from a control message, if it is one it would take back. */
static const char *
epoch_of(const json_t *msg)
{
	const char *epoch = json_string_value(json_object_get(msg, "epoch"));
	char errmsg[ERRMSG_SIZE];
	struct query q;

	query_init(&q);
	if (!epoch || query_set_subscribe(&q, "epoch", epoch, 0, errmsg))
		return NULL;
	return epoch;
}

/* The store was re-created: its ids start again, so does the cursor. */
static void
restart(struct cursor *c, const char *epoch)
{
	log_warn("the server's store was re-created (epoch %s, was %s): following it from "
		 "its oldest event",
		 epoch, c->epoch);
	strcpy(c->epoch, epoch);
	c->last_id = 0;
	c->positioned = 1;
}

/* Apply a control message; returns CURSOR_INVALID for a malformed one. */
static enum cursor_msg
control(struct cursor *c, const char *kind, const json_t *msg)
{
	const char *epoch = epoch_of(msg);
	int64_t last = 0, first = 0, from, to;

	if (!strcmp(kind, "hello")) {
		if (!epoch)
			return CURSOR_INVALID;
		number_of(json_object_get(msg, "first_id"), &first);
		number_of(json_object_get(msg, "last_id"), &last);
		log_info("server store epoch %s, ids %lld to %lld", epoch, (long long)first,
			 (long long)last);
		if (!c->positioned)
			strcpy(c->epoch, epoch);
		else if (strcmp(c->epoch, epoch))
			restart(c, epoch); /* a "reset" follows; say it once */
	} else if (!strcmp(kind, "reset")) {
		if (!epoch)
			return CURSOR_INVALID;
		if (strcmp(c->epoch, epoch)) {
			restart(c, epoch);
		} else if (c->last_id) {
			/* Same store, but it never handed out our id: follow it from
			 * its oldest event rather than wait for ids above ours. */
			log_warn("the server's store has no id as high as %lld: following it from "
				 "its oldest event",
				 (long long)c->last_id);
			c->last_id = 0;
			c->positioned = 1;
		}
	} else if (!strcmp(kind, "live")) {
		/* Everything up to last_id was sent before this message. */
		if (!c->epoch[0] || number_of(json_object_get(msg, "last_id"), &last))
			return CURSOR_INVALID;
		if (last > c->last_id)
			c->last_id = last;
		c->positioned = 1;
		c->live = 1;
		log_info("live after id %lld", (long long)c->last_id);
	} else if (!strcmp(kind, "gap")) {
		const char *reason = json_string_value(json_object_get(msg, "reason"));
		if (number_of(json_object_get(msg, "from_id"), &from) ||
		    number_of(json_object_get(msg, "to_id"), &to))
			return CURSOR_INVALID;
		log_warn("events %lld to %lld are gone from the server (%s) and cannot be shown",
			 (long long)from, (long long)to, reason ? reason : "no reason given");
		if (c->epoch[0] && to > c->last_id) {
			c->last_id = to;
			c->positioned = 1;
		}
	} else {
		log_debug("ignoring control message '%s'", kind);
	}
	return CURSOR_CONTROL;
}

enum cursor_msg
cursor_message(struct cursor *c, const char *text, size_t len, json_t **msg_out)
{
	json_error_t jerr;
	json_t *msg = json_loadb(text, len, PARSE_FLAGS, &jerr), *kind;
	enum cursor_msg r;
	int64_t id;

	*msg_out = msg;
	if (!json_is_object(msg)) {
		log_warn("ignoring a message that is not a JSON object (%.60s)",
			 msg ? "another JSON value" : jerr.text);
		return CURSOR_INVALID;
	}
	kind = json_object_get(msg, "control");
	if (kind) {
		r = json_is_string(kind) ? control(c, json_string_value(kind), msg)
					 : CURSOR_INVALID;
		if (r == CURSOR_INVALID)
			log_warn("ignoring a malformed control message: %.*s",
				 (int)(len > 200 ? 200 : len), text);
		return r;
	}
	if (number_of(json_object_get(msg, "id"), &id) || id < 1) {
		log_warn("ignoring a message without an event id: %.*s",
			 (int)(len > 200 ? 200 : len), text);
		return CURSOR_INVALID;
	}
	if (id <= c->last_id)
		return CURSOR_SKIP;
	c->last_id = id;
	c->positioned = c->epoch[0] != '\0';
	return CURSOR_PRINT;
}
