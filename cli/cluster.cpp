#include "cluster.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common.hpp"

extern char **environ;

namespace isotope::cli {

namespace {

// Closes a descriptor once.
struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

void write_all(int fd, const std::string &s) {
  std::size_t at = 0;
  while (at < s.size()) {
    const ssize_t n = ::write(fd, s.data() + at, s.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the helper stopped reading: its exit status tells why
    at += static_cast<std::size_t>(n);
  }
}

}  // namespace

void run_on_cluster(const std::string &command, const nlohmann::json &request,
                    const std::function<void(const nlohmann::json &)> &on_line, const std::function<void()> &meanwhile) {
  const char *env = std::getenv("ISOTOPE_PYTHON");
  const std::string python = env != nullptr && *env != '\0' ? env : "/usr/bin/python3";
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0)
    throw Failure{EXIT_CLUSTER, "cannot create pipes for the cluster helper: " + std::string(std::strerror(errno))};
  Fd child_in{in_pipe[0]}, to_child{in_pipe[1]}, from_child{out_pipe[0]}, child_out{out_pipe[1]};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, child_in.fd, 0);
  posix_spawn_file_actions_adddup2(&fa, child_out.fd, 1);
  std::vector<std::string> args = {python, "-m", "isotope.dask", command};
  std::vector<char *> argv;
  for (std::string &a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  // A helper that exits early must not kill us with SIGPIPE while we write.
  signal(SIGPIPE, SIG_IGN);
  const int rc = posix_spawn(&pid, python.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    throw Failure{EXIT_CLUSTER, "cannot run Python '" + python + "' for the cluster (" + std::strerror(rc) +
                                    "); install python3 or set ISOTOPE_PYTHON"};
  child_in.reset();
  child_out.reset();
  write_all(to_child.fd, request.dump());
  to_child.reset();
  if (meanwhile) {
    // While the helper starts (Python, Dask, the connection) and the cluster
    // works. A failure here stops the helper before it is reported.
    try {
      meanwhile();
    } catch (...) {
      ::kill(pid, SIGTERM);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      throw;
    }
  }
  std::string buf;
  char chunk[1 << 16];
  std::string bad;
  for (;;) {
    const ssize_t n = ::read(from_child.fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0, nl;
    while ((nl = buf.find('\n', start)) != std::string::npos) {
      const std::string line = buf.substr(start, nl - start);
      start = nl + 1;
      if (!bad.empty()) continue;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded())
        bad = line.substr(0, 200);
      else
        on_line(j);
    }
    buf.erase(0, start);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status)) throw Failure{EXIT_CLUSTER, "the cluster helper (" + python + " -m isotope.dask) was killed"};
  const int code = WEXITSTATUS(status);
  switch (code) {
    case 0:
      if (!bad.empty()) throw Failure{EXIT_CLUSTER, "the cluster helper wrote a line that is not JSON: " + bad};
      return;
    case EXIT_USAGE:
    case EXIT_IO:
    case EXIT_KEY:
    case EXIT_INPUT:
    case EXIT_CLUSTER:
      throw Failure{code, "the cluster run failed (see the message above)"};
    default:
      throw Failure{EXIT_CLUSTER, "the cluster helper (" + python + " -m isotope.dask) failed (exit " +
                                      std::to_string(code) +
                                      "): is the isotope Python module installed "
                                      "where that Python finds it?"};
  }
}

}  // namespace isotope::cli
