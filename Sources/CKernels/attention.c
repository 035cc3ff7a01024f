// Attention fused per (sequence, head): the scores of four query rows at a time (q . k over the head's
// 64 dims, times the scale) go to a small buffer, are turned into probabilities there, and are
// multiplied by V at once, so no score matrix of the whole head ever exists and everything stays in L1
// and L2. K is first laid out transposed (keys along a vector) and V contiguous (one row per key).
// The same kernel runs for any batch: a sequence's result never depends on the others.
#include "m2d_kernels.h"
#include "m2d_vector_math.h"

#include <math.h>
#include <string.h>

enum { QR = 4 };  // query rows per step

// Two accumulators of one broadcast operand; a row's two stored halves, scaled.
#define FMA2(x, k0, k1, a, b) (a = _mm256_fmadd_ps(x, k0, a), b = _mm256_fmadd_ps(x, k1, b))
#define STORE2(at, a, b, scale) (_mm256_storeu_ps(at, _mm256_mul_ps(a, scale)), \
                                 _mm256_storeu_ps((at) + 8, _mm256_mul_ps(b, scale)))

static int64_t round8(int64_t n) { return (n + 7) / 8 * 8; }

int64_t m2d_attention_scratch(int64_t n, int64_t hd) { return hd * round8(n) + n * hd + QR * round8(n); }

M2D_AVX2 static inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

M2D_AVX2 static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Row of scores -> probabilities in place: exp(s - max) / sum over the first n; the padding is zeroed.
M2D_AVX2 static void softmax_row(float *s, int64_t n, int64_t n8) {
    __m256 mv = _mm256_set1_ps(-INFINITY);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(s + j));
    float m = hmax(mv);
    for (; j < n; j++) m = s[j] > m ? s[j] : m;
    __m256 mm = _mm256_set1_ps(m), sv = _mm256_setzero_ps();
    for (j = 0; j + 8 <= n; j += 8) {
        __m256 e = m2d_exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), mm));
        _mm256_storeu_ps(s + j, e);
        sv = _mm256_add_ps(sv, e);
    }
    float sum = hsum(sv);
    if (j < n) {
        float lane[8] = {0};
        for (int64_t t = j; t < n; t++) lane[t - j] = s[t] - m;
        _mm256_storeu_ps(lane, m2d_exp8(_mm256_loadu_ps(lane)));
        for (int64_t t = j; t < n; t++) {
            s[t] = lane[t - j];
            sum += lane[t - j];
        }
    }
    float inv = 1.0f / sum;
    __m256 iv = _mm256_set1_ps(inv);
    for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), iv));
    for (; j < n; j++) s[j] *= inv;
    for (j = n; j < n8; j++) s[j] = 0;
}

