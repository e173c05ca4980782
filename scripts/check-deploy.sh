#!/usr/bin/env bash
# Checks deploy/: the systemd unit with systemd-analyze verify, the Dockerfile
# against vipd's documented lint rules (hadolint is not installable here:
# see deploy/lint_test.go), the unit's hardening, the DaemonSet, the
# Prometheus scrape configuration with promtool, and `vipd config check` on
# every example configuration. Called by
# scripts/test.sh; runs on its own too (needs go and systemd-analyze).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$(go env GOPATH)/bin:$PATH"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== build vipd for the checks"
CGO_ENABLED=0 go build -tags grpcnotrace -o "$work/vipd" ./cmd/vipd

echo "== systemd-analyze verify deploy/systemd/vipd.service"
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is missing (scripts/install-deps.sh installs systemd)"; exit 1; }
# verify resolves ExecStart: check a copy that runs the binary just built.
sed "s#/usr/local/bin/vipd#$work/vipd#g" deploy/systemd/vipd.service > "$work/vipd.service"
out=$(systemd-analyze verify "$work/vipd.service" 2>&1) || { echo "$out"; exit 1; }
# verify only warns about some mistakes (an unknown key, say): fail on them.
if [ -n "$out" ]; then echo "$out"; exit 1; fi

echo "== Dockerfile lint, unit hardening, DaemonSet, examples (go test ./deploy)"
go test -count=1 ./deploy/

echo "== promtool check config deploy/prometheus/scrape.yml (and the alert rules it loads)"
command -v promtool >/dev/null || { echo "promtool is missing (scripts/install-deps.sh installs it)"; exit 1; }
promtool check config deploy/prometheus/scrape.yml

echo "== vipd config check on every example"
shopt -s nullglob
n=0
for f in deploy/examples/*/*.yaml deploy/examples/*/*.yml deploy/examples/*/*.conf; do
	"$work/vipd" config check --config "$f"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no example configuration found"; exit 1; }
echo "deploy checks passed ($n example configurations)"
