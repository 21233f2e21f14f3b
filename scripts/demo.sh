#!/usr/bin/env bash
# `make demo`: two agents on a throw-away local spool exchange a DM and a channel
# message. Every command is shown before it runs, as you would type it.
set -euo pipefail
bch=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
home=$(mktemp -d "${TMPDIR:-/tmp}/bch-demo-XXXXXX")
trap 'rm -rf "$home"' EXIT
export BACKCHANNEL_HOME=$home
unset BACKCHANNEL_AGENT BACKCHANNEL_URL BACKCHANNEL_BACKEND

bold='' plain=''
if [ -t 1 ]; then
  bold=$'\033[1m' plain=$'\033[0m'
fi

# step <agent> <bch args...>: show the command (quoted as you would type it), run it.
step() {
  local who=$1 shown="" arg
  shift
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9@._/-]+$ ]]; then
      shown+=" $arg"
    else
      shown+=" '$arg'"
    fi
  done
  printf '\n%s[%s]$ bch%s%s\n' "$bold" "$who" "$shown" "$plain"
  BACKCHANNEL_AGENT=$who "$bch" "$@"
}

echo "A throw-away spool in $home; two agents share it, as two sessions on one machine would."
step alice init alice
step bob init bob
step alice send @bob "PR 42 merged, rebase now"
step bob drain --hook
step bob send @alice "rebased, tests green"
step alice drain
step alice sub '#dev'
step bob sub dev
step alice send '#dev' --urgent "deploy freeze until 15:00"
step bob inbox --brief
step bob drain
step bob inbox
echo
echo "That is the whole loop: send, and the other side drains (Claude Code's hook does it before every prompt)."
