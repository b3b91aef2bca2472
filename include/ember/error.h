/*
 * ember/error.h - error messages and logging.
 *
 * An op that cannot run returns NULL and records one message per thread,
 * naming the op, what went wrong and its inputs' dtypes and shapes, e.g.
 *   matmul: inner dimensions differ: [128,784] @ [256,10]
 *   (inputs: float32[128,784], float32[256,10])
 * An op given a NULL input returns NULL and keeps the first message, so a
 * training step can be checked once at its end.
 *
 * Logging: the library prints nothing by default except warnings a user must
 * see. EMBER_LOG=error|warn|info|debug (read once, at first use) sets the
 * level; em_log_set_handler sends messages elsewhere than stderr.
 */
#ifndef EMBER_ERROR_H
#define EMBER_ERROR_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returns the last error message of this thread and clears it; NULL when
 * there is none. The text stays valid until the next error is recorded. */
const char *em_error_last(void);

/* The last message without clearing it; NULL when there is none. */
const char *em_error_peek(void);

/* True when an error is pending on this thread. */
bool em_error_pending(void);

/* Clears the pending error, if any. */
void em_error_clear(void);

typedef enum em_log_level {
    EM_LOG_ERROR = 0,
    EM_LOG_WARN,
    EM_LOG_INFO,
    EM_LOG_DEBUG
} em_log_level;

typedef void (*em_log_handler)(em_log_level level, const char *message,
                               void *user);

/* Messages at or below `level` are emitted. Overrides EMBER_LOG. A value
 * outside the enum is ignored and recorded as an error. */
void em_log_set_level(em_log_level level);
em_log_level em_log_get_level(void);

/* Sends messages to `handler` (NULL restores printing to stderr). */
void em_log_set_handler(em_log_handler handler, void *user);

#ifdef __cplusplus
}
#endif
#endif
