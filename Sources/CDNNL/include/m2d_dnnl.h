#pragma once
// oneDNN matmul backend for Linear layers: y (M,N) = x (M,K) . W^T (+ bias) (+ y), W stored (N,K)
// row-major as in torch.nn.Linear. libdnnl is loaded at run time (dlopen), so binaries work on
// machines without it; primitives are created once per shape and cached, and each weight is
// reordered once into the layout oneDNN prefers. A context is used by one thread at a time.
#include <stddef.h>
#include <stdint.h>

typedef struct m2d_dnnl m2d_dnnl;

enum { M2D_DNNL_FP32 = 0, M2D_DNNL_BF16 = 1, M2D_DNNL_INT8 = 2 };

/// Opens libdnnl and creates a CPU engine for `precision`. BF16 runs the products in bfloat16
/// (weights kept in bf16 only, activations converted per call, results in f32). INT8 keeps
/// per-channel int8 weights and takes products through m2d_dnnl_linear_s8. NULL when unavailable;
/// the reason is written to `error`.
m2d_dnnl *m2d_dnnl_open(int precision, char *error, size_t error_length);
void m2d_dnnl_close(m2d_dnnl *ctx);

/// With `on`, every weight reordered from now on has the whole pages of its original returned to
/// the system (madvise DONTNEED: anonymous memory then reads as zeros), so only oneDNN's copy stays
/// resident. Only for a context that is the sole reader of the weights it is given.
void m2d_dnnl_release_sources(m2d_dnnl *ctx, int on);

/// Makes oneDNN's copy of W (N,K) now, in the layout a product with M rows prefers (releasing W's
/// pages under m2d_dnnl_release_sources), so a loader can hand weights over one at a time. Later
/// products with other M reuse the copy, or re-lay it out from the copy. Returns 0 on success.
int m2d_dnnl_prepare_linear(m2d_dnnl *ctx, const float *W, int64_t N, int64_t K, int64_t M);

/// y = x . W^T + bias (+ y when accumulate), FP32 and BF16 contexts. Returns 0 on success.
int m2d_dnnl_linear(m2d_dnnl *ctx, const float *x, int64_t M, int64_t K, const float *W, int64_t N,
                    const float *bias, float *y, int accumulate);

/// The most rows of one int8 product (callers split taller ones into tiles of this height).
enum { M2D_DNNL_INT8_TILE_ROWS = 256 };

/// INT8 contexts: acc (M,N) s32 = q (M,K) u8 . Wq^T, Wq the int8 copy of W (N,K) (made on first use,
/// see m2d_kernels.h), M <= M2D_DNNL_INT8_TILE_ROWS; *scales and *sums point at Wq's per-channel scales
/// and row sums, for m2d_dequantize_rows. Returns 0 on success (8: more rows than a tile).
int m2d_dnnl_linear_s8(m2d_dnnl *ctx, const uint8_t *q, int64_t M, int64_t K, const float *W, int64_t N, int32_t *acc,
                       const float **scales, const int32_t **sums);

/// INT8 contexts: the integer ranges this CPU's kernel takes without saturating (weights within
/// -weight_limit...weight_limit, activations within 0...activation_levels).
void m2d_dnnl_int8_ranges(m2d_dnnl *ctx, int *weight_limit, int *activation_levels);

