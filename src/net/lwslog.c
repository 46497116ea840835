/* lws log lines through log.h (see lwslog.h). */
#include "lwslog.h"

#include <libwebsockets.h>
#include <string.h>

#include "log.h"

void
lwslog_line(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && line[n - 1] == '\n')
		n--;
	if (level & LLL_ERR)
		log_error("lws: %.*s", (int)n, line);
	else if (level & LLL_WARN)
		log_warn("lws: %.*s", (int)n, line);
	else
		log_debug("lws: %.*s", (int)n, line);
}
