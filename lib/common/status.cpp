#include "isotope/status.hpp"

namespace isotope {

const char* code_name(Code c) noexcept {
  switch (c) {
    case Code::ok: return "ok";
    case Code::invalid_argument: return "invalid_argument";
    case Code::io: return "io";
    case Code::key_permissions: return "key_permissions";
    case Code::key_format: return "key_format";
    case Code::corrupt: return "corrupt";
    case Code::profile_mismatch: return "profile_mismatch";
    case Code::invalid_utf8: return "invalid_utf8";
    case Code::empty_input: return "empty_input";
    case Code::crypto: return "crypto";
    case Code::tokenizer: return "tokenizer";
    case Code::out_of_memory: return "out_of_memory";
    case Code::internal: return "internal";
    case Code::vocab_mismatch: return "vocab_mismatch";
    case Code::parse: return "parse";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(code_name(code_)) + ": " + message_;
}

}  // namespace isotope
