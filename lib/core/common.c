/* Errors, allocator hook, version, small string helpers. */
#include <stdlib.h> /* malloc/free only as the default allocator */

#include "internal.h"
#include "smtpkit/source.h"

const char *smtpkit_strerror(int code)
{
    switch (code) {
    case SMTPKIT_OK: return "success";
    case SMTPKIT_ERR_INVALID_ARG: return "invalid argument";
    case SMTPKIT_ERR_PAUSED: return "paused; resume first";
    case SMTPKIT_ERR_WOULDBLOCK: return "would block";
    case SMTPKIT_ERR_STATE: return "not allowed in the current state";
    case SMTPKIT_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case SMTPKIT_ERR_INJECTION: return "CR, LF, NUL or '>' in a string for the wire";
    case SMTPKIT_ERR_BAD_ADDRESS: return "address does not match the RFC 5321 path grammar";
    case SMTPKIT_ERR_BAD_HEADER: return "invalid header name or value";
    case SMTPKIT_ERR_TOO_BIG: return "message exceeds the server's SIZE limit";
    case SMTPKIT_ERR_NEED_8BITMIME: return "8-bit message but server lacks 8BITMIME";
    case SMTPKIT_ERR_NEED_SMTPUTF8: return "UTF-8 address but server lacks SMTPUTF8";
    case SMTPKIT_ERR_NOT_SUPPORTED: return "not supported";
    case SMTPKIT_ERR_REJECTED: return "rejected by the peer";
    case SMTPKIT_ERR_LINE_TOO_LONG: return "line too long";
    case SMTPKIT_ERR_NUL: return "NUL byte in line";
    case SMTPKIT_ERR_NON_ASCII: return "8-bit byte where only ASCII is allowed";
    case SMTPKIT_ERR_BARE_LF: return "bare CR or LF";
    case SMTPKIT_ERR_REPLY_CODE: return "invalid reply code";
    case SMTPKIT_ERR_REPLY_CONTINUATION: return "inconsistent multi-line reply";
    case SMTPKIT_ERR_CMD_UNKNOWN: return "unknown command";
    case SMTPKIT_ERR_CMD_SYNTAX: return "syntax error in command arguments";
    case SMTPKIT_ERR_CMD_PATH: return "malformed address";
    case SMTPKIT_ERR_CMD_PARAM: return "malformed or unknown ESMTP parameter";
    case SMTPKIT_ERR_CMD_TOO_MANY_PARAMS: return "too many ESMTP parameters";
    case SMTPKIT_ERR_BASE64: return "invalid base64";
    case SMTPKIT_ERR_SYNTAX: return "syntax error";
    case SMTPKIT_ERR_FATAL: return "fatal error";
    case SMTPKIT_ERR_NOMEM: return "out of memory";
    case SMTPKIT_ERR_CALLBACK: return "aborted by callback";
    case SMTPKIT_ERR_PROTOCOL: return "protocol violation by peer";
    case SMTPKIT_ERR_CLOSED: return "connection closed";
    case SMTPKIT_ERR_TIMEOUT: return "timeout";
    case SMTPKIT_ERR_IO: return "I/O error";
    case SMTPKIT_ERR_TLS: return "TLS error";
    case SMTPKIT_ERR_AUTH: return "authentication failed";
    case SMTPKIT_ERR_TLS_REQUIRED: return "TLS required but not available";
    case SMTPKIT_ERR_CONNECT: return "could not connect";
    case SMTPKIT_ERR_GREETING: return "server refused the session";
    case SMTPKIT_ERR_INTERNAL: return "internal error";
    default: return "unknown error";
    }
}

int smtpkit_is_fatal(int code) { return code <= SMTPKIT_ERR_FATAL; }

const char *smtpkit_version(void) { return SMTPKIT_VERSION_STRING; }

unsigned long smtpkit_version_number(void) { return SMTPKIT_VERSION_NUMBER; }

void *smtpkit__malloc(const smtpkit_mem *mem, size_t size)
{
    if (size == 0)
        size = 1;
    if (mem && mem->malloc)
        return mem->malloc(size, mem->user);
    return malloc(size);
}

void *smtpkit__calloc(const smtpkit_mem *mem, size_t n, size_t size)
{
    void *p;
    if (size && n > (size_t)-1 / size)
        return NULL;
    p = smtpkit__malloc(mem, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *smtpkit__realloc(const smtpkit_mem *mem, void *ptr, size_t size)
{
    if (size == 0)
        size = 1;
    if (mem && mem->realloc)
        return mem->realloc(ptr, size, mem->user);
    if (mem && (mem->malloc || mem->free))
        return NULL; /* partial hook without realloc: refuse rather than mix allocators */
    return realloc(ptr, size);
}

void smtpkit__free(const smtpkit_mem *mem, void *ptr)
{
    if (!ptr)
        return;
    if (mem && mem->free)
        mem->free(ptr, mem->user);
    else
        free(ptr);
}

int smtpkit__ieq(const char *p, size_t n, const char *lit)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (!lit[i] || smtpkit__lower((unsigned char)p[i]) != smtpkit__lower((unsigned char)lit[i]))
            return 0;
    }
    return lit[n] == '\0';
}

int smtpkit__iprefix(const char *p, size_t n, const char *lit)
{
    size_t i;
    for (i = 0; lit[i]; i++) {
        if (i >= n || smtpkit__lower((unsigned char)p[i]) != smtpkit__lower((unsigned char)lit[i]))
            return 0;
    }
    return 1;
}

int smtpkit__has_crlfnul(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
            return 1;
    }
    return 0;
}

static smtpkit_ssize mem_source_read(void *ctx, char *buf, size_t len)
{
    smtpkit_mem_source *s = (smtpkit_mem_source *)ctx;
    size_t n = s->_len - s->_pos;
    if (n > len)
        n = len;
    if (n)
        memcpy(buf, s->_data + s->_pos, n);
    s->_pos += n;
    return (smtpkit_ssize)n;
}

static int mem_source_rewind(void *ctx)
{
    ((smtpkit_mem_source *)ctx)->_pos = 0;
    return 0;
}

void smtpkit_source_from_memory(smtpkit_source *src, smtpkit_mem_source *state,
                                const void *data, size_t len)
{
    state->_data = (const char *)data;
    state->_len = len;
    state->_pos = 0;
    src->read = mem_source_read;
    src->rewind = mem_source_rewind;
    src->ctx = state;
    src->size = (int64_t)len;
}
