/* Parsing of read-endpoint parameters (see query.h). */
#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "timestamp.h"

void
query_init(struct query *q)
{
	memset(q, 0, sizeof *q);
	q->limit = QUERY_LIMIT_DEFAULT;
}

/* A non-negative decimal integer that fits in int64. */
static int
parse_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* since: an ISO 8601 time, a duration back from now, or "all". */
static int
parse_since(const char *s, int64_t now_us, int64_t *out)
{
	int64_t us;

	if (!strcmp(s, "all")) {
		*out = QUERY_SINCE_ALL;
		return 0;
	}
	if (!timestamp_parse_duration(s, strlen(s), &us)) {
		*out = now_us - us;
		return 0;
	}
	return timestamp_parse(s, strlen(s), out) ? -1 : 0;
}

/* type: a comma-separated list of valid type names. */
static int
parse_types(struct query *q, const char *s, char *errmsg)
{
	q->type_count = 0;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		if (!logevent_type_valid(s, len))
			return err_set(errmsg, ERR_INVAL,
				       "parameter 'type': '%.*s' is not a valid type "
				       "(1-64 characters of A-Za-z0-9_.:-)",
				       (int)(len > 64 ? 64 : len), s);
		if (q->type_count == QUERY_MAX_TYPES)
			return err_set(errmsg, ERR_INVAL, "parameter 'type': at most %d types",
				       QUERY_MAX_TYPES);
		memcpy(q->types[q->type_count], s, len);
		q->types[q->type_count][len] = '\0';
		q->type_count++;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

int
query_set_subscribe(struct query *q, const char *name, const char *value, int64_t now_us,
		    char *errmsg)
{
	if (!strcmp(name, "after_id")) {
		if (parse_id(value, &q->after_id))
			return err_set(errmsg, ERR_INVAL,
				       "parameter 'after_id': '%.40s' is not a "
				       "non-negative integer",
				       value);
		q->has_after_id = 1;
		return 0;
	}
	if (!strcmp(name, "since")) {
		if (parse_since(value, now_us, &q->since_us))
			return err_set(errmsg, ERR_INVAL,
				       "parameter 'since': '%.40s' is not an ISO 8601 "
				       "time (2026-03-09T14:00:00Z), a duration (90s, 10m, 2h, "
				       "7d) or 'all'",
				       value);
		q->has_since = 1;
		return 0;
	}
	if (!strcmp(name, "type"))
		return parse_types(q, value, errmsg);
	if (!strcmp(name, "control")) {
		if (strcmp(value, "1") && strcmp(value, "0") && strcmp(value, "true") &&
		    strcmp(value, "false"))
			return err_set(errmsg, ERR_INVAL, "parameter 'control': expected 1 or 0");
		q->control = !strcmp(value, "1") || !strcmp(value, "true");
		return 0;
	}
	if (!strcmp(name, "epoch")) {
		size_t len = strlen(value);
		if (len == 0 || len >= sizeof q->epoch || strspn(value, "0123456789abcdef") != len)
			return err_set(errmsg, ERR_INVAL,
				       "parameter 'epoch': expected the hex epoch "
				       "from a 'hello' message");
		memcpy(q->epoch, value, len + 1);
		q->has_epoch = 1;
		return 0;
	}
	if (!strcmp(name, "token"))
		return 0; /* checked by authentication, not here */
	return err_set(errmsg, ERR_INVAL,
		       "unknown parameter '%.40s' (known: after_id, since, type, "
		       "control, epoch, token)",
		       name);
}

int
query_set_stream(struct query *q, const char *name, const char *value, int64_t now_us, char *errmsg)
{
	if (!strcmp(name, "format")) {
		if (!strcmp(value, "sse"))
			q->format = QUERY_FORMAT_SSE;
		else if (!strcmp(value, "ndjson"))
			q->format = QUERY_FORMAT_NDJSON;
		else
			return err_set(errmsg, ERR_INVAL,
				       "parameter 'format': expected sse or ndjson");
		return 0;
	}
	if (!strcmp(name, "after_id") || !strcmp(name, "since") || !strcmp(name, "type") ||
	    !strcmp(name, "control") || !strcmp(name, "epoch") || !strcmp(name, "token"))
		return query_set_subscribe(q, name, value, now_us, errmsg);
	return err_set(errmsg, ERR_INVAL,
		       "unknown parameter '%.40s' (known: after_id, since, type, "
		       "control, epoch, format, token)",
		       name);
}

int
query_set_list(struct query *q, const char *name, const char *value, int64_t now_us, char *errmsg)
{
	if (!strcmp(name, "before_id")) {
		if (parse_id(value, &q->before_id))
			return err_set(errmsg, ERR_INVAL,
				       "parameter 'before_id': '%.40s' is not a "
				       "non-negative integer",
				       value);
		q->has_before_id = 1;
		return 0;
	}
	if (!strcmp(name, "until")) {
		if (parse_since(value, now_us, &q->until_us) || q->until_us == QUERY_SINCE_ALL)
			return err_set(errmsg, ERR_INVAL,
				       "parameter 'until': '%.40s' is not an ISO 8601 "
				       "time or a duration (90s, 10m, 2h, 7d)",
				       value);
		q->has_until = 1;
		return 0;
	}
	if (!strcmp(name, "limit")) {
		int64_t n;
		if (parse_id(value, &n) || n < 1 || n > QUERY_LIMIT_MAX)
			return err_set(errmsg, ERR_INVAL, "parameter 'limit': expected 1 to %d",
				       QUERY_LIMIT_MAX);
		q->limit = (int)n;
		return 0;
	}
	if (!strcmp(name, "order")) {
		if (strcmp(value, "asc") && strcmp(value, "desc"))
			return err_set(errmsg, ERR_INVAL,
				       "parameter 'order': expected asc or desc");
		q->descending = !strcmp(value, "desc");
		return 0;
	}
	if (!strcmp(name, "after_id") || !strcmp(name, "since") || !strcmp(name, "type") ||
	    !strcmp(name, "token"))
		return query_set_subscribe(q, name, value, now_us, errmsg);
	return err_set(errmsg, ERR_INVAL,
		       "unknown parameter '%.40s' (known: after_id, before_id, since, "
		       "until, type, limit, order, token)",
		       name);
}

int
query_type_matches(const struct query *q, const char *type)
{
	if (q->type_count == 0)
		return 1;
	for (size_t i = 0; i < q->type_count; i++)
		if (!strcmp(q->types[i], type))
			return 1;
	return 0;
}
