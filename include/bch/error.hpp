#pragma once

#include <stdexcept>
#include <string>

namespace bch {

// What went wrong, coarsely: decides the exit code of the CLI and, later, the HTTP
// status of the relay.
enum class ErrorKind {
  usage,        // the caller asked for something malformed (bad name, bad flag)
  not_found,    // a named object does not exist (unknown agent, no such message)
  conflict,     // the request contradicts what is stored (name taken)
  unavailable,  // a remote backend could not be reached; worth retrying
  io,           // the operating system refused (disk full, permissions)
  protocol,     // a peer or a file said something we cannot parse
  internal,     // a bug
  interrupted,  // stopped by SIGINT; exits 130 without a message when it has none
};

// The only exception type bch throws. The message is lower-case, names the object and
// the cause, and is printed as-is after "error: ".
class Error : public std::runtime_error {
public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), m_kind(kind) {}
  ErrorKind kind() const { return m_kind; }

private:
  ErrorKind m_kind;
};

// Process exit codes (SPEC section 8).
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failure = 1;
inline constexpr int k_exit_usage = 2;
inline constexpr int k_exit_unavailable = 3;
inline constexpr int k_exit_interrupted = 130;

// Maps an error kind to the exit code the CLI returns for it.
int exit_code_for(ErrorKind kind);

}  // namespace bch
