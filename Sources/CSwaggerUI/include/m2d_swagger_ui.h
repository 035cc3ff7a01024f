// Swagger UI's assets, embedded in the binary at build time from Debian's python3-flasgger package
// (Swagger UI 3.x, Apache-2.0). Built without that package, every length is 0 and /docs says so.
#ifndef M2D_SWAGGER_UI_H
#define M2D_SWAGGER_UI_H
#include <stddef.h>

typedef enum { M2D_SWAGGER_BUNDLE_JS = 0, M2D_SWAGGER_CSS = 1 } m2d_swagger_asset;

/// The asset's bytes (read-only, static) and its length in *length (0 when not embedded).
const unsigned char *m2d_swagger_asset_bytes(m2d_swagger_asset asset, size_t *length);

#endif
