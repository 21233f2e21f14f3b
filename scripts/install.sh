#!/bin/sh
# Installs bch from a release: the static binary, its man page and its bash, zsh and fish
# completions, under ~/.local by default (no root). Run again to upgrade.
#
#   curl -fsSL <release-url>/install.sh | sh
#   sh install.sh [--prefix DIR] [--from URL|DIR] [ARCHIVE]
#
# --from names where the release lies: an https:// or file:// URL, or a folder, holding
# SHA256SUMS and the archives (default: the URL `make dist RELEASE_URL=…` wrote below, or
# $BCH_RELEASE_URL). ARCHIVE installs a downloaded bch-<version>-linux-<arch>.tar.gz; its
# checksum is looked up in the SHA256SUMS beside it, or given with --sha256 HEX.
# Nothing is installed unless the archive's SHA-256 matches and its bch runs here.
set -eu

default_url=''  # the release this script belongs to (filled in by make dist)

prefix=${HOME:?}/.local
from=${BCH_RELEASE_URL:-$default_url}
archive=''
sha256=''

say() { printf '%s\n' "$*"; }
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}
usage() { sed -n '2,13s/^# \{0,1\}//p' "$0" 2>/dev/null || true; }

while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --from) [ $# -ge 2 ] || die "--from needs a URL or folder"; from=$2; shift 2 ;;
    --from=*) from=${1#*=}; shift ;;
    --sha256) [ $# -ge 2 ] || die "--sha256 needs a checksum"; sha256=$2; shift 2 ;;
    --sha256=*) sha256=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$archive" ] || die "one archive at a time"; archive=$1; shift ;;
  esac
done
[ -n "$prefix" ] || die "--prefix is empty"

# Only prebuilt Linux binaries exist; elsewhere bch builds from source.
case $(uname -s) in
  Linux) ;;
  *) die "no prebuilt bch for $(uname -s): build it from source (README, \"Install\")" ;;
esac
case $(uname -m) in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) die "no prebuilt bch for $(uname -m) Linux: build it from source (README, \"Install\")" ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/bch-install.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# fetch <name> <destination>: one file of the release, from a folder or a URL.
fetch() {
  case $from in
    https://* | file://*)
      if command -v curl >/dev/null 2>&1; then
        curl -fsSL --proto '=https,file' -o "$2" "${from%/}/$1" || die "could not download ${from%/}/$1"
      elif command -v wget >/dev/null 2>&1; then
        case $from in file://*) cp "${from#file://}/$1" "$2" 2>/dev/null || die "no $1 in $from" ;;
          *) wget -q -O "$2" "${from%/}/$1" || die "could not download ${from%/}/$1" ;;
        esac
      else
        die "curl or wget is needed to download the release"
      fi ;;
    http://*) die "refusing $from: a release is fetched over https only" ;;
    *) [ -f "$from/$1" ] || die "no $1 in $from"; cp "$from/$1" "$2" ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    die "sha256sum or shasum is needed to check the download"
  fi
}

# expected_sum <SHA256SUMS file> <archive name>: its checksum, or nothing.
expected_sum() {
  awk -v n="$2" '($2 == n || $2 == "*" n) && $1 ~ /^[0-9a-f]+$/ && length($1) == 64 { print $1; exit }' "$1"
}

if [ -n "$archive" ]; then
  [ -f "$archive" ] || die "no archive at '$archive'"
  name=$(basename "$archive")
  cp "$archive" "$work/$name"
  if [ -z "$sha256" ]; then
    sums=$(dirname "$archive")/SHA256SUMS
    [ -f "$sums" ] || die "no SHA256SUMS beside $archive: put the release's SHA256SUMS there, or pass --sha256"
    sha256=$(expected_sum "$sums" "$name")
    [ -n "$sha256" ] || die "$name is not listed in $sums"
  fi
else
  [ -n "$from" ] || die "no release to install from: pass --from URL (or a folder), or a downloaded archive"
  fetch SHA256SUMS "$work/SHA256SUMS"
  name=$(awk -v a="$arch" '$2 ~ ("^[*]?bch-[0-9][0-9A-Za-z.+~-]*-linux-" a "[.]tar[.]gz$") { sub(/^[*]/, "", $2); print $2 }' \
    "$work/SHA256SUMS")
  [ -n "$name" ] || die "the release at $from has no archive for linux-$arch"
  [ "$(printf '%s\n' "$name" | wc -l)" -eq 1 ] || die "the release at $from lists several linux-$arch archives"
  sha256=$(expected_sum "$work/SHA256SUMS" "$name")
  [ -n "$sha256" ] || die "no usable checksum for $name in the release's SHA256SUMS"
  fetch "$name" "$work/$name"
fi

case $name in
  bch-*-linux-x86_64.tar.gz | bch-*-linux-aarch64.tar.gz) ;;
  *) die "'$name' is not a bch release archive (bch-<version>-linux-<arch>.tar.gz)" ;;
esac
top=${name%.tar.gz}
case $top in
  *-linux-"$arch") ;;
  *) die "$name is for another machine (this one is linux-$arch)" ;;
esac
case $sha256 in
  *[!0-9a-fA-F]*) die "'$sha256' is not a SHA-256 checksum" ;;
esac
[ ${#sha256} -eq 64 ] || die "'$sha256' is not a SHA-256 checksum"
actual=$(sha256_of "$work/$name")
expected=$(printf '%s' "$sha256" | tr 'A-F' 'a-f')
[ "$actual" = "$expected" ] || die "checksum mismatch for $name (expected $expected, got $actual): nothing installed"

# Every member must lie inside the archive's own folder: no absolute paths, no '..'.
tar -tzf "$work/$name" >"$work/members" 2>"$work/tar.err" || die "$name is not a readable tar.gz archive"
if grep -Ev "^$top(/[A-Za-z0-9._+-]+)*/?\$" "$work/members" >/dev/null || grep -q '/\.\.\(/\|$\)' "$work/members"; then
  die "$name holds files outside $top/: refusing it"
fi
mkdir "$work/x"
tar -xzf "$work/$name" -C "$work/x" --no-same-owner --no-same-permissions || die "could not unpack $name"
[ -z "$(find "$work/x" -type l -o -type b -o -type c -o -type p)" ] || die "$name holds links or special files: refusing it"
new=$work/x/$top
[ -f "$new/bin/bch" ] && [ ! -L "$new/bin/bch" ] || die "$name holds no bin/bch"
chmod 0755 "$new/bin/bch"
version=$("$new/bin/bch" version 2>/dev/null) || die "the bch in $name does not run on this machine"

# Each file is copied beside its destination, then renamed over it: a running bch, or a
# hook starting one, never sees half a file.
put() {
  mkdir -p "$(dirname "$prefix/$1")" || die "cannot create $(dirname "$prefix/$1")"
  cp "$new/$1" "$prefix/$1.install-tmp" || die "cannot write $prefix/$1"
  chmod "$2" "$prefix/$1.install-tmp"
  mv -f "$prefix/$1.install-tmp" "$prefix/$1" || die "cannot write $prefix/$1"
}
put bin/bch 0755
for f in share/man/man1/bch.1 share/bash-completion/completions/bch share/zsh/site-functions/_bch \
  share/fish/vendor_completions.d/bch.fish; do
  [ -f "$new/$f" ] && put "$f" 0644
done

say "installed $version as $prefix/bin/bch"
case ":${PATH:-}:" in
  *":$prefix/bin:"*) ;;
  *) say "note: $prefix/bin is not on PATH; add it (e.g. export PATH=\"$prefix/bin:\$PATH\" in your shell's rc file)" ;;
esac
