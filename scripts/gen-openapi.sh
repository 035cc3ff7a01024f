#!/usr/bin/env bash
# Embeds openapi.yaml into the server binary (served at /openapi.yaml) as a Swift raw string.
# A test fails when the two differ, so run this after editing openapi.yaml (make openapi).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/Sources/M2DServer/App/OpenAPIDocument.swift"
{
  echo "// Generated from openapi.yaml by scripts/gen-openapi.sh; a test keeps the two identical."
  echo "enum OpenAPIDocument {"
  echo '    static let yaml = ####"""'
  cat "$root/openapi.yaml"
  echo '"""####'
  echo "}"
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
