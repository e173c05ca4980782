#!/usr/bin/env bash
# Installs the Go toolchain vipd is built with (go.mod's version) into
# /usr/local/go when no Go of at least that version is on PATH there.
#
# Debian's golang-go is too old (bookworm: 1.19, which neither builds a
# `go 1.26` module nor knows GOTOOLCHAIN), and go.dev may be unreachable
# where the module proxy is not. So the toolchain comes from the module
# proxy, as the go command's own toolchain switch fetches it, and is
# checked against the go.sum-style hash pinned below (what
# sum.golang.org records for that module version) before anything is
# unpacked.
#
#   GO_INSTALL_DIR=DIR  install somewhere else (default /usr/local/go)
set -euo pipefail

version=1.26.8
declare -A pinned=(
	[amd64]='h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM='
	[arm64]='h1:sYL/O6MqS68ML0kjsQ36WoYIpJqkw60TxizWUYUKQMc='
)
dir=${GO_INSTALL_DIR:-/usr/local/go}
proxy=${GOPROXY_URL:-https://proxy.golang.org}

if [ -x "$dir/bin/go" ] && [ "$("$dir/bin/go" env GOVERSION 2>/dev/null)" = "go$version" ]; then
	exit 0
fi

case "$(uname -m)" in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
*) echo "install-go: no pinned Go toolchain for $(uname -m)" >&2; exit 1 ;;
esac

for tool in curl python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl ca-certificates python3
		break
	fi
done

mod="v0.0.1-go$version.linux-$arch"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "install-go: fetching golang.org/toolchain@$mod from $proxy"
curl -fsS --retry 3 -o "$tmp/go.zip" "$proxy/golang.org/toolchain/@v/$mod.zip"

# Verify the module hash (Go's "h1:" dirhash: SHA-256 over the sorted
# "sha256  name" lines of the zip's files), then unpack with the modes the
# zip records, into a sibling directory swapped in at the end so that a
# failure leaves the old installation alone.
python3 - "$tmp/go.zip" "${pinned[$arch]}" "$tmp/unpacked" "golang.org/toolchain@$mod/" <<'PY'
import base64, hashlib, os, sys, zipfile
path, want, dest, prefix = sys.argv[1:5]
z = zipfile.ZipFile(path)
files = sorted(n for n in z.namelist() if not n.endswith("/"))
lines = "".join(f"{hashlib.sha256(z.read(n)).hexdigest()}  {n}\n" for n in files)
got = "h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()
if got != want:
    sys.exit(f"install-go: {path}: hash {got}, pinned {want}: refusing it")
for n in files:
    if not n.startswith(prefix) or ".." in n.split("/"):
        sys.exit(f"install-go: unexpected path {n!r} in the toolchain zip")
    out = os.path.join(dest, n[len(prefix):])
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "wb") as f:
        f.write(z.read(n))
    mode = (z.getinfo(n).external_attr >> 16) & 0o777
    rel = n[len(prefix):]
    if rel.startswith(("bin/", "pkg/tool/")):
        mode |= 0o755  # the go command marks these executable itself
    os.chmod(out, mode or 0o644)
PY
"$tmp/unpacked/bin/go" version >/dev/null
rm -rf "$dir.old"
if [ -e "$dir" ]; then mv "$dir" "$dir.old"; fi
mkdir -p "$(dirname "$dir")"
mv "$tmp/unpacked" "$dir"
rm -rf "$dir.old"
echo "install-go: $("$dir/bin/go" version) in $dir"
