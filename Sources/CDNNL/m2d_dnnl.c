// m2d_dnnl.h's context: libdnnl loaded at run time (dlopen, so a machine without it still runs the
// OpenBLAS backend), the capability probes that pick or refuse a precision, and open and close. The
// primitive caches are in dnnl_primitives.c, the weight copies and Linear products in dnnl_weights.c.
#include "dnnl_context.h"
#include "m2d_kernels.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<oneapi/dnnl/dnnl.h>)

// The library is loaded once per process (pthread_once): the function table is read-only afterwards.
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static api_t loaded_api;
static packed_gemm_api loaded_packed;
static int load_ok, packed_ok;
static dnnl_cpu_isa_t (*effective_isa)(void);
static char load_error[256];

static void load_library(void) {
    // No OMP_WAIT_POLICY here: libgomp is loaded with libsoxr at start-up and reads its environment
    // then, and set at start PASSIVE measured no faster than libgomp's default (a short spin).
    void *lib = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libdnnl.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof load_error, "libdnnl.so.2 not found (install libdnnl2): %s", dlerror());
        return;
    }
    api_t *api = &loaded_api;
#define LOAD(name) do { *(void **)&api->name = dlsym(lib, "dnnl_" #name); \
        if (!api->name) { snprintf(load_error, sizeof load_error, "libdnnl lacks dnnl_" #name); return; } } while (0)
    LOAD(engine_create); LOAD(engine_destroy); LOAD(stream_create); LOAD(stream_destroy); LOAD(stream_wait);
    LOAD(memory_desc_init_by_tag); LOAD(matmul_desc_init); LOAD(primitive_attr_create); LOAD(primitive_attr_destroy);
    LOAD(post_ops_create); LOAD(post_ops_destroy); LOAD(post_ops_append_sum); LOAD(primitive_attr_set_post_ops);
    LOAD(primitive_desc_create); LOAD(primitive_desc_destroy); LOAD(primitive_desc_query_md);
    LOAD(primitive_desc_query);
    LOAD(primitive_create); LOAD(primitive_destroy); LOAD(primitive_execute); LOAD(memory_create); LOAD(memory_destroy);
    LOAD(memory_set_data_handle); LOAD(reorder_primitive_desc_create); LOAD(memory_desc_equal);
    LOAD(memory_desc_get_size); LOAD(version); LOAD(memory_desc_init_by_strides);
    LOAD(primitive_attr_set_output_scales); LOAD(memory_get_data_handle);
    LOAD(primitive_attr_set_scratchpad_mode);
#undef LOAD
    *(void **)&effective_isa = dlsym(lib, "dnnl_get_effective_cpu_isa");
    // M2D_DNNL_PACKED=0 runs the matmul primitive instead, to compare the two.
    const char *packed = getenv("M2D_DNNL_PACKED");
    packed_ok = packed_gemm_load(lib, &loaded_packed) && !(packed && strcmp(packed, "0") == 0);
    load_ok = 1;
}

// oneDNN reports bf16 as unimplemented (not slow) on CPUs without AVX-512: probe one small product.
static int supports_bf16_matmul(m2d_dnnl *c) {
    dnnl_memory_desc_t src, wei, dst;
    dnnl_dims_t sd = {8, 64}, wd = {64, 32}, dd = {8, 32};
    c->api.memory_desc_init_by_tag(&src, 2, sd, dnnl_bf16, dnnl_ab);
    c->api.memory_desc_init_by_tag(&wei, 2, wd, dnnl_bf16, dnnl_format_tag_any);
    c->api.memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t md;
    if (c->api.matmul_desc_init(&md, &src, &wei, NULL, &dst) != dnnl_success) return 0;
    dnnl_primitive_desc_t pd;
    if (c->api.primitive_desc_create(&pd, &md, NULL, c->engine, NULL) != dnnl_success) return 0;
    c->api.primitive_desc_destroy(pd);
    return 1;
}

// The int8 product u8 (M,K) . s8 (K,N) -> s32 (M,N), weights in the layout oneDNN prefers.
int m2d_int8_descs(m2d_dnnl *c, int64_t M, int64_t N, int64_t K, dnnl_matmul_desc_t *md) {
    dnnl_memory_desc_t src, wei, dst;
    dnnl_dims_t sd = {M, K}, wd = {K, N}, dd = {M, N};
    c->api.memory_desc_init_by_tag(&src, 2, sd, dnnl_u8, dnnl_ab);
    c->api.memory_desc_init_by_tag(&wei, 2, wd, dnnl_s8, dnnl_format_tag_any);
    c->api.memory_desc_init_by_tag(&dst, 2, dd, dnnl_s32, dnnl_ab);
    return c->api.matmul_desc_init(md, &src, &wei, NULL, &dst) == dnnl_success;
}

// Without VNNI, x86 kernels multiply u8 by s8 pairwise into saturating 16-bit sums (vpmaddubsw):
// 255 * 127 * 2 overflows. One product of extreme values tells whether this CPU's kernel does; if
// it does, weights keep 7 bits (|q| <= 63, so a pair stays below 32,767) and activations all 8.
enum { PROBE_M = 2, PROBE_K = 64, PROBE_N = 16 };
typedef struct {
    uint8_t a[PROBE_M * PROBE_K];  // every activation 255
    int8_t w[PROBE_N * PROBE_K];   // every weight 127 (so its layout does not matter)
    int32_t out[PROBE_M * PROBE_N];
} saturation_probe;

static void probe_init(saturation_probe *p) {
    memset(p->a, 255, sizeof p->a);
    memset(p->w, 127, sizeof p->w);
    memset(p->out, 0, sizeof p->out);
}

static int probe_saturated(const saturation_probe *p) {
    return p->out[0] != 255 * 127 * PROBE_K || p->out[PROBE_M * PROBE_N - 1] != 255 * 127 * PROBE_K;
}

static int int8_saturates(m2d_dnnl *c) {
    enum { M = PROBE_M, K = PROBE_K, N = PROBE_N };
    saturation_probe probe;
    probe_init(&probe);
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    if (!m2d_int8_descs(c, M, N, K, &md) ||
        c->api.primitive_desc_create(&pd, &md, NULL, c->engine, NULL) != dnnl_success)
        return 1;
    const dnnl_memory_desc_t *want = c->api.primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *src = c->api.primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dst = c->api.primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    dnnl_memory_desc_t plain;
    dnnl_dims_t wd = {K, N};
    c->api.memory_desc_init_by_tag(&plain, 2, wd, dnnl_s8, dnnl_ba);
    dnnl_memory_t ma, mplain, mw, mo, scratch = NULL;
    c->api.memory_create(&ma, src, c->engine, probe.a);
    c->api.memory_create(&mplain, &plain, c->engine, probe.w);
    c->api.memory_create(&mw, want, c->engine, DNNL_MEMORY_ALLOCATE);
    c->api.memory_create(&mo, dst, c->engine, probe.out);
    const dnnl_memory_desc_t *smd = c->api.primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (smd && c->api.memory_desc_get_size(smd)) c->api.memory_create(&scratch, smd, c->engine, DNNL_MEMORY_ALLOCATE);
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder;
    int wrong = 1;
    if (c->api.reorder_primitive_desc_create(&rpd, &plain, c->engine, want, c->engine, NULL) == dnnl_success) {
        c->api.primitive_create(&reorder, rpd);
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, mplain}, {DNNL_ARG_TO, mw}};
        c->api.primitive_execute(reorder, c->stream, 2, r);
        c->api.primitive_create(&prim, pd);
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, mo},
                                   {DNNL_ARG_SCRATCHPAD, scratch}};
        c->api.primitive_execute(prim, c->stream, scratch ? 4 : 3, args);
        c->api.stream_wait(c->stream);
        wrong = probe_saturated(&probe);
        c->api.primitive_destroy(prim);
        c->api.primitive_destroy(reorder);
        c->api.primitive_desc_destroy(rpd);
    }
    c->api.memory_destroy(ma);
    c->api.memory_destroy(mplain);
    c->api.memory_destroy(mw);
    c->api.memory_destroy(mo);
    if (scratch) c->api.memory_destroy(scratch);
    c->api.primitive_desc_destroy(pd);
    return wrong;
}

