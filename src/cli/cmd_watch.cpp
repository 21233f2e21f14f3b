#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "cli/signals.hpp"

#include <bch/error.hpp>
#include <bch/shell.hpp>
#include <bch/util/fs.hpp>
#include <bch/util/log.hpp>
#include <bch/util/process.hpp>
#include <bch/util/text.hpp>

#include <fmt/format.h>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

namespace bch::cli {
namespace {

struct WatchOptions {
  std::string exec;
  bool urgent_only = false;
  std::string match;
  bool peek = false;
  bool notify = false;
};

constexpr std::size_t k_notify_title_chars = 80;
constexpr std::size_t k_notify_text_chars = 200;

// The first line of the body that has text in it.
std::string first_line(const std::string& body) {
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('\n', start);
    std::string line = body.substr(start, end == std::string::npos ? end : end - start);
    if (line.find_first_not_of(" \t\r") != std::string::npos) {
      return line;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return "";
}

// Shows `m` as a desktop notification. The notifier gets the sender and the first line
// as arguments of its own (after "--", so nothing can pass for an option); no shell
// ever sees them. Returns false if the notifier could not be run.
bool notify(const Message& m) {
  std::string title =
      util::cut_chars(util::sanitize("urgent message from " + m.from, false), k_notify_title_chars);
  std::string text =
      util::cut_chars(util::sanitize(first_line(m.body), false), k_notify_text_chars);
#ifdef __APPLE__
  std::vector<std::string> argv = {
      "osascript",
      "-e",
      "on run argv\ndisplay notification (item 2 of argv) with title (item 1 of argv)\nend run",
      title,
      text};
#else
  std::vector<std::string> argv = {
      "notify-send", "--app-name=backchannel", "--urgency=critical", "--", title, xml_escape(text)};
#endif
  auto result = util::run_process(argv, false, std::chrono::seconds(10));
  return result && result->status == 0;
}

// Runs the compiled --exec command with the message in BCH_* variables. The command
// text comes from the user's template only (see core/shell.cpp); the message reaches the
// shell as environment data. Returns the command's exit status.
int run_exec(const std::string& command, const Message& m) {
  auto env = exec_environment(m);
  pid_t pid = ::fork();
  if (pid < 0) {
    throw Error(ErrorKind::io, util::errno_message("cannot start --exec command", errno));
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    (void)::signal(SIGPIPE, SIG_DFL);
    for (const auto& [name, value] : env) {
      ::setenv(name.c_str(), value.c_str(), 1);
    }
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return -1;
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void run_watch(const WatchOptions& o, Globals& g) {
  ExecTemplate exec = o.exec.empty() ? ExecTemplate{} : compile_exec_template(o.exec);
  const std::string& command = exec.command;
  auto match = non_empty(o.match);
  const std::string& agent = g.agent();
  auto& spool = g.spool();
  // Every joined room is watched, each by a thread of its own beside this one; their
  // messages are handled one at a time and labelled with their room.
  auto rooms = g.reading_rooms();
  bool labelled = rooms.size() > 1;
  std::vector<std::unique_ptr<spool::Spool>> more;
  std::string inboxes = fmt::format("{} ({}{})",
                                    agent,
                                    spool::describe_location(g.settings()),
                                    labelled ? ", room " + room_label(g.settings().room) : "");
  for (std::size_t i = 1; i < rooms.size(); ++i) {
    more.push_back(spool::open_spool(rooms[i]));
    inboxes += fmt::format(", {} ({}, room {})",
                           require_agent(rooms[i]),
                           spool::describe_location(rooms[i]),
                           room_label(rooms[i].room));
  }

  // SIGINT/SIGTERM become a stop request; the watch loop then returns normally, so
  // nothing is left half-claimed.
  std::stop_source stop;
  SignalStop signals([&](int) { stop.request_stop(); });

  (void)std::fprintf(stderr,
                     "watching the inbox%s of %s%s — ctrl-c to stop\n",
                     labelled ? "es" : "",
                     util::sanitize(inboxes, false).c_str(),
                     o.notify ? ", notifying"
                     : o.peek ? ", peeking"
                              : "");
  if (exec.nested) {
    (void)std::fprintf(stderr,
                       "note: a placeholder of --exec sits inside quotes, so it is passed on as "
                       "\"$BCH_…\" for the shell that runs that text; outside quotes it is the "
                       "value itself\n");
  }
  bool notifier_warned = false;
  std::mutex one_at_a_time;
  auto handle = [&](const Message& m, const std::string& room) {
    print(format_brief(m, room) + "\n");
    if (o.notify && !notify(m) && !notifier_warned) {
      notifier_warned = true;
      util::warn("cannot show a desktop notification — is notify-send (libnotify-bin) installed?");
    }
    if (!command.empty()) {
      int status = run_exec(command, m);
      if (status != 0) {
        util::warn(
            fmt::format("--exec command exited with {} for message {}", status, short_id(m.id)));
      }
    }
  };
  auto watch_room = [&](spool::Spool& from, const std::string& as, const std::string& room) {
    from.watch(
        as,
        [&](const Message& m) {
          if (!spool::wanted(m, match, o.urgent_only)) {
            return;
          }
          std::lock_guard lock(one_at_a_time);
          if (o.peek || o.notify) {
            handle(m, room);
          } else {
            from.take(as, m.id, false, [&](const Message& taken) { handle(taken, room); });
          }
        },
        stop.get_token());
  };
  std::vector<std::jthread> threads;
  for (std::size_t i = 0; i < more.size(); ++i) {
    threads.emplace_back([&, i] {
      std::string room = room_label(rooms[i + 1].room);
      try {
        watch_room(*more[i], *rooms[i + 1].agent, room);
      } catch (const std::exception& e) {
        util::warn(fmt::format("stopped watching room {}: {}", room, e.what()));
      }
    });
  }
  try {
    watch_room(spool, agent, labelled ? room_label(g.settings().room) : "");
  } catch (...) {
    stop.request_stop();
    throw;
  }
  stop.request_stop();
  threads.clear();  // joins them
  if (signals.caught() == SIGINT) {
    throw Error(ErrorKind::interrupted, "");
  }
}

}  // namespace

void add_watch(CLI::App& app, Globals& g) {
  auto o = std::make_shared<WatchOptions>();
  auto* cmd =
      app.add_subcommand("watch", "print (and claim) messages as they arrive, until interrupted");
  cmd->add_option(
      "--exec",
      o->exec,
      "run this shell command per message; {{body}} {{from}} {{to}} {{id}} {{priority}}");
  cmd->add_flag("--urgent-only", o->urgent_only, "only urgent messages (others stay unread)");
  cmd->add_option(
      "--match", o->match, "this session's repo or path: scoped messages must match it");
  cmd->add_flag("--peek", o->peek, "do not claim: messages stay unread");
  cmd->add_flag("--notify",
                o->notify,
                "show each message as a desktop notification (implies --peek: the agent still "
                "receives it)");
  cmd->callback([o, &g] { run_watch(*o, g); });
}

}  // namespace bch::cli
