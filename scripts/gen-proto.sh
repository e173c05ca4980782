#!/usr/bin/env bash
# Lints proto/ and regenerates the code and the OpenAPI description from it:
# proto/vipd/v1/*.pb.go, *.pb.gw.go and docs/openapi/vipd.swagger.json.
# Installs nothing: buf comes from scripts/install-deps.sh, the protoc
# plugins are go.mod tool directives (run through `go tool`, so their
# versions are the ones pinned in go.mod). Run it after editing a .proto or
# proto/vipd/v1/*.yaml, and commit what it changes.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$(go env GOPATH)/bin:$PATH"

want=1.75.0
have=$(buf --version 2>/dev/null || true)
if [ "$have" != "$want" ]; then
	echo "gen-proto: need buf $want, found '${have:-none}' (run scripts/install-deps.sh)" >&2
	exit 1
fi

buf lint
buf format --diff --exit-code

# buf.gen.yaml cannot use `clean: true` (proto/ holds the sources), so drop
# the generated files here: a renamed or deleted .proto leaves nothing stale.
find proto -type f \( -name '*.pb.go' -o -name '*.pb.gw.go' \) -delete
rm -f docs/openapi/*.swagger.json

buf generate
