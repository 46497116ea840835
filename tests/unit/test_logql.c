/*
 * Unit tests of logql.c: what parses and what is refused (with a message),
 * and the evaluation of selectors, line filters, parsers, label filters,
 * drop and grouping on events, with the labels an event shows.
 */
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "logql.h"

static const char EVENT[] =
	"{\"id\":7,\"type\":\"agent\",\"message\":\"Diagnosticando servicio postgresql\","
	"\"data\":{\"step\":\"diagnose\",\"service\":\"postgresql\",\"attempt\":2,"
	"\"ok\":true,\"nested\":{\"x\":1},\"bad-name\":\"x\",\"type\":\"shadow\"}}";
static const char JSON_LINE[] = "{\"type\":\"http\",\"message\":\"{\\\"status\\\":503,\\\"req\\\":{"
				"\\\"path\\\":\\\"/p\\\"},"
				"\\\"type\\\":\\\"inner\\\"}\"}";

static logql *
parse_ok(const char *text)
{
	char errmsg[ERRMSG_SIZE] = "";
	logql *q = logql_parse(text, errmsg);

	if (!q)
		fprintf(stderr, "%s: %s\n", text, errmsg);
	ASSERT_NOT_NULL(q);
	return q;
}

static void
refused(const char *text, const char *needle)
{
	char errmsg[ERRMSG_SIZE] = "";

	ASSERT_NULL(logql_parse(text, errmsg));
	if (!strstr(errmsg, needle))
		fprintf(stderr, "%s: '%s' not in '%s'\n", text, needle, errmsg);
	ASSERT_NOT_NULL(strstr(errmsg, needle));
}

/* Evaluate text on json: 1 or 0, with the labels as JSON in labels_out. */
static int
eval(const char *text, const char *json, char *labels_out, size_t size, char *line_out)
{
	logql *q = parse_ok(text);
	struct logql_labels ls = {0};
	struct buf b = {0};
	char *line = NULL;
	size_t len = 0;
	int rc = logql_eval(q, json, strlen(json), &ls, &line, &len);

	ASSERT_GE(rc, 0);
	if (rc == 1) {
		ASSERT_OK(logql_labels_json(&ls, &b));
		snprintf(labels_out, size, "%s", b.data);
		if (line_out)
			strcpy(line_out, line);
		free(line);
	}
	buf_free(&b);
	logql_labels_free(&ls);
	logql_free(q);
	return rc;
}

static int
passes(const char *text, const char *json)
{
	char labels[1024];
	return eval(text, json, labels, sizeof labels, NULL);
}

TEST(parses)
{
	logql *q = parse_ok("  sum by (type) ( count_over_time( {type=\"a\"} |= `x` [1h30m] ) ) ");
	ASSERT_EQ(logql_kind(q), LOGQL_METRIC);
	ASSERT_EQ(logql_range_fn(q), LOGQL_COUNT_OVER_TIME);
	ASSERT_EQ(logql_range_us(q), INT64_C(5400) * 1000000);
	ASSERT_STR_EQ(logql_type(q), "a");
	logql_free(q);
	q = parse_ok("sum(rate({a=\"b\"}[5m])) without (c)");
	ASSERT_EQ(logql_range_fn(q), LOGQL_RATE);
	ASSERT_NULL(logql_type(q));
	logql_free(q);
	q = parse_ok("vector(1)+vector(1.5)");
	ASSERT_EQ(logql_kind(q), LOGQL_VECTOR);
	ASSERT(logql_vector_value(q) == 2.5);
	logql_free(q);
	q = parse_ok("{a=\"b\"} | json | x > 1 and y=~\"z.*\", w != 3 | drop __error__, w");
	ASSERT_EQ(logql_kind(q), LOGQL_LOG);
	logql_free(q);
}

TEST(refusals)
{
	refused("", "parse error at line 1, col 1");
	refused("{}", "at least one");
	refused("{a=~\".*\", b!=\"c\"}", "at least one");
	refused("{a=\"b\"", "col 7");
	refused("{a=\"b}", "unterminated");
	refused("{a=~\"(\"}", "regular expression");
	refused("{a=\"b\"} |= \"x\" or \"y\"", "'or'");
	refused("{a=\"b\"} | line_format \"x\"", "line_format");
	refused("{a=\"b\"} | json x=\"y\"", "parameters");
	refused("{a=\"b\"} | x > \"3\"", "compare numbers");
	refused("topk(1, rate({a=\"b\"}[1m]))", "topk");
	refused("avg_over_time({a=\"b\"} | unwrap x [1m])", "avg_over_time");
	refused("count_over_time({a=\"b\"}[5x])", "range duration");
	refused("count_over_time({a=\"b\"})", "'['");
	refused("{a=\"b\"} extra", "unexpected");
	refused("vector(1) * vector(2)", "unexpected");
}

TEST(event_labels_and_selectors)
{
	char labels[1024], line[256];

	ASSERT_EQ(eval("{type=\"agent\"}", EVENT, labels, sizeof labels, line), 1);
	/* type from the column, scalars of data; not objects, not bad names,
	 * not data's own "type". */
	ASSERT_STR_EQ(labels, "{\"attempt\":\"2\",\"ok\":\"true\",\"service\":\"postgresql\","
			      "\"step\":\"diagnose\",\"type\":\"agent\"}");
	ASSERT_STR_EQ(line, "Diagnosticando servicio postgresql");
	ASSERT_EQ(passes("{service=~\"post.*\"}", EVENT), 1);
	ASSERT_EQ(passes("{service=~\"post\"}", EVENT), 0); /* anchored */
	ASSERT_EQ(passes("{service!~\"(?i)POST.*\", type=\"agent\"}", EVENT), 0);
	ASSERT_EQ(passes("{type=\"agent\", missing!=\"x\"}", EVENT), 1);
	ASSERT_EQ(passes("{type=\"agent\", missing=~\".+\"}", EVENT), 0);
	ASSERT_EQ(passes("{type=\"other\"}", EVENT), 0);
	ASSERT_EQ(passes("{type=\"agent\"}", "not json"), 0);
}

