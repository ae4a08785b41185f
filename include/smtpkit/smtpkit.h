/**
 * @file smtpkit.h
 * @brief Umbrella header: includes every core header of smtpkit.
 *
 * Adapters (posix.h, io.h, mbedtls.h) are included separately.
 */
#ifndef SMTPKIT_SMTPKIT_H
#define SMTPKIT_SMTPKIT_H

#include "smtpkit/common.h"
#include "smtpkit/source.h"
#include "smtpkit/base64.h"
#include "smtpkit/reply.h"
#include "smtpkit/command.h"
#include "smtpkit/data.h"
#include "smtpkit/sasl.h"
#include "smtpkit/server.h"
#include "smtpkit/message.h"
#include "smtpkit/client.h"

#endif /* SMTPKIT_SMTPKIT_H */
