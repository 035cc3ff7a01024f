// OpenAPIDocument: Resources/openapi.yaml (also at the repository root, a link to it), embedded in
// the binary by SwiftPM at build time: the YAML file is the one source of the API description.

enum OpenAPIDocument {
    static var bytes: [UInt8] { PackageResources.openapi_yaml }
}
