#pragma once

// A stand-in for the hosted brain document API (SPEC section 9) on 127.0.0.1: the four
// endpoints over in-memory documents, bearer checking, and faults to switch on — error
// statuses with JSON, plain-text or `null` bodies, 429 with and without Retry-After, slow
// answers, dropped connections, list answers without bodyMd. Used in-process by the unit
// tests and, through fake_brain_main.cpp, by the integration tests (which switch faults
// with POST /_fault).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bch::test {

struct BrainFault {
  std::string method;         // "" = any
  std::string path_contains;  // "" = any path (matched against the document path/prefix)
  int status = 0;             // answer with this status (0: no status fault)
  std::string body;           // the error body, sent as is
  std::string content_type = "application/json";
  std::optional<std::string> retry_after;
  int delay_ms = 0;   // answer this late
  bool drop = false;  // close the connection mid-answer
  int times = 1;      // how many matching requests it hits (-1: all)
};

class FakeBrain {
public:
  explicit FakeBrain(std::string token = "usk_fake_token");
  FakeBrain(const FakeBrain&) = delete;
  FakeBrain& operator=(const FakeBrain&) = delete;
  ~FakeBrain();

  std::string url() const;
  int port() const;
  const std::string& token() const;

  void add_fault(const BrainFault& fault);
  void clear_faults();
  void omit_bodies(bool omit);

  std::map<std::string, std::string> documents() const;
  // "METHOD <document path or prefix>" per request, in order.
  std::vector<std::string> requests() const;

  // Blocks serving until stop() (for the standalone binary).
  void wait();
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace bch::test
