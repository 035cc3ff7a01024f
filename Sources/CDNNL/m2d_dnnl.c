#include "m2d_dnnl.h"
#include "m2d_quant.h"
#include "packed_gemm.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<oneapi/dnnl/dnnl.h>)
#include <oneapi/dnnl/dnnl.h>

#define FN(name) typeof(&dnnl_##name) name
typedef struct {
    FN(engine_create); FN(engine_destroy); FN(stream_create); FN(stream_destroy); FN(stream_wait);
    FN(memory_desc_init_by_tag); FN(matmul_desc_init); FN(primitive_attr_create); FN(primitive_attr_destroy);
    FN(post_ops_create); FN(post_ops_destroy); FN(post_ops_append_sum); FN(primitive_attr_set_post_ops);
    FN(primitive_desc_create); FN(primitive_desc_destroy); FN(primitive_desc_query_md); FN(primitive_desc_query);
    FN(primitive_create); FN(primitive_destroy); FN(primitive_execute); FN(memory_create); FN(memory_destroy);
    FN(memory_set_data_handle); FN(reorder_primitive_desc_create); FN(memory_desc_equal); FN(memory_desc_get_size);
    FN(version); FN(memory_desc_init_by_strides); FN(primitive_attr_set_output_scales); FN(memory_get_data_handle);
    FN(primitive_attr_set_scratchpad_mode);
} api_t;
#undef FN

typedef struct {
    int64_t M, N, K;
    int accumulate, has_bias;
    dnnl_primitive_t prim;
    dnnl_primitive_desc_t pd;
    dnnl_memory_t src, dst, bias, src_bf16, scratch;
    dnnl_primitive_t src_reorder;
} matmul_entry;

// A batch of products on plain strided memory (no reordered copies): the training products, whose
// weights change between calls (a batch of one), and attention (every head in one call).
typedef struct {
    int64_t batch, M, N, K;
    int64_t as[3], bs[3], cs[3];
    float alpha, beta;
    dnnl_primitive_t prim;
    dnnl_primitive_desc_t pd;
    dnnl_memory_t a, b, c, scratch;
} strided_entry;

typedef struct {
    const float *W;
    int64_t N, K;
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    /// int8: the per-output-channel scales and integer row sums (owned by the first copy of W).
    float *scales;
    int32_t *sums;
    int owns_tables;
    /// With the packed GEMM: oneDNN's packed copy (then md and mem are unused), and for int8 the most
    /// rows a product with it may have (oneDNN sizes its buffers for the rows it was packed for).
    void *packed;
    int64_t packed_rows;
} weight_entry;

struct m2d_dnnl {
    api_t api;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int precision;  // M2D_DNNL_FP32, _BF16 or _INT8
    int bf16;
    /// int8: weights are quantized to -weight_limit...weight_limit, activations to 0...activation_levels.
    int weight_limit, activation_levels;
    int release_sources;
    /// Linear layers run on weights packed once (packed_gemm.h) instead of the matmul primitive.
    int use_packed;
    packed_gemm_api packed;
    matmul_entry *matmuls;
    size_t n_matmuls, cap_matmuls;
    weight_entry *weights;
    size_t n_weights, cap_weights;
    strided_entry *strided;
    size_t n_strided, cap_strided;
    size_t weight_bytes;
    void *src_bf16;
    size_t src_bf16_bytes;
    /// One scratchpad for every primitive (user mode): by default each primitive keeps its own,
    /// and a server that meets many batch heights would hold hundreds of MB of them.
    void *scratch;
    size_t scratch_bytes;
    char impl[128];
    char version[32];
};

