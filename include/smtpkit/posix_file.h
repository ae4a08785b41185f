/**
 * @file posix_file.h
 * @brief POSIX adapter: file-backed #smtpkit_source, and the current time
 *        and unique bytes the message builder needs but the core cannot get
 *        (it has no clock and no randomness).
 *
 * Built when SMTPKIT_WITH_POSIX is on (SMTPKIT_HAVE_POSIX is then defined).
 */
#ifndef SMTPKIT_POSIX_FILE_H
#define SMTPKIT_POSIX_FILE_H

#include "smtpkit/common.h"
#include "smtpkit/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/** State of a file source; place it anywhere. Fields are private. */
typedef struct smtpkit_file_source {
    int _fd;
    int _own; /* close _fd in smtpkit_file_source_close() */
} smtpkit_file_source;

/**
 * Open `path` for reading and make `src` read it. For a regular file
 * `src->size` is its size and `src->rewind` seeks back to the start; for a
 * pipe or device the size is -1 and `rewind` is NULL.
 * @return 0, #SMTPKIT_ERR_INVALID_ARG (NULL argument) or #SMTPKIT_ERR_IO
 *         (cannot open or stat; errno tells why).
 * The source reads return #SMTPKIT_ERR_IO on a read error. Close with
 * smtpkit_file_source_close() once the source is no longer read.
 */
SMTPKIT_API int smtpkit_file_source_open(smtpkit_source *src, smtpkit_file_source *state,
                                         const char *path);

/**
 * Make `src` read the open descriptor `fd` (from its current position; not
 * closed by smtpkit_file_source_close()). Size and rewind as for
 * smtpkit_file_source_open() (a descriptor not at offset 0 gets neither).
 * @return 0, #SMTPKIT_ERR_INVALID_ARG.
 */
SMTPKIT_API int smtpkit_file_source_from_fd(smtpkit_source *src, smtpkit_file_source *state,
                                            int fd);

/** Close the file opened by smtpkit_file_source_open() (safe to call twice). */
SMTPKIT_API void smtpkit_file_source_close(smtpkit_file_source *state);

/**
 * The current time and the local zone's offset from UTC, as
 * smtpkit_message_set_date() takes them.
 * @return 0 or #SMTPKIT_ERR_IO when the clock cannot be read.
 */
SMTPKIT_API int smtpkit_posix_now(int64_t *unix_seconds, int *zone_minutes);

/**
 * Fill `buf` with `len` unpredictable bytes (from /dev/urandom, or mixed
 * from the clock and process id when it is unavailable), for
 * smtpkit_message_set_unique().
 * @return 0 or #SMTPKIT_ERR_INVALID_ARG.
 */
SMTPKIT_API int smtpkit_posix_unique(void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_POSIX_FILE_H */
