// The display framer and the sanitiser: whatever a message holds, its framed form is
// clean UTF-8, every line after the record's own lines carries the body mark, the brief
// form is one line, and a cut form stays within its budget.
#include <bch/format.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // Fields separated by NUL: body, from, to, ts, scope, thread, ref.
  std::vector<std::string> f;
  std::size_t start = 0;
  while (f.size() < 6) {
    std::size_t end = text.find('\0', start);
    f.push_back(text.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  f.resize(7);
  bch::Message m;
  m.id = "0190d6e2-0000-7000-8000-000000000000";
  m.body = f[0];
  m.from = f[1];
  m.to = f[2];
  m.ts = f[3];
  if (!f[4].empty()) {
    m.scope = f[4];
  }
  if (!f[5].empty()) {
    m.thread = f[5];
  }
  if (!f[6].empty()) {
    m.refs = {f[6]};
  }
  std::string out = bch::format_message(m);
  check(bch::util::sanitize(out, true) == out);
  std::size_t lines = 1;
  lines += m.scope ? 1U : 0U;
  lines += m.thread ? 1U : 0U;
  lines += m.refs.empty() ? 0U : 1U;
  std::size_t pos = 0;
  for (std::size_t n = 0; pos < out.size(); ++n) {
    std::size_t end = out.find('\n', pos);
    check(end != std::string::npos);
    std::string_view line(out.data() + pos, end - pos);
    if (n >= lines) {
      check(line.starts_with(bch::k_body_mark) || line == "  │");
    } else {
      check(!line.starts_with("  │"));
    }
    pos = end + 1;
  }
  std::string brief = bch::format_brief(m);
  check(brief.find('\n') == std::string::npos && bch::util::sanitize(brief, false) == brief);
  std::size_t budget = 200 + size % 400;
  std::string cut = bch::format_message_cut(m, budget);
  check(bch::util::sanitize(cut, true) == cut);
  check(bch::util::utf8_length(cut) <= budget
        || bch::util::utf8_length(cut) <= bch::util::utf8_length(bch::format_message(m)));
  std::string clean = bch::util::sanitize(text, false);
  check(bch::util::sanitize(clean, false) == clean);  // idempotent
  return 0;
}