// The library is loaded once per process (pthread_once): the function table is read-only afterwards.
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static api_t loaded_api;
static packed_gemm_api loaded_packed;
static int load_ok, packed_ok;
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
static int int8_descs(m2d_dnnl *c, int64_t M, int64_t N, int64_t K, dnnl_matmul_desc_t *md) {
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
    if (!int8_descs(c, M, N, K, &md) || c->api.primitive_desc_create(&pd, &md, NULL, c->engine, NULL) != dnnl_success)
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
    if (!int8_descs(c, 8, 32, 64, &md) || c->api.primitive_desc_create(&pd, &md, NULL, c->engine, NULL) != dnnl_success)
        return 0;
    c->api.primitive_desc_destroy(pd);
    return 1;
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
    c->packed = loaded_packed;
    if (c->api.engine_create(&c->engine, dnnl_cpu, 0) != dnnl_success ||
        c->api.stream_create(&c->stream, c->engine, dnnl_stream_default_flags) != dnnl_success) {
        snprintf(error, error_length, "oneDNN could not create a CPU engine");
        m2d_dnnl_close(c);
        return NULL;
    }
    const dnnl_version_t *v = c->api.version();
    snprintf(c->version, sizeof c->version, "%d.%d.%d", v->major, v->minor, v->patch);
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
    for (size_t i = 0; i < c->n_matmuls; i++) {
        matmul_entry *e = &c->matmuls[i];
        c->api.primitive_destroy(e->prim);
        c->api.primitive_desc_destroy(e->pd);
        c->api.memory_destroy(e->src);
        c->api.memory_destroy(e->dst);
        if (e->bias) c->api.memory_destroy(e->bias);
        if (e->src_bf16) c->api.memory_destroy(e->src_bf16);
        if (e->src_reorder) c->api.primitive_destroy(e->src_reorder);
        if (e->scratch) c->api.memory_destroy(e->scratch);
    }
    for (size_t i = 0; i < c->n_weights; i++) {
        if (c->weights[i].mem) c->api.memory_destroy(c->weights[i].mem);
        free(c->weights[i].packed);
        if (c->weights[i].owns_tables) {
            free(c->weights[i].scales);
            free(c->weights[i].sums);
        }
    }
    for (size_t i = 0; i < c->n_strided; i++) {
        strided_entry *g = &c->strided[i];
        c->api.primitive_destroy(g->prim);
        c->api.primitive_desc_destroy(g->pd);
        c->api.memory_destroy(g->a);
        c->api.memory_destroy(g->b);
        c->api.memory_destroy(g->c);
        if (g->scratch) c->api.memory_destroy(g->scratch);
    }
    free(c->strided);
    free(c->src_bf16);
    free(c->scratch);
    free(c->matmuls);
    free(c->weights);
    if (c->stream) c->api.stream_destroy(c->stream);
    if (c->engine) c->api.engine_destroy(c->engine);
    free(c);
}

// Grows the shared scratchpad to hold `pd`'s and makes the memory object that points into it.
static int attach_scratch(m2d_dnnl *c, dnnl_primitive_desc_t pd, dnnl_memory_t *memory) {
    const dnnl_memory_desc_t *md = c->api.primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = md ? c->api.memory_desc_get_size(md) : 0;
    *memory = NULL;
    if (bytes == 0) return 1;
    if (bytes > c->scratch_bytes) {
        void *grown = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!grown) return 0;
        free(c->scratch);
        c->scratch = grown;
        c->scratch_bytes = bytes;
    }
    return c->api.memory_create(memory, md, c->engine, DNNL_MEMORY_NONE) == dnnl_success;
}

// Points `memory` at the shared scratchpad (it may have moved since) and adds it to `args`.
static int with_scratch(m2d_dnnl *c, dnnl_memory_t memory, dnnl_exec_arg_t *args, int n) {
    if (!memory) return n;
    c->api.memory_set_data_handle(memory, c->scratch);
    args[n].arg = DNNL_ARG_SCRATCHPAD;
    args[n].memory = memory;
    return n + 1;
}

// The primitive for `desc` under `attr` (scratchpad in user mode), its descriptor and its view of the
// shared scratchpad; records the implementation oneDNN chose. Returns 1 on success.
static int make_primitive(m2d_dnnl *c, const_dnnl_op_desc_t desc, dnnl_primitive_attr_t attr,
                          dnnl_primitive_desc_t *pd, dnnl_primitive_t *prim, dnnl_memory_t *scratch) {
    c->api.primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (c->api.primitive_desc_create(pd, desc, attr, c->engine, NULL) != dnnl_success) return 0;
    const char *impl = NULL;
    c->api.primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(c->impl, sizeof c->impl, "%s", impl ? impl : "?");
    if (c->api.primitive_create(prim, *pd) != dnnl_success) {
        c->api.primitive_desc_destroy(*pd);
        return 0;
    }
    return attach_scratch(c, *pd, scratch);
}

