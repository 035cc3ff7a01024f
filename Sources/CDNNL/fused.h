#pragma once
// The fused encoder's context, shared by fused.c (weights, workspace) and fused_block.c (the steps).
#include "dnnl_context.h"
#include "m2d_kernels.h"

enum { M2D_FUSED_MAX_THREADS = 16 };

#if __has_include(<oneapi/dnnl/dnnl.h>)

/// Output channels per slice of a weight: each slice is packed on its own and always multiplied as a whole
/// on whole tiles, so an element's product is the same call whatever the thread count (fused_block.c's
/// product() shares the (slice, tile) pairs out by width). ViT-Base on 2 threads, alternating runs on
/// Zen 4: 384 ran 4-8% faster than 192.
enum { M2D_FUSED_SLICE = 384 };

/// How a weight is packed and multiplied.
enum { FUSED_F32 = 0, FUSED_INT8 = 1, FUSED_BF16 = 2 };

/// One Linear weight in slices of output channels: slice s is [s * M2D_FUSED_SLICE, min(N, (s + 1) * ...)).
typedef struct {
    const float *W;
    int64_t N, K, slice;
    int slices, kind;
    void **packed;
    /// int8: per-channel scales and the sums of each channel's integers (all N channels).
    float *scales;
    int32_t *sums;
} fused_weight;

struct m2d_fused {
    m2d_dnnl *c;
    m2d_team *team;
    int threads, int8, bf16;
    m2d_cpu cpu;
    m2d_attention_kernel attention;  // chosen by m2d_fused_reserve for the head width
    int64_t slice;
    void (*set_omp_threads)(int);
    fused_weight *weights;
    size_t n_weights, cap_weights;
    // The workspace, for rows_cap rows of width D and MLP width H:
    int64_t rows_cap, D, H, scratch_floats, bf16_width;
    float *ln;   // (rows, D): a LayerNorm's output (fp32)
    float *big;  // (rows, 4D) qkv then the attention output; the MLP's hidden (rows, H) over both
    uint8_t *q;  // int8: (rows, max(D, H)) the quantized input of the next product
    float *row_scale;
    int32_t *row_zero;
    double seconds[16];                     // per kind of step (fused_block.c's phases), for m2d_fused_profile
    int32_t *acc[M2D_FUSED_MAX_THREADS];    // int8: one tile's integer products per thread
    uint16_t *tile_bf16[M2D_FUSED_MAX_THREADS];  // bf16: one tile's input rows, converted, per thread
    float *scratch[M2D_FUSED_MAX_THREADS];  // attention's per-thread buffers
};

/// The packed weight W, or NULL when it was never prepared.
M2D_HIDDEN const fused_weight *m2d_fused_weight(const m2d_fused *f, const float *W, int64_t N, int64_t K);
/// Packs W (N,K) in slices as `kind` (FUSED_*), releasing its pages when `release`. 0 on success.
M2D_HIDDEN int m2d_fused_pack(m2d_fused *f, const float *W, int64_t N, int64_t K, int kind, int release);
/// The kind the context's own products have (the patch embedding is always FUSED_F32).
M2D_HIDDEN int m2d_fused_kind(const m2d_fused *f);
/// bf16: grows each thread's tile of converted input rows to K columns. 0 on success.
M2D_HIDDEN int m2d_fused_bf16_tiles(m2d_fused *f, int64_t K);
/// Grows the workspace for `rows` rows, sequences of at most `longest` rows, heads of width hd. 0 on success.
M2D_HIDDEN int m2d_fused_reserve(m2d_fused *f, int64_t rows, int64_t D, int64_t H, int64_t longest, int64_t hd);

#endif
