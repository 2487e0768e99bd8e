// Token-id inputs: JSONL records that carry token ids instead of text.
//   {"ids": [...]}                             one sequence
//   {"prompt_ids": [...], "response_ids": [...]}   a response and its prompt
// Every id must be below the vocabulary size (the tokenizer's, or --vocab-size).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace isotope::cli {

struct IdRecord {
  std::vector<std::uint32_t> ids;                         // "ids" or "response_ids"
  std::optional<std::vector<std::uint32_t>> prompt_ids;   // "prompt_ids", if given
};

// True if `obj` is an id record (has "ids" or "response_ids"), then *rec holds
// its ids; false if it has none of the id fields. A malformed id field or an
// id >= vocab_size is an input error naming `where`; vocab_size 0 means no
// tokenizer was named (ids are not read against the bundled one): a usage
// error.
bool read_id_record(const nlohmann::json& obj, const std::string& where, std::uint32_t vocab_size, IdRecord* rec);

// The ids of field `field` of `obj` (an array of integers in [0, vocab_size)).
std::vector<std::uint32_t> read_id_array(const nlohmann::json& obj, const char* field, const std::string& where,
                                         std::uint32_t vocab_size);

// Appends `[1,2,3]` to *out.
void append_id_array(std::string* out, const std::vector<std::uint32_t>& ids);

}  // namespace isotope::cli
