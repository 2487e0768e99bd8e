// isotope — Status: every fallible call in the C++ API returns one.
#pragma once
#include "isotope/export.h"
#include <string>
#include <utility>

namespace isotope {

// Stable numeric codes; identical to the ISOTOPE_ERR_* values of isotope.h.
enum class Code : int {
  ok = 0,
  invalid_argument = 1,   // a parameter is out of range or inconsistent
  io = 2,                 // a file could not be opened, read or written
  key_permissions = 3,    // a key file is readable by group or others
  key_format = 4,         // a key file is not a valid isotope key
  corrupt = 5,            // a model, tokenizer or data file is damaged or of the wrong kind
  profile_mismatch = 6,   // two objects were made with different profiles
  invalid_utf8 = 7,       // text is not valid UTF-8
  empty_input = 8,        // there is nothing to score or train on
  crypto = 9,             // the cryptographic backend failed
  tokenizer = 10,         // the tokenizer failed to load or encode
  out_of_memory = 11,
  internal = 12,
  vocab_mismatch = 13,    // a logits array or token id does not fit the vocabulary
  parse = 14,             // malformed JSON / JSONL or another structured input
};

// Name of a code, e.g. "key_permissions".
ISOTOPE_API const char* code_name(Code c) noexcept;

class [[nodiscard]] ISOTOPE_API Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status OK() { return {}; }

  bool ok() const noexcept { return code_ == Code::ok; }
  Code code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // "key_permissions: KEYFILE is readable by group or others ..."
  std::string to_string() const;

 private:
  Code code_ = Code::ok;
  std::string message_;
};

#define ISOTOPE_RETURN_IF_ERROR(expr)        \
  do {                                       \
    ::isotope::Status isotope_st_ = (expr);  \
    if (!isotope_st_.ok()) return isotope_st_; \
  } while (0)

}  // namespace isotope
