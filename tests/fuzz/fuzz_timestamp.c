/*
 * Fuzz target: ISO 8601 timestamps and durations (timestamp.c).
 *
 * Every input is tried three ways:
 *  - timestamp_parse(): an accepted text has the fixed layout the grammar
 *    requires, its value agrees with timegm() on the date and time fields up
 *    to a fraction below one second and a whole-minute offset below a day,
 *    and the round trip holds: timestamp_format() of the value parses back
 *    to the same value.
 *  - timestamp_parse_duration(): accepted exactly when the text is digits
 *    and one unit of s, m, h, d with a count of 1 to 10^8, with the value
 *    count * unit.
 *  - the first 8 bytes as microseconds: timestamp_format() always writes 27
 *    characters that parse, and gives back the same value for every instant
 *    in the years 0000-9999.
 */
#include <string.h>
#include <time.h>

#include "err.h"
#include "fuzz.h"
#include "timestamp.h"

#define US INT64_C(1000000)
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z. */
#define MIN_US (INT64_C(-62167219200) * US)
#define MAX_US (INT64_C(253402300800) * US - 1)

static int
digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static void
check_roundtrip(const char *text, size_t len, int64_t us)
{
	char out[TIMESTAMP_FORMAT_SIZE];
	int64_t back = 0;

	timestamp_format(us, out);
	FUZZ_CHECK(strlen(out) == TIMESTAMP_FORMAT_SIZE - 1 && out[26] == 'Z',
		   "format(%lld) = \"%s\"", (long long)us, out);
	FUZZ_CHECK(!timestamp_parse(out, strlen(out), &back), "format(%lld) = \"%s\" is refused",
		   (long long)us, out);
	FUZZ_CHECK(back == us, "\"%.*s\" parses to %lld, formatted \"%s\", which parses to %lld",
		   (int)len, text, (long long)us, out, (long long)back);
}

static void
check_timestamp(const char *text, size_t len)
{
	int64_t us = INT64_C(0x5a5a5a5a);

	if (timestamp_parse(text, len, &us)) {
		FUZZ_CHECK(us == INT64_C(0x5a5a5a5a), "*us_out written on failure");
		return;
	}
	FUZZ_CHECK(len >= 19 && text[4] == '-' && text[7] == '-' && text[10] &&
			   strchr("Tt ", text[10]) && text[13] == ':' && text[16] == ':',
		   "accepted \"%.*s\"", (int)len, text);
	for (int i = 0; i < 19; i++)
		if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16)
			FUZZ_CHECK(text[i] >= '0' && text[i] <= '9', "accepted \"%.*s\"", (int)len,
				   text);

	/* The calendar arithmetic agrees with the C library's. */
	struct tm tm = {
		.tm_year = digits(text, 4) - 1900,
		.tm_mon = digits(text + 5, 2) - 1,
		.tm_mday = digits(text + 8, 2),
		.tm_hour = digits(text + 11, 2),
		.tm_min = digits(text + 14, 2),
		.tm_sec = digits(text + 17, 2),
	};
	struct tm copy = tm;
	time_t t = timegm(&copy);
	FUZZ_CHECK(copy.tm_mday == tm.tm_mday && copy.tm_mon == tm.tm_mon &&
			   copy.tm_hour == tm.tm_hour && copy.tm_min == tm.tm_min &&
			   copy.tm_sec == tm.tm_sec,
		   "accepted a date or time that does not exist: \"%.*s\"", (int)len, text);
	int64_t diff = us - (int64_t)t * US;
	int64_t frac = ((diff % (60 * US)) + 60 * US) % (60 * US);
	FUZZ_CHECK(frac < US, "\"%.*s\": %lld is %lld us off whole minutes from timegm", (int)len,
		   text, (long long)us, (long long)frac);
	FUZZ_CHECK(diff > -24 * 3600 * US && diff < 24 * 3600 * US, "\"%.*s\": offset of %lld us",
		   (int)len, text, (long long)diff);
	if (len == 19 || (len == 20 && (text[19] == 'Z' || text[19] == 'z')))
		FUZZ_CHECK(diff == 0, "\"%.*s\": %lld, timegm %lld", (int)len, text, (long long)us,
			   (long long)t);

	check_roundtrip(text, len, us);
}

static void
check_duration(const char *text, size_t len)
{
	int64_t us = INT64_C(0x5a5a5a5a), n = 0, unit = 0;
	size_t i = 0;
	int rc = timestamp_parse_duration(text, len, &us);

	while (i < len && text[i] >= '0' && text[i] <= '9') {
		if (n <= INT64_C(1000000000))
			n = n * 10 + (text[i] - '0');
		i++;
	}
	if (i > 0 && i + 1 == len) {
		switch (text[i]) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		}
	}
	int valid = unit && n >= 1 && n <= INT64_C(100000000);
	if (!valid) {
		FUZZ_CHECK(rc == ERR_INVAL && us == INT64_C(0x5a5a5a5a),
			   "duration \"%.*s\" accepted as %lld", (int)len, text, (long long)us);
		return;
	}
	FUZZ_CHECK(rc == 0, "duration \"%.*s\" refused", (int)len, text);
	FUZZ_CHECK(us == n * unit * US, "duration \"%.*s\" = %lld", (int)len, text, (long long)us);
}

static void
check_format(const uint8_t *data)
{
	uint64_t raw = 0;
	int64_t us;

	for (int i = 0; i < 8; i++)
		raw = raw << 8 | data[i];
	memcpy(&us, &raw, sizeof us);

	char out[TIMESTAMP_FORMAT_SIZE];
	int64_t back = 0;
	timestamp_format(us, out);
	FUZZ_CHECK(strlen(out) == TIMESTAMP_FORMAT_SIZE - 1, "format(%lld) = \"%s\"", (long long)us,
		   out);
	FUZZ_CHECK(!timestamp_parse(out, strlen(out), &back), "format(%lld) = \"%s\" is refused",
		   (long long)us, out);
	if (us >= MIN_US && us <= MAX_US)
		FUZZ_CHECK(back == us, "format(%lld) = \"%s\" parses to %lld", (long long)us, out,
			   (long long)back);
	/* A value in range, whatever the bytes. */
	int64_t in = MIN_US + (int64_t)(raw % (uint64_t)(MAX_US - MIN_US + 1));
	check_roundtrip("(from bytes)", 12, in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1); /* exact size: ASan sees overreads */

	FUZZ_CHECK(text != NULL, "out of memory");
	memcpy(text, data, size);
	check_timestamp(text, size);
	check_duration(text, size);
	if (size >= 8)
		check_format(data);
	free(text);
	return 0;
}
