#pragma once

namespace bch::util {

// Fault injection for the crash tests (tests/integration/test_fault_injection.sh): when
// the environment variable BCH_CRASH_AT names this point, the process kills itself with
// SIGKILL right here, as a power cut or `kill -9` would. Without the variable it costs
// one comparison; the variable is read once per process.
void crash_point(const char* name);

}  // namespace bch::util
