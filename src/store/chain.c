/*
 * Chain links and the walk that checks them (chain.h). SHA-256 comes from
 * libcrypto through one reused EVP context per handle, with the digest
 * fetched once, so a link costs the hashing and nothing else.
 */
#include "chain.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct chain {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

chain *
chain_new(void)
{
	chain *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	c->ctx = EVP_MD_CTX_new();
	if (!c->md || !c->ctx) {
		chain_free(c);
		return NULL;
	}
	return c;
}

void
chain_free(chain *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->ctx);
	EVP_MD_free(c->md);
	free(c);
}

int
chain_link(chain *c, const unsigned char *prev, int64_t id, const char *body, size_t len,
	   unsigned char *out)
{
	unsigned char be[8];
	uint64_t v = (uint64_t)id;
	unsigned int n = 0;

	for (int i = 7; i >= 0; i--, v >>= 8)
		be[i] = (unsigned char)(v & 0xff);
	if (!EVP_DigestInit_ex2(c->ctx, c->md, NULL) ||
	    !EVP_DigestUpdate(c->ctx, prev, CHAIN_HASH_SIZE) || !EVP_DigestUpdate(c->ctx, be, 8) ||
	    !EVP_DigestUpdate(c->ctx, body, len) || !EVP_DigestFinal_ex(c->ctx, out, &n) ||
	    n != CHAIN_HASH_SIZE)
		return ERR_SYS;
	return 0;
}

void
chain_hex(const unsigned char *hash, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < CHAIN_HASH_SIZE; i++) {
		out[2 * i] = digits[hash[i] >> 4];
		out[2 * i + 1] = digits[hash[i] & 0xf];
	}
	out[2 * CHAIN_HASH_SIZE] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
chain_unhex(const char *text, size_t len, unsigned char *out)
{
	unsigned char tmp[CHAIN_HASH_SIZE];

	if (len != 2 * CHAIN_HASH_SIZE)
		return ERR_INVAL;
	for (int i = 0; i < CHAIN_HASH_SIZE; i++) {
		int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return ERR_INVAL;
		tmp[i] = (unsigned char)(hi << 4 | lo);
	}
	memcpy(out, tmp, sizeof tmp);
	return 0;
}

void
chain_check_start(struct chain_check *k, int64_t anchor_id, const unsigned char *anchor_hash)
{
	memset(k, 0, sizeof *k);
	if (anchor_hash)
		memcpy(k->prev, anchor_hash, CHAIN_HASH_SIZE);
	k->prev_id = k->anchor_id = k->after_id = anchor_id;
}

/* Record the first break (its reason is written by the caller); returns 1. */
static int
broken(struct chain_check *k, int64_t bad_id, int64_t row_id)
{
	k->broken = 1;
	k->bad_id = bad_id;
	k->row_id = row_id;
	k->after_id = k->prev_id;
	return 1;
}

int
chain_check_event(struct chain_check *k, chain *c, int64_t id, const char *body, size_t len,
		  const unsigned char *hash)
{
	unsigned char want[CHAIN_HASH_SIZE];
	long long prev = (long long)k->prev_id;

	if (k->broken)
		return 1;
	if (id <= k->prev_id) {
		snprintf(k->reason, sizeof k->reason,
			 "event %lld is at or below id %lld, which the chain had already passed "
			 "(anchor %lld): it was inserted after the fact",
			 (long long)id, prev, (long long)k->anchor_id);
		return broken(k, id, id);
	}
	if (!hash) {
		snprintf(k->reason, sizeof k->reason, "event %lld has no hash", (long long)id);
		return broken(k, id, id);
	}
	if (chain_link(c, k->prev, id, body, len, want))
		return ERR_SYS;
	if (memcmp(want, hash, CHAIN_HASH_SIZE)) {
		/* Ids follow each other: a hole before id means events are
		 * missing there, unless the walk has only just started from an
		 * unknown beginning (no anchor). */
		if (id > k->prev_id + 1 && (k->prev_id != k->anchor_id || k->anchor_id != 0)) {
			snprintf(k->reason, sizeof k->reason,
				 "event %lld does not follow from id %lld: ids %lld to %lld are "
				 "missing (deleted, or their id was changed), or event %lld was "
				 "altered",
				 (long long)id, prev, prev + 1, (long long)id - 1, (long long)id);
			return broken(k, k->prev_id + 1, id);
		}
		snprintf(k->reason, sizeof k->reason,
			 "event %lld does not follow from id %lld: its body, id or hash was "
			 "changed, or it was inserted",
			 (long long)id, prev);
		return broken(k, id, id);
	}
	memcpy(k->prev, hash, CHAIN_HASH_SIZE);
	k->prev_id = k->after_id = id;
	k->events++;
	return 0;
}

int
chain_check_deleted(struct chain_check *k, int64_t id, const unsigned char *hash)
{
	if (k->broken)
		return 1;
	if (id <= k->prev_id) {
		snprintf(k->reason, sizeof k->reason,
			 "deleted link %lld is at or below id %lld, which the chain had already "
			 "passed",
			 (long long)id, (long long)k->prev_id);
		return broken(k, id, id);
	}
	memcpy(k->prev, hash, CHAIN_HASH_SIZE);
	k->prev_id = k->after_id = id;
	k->deleted++;
	return 0;
}
