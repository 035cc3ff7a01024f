// The fused encoder's context (m2d_dnnl.h): its thread team, each Linear weight packed once per thread
// as a fixed slice of output channels (int8: quantized first, with per-channel scales and integer sums),
// and the workspace its steps share. The steps themselves are in fused_block.c.
#include "fused.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if __has_include(<oneapi/dnnl/dnnl.h>)

// oneDNN sizes its threading by omp_get_max_threads() of the calling thread: 1 in every team thread, so
// each product runs inside the thread that asks for it and libgomp starts no threads of its own.
static void single_threaded_onednn(void *raw, int thread, int threads) {
    (void)thread;
    (void)threads;
    m2d_fused *f = raw;
    if (f->set_omp_threads) f->set_omp_threads(1);
}

m2d_fused *m2d_fused_open(m2d_dnnl *c, int threads, char *error, size_t error_length) {
    if (!c->packed_allowed || (c->bf16 && !c->packed.bf16_compute)) {
        snprintf(error, error_length, "the fused encoder needs oneDNN's packed GEMM for this precision");
        return NULL;
    }
    m2d_cpu cpu = m2d_cpu_detect();
    if (cpu.isa < M2D_ISA_AVX2) {
        snprintf(error, error_length, "the fused encoder needs AVX2 and FMA");
        return NULL;
    }
    m2d_fused *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->c = c;
    f->cpu = cpu;
    f->threads = threads < 1 ? 1 : threads > M2D_FUSED_MAX_THREADS ? M2D_FUSED_MAX_THREADS : threads;
    f->int8 = c->precision == M2D_DNNL_INT8;
    f->bf16 = c->bf16;
    f->slice = M2D_FUSED_SLICE;
    void *gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (gomp) *(void **)&f->set_omp_threads = dlsym(gomp, "omp_set_num_threads");
    f->team = m2d_team_create(f->threads);
    if (!f->team) {
        snprintf(error, error_length, "could not start %d threads", f->threads);
        free(f);
        return NULL;
    }
    for (int t = 0; t < f->threads && f->int8; t++) {
        f->acc[t] = aligned_alloc(64, (size_t)(M2D_FUSED_TILE * f->slice) * sizeof(int32_t));
        if (!f->acc[t]) {
            snprintf(error, error_length, "out of memory");
            m2d_fused_close(f);
            return NULL;
        }
    }
    m2d_team_run(f->team, single_threaded_onednn, f);
    return f;
}

void m2d_fused_close(m2d_fused *f) {
    if (!f) return;
    m2d_team_destroy(f->team);
    for (size_t i = 0; i < f->n_weights; i++) {
        for (int t = 0; t < f->weights[i].slices; t++) free(f->weights[i].packed[t]);
        free(f->weights[i].packed);
        free(f->weights[i].scales);
        free(f->weights[i].sums);
    }
    free(f->weights);
    free(f->ln);
    free(f->big);
    free(f->q);
    free(f->row_scale);
    free(f->row_zero);
    for (int t = 0; t < M2D_FUSED_MAX_THREADS; t++) {
        free(f->acc[t]);
        free(f->scratch[t]);
        free(f->tile_bf16[t]);
    }
    free(f);
}

int m2d_fused_threads(const m2d_fused *f) { return f->threads; }

const fused_weight *m2d_fused_weight(const m2d_fused *f, const float *W, int64_t N, int64_t K) {
    for (size_t i = 0; i < f->n_weights; i++)
        if (f->weights[i].W == W && f->weights[i].N == N && f->weights[i].K == K) return &f->weights[i];
    return NULL;
}

// Returns the whole pages inside [start, start + bytes) to the system; they read as zeros after.
static void release_pages(const void *start, size_t bytes) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)start + page - 1) / page * page, to = ((uintptr_t)start + bytes) / page * page;
    if (to > from) madvise((void *)from, to - from, MADV_DONTNEED);
}

int m2d_fused_kind(const m2d_fused *f) { return f->int8 ? FUSED_INT8 : f->bf16 ? FUSED_BF16 : FUSED_F32; }

int m2d_fused_prepare(m2d_fused *f, const float *W, int64_t N, int64_t K) {
    return m2d_fused_pack(f, W, N, K, m2d_fused_kind(f), f->c->release_sources);
}

