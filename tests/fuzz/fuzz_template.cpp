// The `watch --exec` template compiler: any template either compiles or is refused with
// bch::Error; a compiled command never still holds a placeholder outside a comment, and
// never holds message data (it only ever refers to BCH_* variables).
#include <bch/error.hpp>
#include <bch/shell.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string tmpl(reinterpret_cast<const char*>(data), size);
  try {
    auto compiled = bch::compile_exec_template(tmpl);
    if (tmpl.find('#') == std::string::npos) {
      for (const char* p : {"{{body}}", "{{from}}", "{{to}}", "{{id}}", "{{thread}}"}) {
        if (compiled.command.find(p) != std::string::npos) {
          __builtin_trap();
        }
      }
    }
    if (compiled.nested && tmpl.find_first_of("'\"\\") == std::string::npos) {
      __builtin_trap();  // nesting needs quotes or escapes
    }
  } catch (const bch::Error&) {
  }
  return 0;
}
