/*
 * Unit tests of log.c: the default line format, the journal's priority
 * prefix (only when JOURNAL_STREAM names standard error), JSON lines and
 * their escaping, and the bound on a line's length. Standard error is
 * pointed at a temporary file to read the lines back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert.h"
#include "log.h"

static int saved_stderr = -1;
static char out[16384];

/* Point standard error at a fresh temporary file. */
static void
capture(void)
{
	char path[] = "/tmp/test_log.XXXXXX";
	int fd = mkstemp(path);

	ASSERT_GE(fd, 0);
	unlink(path);
	if (saved_stderr < 0)
		saved_stderr = dup(STDERR_FILENO);
	ASSERT_GE(saved_stderr, 0);
	ASSERT_GE(dup2(fd, STDERR_FILENO), 0);
	close(fd);
}

/* What was logged since capture(), as a string; standard error is restored. */
static const char *
captured(void)
{
	ssize_t n = pread(STDERR_FILENO, out, sizeof out - 1, 0);

	ASSERT_GE(n, 0);
	out[n] = '\0';
	ASSERT_GE(dup2(saved_stderr, STDERR_FILENO), 0);
	return out;
}

/* Set JOURNAL_STREAM to the device and inode of the current standard error. */
static void
journal_is_stderr(void)
{
	struct stat st;
	char v[64];

	ASSERT_OK(fstat(STDERR_FILENO, &st));
	snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	ASSERT_OK(setenv("JOURNAL_STREAM", v, 1));
}

/* "2026-03-09T14:00:00.123456Z" at s. */
static void
assert_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";

	for (size_t i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == 'd')
			ASSERT(s[i] >= '0' && s[i] <= '9');
		else
			ASSERT_EQ(s[i], shape[i]);
	}
}

TEST(text_lines)
{
	const char *s;

	ASSERT_OK(unsetenv("JOURNAL_STREAM"));
	capture();
	log_set_format(LOG_FORMAT_TEXT);
	log_info("hello %d", 42);
	log_debug("not shown");
	log_error("broken");
	s = captured();
	/* Two lines of "TIMESTAMP level message". */
	assert_timestamp(s);
	ASSERT_EQ(strncmp(s + 27, " info hello 42\n", 15), 0);
	assert_timestamp(s + 42);
	ASSERT_STR_EQ(s + 69, " error broken\n");
}

TEST(journal_prefix)
{
	const char *s;

	capture();
	journal_is_stderr();
	log_set_format(LOG_FORMAT_TEXT);
	log_info("ready");
	log_warn("careful");
	log_error("broken");
	log_set_level(LOG_DEBUG);
	log_debug("detail");
	log_set_level(LOG_INFO);
	ASSERT_STR_EQ(captured(), "<6>ready\n<4>careful\n<3>broken\n<7>detail\n");

	/* A variable inherited with standard error pointing elsewhere. */
	capture();
	ASSERT_OK(setenv("JOURNAL_STREAM", "1:2", 1));
	log_set_format(LOG_FORMAT_TEXT);
	log_info("plain");
	s = captured();
	assert_timestamp(s);
	ASSERT_STR_EQ(s + 27, " info plain\n");

	capture();
	ASSERT_OK(setenv("JOURNAL_STREAM", "garbage", 1));
	log_set_format(LOG_FORMAT_TEXT);
	log_info("plain");
	s = captured();
	assert_timestamp(s);
	ASSERT_STR_EQ(s + 27, " info plain\n");
	ASSERT_OK(unsetenv("JOURNAL_STREAM"));
}

TEST(json_lines)
{
	const char *s;

	capture();
	log_set_format(LOG_FORMAT_JSON);
	log_warn("a \"q\" \\ \n \x01 \x7f caf\xc3\xa9 \xff \xe2\x82 end");
	s = captured();
	ASSERT_EQ(strncmp(s, "{\"ts\":\"", 7), 0);
	assert_timestamp(s + 7);
	/* The timestamp ends with Z and a quote, not a blank. */
	ASSERT_STR_EQ(s + 33,
		      "Z\",\"level\":\"warn\",\"msg\":\"a \\\"q\\\" \\\\ \\n \\u0001 \\u007f "
		      "caf\xc3\xa9 \\ufffd \\ufffd\\ufffd end\"}\n");

	/* Under the journal: the priority, then the same object. */
	capture();
	journal_is_stderr();
	log_set_format(LOG_FORMAT_JSON);
	log_error("x");
	s = captured();
	ASSERT_EQ(strncmp(s, "<3>{\"ts\":\"", 10), 0);
	ASSERT_STR_EQ(s + 36, "Z\",\"level\":\"error\",\"msg\":\"x\"}\n");
	ASSERT_OK(unsetenv("JOURNAL_STREAM"));
	log_set_format(LOG_FORMAT_TEXT);
}

TEST(long_messages_are_cut)
{
	static char msg[3000];
	const char *s;
	size_t n;

	memset(msg, 'x', sizeof msg - 1);
	capture();
	log_set_format(LOG_FORMAT_TEXT);
	log_info("%s", msg);
	s = captured();
	n = strlen(s);
	ASSERT_EQ(n, 1023);
	ASSERT_EQ(s[n - 1], '\n');
	ASSERT_EQ(s[n - 2], 'x');

	/* A JSON line stays one valid object: the message is cut, not the line. */
	memset(msg, '"', sizeof msg - 1);
	capture();
	log_set_format(LOG_FORMAT_JSON);
	log_info("%s", msg);
	s = captured();
	n = strlen(s);
	ASSERT_STR_EQ(s + n - 5, "\\\"\"}\n");
	ASSERT_EQ(strchr(s, '\n'), s + n - 1);
	log_set_format(LOG_FORMAT_TEXT);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(text_lines),
		TEST_ENTRY(journal_prefix),
		TEST_ENTRY(json_lines),
		TEST_ENTRY(long_messages_are_cut),
	};

	return test_run(tests, argc, argv);
}
