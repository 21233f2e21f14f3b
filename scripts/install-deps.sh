#!/usr/bin/env bash
# Installs what bch needs to build and test on Debian 12, and fetches cpp-httplib's
# header-only httplib.h from Debian's source package (Debian ships the library only as
# a shared object, and bch links statically). Idempotent and quiet when all is there.
#
#   scripts/install-deps.sh <cache-dir> [--clang]   (the Makefile passes build/deps)
#
# It also installs, from the npm registry, the official MCP TypeScript SDK that
# tests/integration/test_mcp_http.sh runs against the relay (the versions pinned in
# tests/integration/mcp_sdk/package-lock.json), into <cache-dir>/mcp-sdk.
#
# --clang also installs clang with its sanitizer and libFuzzer runtimes and clang-tidy,
# which only the developer targets (test-sanitize, fuzz, tidy) need. --cross adds what
# `make dist` needs to build for arm64 too: Debian's aarch64 cross compiler, the arm64
# libraries (after `dpkg --add-architecture arm64`) and qemu to run what it built.
set -euo pipefail

cache=${1:-build/deps}
packages=(g++ cmake make file libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
          libssl-dev catch2 dpkg-dev jq clang-format openssl curl strace iproute2 nodejs)
case ${2:-} in
  --clang) packages+=(clang libclang-rt-14-dev clang-tidy) ;;
  --cross) packages+=(g++-aarch64-linux-gnu qemu-user-static libssl-dev:arm64 libspdlog-dev:arm64
                      libfmt-dev:arm64) ;;
  "") ;;
  *) echo "error: unknown option '$2' (--clang or --cross)" >&2; exit 2 ;;
esac

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

# npm comes with NodeSource's nodejs; Debian's nodejs needs Debian's npm beside it.
if ! command -v npm >/dev/null; then
  packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

updated=0
apt_update() {
  if [ "$updated" -eq 0 ]; then
    echo "updating the package lists (apt-get update)"
    quietly $sudo apt-get update -qq
    updated=1
  fi
}

# apt-get's chatter (debconf notes and the like) goes to a log, shown only on failure.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
quietly() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "error: '$*' failed" >&2
    exit 1
  fi
}

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  if [ "${2:-}" = "--cross" ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "adding arm64 as a foreign architecture (dpkg --add-architecture arm64)"
    quietly $sudo dpkg --add-architecture arm64
  fi
  apt_update
  quietly $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

sdk_pins=$(cd "$(dirname "$0")/.." && pwd)/tests/integration/mcp_sdk
sdk=$cache/mcp-sdk
if ! cmp -s "$sdk_pins/package-lock.json" "$sdk/package-lock.json" ||
  [ ! -d "$sdk/node_modules/@modelcontextprotocol/sdk" ]; then
  echo "installing the MCP TypeScript SDK for the tests (npm ci into $sdk)"
  rm -rf "$sdk"
  mkdir -p "$sdk"
  cp "$sdk_pins/package.json" "$sdk_pins/package-lock.json" "$sdk/"
  (cd "$sdk" && quietly npm ci --no-audit --no-fund --ignore-scripts)
fi

header="$cache/httplib/httplib.h"
if [ -s "$header" ]; then
  exit 0
fi

# apt-get source needs a deb-src entry; add one for bookworm's main archive if absent.
src_list=/etc/apt/sources.list.d/bch-deb-src.sources
if ! grep -rqs '^\(Types:.*deb-src\|deb-src\)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "adding a deb-src entry ($src_list) to fetch cpp-httplib's source"
  $sudo tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  updated=0
fi
apt_update

echo "fetching httplib.h from Debian's cpp-httplib source package"
work=$(mktemp -d)
trap 'rm -rf "$work" "$log"' EXIT
(cd "$work" && quietly apt-get source -qq --download-only cpp-httplib)
orig=$(ls "$work"/cpp-httplib_*.orig.tar.* | head -n1)
mkdir -p "$work/x"
tar -xf "$orig" -C "$work/x"
found=$(find "$work/x" -maxdepth 2 -name httplib.h | head -n1)
if [ -z "$found" ]; then
  echo "error: httplib.h not found in $orig" >&2
  exit 1
fi
mkdir -p "$cache/httplib"
cp "$found" "$header.tmp"
cp "$(dirname "$found")/LICENSE" "$cache/httplib/LICENSE" 2>/dev/null || true
mv "$header.tmp" "$header"
