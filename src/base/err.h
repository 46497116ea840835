/*
 * Project-wide error codes and the one convention for reporting them.
 *
 * A function that can fail returns 0 on success or one of the negative
 * codes below, unless its header says plainly that it returns something
 * else (a count, a verdict). err_str() names the codes. Detail beyond the
 * code (an SQLite message, the field that failed validation) is either
 * kept by the object that failed and read through its *_errmsg()
 * accessor, or written into a caller's buffer of ERRMSG_SIZE bytes, which
 * is always the parameter named errmsg.
 */
#ifndef SENTINEL_ERR_H
#define SENTINEL_ERR_H

/* The size of every error-message buffer a function fills. */
#define ERRMSG_SIZE 512

#define ERR_MAP(X)                                           \
	X(NOMEM, "out of memory")                            \
	X(INVAL, "invalid argument")                         \
	X(JSON, "malformed JSON")                            \
	X(EVENT, "invalid event")                            \
	X(TOOBIG, "too large")                               \
	X(IO, "I/O error")                                   \
	X(FULL, "storage full")                              \
	X(BUSY, "store is locked")                           \
	X(CORRUPT, "store is corrupt")                       \
	X(SCHEMA, "store schema is newer than this program") \
	X(CLOSED, "shutting down")                           \
	X(SYS, "system call failed")                         \
	X(TIMEOUT, "time limit reached")

enum {
	ERR_OK = 0,
#define ERR_ENUM(name, text) ERR_##name,
	ERR_FIRST_ = -100,
	ERR_MAP(ERR_ENUM)
#undef ERR_ENUM
};

/* Return a short English description of an error code. */
const char *err_str(int code);

/* Write a printf-style message into errmsg (ERRMSG_SIZE bytes); returns code. */
int err_set(char *errmsg, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
