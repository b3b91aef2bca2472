/*
 * eager/error.c - per-thread error messages, the one logging function, the
 * one place that reads the environment, and per-thread runtime state.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "internal.h"

#define ERROR_SIZE 1024

/* Two buffers, so the message em_error_last returns stays valid while the
 * caller reads it even if the next op records a new one. */
typedef struct error_state {
    char text[2][ERROR_SIZE];
    int current;
    bool pending;
} error_state;

static _Thread_local error_state errors;
static _Thread_local em__thread thread_state;

em__thread *em__thread_state(void)
{
    return &thread_state;
}

void em__error(const char *fmt, ...)
{
    int next = errors.current ^ 1;
    va_list args;
    va_start(args, fmt);
    vsnprintf(errors.text[next], ERROR_SIZE, fmt, args);
    va_end(args);
    errors.current = next;
    errors.pending = true;
    thread_state.errors++;
    em__log(EM_LOG_DEBUG, "error: %s", errors.text[next]);
}

void em__error_op(const char *op, em_tensor *const *in, int n,
                  const char *detail)
{
    char inputs[600] = "";
    size_t used = 0;
    for (int i = 0; i < n && used < sizeof inputs; i++) {
        char type[200] = "NULL";
        if (in[i])
            em__type_format(&in[i]->type, type, sizeof type);
        used += (size_t)snprintf(inputs + used, sizeof inputs - used, "%s%s",
                                 i ? ", " : "", type);
    }
    const char *tracing = thread_state.tracing;
    char where[200] = "";
    if (tracing)
        snprintf(where, sizeof where, " (while tracing %s)", tracing);
    if (n > 0)
        em__error("%s: %s (inputs: %s)%s", op, detail, inputs, where);
    else
        em__error("%s: %s%s", op, detail, where);
}

const char *em_error_last(void)
{
    if (!errors.pending)
        return NULL;
    errors.pending = false;
    return errors.text[errors.current];
}

const char *em_error_peek(void)
{
    return errors.pending ? errors.text[errors.current] : NULL;
}

bool em_error_pending(void)
{
    return errors.pending;
}

void em_error_clear(void)
{
    errors.pending = false;
}

/* ---- logging and the environment -----------------------------------------*/

static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static em_log_level log_level = EM_LOG_WARN;
static em_log_handler log_handler;
static void *log_user;

static char dump_kinds[128];
static const char *dump_dir = "ember-dump";
static bool jit_enabled = true;
static int num_threads;
static em_device default_device = EM_CPU;

/* A yes/no variable: 1, on, true, yes or 0, off, false, no, in any case.
 * Anything else warns and leaves *value as it is. */
static void read_switch(const char *variable, bool *value)
{
    const char *text = getenv(variable);
    if (!text || !*text)
        return;
    static const char *const words[2][4] = {{"0", "off", "false", "no"},
                                            {"1", "on", "true", "yes"}};
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < 4; i++)
            if (strcasecmp(text, words[v][i]) == 0) {
                *value = v;
                return;
            }
    fprintf(stderr,
            "ember: warning: %s=%s is not 0 or 1 (off or on); it stays %s\n",
            variable, text, *value ? "on" : "off");
}

/* EMBER_DUMP: a comma-separated list of what to write. Unknown entries
 * warn and are left out. */
static void read_dump_kinds(void)
{
    const char *dump = getenv("EMBER_DUMP");
    if (!dump)
        return;
    static const char *const kinds[] = {"graph", "llvm", "asm", "ptx"};
    char list[128];
    snprintf(list, sizeof list, "%s", dump);
    size_t used = 0;
    dump_kinds[used++] = ',';
    for (char *save = NULL, *kind = strtok_r(list, ",", &save); kind;
         kind = strtok_r(NULL, ",", &save)) {
        bool known = false;
        for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
            known = known || strcmp(kind, kinds[i]) == 0;
        if (!known) {
            fprintf(stderr,
                    "ember: warning: EMBER_DUMP holds '%s', which is not "
                    "graph, llvm, asm or ptx; left out\n",
                    kind);
            continue;
        }
        int n =
            snprintf(dump_kinds + used, sizeof dump_kinds - used, "%s,", kind);
        if (n > 0 && (size_t)n < sizeof dump_kinds - used)
            used += (size_t)n;
    }
}

