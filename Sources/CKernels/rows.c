// Row kernels of the fused encoder: LayerNorm (as Sources/M2DOps/LayerNorm.swift: the mean, then the
// biased variance about it, 8 lanes accumulated then added) and the exact GELU, in AVX2.
#include "m2d_kernels.h"
#include "m2d_vector_math.h"

#include <math.h>

M2D_AVX2 static inline float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

M2D_AVX2 void m2d_layernorm_rows(const float *x, int64_t D, int64_t from, int64_t to, const float *w, const float *b,
                                 float eps, float *out) {
    for (int64_t r = from; r < to; r++) {
        const float *row = x + r * D;
        float *y = out + r * D;
        __m256 acc = _mm256_setzero_ps();
        int64_t c = 0;
        for (; c + 8 <= D; c += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(row + c));
        float sum = horizontal_sum(acc);
        for (; c < D; c++) sum += row[c];
        float mu = sum / (float)D;
        __m256 m = _mm256_set1_ps(mu);
        acc = _mm256_setzero_ps();
        for (c = 0; c + 8 <= D; c += 8) {
            __m256 d = _mm256_sub_ps(_mm256_loadu_ps(row + c), m);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(d, d));
        }
        float sq = horizontal_sum(acc);
        for (; c < D; c++) sq += (row[c] - mu) * (row[c] - mu);
        float rs = 1.0f / sqrtf(sq / (float)D + eps);
        __m256 s = _mm256_set1_ps(rs);
        for (c = 0; c + 8 <= D; c += 8) {
            __m256 centred = _mm256_sub_ps(_mm256_loadu_ps(row + c), m);
            __m256 v = _mm256_mul_ps(_mm256_mul_ps(centred, s), _mm256_loadu_ps(w + c));
            _mm256_storeu_ps(y + c, _mm256_add_ps(v, _mm256_loadu_ps(b + c)));
        }
        for (; c < D; c++) y[c] = (row[c] - mu) * rs * w[c] + b[c];
    }
}

M2D_AVX2 void m2d_gelu(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, m2d_gelu8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float lane[8] = {0};
        for (int64_t j = i; j < n; j++) lane[j - i] = x[j];
        _mm256_storeu_ps(lane, m2d_gelu8(_mm256_loadu_ps(lane)));
        for (int64_t j = i; j < n; j++) x[j] = lane[j - i];
    }
}