// Appends a slot to the matmul cache; NULL when out of memory.
static matmul_entry *new_matmul_slot(m2d_dnnl *c) {
    if (c->n_matmuls == c->cap_matmuls) {
        size_t cap = c->cap_matmuls ? 2 * c->cap_matmuls : 16;
        matmul_entry *grown = realloc(c->matmuls, cap * sizeof *grown);
        if (!grown) return NULL;
        c->matmuls = grown;
        c->cap_matmuls = cap;
    }
    return &c->matmuls[c->n_matmuls];
}

// int8: bias, accumulation and the dequantization are the caller's (m2d_dequantize_rows).
static matmul_entry *int8_matmul_for(m2d_dnnl *c, int64_t M, int64_t N, int64_t K) {
    matmul_entry *slot = new_matmul_slot(c);
    dnnl_matmul_desc_t md;
    if (!slot || !int8_descs(c, M, N, K, &md)) return NULL;
    dnnl_primitive_attr_t attr = NULL;
    c->api.primitive_attr_create(&attr);
    matmul_entry e = {.M = M, .N = N, .K = K};
    int made = make_primitive(c, &md, attr, &e.pd, &e.prim, &e.scratch);
    c->api.primitive_attr_destroy(attr);
    if (!made) return NULL;
    c->api.memory_create(&e.src, c->api.primitive_desc_query_md(e.pd, dnnl_query_src_md, 0), c->engine,
                         DNNL_MEMORY_NONE);
    c->api.memory_create(&e.dst, c->api.primitive_desc_query_md(e.pd, dnnl_query_dst_md, 0), c->engine,
                         DNNL_MEMORY_NONE);
    *slot = e;
    c->n_matmuls++;
    return slot;
}

static matmul_entry *matmul_for(m2d_dnnl *c, int64_t M, int64_t N, int64_t K, int accumulate, int has_bias) {
    if (c->precision == M2D_DNNL_INT8) accumulate = has_bias = 0;  // both done in the dequantization
    for (size_t i = 0; i < c->n_matmuls; i++) {
        matmul_entry *e = &c->matmuls[i];
        if (e->M == M && e->N == N && e->K == K && e->accumulate == accumulate && e->has_bias == has_bias) return e;
    }
    if (c->precision == M2D_DNNL_INT8) return int8_matmul_for(c, M, N, K);
    dnnl_data_type_t t = c->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src, src_f32, wany, dst, bias;
    dnnl_dims_t sd = {M, K}, wd = {K, N}, dd = {M, N}, bd = {1, N};
    c->api.memory_desc_init_by_tag(&src, 2, sd, t, dnnl_ab);
    c->api.memory_desc_init_by_tag(&src_f32, 2, sd, dnnl_f32, dnnl_ab);
    c->api.memory_desc_init_by_tag(&wany, 2, wd, t, dnnl_format_tag_any);
    c->api.memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab);
    c->api.memory_desc_init_by_tag(&bias, 2, bd, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t md;
    if (c->api.matmul_desc_init(&md, &src, &wany, has_bias ? &bias : NULL, &dst) != dnnl_success) return NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    c->api.primitive_attr_create(&attr);
    if (accumulate) {
        c->api.post_ops_create(&ops);
        c->api.post_ops_append_sum(ops, 1.0f);
        c->api.primitive_attr_set_post_ops(attr, ops);
    }
    matmul_entry e = {.M = M, .N = N, .K = K, .accumulate = accumulate, .has_bias = has_bias};
    int made = make_primitive(c, &md, attr, &e.pd, &e.prim, &e.scratch);
    if (ops) c->api.post_ops_destroy(ops);
    c->api.primitive_attr_destroy(attr);
    if (!made) return NULL;
    // Handles are rebound per call (set_data_handle); created with no buffer of their own.
    c->api.memory_create(&e.dst, &dst, c->engine, DNNL_MEMORY_NONE);
    if (has_bias) c->api.memory_create(&e.bias, &bias, c->engine, DNNL_MEMORY_NONE);
    if (c->bf16) {
        c->api.memory_create(&e.src, &src_f32, c->engine, DNNL_MEMORY_NONE);
        c->api.memory_create(&e.src_bf16, &src, c->engine, DNNL_MEMORY_NONE);
        dnnl_primitive_desc_t rpd;
        if (c->api.reorder_primitive_desc_create(&rpd, &src_f32, c->engine, &src, c->engine, NULL) != dnnl_success)
            return NULL;
        c->api.primitive_create(&e.src_reorder, rpd);
        c->api.primitive_desc_destroy(rpd);
    } else {
        c->api.memory_create(&e.src, &src, c->engine, DNNL_MEMORY_NONE);
    }
    matmul_entry *slot = new_matmul_slot(c);
    if (!slot) return NULL;
    *slot = e;
    c->n_matmuls++;
    return slot;
}

