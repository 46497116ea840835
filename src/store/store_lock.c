/*
 * The writer's lock (see store_lock.h). flock(2), not fcntl(2): an fcntl
 * lock belongs to the process and vanishes when any descriptor of the file
 * is closed, and it does not exclude a second handle in the same process;
 * a flock belongs to the open file description, so it does both.
 */
#include "store_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

/* What the lock file says about its holder, at most. */
#define HOLDER_MAX 256

struct store_lock {
	int fd;
};

/*
 * Create every missing folder above path, like mkdir -p on its dirname:
 * 0750, less as the umask says, since the store is an audit log. Folders
 * that exist are left as they are.
 */
static int
make_parent_dirs(const char *path, char *errmsg)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof buf)
		return err_set(errmsg, ERR_INVAL, "path too long: %s", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return err_set(errmsg, ERR_SYS, "cannot create folder %s: %s", buf,
				       strerror(errno));
		*p = '/';
	}
	return 0;
}

/* This process as the lock file names it: "PID\nCOMMAND LINE\n". */
static size_t
describe_self(char *out, size_t size)
{
	char cmd[HOLDER_MAX] = "";
	ssize_t n = 0;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, cmd, sizeof cmd - 1);
		close(fd);
	}
	if (n < 0)
		n = 0;
	cmd[n] = '\0';
	/* The arguments are separated by NUL bytes: show them as spaces. */
	for (ssize_t i = 0; i + 1 < n; i++)
		if (cmd[i] == '\0' || cmd[i] == '\n')
			cmd[i] = ' ';
	int len = snprintf(out, size, "%ld\n%s\n", (long)getpid(), cmd);
	return len < 0 ? 0 : (size_t)len < size ? (size_t)len : size - 1;
}

/* Refuse: another writer holds fd's lock; name it if the file says who. */
static int
refuse_busy(int fd, const char *path, char *errmsg)
{
	char text[HOLDER_MAX + 32], *cmd;
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	long pid;

	text[n > 0 ? n : 0] = '\0';
	pid = strtol(text, &cmd, 10);
	if (pid <= 0 || *cmd != '\n')
		return err_set(errmsg, ERR_BUSY,
			       "%s is in use by another writer (%s.lock is locked); only one "
			       "process may write a store at a time",
			       path, path);
	cmd++;
	cmd[strcspn(cmd, "\n")] = '\0';
	return err_set(errmsg, ERR_BUSY,
		       "%s is in use by another writer: pid %ld (%s); only one process may "
		       "write a store at a time",
		       path, pid, *cmd ? cmd : "command unknown");
}

store_lock *
store_lock_take(const char *path, int *err, char *errmsg)
{
	char lock_path[4200], self[HOLDER_MAX + 32];
	store_lock *l = NULL;
	size_t len;
	int fd = -1, rc;

	if ((rc = make_parent_dirs(path, errmsg)))
		goto fail;
	if (snprintf(lock_path, sizeof lock_path, "%s.lock", path) >= (int)sizeof lock_path) {
		rc = err_set(errmsg, ERR_INVAL, "path too long: %s", path);
		goto fail;
	}
	fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		rc = err_set(errmsg, ERR_SYS, "%s: cannot open its lock file %s: %s", path,
			     lock_path, strerror(errno));
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			rc = refuse_busy(fd, path, errmsg);
		else
			rc = err_set(errmsg, ERR_SYS, "%s: cannot lock %s: %s", path, lock_path,
				     strerror(errno));
		goto fail;
	}
	/* Say who holds it; only a refused writer's message depends on this. */
	len = describe_self(self, sizeof self);
	if (ftruncate(fd, 0) != 0 || pwrite(fd, self, len, 0) != (ssize_t)len) {
		rc = err_set(errmsg, ERR_SYS, "%s: cannot write its lock file %s: %s", path,
			     lock_path, strerror(errno));
		goto fail;
	}
	l = malloc(sizeof *l);
	if (!l) {
		rc = err_set(errmsg, ERR_NOMEM, "out of memory");
		goto fail;
	}
	l->fd = fd;
	return l;
fail:
	if (fd >= 0)
		close(fd); /* releases the lock if it was taken */
	*err = rc;
	return NULL;
}

void
store_lock_release(store_lock *l)
{
	if (!l)
		return;
	/* Empty the file first: a lock file that names a process is held. */
	(void)!ftruncate(l->fd, 0);
	close(l->fd);
	free(l);
}
