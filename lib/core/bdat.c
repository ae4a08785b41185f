/* BDAT chunk counter (RFC 3030 2): "BDAT n" is followed by exactly n octets
 * of message data, taken as they are: no dot-stuffing, no end marker. */
#include "internal.h"
#include "smtpkit/data.h"

void smtpkit_bdat_begin(smtpkit_bdat_counter *c, uint64_t size, int last)
{
    if (!c)
        return;
    c->_remaining = size;
    c->_last = last ? 1 : 0;
}

size_t smtpkit_bdat_take(smtpkit_bdat_counter *c, size_t len)
{
    size_t n;
    if (!c)
        return 0;
    n = (uint64_t)len < c->_remaining ? len : (size_t)c->_remaining;
    c->_remaining -= n;
    return n;
}

uint64_t smtpkit_bdat_remaining(const smtpkit_bdat_counter *c) { return c ? c->_remaining : 0; }

int smtpkit_bdat_is_last(const smtpkit_bdat_counter *c) { return c ? c->_last : 0; }
