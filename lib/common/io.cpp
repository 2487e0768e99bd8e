#include "isotope/io.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <cstdint>
#include <exception>
#include <fstream>
#include <vector>

namespace isotope {

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

Sha256 sha256(std::span<const std::uint8_t> bytes) {
  Sha256 out{};
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  auto d = sha256({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  return to_hex(d);
}

namespace {

// Opens `path` for reading under the input-file policy: a regular file only
// (a FIFO, device or socket is refused without blocking or reading), of at
// most `max_bytes`. On success *fd is open (blocking) and *size its length.
Status open_regular(const std::string& path, std::uint64_t max_bytes, int* fd, std::uint64_t* size) {
  const int f = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f < 0) return {Code::io, "cannot open '" + path + "': " + std::strerror(errno)};
  struct stat st {};
  if (::fstat(f, &st) != 0) {
    const std::string err = std::strerror(errno);
    ::close(f);
    return {Code::io, "cannot stat '" + path + "': " + err};
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(f);
    return {Code::io, "'" + path + "' is a directory, not a file"};
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(f);
    return {Code::io, "'" + path + "' is not a regular file (a pipe, device or socket): give a regular file, or '-' "
                      "for standard input where the command reads it"};
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    ::close(f);
    return {Code::io, "'" + path + "' is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                          std::to_string(max_bytes) + " bytes for this kind of file"};
  }
  const int flags = ::fcntl(f, F_GETFL);
  if (flags >= 0) ::fcntl(f, F_SETFL, flags & ~O_NONBLOCK);
  *fd = f;
  *size = static_cast<std::uint64_t>(st.st_size);
  return Status::OK();
}

}  // namespace

Status sha256_file_hex(const std::string& path, std::string* hex, std::uint64_t* size) {
  int fd = -1;
  std::uint64_t expect = 0;
  ISOTOPE_RETURN_IF_ERROR(open_regular(path, UINT64_MAX, &fd, &expect));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    ::close(fd);
    return {Code::crypto, "SHA-256 initialisation failed"};
  }
  std::uint64_t total = 0;
  std::string buf(1 << 16, '\0');
  for (;;) {
    const ssize_t got = ::read(fd, buf.data(), buf.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      EVP_MD_CTX_free(ctx);
      ::close(fd);
      return {Code::io, "error reading '" + path + "': " + err};
    }
    if (got == 0) break;
    EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(got));
    total += static_cast<std::uint64_t>(got);
  }
  ::close(fd);
  Sha256 d{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, d.data(), &len);
  EVP_MD_CTX_free(ctx);
  *hex = to_hex(d);
  if (size != nullptr) *size = total;
  return Status::OK();
}

Status read_file(const std::string& path, std::string* out, std::uint64_t max_bytes) {
  int fd = -1;
  std::uint64_t expect = 0;
  ISOTOPE_RETURN_IF_ERROR(open_regular(path, max_bytes, &fd, &expect));
  std::string data;
  try {
    data.resize(static_cast<std::size_t>(expect));
  } catch (const std::exception&) {
    ::close(fd);
    return {Code::out_of_memory, "cannot hold '" + path + "' (" + std::to_string(expect) + " bytes) in memory"};
  }
  std::size_t off = 0;
  for (;;) {
    if (off == data.size()) {
      // The file grew since it was opened: read on, within the limit.
      if (data.size() >= max_bytes) {
        char probe;
        const ssize_t more = ::read(fd, &probe, 1);
        if (more == 0) break;
        ::close(fd);
        return {Code::io, "'" + path + "' grew over the limit of " + std::to_string(max_bytes) + " bytes"};
      }
      data.resize(std::min<std::uint64_t>(max_bytes, data.size() + (1 << 16)));
    }
    const ssize_t got = ::read(fd, data.data() + off, data.size() - off);
    if (got < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      ::close(fd);
      return {Code::io, "error reading '" + path + "': " + err};
    }
    if (got == 0) break;
    off += static_cast<std::size_t>(got);
  }
  ::close(fd);
  data.resize(off);
  *out = std::move(data);
  return Status::OK();
}

Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode) {
  struct stat target {};
  if (::lstat(path.c_str(), &target) == 0 && !S_ISREG(target.st_mode))
    return {Code::io, "'" + path + "' exists and is not a regular file (" +
                          (S_ISLNK(target.st_mode)   ? std::string("a symbolic link")
                           : S_ISDIR(target.st_mode) ? std::string("a directory")
                                                     : std::string("a device, pipe or socket")) +
                          "): refusing to replace it; name a regular file, or '-' for standard output where the "
                          "command writes it"};
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string tmpl = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + ".isotope-tmp-XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return {Code::io, "cannot create a temporary file in '" + dir + "': " + std::strerror(errno)};
  auto fail = [&](const std::string& what) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    ::unlink(tmpl.c_str());
    return Status(Code::io, what + " '" + path + "': " + err);
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot set permissions of");
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmpl.c_str());
    return {Code::io, "cannot close '" + path + "': " + err};
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmpl.c_str());
    return {Code::io, "cannot write '" + path + "': " + err};
  }
  return Status::OK();
}

bool is_valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t j = 1; j < len; ++j) {
      if ((p[i + j] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + j] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

static bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

static std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// The bundled data relative to where this code was loaded from: the shared
// library, the executable that links the static one, or the Python module.
// Each is tried with the relative path from its installed folder to the data
// folder, so that an installed tree works wherever it is moved.
static const char data_dir_anchor = 0;  // an object of this module, for dladdr

static std::vector<std::string> code_origins() {
  std::vector<std::string> origins;
  Dl_info info{};
  if (::dladdr(&data_dir_anchor, &info) != 0 && info.dli_fname != nullptr &&
      info.dli_fname[0] == '/')
    origins.push_back(parent_dir(info.dli_fname));
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) origins.push_back(parent_dir(std::string(exe, static_cast<std::size_t>(n))));
  return origins;
}

static std::string data_dir_relative(const std::vector<std::string>& origins) {
  for (const std::string& origin : origins)
    for (const char* rel : {ISOTOPE_DATA_FROM_LIBDIR, ISOTOPE_DATA_FROM_BINDIR, ISOTOPE_DATA_FROM_PYDIR}) {
      const std::string dir = origin + "/" + rel;
      if (is_file(dir + "/isotope-8k.model")) return dir;
    }
  return {};
}

std::string data_dir() {
  if (const char* env = std::getenv("ISOTOPE_DATA_DIR"); env != nullptr && *env != '\0') return env;
  const std::vector<std::string> origins = code_origins();
  if (std::string rel = data_dir_relative(origins); !rel.empty()) return rel;
  // Run from the build tree: its data folder (never for an installed copy).
  const std::string build = ISOTOPE_BUILD_DIR;
  for (const std::string& origin : origins)
    if ((origin == build || origin.rfind(build + "/", 0) == 0) && is_dir(ISOTOPE_BUILD_DATADIR))
      return ISOTOPE_BUILD_DATADIR;
  return ISOTOPE_INSTALL_DATADIR;
}

std::string default_tokenizer_path() { return data_dir() + "/isotope-8k.model"; }
std::string default_model_path() { return data_dir() + "/isotope-default.lm"; }

const char* version_string() noexcept { return ISOTOPE_VERSION; }

}  // namespace isotope