// The same probe through the packed product (a kernel of its own).
static int packed_int8_saturates(m2d_dnnl *c) {
    saturation_probe probe;
    probe_init(&probe);
    size_t bytes = 0;
    void *packed = packed_gemm_pack_s8(&c->packed, probe.w, PROBE_N, PROBE_K, PROBE_M, &bytes);
    if (!packed) return 1;
    int wrong = packed_gemm_product_s8(&c->packed, packed, probe.a, PROBE_M, PROBE_K, PROBE_N, probe.out) != 0 ||
                probe_saturated(&probe);
    free(packed);
    return wrong;
}

static int supports_int8_matmul(m2d_dnnl *c) {
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd;
    if (!m2d_int8_descs(c, 8, 32, 64, &md) ||
        c->api.primitive_desc_create(&pd, &md, NULL, c->engine, NULL) != dnnl_success)
        return 0;
    c->api.primitive_desc_destroy(pd);
    return 1;
}

static const char *isa_name(int isa) {
    switch (isa) {
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown isa";
    }
}

m2d_dnnl *m2d_dnnl_open(int precision, char *error, size_t error_length) {
    pthread_once(&load_once, load_library);
    if (!load_ok) { snprintf(error, error_length, "%s", load_error); return NULL; }
    m2d_dnnl *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->precision = precision;
    c->bf16 = precision == M2D_DNNL_BF16;
    c->api = loaded_api;
    c->use_packed = packed_ok && precision != M2D_DNNL_BF16;
    c->packed_allowed = packed_ok;
    c->packed = loaded_packed;
    if (c->api.engine_create(&c->engine, dnnl_cpu, 0) != dnnl_success ||
        c->api.stream_create(&c->stream, c->engine, dnnl_stream_default_flags) != dnnl_success) {
        snprintf(error, error_length, "oneDNN could not create a CPU engine");
        m2d_dnnl_close(c);
        return NULL;
    }
    const dnnl_version_t *v = c->api.version();
    snprintf(c->version, sizeof c->version, "%d.%d.%d", v->major, v->minor, v->patch);
    // The packed GEMM's kernels are oneDNN's JIT ones for the ISA it runs (ONEDNN_MAX_CPU_ISA caps it); a
    // matmul primitive, when one is made, names its own implementation over this.
    if (packed_ok) snprintf(c->impl, sizeof c->impl, "gemm:jit:%s", isa_name(effective_isa ? effective_isa() : 0));
    if (precision == M2D_DNNL_INT8) {
        if (!supports_int8_matmul(c)) {
            snprintf(error, error_length, "oneDNN %s has no int8 matmul for this CPU; use --precision fp32",
                     c->version);
            m2d_dnnl_close(c);
            return NULL;
        }
        c->activation_levels = 255;
        c->weight_limit = int8_saturates(c) || (c->use_packed && packed_int8_saturates(c)) ? 63 : 127;
    }
    if (c->bf16 && !supports_bf16_matmul(c)) {
        snprintf(error, error_length,
                 "oneDNN %s has no bf16 matmul for this CPU (it needs AVX-512); use --precision fp32",
                 c->version);
        m2d_dnnl_close(c);
        return NULL;
    }
    return c;
}

