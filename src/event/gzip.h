/*
 * Compressed request bodies (Content-Encoding: gzip or deflate), inflated
 * whole with zlib before they are parsed. The inflated size is bounded, so
 * a small body that inflates to gigabytes is refused, not expanded.
 */
#ifndef SENTINEL_GZIP_H
#define SENTINEL_GZIP_H

#include <stddef.h>

/*
 * Inflate a gzip or zlib stream (several gzip members are read one after
 * the other) into *out (malloc'd, NUL-terminated) and *out_len. Returns 0;
 * ERR_TOOBIG when it inflates to more than max_out bytes; ERR_INVAL when it
 * is not a valid stream; ERR_NOMEM. On failure errmsg says why and *out is
 * untouched.
 */
int gzip_inflate(const void *in, size_t len, size_t max_out, char **out, size_t *out_len,
		 char *errmsg);

#endif
