/* smtpkit-recv: where accepted messages go (Maildir, mbox, or nowhere). */
#ifndef SMTPKIT_RECV_STORE_H
#define SMTPKIT_RECV_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef enum store_kind { STORE_SINK, STORE_MAILDIR, STORE_MBOX } store_kind;

typedef struct store {
    store_kind kind;
    const char *path;     /* the Maildir directory or the mbox file */
    char host[128];       /* for unique names, '/' and ':' escaped */
    int newdir_fd;        /* Maildir: DIR/new, for fsync after rename */
    unsigned long serial;
    long pid;             /* getpid() once: a system call per message saved */
} store;

/* One message being received. */
typedef struct store_msg {
    int fd;               /* the temporary file, -1 when none */
    int failed;           /* a write failed: refuse at the end */
    char name[256];       /* Maildir: the unique name (also the queue id) */
    char reply[300];      /* the text of the final reply */
} store_msg;

/* Prepare the store (create the Maildir directories, check the mbox can be
 * opened). Returns 0, or -1 with a message in err. */
int store_open(store *st, store_kind kind, const char *path, const char *hostname, char *err,
               size_t errlen);
void store_close(store *st);

/* Begin a message: 0, or -1 (errno). */
int store_begin(store *st, store_msg *m);
/* Append bytes (errors are remembered in m->failed). */
void store_write(store_msg *m, const char *p, size_t n);
/* Make the message durable: Maildir fsync + rename into new/ + fsync of
 * new/; mbox append under flock with >From quoting + fsync. `sender` is
 * the envelope sender for the mbox "From " line. 0 on success (only then
 * may the client be told 250), or -1 with nothing left behind. */
int store_commit(store *st, store_msg *m, const char *sender);
/* Drop a message being received: the temporary file goes away. */
void store_abort(store *st, store_msg *m);

#endif
