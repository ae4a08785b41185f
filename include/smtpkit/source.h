/**
 * @file source.h
 * @brief `smtpkit_source`: a pull interface for message bodies and parts.
 *
 * The client session and the message builder read bodies through a source,
 * so a body of any size streams in constant memory.
 */
#ifndef SMTPKIT_SOURCE_H
#define SMTPKIT_SOURCE_H

#include "smtpkit/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Read up to `len` bytes into `buf`.
 * @return the number of bytes read (> 0), 0 at end of data,
 *         #SMTPKIT_ERR_WOULDBLOCK when no data is available yet (the reader
 *         will ask again later), or another negative error to abort.
 */
typedef smtpkit_ssize (*smtpkit_source_read_fn)(void *ctx, char *buf, size_t len);

/** A data source. The struct is owned by the caller and must outlive its use. */
typedef struct smtpkit_source {
    smtpkit_source_read_fn read; /**< required */
    /** Optional: rewind to the start so the source can be read again
     *  (0 on success, negative error if not possible). May be NULL. */
    int (*rewind)(void *ctx);
    void *ctx;                   /**< passed to read/rewind */
    int64_t size;                /**< total bytes if known, else -1 */
} smtpkit_source;

/** State of a memory source; place it anywhere, it holds no allocation. */
typedef struct smtpkit_mem_source {
    const char *_data;
    size_t _len;
    size_t _pos;
} smtpkit_mem_source;

/**
 * Make `src` read the `len` bytes at `data` (not copied; they must stay valid
 * while the source is read). `state` holds the read position.
 */
SMTPKIT_API void smtpkit_source_from_memory(smtpkit_source *src, smtpkit_mem_source *state,
                                            const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_SOURCE_H */
