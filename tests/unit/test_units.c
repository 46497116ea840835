/*
 * Unit tests of units.c: sizes with and without a binary unit, counts in a
 * range, and refusing everything else with the output untouched.
 */
#include <stdint.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "units.h"

#define KIB ((size_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

/* units_parse_size on text must give expected. */
static void
size_is(const char *text, size_t expected)
{
	size_t out = 42;
	int rc = units_parse_size(text, &out);
	if (rc != 0)
		fprintf(stderr, "rejected size '%s'\n", text);
	ASSERT_EQ(rc, 0);
	ASSERT(out == expected);
}

static void
size_bad(const char *text)
{
	size_t out = 42;
	int rc = units_parse_size(text, &out);
	if (rc != ERR_INVAL)
		fprintf(stderr, "accepted size '%s' as %zu\n", text, out);
	ASSERT_EQ(rc, ERR_INVAL);
	ASSERT_EQ(out, 42);
}

TEST(parse_size)
{
	size_is("0", 0);
	size_is("1", 1);
	size_is("1048576", MIB);
	size_is("64KiB", 64 * KIB);
	size_is("1K", KIB);
	size_is("1k", KIB);
	size_is("16MiB", 16 * MIB);
	size_is("16M", 16 * MIB);
	size_is("1GiB", GIB);
	size_is("3G", 3 * GIB);
	size_is("0KiB", 0);
	size_is("18446744073709551615", SIZE_MAX);
	size_is("17179869183GiB", (size_t)17179869183u * GIB);
	size_is("17592186044415MiB", (size_t)17592186044415u * MIB);

	size_bad(NULL);
	size_bad("");
	size_bad("KiB");
	size_bad("1KB");
	size_bad("1kib");
	size_bad("1Ki");
	size_bad("1 KiB");
	size_bad("1KiB ");
	size_bad("1TiB");
	size_bad("1.5GiB");
	size_bad("0x10");
	size_bad("-1");
	size_bad("-0");
	size_bad("12abc");
	/* Overflow, with and without a unit. */
	size_bad("18446744073709551616");
	size_bad("99999999999999999999999");
	size_bad("17179869184GiB");
	size_bad("17592186044416MiB");
	size_bad("18014398509481984KiB");
}

TEST(parse_size_rejects_negative_after_space)
{
	/* strtoull() skips leading space and then accepts a minus sign, so
	 * " -5" must not become 18446744073709551611 bytes. */
	size_bad(" -5");
	size_bad("\t-1");
	size_bad(" -1MiB");
}

/* units_parse_count on text within [min, max] must give expected, or refuse. */
static void
count_is(const char *text, long long min, long long max, long long expected)
{
	long long out = 42;
	ASSERT_OK(units_parse_count(text, min, max, &out));
	ASSERT_EQ(out, expected);
}

static void
count_bad(const char *text, long long min, long long max)
{
	long long out = 42;
	ASSERT_EQ(units_parse_count(text, min, max, &out), ERR_INVAL);
	ASSERT_EQ(out, 42);
}

TEST(parse_count)
{
	count_is("0", 0, 10, 0);
	count_is("10", 0, 10, 10);
	count_is("65535", 0, 65535, 65535);
	count_is("9223372036854775807", 1, INT64_MAX, INT64_MAX);
	count_bad("11", 0, 10);
	count_bad("0", 1, 10);
	count_bad("", 0, 10);
	count_bad(NULL, 0, 10);
	count_bad("1K", 0, 2000);
	count_bad(" 1", 0, 10);
	count_bad("-1", -5, 10);
	count_bad("1.0", 0, 10);
	count_bad("0x10", 0, 100);
	count_bad("9223372036854775808", 0, INT64_MAX);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(parse_size),
		TEST_ENTRY(parse_size_rejects_negative_after_space),
		TEST_ENTRY(parse_count),
	};

	return test_run(tests, argc, argv);
}
