#!/usr/bin/env bash
# The release files of one version (`make dist`), from built static trees:
#
#   bch-<version>-linux-<arch>.tar.gz   bin/bch, the man page, bash/zsh/fish completions,
#                                       README.md and LICENSE under bch-<version>-linux-<arch>/
#   bch_<version>_<debarch>.deb         the same under /usr, for dpkg/apt
#   install.sh                          scripts/install.sh, its release URL filled in
#   SHA256SUMS                          of all of the above
#
#   scripts/dist.sh <out-dir> <release-url or ''> <build-tree>...
#   scripts/dist.sh pack <out-dir> <build-tree>      one tree's archive and package only
#
# Each tree is one target (its bch says which: `bch version`); a cross-built tree's bch
# runs under the emulator its CMake cache names. Files are reproducible: owners, modes,
# order and times (the commit's) are fixed, and gzip stores no name or time.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || echo 0)}
maintainer=${DEB_MAINTAINER:-"bch developers <bch@invalid>"}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

die() {
  echo "dist: $*" >&2
  exit 1
}

# run_bch <tree> <args...>: the tree's bch, under its emulator when cross-built.
run_bch() {
  local tree=$1
  shift
  local emulator
  emulator=$(sed -n 's/^CMAKE_CROSSCOMPILING_EMULATOR:[A-Z]*=//p' "$tree/CMakeCache.txt")
  ${emulator:+"$emulator"} "$tree/src/bch" "$@"
}

# Fixed metadata, then a gzip-compressed tar of <dir> (relative to <base>).
reproducible_tar() {
  local base=$1 dir=$2 out=$3
  find "$base/$dir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  tar -C "$base" --sort=name --owner=0 --group=0 --numeric-owner --format=gnu \
    --mtime="@$SOURCE_DATE_EPOCH" -cf - "$dir" | gzip -9n >"$out"
}

pack() {
  local out=$1 tree=$2
  [ -x "$tree/src/bch" ] || die "no bch built in $tree"
  local line version target arch debarch
  line=$(run_bch "$tree" version) || die "the bch of $tree does not run"
  [[ $line =~ ^bch\ ([0-9][0-9A-Za-z.+~-]*)\ \(([0-9a-z-]+),\ ([a-z0-9_]+)-linux\)$ ]] ||
    die "unexpected version line from $tree: $line"
  version=${BASH_REMATCH[1]}
  target=${BASH_REMATCH[3]}
  [[ ${BASH_REMATCH[2]} != *-dirty ]] || [ -n "${BCH_DIST_DIRTY:-}" ] ||
    die "$tree was built from uncommitted changes (${BASH_REMATCH[2]}): commit first"
  case $target in
    x86_64) arch=x86_64 debarch=amd64 ;;
    aarch64) arch=aarch64 debarch=arm64 ;;
    *) die "no release name for target $target" ;;
  esac
  local stage=$work/$target
  rm -rf "$stage"
  mkdir -p "$stage"

  # The archive: the install rules' own layout under one folder, binary stripped.
  local top=bch-$version-linux-$arch
  cmake --install "$tree" --prefix "$stage/$top" --strip >/dev/null
  cp "$src/README.md" "$src/LICENSE" "$stage/$top/"
  chmod -R u=rwX,go=rX "$stage/$top"
  reproducible_tar "$stage" "$top" "$out/$top.tar.gz"

  # The package: /usr, with Debian's places for a man page (compressed) and zsh
  # completions, the licence as copyright, and the control files dpkg reads.
  local root=$stage/deb
  DESTDIR=$root cmake --install "$tree" --prefix /usr --strip >/dev/null
  mkdir -p "$root/usr/share/zsh/vendor-completions" "$root/usr/share/doc/bch" "$root/DEBIAN"
  mv "$root/usr/share/zsh/site-functions/_bch" "$root/usr/share/zsh/vendor-completions/_bch"
  rmdir "$root/usr/share/zsh/site-functions"
  gzip -9n "$root/usr/share/man/man1/bch.1"
  {
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: bch"
    echo
    echo "Files: *"
    echo "License: MIT"
    sed 's/^$/./; s/^/ /' "$src/LICENSE"
  } >"$root/usr/share/doc/bch/copyright"
  chmod -R u=rwX,go=rX "$root"
  (cd "$root" && find usr -type f | LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
  cat >"$root/DEBIAN/control" <<EOF
Package: bch
Version: $version
Architecture: $debarch
Maintainer: $maintainer
Installed-Size: $(du -sk --apparent-size "$root/usr" | cut -f1)
Section: devel
Priority: optional
Description: messages between AI coding agents
 bch carries short messages between coding agents (Claude Code, Codex, Gemini
 CLI, anything with a shell): a local spool on one machine, or a relay for a
 team, delivered into the receiving agent's next turn through a hook. One
 statically linked executable, with its relay server, MCP server and setup.
EOF
  chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zxz --build "$root" "$out/bch_${version}_${debarch}.deb" >/dev/null
  echo "dist: $out/$top.tar.gz, $out/bch_${version}_${debarch}.deb ($line)"
}

# install.sh with its default release URL (checked first: it goes into shell text).
installer() {
  local out=$1 url=$2
  sed "s|^default_url=''|default_url='$url'|" "$src/scripts/install.sh" >"$out/install.sh"
  grep -q "^default_url='$url'" "$out/install.sh" || die "install.sh has no default_url line"
  chmod 0755 "$out/install.sh"
}

if [ "${1:-}" = pack ]; then
  [ $# -eq 3 ] || die "usage: scripts/dist.sh pack <out-dir> <build-tree>"
  mkdir -p "$2"
  pack "$(cd "$2" && pwd)" "$3"
  exit 0
fi

[ $# -ge 3 ] || die "usage: scripts/dist.sh <out-dir> <release-url or ''> <build-tree>..."
out=$1
url=$2
shift 2
if [ -n "$url" ] && ! [[ $url =~ ^https://[A-Za-z0-9._~:/%+-]+$ ]]; then
  die "RELEASE_URL must be an https:// URL of plain characters: '$url'"
fi
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
for tree in "$@"; do
  pack "$out" "$tree"
done
installer "$out" "$url"
(cd "$out" && LC_ALL=C sha256sum -- *.tar.gz *.deb install.sh >SHA256SUMS)
echo "dist: $out/SHA256SUMS"
