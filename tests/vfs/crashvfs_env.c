/*
 * Switches crashvfs on in a test build of the server, before main() runs,
 * from the environment:
 *
 *   SENTINEL_CRASHVFS=COMMANDS        commands run at start (crashvfs.c)
 *   SENTINEL_CRASHVFS_CONTROL=FILE    on SIGUSR1, run the commands in FILE
 *
 * With neither set the program runs on SQLite's own VFS. SIGUSR1 is blocked
 * here, before any other thread exists, so that every later thread inherits
 * the mask and only the control thread below receives it (sigwait).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "crashvfs.h"
#include "procinfo.h"

/*
 * Every process of this build is a boot of its own machine: the power cuts
 * it simulates happen within one real boot, and the store must treat what
 * follows them as a restart of the machine, not of the process.
 */
int
procinfo_boot_id(char out[PROCINFO_BOOT_ID_SIZE])
{
	snprintf(out, PROCINFO_BOOT_ID_SIZE, "crashtest-%ld", (long)getpid());
	return 0;
}

static const char *control_path;

/* Read the control file and run what it says. */
static void
run_control_file(void)
{
	char buf[4096], errmsg[256];
	FILE *f = fopen(control_path, "r");
	size_t n;

	if (!f) {
		fprintf(stderr, "crashvfs: cannot open %s\n", control_path);
		return;
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (crashvfs_run(buf, errmsg, sizeof errmsg))
		fprintf(stderr, "%s\n", errmsg);
}

static void *
control_main(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;)
		if (sigwait(set, &sig) == 0)
			run_control_file();
	return NULL;
}

static void __attribute__((constructor)) crashvfs_from_env(void)
{
	static sigset_t set;
	const char *commands = getenv("SENTINEL_CRASHVFS");
	char errmsg[256];
	pthread_t thread;

	control_path = getenv("SENTINEL_CRASHVFS_CONTROL");
	if (!commands && !control_path)
		return;
	if (crashvfs_register() != 0) {
		fprintf(stderr, "crashvfs: cannot register the VFS\n");
		_exit(2);
	}
	if (commands && crashvfs_run(commands, errmsg, sizeof errmsg)) {
		fprintf(stderr, "%s\n", errmsg);
		_exit(2);
	}
	if (!control_path)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) ||
	    pthread_create(&thread, NULL, control_main, &set) || pthread_detach(thread)) {
		fprintf(stderr, "crashvfs: cannot start the control thread\n");
		_exit(2);
	}
	fprintf(stderr, "crashvfs: on; SIGUSR1 runs the commands in %s\n", control_path);
}
