// Shared helper of the fuzz targets: the parsers that read files get the
// input through a file of their own (one per process).
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>


namespace isotope::fuzz {

inline std::string input_file(const std::uint8_t* data, std::size_t size, const char* name) {
  const std::string path = "/tmp/isotope-fuzz-" + std::to_string(::getpid()) + "-" + name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "";
  std::size_t off = 0;
  while (off < size) {
    const ssize_t n = ::write(fd, data + off, size - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return off == size ? path : "";
}

}  // namespace isotope::fuzz