M2D_AVX2 void m2d_attention_head(const float *qkv, int64_t D, int64_t n, int64_t hd, int64_t h, float scale,
                                 float *out, float *scratch) {
    const int64_t ld = 3 * D, n8 = round8(n);
    float *kt = scratch, *v = kt + hd * n8, *s = v + n * hd;
    // K transposed (hd, n8), zero past n; V (n, hd).
    for (int64_t j = 0; j < n; j++) {
        const float *k = qkv + j * ld + D + h * hd, *vj = qkv + j * ld + 2 * D + h * hd;
        for (int64_t d = 0; d < hd; d++) kt[d * n8 + j] = k[d];
        memcpy(v + j * hd, vj, (size_t)hd * sizeof(float));
    }
    for (int64_t d = 0; d < hd; d++)
        for (int64_t j = n; j < n8; j++) kt[d * n8 + j] = 0;
    const __m256 sc = _mm256_set1_ps(scale);
    for (int64_t i0 = 0; i0 < n; i0 += QR) {
        int rows = n - i0 < QR ? (int)(n - i0) : QR;
        const float *q[QR];
        for (int r = 0; r < QR; r++) q[r] = qkv + (i0 + (r < rows ? r : rows - 1)) * ld + h * hd;
        // Scores, 4 rows x 16 keys at a time (8 accumulators).
        int64_t j = 0;
        for (; j + 16 <= n8; j += 16) {
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
                   a31 = a00;
            for (int64_t d = 0; d < hd; d++) {
                __m256 k0 = _mm256_loadu_ps(kt + d * n8 + j), k1 = _mm256_loadu_ps(kt + d * n8 + j + 8), x;
                x = _mm256_broadcast_ss(q[0] + d); FMA2(x, k0, k1, a00, a01);
                x = _mm256_broadcast_ss(q[1] + d); FMA2(x, k0, k1, a10, a11);
                x = _mm256_broadcast_ss(q[2] + d); FMA2(x, k0, k1, a20, a21);
                x = _mm256_broadcast_ss(q[3] + d); FMA2(x, k0, k1, a30, a31);
            }
            STORE2(s + 0 * n8 + j, a00, a01, sc);
            STORE2(s + 1 * n8 + j, a10, a11, sc);
            STORE2(s + 2 * n8 + j, a20, a21, sc);
            STORE2(s + 3 * n8 + j, a30, a31, sc);
        }
        for (; j < n8; j += 8) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t d = 0; d < hd; d++) {
                __m256 k0 = _mm256_loadu_ps(kt + d * n8 + j);
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[0] + d), k0, a0);
                a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[1] + d), k0, a1);
                a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[2] + d), k0, a2);
                a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[3] + d), k0, a3);
            }
            _mm256_storeu_ps(s + 0 * n8 + j, _mm256_mul_ps(a0, sc));
            _mm256_storeu_ps(s + 1 * n8 + j, _mm256_mul_ps(a1, sc));
            _mm256_storeu_ps(s + 2 * n8 + j, _mm256_mul_ps(a2, sc));
            _mm256_storeu_ps(s + 3 * n8 + j, _mm256_mul_ps(a3, sc));
        }
        for (int r = 0; r < QR; r++) softmax_row(s + r * n8, n, n8);
        // Output, 4 rows x 16 channels at a time, over every key.
        for (int64_t c = 0; c < hd; c += 16) {
            __m256 o00 = _mm256_setzero_ps(), o01 = o00, o10 = o00, o11 = o00, o20 = o00, o21 = o00, o30 = o00,
                   o31 = o00;
            for (int64_t t = 0; t < n; t++) {
                __m256 v0 = _mm256_loadu_ps(v + t * hd + c), v1 = _mm256_loadu_ps(v + t * hd + c + 8), p;
                p = _mm256_broadcast_ss(s + 0 * n8 + t); FMA2(p, v0, v1, o00, o01);
                p = _mm256_broadcast_ss(s + 1 * n8 + t); FMA2(p, v0, v1, o10, o11);
                p = _mm256_broadcast_ss(s + 2 * n8 + t); FMA2(p, v0, v1, o20, o21);
                p = _mm256_broadcast_ss(s + 3 * n8 + t); FMA2(p, v0, v1, o30, o31);
            }
            __m256 o[QR][2] = {{o00, o01}, {o10, o11}, {o20, o21}, {o30, o31}};
            for (int r = 0; r < rows; r++) {
                float *dst = out + (i0 + r) * D + h * hd + c;
                _mm256_storeu_ps(dst, o[r][0]);
                _mm256_storeu_ps(dst + 8, o[r][1]);
            }
        }
    }
}

m2d_attention_kernel m2d_attention_for(m2d_cpu cpu, int64_t hd) {
    if (cpu.isa >= M2D_ISA_AVX512 && hd % 32 == 0)
        return (m2d_attention_kernel){m2d_attention_head_avx512, m2d_attention_scratch_avx512, "avx512"};
    return (m2d_attention_kernel){m2d_attention_head, m2d_attention_scratch, "avx2"};
}
