/*
 * Unit tests of timestamp.c: ISO 8601 parsing (every accepted form and every
 * rejected one), formatting and its round trip, and durations.
 */
#include <stdint.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "timestamp.h"

#define US INT64_C(1000000)
/* 2026-03-09T14:00:00Z, the seed's example time, in seconds. */
#define SEED_SECS INT64_C(1773064800)
#define SEED_US   (SEED_SECS * US + 123456)
/* Returned by the parsers only if they wrote to *us_out on failure. */
#define UNTOUCHED INT64_C(-424242)

/* Parse a NUL-terminated text that must be accepted. */
static int64_t
parse_ok(const char *text)
{
	int64_t us = UNTOUCHED;
	int rc = timestamp_parse(text, strlen(text), &us);
	if (rc != 0)
		fprintf(stderr, "rejected: '%s'\n", text);
	ASSERT_EQ(rc, 0);
	return us;
}

/* A text that must be rejected, leaving the output untouched. */
static void
parse_bad(const char *text)
{
	int64_t us = UNTOUCHED;
	int rc = timestamp_parse(text, strlen(text), &us);
	if (rc != ERR_INVAL)
		fprintf(stderr, "accepted: '%s'\n", text);
	ASSERT_EQ(rc, ERR_INVAL);
	ASSERT_EQ(us, UNTOUCHED);
}

TEST(parse_seed_form)
{
	/* The seed's form: no zone, which means UTC. */
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00.123456"), SEED_US);
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00.123456Z"), SEED_US);
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00Z"), SEED_SECS * US);
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00"), SEED_SECS * US);
	ASSERT_EQ(parse_ok("1970-01-01T00:00:00Z"), 0);
	ASSERT_EQ(parse_ok("1970-01-01T00:00:00.000001Z"), 1);
	ASSERT_EQ(parse_ok("1969-12-31T23:59:59.999999Z"), -1);
	ASSERT_EQ(parse_ok("1969-07-20T20:17:40Z"), INT64_C(-14182940) * US);
	ASSERT_EQ(parse_ok("0001-01-01T00:00:00Z"), INT64_C(-62135596800) * US);
	ASSERT_EQ(parse_ok("9999-12-31T23:59:59.999999Z"), INT64_C(253402300799) * US + 999999);
}

TEST(parse_offsets)
{
	/* 14:00 at +02:00 is 12:00 UTC; at -05:30 it is 19:30 UTC. */
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00.123456+02:00"), SEED_US - 2 * 3600 * US);
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00.123456+0200"), SEED_US - 2 * 3600 * US);
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00-0530"), (SEED_SECS + 5 * 3600 + 30 * 60) * US);
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00-05:30"), (SEED_SECS + 5 * 3600 + 30 * 60) * US);
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00+05"), (SEED_SECS - 5 * 3600) * US);
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00+00:00"), SEED_SECS * US);
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00-00:00"), SEED_SECS * US);
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00+23:59"), (SEED_SECS - 23 * 3600 - 59 * 60) * US);
	/* An offset can move the instant across a day and a year. */
	ASSERT_EQ(parse_ok("2027-01-01T01:00:00+02:00"), parse_ok("2026-12-31T23:00:00Z"));
}

