#define _GNU_SOURCE
#include "mw_redis_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct mw_tls_context {
    SSL_CTX *ctx;
};

static void set_error(char *err, size_t err_len, const char *format, const char *detail) {
    if (err && err_len) snprintf(err, err_len, format, detail ? detail : "");
}

struct mw_redis_stream {
    int fd;
    SSL *ssl; /* NULL: plain socket */
    /* The server asked for a client certificate and we had none: if it then hangs up, that is why. */
    int certificate_requested;
};

/* Called by OpenSSL only when the server asks for a client certificate and none is set. */
static int note_certificate_request(SSL *ssl, X509 **certificate, EVP_PKEY **key) {
    mw_redis_stream *stream = SSL_get_app_data(ssl);
    if (stream) stream->certificate_requested = 1;
    return 0;
}

/* An I/O error after the server asked for a certificate we did not have is its refusal. */
static int explain_refusal(mw_redis_stream *stream, int status, char *err, size_t err_len) {
    if (status != MW_STREAM_IO || !stream->certificate_requested) return status;
    set_error(err, err_len, "the server asked for a client certificate and closed the connection: "
                            "set MW_REDIS_TLS_CERT and MW_REDIS_TLS_KEY%s", "");
    return MW_STREAM_TLS;
}


/* The newest OpenSSL error, or fallback. */
static const char *openssl_reason(char *buf, size_t len, const char *fallback) {
    unsigned long code = ERR_peek_last_error();
    if (!code) return fallback;
    ERR_error_string_n(code, buf, len);
    return buf;
}

mw_tls_context *mw_tls_context_new(const char *ca_file, const char *cert_file, const char *key_file,
                                   char *err, size_t err_len) {
    char reason[256];
    mw_tls_context *context = NULL;
    SSL_CTX *ctx = NULL;
    ERR_clear_error();
    if ((cert_file == NULL) != (key_file == NULL)) {
        set_error(err, err_len, "a client certificate needs both MW_REDIS_TLS_CERT and MW_REDIS_TLS_KEY%s", "");
        goto fail;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        set_error(err, err_len, "cannot create a TLS context: %s", openssl_reason(reason, sizeof reason, "out of memory"));
        goto fail;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    SSL_CTX_set_client_cert_cb(ctx, note_certificate_request);
    if (ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            set_error(err, err_len, "cannot load the CA file MW_REDIS_TLS_CA: %s", openssl_reason(reason, sizeof reason, "unreadable"));
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        set_error(err, err_len, "cannot load the system's trust store: %s", openssl_reason(reason, sizeof reason, "unknown"));
        goto fail;
    }
    if (cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
            set_error(err, err_len, "cannot load MW_REDIS_TLS_CERT: %s", openssl_reason(reason, sizeof reason, "unreadable"));
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
            set_error(err, err_len, "cannot load MW_REDIS_TLS_KEY: %s", openssl_reason(reason, sizeof reason, "unreadable"));
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            set_error(err, err_len, "MW_REDIS_TLS_KEY does not match MW_REDIS_TLS_CERT%s", "");
            goto fail;
        }
    }
    context = calloc(1, sizeof *context);
    if (!context) {
        set_error(err, err_len, "out of memory%s", "");
        goto fail;
    }
    context->ctx = ctx;
    return context;
fail:
    if (ctx) SSL_CTX_free(ctx);
    return NULL;
}

void mw_tls_context_free(mw_tls_context *context) {
    if (!context) return;
    SSL_CTX_free(context->ctx);
    free(context);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_socket_timeouts(int fd, int timeout_ms) {
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Non-blocking connect bounded by the deadline, then back to blocking. */
static int connect_bounded(int fd, const struct sockaddr *address, socklen_t length, long long deadline) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return MW_STREAM_IO;
    int status = MW_STREAM_OK;
    if (connect(fd, address, length) != 0) {
        if (errno != EINPROGRESS) return MW_STREAM_IO;
        for (;;) {
            long long left = deadline - now_ms();
            if (left <= 0) {
                errno = ETIMEDOUT;
                return MW_STREAM_TIMEOUT;
            }
            struct pollfd waiting = {.fd = fd, .events = POLLOUT};
            int ready = poll(&waiting, 1, (int)left);
            if (ready < 0 && errno == EINTR) continue;
            if (ready < 0) return MW_STREAM_IO;
            if (ready == 0) continue;
            int error = 0;
            socklen_t size = sizeof error;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) return MW_STREAM_IO;
            if (error != 0) {
                errno = error;
                status = MW_STREAM_IO;
            }
            break;
        }
    }
    if (fcntl(fd, F_SETFL, flags) < 0) return MW_STREAM_IO;
    return status;
}

static int is_ip_literal(const char *name) {
    unsigned char buffer[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, name, buffer) == 1 || inet_pton(AF_INET6, name, buffer) == 1;
}

