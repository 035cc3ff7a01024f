#pragma once
// Vector exp and erf for the kernels' epilogues and softmax: the same approximations as
// Sources/M2DOps/VectorMath.swift (Cephes exp, the Eigen/XLA rational erf), so the fused paths agree with
// the unfused ones to a few ulp. Separate multiplies and adds (no FMA contraction), as there.
#include <immintrin.h>

#pragma clang fp contract(off)

#define M2D_AVX2 __attribute__((target("avx2,fma")))
#define M2D_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

#define M2D_ERF_BODY(V, set1, add, sub, mul, div, min, max)                                                       \
    x = min(max(x, set1(-4.0f)), set1(4.0f));                                                                      \
    V x2 = mul(x, x);                                                                                              \
    V p = set1(-2.72614225801306e-10f);                                                                            \
    p = add(mul(p, x2), set1(2.77068142495902e-08f));                                                              \
    p = sub(mul(p, x2), set1(2.10102402082508e-06f));                                                              \
    p = sub(mul(p, x2), set1(5.69250639462346e-05f));                                                              \
    p = sub(mul(p, x2), set1(7.34990630326855e-04f));                                                              \
    p = sub(mul(p, x2), set1(2.95459980854025e-03f));                                                              \
    p = sub(mul(p, x2), set1(1.60960333262415e-02f));                                                              \
    p = mul(p, x);                                                                                                 \
    V q = set1(-1.45660718464996e-05f);                                                                            \
    q = sub(mul(q, x2), set1(2.13374055278905e-04f));                                                              \
    q = sub(mul(q, x2), set1(1.68282697438203e-03f));                                                              \
    q = sub(mul(q, x2), set1(7.37332916720468e-03f));                                                              \
    q = sub(mul(q, x2), set1(1.42647390514189e-02f));                                                              \
    return div(p, q);

M2D_AVX2 static inline __m256 m2d_erf8(__m256 x) {
    M2D_ERF_BODY(__m256, _mm256_set1_ps, _mm256_add_ps, _mm256_sub_ps, _mm256_mul_ps, _mm256_div_ps, _mm256_min_ps,
                 _mm256_max_ps)
}

M2D_AVX512 static inline __m512 m2d_erf16(__m512 x) {
    M2D_ERF_BODY(__m512, _mm512_set1_ps, _mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps, _mm512_div_ps, _mm512_min_ps,
                 _mm512_max_ps)
}

/// 0.5 x (1 + erf(x / sqrt 2)), as GELU.swift computes it: (0.5 * x) * (1 + erf(x * 0.7071...)).
M2D_AVX2 static inline __m256 m2d_gelu8(__m256 x) {
    __m256 e = m2d_erf8(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

M2D_AVX512 static inline __m512 m2d_gelu16(__m512 x) {
    __m512 e = m2d_erf16(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

#define M2D_EXP_BODY(V, VI, set1, set1i, add, sub, mul, min, max, addi, subi, slli, castf, casti)               \
    x = min(max(x, set1(-87.3f)), set1(88.3f));                                                                    \
    V magic = set1(12582912.0f);                                                                                   \
    V shifted = add(mul(x, set1(1.44269504088896341f)), magic);                                                    \
    V n = sub(shifted, magic);                                                                                     \
    V r = sub(x, mul(n, set1(0.693359375f)));                                                                      \
    r = sub(r, mul(n, set1(-2.12194440e-4f)));                                                                     \
    V p = set1(1.9875691500e-4f);                                                                                  \
    p = add(mul(p, r), set1(1.3981999507e-3f));                                                                    \
    p = add(mul(p, r), set1(8.3334519073e-3f));                                                                    \
    p = add(mul(p, r), set1(4.1665795894e-2f));                                                                    \
    p = add(mul(p, r), set1(1.6666665459e-1f));                                                                    \
    p = add(mul(p, r), set1(5.0000001201e-1f));                                                                    \
    p = add(add(mul(p, mul(r, r)), r), set1(1.0f));                                                                \
    VI ni = subi(casti(shifted), casti(magic));                                                                    \
    return mul(p, castf(slli(addi(ni, set1i(127)), 23)));

/// e^x (Cephes, after range reduction; the rounding by the 1.5 * 2^23 trick), as VectorMath.exp.
M2D_AVX2 static inline __m256 m2d_exp8(__m256 x) {
    M2D_EXP_BODY(__m256, __m256i, _mm256_set1_ps, _mm256_set1_epi32, _mm256_add_ps, _mm256_sub_ps, _mm256_mul_ps,
                 _mm256_min_ps, _mm256_max_ps, _mm256_add_epi32, _mm256_sub_epi32, _mm256_slli_epi32,
                 _mm256_castsi256_ps, _mm256_castps_si256)
}

M2D_AVX512 static inline __m512 m2d_exp16(__m512 x) {
    M2D_EXP_BODY(__m512, __m512i, _mm512_set1_ps, _mm512_set1_epi32, _mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps,
                 _mm512_min_ps, _mm512_max_ps, _mm512_add_epi32, _mm512_sub_epi32, _mm512_slli_epi32,
                 _mm512_castsi512_ps, _mm512_castps_si512)
}

