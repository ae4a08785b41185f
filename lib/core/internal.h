/* Private helpers shared by the core modules. Not installed. */
#ifndef SMTPKIT_INTERNAL_H
#define SMTPKIT_INTERNAL_H

#include <string.h>

#include "smtpkit/common.h"

#define SMTPKIT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SMTPKIT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SMTPKIT_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Allocation through the per-object hook; mem may be NULL (libc). */
void *smtpkit__malloc(const smtpkit_mem *mem, size_t size);
void *smtpkit__calloc(const smtpkit_mem *mem, size_t n, size_t size);
void *smtpkit__realloc(const smtpkit_mem *mem, void *ptr, size_t size);
void smtpkit__free(const smtpkit_mem *mem, void *ptr);

static inline int smtpkit__is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int smtpkit__is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline int smtpkit__is_alnum(unsigned char c)
{
    return smtpkit__is_alpha(c) || smtpkit__is_digit(c);
}
static inline unsigned char smtpkit__lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Case-insensitive (ASCII) comparison of a view with a NUL-terminated literal. */
int smtpkit__ieq(const char *p, size_t n, const char *lit);
/* Case-insensitive prefix test: does p[0..n) start with lit? */
int smtpkit__iprefix(const char *p, size_t n, const char *lit);
/* Non-zero when [p, p+n) contains CR, LF or NUL. */
int smtpkit__has_crlfnul(const char *p, size_t n);

#endif /* SMTPKIT_INTERNAL_H */
