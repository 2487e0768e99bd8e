#include "corpus.hpp"

#include <sstream>

#include "common.hpp"

namespace isotope::cli {

static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}


std::vector<std::string> read_documents(const std::string& path, std::string* raw) {
  std::string own;
  std::string& data = raw != nullptr ? *raw : own;
  data = read_text(path);
  std::vector<std::string> docs;
  if (ends_with(path, ".jsonl") || ends_with(path, ".json")) {
    for_each_jsonl(data, path, [&](const nlohmann::json& j, std::size_t lineno) {
      const nlohmann::json* text = string_field(j, "response", path, lineno);
      if (text == nullptr) text = string_field(j, "text", path, lineno);
      if (text == nullptr) fail_input(path + ":" + std::to_string(lineno) + ": no \"response\" or \"text\" field");
      docs.push_back(text->get<std::string>());
    });
    return docs;
  }
  std::istringstream in(data);
  std::string line, doc;
  auto flush = [&] {
    if (!doc.empty()) docs.push_back(std::move(doc));
    doc.clear();
  };
  while (std::getline(in, line)) {
    if (is_blank(line)) {
      flush();
      continue;
    }
    if (!doc.empty()) doc.push_back('\n');
    doc += line;
  }
  flush();
  return docs;
}

}  // namespace isotope::cli
