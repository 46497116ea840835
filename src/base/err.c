/* Names for the project error codes of err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

const char *
err_str(int code)
{
	switch (code) {
	case ERR_OK:
		return "success";
#define ERR_CASE(name, text) \
	case ERR_##name:     \
		return text;
		ERR_MAP(ERR_CASE)
#undef ERR_CASE
	default:
		return "unknown error";
	}
}

int
err_set(char *errmsg, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, ERRMSG_SIZE, fmt, ap);
	va_end(ap);
	return code;
}
