/**
 * @file config.h
 * @brief Compile-time defaults for smtpkit's limits and buffer sizes.
 *
 * Define `SMTPKIT_CONFIG_FILE` (e.g. `-DSMTPKIT_CONFIG_FILE='"my_smtpkit_opts.h"'`)
 * to include your own file first; every macro below is only defined when it
 * is not defined already (the lwIP `lwipopts.h` pattern). Runtime overrides
 * live in each object's config struct and may only lower these maxima.
 */
#ifndef SMTPKIT_CONFIG_H
#define SMTPKIT_CONFIG_H

#ifdef SMTPKIT_CONFIG_FILE
#include SMTPKIT_CONFIG_FILE
#endif

/** Maximum command line, octets including CRLF (RFC 5321 4.5.3.1.4: 512). */
#ifndef SMTPKIT_COMMAND_LINE_MAX
#define SMTPKIT_COMMAND_LINE_MAX 512
#endif

/** Maximum reply line, octets including CRLF (RFC 5321 4.5.3.1.5: 512). */
#ifndef SMTPKIT_REPLY_LINE_MAX
#define SMTPKIT_REPLY_LINE_MAX 512
#endif

/** Maximum text line in DATA, octets including CRLF (RFC 5321 4.5.3.1.6: 1000). */
#ifndef SMTPKIT_TEXT_LINE_MAX
#define SMTPKIT_TEXT_LINE_MAX 1000
#endif

/** Maximum number of ESMTP parameters on one MAIL or RCPT command. */
#ifndef SMTPKIT_MAX_PARAMS
#define SMTPKIT_MAX_PARAMS 16
#endif

/** Bytes kept for unknown EHLO keywords and the AUTH mechanism list. */
#ifndef SMTPKIT_CAPS_STORE
#define SMTPKIT_CAPS_STORE 512
#endif

#endif /* SMTPKIT_CONFIG_H */
