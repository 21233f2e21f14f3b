#!/usr/bin/env bash
# Link launcher for the static build (CMake RULE_LAUNCH_LINK). Runs the link command
# unchanged and drops only glibc's notes that getaddrinfo/gethostbyname/dlopen "require
# at runtime the shared libraries from the glibc version used for linking" (with the
# "in function" line that introduces each). They are expected for a static binary: bch
# resolves names through glibc's built-in files and DNS back-ends and loads no plugins.
# Every other line, and the exit status, pass through.
set -o pipefail
"$@" 2>&1 | awk '
  /in statically linked applications requires at runtime the shared libraries/ { held = ""; next }
  /: in function `/ { if (held != "") print held; held = $0; next }
  { if (held != "") { print held; held = "" } print }
  END { if (held != "") print held }
' >&2
