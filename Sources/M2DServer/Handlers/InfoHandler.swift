// InfoHandler: GET /info, the served model, its heads, the limits, the engine and the build.
import Foundation
import M2DTensor

struct InfoHandler: RouteHandler {
    let app: ServerApp

    func respond(to request: AdmittedRequest, reply: @escaping @Sendable (Reply) -> Void) {
        let registry = app.registry, env = ProcessInfo.processInfo.environment
        let service = registry.service
        let info = InfoResponse(
            model: service.map { .init($0.model, sha: registry.modelSHA, precision: app.config.precision.rawValue) },
            status: app.readiness.status,
            heads: registry.heads.values.sorted { $0.name < $1.name }.map(InfoResponse.Head.init),
            audioProjection: registry.projection.map(InfoResponse.Projection.init),
            textEncoder: registry.text.map(InfoResponse.TextEncoder.init),
            limits: .init(app.config),
            backend: .init(
                engine: service?.scheduler.engineSummary ?? "loading", precision: app.config.precision.rawValue,
                openblasCore: BLAS.coreName, threads: service?.scheduler.computeThreads ?? BLAS.threads),
            version: ServerApp.version, sha: env["M2D_BUILD_SHA"] ?? "unknown", dockerLabel: env["M2D_DOCKER_LABEL"])
        reply(Reply(.json(200, JSONResponse.bytes(info))))
    }
}
