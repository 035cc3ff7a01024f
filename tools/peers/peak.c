// The measured peak of this machine's cores for make bench-peers: register-resident loops with
// enough independent accumulators to hide latency, one per thread, all threads at once.
//   fp32: vfmadd231ps (AVX2+FMA, 8 lanes, 2 flops each)
//   int8: vpmaddubsw + vpmaddwd + vpaddd, the AVX2 u8 x s8 dot product without VNNI (32 products
//         of a u8 and an s8 per instruction triple, 2 ops each), or vpdpbusd where AVX-VNNI exists.
// Prints "fp32_gflops N" and "int8_gops N".
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { ITERATIONS = 40000000 };
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((target("avx2,fma"))) static void *fp32_loop(void *out) {
    // Ten named accumulators: the compiler keeps each in a register (an array may live in memory).
    __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2), a3 = _mm256_set1_ps(3);
    __m256 a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5), a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7);
    __m256 a8 = _mm256_set1_ps(8), a9 = _mm256_set1_ps(9);
    for (long n = 0; n < ITERATIONS; n++) {
        a0 = _mm256_fmadd_ps(a0, b, c); a1 = _mm256_fmadd_ps(a1, b, c); a2 = _mm256_fmadd_ps(a2, b, c);
        a3 = _mm256_fmadd_ps(a3, b, c); a4 = _mm256_fmadd_ps(a4, b, c); a5 = _mm256_fmadd_ps(a5, b, c);
        a6 = _mm256_fmadd_ps(a6, b, c); a7 = _mm256_fmadd_ps(a7, b, c); a8 = _mm256_fmadd_ps(a8, b, c);
        a9 = _mm256_fmadd_ps(a9, b, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(_mm256_add_ps(a6, a7),
                                                                                 _mm256_add_ps(a8, a9))));
    *(float *)out = _mm256_cvtss_f32(s);
    return NULL;
}

__attribute__((target("avx2"))) static void *int8_loop(void *out) {
    // Six accumulators and six distinct multipliers (with equal ones the compiler shares a
    // vpmaddubsw), u, its step and the ones: 15 of the 16 ymm registers, so nothing spills. u moves
    // every iteration, so no product is loop-invariant.
    __m256i u = _mm256_set1_epi8(3), step = _mm256_set1_epi8(1), ones = _mm256_set1_epi16(1);
    __m256i s0 = _mm256_set1_epi8(-2), s1 = _mm256_set1_epi8(1), s2 = _mm256_set1_epi8(2);
    __m256i s3 = _mm256_set1_epi8(-1), s4 = _mm256_set1_epi8(-3), s5 = _mm256_set1_epi8(3);
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
#define DOT(c, s) c = _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), ones))
    for (long n = 0; n < ITERATIONS; n++) {
        DOT(c0, s0); DOT(c1, s1); DOT(c2, s2); DOT(c3, s3); DOT(c4, s4); DOT(c5, s5);
        u = _mm256_add_epi8(u, step);
    }
#undef DOT
    __m256i t = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                                 _mm256_add_epi32(c4, c5));
    *(int *)out = _mm256_extract_epi32(t, 0);
    return NULL;
}

static double run(void *(*loop)(void *), int threads) {
    pthread_t id[64];
    int sink[64];
    double start = now();
    for (int i = 0; i < threads; i++) pthread_create(&id[i], NULL, loop, &sink[i]);
    for (int i = 0; i < threads; i++) pthread_join(id[i], NULL);
    return now() - start;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1 || threads > 64) threads = 2;
    double t = run(fp32_loop, threads);
    printf("fp32_gflops %.1f\n", threads * (double)ITERATIONS * 10 * 8 * 2 / t / 1e9);
    t = run(int8_loop, threads);
    printf("int8_gops %.1f\n", threads * (double)ITERATIONS * 6 * 32 * 2 / t / 1e9);
    return 0;
}
