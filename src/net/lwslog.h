/*
 * libwebsockets' log lines, routed through our log (log.h), for the server
 * and the tools that run lws: lws_set_log_level(mask, lwslog_line).
 */
#ifndef SENTINEL_LWSLOG_H
#define SENTINEL_LWSLOG_H

/* An lws log emitter: errors and warnings keep their level, the rest is debug. */
void lwslog_line(int level, const char *line);

#endif
