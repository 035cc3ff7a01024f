#pragma once
// m2d-serve's own CPU kernels for the fused inference encoder (Sources/CDNNL/fused_block.c): what the
// instruction set of this CPU runs (detected at run time, capped by M2D_MAX_ISA), a thread team that
// runs every parallel step of a forward (no fork/join per product), and the work around the matrix
// products: LayerNorm, attention fused per (chunk, head), GELU, and int8 quantization before and after
// a product. Each works on whole rows, so a row's result never depends on the rows beside it.
#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------- the CPU

enum { M2D_ISA_SCALAR = 0, M2D_ISA_AVX2 = 1, M2D_ISA_AVX512 = 2 };

typedef struct {
    int isa;   /// M2D_ISA_*: AVX2 means AVX2 + FMA; AVX512 means F, BW, VL and DQ as well
    int vnni;  /// AVX-512 VNNI (vpdpbusd), only with isa == AVX512
    int bf16;  /// AVX-512 BF16 (vdpbf16ps), only with isa == AVX512
} m2d_cpu;

/// What this CPU runs (cpuid and the OS's saved register state), capped by the environment variable
/// M2D_MAX_ISA=scalar|avx2|avx512 (to measure or test one tier on a machine that has more).
m2d_cpu m2d_cpu_detect(void);
/// "avx512 vnni bf16", "avx2", "scalar".
const char *m2d_isa_name(int isa);

// ---------------------------------------------------------------- the thread team

typedef struct m2d_team m2d_team;
/// One share of a parallel step: thread `thread` of `threads` (0 is the caller).
typedef void (*m2d_task)(void *context, int thread, int threads);

/// A team of `threads` (the caller plus threads - 1 workers, which spin briefly between steps and then
/// sleep). NULL when threads cannot be started.
m2d_team *m2d_team_create(int threads);
void m2d_team_destroy(m2d_team *team);
int m2d_team_size(const m2d_team *team);
/// Runs `task` on every thread of the team and returns when all have finished. One caller at a time.
void m2d_team_run(m2d_team *team, m2d_task task, void *context);

// ---------------------------------------------------------------- row kernels (AVX2, any x86-64 with it)

/// out (rows, D) = LayerNorm(x) * w + b over each row (biased variance, eps), rows [from, to).
void m2d_layernorm_rows(const float *x, int64_t D, int64_t from, int64_t to, const float *w, const float *b,
                        float eps, float *out);

/// x (n) <- gelu(x), the exact erf form (as Sources/M2DOps/GELU.swift computes it).
void m2d_gelu(float *x, int64_t n);

/// Attention of one head of one sequence: for query rows i < n of qkv (rows of 3D: q, k, v, head h at
/// columns h*hd), out[i, h*hd + c] = sum_j softmax_j(scale * q_i . k_j) v_j[c]. `scratch` holds at least
/// m2d_attention_scratch(n, hd) floats (one thread's). hd must be a multiple of 16.
void m2d_attention_head(const float *qkv, int64_t D, int64_t n, int64_t hd, int64_t h, float scale, float *out,
                        float *scratch);
int64_t m2d_attention_scratch(int64_t n, int64_t hd);
/// The same with AVX-512 (32 keys and 32 channels per step); hd must be a multiple of 32.
void m2d_attention_head_avx512(const float *qkv, int64_t D, int64_t n, int64_t hd, int64_t h, float scale,
                               float *out, float *scratch);
int64_t m2d_attention_scratch_avx512(int64_t n, int64_t hd);

/// An attention kernel and its scratch size, chosen once for a CPU and a head width.
typedef struct {
    void (*head)(const float *qkv, int64_t D, int64_t n, int64_t hd, int64_t h, float scale, float *out,
                 float *scratch);
    int64_t (*scratch)(int64_t n, int64_t hd);
    const char *isa;
} m2d_attention_kernel;
/// AVX-512 when the CPU (m2d_cpu_detect) has it and hd is a multiple of 32, AVX2 otherwise.
m2d_attention_kernel m2d_attention_for(m2d_cpu cpu, int64_t hd);

// ---------------------------------------------------------------- int8 around an integer product

/// For each row m in [from, to) of x (rows, K): scale[m] = (max(x_m, 0) - min(x_m, 0)) / levels (1 when the
/// row is all zeros), zero[m] = round(-min(x_m, 0) / scale[m]), q[m, k] = clamp(round(x[m, k] / scale[m]) +
/// zero[m], 0, levels).
void m2d_quantize_rows(const float *x, int64_t K, int64_t from, int64_t to, int levels, uint8_t *q, float *scale,
                       int32_t *zero);

/// For each row m in [from, to): y[m, n] = scale[m] * wscale[n] * (acc[m, n] - zero[m] * wsum[n]) + bias[n]
/// (+ y[m, n] when accumulate), acc (rows, N) the s32 product of q and the int8 weights, wsum[n] the sum of
/// weight row n's integers. bias may be NULL.
void m2d_dequantize_rows(const int32_t *acc, int64_t N, int64_t from, int64_t to, const float *scale,
                         const int32_t *zero, const float *wscale, const int32_t *wsum, const float *bias, float *y,
                         int accumulate);

/// W (N, K) row-major to q (N, K) int8: scale[n] = max|W_n| / limit (1 for a zero row), q = clamp(round(W /
/// scale[n]), -limit, limit), sum[n] = the sum of row n of q.
void m2d_quantize_weights(const float *W, int64_t N, int64_t K, int limit, int8_t *q, float *scale, int32_t *sum);
