#include <bch/error.hpp>

namespace bch {

int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::usage:
      return k_exit_usage;
    case ErrorKind::unavailable:
      return k_exit_unavailable;
    case ErrorKind::interrupted:
      return k_exit_interrupted;
    case ErrorKind::not_found:
    case ErrorKind::conflict:
    case ErrorKind::io:
    case ErrorKind::protocol:
    case ErrorKind::internal:
      return k_exit_failure;
  }
  return k_exit_failure;
}

}  // namespace bch
