/*
 * Unit tests of mapping.c: the members a mapping adds to a shipper's object
 * (and never changes), epoch numbers in every unit read exactly from their
 * text, plain-text lines, the request parameters, and the refusals.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "mapping.h"

#define NOW_US (INT64_C(1773064800) * 1000000)

/* A mapping from parameters "name=value", NULL-terminated. */
static struct mapping
mapping_of(const char *const *params)
{
	struct mapping m;
	char errmsg[ERRMSG_SIZE];

	mapping_init(&m);
	for (; *params; params++) {
		char name[64];
		const char *eq = strchr(*params, '=');
		memcpy(name, *params, (size_t)(eq - *params));
		name[eq - *params] = '\0';
		ASSERT_OK(mapping_set(&m, name, eq + 1, errmsg));
	}
	return m;
}

static void
maps_to(const struct mapping *m, const char *in, const char *body, int64_t ts_us)
{
	struct logevent ev;
	char errmsg[ERRMSG_SIZE];

	int rc = mapping_event(m, in, strlen(in), NOW_US, &ev, errmsg);

	if (rc)
		fprintf(stderr, "%s: %s\n", in, errmsg);
	ASSERT_OK(rc);
	ASSERT_STR_EQ(ev.body, body);
	ASSERT_EQ(ev.ts_us, ts_us);
	logevent_free(&ev);
}

static void
refused(const struct mapping *m, const char *in, const char *needle)
{
	struct logevent ev;
	char errmsg[ERRMSG_SIZE] = "";

	ASSERT_EQ(mapping_event(m, in, strlen(in), NOW_US, &ev, errmsg), ERR_EVENT);
	if (!strstr(errmsg, needle))
		fprintf(stderr, "'%s' not in '%s'\n", needle, errmsg);
	ASSERT_NOT_NULL(strstr(errmsg, needle));
}

TEST(fluent_bit_record)
{
	static const char *const p[] = {"type=fluentbit", "message_field=log",
					"timestamp_field=date", NULL};
	struct mapping m = mapping_of(p);

	maps_to(&m, "{ \"date\": 1764481200.123456, \"log\": \"hola 🚀\" }",
		"{\"date\":1764481200.123456,\"log\":\"hola 🚀\",\"type\":\"fluentbit\","
		"\"message\":\"hola 🚀\",\"timestamp\":\"2025-11-30T05:40:00.123456Z\"}",
		INT64_C(1764481200123456));
	/* Members the object has are never replaced. */
	maps_to(&m,
		"{\"type\":\"own\",\"message\":\"m\",\"timestamp\":\"2026-03-09T14:00:00Z\","
		"\"log\":\"x\",\"date\":1}",
		"{\"type\":\"own\",\"message\":\"m\",\"timestamp\":\"2026-03-09T14:00:00Z\","
		"\"log\":\"x\",\"date\":1}",
		NOW_US);
	/* No time field either: the ingest time. */
	maps_to(&m, "{\"log\":\"x\"}",
		"{\"log\":\"x\",\"type\":\"fluentbit\",\"message\":\"x\","
		"\"timestamp\":\"2026-03-09T14:00:00.000000Z\"}",
		NOW_US);
	refused(&m, "{\"date\":1}", "'log'");
	refused(&m, "{\"log\":3}", "must be a string");
	refused(&m, "{\"log\":\"x\",\"date\":\"tuesday\"}", "'date'");
	refused(&m, "{\"log\":\"x\",\"date\":-1}", "'date'");
	refused(&m, "{\"log\":\"x\",\"date\":[1]}", "'date'");
}

TEST(only_a_type)
{
	static const char *const p[] = {"type=vector", NULL};
	struct mapping m = mapping_of(p);

	maps_to(&m, "{\"message\":\"m\",\"timestamp\":\"2025-11-30T05:40:00.123456789Z\"}",
		"{\"message\":\"m\",\"timestamp\":\"2025-11-30T05:40:00.123456789Z\","
		"\"type\":\"vector\"}",
		INT64_C(1764481200123456));
	/* An empty object takes the additions without a leading comma. */
	struct logevent ev;
	char errmsg[ERRMSG_SIZE];
	ASSERT_EQ(mapping_event(&m, "{}", 2, NOW_US, &ev, errmsg), ERR_EVENT); /* no message */
	ASSERT_NOT_NULL(strstr(errmsg, "message"));
	/* Not an object: logevent's own errors. */
	ASSERT_EQ(mapping_event(&m, "[1]", 3, NOW_US, &ev, errmsg), ERR_EVENT);
	ASSERT_EQ(mapping_event(&m, "{\"a\":", 5, NOW_US, &ev, errmsg), ERR_JSON);
}

