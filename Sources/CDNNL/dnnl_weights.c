// The weight copies of m2d_dnnl.h's context (oneDNN's reordered layout, or packed once for its packed
// GEMM; int8 with their per-channel scales and row sums) and the Linear products that run on them.
#include "dnnl_context.h"
#include "m2d_kernels.h"

#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<oneapi/dnnl/dnnl.h>)

// Returns the whole pages inside [start, start + bytes) to the system; they read as zeros after.
static void release_pages(const void *start, size_t bytes) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)start + page - 1) / page * page, to = ((uintptr_t)start + bytes) / page * page;
    if (to > from) madvise((void *)from, to - from, MADV_DONTNEED);
}

void m2d_dnnl_release_sources(m2d_dnnl *c, int on) { c->release_sources = on; }

static void free_tables(weight_entry *w) {
    if (!w->owns_tables) return;
    free(w->scales);
    free(w->sums);
    w->scales = NULL;
    w->sums = NULL;
    w->owns_tables = 0;
}

// Room for one more entry in the weight table. Returns 1 on success.
static int reserve_weight_slot(m2d_dnnl *c) {
    return m2d_reserve_entry((void **)&c->weights, &c->cap_weights, c->n_weights, sizeof *c->weights, 64);
}

// int8: W's integers (returned; the caller frees them once copied) and its per-channel scales and row sums
// (owned by `w`). NULL when out of memory, with nothing left allocated.
static int8_t *quantize_with_tables(m2d_dnnl *c, const float *W, int64_t N, int64_t K, weight_entry *w) {
    int8_t *quantized = malloc((size_t)(N * K));
    w->scales = malloc((size_t)N * sizeof(float));
    w->sums = malloc((size_t)N * sizeof(int32_t));
    w->owns_tables = 1;
    if (!quantized || !w->scales || !w->sums) {
        free(quantized);
        free_tables(w);
        return NULL;
    }
    m2d_quantize_weights(W, N, K, c->weight_limit, quantized, w->scales, w->sums);
    return quantized;
}

// oneDNN's copy of W in the layout `want` (made now if there is none), with its int8 tables. The pointer
// is valid until the next copy is made (the table may grow).
static const weight_entry *weight_for(m2d_dnnl *c, const float *W, int64_t N, int64_t K,
                                      const dnnl_memory_desc_t *want) {
    // A copy of W in another layout (another M made oneDNN prefer another blocking) is the source
    // when there is one: W's own pages may already be released.
    const weight_entry *other = NULL;
    for (size_t i = 0; i < c->n_weights; i++) {
        weight_entry *w = &c->weights[i];
        if (w->W != W || w->N != N || w->K != K) continue;
        if (c->api.memory_desc_equal(&w->md, want)) return w;
        other = w;
    }
    if (!reserve_weight_slot(c)) return NULL;
    // W (N,K) row-major is the (K,N) matrix in "ba" order.
    int int8 = c->precision == M2D_DNNL_INT8;
    dnnl_memory_desc_t plain;
    dnnl_dims_t wd = {K, N};
    c->api.memory_desc_init_by_tag(&plain, 2, wd, int8 ? dnnl_s8 : dnnl_f32, dnnl_ba);
    dnnl_memory_t from, to;
    void *source = (void *)W;
    weight_entry w = {.W = W, .N = N, .K = K, .md = *want};
    int8_t *quantized = NULL;
    if (other) {
        plain = other->md;
        c->api.memory_get_data_handle(other->mem, &source);
        w.scales = other->scales;
        w.sums = other->sums;
    } else if (int8) {
        quantized = quantize_with_tables(c, W, N, K, &w);
        if (!quantized) return NULL;
        source = quantized;
    }
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder;
    int made = c->api.memory_create(&from, &plain, c->engine, source) == dnnl_success;
    if (made && c->api.memory_create(&to, want, c->engine, DNNL_MEMORY_ALLOCATE) != dnnl_success) {
        c->api.memory_destroy(from);
        made = 0;
    }
    if (made && c->api.reorder_primitive_desc_create(&rpd, &plain, c->engine, want, c->engine, NULL) == dnnl_success) {
        c->api.primitive_create(&reorder, rpd);
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        c->api.primitive_execute(reorder, c->stream, 2, args);
        c->api.stream_wait(c->stream);
        c->api.primitive_destroy(reorder);
        c->api.primitive_desc_destroy(rpd);
    } else if (made) {
        c->api.memory_destroy(to);
        made = 0;
    }
    if (made) c->api.memory_destroy(from);
    free(quantized);
    if (!made) {
        free_tables(&w);
        return NULL;
    }
    if (c->release_sources && !other) release_pages(W, (size_t)(N * K) * sizeof(float));
    w.mem = to;
    c->weights[c->n_weights] = w;
    c->weight_bytes += c->api.memory_desc_get_size(want);
    return &c->weights[c->n_weights++];
}

