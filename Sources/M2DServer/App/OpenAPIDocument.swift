// Generated from openapi.yaml by scripts/gen-openapi.sh; a test keeps the two identical.
enum OpenAPIDocument {
    static let yaml = ""
}
