/*
 * The mark file (see store_mark.h). Its one record is text, readable with
 * cat: "epoch E\nlast_id N\n", with E padded to a fixed width and N
 * written with leading zeros, so every record has the same length.
 */
#include "store_mark.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

#define EPOCH_WIDTH  (STORE_EPOCH_SIZE - 1)
#define RECORD_SIZE  (6 + EPOCH_WIDTH + 1 + 8 + 20 + 1) /* "epoch E\nlast_id N\n" */
#define PATH_MAX_LEN 4200

struct store_mark {
	int fd;
	int sync;
	char path[PATH_MAX_LEN];
};

/* Parse a record; returns 0 when buf holds a valid one. */
static int
parse(const char *buf, size_t len, char epoch[STORE_EPOCH_SIZE], int64_t *last_id)
{
	char text[RECORD_SIZE + 1], e[STORE_EPOCH_SIZE];
	long long id;

	if (len != RECORD_SIZE)
		return -1;
	memcpy(text, buf, len);
	text[len] = '\0';
	if (sscanf(text, "epoch %32s last_id %lld", e, &id) != 2 || id < 0)
		return -1;
	memcpy(epoch, e, sizeof e);
	*last_id = id;
	return 0;
}

store_mark *
store_mark_open(const char *path, int sync, char epoch[STORE_EPOCH_SIZE], int64_t *last_id,
		int *err, char *errmsg)
{
	char buf[RECORD_SIZE + 1];
	store_mark *m = calloc(1, sizeof *m);
	ssize_t n;

	if (!m) {
		*err = err_set(errmsg, ERR_NOMEM, "out of memory");
		return NULL;
	}
	m->sync = sync;
	m->fd = -1;
	if (snprintf(m->path, sizeof m->path, "%s.mark", path) >= (int)sizeof m->path) {
		*err = err_set(errmsg, ERR_INVAL, "path too long: %s", path);
		goto fail;
	}
	m->fd = open(m->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (m->fd < 0) {
		*err = err_set(errmsg, ERR_SYS, "cannot open %s: %s", m->path, strerror(errno));
		goto fail;
	}
	n = pread(m->fd, buf, sizeof buf, 0);
	if (n < 0) {
		*err = err_set(errmsg, ERR_SYS, "cannot read %s: %s", m->path, strerror(errno));
		goto fail;
	}
	if (parse(buf, (size_t)n, epoch, last_id)) {
		epoch[0] = '\0';
		*last_id = 0;
	}
	return m;
fail:
	if (m->fd >= 0)
		close(m->fd);
	free(m);
	return NULL;
}

int
store_mark_set(store_mark *m, const char *epoch, int64_t last_id, char *errmsg)
{
	char buf[RECORD_SIZE + 1];
	ssize_t n;

	snprintf(buf, sizeof buf, "epoch %-*.*s\nlast_id %020" PRId64 "\n", EPOCH_WIDTH,
		 EPOCH_WIDTH, epoch, last_id);
	n = pwrite(m->fd, buf, RECORD_SIZE, 0);
	if (n != RECORD_SIZE || (m->sync && fdatasync(m->fd) != 0))
		return err_set(errmsg, ERR_SYS, "cannot write %s: %s", m->path,
			       n >= 0 && n != RECORD_SIZE ? "short write" : strerror(errno));
	return 0;
}

void
store_mark_close(store_mark *m)
{
	if (!m)
		return;
	(void)fdatasync(m->fd);
	close(m->fd);
	free(m);
}
