// The primitive caches of m2d_dnnl.h's context: one matmul per Linear shape, one strided batched
// matmul per GEMM shape and strides, all sharing one scratchpad.
#include "dnnl_context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<oneapi/dnnl/dnnl.h>)

// Grows the shared scratchpad to hold `pd`'s and makes the memory object that points into it.
static int attach_scratch(m2d_dnnl *c, dnnl_primitive_desc_t pd, dnnl_memory_t *memory) {
    const dnnl_memory_desc_t *md = c->api.primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = md ? c->api.memory_desc_get_size(md) : 0;
    *memory = NULL;
    if (bytes == 0) return 1;
    if (!m2d_reserve_aligned(&c->scratch, &c->scratch_bytes, bytes)) return 0;
    return c->api.memory_create(memory, md, c->engine, DNNL_MEMORY_NONE) == dnnl_success;
}

int m2d_reserve_entry(void **table, size_t *capacity, size_t used, size_t entry_bytes, size_t first) {
    if (used < *capacity) return 1;
    size_t cap = *capacity ? 2 * *capacity : first;
    void *grown = realloc(*table, cap * entry_bytes);
    if (!grown) return 0;
    *table = grown;
    *capacity = cap;
    return 1;
}

int m2d_reserve_aligned(void **buffer, size_t *held, size_t bytes) {
    if (bytes <= *held) return 1;
    void *grown = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!grown) return 0;
    free(*buffer);
    *buffer = grown;
    *held = bytes;
    return 1;
}

int m2d_execute(m2d_dnnl *c, dnnl_primitive_t prim, dnnl_memory_t scratch, dnnl_exec_arg_t *args, int n) {
    if (scratch) {
        c->api.memory_set_data_handle(scratch, c->scratch);
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scratch};
    }
    if (c->api.primitive_execute(prim, c->stream, n, args) != dnnl_success) return 4;
    return c->api.stream_wait(c->stream) == dnnl_success ? 0 : 5;
}

// The primitive for `desc` under `attr` (scratchpad in user mode), its descriptor and its view of the
// shared scratchpad; records the implementation oneDNN chose. Returns 1 on success.
static int make_primitive(m2d_dnnl *c, const_dnnl_op_desc_t desc, dnnl_primitive_attr_t attr,
                          dnnl_primitive_desc_t *pd, dnnl_primitive_t *prim, dnnl_memory_t *scratch) {
    c->api.primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (c->api.primitive_desc_create(pd, desc, attr, c->engine, NULL) != dnnl_success) return 0;
    const char *impl = NULL;
    c->api.primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(c->impl, sizeof c->impl, "%s", impl ? impl : "?");
    if (c->api.primitive_create(prim, *pd) != dnnl_success) {
        c->api.primitive_desc_destroy(*pd);
        return 0;
    }
    return attach_scratch(c, *pd, scratch);
}

// Appends a slot to the matmul cache; NULL when out of memory.
static matmul_entry *new_matmul_slot(m2d_dnnl *c) {
    if (!m2d_reserve_entry((void **)&c->matmuls, &c->cap_matmuls, c->n_matmuls, sizeof *c->matmuls, 16)) return NULL;
    return &c->matmuls[c->n_matmuls];
}

// int8: bias, accumulation and the dequantization are the caller's (m2d_dequantize_rows).
static matmul_entry *int8_matmul_for(m2d_dnnl *c, int64_t M, int64_t N, int64_t K) {
    matmul_entry *slot = new_matmul_slot(c);
    dnnl_matmul_desc_t md;
    if (!slot || !m2d_int8_descs(c, M, N, K, &md)) return NULL;
    dnnl_primitive_attr_t attr = NULL;
    c->api.primitive_attr_create(&attr);
    matmul_entry e = {.M = M, .N = N, .K = K};
    int made = make_primitive(c, &md, attr, &e.pd, &e.prim, &e.scratch);
    c->api.primitive_attr_destroy(attr);
    if (!made) return NULL;
    c->api.memory_create(&e.src, c->api.primitive_desc_query_md(e.pd, dnnl_query_src_md, 0), c->engine,
                         DNNL_MEMORY_NONE);
    c->api.memory_create(&e.dst, c->api.primitive_desc_query_md(e.pd, dnnl_query_dst_md, 0), c->engine,
                         DNNL_MEMORY_NONE);
    *slot = e;
    c->n_matmuls++;
    return slot;
}

