// GET /docs: the Swagger UI page and its two assets, served from the binary (embedded from Debian's
// python3-flasgger at build time), byte for byte the package's files; main port only, no key needed.
import Foundation
import Testing
import TestSupport

@Suite struct DocsRouteTests {
    static let assets = "/usr/lib/python3/dist-packages/flasgger/ui3/static"

    @Test func pageAndAssetsAreServedFromTheBinary() throws {
        try TestServer.with(configure: { $0.apiKey = "secret" }) { s in
            let page = try s.get("/docs")
            #expect(page.status == 200 && page.headers["content-type"] == "text/html; charset=utf-8")
            #expect(page.text.contains("/docs/swagger-ui-bundle.js") && page.text.contains("url: \"/openapi.yaml\""))
            for (path, file, type) in [
                ("/docs/swagger-ui-bundle.js", "swagger-ui-bundle.js", "application/javascript; charset=utf-8"),
                ("/docs/swagger-ui.css", "swagger-ui.css", "text/css; charset=utf-8"),
            ] {
                let r = try s.get(path)
                #expect(r.status == 200 && r.headers["content-type"] == type, "\(path)")
                #expect(r.body == FileManager.default.contents(atPath: Self.assets + "/" + file), "\(path)")
            }
            let admin = try s.get("/docs", admin: true)
            #expect(admin.status == 404)
        }
    }
}