static int handshake(mw_redis_stream *stream, mw_tls_context *tls, const char *name, char *err, size_t err_len) {
    char reason[256];
    ERR_clear_error();
    stream->ssl = SSL_new(tls->ctx);
    if (!stream->ssl || SSL_set_fd(stream->ssl, stream->fd) != 1 || SSL_set_app_data(stream->ssl, stream) != 1) {
        set_error(err, err_len, "cannot start TLS: %s", openssl_reason(reason, sizeof reason, "out of memory"));
        return MW_STREAM_TLS;
    }
    /* The certificate must be for the name we asked for: a DNS name or an IP address. */
    X509_VERIFY_PARAM *param = SSL_get0_param(stream->ssl);
    if (is_ip_literal(name)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1) {
            set_error(err, err_len, "cannot verify the address %s", name);
            return MW_STREAM_TLS;
        }
    } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (X509_VERIFY_PARAM_set1_host(param, name, 0) != 1 || SSL_set_tlsext_host_name(stream->ssl, name) != 1) {
            set_error(err, err_len, "cannot verify the name %s", name);
            return MW_STREAM_TLS;
        }
    }
    int result = SSL_connect(stream->ssl);
    if (result == 1) return MW_STREAM_OK;
    long verify = SSL_get_verify_result(stream->ssl);
    if (verify != X509_V_OK) {
        set_error(err, err_len, "the server's certificate is not trusted: %s", X509_verify_cert_error_string(verify));
        return MW_STREAM_TLS_VERIFY;
    }
    int kind = SSL_get_error(stream->ssl, result);
    if ((kind == SSL_ERROR_WANT_READ || kind == SSL_ERROR_WANT_WRITE || kind == SSL_ERROR_SYSCALL) &&
        (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_error(err, err_len, "TLS handshake timed out%s", "");
        return MW_STREAM_TIMEOUT;
    }
    if (kind == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0) {
        set_error(err, err_len, "TLS handshake failed: %s", errno ? strerror(errno) : "the server closed the connection");
        return MW_STREAM_IO;
    }
    set_error(err, err_len, "TLS handshake failed: %s", openssl_reason(reason, sizeof reason, "unknown"));
    return MW_STREAM_TLS;
}

mw_redis_stream *mw_stream_connect_tcp(const char *host, int port, int timeout_ms, mw_tls_context *tls,
                                       const char *server_name, int *status, char *err, size_t err_len) {
    long long deadline = now_ms() + timeout_ms;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *addresses = NULL;
    mw_redis_stream *stream = NULL;
    int resolved = getaddrinfo(host, service, &hints, &addresses);
    *status = MW_STREAM_IO;
    if (resolved != 0) {
        set_error(err, err_len, "cannot resolve the host: %s", gai_strerror(resolved));
        goto done;
    }
    int fd = -1;
    for (struct addrinfo *address = addresses; address; address = address->ai_next) {
        fd = socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol);
        if (fd < 0) continue;
        *status = connect_bounded(fd, address->ai_addr, address->ai_addrlen, deadline);
        if (*status == MW_STREAM_OK) break;
        close(fd);
        fd = -1;
        if (*status == MW_STREAM_TIMEOUT) break;
    }
    if (fd < 0) {
        set_error(err, err_len, *status == MW_STREAM_TIMEOUT ? "connect timed out%s" : "%s", *status == MW_STREAM_TIMEOUT ? "" : strerror(errno));
        goto done;
    }
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    stream = calloc(1, sizeof *stream);
    if (!stream) {
        close(fd);
        set_error(err, err_len, "out of memory%s", "");
        goto done;
    }
    stream->fd = fd;
    if (tls) {
        long long left = deadline - now_ms();
        set_socket_timeouts(fd, left > 1 ? (int)left : 1);
        *status = handshake(stream, tls, server_name ? server_name : host, err, err_len);
        if (*status != MW_STREAM_OK) {
            mw_stream_close(stream);
            stream = NULL;
            goto done;
        }
    }
    *status = MW_STREAM_OK;
done:
    if (addresses) freeaddrinfo(addresses);
    return stream;
}

mw_redis_stream *mw_stream_connect_unix(const char *path, int timeout_ms, int *status, char *err, size_t err_len) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path) {
        *status = MW_STREAM_IO;
        set_error(err, err_len, "unix socket path too long%s", "");
        return NULL;
    }
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *status = MW_STREAM_IO;
        set_error(err, err_len, "%s", strerror(errno));
        return NULL;
    }
    *status = connect_bounded(fd, (struct sockaddr *)&address, sizeof address, now_ms() + timeout_ms);
    if (*status != MW_STREAM_OK) {
        set_error(err, err_len, "%s", *status == MW_STREAM_TIMEOUT ? "connect timed out" : strerror(errno));
        close(fd);
        return NULL;
    }
    mw_redis_stream *stream = calloc(1, sizeof *stream);
    if (!stream) {
        close(fd);
        *status = MW_STREAM_IO;
        set_error(err, err_len, "out of memory%s", "");
        return NULL;
    }
    stream->fd = fd;
    return stream;
}

