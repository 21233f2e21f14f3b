#!/usr/bin/env bash
# The order of system calls that makes delivery durable and claims safe, read from a
# syscall trace (kill -9 cannot show a missing fsync: the page cache survives it).
# send: the file is written in tmp/, fdatasync()ed, renamed into new/, and then new/
# itself is fsync()ed, all before "sent" is printed. claim: locked, renamed into cur/,
# printed, and only then unlinked.
source "$(dirname "$0")/lib.sh"

# LeakSanitizer cannot run in a traced process (make test-sanitize): leaks are checked by
# every other script.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
command -v strace >/dev/null || { echo "strace is not installed: skipped" >&2; exit 77; }
strace -qq -o /dev/null true 2>/dev/null || { echo "strace cannot trace here: skipped" >&2; exit 77; }

"$BCH" init bob >/dev/null
as alice init alice >/dev/null
calls=openat,write,fdatasync,fsync,rename,renameat,renameat2,unlink,unlinkat,flock

# events <trace>: one line per call that matters, with file descriptors resolved to the
# paths they were opened on: "open <path>", "write <path>", "fdatasync <path>", ...
events() {
  awk '
    match($0, /openat\(AT_FDCWD, "[^"]*"/) {
      path = substr($0, RSTART + 18, RLENGTH - 19)
      if (match($0, /= [0-9]+$/)) { fd[substr($0, RSTART + 2)] = path; print "open " path }
      next
    }
    match($0, /(write|fdatasync|fsync|flock)\([0-9]+/) {
      split(substr($0, RSTART, RLENGTH), p, "(")
      n = p[2]
      print p[1] " " (n == 1 ? "stdout" : fd[n])
      next
    }
    match($0, /rename(at2?)?\([^"]*"[^"]*", [^"]*"[^"]*"/) {
      split(substr($0, RSTART, RLENGTH), q, "\"")
      print "rename " q[2] " " q[4]
      next
    }
    match($0, /unlink(at)?\([^"]*"[^"]*"/) {
      split(substr($0, RSTART, RLENGTH), q, "\"")
      print "unlink " q[2]
    }
  ' "$1"
}

# first <pattern> <events file>: the line number of the first event matching it.
first() { grep -nE -- "$1" "$2" | head -n1 | cut -d: -f1; }

BACKCHANNEL_AGENT=alice strace -f -qq -e trace=$calls -o "$T/send.trace" "$BCH" send @bob "durable" >/dev/null
events "$T/send.trace" >"$T/send.events"
id=$(as bob inbox --json | id_of)
inbox=$BACKCHANNEL_HOME/spool/bob
w=$(first "^write $inbox/tmp/$id.json" "$T/send.events")
s=$(first "^fdatasync $inbox/tmp/$id.json" "$T/send.events")
r=$(first "^rename $inbox/tmp/$id.json $inbox/new/$id.json" "$T/send.events")
d=$(first "^fsync $inbox/new$" "$T/send.events")
o=$(first "^write stdout" "$T/send.events")
[ -n "$w" ] && [ -n "$s" ] && [ -n "$r" ] && [ -n "$d" ] && [ -n "$o" ] ||
  fail "send: a step is missing (write $w, fdatasync $s, rename $r, fsync new/ $d, output $o): $(cat "$T/send.events")"
[ "$w" -lt "$s" ] && [ "$s" -lt "$r" ] && [ "$r" -lt "$d" ] && [ "$d" -lt "$o" ] ||
  fail "send: out of order (write $w, fdatasync $s, rename $r, fsync new/ $d, output $o)"

strace -f -qq -e trace=$calls -o "$T/drain.trace" env BACKCHANNEL_AGENT=bob "$BCH" drain >/dev/null
events "$T/drain.trace" >"$T/drain.events"
l=$(first "^flock $inbox/new/$id.json" "$T/drain.events")
c=$(first "^rename $inbox/new/$id.json $inbox/cur/.$id.claiming" "$T/drain.events")
p=$(first "^write stdout" "$T/drain.events")
u=$(first "^unlink $inbox/cur/.$id.claiming" "$T/drain.events")
[ -n "$l" ] && [ -n "$c" ] && [ -n "$p" ] && [ -n "$u" ] ||
  fail "claim: a step is missing (lock $l, claim $c, print $p, unlink $u): $(cat "$T/drain.events")"
[ "$l" -lt "$c" ] && [ "$c" -lt "$p" ] && [ "$p" -lt "$u" ] ||
  fail "claim: out of order (lock $l, claim $c, print $p, unlink $u)"

# A record rewrite (sub) is durable too: temp file synced before the rename over it.
strace -f -qq -e trace=$calls -o "$T/sub.trace" env BACKCHANNEL_AGENT=bob "$BCH" sub dev >/dev/null
events "$T/sub.trace" >"$T/sub.events"
rr=$(first "^rename .*agents/.*bob.json$" "$T/sub.events")
tmp=$(sed -n "${rr}p" "$T/sub.events" | cut -d' ' -f2)
ss=$(first "^f(data)?sync $tmp$" "$T/sub.events")
[ -n "$rr" ] && [ -n "$ss" ] && [ "$ss" -lt "$rr" ] || fail "record: not synced before the rename: $(cat "$T/sub.events")"
# The relay: a send is answered only once its journal record is written and synced.
strace -f -qq -s 400 -e trace=openat,pwrite64,fdatasync,sendto,write -o "$T/relay.trace" \
  "$BCH" relay --host 127.0.0.1 --port 0 --port-file "$T/relay.port" --data-dir "$T/relaydata" \
  >"$T/relay.out" 2>"$T/relay.log" &
relay_pid=$!
BG_PIDS+=("$relay_pid")
wait_for 20 grep -qs '^backchannel relay listening on ' "$T/relay.out" || fail "relay did not start"
url=$(sed -n 's/^backchannel relay listening on //p' "$T/relay.out")
BACKCHANNEL_HOME=$T/ra "$BCH" init alice --url "$url" >/dev/null
BACKCHANNEL_HOME=$T/ra "$BCH" send @alice "journal probe" >/dev/null
pkill -TERM -P "$relay_pid"  # the relay, strace's child: strace then exits with it
wait "$relay_pid" || fail "relay did not stop cleanly"
# strace splits a call that another thread interleaves ("<unfinished ...>", then
# "<... fdatasync resumed>"): the record's descriptor is read off its pwrite64, and a sync
# counts where it returns.
pw=$(grep -n 'pwrite64([0-9]*, .*journal probe' "$T/relay.trace" | head -n1 | cut -d: -f1)
[ -n "$pw" ] || fail "relay: the send's record was not written to the journal"
seg=$(sed -n "${pw}s/.*pwrite64(\([0-9]*\),.*/\1/p" "$T/relay.trace")
sy=$(awk -v fd="$seg" -v from="$pw" '
  NR <= from { next }
  $0 ~ "fdatasync\\(" fd "\\) += 0" { print NR; exit }
  $0 ~ "fdatasync\\(" fd " <unfinished" { pid = $1 }
  pid != "" && $1 == pid && /<\.\.\. fdatasync resumed>.*= 0/ { print NR; exit }
' "$T/relay.trace")
re=$(awk -v from="$pw" 'NR > from && /HTTP\/1\.1 200/ { print NR; exit }' "$T/relay.trace")
[ -n "$sy" ] && [ -n "$re" ] && [ "$sy" -lt "$re" ] ||
  fail "relay: the send was answered (line $re) before its journal record was synced (line $sy)"
echo "ok"
