/* smtpkit-send: credentials from a file (--auth-file), so the password is
 * not on the command line where ps(1) shows it. */
#ifndef SMTPKIT_SEND_AUTH_H
#define SMTPKIT_SEND_AUTH_H

#include <stddef.h>

/* Read the first line of `path` that is neither empty nor a '#' comment: it
 * must be "USER:PASS" (for XOAUTH2, "USER:TOKEN"). Writes it, NUL-terminated,
 * into buf. Returns 0, or -1 with a reason in err. */
int auth_file_read(const char *path, char *buf, size_t cap, char *err, size_t errlen);

/* Overwrite a credential buffer so the password does not linger. */
void auth_wipe(void *buf, size_t len);

#endif
