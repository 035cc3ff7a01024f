// DocsHandler: GET /docs, Swagger UI rendering /openapi.yaml, with its script and stylesheet served from the
// binary (CSwaggerUI embeds them from Debian's python3-flasgger at build time): no CDN, no file at run time.
import CSwaggerUI

struct DocsHandler: RouteHandler {
    /// The page: Swagger UI's BaseLayout on the server's own spec; "Try it out" calls this server.
    static let page = Array(
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <title>m2d-server API</title>
          <link rel="stylesheet" href="/docs/swagger-ui.css">
        </head>
        <body>
          <div id="swagger-ui"></div>
          <script src="/docs/swagger-ui-bundle.js"></script>
          <script>
            window.ui = SwaggerUIBundle({
              url: "/openapi.yaml", dom_id: "#swagger-ui", deepLinking: true,
              presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"
            });
          </script>
        </body>
        </html>

        """.utf8)

    static func asset(_ which: m2d_swagger_asset) -> [UInt8] {
        var length = 0
        guard let bytes = m2d_swagger_asset_bytes(which, &length), length > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: bytes, count: length))
    }

    static let script = asset(M2D_SWAGGER_BUNDLE_JS)
    static let style = asset(M2D_SWAGGER_CSS)

    func respond(to request: AdmittedRequest, reply: @escaping @Sendable (Reply) -> Void) {
        guard !Self.script.isEmpty, !Self.style.isEmpty else {
            return reply(
                .error(
                    .notFound(
                        "this m2d-server was built without Swagger UI's assets; install Debian's python3-flasgger "
                            + "and rebuild (make build; by hand: touch Sources/CSwaggerUI/swagger_ui.c, then swift "
                            + "build), or read /openapi.yaml"), route: request.route))
        }
        let (body, type): ([UInt8], String) =
            switch request.route {
            case .docsScript: (Self.script, "application/javascript; charset=utf-8")
            case .docsStyle: (Self.style, "text/css; charset=utf-8")
            default: (Self.page, "text/html; charset=utf-8")
            }
        reply(
            Reply(
                HTTPResponse(
                    status: 200, headers: [("Content-Type", type), ("Cache-Control", "public, max-age=3600")],
                    body: body)))
    }
}
