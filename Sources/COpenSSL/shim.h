#ifndef SCHEMAPROXY_COPENSSL_H
#define SCHEMAPROXY_COPENSSL_H
// OpenSSL (Debian's libssl-dev) for Swift. Several of the calls the proxy needs are macros, which Swift cannot
// call: the static inline functions below wrap them.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>
#include <string.h>

static inline int spx_ssl_ctx_set_protocol_range(SSL_CTX *ctx, int min_version, int max_version) {
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1) return 0;
    return SSL_CTX_set_max_proto_version(ctx, max_version);
}

// Partial writes (SSL_write returns what went, as send(2) does) from a buffer that may move between retries
// (the connection's queue compacts itself).
static inline void spx_ssl_ctx_set_relay_modes(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
}

static inline int spx_ssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static const int SPX_TLS1_2_VERSION = TLS1_2_VERSION;
static const int SPX_TLS1_3_VERSION = TLS1_3_VERSION;
static const int SPX_SSL_ERROR_WANT_READ = SSL_ERROR_WANT_READ;
static const int SPX_SSL_ERROR_WANT_WRITE = SSL_ERROR_WANT_WRITE;
static const int SPX_SSL_ERROR_ZERO_RETURN = SSL_ERROR_ZERO_RETURN;
static const int SPX_SSL_ERROR_SYSCALL = SSL_ERROR_SYSCALL;
static const int SPX_SSL_VERIFY_NONE = SSL_VERIFY_NONE;
static const int SPX_SSL_VERIFY_PEER = SSL_VERIFY_PEER;
static const int SPX_SSL_VERIFY_FAIL_IF_NO_PEER_CERT = SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
static const int SPX_SSL_FILETYPE_PEM = SSL_FILETYPE_PEM;

// The peer certificate's subject CN into buf (NUL-terminated); returns its length, or -1 without a certificate
// or CN.
static inline int spx_ssl_peer_common_name(SSL *ssl, char *buf, int size) {
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (cert == NULL) return -1;
    int length = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, size);
    X509_free(cert);
    return length;
}

// tls-server-end-point channel binding data (RFC 5929): the hash of our own certificate, with SHA-256 when the
// certificate's signature uses MD5 or SHA-1, else the signature's own digest. Returns its length, or -1.
static inline int spx_ssl_server_end_point(SSL *ssl, int own_certificate, unsigned char *out, int size) {
    X509 *cert = own_certificate ? SSL_get_certificate(ssl) : SSL_get0_peer_certificate(ssl);
    if (cert == NULL) return -1;
    int digest_nid = 0, pkey_nid = 0;
    if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &digest_nid, &pkey_nid)) return -1;
    const EVP_MD *md = (digest_nid == NID_md5 || digest_nid == NID_sha1) ? EVP_sha256() : EVP_get_digestbynid(digest_nid);
    if (md == NULL || EVP_MD_get_size(md) > size) return -1;
    unsigned int length = 0;
    if (!X509_digest(cert, md, out, &length)) return -1;
    return (int)length;
}

// ALPN "postgresql" (PostgreSQL 17's direct TLS): the server side picks it when the client offers it, and
// refuses a client that offers ALPN without it.
static const unsigned char spx_alpn_postgresql[] = {10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};

static inline int spx_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                  const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, outlen, spx_alpn_postgresql, sizeof spx_alpn_postgresql, in, inlen)
            == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static inline void spx_ssl_ctx_select_alpn_postgresql(SSL_CTX *ctx) {
    SSL_CTX_set_alpn_select_cb(ctx, spx_alpn_select, NULL);
}

// Private keys: an encrypted key is decrypted with `password` (libpq's sslpassword); without one it fails rather
// than OpenSSL's default of asking on the terminal.
static inline int spx_password_callback(char *buf, int size, int rwflag, void *userdata) {
    (void)rwflag;
    if (userdata == NULL) return 0;
    size_t length = strlen((const char *)userdata);
    if (length > (size_t)size) return 0;
    memcpy(buf, userdata, length);
    return (int)length;
}

static inline int spx_ssl_ctx_use_private_key_file(SSL_CTX *ctx, const char *file, const char *password) {
    SSL_CTX_set_default_passwd_cb(ctx, spx_password_callback);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)password);
    int ok = SSL_CTX_use_PrivateKey_file(ctx, file, SSL_FILETYPE_PEM);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    return ok;
}

// Certificate revocation lists (libpq's sslcrl, sslcrldir): a file loaded now, a directory of hashed names looked
// up as needed; every certificate of the chain is checked. 1 on success.
static inline int spx_ssl_ctx_load_crls(SSL_CTX *ctx, const char *file, const char *directory) {
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    if (file != NULL && X509_STORE_load_file(store, file) != 1) return 0;
    if (directory != NULL && X509_STORE_load_path(store, directory) != 1) return 0;
    return X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
}

// The client side offers ALPN "postgresql", as libpq 17 does (required for direct TLS). 1 on success.
static inline int spx_ssl_ctx_offer_alpn_postgresql(SSL_CTX *ctx) {
    return SSL_CTX_set_alpn_protos(ctx, spx_alpn_postgresql, sizeof spx_alpn_postgresql) == 0;
}

// Whether the handshake agreed on ALPN "postgresql".
static inline int spx_ssl_alpn_is_postgresql(SSL *ssl) {
    const unsigned char *data = NULL;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl, &data, &length);
    return length == 10 && memcmp(data, "postgresql", 10) == 0;
}

// The oldest queued OpenSSL error as text (empty when there is none); clears the queue.
static inline void spx_ssl_last_error(char *buf, size_t size) {
    unsigned long code = ERR_get_error(), next;
    buf[0] = 0;
    while ((next = ERR_get_error()) != 0) { (void)next; }
    if (code != 0) ERR_error_string_n(code, buf, size);
}

#endif