// Returns the whole pages inside [start, start + bytes) to the system; they read as zeros after.
static void release_pages(const void *start, size_t bytes) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)start + page - 1) / page * page, to = ((uintptr_t)start + bytes) / page * page;
    if (to > from) madvise((void *)from, to - from, MADV_DONTNEED);
}

void m2d_dnnl_release_sources(m2d_dnnl *c, int on) { c->release_sources = on; }

static void free_tables(weight_entry *w) {
    if (!w->owns_tables) return;
    free(w->scales);
    free(w->sums);
    w->scales = NULL;
    w->sums = NULL;
    w->owns_tables = 0;
}

// Room for one more entry in the weight table. Returns 1 on success.
static int reserve_weight_slot(m2d_dnnl *c) {
    if (c->n_weights < c->cap_weights) return 1;
    size_t cap = c->cap_weights ? 2 * c->cap_weights : 64;
    weight_entry *grown = realloc(c->weights, cap * sizeof *grown);
    if (!grown) return 0;
    c->weights = grown;
    c->cap_weights = cap;
    return 1;
}

// int8: W's integers (returned; the caller frees them once copied) and its per-channel scales and row sums
// (owned by `w`). NULL when out of memory, with nothing left allocated.
static int8_t *quantize_with_tables(m2d_dnnl *c, const float *W, int64_t N, int64_t K, weight_entry *w) {
    int8_t *quantized = malloc((size_t)(N * K));
    w->scales = malloc((size_t)N * sizeof(float));
    w->sums = malloc((size_t)N * sizeof(int32_t));
    w->owns_tables = 1;
    if (!quantized || !w->scales || !w->sums) {
        free(quantized);
        free_tables(w);
        return NULL;
    }
    m2d_quantize_weights(W, N, K, c->weight_limit, quantized, w->scales, w->sums);
    return quantized;
}

// oneDNN's copy of W in the layout `want` (made now if there is none), with its int8 tables. The pointer
// is valid until the next copy is made (the table may grow).
static const weight_entry *weight_for(m2d_dnnl *c, const float *W, int64_t N, int64_t K,
                                      const dnnl_memory_desc_t *want) {
    // A copy of W in another layout (another M made oneDNN prefer another blocking) is the source
    // when there is one: W's own pages may already be released.
    const weight_entry *other = NULL;
    for (size_t i = 0; i < c->n_weights; i++) {
        weight_entry *w = &c->weights[i];
        if (w->W != W || w->N != N || w->K != K) continue;
        if (c->api.memory_desc_equal(&w->md, want)) return w;
        other = w;
    }
    if (!reserve_weight_slot(c)) return NULL;
    // W (N,K) row-major is the (K,N) matrix in "ba" order.
    int int8 = c->precision == M2D_DNNL_INT8;
    dnnl_memory_desc_t plain;
    dnnl_dims_t wd = {K, N};
    c->api.memory_desc_init_by_tag(&plain, 2, wd, int8 ? dnnl_s8 : dnnl_f32, dnnl_ba);
    dnnl_memory_t from, to;
    void *source = (void *)W;
    weight_entry w = {.W = W, .N = N, .K = K, .md = *want};
    int8_t *quantized = NULL;
    if (other) {
        plain = other->md;
        c->api.memory_get_data_handle(other->mem, &source);
        w.scales = other->scales;
        w.sums = other->sums;
    } else if (int8) {
        quantized = quantize_with_tables(c, W, N, K, &w);
        if (!quantized) return NULL;
        source = quantized;
    }
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder;
    int made = c->api.memory_create(&from, &plain, c->engine, source) == dnnl_success;
    if (made && c->api.memory_create(&to, want, c->engine, DNNL_MEMORY_ALLOCATE) != dnnl_success) {
        c->api.memory_destroy(from);
        made = 0;
    }
    if (made && c->api.reorder_primitive_desc_create(&rpd, &plain, c->engine, want, c->engine, NULL) == dnnl_success) {
        c->api.primitive_create(&reorder, rpd);
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        c->api.primitive_execute(reorder, c->stream, 2, args);
        c->api.stream_wait(c->stream);
        c->api.primitive_destroy(reorder);
        c->api.primitive_desc_destroy(rpd);
    } else if (made) {
        c->api.memory_destroy(to);
        made = 0;
    }
    if (made) c->api.memory_destroy(from);
    free(quantized);
    if (!made) {
        free_tables(&w);
        return NULL;
    }
    if (c->release_sources && !other) release_pages(W, (size_t)(N * K) * sizeof(float));
    w.mem = to;
    c->weights[c->n_weights] = w;
    c->weight_bytes += c->api.memory_desc_get_size(want);
    return &c->weights[c->n_weights++];
}

