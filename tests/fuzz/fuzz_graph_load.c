/*
 * tests/fuzz/fuzz_graph_load.c - a libFuzzer target for the graph-file
 * loader, which must treat its input as hostile: any bytes either load into
 * a graph that verifies, or are refused with an error, without a crash, a
 * hang or a sanitizer report. scripts/test.sh runs it for a bounded time
 * on a corpus seeded with a real saved graph.
 *
 * Every section carries a CRC, so nearly every mutation would stop at the
 * first check. The target therefore recomputes the CRCs of the mutated
 * bytes (where the framing still parses) before loading, so that the
 * parser and validator behind the checksums are what gets exercised.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <ember.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void remove_file(void)
{
    unlink(path);
}

static void put_crc(uint8_t *at, const uint8_t *from, size_t n)
{
    uint32_t crc = (uint32_t)crc32(0L, from, (uInt)n);
    for (int i = 0; i < 4; i++)
        at[i] = (uint8_t)(crc >> (8 * i));
}

/* Rewrites the header's and each section's CRC-32 over the bytes as they
 * are (header: 16 bytes then its CRC; sections: tag, u64 length, payload,
 * CRC), as far as the lengths stay inside the buffer. */
static void fix_checksums(uint8_t *b, size_t size)
{
    if (size < 20)
        return;
    put_crc(b + 16, b, 16);
    size_t at = 20;
    while (at + 12 <= size) {
        uint64_t length = 0;
        for (int i = 0; i < 8; i++)
            length |= (uint64_t)b[at + 4 + i] << (8 * i);
        if (length > size - at - 12 || size - at - 12 - length < 4)
            return;
        put_crc(b + at + 12 + length, b + at, 12 + (size_t)length);
        at += 12 + (size_t)length + 4;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The loader reads a path; one file per process, rewritten each run. */
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/ember-fuzz-%d.emg", (int)getpid());
        atexit(remove_file);
    }
    uint8_t *bytes = malloc(size ? size : 1);
    if (!bytes)
        return 0;
    memcpy(bytes, data, size);
    fix_checksums(bytes, size);
    FILE *out = fopen(path, "wb");
    size_t written = out ? fwrite(bytes, 1, size, out) : 0;
    if (out)
        fclose(out);
    free(bytes);
    if (written != size)
        return 0;

    em_loaded_graph *g = em_graph_load(path);
    if (g) {
        char text[256];
        em_loaded_graph_format(g, text, sizeof text);
        em_loaded_graph_free(g);
    }
    em_error_clear();
    return 0;
}