/// C (M,N) = alpha * op(A) (M,K) . op(B) (K,N) + beta * C, row-major with leading dimensions, on the
/// callers' memory as it is (no reordered copies), for operands that change between calls (training).
/// Primitives are cached per shape, strides, alpha and beta. Always fp32. Returns 0 on success.
int m2d_dnnl_gemm(m2d_dnnl *ctx, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/// For b < batch: C_b (M,N) = alpha * A_b (M,K) . B_b (K,N) + beta * C_b, every operand addressed
/// by its own (batch, row, column) strides in floats, so e.g. all heads of attention are one call.
/// fp32. Returns 0 on success.
int m2d_dnnl_batched_gemm(m2d_dnnl *ctx, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, const int64_t a_strides[3], const float *B, const int64_t b_strides[3],
                          float beta, float *C, const int64_t c_strides[3]);

/// The implementation oneDNN chose for the last primitive created (e.g. "brg:avx512_core").
const char *m2d_dnnl_impl(m2d_dnnl *ctx);
/// 1 when the Linear layers run on weights packed once for oneDNN's GEMM (see packed_gemm.h), 0 when
/// they run through the matmul primitive (M2D_DNNL_PACKED=0, bf16, or a libdnnl without the packed API).
int m2d_dnnl_packed(m2d_dnnl *ctx);
/// Runs the Linear layers through the matmul primitive even where the packed GEMM is there (to compare
/// the two). Only before the context's first weight.
void m2d_dnnl_run_unpacked(m2d_dnnl *ctx);
/// "major.minor.patch".
const char *m2d_dnnl_version(m2d_dnnl *ctx);
/// Bytes held by reordered weights.
size_t m2d_dnnl_weight_bytes(m2d_dnnl *ctx);

// ---------------------------------------------------------------- the fused encoder

/// The inference encoder's blocks as a few steps of one thread team (m2d_kernels.h), oneDNN's packed GEMM
/// running single-threaded inside each team thread on tiles of M2D_FUSED_TILE rows and a fixed slice of
/// output channels, with everything around the products done on the tile while it is in cache: LayerNorm,
/// bias, GELU, the residual add, int8 quantization and dequantization, and attention per (sequence, head).
/// Every sequence starts at a multiple of the tile, so a row's result is the same in any batch.
typedef struct m2d_fused m2d_fused;

enum { M2D_FUSED_TILE = 32 };

/// NULL when the context cannot run it (bf16, or no packed GEMM); the reason goes to `error`.
m2d_fused *m2d_fused_open(m2d_dnnl *ctx, int threads, char *error, size_t error_length);
void m2d_fused_close(m2d_fused *f);
int m2d_fused_threads(const m2d_fused *f);

/// Packs W (N,K) now (quantized first for int8), one slice of output channels per thread, releasing W's
/// pages when the context releases sources. Products look W up by its address. Returns 0 on success.
int m2d_fused_prepare(m2d_fused *f, const float *W, int64_t N, int64_t K);

/// y (rows,N) = x (rows,K) . W^T + bias, rows a multiple of the tile (the patch embedding). 0 on success.
int m2d_fused_linear(m2d_fused *f, const float *W, int64_t N, int64_t K, const float *x, int64_t rows,
                     const float *bias, float *y);

/// y (M,N) = x (M,K) . W^T + bias (+ y when accumulate) for any M, on W's packed slices (packed now, its pages
/// kept, when it never was): rows past the last whole tile go through a padded copy; an int8 context
/// quantizes x's rows first. For callers outside the encoder's steps (GEMMEngine.linear). 0 on success.
int m2d_fused_product(m2d_fused *f, const float *W, int64_t N, int64_t K, const float *x, int64_t M,
                      const float *bias, float *y, int accumulate);

/// One pre-norm ViT block's tensors (timm order). The Linear weights are keys (their pages may be gone).
typedef struct {
    const float *norm1_w, *norm1_b, *qkv_w, *qkv_b, *proj_w, *proj_b, *norm2_w, *norm2_b, *fc1_w, *fc1_b, *fc2_w,
        *fc2_b;
} m2d_block_params;

/// x (rows, D) <- block(x): x += proj(attn(qkv(ln1(x)))); x += fc2(gelu(fc1(ln2(x)))). `rows` is a multiple of
/// the tile; sequence s spans rows [starts[s], starts[s] + lengths[s]) with starts[s] a multiple of the tile
/// (rows between sequences are padding: finite, never read back). Returns 0 on success.
int m2d_fused_block(m2d_fused *f, const m2d_block_params *p, float *x, int64_t rows, const int64_t *starts,
                    const int64_t *lengths, int64_t sequences, int64_t D, int64_t H, int64_t heads);

/// The wall time spent in each kind of step since the last reset (every thread of the team works in every
/// step, so this is both cores' time): up to `capacity` (name, seconds) pairs; returns how many.
int m2d_fused_profile(m2d_fused *f, const char **names, double *seconds, int capacity, int reset);

/// out (rows, D) = LayerNorm(x) * w + b (eps 1e-6), rows split over the team.
void m2d_fused_layernorm(m2d_fused *f, const float *x, int64_t rows, int64_t D, const float *w, const float *b,
                         float *out);
