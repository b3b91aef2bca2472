/*
 * trace/graph_file_io.h - what the graph file writer (graph_file.c) and
 * reader (graph_file_load.c) share: the format's constants, little-endian
 * integers, CRC-32 and the loaded graph itself. The format is described in
 * ember/graph_file.h.
 */
#ifndef EMBER_TRACE_GRAPH_FILE_IO_H
#define EMBER_TRACE_GRAPH_FILE_IO_H

#include "executor.h"

/* Element data is written in host order, which the format fixes as
 * little-endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the graph file code assumes a little-endian host"
#endif

enum {
    EM__GF_SECTIONS = 6,
    EM__GF_HEADER_BYTES = 20,
    /* Longest string (names, version) a file holds, in bytes. */
    EM__GF_MAX_STRING = 4096,
    /* Most inputs one op node may have (em__graph_verify's limit). */
    EM__GF_MAX_OP_INPUTS = EM_MAX_DIMS * 4,
    /* Bytes of one op node's attributes. */
    EM__GF_ATTR_BYTES = 1 + 64 + 1 + 32 + 4 + 1 + 8 + 1 + 8 + 64 + 64,
};

enum { EM__GF_KEEPDIMS = 1, EM__GF_TRANSPOSE_A = 2, EM__GF_TRANSPOSE_B = 4 };

extern const char em__gf_magic[8];
/* Section tags, in file order. */
extern const char em__gf_tags[EM__GF_SECTIONS][4];
enum {
    EM__GF_META,
    EM__GF_INPT,
    EM__GF_NODE,
    EM__GF_OUTP,
    EM__GF_VARS,
    EM__GF_CNST
};

static inline void em__gf_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void em__gf_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t em__gf_get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t em__gf_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* zlib's crc32 over any length (it takes a uInt). */
uint32_t em__gf_crc(uint32_t crc, const void *data, size_t len);

struct em_loaded_graph {
    em__graph *graph;
    em__plan *plan;
    int n_inputs;
    em__type *input_types;
    int n_variables;
    em_tensor **variables; /* one reference each */
};

#endif
