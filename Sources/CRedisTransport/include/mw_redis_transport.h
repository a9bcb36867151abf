#ifndef MW_REDIS_TRANSPORT_H
#define MW_REDIS_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

/* How bytes travel to Redis: a TCP or unix socket, optionally inside TLS (OpenSSL). hiredis
 * stays the protocol layer (its reader parses RESP); this is only the pipe under it, so that
 * TLS, our timeouts and our errors are the same for every topology. Blocking calls: the caller
 * runs them on a thread of its own. */

typedef struct mw_tls_context mw_tls_context;
typedef struct mw_redis_stream mw_redis_stream;

enum {
    MW_STREAM_OK = 0,
    MW_STREAM_IO = -1,        /* connect, read or write failed (refused, reset, closed) */
    MW_STREAM_TIMEOUT = -2,   /* connect, read or write took longer than its limit */
    MW_STREAM_TLS = -3,       /* handshake failed for another reason than the certificate */
    MW_STREAM_TLS_VERIFY = -4 /* the server's certificate was not trusted or not for that name */
};

/* A TLS client configuration. ca_file NULL: the system's trust store. cert_file and key_file
 * (both or neither): a client certificate. Returns NULL with a message in err. */
mw_tls_context *mw_tls_context_new(const char *ca_file, const char *cert_file, const char *key_file,
                                   char *err, size_t err_len);
void mw_tls_context_free(mw_tls_context *context);

/* Connects within timeout_ms; with tls, does the handshake (certificate and name verified
 * against server_name, or host when server_name is NULL). On failure returns NULL, a code in
 * *status and a message in err. */
mw_redis_stream *mw_stream_connect_tcp(const char *host, int port, int timeout_ms, mw_tls_context *tls,
                                       const char *server_name, int *status, char *err, size_t err_len);
mw_redis_stream *mw_stream_connect_unix(const char *path, int timeout_ms, int *status, char *err, size_t err_len);

/* The limit on each later read and write. */
void mw_stream_set_timeout(mw_redis_stream *stream, int timeout_ms);

/* Writes all of buf. MW_STREAM_OK or an error code (message in err). */
int mw_stream_write_all(mw_redis_stream *stream, const char *buf, size_t len, char *err, size_t err_len);

/* Reads what is there (at most cap bytes, blocking until something arrives): the count, or
 * an error code (0 bytes read is MW_STREAM_IO: the server closed the connection). */
ssize_t mw_stream_read(mw_redis_stream *stream, char *buf, size_t cap, char *err, size_t err_len);

void mw_stream_close(mw_redis_stream *stream);

#endif
