#include "fake_brain.hpp"

#include <bch/util/httplib.hpp>

#include <nlohmann/json.hpp>

#include <mutex>
#include <thread>

namespace bch::test {

using json = nlohmann::json;

struct FakeBrain::Impl {
  std::string token;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  mutable std::mutex mutex;
  std::map<std::string, std::string> docs;
  std::vector<BrainFault> faults;
  std::vector<std::string> log;
  bool omit = false;

  static void error(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(json{{"error", {{"message", message}}}}.dump(), "application/json");
  }

  // Applies a matching fault; true if it answered the request.
  bool fault(const httplib::Request& req, httplib::Response& res, const std::string& target) {
    BrainFault hit;
    {
      std::lock_guard lock(mutex);
      auto it = std::find_if(faults.begin(), faults.end(), [&](const BrainFault& f) {
        return (f.method.empty() || f.method == req.method)
               && target.find(f.path_contains) != std::string::npos;
      });
      if (it == faults.end()) {
        return false;
      }
      hit = *it;
      if (it->times > 0 && --it->times == 0) {
        faults.erase(it);
      }
    }
    if (hit.delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(hit.delay_ms));
    }
    if (hit.drop) {
      res.set_content_provider(
          1000, "application/json", [](std::size_t, std::size_t, httplib::DataSink&) {
            return false;  // headers went out; the body never comes
          });
      return true;
    }
    if (hit.status == 0) {
      return false;  // only slow
    }
    res.status = hit.status;
    if (hit.retry_after) {
      res.set_header("Retry-After", *hit.retry_after);
    }
    res.set_content(hit.body, hit.content_type.c_str());
    return true;
  }

  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer " + token) {
      error(res, 401, "invalid or missing token");
      return false;
    }
    return true;
  }

  void record(const httplib::Request& req, const std::string& target) {
    std::lock_guard lock(mutex);
    log.push_back(req.method + " " + target);
  }

  void routes() {
    server.Put("/v1/brain/doc", [this](const httplib::Request& req, httplib::Response& res) {
      auto body = json::parse(req.body, nullptr, false);
      std::string path = body.is_object() && body.contains("path") && body["path"].is_string()
                             ? body["path"].get<std::string>()
                             : "";
      record(req, path);
      if (!authorized(req, res) || fault(req, res, path)) {
        return;
      }
      if (path.empty() || !body.contains("bodyMd") || !body["bodyMd"].is_string()) {
        error(res, 400, "path and bodyMd are required");
        return;
      }
      std::lock_guard lock(mutex);
      docs[path] = body["bodyMd"].get<std::string>();
      res.set_content(json{{"path", path}}.dump(), "application/json");
    });
    server.Get("/v1/brain/doc", [this](const httplib::Request& req, httplib::Response& res) {
      std::string path = req.get_param_value("path");
      record(req, path);
      if (!authorized(req, res) || fault(req, res, path)) {
        return;
      }
      std::lock_guard lock(mutex);
      auto it = docs.find(path);
      if (it == docs.end()) {
        error(res, 404, "document not found");
        return;
      }
      res.set_content(json{{"path", path}, {"bodyMd", it->second}}.dump(), "application/json");
    });
    server.Delete("/v1/brain/doc", [this](const httplib::Request& req, httplib::Response& res) {
      std::string path = req.get_param_value("path");
      record(req, path);
      if (!authorized(req, res) || fault(req, res, path)) {
        return;
      }
      std::lock_guard lock(mutex);
      if (docs.erase(path) == 0) {
        error(res, 404, "document not found");
        return;
      }
      res.set_content("{\"deleted\":true}", "application/json");
    });
    server.Get("/v1/brain/list", [this](const httplib::Request& req, httplib::Response& res) {
      std::string prefix = req.get_param_value("prefix");
      record(req, prefix);
      if (!authorized(req, res) || fault(req, res, prefix)) {
        return;
      }
      std::lock_guard lock(mutex);
      json list = json::array();
      for (auto it = docs.lower_bound(prefix); it != docs.end() && it->first.rfind(prefix, 0) == 0;
           ++it) {
        json item{{"path", it->first}};
        if (!omit) {
          item["bodyMd"] = it->second;
        }
        list.push_back(item);
      }
      res.set_content(json{{"documents", list}}.dump(), "application/json");
    });
    // Test control (the standalone binary): switch faults from a shell.
    server.Post("/_fault", [this](const httplib::Request& req, httplib::Response& res) {
      auto body = json::parse(req.body, nullptr, false);
      if (!body.is_object()) {
        error(res, 400, "fault must be an object");
        return;
      }
      BrainFault f;
      f.method = body.value("method", "");
      f.path_contains = body.value("path", "");
      f.status = body.value("status", 0);
      f.body = body.value("body", "");
      f.content_type = body.value("contentType", "application/json");
      if (body.contains("retryAfter")) {
        f.retry_after = body["retryAfter"].get<std::string>();
      }
      f.delay_ms = body.value("delayMs", 0);
      f.drop = body.value("drop", false);
      f.times = body.value("times", 1);
      std::lock_guard lock(mutex);
      faults.push_back(f);
    });
    server.Get("/_docs", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mutex);
      res.set_content(json(docs).dump(), "application/json");
    });
  }
};

FakeBrain::FakeBrain(std::string token) : m_impl(std::make_unique<Impl>()) {
  m_impl->token = std::move(token);
  m_impl->routes();
  m_impl->server.set_tcp_nodelay(true);
  m_impl->port = m_impl->server.bind_to_any_port("127.0.0.1");
  m_impl->thread = std::thread([this] { m_impl->server.listen_after_bind(); });
  for (int i = 0; i < 500 && !m_impl->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

FakeBrain::~FakeBrain() {
  stop();
  if (m_impl->thread.joinable()) {
    m_impl->thread.join();
  }
}

std::string FakeBrain::url() const {
  return "http://127.0.0.1:" + std::to_string(m_impl->port);
}

int FakeBrain::port() const {
  return m_impl->port;
}

const std::string& FakeBrain::token() const {
  return m_impl->token;
}

void FakeBrain::add_fault(const BrainFault& fault) {
  std::lock_guard lock(m_impl->mutex);
  m_impl->faults.push_back(fault);
}

void FakeBrain::clear_faults() {
  std::lock_guard lock(m_impl->mutex);
  m_impl->faults.clear();
}

void FakeBrain::omit_bodies(bool omit) {
  std::lock_guard lock(m_impl->mutex);
  m_impl->omit = omit;
}

std::map<std::string, std::string> FakeBrain::documents() const {
  std::lock_guard lock(m_impl->mutex);
  return m_impl->docs;
}

std::vector<std::string> FakeBrain::requests() const {
  std::lock_guard lock(m_impl->mutex);
  return m_impl->log;
}

void FakeBrain::wait() {
  if (m_impl->thread.joinable()) {
    m_impl->thread.join();
  }
}

void FakeBrain::stop() {
  m_impl->server.stop();
}

}  // namespace bch::test
