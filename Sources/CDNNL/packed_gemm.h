#pragma once
// oneDNN's packed GEMM: the entry points its RNN primitives use to lay a weight out once
// (sgemm_pack, gemm_s8u8s32_pack) and multiply with it many times (..._compute). The matmul
// primitive of oneDNN 2.6 on AVX2 re-packs the weight inside every call, which at one chunk's
// 191 rows costs as much as a quarter of the product. libdnnl exports these as C++ functions
// (dnnl::impl::cpu, beside its C API), so they are looked up by their mangled names; the names
// encode every parameter type, so a changed signature is a missing symbol, never a wrong call.
// Without them the matmul primitive runs (dnnl_primitives.c).
#include <stddef.h>
#include <stdint.h>

typedef int64_t packed_dim;

typedef int (*packed_size_fn)(const char *id, const char *ta, const char *tb, const packed_dim *M, const packed_dim *N,
                              const packed_dim *K, const packed_dim *lda, const packed_dim *ldb, size_t *size,
                              _Bool *pack);
typedef int (*packed_pack_fn)(const char *id, const char *ta, const char *tb, const packed_dim *M, const packed_dim *N,
                              const packed_dim *K, const packed_dim *lda, const packed_dim *ldb, const void *src,
                              void *dst);
typedef int (*packed_f32_fn)(const char *ta, const char *tb, const packed_dim *M, const packed_dim *N,
                             const packed_dim *K, const float *A, const packed_dim *lda, const float *B,
                             const packed_dim *ldb, const float *beta, float *C, const packed_dim *ldc);
typedef int (*packed_s8u8_fn)(const char *ta, const char *tb, const char *offsetc, const packed_dim *M,
                              const packed_dim *N, const packed_dim *K, const int8_t *A, const packed_dim *lda,
                              const uint8_t *B, const packed_dim *ldb, const float *beta, int32_t *C,
                              const packed_dim *ldc, const int32_t *co);

typedef int (*packed_bf16_fn)(const char *ta, const char *tb, const packed_dim *M, const packed_dim *N,
                              const packed_dim *K, const uint16_t *A, const packed_dim *lda, const uint16_t *B,
                              const packed_dim *ldb, const float *beta, float *C, const packed_dim *ldc);

typedef struct {
    packed_size_fn f32_size, s8_size, bf16_size;
    packed_pack_fn f32_pack, s8_pack, bf16_pack;
    packed_f32_fn f32_compute;
    packed_s8u8_fn s8_compute;
    /// bf16 x bf16 -> f32 (NULL in a libdnnl without it; it runs on AVX-512 BF16 only).
    packed_bf16_fn bf16_compute;
} packed_gemm_api;

/// Resolves the entry points in `lib` (a dlopen handle). Returns 1 when the fp32 and int8 ones are there
/// (the bf16 ones are optional).
int packed_gemm_load(void *lib, packed_gemm_api *api);

/// oneDNN's packed copy of W (N,K) row-major (fp32, or int8 for `packed_gemm_pack_s8`), laid out and
/// split over threads for products of about M rows (any row count works later). Returns NULL on
/// failure; *bytes gets the copy's size. Free with free().
void *packed_gemm_pack_f32(const packed_gemm_api *api, const float *W, int64_t N, int64_t K, int64_t M,
                           size_t *bytes);
void *packed_gemm_pack_s8(const packed_gemm_api *api, const int8_t *W, int64_t N, int64_t K, int64_t M,
                          size_t *bytes);

/// y (M,N) = x (M,K) . W^T + bias (+ y when accumulate), W packed by packed_gemm_pack_f32; bias may
/// be NULL. Returns 0 on success.
int packed_gemm_linear_f32(const packed_gemm_api *api, const void *W, const float *x, int64_t M, int64_t K,
                           int64_t N, const float *bias, float *y, int accumulate);
/// The same with y's rows `ldy` floats apart (a slice of wider rows).
int packed_gemm_linear_f32_ld(const packed_gemm_api *api, const void *W, const float *x, int64_t M, int64_t K,
                              int64_t N, const float *bias, float *y, int64_t ldy, int accumulate);

/// oneDNN's packed copy of W (N,K) row-major in bfloat16 (as packed_gemm_pack_f32).
void *packed_gemm_pack_bf16(const packed_gemm_api *api, const uint16_t *W, int64_t N, int64_t K, int64_t M,
                            size_t *bytes);

/// y (M,N) at ldy = x (M,K) bf16 . W^T + bias (+ y when accumulate), accumulated in fp32; W packed by
/// packed_gemm_pack_bf16. Returns 0 on success.
int packed_gemm_linear_bf16_ld(const packed_gemm_api *api, const void *W, const uint16_t *x, int64_t M, int64_t K,
                               int64_t N, const float *bias, float *y, int64_t ldy, int accumulate);

/// acc (M,N) s32 = q (M,K) u8 . W^T s8, W packed by packed_gemm_pack_s8. Returns 0 on success.
int packed_gemm_product_s8(const packed_gemm_api *api, const void *W, const uint8_t *q, int64_t M, int64_t K,
                           int64_t N, int32_t *acc);