static void read_environment(void)
{
    const char *threads = getenv("EMBER_NUM_THREADS");
    if (threads && *threads) {
        char *end;
        long n = strtol(threads, &end, 10);
        if (*end || n < 1 || n > EM__MAX_THREADS)
            fprintf(stderr,
                    "ember: warning: EMBER_NUM_THREADS=%s is not a number "
                    "of threads from 1 to %d; using the default\n",
                    threads, EM__MAX_THREADS);
        else
            num_threads = (int)n;
    }
    read_switch("EMBER_JIT", &jit_enabled);
    read_dump_kinds();
    const char *dir = getenv("EMBER_DUMP_DIR");
    if (dir && *dir)
        dump_dir = dir;
    const char *device = getenv("EMBER_DEVICE");
    if (device && *device && !em__device_parse(device, &default_device))
        fprintf(stderr,
                "ember: warning: EMBER_DEVICE=%s is not cpu, cuda or "
                "cuda:N; using cpu\n",
                device);
    const char *level = getenv("EMBER_LOG");
    if (!level || !*level)
        return;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(level, names[i]) == 0) {
            log_level = (em_log_level)i;
            return;
        }
    fprintf(stderr,
            "ember: warning: EMBER_LOG=%s is not one of "
            "error|warn|info|debug; using warn\n",
            level);
}

void em_log_set_level(em_log_level level)
{
    pthread_once(&config_once, read_environment);
    if ((unsigned)level > EM_LOG_DEBUG) {
        em__error("log_set_level: level %d is not one of EM_LOG_ERROR (0) "
                  "to EM_LOG_DEBUG (3); the level stays %d",
                  (int)level, (int)log_level);
        return;
    }
    log_level = level;
}

em_log_level em_log_get_level(void)
{
    pthread_once(&config_once, read_environment);
    return log_level;
}

void em_log_set_handler(em_log_handler handler, void *user)
{
    log_handler = handler;
    log_user = user;
}

const char *em__dump_dir(const char *kind)
{
    pthread_once(&config_once, read_environment);
    char key[40];
    snprintf(key, sizeof key, ",%s,", kind);
    return strstr(dump_kinds, key) ? dump_dir : NULL;
}

FILE *em__dump_open(const char *kind, const char *name, const char *suffix)
{
    const char *dir = em__dump_dir(kind);
    if (!dir)
        return NULL;
    /* The folder and any missing parents. */
    char folder[512];
    snprintf(folder, sizeof folder, "%s", dir);
    for (char *slash = strchr(folder + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(folder, 0777);
        *slash = '/';
    }
    mkdir(folder, 0777);
    /* The name may hold anything; the file stays inside the folder. */
    char safe[200], path[512];
    snprintf(safe, sizeof safe, "%s", name);
    for (char *c = safe; *c; c++)
        if (*c == '/' || *c == '\\')
            *c = '_';
    int len = snprintf(path, sizeof path, "%s/%s.%s", dir, safe, suffix);
    if (len < 0 || len >= (int)sizeof path) {
        em__log(EM_LOG_WARN, "EMBER_DUMP: path for '%s' too long", name);
        return NULL;
    }
    FILE *out = fopen(path, "w");
    if (!out)
        em__log(EM_LOG_WARN, "EMBER_DUMP: cannot write %s: %s", path,
                strerror(errno));
    return out;
}

bool em__config_jit_enabled(void)
{
    pthread_once(&config_once, read_environment);
    return jit_enabled;
}

em_device em__config_device(void)
{
    pthread_once(&config_once, read_environment);
    return default_device;
}

int em__config_threads(void)
{
    pthread_once(&config_once, read_environment);
    return num_threads;
}

bool em__log_enabled(em_log_level level)
{
    return level <= em_log_get_level();
}

void em__log(em_log_level level, const char *fmt, ...)
{
    if (!em__log_enabled(level))
        return;
    char message[1200];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    if (log_handler) {
        log_handler(level, message, log_user);
        return;
    }
    static const char *const names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "ember: %s: %s\n", names[level], message);
}
