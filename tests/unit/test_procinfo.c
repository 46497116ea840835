/*
 * Unit tests of procinfo.c: each figure against what this process can see
 * for itself (descriptors it opens, its limit, the CPU it burns, memory it
 * touches, the time it started).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "assert.h"
#include "procinfo.h"

/* Set when main starts: the process started a little before. */
static time_t main_started;

TEST(descriptors)
{
	struct procinfo a, b;
	struct rlimit rl;
	int fds[3];

	ASSERT_OK(procinfo_read(&a));
	for (int i = 0; i < 3; i++) {
		fds[i] = dup(STDOUT_FILENO);
		ASSERT_GE(fds[i], 0);
	}
	ASSERT_OK(procinfo_read(&b));
	ASSERT_EQ(b.open_fds, a.open_fds + 3);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	ASSERT_OK(procinfo_read(&b));
	ASSERT_EQ(b.open_fds, a.open_fds);
	ASSERT_GE(a.open_fds, 3); /* at least standard input, output and error */

	ASSERT_OK(getrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_EQ(a.max_fds, (long long)rl.rlim_cur);
}

TEST(cpu_and_memory)
{
	struct procinfo a, b;
	size_t size = 32u << 20;
	volatile unsigned long spin = 0;
	struct timespec t0, t1;
	char *mem;

	ASSERT_OK(procinfo_read(&a));
	ASSERT_GT(a.resident_bytes, 0);
	ASSERT_GE(a.virtual_bytes, a.resident_bytes);

	/* Burn 50 ms of CPU. */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			spin += (unsigned long)i;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	} while ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) < 50000000L);

	/* Touch 32 MiB. */
	mem = malloc(size);
	ASSERT_NOT_NULL(mem);
	memset(mem, 1, size);
	ASSERT_OK(procinfo_read(&b));
	ASSERT_GE(b.cpu_seconds - a.cpu_seconds, 0.045);
	ASSERT_GE(b.resident_bytes - a.resident_bytes, (long long)(size / 2));
	ASSERT_EQ(mem[size - 1], 1);
	free(mem);
}

TEST(start_time)
{
	struct procinfo a;
	time_t now = time(NULL);

	ASSERT_OK(procinfo_read(&a));
	/* The kernel counts in clock ticks and the boot time in whole
	 * seconds: allow two seconds either way. */
	ASSERT_GE((long long)a.start_time, (long long)main_started - 60);
	ASSERT_LE((long long)a.start_time, (long long)main_started + 2);
	ASSERT_LE((long long)a.start_time, (long long)now + 2);
}

int
main(int argc, char **argv)
{
	static const struct test_entry tests[] = {
		TEST_ENTRY(descriptors),
		TEST_ENTRY(cpu_and_memory),
		TEST_ENTRY(start_time),
	};

	main_started = time(NULL);
	return test_run(tests, argc, argv);
}
