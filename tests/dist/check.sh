#!/usr/bin/env bash
# `make dist`'s last step: the release files install and run. The checksums hold; each
# archive and each .deb's contents go into a temp prefix, and the bch there runs (the
# arm64 one under qemu): its version line names the version and target, it carries its
# man page and completions, two agents exchange a message on the local spool and through
# a relay that same binary serves; install.sh installs this machine's archive from the
# release folder as a file:// URL.
#
#   tests/dist/check.sh <dist-dir> [release-url]
set -euo pipefail
dist=$(cd "$1" && pwd)
url=${2:-}
# lib.sh wants a bch before anything runs; each target's own is set below.
BCH=/bin/false
source "$(dirname "$0")/../integration/lib.sh"

(cd "$dist" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match the files"
expect_eq "$(cut -d' ' -f3 "$dist/SHA256SUMS" | sort | tr '\n' ' ')" \
  "$(cd "$dist" && ls *.tar.gz *.deb install.sh | sort | tr '\n' ' ')" "SHA256SUMS lists every file"
expect_eq "$(grep -c "^default_url='$url' " "$dist/install.sh")" 1 "install.sh names the release URL"

version=$(ls "$dist" | sed -n 's/^bch-\(.*\)-linux-x86_64\.tar\.gz$/\1/p')
[ -n "$version" ] || fail "no linux-x86_64 archive in $dist"
# The targets built (make dist DIST_TARGETS=x86_64 leaves out aarch64): each has an
# archive and a package.
archs=$(ls "$dist" | sed -n "s/^bch-$version-linux-\(.*\)\.tar\.gz\$/\1/p")
debarchs=$(ls "$dist" | sed -n "s/^bch_${version}_\(.*\)\.deb\$/\1/p")
expect_eq "$(echo $debarchs)" "$(echo "$archs" | sed 's/x86_64/amd64/; s/aarch64/arm64/' | sort | tr '\n' ' ' | sed 's/ $//')" \
  "a package for each archive"

# exercise <label>: the binary in $BCH sends, lists and drains on a local spool, and
# serves a relay that two agents of another home use.
exercise() {
  local label=$1
  as alice init alice >/dev/null
  as bob init bob >/dev/null
  as alice send @bob "hello from $label" >/dev/null
  expect_match "$(as bob drain)" "hello from $label" "$label: a message crosses the local spool"
  start_relay --token "dist-$label" --admin-token "admin-$label"
  if [ -n "$url" ]; then
    expect_contains "$(BACKCHANNEL_ADMIN_TOKEN="admin-$label" "$BCH" room new --url "$RELAY_URL")" \
      "  curl -fsSL $url/install.sh | sh" "$label: a new room's invite text names the release's install.sh"
  fi
  local invite
  invite=$("$BCH" invite --url "$RELAY_URL" --token "dist-$label" | awk '{print $3}')
  at r1 join "$invite" --as carol --no-hooks >/dev/null
  at r2 join "$invite" --as dave --no-hooks >/dev/null
  at r1 send @dave "over the relay from $label" >/dev/null
  expect_match "$(at r2 drain)" "over the relay from $label" "$label: a message crosses its relay"
  stop_relay
  rm -rf "$T/home" "$T/r1" "$T/r2" "$T/relay"
}

# check_tree <root of an installed tree> <target> <label> [emulator]
check_tree() {
  local root=$1 target=$2 label=$3 emulator=${4:-}
  [ -x "$root/bin/bch" ] || fail "$label: no bin/bch"
  expect_match "$(file -b "$root/bin/bch")" "statically linked" "$label: bch is static"
  if [ -n "$emulator" ]; then
    printf '#!/bin/sh\nexec %q %q "$@"\n' "$emulator" "$root/bin/bch" >"$T/bch-$label"
    chmod +x "$T/bch-$label"
    BCH=$T/bch-$label
  else
    BCH=$root/bin/bch
  fi
  expect_match "$("$BCH" version)" "^bch $version \\([0-9a-f]{12}(-dirty)?, $target-linux\\)\$" "$label: its version line"
  for f in bash-completion/completions/bch fish/vendor_completions.d/bch.fish; do
    [ -s "$root/share/$f" ] || fail "$label: no share/$f"
  done
  exercise "$label"
}

# The archives, unpacked as install.sh would (one folder, nothing outside it).
for arch in $archs; do
  name=bch-$version-linux-$arch
  tar -tzf "$dist/$name.tar.gz" | grep -v "^$name/" && fail "$name.tar.gz has files outside $name/"
  mkdir -p "$T/tgz"
  tar -xzf "$dist/$name.tar.gz" -C "$T/tgz"
  [ -s "$T/tgz/$name/share/man/man1/bch.1" ] && [ -s "$T/tgz/$name/share/zsh/site-functions/_bch" ] &&
    [ -s "$T/tgz/$name/LICENSE" ] || fail "$name.tar.gz lacks the man page, zsh completion or LICENSE"
  emulator=""
  [ "$arch" = aarch64 ] && emulator=$(command -v qemu-aarch64-static) || true
  check_tree "$T/tgz/$name" "$arch" "$arch.tar.gz" "$emulator"
done

# The packages: their fields, and their contents under a temp root.
for debarch in $debarchs; do
  deb=$dist/bch_${version}_$debarch.deb
  expect_eq "$(dpkg-deb -f "$deb" Package Version Architecture)" "Package: bch
Version: $version
Architecture: $debarch" "$debarch.deb: its control fields"
  expect_eq "$(dpkg-deb -c "$deb" | awk '{print $2, $6}' | grep -v '/$' | sort)" "root/root ./usr/bin/bch
root/root ./usr/share/bash-completion/completions/bch
root/root ./usr/share/doc/bch/copyright
root/root ./usr/share/fish/vendor_completions.d/bch.fish
root/root ./usr/share/man/man1/bch.1.gz
root/root ./usr/share/zsh/vendor-completions/_bch" "$debarch.deb: its files, owned by root"
  dpkg-deb -x "$deb" "$T/deb-$debarch"
  target=x86_64 emulator=""
  [ "$debarch" = arm64 ] && target=aarch64 emulator=$(command -v qemu-aarch64-static) || true
  check_tree "$T/deb-$debarch/usr" "$target" "$debarch.deb" "$emulator"
done

# install.sh, as a teammate runs it: from the release folder as a URL, into a prefix.
[ "$(uname -m)" = x86_64 ] || fail "this check expects an x86_64 machine (it runs the other target under qemu)"
out=$(PATH=/usr/bin:/bin sh "$dist/install.sh" --from "file://$dist" --prefix "$T/prefix")
expect_match "$out" "^installed bch $version \\(.*, x86_64-linux\\) as $T/prefix/bin/bch" "install.sh installs this machine's archive"
expect_match "$("$T/prefix/bin/bch" version)" "^bch $version " "and the installed bch runs"
echo "dist: checked $(wc -l <"$dist/SHA256SUMS") files ($(echo $archs))"