void mw_stream_set_timeout(mw_redis_stream *stream, int timeout_ms) {
    set_socket_timeouts(stream->fd, timeout_ms > 0 ? timeout_ms : 1);
}

/* OpenSSL writes with write(2): a peer that closed would raise SIGPIPE. Block it on this
 * thread for the write and take a SIGPIPE it caused, so the process never dies of it. */
static int tls_write(mw_redis_stream *stream, const char *buf, size_t len, char *err, size_t err_len) {
    sigset_t pipe_only, previous, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
    int status = MW_STREAM_OK;
    size_t written = 0;
    while (written < len) {
        ERR_clear_error();
        int chunk = len - written > (1u << 30) ? (1 << 30) : (int)(len - written);
        int result = SSL_write(stream->ssl, buf + written, chunk);
        if (result > 0) {
            written += (size_t)result;
            continue;
        }
        int kind = SSL_get_error(stream->ssl, result);
        status = (kind == SSL_ERROR_WANT_WRITE || kind == SSL_ERROR_WANT_READ) ? MW_STREAM_TIMEOUT : MW_STREAM_IO;
        set_error(err, err_len, "%s", status == MW_STREAM_TIMEOUT ? "write timed out" : (errno ? strerror(errno) : "TLS write failed"));
        break;
    }
    if (!was_pending) {
        struct timespec zero = {0, 0};
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) sigtimedwait(&pipe_only, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return status;
}

int mw_stream_write_all(mw_redis_stream *stream, const char *buf, size_t len, char *err, size_t err_len) {
    if (stream->ssl) return explain_refusal(stream, tls_write(stream, buf, len, err, err_len), err, err_len);
    size_t written = 0;
    while (written < len) {
        ssize_t result = send(stream->fd, buf + written, len - written, MSG_NOSIGNAL);
        if (result >= 0) {
            written += (size_t)result;
            continue;
        }
        if (errno == EINTR) continue;
        int timeout = errno == EAGAIN || errno == EWOULDBLOCK;
        set_error(err, err_len, "%s", timeout ? "write timed out" : strerror(errno));
        return timeout ? MW_STREAM_TIMEOUT : MW_STREAM_IO;
    }
    return MW_STREAM_OK;
}

static ssize_t tls_read(mw_redis_stream *stream, char *buf, size_t cap, char *err, size_t err_len) {
    {
        ERR_clear_error();
        int result = SSL_read(stream->ssl, buf, cap > (1u << 30) ? (1 << 30) : (int)cap);
        if (result > 0) return result;
        int kind = SSL_get_error(stream->ssl, result);
        if (kind == SSL_ERROR_ZERO_RETURN || (kind == SSL_ERROR_SYSCALL && errno == 0)) {
            set_error(err, err_len, "the server closed the connection%s", "");
            return MW_STREAM_IO;
        }
        if (kind == SSL_ERROR_WANT_READ || kind == SSL_ERROR_WANT_WRITE ||
            (kind == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
            set_error(err, err_len, "read timed out%s", "");
            return MW_STREAM_TIMEOUT;
        }
        char reason[256];
        if (kind == SSL_ERROR_SSL) {
            /* An alert from the server, e.g. TLS 1.3's "certificate required" after the handshake. */
            set_error(err, err_len, "%s", openssl_reason(reason, sizeof reason, "TLS read failed"));
            return MW_STREAM_TLS;
        }
        set_error(err, err_len, "%s", strerror(errno));
        return MW_STREAM_IO;
    }
}

ssize_t mw_stream_read(mw_redis_stream *stream, char *buf, size_t cap, char *err, size_t err_len) {
    if (stream->ssl) {
        ssize_t result = tls_read(stream, buf, cap, err, err_len);
        return result >= 0 ? result : explain_refusal(stream, (int)result, err, err_len);
    }
    for (;;) {
        ssize_t result = recv(stream->fd, buf, cap, 0);
        if (result > 0) return result;
        if (result == 0) {
            set_error(err, err_len, "the server closed the connection%s", "");
            return MW_STREAM_IO;
        }
        if (errno == EINTR) continue;
        int timeout = errno == EAGAIN || errno == EWOULDBLOCK;
        set_error(err, err_len, "%s", timeout ? "read timed out" : strerror(errno));
        return timeout ? MW_STREAM_TIMEOUT : MW_STREAM_IO;
    }
}

void mw_stream_close(mw_redis_stream *stream) {
    if (!stream) return;
    if (stream->ssl) {
        /* No close_notify round trip: the socket may be dead, and Redis does not need it. */
        SSL_free(stream->ssl);
    }
    close(stream->fd);
    free(stream);
}
