// When the Swift targets are compiled for AVX2+FMA (Package.swift does so when the build machine
// has them), a binary moved to a CPU without them would die of SIGILL at its first vector loop.
// This constructor runs before main and says what to do instead.
#include <stdio.h>
#include <unistd.h>

#if defined(M2D_BUILT_FOR_AVX2) && (defined(__x86_64__) || defined(__i386__))
__attribute__((constructor)) static void m2d_require_built_cpu(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return;
    fprintf(stderr, "error: this build of m2d-serve uses AVX2 and FMA (the build machine had them), "
                    "but this CPU lacks them. Rebuild here (swift build -c release), or build "
                    "portably with M2D_PORTABLE=1 swift build -c release.\n");
    _exit(70);
}
#endif
