// CPU feature detection for the kernels: cpuid leaf 7 for the instruction sets, xgetbv for the
// register state the OS saves (an AVX-512 CPU under an OS that does not save zmm cannot use it).
#include "m2d_kernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t saved_state(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

m2d_cpu m2d_cpu_detect(void) {
    m2d_cpu cpu = {M2D_ISA_SCALAR, 0, 0};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return cpu;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return cpu;
    uint64_t xcr0 = saved_state();
    if ((xcr0 & 0x6) != 0x6) return cpu;  // xmm and ymm state
    unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0, a71 = 0, b71 = 0, c71 = 0, d71 = 0;
    __cpuid_count(7, 0, a7, b7, c7, d7);
    __cpuid_count(7, 1, a71, b71, c71, d71);
    if (((b7 >> 5) & 1) && fma) cpu.isa = M2D_ISA_AVX2;
    int avx512 = ((b7 >> 16) & 1) && ((b7 >> 17) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1);  // F DQ BW VL
    if (cpu.isa == M2D_ISA_AVX2 && avx512 && (xcr0 & 0xE0) == 0xE0) {
        cpu.isa = M2D_ISA_AVX512;
        cpu.vnni = (c7 >> 11) & 1;
        cpu.bf16 = (a71 >> 5) & 1;
    }
    const char *cap = getenv("M2D_MAX_ISA");
    if (cap) {
        int limit = strcmp(cap, "scalar") == 0 ? M2D_ISA_SCALAR
                    : strcmp(cap, "avx2") == 0  ? M2D_ISA_AVX2
                                                : M2D_ISA_AVX512;
        if (cpu.isa > limit) cpu.isa = limit;
        if (cpu.isa < M2D_ISA_AVX512) cpu.vnni = cpu.bf16 = 0;
    }
    return cpu;
}
#else
m2d_cpu m2d_cpu_detect(void) {
    m2d_cpu cpu = {M2D_ISA_SCALAR, 0, 0};
    return cpu;
}
#endif

const char *m2d_isa_name(int isa) {
    switch (isa) {
    case M2D_ISA_AVX512: return "avx512";
    case M2D_ISA_AVX2: return "avx2";
    default: return "scalar";
    }
}
