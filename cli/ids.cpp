#include "ids.hpp"

#include <charconv>

#include "common.hpp"

namespace isotope::cli {

std::vector<std::uint32_t> read_id_array(const nlohmann::json& obj, const char* field, const std::string& where,
                                         std::uint32_t vocab_size) {
  const auto it = obj.find(field);
  if (it == obj.end() || !it->is_array())
    fail_input(where + ": field \"" + field + "\" must be an array of token ids");
  std::vector<std::uint32_t> ids;
  ids.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& v = (*it)[i];
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 0xFFFFFFFFull)
      fail_input(where + ": \"" + field + "\"[" + std::to_string(i) + "] is not a token id (an integer >= 0)");
    const std::uint64_t id = v.get<std::uint64_t>();
    if (id >= vocab_size)
      fail_input(where + ": token id " + std::to_string(id) + " at \"" + field + "\"[" + std::to_string(i) +
                 "] is not below the vocabulary size " + std::to_string(vocab_size));
    ids.push_back(static_cast<std::uint32_t>(id));
  }
  return ids;
}

bool read_id_record(const nlohmann::json& obj, const std::string& where, std::uint32_t vocab_size, IdRecord* rec) {
  const bool has_ids = obj.contains("ids"), has_resp = obj.contains("response_ids"),
             has_prompt = obj.contains("prompt_ids");
  if (!has_ids && !has_resp && !has_prompt) return false;
  if (has_ids && (has_resp || has_prompt))
    fail_input(where + ": give either \"ids\" or \"prompt_ids\"/\"response_ids\", not both");
  if (has_prompt && !has_resp) fail_input(where + ": \"prompt_ids\" without \"response_ids\"");
  if (vocab_size == 0)
    fail_usage(where + ": token ids are read against the provider's tokenizer: give --tokenizer FILE "
                       "(or --vocab-size V)");
  for (const char* text_field : {"text", "prompt", "response"}) {
    if (obj.contains(text_field))
      fail_input(where + ": a record holds either text or token ids, not both (\"" + text_field + "\")");
  }
  rec->ids = read_id_array(obj, has_ids ? "ids" : "response_ids", where, vocab_size);
  rec->prompt_ids.reset();
  if (has_prompt) rec->prompt_ids = read_id_array(obj, "prompt_ids", where, vocab_size);
  return true;
}

void append_id_array(std::string* out, const std::vector<std::uint32_t>& ids) {
  out->push_back('[');
  char buf[16];
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out->push_back(',');
    const auto r = std::to_chars(buf, buf + sizeof buf, ids[i]);
    out->append(buf, r.ptr);
  }
  out->push_back(']');
}

}  // namespace isotope::cli
