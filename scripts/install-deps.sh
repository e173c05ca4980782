#!/usr/bin/env bash
# Installs everything vipd's demo and tests need on a fresh Debian machine (run as root).
# Idempotent: packages already present are left alone, so CI and developers can run it every time.
set -euo pipefail

# util-linux: setpriv runs the API security test as an unprivileged user.
# chromium: the status page's test drives it headless (test/e2e/ui_test.go).
pkgs=(keepalived iproute2 util-linux iputils-ping tcpdump dnsmasq-base bind9-dnsutils curl nftables procps psmisc prometheus systemd chromium)
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

# Go: go.mod's version in /usr/local/go, fetched from the module proxy and
# checked against a pinned hash when missing (Debian's golang-go is too old).
command -v git >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends git ca-certificates
bash "$(dirname "$0")/install-go.sh"
export PATH="/usr/local/go/bin:$PATH"

# moto_server (python moto 5.2.1) is the EC2 endpoint of the cloudmove tests.
# The machine image has it; elsewhere it comes from PyPI, pinned.
# Looked for where cloudmove/mototest.Binary looks: $MOTO_SERVER, PATH, pyenv.
have_moto() {
	[ -n "${MOTO_SERVER:-}" ] && [ -x "$MOTO_SERVER" ] && return 0
	command -v moto_server >/dev/null 2>&1 && return 0
	[ -x "${HOME:-/root}/.pyenv/shims/moto_server" ] || [ -x /root/.pyenv/shims/moto_server ]
}
if ! have_moto; then
	if ! command -v pip3 >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip python3-venv
	fi
	python3 -m venv /opt/vipd-moto
	/opt/vipd-moto/bin/pip install -q 'moto[server]==5.2.1'
	ln -sf /opt/vipd-moto/bin/moto_server /usr/local/bin/moto_server
fi

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
