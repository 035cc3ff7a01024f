#pragma once
// Dynamic int8 quantization around an integer matrix product, for the int8 Linear layers
// (docs/INT8.md): activations per row (token), asymmetric, to 0...levels; weights per output
// channel, symmetric, to -limit...limit. Each call works on the rows [from, to), so callers can
// split a matrix over threads.
#include <stdint.h>

/// For each row m of x (rows, K): scale[m] = (max(x_m, 0) - min(x_m, 0)) / levels (1 when the row is
/// all zeros), zero[m] = round(-min(x_m, 0) / scale[m]), q[m, k] = clamp(round(x[m, k] / scale[m]) +
/// zero[m], 0, levels).
void m2d_quantize_rows(const float *x, int64_t K, int64_t from, int64_t to, int levels, uint8_t *q, float *scale,
                       int32_t *zero);

/// For each row m: y[m, n] = scale[m] * wscale[n] * (acc[m, n] - zero[m] * wsum[n]) + bias[n]
/// (+ y[m, n] when accumulate), acc (rows, N) the s32 product of q and the int8 weights, wsum[n] the
/// sum of weight row n's integers. bias may be NULL.
void m2d_dequantize_rows(const int32_t *acc, int64_t N, int64_t from, int64_t to, const float *scale,
                         const int32_t *zero, const float *wscale, const int32_t *wsum, const float *bias, float *y,
                         int accumulate);

/// W (N, K) row-major to q (N, K) int8: scale[n] = max|W_n| / limit (1 for a zero row), q = clamp(round(W /
/// scale[n]), -limit, limit), sum[n] = the sum of row n of q.
void m2d_quantize_weights(const float *W, int64_t N, int64_t K, int limit, int8_t *q, float *scale, int32_t *sum);
