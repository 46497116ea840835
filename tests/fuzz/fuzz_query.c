/*
 * Fuzz target: query parameters of /ws/logs (query_set_subscribe), of
 * GET /api/stream (query_set_stream) and of GET /api/events
 * (query_set_list).
 *
 * The first input byte chooses the function (bit 0: the list's; else bit
 * 1: the stream's); the rest is a query string of up to QUERY_PAIRS pairs
 * split at '&' (and NUL), each split at its first '=' as http_query_each()
 * does, applied to one struct query until one is refused (which refuses
 * the request). After every accepted parameter the query keeps its
 * invariants (valid types, limit in range, hex epoch, ...); an accepted
 * value means what it says (after_id is the number, since is "all", a
 * duration back from now or a timestamp); a refusal names the parameter
 * and can be quoted in a JSON answer whenever the parameter was valid
 * UTF-8.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "ingest.h"
#include "query.h"
#include "timestamp.h"

#define QUERY_PAIRS 16

typedef int (*set_fn)(struct query *, const char *, const char *, int64_t, char *);

static int
all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static void
check_invariants(const struct query *q, int list)
{
	FUZZ_CHECK(q->type_count <= QUERY_MAX_TYPES, "type_count %zu", q->type_count);
	for (size_t i = 0; i < q->type_count; i++) {
		size_t len = strnlen(q->types[i], LOGEVENT_TYPE_MAX + 1);
		FUZZ_CHECK(len <= LOGEVENT_TYPE_MAX && logevent_type_valid(q->types[i], len),
			   "type %zu is not valid", i);
		FUZZ_CHECK(query_type_matches(q, q->types[i]), "type '%s' does not match itself",
			   q->types[i]);
	}
	if (q->type_count == 0)
		FUZZ_CHECK(query_type_matches(q, "anything"), "no filter refused a type");
	FUZZ_CHECK(q->limit >= 1 && q->limit <= QUERY_LIMIT_MAX, "limit %d", q->limit);
	FUZZ_CHECK(q->control == 0 || q->control == 1, "control %d", q->control);
	FUZZ_CHECK(q->format == QUERY_FORMAT_ANY || q->format == QUERY_FORMAT_SSE ||
			   q->format == QUERY_FORMAT_NDJSON,
		   "format %d", (int)q->format);
	FUZZ_CHECK(q->descending == 0 || q->descending == 1, "descending %d", q->descending);
	FUZZ_CHECK(!q->has_after_id || q->after_id >= 0, "after_id %lld", (long long)q->after_id);
	FUZZ_CHECK(!q->has_before_id || q->before_id >= 0, "before_id %lld",
		   (long long)q->before_id);
	FUZZ_CHECK(!q->has_until || q->until_us != QUERY_SINCE_ALL, "until=all");
	if (q->has_epoch) {
		size_t len = strnlen(q->epoch, (QUERY_EPOCH_MAX + 1));
		FUZZ_CHECK(len > 0 && len < (QUERY_EPOCH_MAX + 1) &&
				   strspn(q->epoch, "0123456789abcdef") == len,
			   "epoch '%.*s'", (int)len, q->epoch);
	}
	if (list)
		FUZZ_CHECK(!q->has_epoch && !q->control && q->format == QUERY_FORMAT_ANY,
			   "subscribe-only parameter in a list");
}

/* The value of an accepted time parameter (since, until). */
static void
check_time(const char *value, int64_t got)
{
	int64_t us;

	if (!strcmp(value, "all"))
		FUZZ_CHECK(got == QUERY_SINCE_ALL, "all = %lld", (long long)got);
	else if (!timestamp_parse_duration(value, strlen(value), &us))
		FUZZ_CHECK(got == FUZZ_NOW_US - us, "duration '%s' = %lld", value, (long long)got);
	else
		FUZZ_CHECK(!timestamp_parse(value, strlen(value), &us) && got == us,
			   "time '%s' = %lld", value, (long long)got);
}

