// The Linear layers alone, for make bench-peers: the 48 products of a ViT-Base forward (12 blocks of
// qkv, proj, fc1, fc2, each with its own weight, so the weights come from memory as in the encoder)
// through the packed GEMM the encoder uses (Sources/CDNNL/packed_gemm.c), fp32 and int8, at one
// chunk's rows (191) and eight chunks' (1,528). What this reaches bounds the encoder's speed.
// Prints "linear_<fp32|int8>_b<1|8> <GFLOP/s or GOP/s>" lines; exit 2 when libdnnl lacks the API.
//   cc -O2 tools/peers/linear_gemm.c Sources/CDNNL/packed_gemm.c -ISources/CDNNL -ldl -o linear_gemm
#include "packed_gemm.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { DEPTH = 12, LAYERS = 4, D = 768, REPEATS = 3 };
static const int64_t shapes[LAYERS][2] = {{3 * D, D}, {D, D}, {4 * D, D}, {D, 4 * D}};  // (N, K)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double flops(int64_t rows) {
    double total = 0;
    for (int s = 0; s < LAYERS; s++) total += 2.0 * rows * shapes[s][0] * shapes[s][1] * DEPTH;
    return total;
}

// The rate of the 48 products at `rows` rows: fp32 on x into y, or int8 on q into acc (in the encoder's
// 256-row tiles), best of REPEATS.
static double rate(const packed_gemm_api *api, void *packed[DEPTH][LAYERS], int int8, const float *x, float *y,
                   const uint8_t *q, int32_t *acc, int64_t rows) {
    double best = 1e30;
    for (int r = 0; r < REPEATS; r++) {
        double t = now();
        for (int l = 0; l < DEPTH; l++)
            for (int s = 0; s < LAYERS; s++) {
                int64_t N = shapes[s][0], K = shapes[s][1];
                if (!int8) {
                    packed_gemm_linear_f32(api, packed[l][s], x, rows, K, N, NULL, y, 0);
                    continue;
                }
                for (int64_t first = 0; first < rows; first += 256) {
                    int64_t m = rows - first < 256 ? rows - first : 256;
                    packed_gemm_product_s8(api, packed[l][s], q + first * K, m, K, N, acc + first * N);
                }
            }
        t = now() - t;
        if (t < best) best = t;
    }
    return flops(rows) / best * 1e-9;
}

int main(void) {
    void *lib = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    packed_gemm_api api;
    if (!lib || !packed_gemm_load(lib, &api)) {
        fprintf(stderr, "libdnnl.so.2 without the packed GEMM API\n");
        return 2;
    }
    const int64_t most = 8 * 191;
    float *x = malloc(sizeof(float) * most * 4 * D), *y = malloc(sizeof(float) * most * 4 * D);
    uint8_t *q = malloc(most * 4 * D);
    int32_t *acc = malloc(sizeof(int32_t) * most * 4 * D);
    float *w = malloc(sizeof(float) * 4 * D * D);
    int8_t *wq = malloc(4 * D * D);
    if (!x || !y || !q || !acc || !w || !wq) return 1;
    srand(1);
    for (int64_t i = 0; i < most * 4 * D; i++) {
        x[i] = (float)(rand() % 2001 - 1000) * 1e-3f;
        q[i] = (uint8_t)(rand() % 256);
    }
    void *packed_f32[DEPTH][LAYERS], *packed_s8[DEPTH][LAYERS];
    for (int l = 0; l < DEPTH; l++)
        for (int s = 0; s < LAYERS; s++) {
            int64_t n = shapes[s][0] * shapes[s][1];
            for (int64_t i = 0; i < n; i++) {
                w[i] = (float)(rand() % 2001 - 1000) * 1e-4f;
                wq[i] = (int8_t)(rand() % 127 - 63);
            }
            size_t bytes;
            // As the encoder packs: fp32 split for 256 rows at most, int8 for one 256-row tile.
            packed_f32[l][s] = packed_gemm_pack_f32(&api, w, shapes[s][0], shapes[s][1], 256, &bytes);
            packed_s8[l][s] = packed_gemm_pack_s8(&api, wq, shapes[s][0], shapes[s][1], 256, &bytes);
            if (!packed_f32[l][s] || !packed_s8[l][s]) return 1;
        }
    for (int b = 1; b <= 8; b += 7)
        printf("linear_fp32_b%d %.1f\n", b, rate(&api, packed_f32, 0, x, y, q, acc, 191 * b));
    for (int b = 1; b <= 8; b += 7)
        printf("linear_int8_b%d %.1f\n", b, rate(&api, packed_s8, 1, x, y, q, acc, 191 * b));
    return 0;
}
