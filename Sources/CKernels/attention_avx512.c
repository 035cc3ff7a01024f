// Attention fused per (sequence, head) with AVX-512 (m2d_attention_head's algorithm in zmm registers):
// K transposed and V laid out once, then four query rows at a time: their scores over every key (32 keys
// per step), exponentiated in place, multiplied by V (32 channels per step). Twice the lanes of the AVX2
// kernel; on CPUs that split 512-bit operations in two, still half its instructions.
#include "m2d_kernels.h"
#include "m2d_vector_math.h"

#include <math.h>
#include <string.h>

enum { QR = 4 };

// Two accumulators of one broadcast operand.
#define FMA2(x, k0, k1, a, b) (a = _mm512_fmadd_ps(x, k0, a), b = _mm512_fmadd_ps(x, k1, b))

static int64_t round32(int64_t n) { return (n + 31) / 32 * 32; }

int64_t m2d_attention_scratch_avx512(int64_t n, int64_t hd) { return hd * round32(n) + n * hd + QR * round32(n); }

/// Row of scores -> probabilities in place over the first n (as the AVX2 kernel's softmax; padding zeroed).
M2D_AVX512 static void softmax_row(float *s, int64_t n, int64_t n32) {
    __m512 mv = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? 0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        mv = _mm512_mask_max_ps(mv, m, mv, _mm512_maskz_loadu_ps(m, s + j));
    }
    __m512 mm = _mm512_set1_ps(_mm512_reduce_max_ps(mv)), sv = _mm512_setzero_ps();
    for (int64_t j = 0; j < n32; j += 16) {
        __mmask16 m = j >= n ? 0 : n - j >= 16 ? 0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        __m512 e = _mm512_maskz_mov_ps(m, m2d_exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j), mm)));
        _mm512_storeu_ps(s + j, e);
        sv = _mm512_add_ps(sv, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sv));
    for (int64_t j = 0; j < n32; j += 16) _mm512_storeu_ps(s + j, _mm512_mul_ps(_mm512_loadu_ps(s + j), inv));
}

M2D_AVX512 void m2d_attention_head_avx512(const float *qkv, int64_t D, int64_t n, int64_t hd, int64_t h, float scale,
                                         float *out, float *scratch) {
    const int64_t ld = 3 * D, n32 = round32(n);
    float *kt = scratch, *v = kt + hd * n32, *s = v + n * hd;
    for (int64_t j = 0; j < n; j++) {
        const float *k = qkv + j * ld + D + h * hd;
        for (int64_t d = 0; d < hd; d++) kt[d * n32 + j] = k[d];
        memcpy(v + j * hd, qkv + j * ld + 2 * D + h * hd, (size_t)hd * sizeof(float));
    }
    for (int64_t d = 0; d < hd; d++)
        for (int64_t j = n; j < n32; j++) kt[d * n32 + j] = 0;
    const __m512 sc = _mm512_set1_ps(scale);
    for (int64_t i0 = 0; i0 < n; i0 += QR) {
        int rows = n - i0 < QR ? (int)(n - i0) : QR;
        const float *q0 = qkv + i0 * ld + h * hd, *q1 = rows > 1 ? q0 + ld : q0, *q2 = rows > 2 ? q0 + 2 * ld : q1,
                    *q3 = rows > 3 ? q0 + 3 * ld : q2;
        for (int64_t j = 0; j < n32; j += 32) {
            __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
                   a31 = a00;
            for (int64_t d = 0; d < hd; d++) {
                __m512 k0 = _mm512_loadu_ps(kt + d * n32 + j), k1 = _mm512_loadu_ps(kt + d * n32 + j + 16), x;
                x = _mm512_set1_ps(q0[d]); FMA2(x, k0, k1, a00, a01);
                x = _mm512_set1_ps(q1[d]); FMA2(x, k0, k1, a10, a11);
                x = _mm512_set1_ps(q2[d]); FMA2(x, k0, k1, a20, a21);
                x = _mm512_set1_ps(q3[d]); FMA2(x, k0, k1, a30, a31);
            }
            _mm512_storeu_ps(s + j, _mm512_mul_ps(a00, sc));
            _mm512_storeu_ps(s + j + 16, _mm512_mul_ps(a01, sc));
            _mm512_storeu_ps(s + n32 + j, _mm512_mul_ps(a10, sc));
            _mm512_storeu_ps(s + n32 + j + 16, _mm512_mul_ps(a11, sc));
            _mm512_storeu_ps(s + 2 * n32 + j, _mm512_mul_ps(a20, sc));
            _mm512_storeu_ps(s + 2 * n32 + j + 16, _mm512_mul_ps(a21, sc));
            _mm512_storeu_ps(s + 3 * n32 + j, _mm512_mul_ps(a30, sc));
            _mm512_storeu_ps(s + 3 * n32 + j + 16, _mm512_mul_ps(a31, sc));
        }
        for (int r = 0; r < QR; r++) softmax_row(s + r * n32, n, n32);
        for (int64_t c = 0; c < hd; c += 32) {
            __m512 o00 = _mm512_setzero_ps(), o01 = o00, o10 = o00, o11 = o00, o20 = o00, o21 = o00, o30 = o00,
                   o31 = o00;
            for (int64_t t = 0; t < n; t++) {
                __m512 v0 = _mm512_loadu_ps(v + t * hd + c), v1 = _mm512_loadu_ps(v + t * hd + c + 16), p;
                p = _mm512_set1_ps(s[t]); FMA2(p, v0, v1, o00, o01);
                p = _mm512_set1_ps(s[n32 + t]); FMA2(p, v0, v1, o10, o11);
                p = _mm512_set1_ps(s[2 * n32 + t]); FMA2(p, v0, v1, o20, o21);
                p = _mm512_set1_ps(s[3 * n32 + t]); FMA2(p, v0, v1, o30, o31);
            }
            __m512 o[QR][2] = {{o00, o01}, {o10, o11}, {o20, o21}, {o30, o31}};
            for (int r = 0; r < rows; r++) {
                float *dst = out + (i0 + r) * D + h * hd + c;
                _mm512_storeu_ps(dst, o[r][0]);
                _mm512_storeu_ps(dst + 16, o[r][1]);
            }
        }
    }
}
