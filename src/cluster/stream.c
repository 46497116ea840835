/* The stream's identity and facts (see stream.h). */
#include "stream.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

void
stream_epoch(const char *name, int64_t created_ns, char out[STREAM_EPOCH_SIZE])
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char text[512];
	int n = snprintf(text, sizeof text, "%s\n%lld", name, (long long)created_ns);

	SHA256((const unsigned char *)text, (size_t)n, digest);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

int
stream_get(jsCtx *js, const char *name, struct stream_facts *out, char *errmsg)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, js, name, NULL, &jerr);

	if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
		return err_set(errmsg, ERR_INVAL, "the stream '%s' does not exist", name);
	if (s != NATS_OK)
		return err_set(errmsg, ERR_IO, "cannot read the stream '%s': %s", name,
			       nats_GetLastError(NULL));
	stream_epoch(name, si->Created, out->epoch);
	out->first_seq = si->State.FirstSeq;
	out->last_seq = si->State.LastSeq;
	out->max_age_us = si->Config->MaxAge > 0 ? si->Config->MaxAge / 1000 : 0;
	out->max_msgs = si->Config->MaxMsgs;
	out->max_bytes = si->Config->MaxBytes;
	out->replicas = (int)si->Config->Replicas;
	jsStreamInfo_Destroy(si);
	return 0;
}