void m2d_dnnl_close(m2d_dnnl *c) {
    if (!c) return;
    m2d_free_primitives(c);
    m2d_free_weights(c);
    free(c->src_bf16);
    free(c->scratch);
    if (c->stream) c->api.stream_destroy(c->stream);
    if (c->engine) c->api.engine_destroy(c->engine);
    free(c);
}

const char *m2d_dnnl_impl(m2d_dnnl *c) { return c->impl; }
int m2d_dnnl_packed(m2d_dnnl *c) { return c->use_packed; }
void m2d_dnnl_run_unpacked(m2d_dnnl *c) { if (c->n_weights == 0) c->use_packed = 0; }
const char *m2d_dnnl_version(m2d_dnnl *c) { return c->version; }
size_t m2d_dnnl_weight_bytes(m2d_dnnl *c) { return c->weight_bytes; }

#else  // built without oneDNN headers: the backend reports itself unavailable.

m2d_dnnl *m2d_dnnl_open(int precision, char *error, size_t n) {
    (void)precision;
    snprintf(error, n, "built without oneDNN headers (install libdnnl-dev and rebuild)");
    return NULL;
}
void m2d_dnnl_close(m2d_dnnl *c) { (void)c; }
int m2d_dnnl_linear(m2d_dnnl *c, const float *x, int64_t M, int64_t K, const float *W, int64_t N,
                    const float *bias, float *y, int accumulate) {
    (void)c; (void)x; (void)M; (void)K; (void)W; (void)N; (void)bias; (void)y; (void)accumulate;
    return 1;
}
int m2d_dnnl_gemm(m2d_dnnl *c, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    (void)c; (void)transA; (void)transB; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda; (void)B; (void)ldb;
    (void)beta; (void)C; (void)ldc;
    return 1;
}
int m2d_dnnl_batched_gemm(m2d_dnnl *c, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, const int64_t a_strides[3], const float *B, const int64_t b_strides[3],
                          float beta, float *C, const int64_t c_strides[3]) {
    (void)c; (void)batch; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)a_strides; (void)B; (void)b_strides;
    (void)beta; (void)C; (void)c_strides;
    return 1;
}
void m2d_dnnl_release_sources(m2d_dnnl *c, int on) { (void)c; (void)on; }
int m2d_dnnl_linear_s8(m2d_dnnl *c, const uint8_t *q, int64_t M, int64_t K, const float *W, int64_t N, int32_t *acc,
                       const float **scales, const int32_t **sums) {
    (void)c; (void)q; (void)M; (void)K; (void)W; (void)N; (void)acc; (void)scales; (void)sums;
    return 1;
}
void m2d_dnnl_int8_ranges(m2d_dnnl *c, int *weight_limit, int *activation_levels) {
    (void)c;
    *weight_limit = 127;
    *activation_levels = 255;
}
int m2d_dnnl_prepare_linear(m2d_dnnl *c, const float *W, int64_t N, int64_t K, int64_t M) {
    (void)c; (void)W; (void)N; (void)K; (void)M;
    return 1;
}
const char *m2d_dnnl_impl(m2d_dnnl *c) { (void)c; return "none"; }
int m2d_dnnl_packed(m2d_dnnl *c) { (void)c; return 0; }
void m2d_dnnl_run_unpacked(m2d_dnnl *c) { (void)c; }
const char *m2d_dnnl_version(m2d_dnnl *c) { (void)c; return "none"; }
size_t m2d_dnnl_weight_bytes(m2d_dnnl *c) { (void)c; return 0; }
#endif
