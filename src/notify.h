/*
 * Telling the service manager how the server is doing, when systemd runs it
 * as a Type=notify service (NOTIFY_SOCKET set); without one every call does
 * nothing. Call from the loop thread.
 */
#ifndef SENTINEL_NOTIFY_H
#define SENTINEL_NOTIFY_H

/* The server listens and serves: READY=1, with status as its status line. */
void notify_ready(const char *status);

/* A reload (SIGHUP) begins: RELOADING=1. Follow it with notify_ready(). */
void notify_reloading(void);

/* The server has begun to stop: STOPPING=1. */
void notify_stopping(void);

#endif