static void
check_accepted(const struct query *q, const char *name, const char *value)
{
	if (!strcmp(name, "after_id") || !strcmp(name, "before_id") || !strcmp(name, "limit")) {
		FUZZ_CHECK(all_digits(value), "%s='%s' accepted", name, value);
		errno = 0;
		long long n = strtoll(value, NULL, 10);
		FUZZ_CHECK(errno == 0, "%s='%s' accepted", name, value);
		if (!strcmp(name, "after_id"))
			FUZZ_CHECK(q->has_after_id && q->after_id == n, "after_id");
		else if (!strcmp(name, "before_id"))
			FUZZ_CHECK(q->has_before_id && q->before_id == n, "before_id");
		else
			FUZZ_CHECK(q->limit == n, "limit");
	} else if (!strcmp(name, "since")) {
		FUZZ_CHECK(q->has_since, "since");
		check_time(value, q->since_us);
	} else if (!strcmp(name, "until")) {
		FUZZ_CHECK(q->has_until, "until");
		check_time(value, q->until_us);
	} else if (!strcmp(name, "type")) {
		size_t n = 1;
		for (const char *p = value; *p; p++)
			n += *p == ',';
		FUZZ_CHECK(q->type_count == n, "type='%s': %zu types", value, q->type_count);
		const char *p = value;
		for (size_t i = 0; i < n; i++) {
			size_t len = strcspn(p, ",");
			FUZZ_CHECK(strlen(q->types[i]) == len && !memcmp(q->types[i], p, len),
				   "type='%s': type %zu is '%s'", value, i, q->types[i]);
			p += len + (p[len] == ',');
		}
	} else if (!strcmp(name, "epoch")) {
		FUZZ_CHECK(q->has_epoch && !strcmp(q->epoch, value), "epoch");
	} else if (!strcmp(name, "order")) {
		FUZZ_CHECK(q->descending == !strcmp(value, "desc"), "order");
	} else if (!strcmp(name, "control")) {
		FUZZ_CHECK(q->control == (!strcmp(value, "1") || !strcmp(value, "true")),
			   "control");
	} else if (!strcmp(name, "format")) {
		FUZZ_CHECK(q->format ==
				   (!strcmp(value, "sse") ? QUERY_FORMAT_SSE : QUERY_FORMAT_NDJSON),
			   "format='%s' is %d", value, (int)q->format);
	} else {
		FUZZ_CHECK(!strcmp(name, "token"), "unknown parameter '%s' accepted", name);
	}
}

static void
check_refused(int rc, const char *name, const char *value, const char *errmsg)
{
	size_t len = strnlen(errmsg, ERRMSG_SIZE);
	char want[64];

	FUZZ_CHECK(rc == ERR_INVAL, "rc %d", rc);
	FUZZ_CHECK(len > 0 && len < ERRMSG_SIZE, "errmsg of %zu bytes", len);
	snprintf(want, sizeof want, "parameter '%.40s'", name);
	FUZZ_CHECK(!strncmp(errmsg, want, strlen(want)) ||
			   !strncmp(errmsg, "unknown parameter '", 19),
		   "the message does not name the parameter: %s", errmsg);
	if (fuzz_utf8_valid(name, strlen(name)) && fuzz_utf8_valid(value, strlen(value))) {
		char *json = ingest_error_json(errmsg, -1);
		FUZZ_CHECK(json != NULL,
			   "the message for a UTF-8 parameter is not UTF-8 itself, so it "
			   "cannot be sent in a JSON answer: \"%s\"",
			   errmsg);
		free(json);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errmsg[ERRMSG_SIZE];
	struct query q;

	if (size < 1)
		return 0;
	int list = data[0] & 1;
	set_fn set = list ? query_set_list : data[0] & 2 ? query_set_stream : query_set_subscribe;
	char *s = fuzz_strndup(data + 1, size - 1), *p = s, *end = s + size - 1;

	query_init(&q);
	check_invariants(&q, list);
	for (int pairs = 0; pairs < QUERY_PAIRS && p <= end; pairs++) {
		size_t len = 0;
		while (p + len < end && p[len] != '&' && p[len] != '\0')
			len++;
		p[len] = '\0';
		char *name = p, *eq = strchr(p, '=');
		const char *value = "";
		if (eq) {
			*eq = '\0';
			value = eq + 1;
		}
		memset(errmsg, 0, sizeof errmsg);
		int rc = set(&q, name, value, FUZZ_NOW_US, errmsg);
		if (rc) {
			/* The request is refused: the query is dropped as is. */
			check_refused(rc, name, value, errmsg);
			break;
		}
		check_accepted(&q, name, value);
		check_invariants(&q, list);
		p += len + 1;
	}
	free(s);
	return 0;
}
