#include "common/secret_file.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace isotope::detail {

Status ensure_sodium() {
  // sodium_init() is thread-safe and idempotent: 0 the first time, 1 after.
  static const int rc = sodium_init();
  if (rc < 0) return {Code::crypto, "libsodium could not be initialised"};
  return Status::OK();
}

namespace {
std::string mode_octal(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Closes a file descriptor when it goes out of scope.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

Status read_secret_file(const std::string& path, std::string_view what, char* buf, std::size_t cap,
                        std::size_t* got, Status* permissions) {
  const std::string name(what);
  // O_NONBLOCK keeps a FIFO from blocking; it is rejected below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return {Code::io, "cannot open " + name + " '" + path + "': " + std::strerror(errno)};
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {Code::io, "cannot stat " + name + " '" + path + "': " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) return {Code::io, name + " '" + path + "' is not a regular file"};
  Status perm = Status::OK();
  if ((st.st_mode & 077) != 0)
    perm = Status{Code::key_permissions, name + " '" + path + "' has mode " + mode_octal(st.st_mode) +
                                       ", which lets group or others access it; refusing to read it. "
                                       "Fix with: chmod 600 " + path};
  if (!perm.ok() && permissions == nullptr) return perm;
  if (permissions != nullptr) *permissions = perm;
  std::size_t n_read = 0;
  while (n_read < cap) {
    const ssize_t n = ::read(fd, buf + n_read, cap - n_read);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      sodium_memzero(buf, cap);
      return {Code::io, "cannot read " + name + " '" + path + "': " + err};
    }
    if (n == 0) break;
    n_read += static_cast<std::size_t>(n);
  }
  *got = n_read;
  return Status::OK();
}

}  // namespace isotope::detail
