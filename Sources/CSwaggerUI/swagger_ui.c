// Embeds Swagger UI's bundle and stylesheet with the assembler's .incbin, so the server needs no CDN and no
// file at run time. The path is the Debian package's (python3-flasgger, installed by scripts/install-deps.sh).
#include "m2d_swagger_ui.h"

#define M2D_SWAGGER_DIR "/usr/lib/python3/dist-packages/flasgger/ui3/static/"

#if __has_include("/usr/lib/python3/dist-packages/flasgger/ui3/static/swagger-ui-bundle.js") && \
    __has_include("/usr/lib/python3/dist-packages/flasgger/ui3/static/swagger-ui.css")
#define M2D_EMBED(symbol, file)                                                     \
    __asm__(".section .rodata\n"                                                    \
            ".balign 16\n"                                                          \
            ".global " #symbol "\n" #symbol ":\n"                                   \
            ".incbin \"" M2D_SWAGGER_DIR file "\"\n"                                \
            ".global " #symbol "_end\n" #symbol "_end:\n"                           \
            ".byte 0\n"                                                             \
            ".previous\n");                                                         \
    extern const unsigned char symbol[];                                            \
    extern const unsigned char symbol##_end[];

M2D_EMBED(m2d_swagger_bundle_js, "swagger-ui-bundle.js")
M2D_EMBED(m2d_swagger_css, "swagger-ui.css")

const unsigned char *m2d_swagger_asset_bytes(m2d_swagger_asset asset, size_t *length) {
    switch (asset) {
    case M2D_SWAGGER_BUNDLE_JS:
        *length = (size_t)(m2d_swagger_bundle_js_end - m2d_swagger_bundle_js);
        return m2d_swagger_bundle_js;
    case M2D_SWAGGER_CSS:
        *length = (size_t)(m2d_swagger_css_end - m2d_swagger_css);
        return m2d_swagger_css;
    }
    *length = 0;
    return 0;
}
#else
const unsigned char *m2d_swagger_asset_bytes(m2d_swagger_asset asset, size_t *length) {
    (void)asset;
    *length = 0;
    return 0;
}
#endif