// The packed copy of W (made now if there is none, split over threads for products of about M rows),
// with its int8 tables. The pointer is valid until the next copy is made.
static const weight_entry *packed_weight_for(m2d_dnnl *c, const float *W, int64_t N, int64_t K, int64_t M) {
    for (size_t i = 0; i < c->n_weights; i++) {
        weight_entry *w = &c->weights[i];
        if (w->W == W && w->N == N && w->K == K && w->packed) return w;
    }
    if (!reserve_weight_slot(c)) return NULL;
    // fp32 products of any height run on the copy; it is split over threads for at most 256 rows (for a
    // whole batch's rows one chunk ran 15% slower; for one chunk's, a batch of 8 runs as fast as the
    // matmul primitive). int8 products must not have more rows than the copy was made for: one tile.
    int64_t rows = c->precision == M2D_DNNL_INT8 ? M2D_DNNL_INT8_TILE_ROWS : M < 256 ? M : 256;
    weight_entry w = {.W = W, .N = N, .K = K, .packed_rows = rows};
    size_t bytes = 0;
    if (c->precision == M2D_DNNL_INT8) {
        int8_t *quantized = quantize_with_tables(c, W, N, K, &w);
        if (quantized) w.packed = packed_gemm_pack_s8(&c->packed, quantized, N, K, rows, &bytes);
        free(quantized);
        if (!w.packed) {
            free_tables(&w);
            return NULL;
        }
    } else {
        w.packed = packed_gemm_pack_f32(&c->packed, W, N, K, rows, &bytes);
        if (!w.packed) return NULL;
    }
    if (c->release_sources) release_pages(W, (size_t)(N * K) * sizeof(float));
    c->weights[c->n_weights] = w;
    c->weight_bytes += bytes;
    return &c->weights[c->n_weights++];
}

int m2d_dnnl_prepare_linear(m2d_dnnl *c, const float *W, int64_t N, int64_t K, int64_t M) {
    if (M == 0 || N == 0) return 0;
    if (c->use_packed) return packed_weight_for(c, W, N, K, M) ? 0 : 2;
    matmul_entry *e = matmul_for(c, M, N, K, 0, 1);
    if (!e) return 1;
    return weight_for(c, W, N, K, c->api.primitive_desc_query_md(e->pd, dnnl_query_weights_md, 0)) ? 0 : 2;
}

