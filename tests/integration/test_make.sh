#!/usr/bin/env bash
# The Makefile's user-facing targets do what README says: `make demo` builds bch only
# (the unit tests are built by `make test`) and says what it is doing.
source "$(dirname "$0")/lib.sh"

src=$(cd "$(dirname "$0")/../.." && pwd)
command -v make >/dev/null || fail "make is needed"

# make -n prints the plan without running it.
plan=$(make -s -C "$src" -n demo BUILD="$T/b" JOBS=2)
builds=$(grep -E 'scripts/build.sh|cmake --build' <<<"$plan")
expect_eq "$builds" "scripts/build.sh $T/b/release 2 bch" "make demo builds the bch target only"
expect_match "$plan" 'echo "building bch"' "and says so"
expect_match "$(make -s -C "$src" -n test BUILD="$T/b" JOBS=2 | grep -E 'scripts/build.sh|cmake --build')" \
  "^scripts/build.sh $T/b/release 2$" "make test builds everything"

# make install's rules (CMake's, for the tree this bch was built in) put bch, its man page
# and three completions under the prefix; make uninstall removes exactly those.
tree=$(cd "$(dirname "$BCH")/.." && pwd)
[ -e "$tree/CMakeCache.txt" ] || fail "no build tree above $BCH"
cmake --build "$tree" --target bch_completions >/dev/null
mkdir -p "$T/dest/opt/p/share/man/man1"
echo keep >"$T/dest/opt/p/share/man/man1/other.1"
DESTDIR=$T/dest cmake --install "$tree" --prefix /opt/p >/dev/null
expect_eq "$(cd "$T/dest/opt/p" && find . -type f | sort)" "./bin/bch
./share/bash-completion/completions/bch
./share/fish/vendor_completions.d/bch.fish
./share/man/man1/bch.1
./share/man/man1/other.1
./share/zsh/site-functions/_bch" "installed files"
expect_match "$("$T/dest/opt/p/bin/bch" --version)" '^bch [0-9.]+ \(' "the installed bch runs"
bash -n "$T/dest/opt/p/share/bash-completion/completions/bch" || fail "bash completion does not parse"
completed=$(bash -c 'source "$1"; COMP_WORDS=(bch dr); COMP_CWORD=1; _bch; echo "${COMPREPLY[*]}"' _ \
  "$T/dest/opt/p/share/bash-completion/completions/bch")
expect_eq "$completed" "drain" "bash completes a command"
if command -v groff >/dev/null; then
  expect_match "$(groff -man -Tutf8 "$T/dest/opt/p/share/man/man1/bch.1" 2>&1)" "bch - messages between AI coding agents" \
    "the man page renders"
fi
# Every command bch knows is in the man page and in each completion script.
cmds=$("$BCH" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF {print $1}')
[ "$(wc -w <<<"$cmds")" -gt 20 ] || fail "bch --help lists too few commands: $cmds"
for cmd in $cmds; do
  grep -q "$cmd" "$src/man/bch.1" || fail "the man page does not mention \`bch $cmd\`"
  for f in bash-completion/completions/bch zsh/site-functions/_bch fish/vendor_completions.d/bch.fish; do
    grep -q "$cmd" "$T/dest/opt/p/share/$f" || fail "$f does not complete \`bch $cmd\`"
  done
done
out=$(make -s -C "$src" uninstall PREFIX=/opt/p DESTDIR="$T/dest")
expect_eq "$(grep -c '^removed ' <<<"$out")" "5" "uninstall removes the five files"
expect_eq "$(cd "$T/dest/opt/p" && find . -type f)" "./share/man/man1/other.1" "and nothing else"
echo "ok"
