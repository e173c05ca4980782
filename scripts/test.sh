#!/usr/bin/env bash
# Runs every check and test of vipd: formatting, go vet, staticcheck, then
# all tests, including the ones in network namespaces (they need root).
# Installs what the tests need first. This is the README's test command and
# what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
export PATH="/usr/local/go/bin:$(go env GOPATH)/bin:$PATH"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go') 2>&1 || true)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
staticcheck ./...

echo "== proto: buf lint + generate, no diff"
# Regenerates with the pinned buf and plugins; the committed code must be
# exactly what they produce (no change, no new untracked file).
bash scripts/gen-proto.sh
git diff --exit-code -- proto docs/openapi
untracked=$(git ls-files --others --exclude-standard -- proto docs/openapi)
if [ -n "$untracked" ]; then
	echo "generated but not committed:"; echo "$untracked"; exit 1
fi

echo "== go build (static, linux/amd64 and linux/arm64)"
for arch in amd64 arm64; do
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -tags grpcnotrace -o /dev/null ./cmd/vipd
done

bash scripts/check-deploy.sh

echo "== go test"
# Namespace tests measure failover times: one package at a time keeps the
# two cores free for the daemons under test.
go test -count=1 -p 1 -timeout 30m "$@" ./...

echo "== chaos soak (short profile, about 3 minutes)"
# Five agents in namespaces, a random disturbance every few seconds; fails
# on any broken invariant (docs/reliability.md, "Chaos soak"). It runs after
# the other tests so that nothing else loads the machine while it samples.
VIPD_SOAK=short go test -count=1 -run '^TestSoak$' -timeout 10m ./bench/soak

echo "== go test -race (every package but test/e2e)"
# test/e2e is left out: its tests time failovers of vipd binaries they
# build and start as separate processes, so instrumenting the test process
# would slow what they measure and see none of the daemons' goroutines.
go test -race -count=1 -p 1 -timeout 20m $(go list ./... | grep -v '/test/e2e$')
bash scripts/fuzz.sh 30s