/// Round to nearest even, as oneDNN converts (activations and weights are finite).
static uint16_t bfloat16(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return (uint16_t)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

int m2d_fused_pack(m2d_fused *f, const float *W, int64_t N, int64_t K, int kind, int release) {
    if (m2d_fused_weight(f, W, N, K)) return 0;
    int int8 = kind == FUSED_INT8;
    if (!m2d_reserve_entry((void **)&f->weights, &f->cap_weights, f->n_weights, sizeof *f->weights, 64)) return 3;
    fused_weight w = {.W = W, .N = N, .K = K, .slice = f->slice, .slices = (int)((N + f->slice - 1) / f->slice),
                      .kind = kind};
    w.packed = calloc((size_t)w.slices, sizeof(void *));
    if (!w.packed) return 3;
    int8_t *quantized = NULL;
    if (int8) {
        quantized = malloc((size_t)(N * K));
        w.scales = malloc((size_t)N * sizeof(float));
        w.sums = malloc((size_t)N * sizeof(int32_t));
        if (!quantized || !w.scales || !w.sums) goto fail;
        m2d_quantize_weights(W, N, K, f->c->weight_limit, quantized, w.scales, w.sums);
    }
    // oneDNN lays a packed copy out for the calling thread's thread count: one, as in the team.
    if (f->set_omp_threads) f->set_omp_threads(1);
    uint16_t *halves = kind == FUSED_BF16 ? malloc((size_t)(w.slice * K) * sizeof(uint16_t)) : NULL;
    if (kind == FUSED_BF16 && !halves) goto fail;
    for (int s = 0; s < w.slices; s++) {
        int64_t n0 = (int64_t)s * w.slice, n = N - n0 < w.slice ? N - n0 : w.slice;
        size_t bytes = 0;
        if (kind == FUSED_BF16) {
            for (int64_t i = 0; i < n * K; i++) halves[i] = bfloat16(W[n0 * K + i]);
            w.packed[s] = packed_gemm_pack_bf16(&f->c->packed, halves, n, K, M2D_FUSED_TILE, &bytes);
        } else {
            w.packed[s] = int8 ? packed_gemm_pack_s8(&f->c->packed, quantized + n0 * K, n, K, M2D_FUSED_TILE, &bytes)
                               : packed_gemm_pack_f32(&f->c->packed, W + n0 * K, n, K, M2D_FUSED_TILE, &bytes);
        }
        if (!w.packed[s]) {
            free(halves);
            goto fail;
        }
        f->c->weight_bytes += bytes;
    }
    free(halves);
    free(quantized);
    if (release) release_pages(W, (size_t)(N * K) * sizeof(float));
    f->weights[f->n_weights++] = w;
    return 0;
fail:
    for (int t = 0; t < w.slices; t++) free(w.packed[t]);
    free(w.packed);
    free(quantized);
    free(w.scales);
    free(w.sums);
    return 2;
}

int m2d_fused_bf16_tiles(m2d_fused *f, int64_t K) {
    if (!f->bf16 || K <= f->bf16_width) return 0;
    for (int t = 0; t < f->threads; t++) {
        free(f->tile_bf16[t]);
        f->tile_bf16[t] = aligned_alloc(64, (size_t)(M2D_FUSED_TILE * K) * sizeof(uint16_t));
        if (!f->tile_bf16[t]) {
            f->bf16_width = 0;
            return 3;
        }
    }
    f->bf16_width = K;
    return 0;
}

int m2d_fused_reserve(m2d_fused *f, int64_t rows, int64_t D, int64_t H, int64_t longest, int64_t hd) {
    int64_t wide = 4 * D > H ? 4 * D : H, in = D > H ? D : H;
    if (rows > f->rows_cap || D != f->D || H != f->H) {
        free(f->ln);
        free(f->big);
        free(f->q);
        free(f->row_scale);
        free(f->row_zero);
        f->ln = aligned_alloc(64, (size_t)(rows * D) * sizeof(float));
        // Zeroed: the padding rows between sequences are read (never used) by whole-tile products.
        f->big = calloc((size_t)(rows * wide), sizeof(float));
        f->q = f->int8 ? aligned_alloc(64, (size_t)(rows * in)) : NULL;
        f->row_scale = malloc((size_t)rows * sizeof(float));
        f->row_zero = malloc((size_t)rows * sizeof(int32_t));
        if (!f->ln || !f->big || (f->int8 && !f->q) || !f->row_scale || !f->row_zero) {
            f->rows_cap = 0;
            return 3;
        }
        f->rows_cap = rows;
        f->D = D;
        f->H = H;
    }
    if (m2d_fused_bf16_tiles(f, in)) return 3;
    f->attention = m2d_attention_for(f->cpu, hd);
    int64_t scratch = f->attention.scratch(longest, hd);
    if (scratch > f->scratch_floats) {
        for (int t = 0; t < f->threads; t++) {
            free(f->scratch[t]);
            f->scratch[t] = aligned_alloc(64, (size_t)scratch * sizeof(float));
            if (!f->scratch[t]) {
                f->scratch_floats = 0;
                return 3;
            }
        }
        f->scratch_floats = scratch;
    }
    return 0;
}

#else
m2d_fused *m2d_fused_open(m2d_dnnl *c, int threads, char *error, size_t error_length) {
    (void)c;
    (void)threads;
    snprintf(error, error_length, "built without oneDNN headers");
    return NULL;
}
void m2d_fused_close(m2d_fused *f) { (void)f; }
int m2d_fused_threads(const m2d_fused *f) { (void)f; return 1; }
int m2d_fused_prepare(m2d_fused *f, const float *W, int64_t N, int64_t K) {
    (void)f; (void)W; (void)N; (void)K;
    return 1;
}
#endif
