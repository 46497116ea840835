/*
 * The service manager's notification protocol, through libsystemd's
 * sd_notify(). A failure to notify is logged once and otherwise ignored:
 * serving matters more than being watched.
 */
#include "notify.h"

#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"

static void
send_state(const char *state)
{
	static int warned;
	int rc = sd_notify(0, state);

	if (rc < 0 && !warned) {
		warned = 1;
		log_warn("cannot notify the service manager: %s", strerror(-rc));
	}
}

void
notify_ready(const char *status)
{
	char state[512];

	snprintf(state, sizeof state, "READY=1\nSTATUS=%s", status);
	send_state(state);
}

void
notify_reloading(void)
{
	send_state("RELOADING=1");
}

void
notify_stopping(void)
{
	send_state("STOPPING=1");
}