matmul_entry *m2d_matmul_for(m2d_dnnl *c, int64_t M, int64_t N, int64_t K, int accumulate, int has_bias) {
    if (c->precision == M2D_DNNL_INT8) accumulate = has_bias = 0;  // both done in the dequantization
    for (size_t i = 0; i < c->n_matmuls; i++) {
        matmul_entry *e = &c->matmuls[i];
        if (e->M == M && e->N == N && e->K == K && e->accumulate == accumulate && e->has_bias == has_bias) return e;
    }
    if (c->precision == M2D_DNNL_INT8) return int8_matmul_for(c, M, N, K);
    dnnl_data_type_t t = c->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src, src_f32, wany, dst, bias;
    dnnl_dims_t sd = {M, K}, wd = {K, N}, dd = {M, N}, bd = {1, N};
    c->api.memory_desc_init_by_tag(&src, 2, sd, t, dnnl_ab);
    c->api.memory_desc_init_by_tag(&src_f32, 2, sd, dnnl_f32, dnnl_ab);
    c->api.memory_desc_init_by_tag(&wany, 2, wd, t, dnnl_format_tag_any);
    c->api.memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab);
    c->api.memory_desc_init_by_tag(&bias, 2, bd, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t md;
    if (c->api.matmul_desc_init(&md, &src, &wany, has_bias ? &bias : NULL, &dst) != dnnl_success) return NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    c->api.primitive_attr_create(&attr);
    if (accumulate) {
        c->api.post_ops_create(&ops);
        c->api.post_ops_append_sum(ops, 1.0f);
        c->api.primitive_attr_set_post_ops(attr, ops);
    }
    matmul_entry e = {.M = M, .N = N, .K = K, .accumulate = accumulate, .has_bias = has_bias};
    int made = make_primitive(c, &md, attr, &e.pd, &e.prim, &e.scratch);
    if (ops) c->api.post_ops_destroy(ops);
    c->api.primitive_attr_destroy(attr);
    if (!made) return NULL;
    // Handles are rebound per call (set_data_handle); created with no buffer of their own.
    c->api.memory_create(&e.dst, &dst, c->engine, DNNL_MEMORY_NONE);
    if (has_bias) c->api.memory_create(&e.bias, &bias, c->engine, DNNL_MEMORY_NONE);
    if (c->bf16) {
        c->api.memory_create(&e.src, &src_f32, c->engine, DNNL_MEMORY_NONE);
        c->api.memory_create(&e.src_bf16, &src, c->engine, DNNL_MEMORY_NONE);
        dnnl_primitive_desc_t rpd;
        if (c->api.reorder_primitive_desc_create(&rpd, &src_f32, c->engine, &src, c->engine, NULL) != dnnl_success)
            return NULL;
        c->api.primitive_create(&e.src_reorder, rpd);
        c->api.primitive_desc_destroy(rpd);
    } else {
        c->api.memory_create(&e.src, &src, c->engine, DNNL_MEMORY_NONE);
    }
    matmul_entry *slot = new_matmul_slot(c);
    if (!slot) return NULL;
    *slot = e;
    c->n_matmuls++;
    return slot;
}

