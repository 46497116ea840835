/* Thread names (thread_name.h), through glibc's pthread_setname_np. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "thread_name.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

void
thread_name_set(const char *name)
{
	char kept[16];
	int rc;

	/* The kernel keeps 15 bytes; a longer name would be refused whole. */
	snprintf(kept, sizeof kept, "%s", name);
	if ((rc = pthread_setname_np(pthread_self(), kept)) != 0)
		log_debug("cannot name thread %s: %s", kept, strerror(rc));
}