// The packed copy of W (made now if there is none, split over threads for products of about M rows),
// with its int8 tables. The pointer is valid until the next copy is made.
static const weight_entry *packed_weight_for(m2d_dnnl *c, const float *W, int64_t N, int64_t K, int64_t M) {
    for (size_t i = 0; i < c->n_weights; i++) {
        weight_entry *w = &c->weights[i];
        if (w->W == W && w->N == N && w->K == K && w->packed) return w;
    }
    if (!reserve_weight_slot(c)) return NULL;
    // fp32 products of any height run on the copy; it is split over threads for at most 256 rows (for a
    // whole batch's rows one chunk ran 15% slower; for one chunk's, a batch of 8 runs as fast as the
    // matmul primitive). int8 products must not have more rows than the copy was made for: one tile.
    int64_t rows = c->precision == M2D_DNNL_INT8 ? M2D_DNNL_INT8_TILE_ROWS : M < 256 ? M : 256;
    weight_entry w = {.W = W, .N = N, .K = K, .packed_rows = rows};
    size_t bytes = 0;
    if (c->precision == M2D_DNNL_INT8) {
        int8_t *quantized = quantize_with_tables(c, W, N, K, &w);
        if (quantized) w.packed = packed_gemm_pack_s8(&c->packed, quantized, N, K, rows, &bytes);
        free(quantized);
        if (!w.packed) {
            free_tables(&w);
            return NULL;
        }
    } else {
        w.packed = packed_gemm_pack_f32(&c->packed, W, N, K, rows, &bytes);
        if (!w.packed) return NULL;
    }
    if (c->release_sources) release_pages(W, (size_t)(N * K) * sizeof(float));
    c->weights[c->n_weights] = w;
    c->weight_bytes += bytes;
    return &c->weights[c->n_weights++];
}

// The cached matmul for this product and oneDNN's copy of W in the layout it wants. Returns 0, 1 (no
// matmul) or 2 (no copy).
static int matmul_and_weight(m2d_dnnl *c, const float *W, int64_t M, int64_t N, int64_t K, int accumulate,
                             int has_bias, matmul_entry **e, const weight_entry **w) {
    *e = m2d_matmul_for(c, M, N, K, accumulate, has_bias);
    if (!*e) return 1;
    *w = weight_for(c, W, N, K, c->api.primitive_desc_query_md((*e)->pd, dnnl_query_weights_md, 0));
    return *w ? 0 : 2;
}

int m2d_dnnl_prepare_linear(m2d_dnnl *c, const float *W, int64_t N, int64_t K, int64_t M) {
    if (M == 0 || N == 0) return 0;
    if (c->use_packed) return packed_weight_for(c, W, N, K, M) ? 0 : 2;
    matmul_entry *e;
    const weight_entry *w;
    return matmul_and_weight(c, W, M, N, K, 0, 1, &e, &w);
}

int m2d_dnnl_linear(m2d_dnnl *c, const float *x, int64_t M, int64_t K, const float *W, int64_t N,
                    const float *bias, float *y, int accumulate) {
    if (c->precision == M2D_DNNL_INT8) return 6;
    if (M == 0 || N == 0) return 0;
    if (c->use_packed) {
        const weight_entry *w = packed_weight_for(c, W, N, K, M);
        return w ? packed_gemm_linear_f32(&c->packed, w->packed, x, M, K, N, bias, y, accumulate) : 2;
    }
    matmul_entry *e;
    const weight_entry *w;
    int found = matmul_and_weight(c, W, M, N, K, accumulate != 0, bias != NULL, &e, &w);
    if (found) return found;
    c->api.memory_set_data_handle(e->src, (void *)x);
    c->api.memory_set_data_handle(e->dst, y);
    if (e->bias) c->api.memory_set_data_handle(e->bias, (void *)bias);
    if (c->bf16) {
        // One bf16 copy of the input at a time: a buffer shared by every shape, grown when needed.
        if (!m2d_reserve_aligned(&c->src_bf16, &c->src_bf16_bytes, (size_t)(M * K) * 2)) return 3;
        c->api.memory_set_data_handle(e->src_bf16, c->src_bf16);
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, e->src}, {DNNL_ARG_TO, e->src_bf16}};
        if (c->api.primitive_execute(e->src_reorder, c->stream, 2, r) != dnnl_success) return 3;
    }
    dnnl_exec_arg_t args[5] = {
        {DNNL_ARG_SRC, c->bf16 ? e->src_bf16 : e->src}, {DNNL_ARG_WEIGHTS, w->mem}, {DNNL_ARG_DST, e->dst},
        {DNNL_ARG_BIAS, e->bias}};
    return m2d_execute(c, e->prim, e->scratch, args, e->bias ? 4 : 3);
}

int m2d_dnnl_linear_s8(m2d_dnnl *c, const uint8_t *q, int64_t M, int64_t K, const float *W, int64_t N, int32_t *acc,
                       const float **scales, const int32_t **sums) {
    if (c->precision != M2D_DNNL_INT8) return 6;
    if (M == 0 || N == 0) return 0;
    if (c->use_packed) {
        const weight_entry *w = packed_weight_for(c, W, N, K, M);
        if (!w) return 2;
        if (M > w->packed_rows) return 8;
        *scales = w->scales;
        *sums = w->sums;
        return packed_gemm_product_s8(&c->packed, w->packed, q, M, K, N, acc);
    }
    matmul_entry *e;
    const weight_entry *entry;
    int found = matmul_and_weight(c, W, M, N, K, 0, 0, &e, &entry);
    if (found) return found;
    *scales = entry->scales;
    *sums = entry->sums;
    c->api.memory_set_data_handle(e->src, (void *)q);
    c->api.memory_set_data_handle(e->dst, acc);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, entry->mem}, {DNNL_ARG_DST, e->dst}};
    return m2d_execute(c, e->prim, e->scratch, args, 3);
}

void m2d_dnnl_int8_ranges(m2d_dnnl *c, int *weight_limit, int *activation_levels) {
    *weight_limit = c->weight_limit;
    *activation_levels = c->activation_levels;
}

void m2d_free_weights(m2d_dnnl *c) {
    for (size_t i = 0; i < c->n_weights; i++) {
        if (c->weights[i].mem) c->api.memory_destroy(c->weights[i].mem);
        free(c->weights[i].packed);
        free_tables(&c->weights[i]);
    }
    free(c->weights);
}

#endif
