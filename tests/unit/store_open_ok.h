/*
 * For unit tests that need a store: open it or fail the test, saying why.
 * Include after assert.h, err.h and store.h.
 */
#ifndef SENTINEL_TEST_STORE_OPEN_OK_H
#define SENTINEL_TEST_STORE_OPEN_OK_H

#include <stdio.h>

/* store_open that must succeed. */
static inline store *
store_open_ok(const char *path, int flags)
{
	char errmsg[ERRMSG_SIZE] = "";
	int err = 0;
	store *st = store_open(path, flags, &err, errmsg);

	if (!st)
		fprintf(stderr, "store_open(%s): %s (%s)\n", path, errmsg, err_str(err));
	ASSERT_NOT_NULL(st);
	return st;
}

#endif
