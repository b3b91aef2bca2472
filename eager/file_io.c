/*
 * eager/file_io.c - the file handling that checkpoints and graph files
 * share: reading a whole file, and replacing one atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

bool em__file_read(const char *path, const char *what, unsigned char **buf,
                   size_t *size)
{
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        em__error("%s '%s': cannot open: %s", what, path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > SIZE_MAX - 1) {
        em__error("%s '%s': not a readable regular file", what, path);
        fclose(f);
        return false;
    }
    size_t len = (size_t)st.st_size;
    *buf = malloc(len ? len : 1);
    if (!*buf) {
        em__error("%s '%s': out of memory reading %zu bytes", what, path, len);
        fclose(f);
        return false;
    }
    /* One byte more than expected shows a file that grew meanwhile. */
    size_t got = fread(*buf, 1, len, f);
    bool ok = got == len && !ferror(f) && fgetc(f) == EOF;
    fclose(f);
    if (!ok) {
        em__error("%s '%s': read %zu of %zu bytes (the file changed while it "
                  "was read, or an I/O error)",
                  what, path, got, len);
        free(*buf);
        *buf = NULL;
        return false;
    }
    *size = len;
    return true;
}

/* Syncs the folder holding path, so that the rename itself is durable. */
static int sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return errno;
    int rc = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    /* Some file systems cannot sync a folder; that is no failure. */
    return rc == EINVAL || rc == ENOTSUP ? 0 : rc;
}

int em__file_replace(const char *path, const char *what, em__file_writer write,
                     void *user)
{
    size_t tmp_size = strlen(path) + 32;
    char *tmp = malloc(tmp_size);
    if (!tmp) {
        em__error("%s '%s': out of memory", what, path);
        return -1;
    }
    snprintf(tmp, tmp_size, "%s.tmp-%ld", path, (long)getpid());

    const char *step = "opening";
    int error = 0;
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL;
    if (!ok)
        error = errno;
    if (ok) {
        step = "writing";
        ok = write(f, user, &error);
    }
    if (ok) {
        step = "flushing";
        ok = fflush(f) == 0 || (error = errno, false);
    }
    if (ok) {
        step = "syncing";
        ok = fsync(fileno(f)) == 0 || (error = errno, false);
    }
    if (f && fclose(f) != 0 && ok) {
        step = "closing";
        error = errno;
        ok = false;
    }
    if (ok) {
        step = "renaming";
        ok = rename(tmp, path) == 0 || (error = errno, false);
    }
    if (!ok) {
        if (f)
            unlink(tmp);
        em__error("%s '%s': %s the temporary file '%s' failed: %s (the old "
                  "file is untouched)",
                  what, path, step, tmp, strerror(error ? error : EIO));
        free(tmp);
        return -1;
    }
    free(tmp);
    if ((error = sync_dir(path)) != 0) {
        em__error("%s '%s': syncing its folder after the rename: %s (the new "
                  "file is in place but may not survive a crash)",
                  what, path, strerror(error));
        return -1;
    }
    return 0;
}
