/*
 * A tiny assertion and test-runner header for the unit tests, in the spirit
 * of libuv's test/task.h.
 *
 * A failed assertion prints the file, the line, the expression and both
 * values, then calls abort(), so ctest sees the test fail. A test file
 * defines its tests with TEST(name), lists them with TEST_ENTRY(name) in an
 * array, and hands that array to test_run() from main(). Passing test names
 * on the command line runs only those.
 */
#ifndef SENTINEL_TEST_ASSERT_H
#define SENTINEL_TEST_ASSERT_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ASSERT_FAIL_(...)                                                         \
	do {                                                                      \
		fflush(stdout);                                                   \
		fprintf(stderr, "%s:%d: assertion failed: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                                     \
		fputc('\n', stderr);                                              \
		abort();                                                          \
	} while (0)

#define ASSERT(cond)                               \
	do {                                       \
		if (!(cond))                       \
			ASSERT_FAIL_("%s", #cond); \
	} while (0)

/* Integers of any type, compared and printed as long long. */
#define ASSERT_INT_(a, op, b)                                                                \
	do {                                                                                 \
		long long assert_a_ = (long long)(a);                                        \
		long long assert_b_ = (long long)(b);                                        \
		if (!(assert_a_ op assert_b_))                                               \
			ASSERT_FAIL_("%s %s %s (%lld %s %lld)", #a, #op, #b, assert_a_, #op, \
				     assert_b_);                                             \
	} while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_(a, >=, b)
#define ASSERT_OK(expr) ASSERT_EQ(expr, 0)

#define ASSERT_NULL(p)                                                  \
	do {                                                            \
		const void *assert_p_ = (p);                            \
		if (assert_p_ != NULL)                                  \
			ASSERT_FAIL_("%s == NULL (%p)", #p, assert_p_); \
	} while (0)

#define ASSERT_NOT_NULL(p)                              \
	do {                                            \
		if ((p) == NULL)                        \
			ASSERT_FAIL_("%s != NULL", #p); \
	} while (0)

/* Print n bytes as a C string literal, escaping what is not printable. */
static inline void
assert_print_bytes_(const char *label, const void *p, size_t n)
{
	const unsigned char *s = p;

	fprintf(stderr, "  %s (%zu bytes): \"", label, n);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fprintf(stderr, "\\%c", s[i]);
		else if (s[i] >= 0x20 && s[i] < 0x7f)
			fputc(s[i], stderr);
		else
			fprintf(stderr, "\\x%02x", s[i]);
	}
	fputs("\"\n", stderr);
}

/* The first offset where a and b differ (both n bytes long). */
static inline size_t
assert_first_diff_(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	size_t i = 0;

	while (i < n && x[i] == y[i])
		i++;
	return i;
}

#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *assert_a_ = (a);                                                       \
		const char *assert_b_ = (b);                                                       \
		if (assert_a_ == NULL || assert_b_ == NULL || strcmp(assert_a_, assert_b_) != 0) { \
			fflush(stdout);                                                            \
			fprintf(stderr, "%s:%d: assertion failed: %s == %s\n", __FILE__, __LINE__, \
				#a, #b);                                                           \
			if (assert_a_)                                                             \
				assert_print_bytes_(#a, assert_a_, strlen(assert_a_));             \
			else                                                                       \
				fprintf(stderr, "  %s: NULL\n", #a);                               \
			if (assert_b_)                                                             \
				assert_print_bytes_(#b, assert_b_, strlen(assert_b_));             \
			else                                                                       \
				fprintf(stderr, "  %s: NULL\n", #b);                               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                        \
	do {                                                                          \
		const void *assert_a_ = (a);                                          \
		const void *assert_b_ = (b);                                          \
		size_t assert_n_ = (n);                                               \
		if (memcmp(assert_a_, assert_b_, assert_n_) != 0) {                   \
			fflush(stdout);                                               \
			fprintf(stderr,                                               \
				"%s:%d: assertion failed: %s == %s "                  \
				"(%zu bytes, first difference at %zu)\n",             \
				__FILE__, __LINE__, #a, #b, assert_n_,                \
				assert_first_diff_(assert_a_, assert_b_, assert_n_)); \
			assert_print_bytes_(#a, assert_a_, assert_n_);                \
			assert_print_bytes_(#b, assert_b_, assert_n_);                \
			abort();                                                      \
		}                                                                     \
	} while (0)

/* A buffer of len bytes equals the NUL-terminated string s. */
#define ASSERT_BUF_STR(buf, len, s)                               \
	do {                                                      \
		const char *assert_s_ = (s);                      \
		ASSERT_EQ(len, strlen(assert_s_));                \
		ASSERT_MEM_EQ(buf, assert_s_, strlen(assert_s_)); \
	} while (0)

#define TEST(name) static void name(void)
#define TEST_ENTRY(name)    \
	{                   \
#name, name \
	}

struct test_entry {
	const char *name;
	void (*fn)(void);
};

/*
 * Run the tests named in argv[1..] (all of them when there are none), in
 * order. A failure aborts, so reaching the end means every test passed.
 */
static inline int
test_run_(const struct test_entry *tests, size_t n, int argc, char **argv)
{
	size_t passed = 0;

	for (int a = 1; a < argc; a++) {
		size_t i = 0;
		while (i < n && strcmp(tests[i].name, argv[a]) != 0)
			i++;
		if (i == n) {
			fprintf(stderr, "unknown test '%s'\n", argv[a]);
			return 1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		int wanted = argc < 2;
		for (int a = 1; a < argc && !wanted; a++)
			wanted = strcmp(tests[i].name, argv[a]) == 0;
		if (!wanted)
			continue;
		printf("-- %s\n", tests[i].name);
		fflush(stdout);
		tests[i].fn();
		passed++;
	}
	printf("%zu passed, 0 failed\n", passed);
	return 0;
}

#define test_run(tests, argc, argv) test_run_(tests, sizeof(tests) / sizeof((tests)[0]), argc, argv)

#endif