int m2d_dnnl_linear(m2d_dnnl *c, const float *x, int64_t M, int64_t K, const float *W, int64_t N,
                    const float *bias, float *y, int accumulate) {
    if (c->precision == M2D_DNNL_INT8) return 6;
    if (M == 0 || N == 0) return 0;
    if (c->use_packed) {
        const weight_entry *w = packed_weight_for(c, W, N, K, M);
        return w ? packed_gemm_linear_f32(&c->packed, w->packed, x, M, K, N, bias, y, accumulate) : 2;
    }
    matmul_entry *e = matmul_for(c, M, N, K, accumulate != 0, bias != NULL);
    if (!e) return 1;
    const dnnl_memory_desc_t *want = c->api.primitive_desc_query_md(e->pd, dnnl_query_weights_md, 0);
    const weight_entry *w = weight_for(c, W, N, K, want);
    if (!w) return 2;
    c->api.memory_set_data_handle(e->src, (void *)x);
    c->api.memory_set_data_handle(e->dst, y);
    if (e->bias) c->api.memory_set_data_handle(e->bias, (void *)bias);
    if (c->bf16) {
        // One bf16 copy of the input at a time: a buffer shared by every shape, grown when needed.
        size_t bytes = (size_t)(M * K) * 2;
        if (bytes > c->src_bf16_bytes) {
            void *grown = aligned_alloc(64, (bytes + 63) / 64 * 64);
            if (!grown) return 3;
            free(c->src_bf16);
            c->src_bf16 = grown;
            c->src_bf16_bytes = bytes;
        }
        c->api.memory_set_data_handle(e->src_bf16, c->src_bf16);
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, e->src}, {DNNL_ARG_TO, e->src_bf16}};
        if (c->api.primitive_execute(e->src_reorder, c->stream, 2, r) != dnnl_success) return 3;
    }
    dnnl_exec_arg_t args[5] = {
        {DNNL_ARG_SRC, c->bf16 ? e->src_bf16 : e->src}, {DNNL_ARG_WEIGHTS, w->mem}, {DNNL_ARG_DST, e->dst},
        {DNNL_ARG_BIAS, e->bias}};
    int n = with_scratch(c, e->scratch, args, e->bias ? 4 : 3);
    if (c->api.primitive_execute(e->prim, c->stream, n, args) != dnnl_success) return 4;
    return c->api.stream_wait(c->stream) == dnnl_success ? 0 : 5;
}

int m2d_dnnl_linear_s8(m2d_dnnl *c, const uint8_t *q, int64_t M, int64_t K, const float *W, int64_t N, int32_t *acc,
                       const float **scales, const int32_t **sums) {
    if (c->precision != M2D_DNNL_INT8) return 6;
    if (M == 0 || N == 0) return 0;
    if (c->use_packed) {
        const weight_entry *w = packed_weight_for(c, W, N, K, M);
        if (!w) return 2;
        if (M > w->packed_rows) return 8;
        *scales = w->scales;
        *sums = w->sums;
        return packed_gemm_product_s8(&c->packed, w->packed, q, M, K, N, acc);
    }
    matmul_entry *e = matmul_for(c, M, N, K, 0, 0);
    if (!e) return 1;
    const dnnl_memory_desc_t *want = c->api.primitive_desc_query_md(e->pd, dnnl_query_weights_md, 0);
    const weight_entry *entry = weight_for(c, W, N, K, want);
    if (!entry) return 2;
    *scales = entry->scales;
    *sums = entry->sums;
    c->api.memory_set_data_handle(e->src, (void *)q);
    c->api.memory_set_data_handle(e->dst, acc);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, entry->mem}, {DNNL_ARG_DST, e->dst}};
    int n = with_scratch(c, e->scratch, args, 3);
    if (c->api.primitive_execute(e->prim, c->stream, n, args) != dnnl_success) return 4;
    return c->api.stream_wait(c->stream) == dnnl_success ? 0 : 5;
}

void m2d_dnnl_int8_ranges(m2d_dnnl *c, int *weight_limit, int *activation_levels) {
    *weight_limit = c->weight_limit;
    *activation_levels = c->activation_levels;
}