TEST(line_filters)
{
	ASSERT_EQ(passes("{type=\"agent\"} |= \"servicio\"", EVENT), 1);
	ASSERT_EQ(passes("{type=\"agent\"} |= \"Servicio\"", EVENT), 0);
	ASSERT_EQ(passes("{type=\"agent\"} |~ \"(?i)SERVICIO\\\\s\\\\w+$\"", EVENT), 1);
	ASSERT_EQ(passes("{type=\"agent\"} != \"postgresql\"", EVENT), 0);
	ASSERT_EQ(passes("{type=\"agent\"} !~ \"\\\\d\"", EVENT), 1);
	ASSERT_EQ(passes("{type=\"agent\"} |= \"Diag\" |= \"sql\" != \"redis\"", EVENT), 1);
}

TEST(parsers_and_label_filters)
{
	char labels[1024];

	ASSERT_EQ(eval("{type=\"http\"} | json", JSON_LINE, labels, sizeof labels, NULL), 1);
	/* Nested names joined with _, a clash with a stream label renamed. */
	ASSERT_STR_EQ(labels, "{\"req_path\":\"/p\",\"status\":\"503\",\"type\":\"http\","
			      "\"type_extracted\":\"inner\"}");
	ASSERT_EQ(passes("{type=\"http\"} | json | status >= 500", JSON_LINE), 1);
	ASSERT_EQ(passes("{type=\"http\"} | json | status < 500", JSON_LINE), 0);
	ASSERT_EQ(passes("{type=\"http\"} | json | status == 503, req_path=\"/p\"", JSON_LINE), 1);
	ASSERT_EQ(passes("{type=\"http\"} | json | nothing > 1", JSON_LINE), 0); /* no label */
	ASSERT_EQ(eval("{type=\"agent\"} | json", EVENT, labels, sizeof labels, NULL), 1);
	ASSERT_NOT_NULL(strstr(labels, "\"__error__\":\"JSONParserErr\""));
	ASSERT_EQ(eval("{type=\"agent\"} | json | drop __error__, attempt, ok", EVENT, labels,
		       sizeof labels, NULL),
		  1);
	ASSERT_STR_EQ(labels,
		      "{\"service\":\"postgresql\",\"step\":\"diagnose\",\"type\":\"agent\"}");
	/* A number filter on a value that is not one keeps the line, marked. */
	ASSERT_EQ(eval("{type=\"agent\"} | step > 1", EVENT, labels, sizeof labels, NULL), 1);
	ASSERT_NOT_NULL(strstr(labels, "LabelFilterErr"));
	static const char logfmt[] =
		"{\"type\":\"x\",\"message\":\"level=warn msg=\\\"disk almost full\\\" pct=91\"}";
	ASSERT_EQ(eval("{type=\"x\"} | logfmt | pct > 90", logfmt, labels, sizeof labels, NULL), 1);
	ASSERT_STR_EQ(labels, "{\"level\":\"warn\",\"msg\":\"disk almost full\",\"pct\":\"91\","
			      "\"type\":\"x\"}");
}

TEST(grouping)
{
	logql *q = parse_ok("sum by (service) (count_over_time({type=\"agent\"}[1m]))");
	struct logql_labels ls = {0}, g = {0};
	struct buf b = {0};
	char *line;
	size_t len;

	ASSERT_EQ(logql_eval(q, EVENT, strlen(EVENT), &ls, &line, &len), 1);
	free(line);
	ASSERT_OK(logql_group(q, &ls, &g));
	ASSERT_OK(logql_labels_json(&g, &b));
	ASSERT_STR_EQ(b.data, "{\"service\":\"postgresql\"}");
	logql_free(q);
	q = parse_ok("sum without (attempt, ok, step) (rate({type=\"agent\"}[1m]))");
	ASSERT_OK(logql_group(q, &ls, &g));
	b.len = 0;
	ASSERT_OK(logql_labels_json(&g, &b));
	ASSERT_STR_EQ(b.data, "{\"service\":\"postgresql\",\"type\":\"agent\"}");
	buf_free(&b);
	logql_labels_free(&ls);
	logql_labels_free(&g);
	logql_free(q);
}

TEST(durations)
{
	int64_t us = -1;

	ASSERT_OK(logql_duration("500ms", 5, &us));
	ASSERT_EQ(us, 500000);
	ASSERT_OK(logql_duration("1h30m", 5, &us));
	ASSERT_EQ(us, INT64_C(5400000000));
	ASSERT_OK(logql_duration("1w", 2, &us));
	ASSERT_EQ(us, INT64_C(604800000000));
	ASSERT_EQ(logql_duration("", 0, &us), ERR_INVAL);
	ASSERT_EQ(logql_duration("5", 1, &us), ERR_INVAL);
	ASSERT_EQ(logql_duration("0s", 2, &us), ERR_INVAL);
	ASSERT_EQ(logql_duration("m", 1, &us), ERR_INVAL);
	ASSERT_EQ(us, INT64_C(604800000000));
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(parses),
		TEST_ENTRY(refusals),
		TEST_ENTRY(event_labels_and_selectors),
		TEST_ENTRY(line_filters),
		TEST_ENTRY(parsers_and_label_filters),
		TEST_ENTRY(grouping),
		TEST_ENTRY(durations),
	};

	return test_run(tests, argc, argv);
}
