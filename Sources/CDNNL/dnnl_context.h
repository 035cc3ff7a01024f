#pragma once
// The oneDNN context behind m2d_dnnl.h, shared by the files that implement it: m2d_dnnl.c (loading,
// capability probes, open and close), dnnl_primitives.c (the primitive caches and the shared
// scratchpad) and dnnl_weights.c (the weight copies and the Linear products on them).
#include "m2d_dnnl.h"
#include "packed_gemm.h"

#if __has_include(<oneapi/dnnl/dnnl.h>)
#include <oneapi/dnnl/dnnl.h>

#define FN(name) typeof(&dnnl_##name) name
typedef struct {
    FN(engine_create); FN(engine_destroy); FN(stream_create); FN(stream_destroy); FN(stream_wait);
    FN(memory_desc_init_by_tag); FN(matmul_desc_init); FN(primitive_attr_create); FN(primitive_attr_destroy);
    FN(post_ops_create); FN(post_ops_destroy); FN(post_ops_append_sum); FN(primitive_attr_set_post_ops);
    FN(primitive_desc_create); FN(primitive_desc_destroy); FN(primitive_desc_query_md); FN(primitive_desc_query);
    FN(primitive_create); FN(primitive_destroy); FN(primitive_execute); FN(memory_create); FN(memory_destroy);
    FN(memory_set_data_handle); FN(reorder_primitive_desc_create); FN(memory_desc_equal); FN(memory_desc_get_size);
    FN(version); FN(memory_desc_init_by_strides); FN(primitive_attr_set_output_scales); FN(memory_get_data_handle);
    FN(primitive_attr_set_scratchpad_mode);
} api_t;
#undef FN

typedef struct {
    int64_t M, N, K;
    int accumulate, has_bias;
    dnnl_primitive_t prim;
    dnnl_primitive_desc_t pd;
    dnnl_memory_t src, dst, bias, src_bf16, scratch;
    dnnl_primitive_t src_reorder;
} matmul_entry;

// A batch of products on plain strided memory (no reordered copies): the training products, whose
// weights change between calls (a batch of one), and attention (every head in one call).
typedef struct {
    int64_t batch, M, N, K;
    int64_t as[3], bs[3], cs[3];
    float alpha, beta;
    dnnl_primitive_t prim;
    dnnl_primitive_desc_t pd;
    dnnl_memory_t a, b, c, scratch;
} strided_entry;

typedef struct {
    const float *W;
    int64_t N, K;
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    /// int8: the per-output-channel scales and integer row sums (owned by the first copy of W).
    float *scales;
    int32_t *sums;
    int owns_tables;
    /// With the packed GEMM: oneDNN's packed copy (then md and mem are unused), and for int8 the most
    /// rows a product with it may have (oneDNN sizes its buffers for the rows it was packed for).
    void *packed;
    int64_t packed_rows;
} weight_entry;

struct m2d_dnnl {
    api_t api;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int precision;  // M2D_DNNL_FP32, _BF16 or _INT8
    int bf16;
    /// int8: weights are quantized to -weight_limit...weight_limit, activations to 0...activation_levels.
    int weight_limit, activation_levels;
    int release_sources;
    /// Linear layers run on weights packed once (packed_gemm.h) instead of the matmul primitive.
    int use_packed;
    /// The packed API is there and not turned off (M2D_DNNL_PACKED=0): the fused encoder may use it, bf16 too.
    int packed_allowed;
    packed_gemm_api packed;
    matmul_entry *matmuls;
    size_t n_matmuls, cap_matmuls;
    weight_entry *weights;
    size_t n_weights, cap_weights;
    strided_entry *strided;
    size_t n_strided, cap_strided;
    size_t weight_bytes;
    void *src_bf16;
    size_t src_bf16_bytes;
    /// One scratchpad for every primitive (user mode): by default each primitive keeps its own,
    /// and a server that meets many batch heights would hold hundreds of MB of them.
    void *scratch;
    size_t scratch_bytes;
    char impl[128];
    char version[32];
};

#define M2D_HIDDEN __attribute__((visibility("hidden")))

/// The int8 product u8 (M,K) . s8 (K,N) -> s32 (M,N), weights in the layout oneDNN prefers. Returns 1 on success.
M2D_HIDDEN int m2d_int8_descs(m2d_dnnl *c, int64_t M, int64_t N, int64_t K, dnnl_matmul_desc_t *md);
/// The cached Linear matmul for this shape (made now if there is none); NULL when oneDNN has none.
M2D_HIDDEN matmul_entry *m2d_matmul_for(m2d_dnnl *c, int64_t M, int64_t N, int64_t K, int accumulate, int has_bias);
/// Runs `prim` on `args` (n of them, room for one more) with `scratch` pointed at the shared scratchpad (it
/// may have moved since), and waits. Returns 0, 4 (execution failed) or 5 (the wait failed).
M2D_HIDDEN int m2d_execute(m2d_dnnl *c, dnnl_primitive_t prim, dnnl_memory_t scratch, dnnl_exec_arg_t *args, int n);
/// Makes room for one more entry in `*table` (`used` of `*capacity` taken, entries of `entry_bytes`),
/// doubling it, from `first` entries. Returns 1 on success; on failure the table is unchanged.
M2D_HIDDEN int m2d_reserve_entry(void **table, size_t *capacity, size_t used, size_t entry_bytes, size_t first);
/// Grows `*buffer` (64-byte aligned, `*held` bytes) to at least `bytes`; its contents are not kept.
/// Returns 1 on success; on failure the old buffer stays.
M2D_HIDDEN int m2d_reserve_aligned(void **buffer, size_t *held, size_t bytes);
/// Destroys every cached primitive and its memory objects (m2d_dnnl_close).
M2D_HIDDEN void m2d_free_primitives(m2d_dnnl *c);
/// Frees every weight copy and its int8 tables (m2d_dnnl_close).
M2D_HIDDEN void m2d_free_weights(m2d_dnnl *c);

#endif