static strided_entry *strided_for(m2d_dnnl *c, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                                  const int64_t as[3], const int64_t bs[3], const int64_t cs[3]) {
    for (size_t i = 0; i < c->n_strided; i++) {
        strided_entry *g = &c->strided[i];
        if (g->batch == batch && g->M == M && g->N == N && g->K == K && g->alpha == alpha && g->beta == beta &&
            !memcmp(g->as, as, sizeof g->as) && !memcmp(g->bs, bs, sizeof g->bs) && !memcmp(g->cs, cs, sizeof g->cs))
            return g;
    }
    if (!m2d_reserve_entry((void **)&c->strided, &c->cap_strided, c->n_strided, sizeof *c->strided, 32)) return NULL;
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_dims_t ad = {batch, M, K}, bd = {batch, K, N}, cd = {batch, M, N};
    dnnl_dims_t sa = {as[0], as[1], as[2]}, sb = {bs[0], bs[1], bs[2]}, sc = {cs[0], cs[1], cs[2]};
    if (c->api.memory_desc_init_by_strides(&amd, 3, ad, dnnl_f32, sa) != dnnl_success ||
        c->api.memory_desc_init_by_strides(&bmd, 3, bd, dnnl_f32, sb) != dnnl_success ||
        c->api.memory_desc_init_by_strides(&cmd, 3, cd, dnnl_f32, sc) != dnnl_success) return NULL;
    dnnl_matmul_desc_t md;
    if (c->api.matmul_desc_init(&md, &amd, &bmd, NULL, &cmd) != dnnl_success) return NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    c->api.primitive_attr_create(&attr);
    if (alpha != 1.0f) c->api.primitive_attr_set_output_scales(attr, 1, 0, &alpha);
    if (beta != 0.0f) {
        c->api.post_ops_create(&ops);
        c->api.post_ops_append_sum(ops, beta);
        c->api.primitive_attr_set_post_ops(attr, ops);
    }
    strided_entry g = {.batch = batch, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta};
    memcpy(g.as, as, sizeof g.as);
    memcpy(g.bs, bs, sizeof g.bs);
    memcpy(g.cs, cs, sizeof g.cs);
    int made = make_primitive(c, &md, attr, &g.pd, &g.prim, &g.scratch);
    if (ops) c->api.post_ops_destroy(ops);
    c->api.primitive_attr_destroy(attr);
    if (!made) return NULL;
    c->api.memory_create(&g.a, &amd, c->engine, DNNL_MEMORY_NONE);
    c->api.memory_create(&g.b, &bmd, c->engine, DNNL_MEMORY_NONE);
    c->api.memory_create(&g.c, &cmd, c->engine, DNNL_MEMORY_NONE);
    c->strided[c->n_strided] = g;
    return &c->strided[c->n_strided++];
}

static int strided_product(m2d_dnnl *c, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                           const float *A, const int64_t as[3], const float *B, const int64_t bs[3], float *C,
                           const int64_t cs[3]) {
    if (batch == 0 || M == 0 || N == 0) return 0;
    strided_entry *g = strided_for(c, batch, M, N, K, alpha, beta, as, bs, cs);
    if (!g) return 1;
    c->api.memory_set_data_handle(g->a, (void *)A);
    c->api.memory_set_data_handle(g->b, (void *)B);
    c->api.memory_set_data_handle(g->c, C);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, g->a}, {DNNL_ARG_WEIGHTS, g->b}, {DNNL_ARG_DST, g->c}};
    return m2d_execute(c, g->prim, g->scratch, args, 3);
}

int m2d_dnnl_gemm(m2d_dnnl *c, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    // A batch of one; a transposed operand is the same matrix read with swapped strides.
    const int64_t as[3] = {(transA ? K : M) * lda, transA ? 1 : lda, transA ? lda : 1};
    const int64_t bs[3] = {(transB ? N : K) * ldb, transB ? 1 : ldb, transB ? ldb : 1}, cs[3] = {M * ldc, ldc, 1};
    return strided_product(c, 1, M, N, K, alpha, beta, A, as, B, bs, C, cs);
}

int m2d_dnnl_batched_gemm(m2d_dnnl *c, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, const int64_t a_strides[3], const float *B, const int64_t b_strides[3],
                          float beta, float *C, const int64_t c_strides[3]) {
    return strided_product(c, batch, M, N, K, alpha, beta, A, a_strides, B, b_strides, C, c_strides);
}

void m2d_free_primitives(m2d_dnnl *c) {
    for (size_t i = 0; i < c->n_matmuls; i++) {
        matmul_entry *e = &c->matmuls[i];
        c->api.primitive_destroy(e->prim);
        c->api.primitive_desc_destroy(e->pd);
        c->api.memory_destroy(e->src);
        c->api.memory_destroy(e->dst);
        if (e->bias) c->api.memory_destroy(e->bias);
        if (e->src_bf16) c->api.memory_destroy(e->src_bf16);
        if (e->src_reorder) c->api.primitive_destroy(e->src_reorder);
        if (e->scratch) c->api.memory_destroy(e->scratch);
    }
    for (size_t i = 0; i < c->n_strided; i++) {
        strided_entry *g = &c->strided[i];
        c->api.primitive_destroy(g->prim);
        c->api.primitive_desc_destroy(g->pd);
        c->api.memory_destroy(g->a);
        c->api.memory_destroy(g->b);
        c->api.memory_destroy(g->c);
        if (g->scratch) c->api.memory_destroy(g->scratch);
    }
    free(c->matmuls);
    free(c->strided);
}

#endif
