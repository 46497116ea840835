/* Names for the project error codes of err.h. */
#include "err.h"

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