static strided_entry *strided_for(m2d_dnnl *c, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                                  const int64_t as[3], const int64_t bs[3], const int64_t cs[3]) {
    for (size_t i = 0; i < c->n_strided; i++) {
        strided_entry *g = &c->strided[i];
        if (g->batch == batch && g->M == M && g->N == N && g->K == K && g->alpha == alpha && g->beta == beta &&
            !memcmp(g->as, as, sizeof g->as) && !memcmp(g->bs, bs, sizeof g->bs) && !memcmp(g->cs, cs, sizeof g->cs))
            return g;
    }
    if (c->n_strided == c->cap_strided) {
        size_t cap = c->cap_strided ? 2 * c->cap_strided : 32;
        strided_entry *grown = realloc(c->strided, cap * sizeof *grown);
        if (!grown) return NULL;
        c->strided = grown;
        c->cap_strided = cap;
    }
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_dims_t ad = {batch, M, K}, bd = {batch, K, N}, cd = {batch, M, N};
    dnnl_dims_t sa = {as[0], as[1], as[2]}, sb = {bs[0], bs[1], bs[2]}, sc = {cs[0], cs[1], cs[2]};
    if (c->api.memory_desc_init_by_strides(&amd, 3, ad, dnnl_f32, sa) != dnnl_success ||
        c->api.memory_desc_init_by_strides(&bmd, 3, bd, dnnl_f32, sb) != dnnl_success ||
        c->api.memory_desc_init_by_strides(&cmd, 3, cd, dnnl_f32, sc) != dnnl_success) return NULL;
    dnnl_matmul_desc_t md;
    if (c->api.matmul_desc_init(&md, &amd, &bmd, NULL, &cmd) != dnnl_success) return NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    c->api.primitive_attr_create(&attr);
    if (alpha != 1.0f) c->api.primitive_attr_set_output_scales(attr, 1, 0, &alpha);
    if (beta != 0.0f) {
        c->api.post_ops_create(&ops);
        c->api.post_ops_append_sum(ops, beta);
        c->api.primitive_attr_set_post_ops(attr, ops);
    }
    strided_entry g = {.batch = batch, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta};
    memcpy(g.as, as, sizeof g.as);
    memcpy(g.bs, bs, sizeof g.bs);
    memcpy(g.cs, cs, sizeof g.cs);
    int made = make_primitive(c, &md, attr, &g.pd, &g.prim, &g.scratch);
    if (ops) c->api.post_ops_destroy(ops);
    c->api.primitive_attr_destroy(attr);
    if (!made) return NULL;
    c->api.memory_create(&g.a, &amd, c->engine, DNNL_MEMORY_NONE);
    c->api.memory_create(&g.b, &bmd, c->engine, DNNL_MEMORY_NONE);
    c->api.memory_create(&g.c, &cmd, c->engine, DNNL_MEMORY_NONE);
    c->strided[c->n_strided] = g;
    return &c->strided[c->n_strided++];
}

static int strided_product(m2d_dnnl *c, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                           const float *A, const int64_t as[3], const float *B, const int64_t bs[3], float *C,
                           const int64_t cs[3]) {
    if (batch == 0 || M == 0 || N == 0) return 0;
    strided_entry *g = strided_for(c, batch, M, N, K, alpha, beta, as, bs, cs);
    if (!g) return 1;
    c->api.memory_set_data_handle(g->a, (void *)A);
    c->api.memory_set_data_handle(g->b, (void *)B);
    c->api.memory_set_data_handle(g->c, C);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, g->a}, {DNNL_ARG_WEIGHTS, g->b}, {DNNL_ARG_DST, g->c}};
    int n = with_scratch(c, g->scratch, args, 3);
    if (c->api.primitive_execute(g->prim, c->stream, n, args) != dnnl_success) return 4;
    return c->api.stream_wait(c->stream) == dnnl_success ? 0 : 5;
}

int m2d_dnnl_gemm(m2d_dnnl *c, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    // A batch of one; a transposed operand is the same matrix read with swapped strides.
    const int64_t as[3] = {(transA ? K : M) * lda, transA ? 1 : lda, transA ? lda : 1};
    const int64_t bs[3] = {(transB ? N : K) * ldb, transB ? 1 : ldb, transB ? ldb : 1}, cs[3] = {M * ldc, ldc, 1};
    return strided_product(c, 1, M, N, K, alpha, beta, A, as, B, bs, C, cs);
}

int m2d_dnnl_batched_gemm(m2d_dnnl *c, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, const int64_t a_strides[3], const float *B, const int64_t b_strides[3],
                          float beta, float *C, const int64_t c_strides[3]) {
    return strided_product(c, batch, M, N, K, alpha, beta, A, a_strides, B, b_strides, C, c_strides);
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
