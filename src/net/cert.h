/*
 * The server's TLS certificate and key (--tls-cert, --tls-key), which a
 * reload may replace while the server runs.
 *
 * lws builds its TLS context from the two files at start; cert_attach()
 * then gives that context a certificate callback, which hands every new
 * handshake the pair held here. A reload reads both files again and
 * checks that the key belongs to the certificate before it replaces the
 * pair, so a bad new file leaves the old pair in use; connections made
 * before keep theirs. Loop thread only: handshakes run on the loop.
 */
#ifndef SENTINEL_CERT_H
#define SENTINEL_CERT_H

#include <stddef.h>

typedef struct cert cert;

/*
 * Read the certificate (PEM, the server's first, then any chain) and its
 * private key (PEM). Returns NULL with the reason, naming the file, in
 * errmsg.
 */
cert *cert_load(const char *cert_path, const char *key_path, char *errmsg);

/*
 * Read both files again; on success new handshakes use the new pair.
 * Returns 0, or ERR_INVAL with the reason in errmsg (the old pair stays).
 */
int cert_reload(cert *c, char *errmsg);

/* Serve c on the TLS context lws made (an SSL_CTX *). Returns 0. */
int cert_attach(cert *c, void *ssl_ctx);

/* "subject, valid until date" of the pair in use, into out (size bytes). */
void cert_describe(const cert *c, char *out, size_t size);

/* Free c (NULL is allowed); the TLS context must be gone first. */
void cert_free(cert *c);

#endif
