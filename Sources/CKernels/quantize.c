// Dynamic int8 quantization around an integer matrix product, for the int8 Linear layers
// (docs/INT8.md): activations per row (token), asymmetric, to 0...levels; weights per output channel,
// symmetric, to -limit...limit. Each call works on the rows [from, to), so callers can split a
// matrix over threads or tiles.
#include "m2d_kernels.h"

#include <math.h>

// Built for the baseline x86-64 and for AVX2+FMA; the loader picks the clone the CPU runs.
#if defined(__x86_64__) && defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define VECTOR_CLONES
#endif

VECTOR_CLONES
void m2d_quantize_rows(const float *x, int64_t K, int64_t from, int64_t to, int levels, uint8_t *q, float *scale,
                       int32_t *zero) {
    for (int64_t m = from; m < to; m++) {
        const float *row = x + m * K;
        float lo = 0, hi = 0;
        for (int64_t k = 0; k < K; k++) {
            lo = row[k] < lo ? row[k] : lo;
            hi = row[k] > hi ? row[k] : hi;
        }
        float s = (hi - lo) / (float)levels;
        if (!(s > 0) || !isfinite(s)) s = 1;
        float inverse = 1 / s, z = nearbyintf(-lo * inverse), top = (float)levels;
        scale[m] = s;
        zero[m] = (int32_t)z;
        uint8_t *out = q + m * K;
        for (int64_t k = 0; k < K; k++) {
            float v = row[k] * inverse + z;
            v = v < 0 ? 0 : (v > top ? top : v);
            out[k] = (uint8_t)(int32_t)(v + 0.5f);  // v >= 0: truncation after +0.5 rounds half up
        }
    }
}

VECTOR_CLONES
void m2d_dequantize_rows(const int32_t *acc, int64_t N, int64_t from, int64_t to, const float *scale,
                         const int32_t *zero, const float *wscale, const int32_t *wsum, const float *bias, float *y,
                         int accumulate) {
    for (int64_t m = from; m < to; m++) {
        const int32_t *a = acc + m * N;
        float *out = y + m * N, s = scale[m];
        int32_t z = zero[m];
        if (accumulate) {
            for (int64_t n = 0; n < N; n++)
                out[n] += s * wscale[n] * (float)(a[n] - z * wsum[n]) + (bias ? bias[n] : 0.0f);
        } else {
            for (int64_t n = 0; n < N; n++)
                out[n] = s * wscale[n] * (float)(a[n] - z * wsum[n]) + (bias ? bias[n] : 0.0f);
        }
    }
}

void m2d_quantize_weights(const float *W, int64_t N, int64_t K, int limit, int8_t *q, float *scale, int32_t *sum) {
    for (int64_t n = 0; n < N; n++) {
        const float *row = W + n * K;
        float amax = 0;
        for (int64_t k = 0; k < K; k++) amax = fabsf(row[k]) > amax ? fabsf(row[k]) : amax;
        float s = amax / (float)limit;
        if (!(s > 0) || !isfinite(s)) s = 1;
        int32_t total = 0;
        for (int64_t k = 0; k < K; k++) {
            float v = nearbyintf(row[k] / s);
            v = v < -limit ? (float)-limit : (v > limit ? (float)limit : v);
            q[n * K + k] = (int8_t)v;
            total += (int32_t)v;
        }
        scale[n] = s;
        sum[n] = total;
    }
}
