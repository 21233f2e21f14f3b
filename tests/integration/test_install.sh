#!/usr/bin/env bash
# The release as a teammate meets it: scripts/dist.sh packs this build (an archive, a
# .deb, install.sh, SHA256SUMS; the same bytes every time), and install.sh installs it
# from a URL, a folder or a downloaded archive into a prefix with no root, refusing
# anything whose checksum or contents are wrong without touching the prefix.
# (`make dist` packs both targets and runs tests/dist/check.sh on them.)
source "$(dirname "$0")/lib.sh"

src=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(uname -m)" = x86_64 ] || fail "this test expects an x86_64 machine"
tree=$(cd "$(dirname "$BCH")/.." && pwd)
[ -e "$tree/CMakeCache.txt" ] || fail "no build tree above $BCH"
cmake --build "$tree" --target bch_completions >/dev/null
export BCH_DIST_DIRTY=1 # a developer's tree may hold uncommitted changes
version=$("$BCH" version | cut -d' ' -f2)
name=bch-$version-linux-x86_64

"$src/scripts/dist.sh" "$T/rel" "" "$tree" >/dev/null
expect_eq "$(cd "$T/rel" && ls)" "SHA256SUMS
${name}.tar.gz
bch_${version}_amd64.deb
install.sh" "dist.sh writes the archive, the package, install.sh and SHA256SUMS"
(cd "$T/rel" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match"
first=$(cat "$T/rel/SHA256SUMS")
"$src/scripts/dist.sh" "$T/again" "" "$tree" >/dev/null
expect_eq "$(cat "$T/again/SHA256SUMS")" "$first" "packing twice gives the same bytes"
expect_eq "$(dpkg-deb -f "$T/rel/bch_${version}_amd64.deb" Package Architecture)" "Package: bch
Architecture: amd64" "the package's control fields"
expect_fail 1 "dist: RELEASE_URL must be an https:// URL of plain characters: 'https://x/'\$(id)'" \
  "$src/scripts/dist.sh" "$T/bad" "https://x/'\$(id)" "$tree"

# From the release folder as a file:// URL, into a prefix that is not on PATH.
install_sh() { PATH=/usr/bin:/bin sh "$T/rel/install.sh" "$@"; }
expect_run 0 "*" "" install_sh --from "file://$T/rel" --prefix "$T/p"
expect_eq "$RUN_OUT" "installed $("$BCH" version) as $T/p/bin/bch
note: $T/p/bin is not on PATH; add it (e.g. export PATH=\"$T/p/bin:\$PATH\" in your shell's rc file)" \
  "install.sh says what it installed and that the prefix is not on PATH"
expect_eq "$(cd "$T/p" && find . -type f -printf '%m %p\n' | sort -k2)" "755 ./bin/bch
644 ./share/bash-completion/completions/bch
644 ./share/fish/vendor_completions.d/bch.fish
644 ./share/man/man1/bch.1
644 ./share/zsh/site-functions/_bch" "the binary, man page and completions, nothing else"
expect_eq "$("$T/p/bin/bch" version)" "$("$BCH" version)" "the installed bch runs"

# Again (an upgrade), from the folder itself, with the prefix on PATH: no note.
out=$(PATH="$T/p/bin:/usr/bin:/bin" sh "$T/rel/install.sh" --from "$T/rel" --prefix "$T/p")
expect_eq "$out" "installed $("$BCH" version) as $T/p/bin/bch" "reinstalling replaces, quietly"
expect_eq "$(find "$T/p" -name '*install-tmp*')" "" "no temporary files are left"

# A downloaded archive, its checksum from the SHA256SUMS beside it or from --sha256.
expect_run 0 "*" "" install_sh --prefix "$T/q" "$T/rel/$name.tar.gz"
expect_eq "$("$T/q/bin/bch" version)" "$("$BCH" version)" "a local archive installs"
mkdir "$T/alone"
cp "$T/rel/$name.tar.gz" "$T/alone/"
expect_fail 1 "install.sh: no SHA256SUMS beside $T/alone/$name.tar.gz: put the release's SHA256SUMS there, or pass --sha256" \
  install_sh --prefix "$T/r" "$T/alone/$name.tar.gz"
sum=$(sha256sum "$T/alone/$name.tar.gz" | cut -d' ' -f1)
expect_run 0 "*" "" install_sh --prefix "$T/r" --sha256 "$sum" "$T/alone/$name.tar.gz"
wrong=$(printf '%064d' 0)
expect_fail 1 "install.sh: checksum mismatch for $name.tar.gz (expected $wrong, got $sum): nothing installed" \
  install_sh --prefix "$T/s" --sha256 "$wrong" "$T/alone/$name.tar.gz"

# A tampered download is refused and nothing is installed.
cp -r "$T/rel" "$T/evil"
printf 'X' | dd of="$T/evil/$name.tar.gz" bs=1 seek=100 conv=notrunc status=none
bad=$(sha256sum "$T/evil/$name.tar.gz" | cut -d' ' -f1)
expect_fail 1 "install.sh: checksum mismatch for $name.tar.gz (expected $(grep "$name" "$T/rel/SHA256SUMS" | cut -d' ' -f1), got $bad): nothing installed" \
  install_sh --from "file://$T/evil" --prefix "$T/s"
[ ! -e "$T/s" ] || fail "a refused install created its prefix"

# An archive that would write outside its folder, or holds a link, is refused even
# when its checksum is listed (a compromised release is still not a path traversal).
craft() { # craft <folder> <tar args...>: a release folder holding that archive
  local dir=$T/$1
  shift
  mkdir -p "$dir/w/$name/bin"
  cp "$BCH" "$dir/w/$name/bin/bch"
  tar -C "$dir/w" -czf "$dir/$name.tar.gz" "$@"
  (cd "$dir" && sha256sum "$name.tar.gz" >SHA256SUMS)
}
echo boom >"$T/outside"
craft dots "$name" --transform "s|^$name/bin/bch\$|$name/../../outside|"
expect_fail 1 "install.sh: $name.tar.gz holds files outside $name/: refusing it" \
  install_sh --from "$T/dots" --prefix "$T/s"
mkdir -p "$T/links/w/$name/bin"
ln -s /bin/sh "$T/links/w/$name/bin/bch"
tar -C "$T/links/w" -czf "$T/links/$name.tar.gz" "$name"
(cd "$T/links" && sha256sum "$name.tar.gz" >SHA256SUMS)
expect_fail 1 "install.sh: $name.tar.gz holds links or special files: refusing it" \
  install_sh --from "$T/links" --prefix "$T/s"
[ ! -e "$T/s" ] || fail "a refused archive created its prefix"

# Where the release cannot be had, say so.
expect_fail 1 "install.sh: refusing http://example.com/r: a release is fetched over https only" \
  install_sh --from http://example.com/r --prefix "$T/s"
expect_fail 1 "install.sh: no release to install from: pass --from URL (or a folder), or a downloaded archive" \
  install_sh --prefix "$T/s"
mkdir "$T/other"
sed 's/x86_64/aarch64/' "$T/rel/SHA256SUMS" >"$T/other/SHA256SUMS"
expect_fail 1 "install.sh: the release at $T/other has no archive for linux-x86_64" \
  install_sh --from "$T/other" --prefix "$T/s"
expect_fail 1 "install.sh: unknown option '--prefx' (see --help)" install_sh --prefx "$T/s"
expect_match "$(install_sh --help)" "^Installs bch from a release" "--help shows the usage"

# The release URL make dist is given becomes install.sh's default.
"$src/scripts/dist.sh" "$T/named" "https://releases.example.com/bch/v$version" "$tree" >/dev/null
expect_eq "$(grep -c "^default_url='https://releases.example.com/bch/v$version' " "$T/named/install.sh")" 1 \
  "install.sh carries the release URL"