TEST(epoch_units)
{
	static const struct {
		const char *text;
		enum mapping_unit unit;
		int64_t us;
	} ok[] = {
		{"1764481200", MAPPING_UNIT_AUTO, INT64_C(1764481200000000)},
		{"1764481200.5", MAPPING_UNIT_AUTO, INT64_C(1764481200500000)},
		{"1764481200.1234569", MAPPING_UNIT_AUTO, INT64_C(1764481200123456)},
		{"1764481200123", MAPPING_UNIT_AUTO, INT64_C(1764481200123000)},
		{"1764481200123.9", MAPPING_UNIT_AUTO, INT64_C(1764481200123900)},
		{"1764481200123456", MAPPING_UNIT_AUTO, INT64_C(1764481200123456)},
		{"1764481200123456789", MAPPING_UNIT_AUTO, INT64_C(1764481200123456)},
		{"5", MAPPING_UNIT_MS, 5000},
		{"5", MAPPING_UNIT_US, 5},
		{"5999", MAPPING_UNIT_NS, 5},
		{"0", MAPPING_UNIT_AUTO, 0},
		{"253402300799", MAPPING_UNIT_S, INT64_C(253402300799000000)},
	};
	static const char *const bad[] = {"",      "-1",           "1e9",
					  "1.2.3", "abc",          "1 ",
					  ".5",    "253402300800", "99999999999999999999999"};
	int64_t us;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		us = -1;
		ASSERT_OK(mapping_epoch_us(ok[i].text, strlen(ok[i].text), ok[i].unit, &us));
		ASSERT_EQ(us, ok[i].us);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		us = 42;
		ASSERT_EQ(mapping_epoch_us(bad[i], strlen(bad[i]),
					   i == 7 ? MAPPING_UNIT_S : MAPPING_UNIT_AUTO, &us),
			  ERR_INVAL);
		ASSERT_EQ(us, 42);
	}
}

TEST(lines)
{
	static const char *const p[] = {"type=syslog", NULL};
	struct mapping m = mapping_of(p), none;
	struct logevent ev;
	char errmsg[ERRMSG_SIZE];

	ASSERT_OK(mapping_line(&m, "a \"quoted\" línea", strlen("a \"quoted\" línea"), NOW_US, &ev,
			       errmsg));
	ASSERT_STR_EQ(ev.body, "{\"message\":\"a \\\"quoted\\\" línea\",\"type\":\"syslog\","
			       "\"timestamp\":\"2026-03-09T14:00:00.000000Z\"}");
	logevent_free(&ev);
	ASSERT_EQ(mapping_line(&m, "\xff", 1, NOW_US, &ev, errmsg), ERR_EVENT);
	mapping_init(&none);
	ASSERT_EQ(mapping_line(&none, "x", 1, NOW_US, &ev, errmsg), ERR_EVENT);
	ASSERT_NOT_NULL(strstr(errmsg, "type"));
}

TEST(parameters)
{
	struct mapping m;
	char errmsg[ERRMSG_SIZE];

	mapping_init(&m);
	ASSERT_EQ(mapping_set(&m, "partial", "1", errmsg), 1);
	ASSERT_EQ(m.active, 0);
	ASSERT_EQ(mapping_set(&m, "type", "no spaces", errmsg), ERR_INVAL);
	ASSERT_NOT_NULL(strstr(errmsg, "'type'"));
	ASSERT_EQ(mapping_set(&m, "message_field", "", errmsg), ERR_INVAL);
	ASSERT_EQ(mapping_set(&m, "timestamp_unit", "days", errmsg), ERR_INVAL);
	ASSERT_OK(mapping_set(&m, "timestamp_unit", "ns", errmsg));
	ASSERT_EQ(m.unit, MAPPING_UNIT_NS);
	ASSERT_EQ(m.active, 1);
	/* Without an active mapping an event is taken as it is. */
	struct mapping off;
	struct logevent ev;
	mapping_init(&off);
	ASSERT_EQ(mapping_event(&off, "{\"message\":\"m\"}", 15, NOW_US, &ev, errmsg), ERR_EVENT);
	ASSERT_NOT_NULL(strstr(errmsg, "'type'"));
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(fluent_bit_record), TEST_ENTRY(only_a_type),
		TEST_ENTRY(epoch_units),       TEST_ENTRY(lines),
		TEST_ENTRY(parameters),
	};

	return test_run(tests, argc, argv);
}
