// The measured peak of this machine's cores for make bench-peers: register-resident loops with enough
// independent accumulators to hide latency and keep both multiply pipes busy, one per thread, all
// threads at once.
//   fp32: vfmadd231ps ymm (AVX2+FMA: 8 lanes, 2 flops each)
//   int8: vpmaddubsw + vpmaddwd + vpaddd ymm, the AVX2 u8 x s8 dot product without VNNI (32 products of
//         a u8 and an s8 per triple, 2 ops each). Both multiplies issue on the FMA pipes, so the ceiling is
//         about twice fp32's; six chains on three u8 and two s8 operands keep both pipes fed (an earlier
//         loop had one u8 operand that changed every iteration, a dependency that read 20-25% low).
//   vnni: vpdpbusd zmm (AVX-512 VNNI: 64 products per instruction), where the CPU has it.
// Prints "fp32_gflops N", "int8_gops N" and, with VNNI, "vnni_gops N".
#include <cpuid.h>
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
    // Six chains: three u8 operands times two s8 ones. The empty asm tells the compiler the u8 operands may
    // have changed, so no product is hoisted out of the loop, at no cost and with no dependency.
    __m256i u0 = _mm256_set1_epi8(3), u1 = _mm256_set1_epi8(5), u2 = _mm256_set1_epi8(7);
    __m256i s0 = _mm256_set1_epi8(-2), s1 = _mm256_set1_epi8(1), ones = _mm256_set1_epi16(1);
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
#define DOT(c, u, s) c = _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), ones))
    for (long n = 0; n < ITERATIONS; n++) {
        DOT(c0, u0, s0); DOT(c1, u0, s1); DOT(c2, u1, s0); DOT(c3, u1, s1); DOT(c4, u2, s0); DOT(c5, u2, s1);
        __asm__ volatile("" : "+x"(u0), "+x"(u1), "+x"(u2));
    }
#undef DOT
    __m256i t = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                                 _mm256_add_epi32(c4, c5));
    *(int *)out = _mm256_extract_epi32(t, 0);
    return NULL;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void *vnni_loop(void *out) {
    // Eight chains on eight different operand pairs (four u8 times two s8), each from its own start: two
    // chains on the same pair from the same start are one chain to the compiler, which then counts it twice
    // (an earlier loop did that and read this peak 2x high).
    __m512i u0 = _mm512_set1_epi8(3), u1 = _mm512_set1_epi8(5), u2 = _mm512_set1_epi8(7), u3 = _mm512_set1_epi8(9);
    __m512i s0 = _mm512_set1_epi8(-2), s1 = _mm512_set1_epi8(1);
    __m512i c0 = _mm512_set1_epi32(0), c1 = _mm512_set1_epi32(1), c2 = _mm512_set1_epi32(2), c3 = _mm512_set1_epi32(3);
    __m512i c4 = _mm512_set1_epi32(4), c5 = _mm512_set1_epi32(5), c6 = _mm512_set1_epi32(6), c7 = _mm512_set1_epi32(7);
    for (long n = 0; n < ITERATIONS; n++) {
        c0 = _mm512_dpbusd_epi32(c0, u0, s0); c1 = _mm512_dpbusd_epi32(c1, u0, s1);
        c2 = _mm512_dpbusd_epi32(c2, u1, s0); c3 = _mm512_dpbusd_epi32(c3, u1, s1);
        c4 = _mm512_dpbusd_epi32(c4, u2, s0); c5 = _mm512_dpbusd_epi32(c5, u2, s1);
        c6 = _mm512_dpbusd_epi32(c6, u3, s0); c7 = _mm512_dpbusd_epi32(c7, u3, s1);
        __asm__ volatile("" : "+v"(u0), "+v"(u1), "+v"(u2), "+v"(u3));
    }
    __m512i t = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                                 _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)));
    *(int *)out = _mm512_reduce_add_epi32(t);
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

static int has_vnni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return ((b >> 16) & 1) && ((b >> 30) & 1) && ((c >> 11) & 1) && !getenv("M2D_MAX_ISA");
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1 || threads > 64) threads = 2;
    double t = run(fp32_loop, threads);
    printf("fp32_gflops %.1f\n", threads * (double)ITERATIONS * 10 * 8 * 2 / t / 1e9);
    t = run(int8_loop, threads);
    printf("int8_gops %.1f\n", threads * (double)ITERATIONS * 6 * 32 * 2 / t / 1e9);
    if (has_vnni()) {
        t = run(vnni_loop, threads);
        printf("vnni_gops %.1f\n", threads * (double)ITERATIONS * 8 * 64 * 2 / t / 1e9);
    }
    return 0;
}
