#!/usr/bin/env bash
# Installs everything vipd's demo and tests need on a fresh Debian machine (run as root).
# Idempotent: packages already present are left alone, so CI and developers can run it every time.
set -euo pipefail

pkgs=(keepalived iproute2 iputils-ping tcpdump dnsmasq-base bind9-dnsutils curl nftables procps psmisc prometheus systemd)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# --no-install-recommends: keepalived recommends ipvsadm etc., which the tests do not need.
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's keepalived package may start its service; vipd's tests run their own keepalived
# processes inside namespaces, so a host-wide one must not be running.
# The same holds for Debian's prometheus package: tests start their own server.
for svc in keepalived prometheus; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
		systemctl stop "$svc" || true
	fi
done

# Go: the machine image has it in /usr/local/go. On a bare Debian, take Debian's
# go command and let it fetch the toolchain go.mod asks for through the module proxy.
export PATH="/usr/local/go/bin:$PATH"
if ! command -v go >/dev/null 2>&1; then
	apt-get install -y -qq --no-install-recommends golang-go ca-certificates git
fi
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

# Go tools pinned to exact versions (the module proxy may refuse @latest).
export PATH="$(go env GOPATH)/bin:$PATH"
command -v staticcheck >/dev/null 2>&1 || go install honnef.co/go/tools/cmd/staticcheck@v0.8.0
# grpcurl drives the gRPC API in the tests, as an operator would.
command -v grpcurl >/dev/null 2>&1 || go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4

# buf 1.75.0 lints proto/ and runs the code generators (scripts/gen-proto.sh).
# The npm package carries the prebuilt binary; without npm, build it with Go.
if [ "$(buf --version 2>/dev/null || true)" != "1.75.0" ]; then
	if command -v npm >/dev/null 2>&1; then
		npm install -g --no-fund --no-audit @bufbuild/buf@1.75.0
	else
		go install github.com/bufbuild/buf/cmd/buf@v1.75.0
	fi
	hash -r
	[ "$(buf --version 2>/dev/null || true)" = "1.75.0" ] || { echo "buf 1.75.0 is not first on PATH: $(command -v buf || echo none)" >&2; exit 1; }
fi
