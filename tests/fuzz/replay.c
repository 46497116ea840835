/*
 * The corpus replay driver: a main() for a fuzz target built without
 * libFuzzer. It runs the target once over every file named on the command
 * line, or found directly in a named directory (in name order, so a run is
 * reproducible), which is how ctest exercises the checked-in corpus and its
 * regression cases with any compiler.
 *
 * Each input runs in a child process, so that a failed property (which
 * aborts) fails that input only: every failing input is listed, with the
 * check that failed above it, and the exit status is non-zero.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

/* libFuzzer caps inputs at 4096 bytes by default; corpus files stay small. */
#define REPLAY_MAX_BYTES (1024 * 1024)
#define REPLAY_MAX_FILES 100000

static long failures;

/* Read path and run the target on it; returns 0, or -1 if it cannot be read. */
static int
run_file(const char *path)
{
	struct stat sb;
	uint8_t *data;
	FILE *f;
	size_t n;

	if (stat(path, &sb) || !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "replay: %s: not a regular file\n", path);
		return -1;
	}
	if (sb.st_size > REPLAY_MAX_BYTES) {
		fprintf(stderr, "replay: %s: over %d bytes\n", path, REPLAY_MAX_BYTES);
		return -1;
	}
	if (!(f = fopen(path, "rb"))) {
		perror(path);
		return -1;
	}
	/* An exact-size buffer, as libFuzzer gives, so ASan sees overreads. */
	data = malloc(sb.st_size ? (size_t)sb.st_size : 1);
	if (!data) {
		fclose(f);
		return -1;
	}
	n = fread(data, 1, (size_t)sb.st_size, f);
	fclose(f);
	if (n != (size_t)sb.st_size) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(data);
		return -1;
	}
	LLVMFuzzerTestOneInput(data, n);
	free(data);
	return 0;
}

/* Run one input in a child; a failure is counted and named, not fatal. */
static int
replay_file(const char *path)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0)
		_exit(run_file(path) ? 2 : 0);
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		return -1; /* unreadable: said so already */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "replay: FAILED %s (%s %d)\n\n", path,
			WIFSIGNALED(status) ? "signal" : "exit status",
			WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		failures++;
	}
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file directly in dir; returns the count or -1. */
static long
replay_dir(const char *dir)
{
	char **names = NULL;
	size_t count = 0, cap = 0;
	long done = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		perror(dir);
		return -1;
	}
	while ((de = readdir(d)) && count < REPLAY_MAX_FILES) {
		if (de->d_name[0] == '.')
			continue;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **nn = realloc(names, ncap * sizeof *nn);
			if (!nn)
				goto fail;
			names = nn;
			cap = ncap;
		}
		size_t len = strlen(dir) + strlen(de->d_name) + 2;
		if (!(names[count] = malloc(len)))
			goto fail;
		snprintf(names[count], len, "%s/%s", dir, de->d_name);
		count++;
	}
	closedir(d);
	d = NULL;
	qsort(names, count, sizeof *names, by_name);
	for (size_t i = 0; i < count; i++) {
		if (replay_file(names[i]))
			goto fail;
		done++;
	}
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return done;
fail:
	if (d)
		closedir(d);
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return -1;
}

int
main(int argc, char **argv)
{
	long total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat sb;
		long n;

		if (stat(argv[i], &sb)) {
			perror(argv[i]);
			return 1;
		}
		n = S_ISDIR(sb.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]) ? -1 : 1;
		if (n < 0)
			return 1;
		total += n;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	printf("replay: %ld inputs, %ld failed\n", total, failures);
	return failures ? 1 : 0;
}
