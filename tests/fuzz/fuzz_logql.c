/*
 * Fuzz target: LogQL queries (logql_parse) and their evaluation on events.
 *
 * The input is a query text. A query that parses is run on a few fixed
 * events; evaluation must give a verdict (pass or not) with a well-formed
 * label set: unique names, each a label name, serialisable as a JSON
 * object. A refusal says so in a message that starts with "parse error" or
 * names what is not supported, never an empty one.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "logql.h"

static const char *const events[] = {
	"{\"id\":1,\"type\":\"error\",\"message\":\"db down\",\"data\":{\"service\":"
	"\"postgresql\",\"code\":500}}",
	"{\"type\":\"agent\",\"message\":\"{\\\"level\\\":\\\"warn\\\",\\\"n\\\":{\\\"k\\\":3}}\"}",
	"{\"type\":\"x\",\"message\":\"a=1 b=\\\"two words\\\" c\"}",
	"{\"type\":\"y\",\"message\":\"nul \\u0000 inside\",\"data\":{\"bad-name\":1}}",
};

static void
check_labels(struct logql_labels *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		for (size_t j = i + 1; j < ls->n; j++)
			FUZZ_CHECK(strcmp(ls->v[i].name, ls->v[j].name), "label %s twice",
				   ls->v[i].name);
	}
	struct buf b = {0};
	FUZZ_CHECK(logql_labels_json(ls, &b) == 0, "labels not serialised");
	json_t *o = json_loadb(b.data, b.len, 0, NULL);
	FUZZ_CHECK(json_is_object(o) && json_object_size(o) == ls->n, "bad labels JSON %s", b.data);
	json_decref(o);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errmsg[ERRMSG_SIZE], *text = malloc(size + 1);
	struct logql_labels ls = {0};

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	errmsg[0] = '\0';
	logql *q = logql_parse(text, errmsg);
	if (!q) {
		FUZZ_CHECK(errmsg[0], "refused without a message");
		free(text);
		return 0;
	}
	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
		char *line = NULL;
		size_t len = 0;
		int rc = logql_eval(q, events[i], strlen(events[i]), &ls, &line, &len);
		FUZZ_CHECK(rc == 0 || rc == 1, "eval returned %d", rc);
		if (rc == 1) {
			FUZZ_CHECK(line && strlen(line) <= len, "line");
			check_labels(&ls);
			free(line);
		}
		rc = logql_eval_stream(q, events[i], strlen(events[i]), &ls);
		FUZZ_CHECK(rc == 0 || rc == 1, "eval_stream returned %d", rc);
	}
	logql_labels_free(&ls);
	logql_free(q);
	free(text);
	return 0;
}
