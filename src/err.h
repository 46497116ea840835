/*
 * Project-wide error codes.
 *
 * Every function that can fail returns 0 on success or one of the negative
 * codes below; err_str() names them. Detail beyond the code (an SQLite
 * message, the field that failed validation) is kept by the object that
 * failed and read through its own *_errmsg() accessor.
 */
#ifndef SENTINEL_ERR_H
#define SENTINEL_ERR_H

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
	X(SYS, "system call failed")

enum {
	ERR_OK = 0,
#define ERR_ENUM(name, text) ERR_##name,
	ERR_FIRST_ = -100,
	ERR_MAP(ERR_ENUM)
#undef ERR_ENUM
};

/* Return a short English description of an error code. */
const char *err_str(int code);

#endif
