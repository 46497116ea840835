/* The server's certificate and key (see cert.h), with OpenSSL. */
#include "cert.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* One certificate with its key, as read from the files. */
struct pair {
	X509 *leaf;
	STACK_OF(X509) * chain; /* the certificates after the first; may be empty */
	EVP_PKEY *key;
};

struct cert {
	char *cert_path, *key_path;
	struct pair in_use;
};

static void
pair_free(struct pair *p)
{
	X509_free(p->leaf);
	sk_X509_pop_free(p->chain, X509_free);
	EVP_PKEY_free(p->key);
	memset(p, 0, sizeof *p);
}

/* OpenSSL's reason for the last failure, or fallback. */
static const char *
ssl_reason(const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : fallback;
}

/* Read cert_path and key_path into *out; on failure *out is untouched. */
static int
pair_read(const char *cert_path, const char *key_path, struct pair *out, char *errmsg)
{
	struct pair p = {0};
	X509 *x;
	FILE *f;
	int rc = ERR_INVAL;

	ERR_clear_error();
	if (!(f = fopen(cert_path, "r"))) {
		err_set(errmsg, ERR_INVAL, "cannot read the TLS certificate %s: %m", cert_path);
		goto fail;
	}
	p.leaf = PEM_read_X509(f, NULL, NULL, NULL);
	p.chain = sk_X509_new_null();
	while (p.leaf && p.chain && (x = PEM_read_X509(f, NULL, NULL, NULL)))
		if (!sk_X509_push(p.chain, x)) {
			X509_free(x);
			break;
		}
	fclose(f);
	if (!p.leaf || !p.chain) {
		err_set(errmsg, ERR_INVAL, "%s holds no PEM certificate (%s)", cert_path,
			ssl_reason("no certificate"));
		goto fail;
	}
	ERR_clear_error(); /* the end of the chain reads as an error */
	if (!(f = fopen(key_path, "r"))) {
		err_set(errmsg, ERR_INVAL, "cannot read the TLS key %s: %m", key_path);
		goto fail;
	}
	p.key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!p.key) {
		err_set(errmsg, ERR_INVAL, "%s holds no PEM private key (%s)", key_path,
			ssl_reason("no key"));
		goto fail;
	}
	if (X509_check_private_key(p.leaf, p.key) != 1) {
		err_set(errmsg, ERR_INVAL, "the key %s does not belong to the certificate %s",
			key_path, cert_path);
		goto fail;
	}
	*out = p;
	return 0;
fail:
	pair_free(&p);
	ERR_clear_error();
	return rc;
}

cert *
cert_load(const char *cert_path, const char *key_path, char *errmsg)
{
	cert *c = calloc(1, sizeof *c);

	if (!c || !(c->cert_path = strdup(cert_path)) || !(c->key_path = strdup(key_path))) {
		err_set(errmsg, ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (pair_read(cert_path, key_path, &c->in_use, errmsg))
		goto fail;
	return c;
fail:
	cert_free(c);
	return NULL;
}

int
cert_reload(cert *c, char *errmsg)
{
	struct pair p;
	int rc = pair_read(c->cert_path, c->key_path, &p, errmsg);

	if (rc)
		return rc;
	pair_free(&c->in_use);
	c->in_use = p;
	return 0;
}

/* A handshake begins: give it the pair in use (SSL copies what it keeps). */
static int
on_handshake(SSL *ssl, void *arg)
{
	const cert *c = arg;

	return SSL_use_cert_and_key(ssl, c->in_use.leaf, c->in_use.key, c->in_use.chain, 1) == 1;
}

int
cert_attach(cert *c, void *ssl_ctx)
{
	SSL_CTX_set_cert_cb(ssl_ctx, on_handshake, c);
	return 0;
}

void
cert_describe(const cert *c, char *out, size_t size)
{
	char subject[256] = "", until[64] = "";
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	X509_NAME_oneline(X509_get_subject_name(c->in_use.leaf), subject, sizeof subject);
	if (b && ASN1_TIME_print(b, X509_get0_notAfter(c->in_use.leaf)) &&
	    (n = BIO_read(b, until, sizeof until - 1)) > 0)
		until[n] = '\0';
	BIO_free(b);
	snprintf(out, size, "%s, valid until %s", subject, until[0] ? until : "?");
}

void
cert_free(cert *c)
{
	if (!c)
		return;
	pair_free(&c->in_use);
	free(c->cert_path);
	free(c->key_path);
	free(c);
}