TEST(parse_fractions)
{
	static const struct {
		const char *text;
		int64_t frac_us;
	} cases[] = {
		{"2026-03-09T14:00:00.1", 100000},
		{"2026-03-09T14:00:00.12", 120000},
		{"2026-03-09T14:00:00.123", 123000},
		{"2026-03-09T14:00:00.1234", 123400},
		{"2026-03-09T14:00:00.12345", 123450},
		{"2026-03-09T14:00:00.123456", 123456},
		/* Beyond microseconds the digits are truncated, not rounded. */
		{"2026-03-09T14:00:00.1234567", 123456},
		{"2026-03-09T14:00:00.12345678", 123456},
		{"2026-03-09T14:00:00.123456789", 123456},
		{"2026-03-09T14:00:00.999999999", 999999},
		{"2026-03-09T14:00:00.000000001", 0},
		{"2026-03-09T14:00:00.5Z", 500000},
		{"2026-03-09T14:00:00.000007+00:00", 7},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ASSERT_EQ(parse_ok(cases[i].text), SEED_SECS * US + cases[i].frac_us);
}

TEST(parse_calendar)
{
	/* 2024 is a leap year, 2023 is not; 2000 is, 1900 is not. */
	ASSERT_EQ(parse_ok("2024-02-29T00:00:00Z"), INT64_C(1709164800) * US);
	ASSERT_EQ(parse_ok("2024-03-01T00:00:00Z"), (INT64_C(1709164800) + 86400) * US);
	parse_bad("2023-02-29T00:00:00Z");
	parse_bad("2024-02-30T00:00:00Z");
	ASSERT_EQ(parse_ok("2000-02-29T00:00:00Z"), INT64_C(951782400) * US);
	parse_bad("1900-02-29T00:00:00Z");
	ASSERT_EQ(parse_ok("2023-02-28T23:59:59Z") + US, parse_ok("2023-03-01T00:00:00Z"));

	/* The last day of every month of 2026, and the day after it rejected. */
	static const char *last[] = {
		"2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30",
		"2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31", "2026-11-30", "2026-12-31",
	};
	for (size_t i = 0; i < sizeof last / sizeof last[0]; i++) {
		char text[32];
		snprintf(text, sizeof text, "%sT12:00:00Z", last[i]);
		parse_ok(text);
		text[9]++; /* the day's last digit (0, 1 or 8): a day too far */
		parse_bad(text);
	}
}

TEST(parse_case_and_separators)
{
	ASSERT_EQ(parse_ok("2026-03-09t14:00:00.123456z"), SEED_US);
	ASSERT_EQ(parse_ok("2026-03-09t14:00:00.123456"), SEED_US);
	/* RFC 3339 allows a space between date and time. */
	ASSERT_EQ(parse_ok("2026-03-09 14:00:00.123456"), SEED_US);
	/* ISO 8601 allows a comma before the fraction. */
	ASSERT_EQ(parse_ok("2026-03-09T14:00:00,123456Z"), SEED_US);
}

TEST(parse_rejects)
{
	static const char *bad[] = {
		"",
		" ",
		"2026",
		"2026-03-09",
		"2026-03-09T",
		"2026-03-09T14",
		"2026-03-09T14:00",
		"2026-03-09T14:00:",
		/* bad month, day, hour, minute, second */
		"2026-00-09T14:00:00",
		"2026-13-09T14:00:00",
		"2026-03-00T14:00:00",
		"2026-03-32T14:00:00",
		"2026-04-31T14:00:00",
		"2026-03-09T24:00:00",
		"2026-03-09T14:60:00",
		"2026-03-09T14:00:60",
		"2026-03-09T99:99:99",
		/* junk after */
		"2026-03-09T14:00:00x",
		"2026-03-09T14:00:00 ",
		"2026-03-09T14:00:00.123456 ",
		"2026-03-09T14:00:00.123456Zjunk",
		"2026-03-09T14:00:00ZZ",
		"2026-03-09T14:00:00Z+02:00",
		"2026-03-09T14:00:00+02:00Z",
		"2026-03-09T14:00:00+02:00:00",
		" 2026-03-09T14:00:00",
		/* missing or extra digits */
		"26-03-09T14:00:00",
		"20260-03-09T14:00:00",
		"2026-3-09T14:00:00",
		"2026-03-9T14:00:00",
		"2026-03-09T4:00:00",
		"2026-03-09T14:0:00",
		"2026-03-09T14:00:0",
		"2026-03-09T14:00:000",
		"20260309T140000",
		"2026-03-09T1400:00",
		"2026/03/09T14:00:00",
		"2026-03-09X14:00:00",
		"2026-03-09_14:00:00",
		"+2026-03-09T14:00:00",
		"2026-0a-09T14:00:00",
		/* fractions */
		"2026-03-09T14:00:00.",
		"2026-03-09T14:00:00.Z",
		"2026-03-09T14:00:00.1234567890",
		"2026-03-09T14:00:00.1234567890Z",
		"2026-03-09T14:00:00..1",
		"2026-03-09T14:00:00.-1",
		"2026-03-09T14:00:00.1e3",
		/* offsets */
		"2026-03-09T14:00:00+",
		"2026-03-09T14:00:00+2",
		"2026-03-09T14:00:00+2:00",
		"2026-03-09T14:00:00+02:0",
		"2026-03-09T14:00:00+020",
		"2026-03-09T14:00:00+02000",
		"2026-03-09T14:00:00+24:00",
		"2026-03-09T14:00:00+02:60",
		"2026-03-09T14:00:00+ab:cd",
		"2026-03-09T14:00:00 +02:00",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_bad(bad[i]);
}

TEST(parse_rejects_offset_without_minutes)
{
	/* An offset that ends in its colon has lost its minutes: not ISO 8601. */
	parse_bad("2026-03-09T14:00:00+02:");
	parse_bad("2026-03-09T14:00:00-05:");
	parse_bad("2026-03-09T14:00:00.123456+02:");
}

TEST(parse_respects_length)
{
	const char *text = "2026-03-09T14:00:00.123456Zgarbage";
	int64_t us = UNTOUCHED;

	/* Only len bytes are read: the text need not end in a NUL. */
	ASSERT_OK(timestamp_parse(text, 27, &us));
	ASSERT_EQ(us, SEED_US);
	us = UNTOUCHED;
	ASSERT_OK(timestamp_parse(text, 26, &us));
	ASSERT_EQ(us, SEED_US);
	us = UNTOUCHED;
	ASSERT_OK(timestamp_parse(text, 21, &us)); /* "...14:00:00.1" */
	ASSERT_EQ(us, SEED_SECS * US + 100000);
	us = UNTOUCHED;
	ASSERT_EQ(timestamp_parse(text, 20, &us), ERR_INVAL); /* "...14:00:00." */
	ASSERT_EQ(timestamp_parse(text, 18, &us), ERR_INVAL);
	ASSERT_EQ(timestamp_parse(text, 28, &us), ERR_INVAL);
	ASSERT_EQ(timestamp_parse(text, 0, &us), ERR_INVAL);
	ASSERT_EQ(us, UNTOUCHED);
}

/* Format us and check the text. */
static void
format_is(int64_t us, const char *expected)
{
	char out[TIMESTAMP_FORMAT_SIZE];

	memset(out, 'x', sizeof out);
	timestamp_format(us, out);
	ASSERT_EQ(strlen(out), TIMESTAMP_FORMAT_SIZE - 1);
	ASSERT_STR_EQ(out, expected);
}

TEST(format)
{
	format_is(SEED_US, "2026-03-09T14:00:00.123456Z");
	format_is(0, "1970-01-01T00:00:00.000000Z");
	format_is(1, "1970-01-01T00:00:00.000001Z");
	format_is(-1, "1969-12-31T23:59:59.999999Z");
	format_is(-US, "1969-12-31T23:59:59.000000Z");
	format_is(-US - 1, "1969-12-31T23:59:58.999999Z");
	format_is(INT64_C(-14182940) * US + 5, "1969-07-20T20:17:40.000005Z");
	format_is(INT64_C(1709164800) * US, "2024-02-29T00:00:00.000000Z");
	format_is(INT64_C(-62135596800) * US, "0001-01-01T00:00:00.000000Z");
	format_is(INT64_C(253402300799) * US + 999999, "9999-12-31T23:59:59.999999Z");
}

/* format(us) parses back to us. */
static void
round_trip(int64_t us)
{
	char out[TIMESTAMP_FORMAT_SIZE];
	int64_t back = UNTOUCHED;

	timestamp_format(us, out);
	ASSERT_EQ(strlen(out), TIMESTAMP_FORMAT_SIZE - 1);
	ASSERT_OK(timestamp_parse(out, strlen(out), &back));
	if (back != us)
		fprintf(stderr, "round trip of %lld through '%s'\n", (long long)us, out);
	ASSERT_EQ(back, us);
}

TEST(format_round_trip)
{
	const int64_t first = INT64_C(-62135596800) * US;         /* 0001-01-01 */
	const int64_t last = INT64_C(253402300799) * US + 999999; /* 9999-12-31 */

	round_trip(0);
	round_trip(1);
	round_trip(-1);
	round_trip(SEED_US);
	round_trip(INT64_C(-14182940) * US + 999999);
	round_trip(INT64_C(-2208988800) * US); /* 1900-01-01 */
	round_trip(first);
	round_trip(last);
	/* Walk the whole four-digit range in uneven steps (a prime number of
	 * microseconds, about 11.6 days), so every month, leap days and many
	 * times of day are visited. */
	for (int64_t us = first; us <= last; us += INT64_C(1000000007777))
		round_trip(us);

	/* And text → value → text keeps the canonical form. */
	const char *canon = "2024-02-29T23:59:59.000001Z";
	char out[TIMESTAMP_FORMAT_SIZE];
	timestamp_format(parse_ok(canon), out);
	ASSERT_STR_EQ(out, canon);
	timestamp_format(parse_ok("2026-03-09T16:00:00.123456+02:00"), out);
	ASSERT_STR_EQ(out, "2026-03-09T14:00:00.123456Z");
}

TEST(now)
{
	int64_t a = timestamp_now();
	int64_t b = timestamp_now();

	/* Some time after the seed was written and before 2100. */
	ASSERT_GT(a, SEED_SECS * US - 365 * 86400 * US);
	ASSERT_LT(a, INT64_C(4102444800) * US);
	ASSERT_GE(b, a);
}

/* Parse a duration that must be accepted. */
static int64_t
duration_ok(const char *text)
{
	int64_t us = UNTOUCHED;
	int rc = timestamp_parse_duration(text, strlen(text), &us);
	if (rc != 0)
		fprintf(stderr, "rejected duration: '%s'\n", text);
	ASSERT_EQ(rc, 0);
	return us;
}

static void
duration_bad(const char *text)
{
	int64_t us = UNTOUCHED;
	int rc = timestamp_parse_duration(text, strlen(text), &us);
	if (rc != ERR_INVAL)
		fprintf(stderr, "accepted duration: '%s'\n", text);
	ASSERT_EQ(rc, ERR_INVAL);
	ASSERT_EQ(us, UNTOUCHED);
}

TEST(durations)
{
	ASSERT_EQ(duration_ok("90s"), 90 * US);
	ASSERT_EQ(duration_ok("1s"), US);
	ASSERT_EQ(duration_ok("10m"), 600 * US);
	ASSERT_EQ(duration_ok("2h"), 7200 * US);
	ASSERT_EQ(duration_ok("7d"), 7 * 86400 * US);
	ASSERT_EQ(duration_ok("365d"), 365 * 86400 * US);
	ASSERT_EQ(duration_ok("007m"), 7 * 60 * US);
	/* The largest accepted count still fits in int64 microseconds. */
	ASSERT_EQ(duration_ok("100000000d"), INT64_C(100000000) * 86400 * US);

	/* Only len bytes are read. */
	int64_t us = UNTOUCHED;
	ASSERT_OK(timestamp_parse_duration("5mjunk", 2, &us));
	ASSERT_EQ(us, 300 * US);
}

TEST(duration_rejects)
{
	static const char *bad[] = {
		"",
		"s",
		"m",
		"10",
		"0s",
		"00m",
		"0d",
		"10x",
		"10S",
		"10ms",
		"10 m",
		"-5m",
		"+5m",
		" 5m",
		"5m ",
		"5.5h",
		"1e3s",
		"5mm",
		"h5",
		"1h30m",
		"10w",
		"10y",
		/* too many for int64 microseconds */
		"106751992d",
		"99999999999999999999d",
		"9223372036854775807s",
		"18446744073709551617s",
		"99999999999999999999999999999999999999s",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		duration_bad(bad[i]);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(parse_seed_form),
		TEST_ENTRY(parse_offsets),
		TEST_ENTRY(parse_fractions),
		TEST_ENTRY(parse_calendar),
		TEST_ENTRY(parse_case_and_separators),
		TEST_ENTRY(parse_rejects),
		TEST_ENTRY(parse_respects_length),
		TEST_ENTRY(format),
		TEST_ENTRY(format_round_trip),
		TEST_ENTRY(now),
		TEST_ENTRY(durations),
		TEST_ENTRY(duration_rejects),
		TEST_ENTRY(parse_rejects_offset_without_minutes),
	};

	return test_run(tests, argc, argv);
}
