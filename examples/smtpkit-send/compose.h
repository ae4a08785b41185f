/* smtpkit-send: composing the message from command-line options
 * (--subject, --text, --attach, ...) with the message builder (message.h),
 * instead of sending standard input as is. See docs/composing.md. */
#ifndef SMTPKIT_SEND_COMPOSE_H
#define SMTPKIT_SEND_COMPOSE_H

#include <stddef.h>

#include "send_tool.h"
#include "smtpkit/message.h"
#include "smtpkit/posix_file.h"
#include "smtpkit/source.h"

#define EXIT_IOERR 74 /* EX_IOERR: standard output could not be written (--print) */

/* One file the message reads from: a text or HTML body, or an attachment.
 * The message keeps a pointer to `src`, so these never move. */
typedef struct compose_file {
    smtpkit_source src;
    smtpkit_file_source fs;
} compose_file;

/* A list of command-line arguments, in the order given (duplicates kept:
 * two identical --header options make two fields). */
typedef struct compose_list {
    const char **v;
    size_t n, cap;
} compose_list;

/* The composition options and, once built, the message. Zero-initialise. */
typedef struct compose {
    int any;        /* a composition option was given: build the message */
    int print;      /* --print: write it to standard output, do not send */
    int allow_8bit; /* --8bit: text parts may use the 8bit encoding */
    const char *subject, *text, *text_file, *html_file, *from_name;
    compose_list cc, bcc, headers, attach;

    unsigned env_flags;    /* SMTPKIT_ENV_* for the envelope, set by compose_build */
    smtpkit_message *msg;
    compose_file *files;   /* text, html, then one per attachment */
    size_t nfiles;
} compose;

/* The --help text of the composition options. */
extern const char compose_help[];

/* If argv[*i] is a composition option, take it (and its value, advancing
 * *i) and return 0; return -1 when it is not one; EXIT_USAGE (message
 * printed) when its value is missing; EXIT_SOFTWARE when out of memory. */
int compose_option(compose *c, int argc, char **argv, int *i);

/* Check the composition options against the rest of the command line
 * (-t, a message FILE, the number of --to). Returns 0 or EXIT_USAGE with
 * the message printed. Call it whether or not any option was given. */
int compose_check(const compose *c, int extract, const char *file, size_t nto);

/* Build the message: From (`from`, --from-name), To (every address in
 * `rcpts`), Cc, Subject, Date (now), Message-ID (the domain of `from`),
 * custom headers, bodies and attachments; every input is validated and
 * every file opened before anything is sent. On success `out` reads the
 * message (out->size exact when known), `rcpts` is replaced by the
 * envelope (To, Cc, Bcc, each once) and c->env_flags is set. Returns 0,
 * EXIT_DATAERR (bad address, header, name, content type, or a file that
 * cannot be read; message printed) or EXIT_SOFTWARE. */
int compose_build(compose *c, const char *from, addr_list *rcpts, smtpkit_source *out);

/* --print: build and write the message to standard output. Returns 0, an
 * error of compose_build(), or EXIT_IOERR. */
int compose_print(compose *c, const char *from, addr_list *rcpts);

/* Free the message, close the files, free the lists (safe on a zeroed
 * struct and twice). */
void compose_free(compose *c);

#endif
