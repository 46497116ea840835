/* Reading and atomically replacing the state file (see state.h). */
#include "state.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "query.h"

/* A state file is one short line; anything longer is not ours. */
#define STATE_MAX_BYTES 4096

/* An epoch is valid when the server would take it back as epoch=. */
static int
valid_epoch(const char *epoch)
{
	char msg[ERRMSG_SIZE];
	struct query q;

	query_init(&q);
	return !query_set_subscribe(&q, "epoch", epoch, 0, msg);
}

int
state_load(const char *path, struct state *out, int *found, char *errmsg)
{
	char buf[STATE_MAX_BYTES + 2];
	json_t *root = NULL, *epoch, *id;
	json_error_t jerr;
	struct state st;
	size_t n;
	int rc;
	FILE *f = fopen(path, "rb");

	if (!f) {
		if (errno == ENOENT) {
			*found = 0;
			return 0;
		}
		return err_set(errmsg, ERR_IO, "cannot open the state file %s: %s", path,
			       strerror(errno));
	}
	n = fread(buf, 1, STATE_MAX_BYTES + 1, f);
	buf[n] = '\0';
	if (ferror(f)) {
		rc = err_set(errmsg, ERR_IO, "cannot read the state file %s: %s", path,
			     strerror(errno));
		goto out;
	}
	if (strspn(buf, " \t\r\n") >= n) {
		*found = 0; /* empty: as if there were none */
		rc = 0;
		goto out;
	}
	if (n <= STATE_MAX_BYTES)
		root = json_loadb(buf, n, 0, &jerr);
	epoch = json_object_get(root, "epoch");
	id = json_object_get(root, "last_id");
	if (!json_is_string(epoch) || !json_is_integer(id) || json_integer_value(id) < 0 ||
	    json_string_length(epoch) >= sizeof st.epoch ||
	    !valid_epoch(json_string_value(epoch))) {
		rc = err_set(errmsg, ERR_INVAL,
			     "%s is not a sentinel-tail state file (expected "
			     "{\"epoch\":\"<hex>\",\"last_id\":<id>})",
			     path);
		goto out;
	}
	strcpy(st.epoch, json_string_value(epoch));
	st.last_id = json_integer_value(id);
	*out = st;
	*found = 1;
	rc = 0;
out:
	json_decref(root);
	fclose(f);
	return rc;
}

/* A temporary name beside path for mkstemp(); NULL when out of memory. */
static char *
temp_name(const char *path)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + sizeof ".XXXXXX");

	if (tmp) {
		memcpy(tmp, path, n);
		memcpy(tmp + n, ".XXXXXX", sizeof ".XXXXXX");
	}
	return tmp;
}

int
state_save(const char *path, const struct state *st, char *errmsg)
{
	char *text = NULL, *tmp = NULL;
	json_t *root;
	size_t len, off = 0;
	int fd = -1, rc;

	root = json_pack("{s:s,s:I}", "epoch", st->epoch, "last_id", (json_int_t)st->last_id);
	if (root)
		text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	tmp = temp_name(path);
	if (!text || !tmp) {
		rc = err_set(errmsg, ERR_IO, "cannot write the state file %s: out of memory", path);
		goto out;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		rc = err_set(errmsg, ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	len = strlen(text);
	text[len++] = '\n'; /* over the NUL: text is not used as a string again */
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = err_set(errmsg, ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	/* The data must reach the disk before the rename can. */
	if (fsync(fd)) {
		rc = err_set(errmsg, ERR_IO, "cannot sync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	rc = close(fd);
	fd = -1;
	if (rc) {
		rc = err_set(errmsg, ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, path)) {
		rc = err_set(errmsg, ERR_IO, "cannot rename %s to %s: %s", tmp, path,
			     strerror(errno));
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	free(text);
	return rc;
}

int
state_check_writable(const char *path, char *errmsg)
{
	char *tmp = temp_name(path);
	int fd, rc = 0;

	if (!tmp)
		return err_set(errmsg, ERR_IO, "out of memory");
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = err_set(errmsg, ERR_IO, "cannot write the state file %s: %s", path,
			     strerror(errno));
	} else {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	return rc;
}
