/* smtpkit-send: --auth-file. See auth.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"

void auth_wipe(void *buf, size_t len)
{
    volatile unsigned char *p = (volatile unsigned char *)buf;
    while (len--)
        *p++ = 0;
}

int auth_file_read(const char *path, char *buf, size_t cap, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    int found = 0;
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(buf, (int)cap, f)) {
        size_t n = strcspn(buf, "\r\n");
        if (buf[n] == '\0' && !feof(f)) {
            snprintf(err, errlen, "%s: line too long", path);
            break;
        }
        buf[n] = '\0';
        if (!buf[0] || buf[0] == '#')
            continue;
        if (!strchr(buf, ':') || buf[0] == ':') {
            snprintf(err, errlen, "%s: expected USER:PASS", path);
            break;
        }
        found = 1;
        break;
    }
    fclose(f);
    if (!found) {
        auth_wipe(buf, cap);
        if (!err[0])
            snprintf(err, errlen, "%s: no USER:PASS line", path);
        return -1;
    }
    return 0;
}
