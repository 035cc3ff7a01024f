#include "packed_gemm.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

// The API is Fortran's (column-major), so a row-major y (M,N) = x (M,K) . W^T is y^T (N,M) =
// W' (N,K) . x^T (K,M) in its terms: A is W (row-major (N,K) = column-major (K,N), so "T" with
// lda = K), B is x ("N", ldb = K) and C is y (ldc = N). A is the packed operand.

int packed_gemm_load(void *lib, packed_gemm_api *api) {
    memset(api, 0, sizeof *api);
    *(void **)&api->f32_size = dlsym(lib, "_ZN4dnnl4impl3cpu19sgemm_pack_get_sizeEPKcS3_S3_PKlS5_S5_S5_S5_PmPb");
    *(void **)&api->f32_pack = dlsym(lib, "_ZN4dnnl4impl3cpu10sgemm_packEPKcS3_S3_PKlS5_S5_S5_S5_PKfPf");
    *(void **)&api->f32_compute = dlsym(lib, "_ZN4dnnl4impl3cpu13sgemm_computeEPKcS3_PKlS5_S5_PKfS5_S7_S5_S7_PfS5_");
    *(void **)&api->s8_size =
        dlsym(lib, "_ZN4dnnl4impl3cpu26gemm_s8u8s32_pack_get_sizeEPKcS3_S3_PKlS5_S5_S5_S5_PmPb");
    *(void **)&api->s8_pack = dlsym(lib, "_ZN4dnnl4impl3cpu17gemm_s8u8s32_packEPKcS3_S3_PKlS5_S5_S5_S5_PKvPv");
    *(void **)&api->s8_compute =
        dlsym(lib, "_ZN4dnnl4impl3cpu20gemm_s8u8s32_computeEPKcS3_S3_PKlS5_S5_PKaS5_PKhS5_PKfPiS5_PKi");
    *(void **)&api->bf16_size =
        dlsym(lib, "_ZN4dnnl4impl3cpu30gemm_bf16bf16f32_pack_get_sizeEPKcS3_S3_PKlS5_S5_S5_S5_PmPb");
    *(void **)&api->bf16_pack =
        dlsym(lib, "_ZN4dnnl4impl3cpu21gemm_bf16bf16f32_packEPKcS3_S3_PKlS5_S5_S5_S5_PKNS0_10bfloat16_tEPS6_");
    *(void **)&api->bf16_compute =
        dlsym(lib, "_ZN4dnnl4impl3cpu24gemm_bf16bf16f32_computeEPKcS3_PKlS5_S5_PKNS0_10bfloat16_tES5_S8_S5_PKfPfS5_");
    if (!api->bf16_size || !api->bf16_pack) api->bf16_compute = NULL;
    return api->f32_size && api->f32_pack && api->f32_compute && api->s8_size && api->s8_pack && api->s8_compute;
}

static void *pack(packed_size_fn size_of, packed_pack_fn pack_into, const void *W, int64_t N, int64_t K, int64_t M,
                  size_t *bytes) {
    packed_dim n = N, m = M > 0 ? M : 1, k = K;
    size_t size = 0;
    if (size_of("A", "T", "N", &n, &m, &k, &k, &k, &size, NULL) != 0 || size == 0) return NULL;
    void *packed = aligned_alloc(64, (size + 63) / 64 * 64);
    if (!packed) return NULL;
    if (pack_into("A", "T", "N", &n, &m, &k, &k, &k, W, packed) != 0) {
        free(packed);
        return NULL;
    }
    *bytes = size;
    return packed;
}

void *packed_gemm_pack_f32(const packed_gemm_api *api, const float *W, int64_t N, int64_t K, int64_t M,
                           size_t *bytes) {
    return pack(api->f32_size, api->f32_pack, W, N, K, M, bytes);
}

void *packed_gemm_pack_s8(const packed_gemm_api *api, const int8_t *W, int64_t N, int64_t K, int64_t M,
                          size_t *bytes) {
    return pack(api->s8_size, api->s8_pack, W, N, K, M, bytes);
}

void *packed_gemm_pack_bf16(const packed_gemm_api *api, const uint16_t *W, int64_t N, int64_t K, int64_t M,
                            size_t *bytes) {
    return api->bf16_compute ? pack(api->bf16_size, api->bf16_pack, W, N, K, M, bytes) : NULL;
}

// The packed API has no bias: it goes into y first (added to the residual, or written over y), and one
// product with beta = 1 then adds x . W^T to both. Returns the beta to multiply with.
static float prefill_bias(float *y, int64_t M, int64_t N, int64_t ldy, const float *bias, int accumulate) {
    if (bias) {
        for (int64_t m = 0; m < M; m++) {
            float *row = y + m * ldy;
            if (accumulate) {
                for (int64_t n = 0; n < N; n++) row[n] += bias[n];
            } else {
                memcpy(row, bias, (size_t)N * sizeof(float));
            }
        }
    }
    return bias || accumulate ? 1.0f : 0.0f;
}

int packed_gemm_linear_f32(const packed_gemm_api *api, const void *W, const float *x, int64_t M, int64_t K,
                           int64_t N, const float *bias, float *y, int accumulate) {
    return packed_gemm_linear_f32_ld(api, W, x, M, K, N, bias, y, N, accumulate);
}

int packed_gemm_linear_f32_ld(const packed_gemm_api *api, const void *W, const float *x, int64_t M, int64_t K,
                              int64_t N, const float *bias, float *y, int64_t ldy, int accumulate) {
    if (M == 0 || N == 0) return 0;
    float beta = prefill_bias(y, M, N, ldy, bias, accumulate);
    packed_dim n = N, m = M, k = K, ld = ldy;
    return api->f32_compute("P", "N", &n, &m, &k, W, &k, x, &k, &beta, y, &ld) == 0 ? 0 : 4;
}

int packed_gemm_linear_bf16_ld(const packed_gemm_api *api, const void *W, const uint16_t *x, int64_t M, int64_t K,
                               int64_t N, const float *bias, float *y, int64_t ldy, int accumulate) {
    if (M == 0 || N == 0) return 0;
    float beta = prefill_bias(y, M, N, ldy, bias, accumulate);
    packed_dim n = N, m = M, k = K, ld = ldy;
    return api->bf16_compute("P", "N", &n, &m, &k, W, &k, x, &k, &beta, y, &ld) == 0 ? 0 : 4;
}

int packed_gemm_product_s8(const packed_gemm_api *api, const void *W, const uint8_t *q, int64_t M, int64_t K,
                           int64_t N, int32_t *acc) {
    if (M == 0 || N == 0) return 0;
    packed_dim n = N, m = M, k = K;
    float beta = 0;
    int32_t offset = 0;
    return api->s8_compute("P", "N", "F", &n, &m, &k, W, &k, q, &k, &beta, acc, &n, &offset) == 0 ? 0 : 4;
}
