/* Inflating request bodies with zlib (see gzip.h). */
#include "gzip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "err.h"

int
gzip_inflate(const void *in, size_t len, size_t max_out, char **out, size_t *out_len, char *errmsg)
{
	z_stream zs;
	size_t cap = len * 4 + 1024, n = 0;
	char *buf;
	int rc, zrc;

	if (cap > max_out + 1)
		cap = max_out + 1;
	memset(&zs, 0, sizeof zs);
	/* 15 + 32: the largest window, and a gzip or a zlib header. */
	if (inflateInit2(&zs, 15 + 32) != Z_OK)
		return err_set(errmsg, ERR_NOMEM, "out of memory");
	if (!(buf = malloc(cap))) {
		rc = err_set(errmsg, ERR_NOMEM, "out of memory");
		goto fail;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	for (;;) {
		if (n + 1 >= cap) {
			if (cap > max_out) {
				rc = err_set(errmsg, ERR_TOOBIG,
					     "the body inflates to more than %zu bytes", max_out);
				goto fail;
			}
			size_t ncap = cap * 2 > max_out + 1 ? max_out + 1 : cap * 2;
			char *bigger = realloc(buf, ncap);
			if (!bigger) {
				rc = err_set(errmsg, ERR_NOMEM, "out of memory");
				goto fail;
			}
			buf = bigger;
			cap = ncap;
		}
		zs.next_out = (Bytef *)buf + n;
		zs.avail_out = (uInt)(cap - 1 - n);
		zrc = inflate(&zs, Z_NO_FLUSH);
		n = cap - 1 - zs.avail_out;
		if (zrc == Z_STREAM_END) {
			if (!zs.avail_in)
				break;
			/* Another gzip member follows. */
			if (inflateReset(&zs) != Z_OK) {
				rc = err_set(errmsg, ERR_INVAL, "invalid compressed body");
				goto fail;
			}
			continue;
		}
		if (zrc == Z_BUF_ERROR && !zs.avail_in && zs.avail_out) {
			rc = err_set(errmsg, ERR_INVAL, "the compressed body is truncated");
			goto fail;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			rc = err_set(errmsg, zrc == Z_MEM_ERROR ? ERR_NOMEM : ERR_INVAL,
				     "invalid compressed body: %s",
				     zs.msg ? zs.msg : "corrupt data");
			goto fail;
		}
	}
	inflateEnd(&zs);
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
fail:
	free(buf);
	inflateEnd(&zs);
	return rc;
}
