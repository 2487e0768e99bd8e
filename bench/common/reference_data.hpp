// Shared pieces of the experiments on the reference models (bench/radioactivity,
// bench/attribution): the bundled human text, tokenized, and small helpers.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "isotope/io.hpp"
#include "isotope/status.hpp"
#include "isotope/tokenizer.hpp"

namespace isotope::bench {

using Docs = std::vector<std::vector<std::uint32_t>>;

// The experiment's name, for its error messages (set by main).
inline const char* program = "bench";

// Prints "PROGRAM: MESSAGE" and exits with status 1.
[[noreturn]] inline void die(const std::string& m) {
  std::cerr << program << ": " << m << '\n';
  std::exit(1);
}
inline void ok(const Status& st, const char* what) {
  if (!st.ok()) die(std::string(what) + ": " + st.to_string());
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

// The paragraphs (blocks separated by blank lines) of a text file; empty if it cannot be read.
inline std::vector<std::string> paragraphs(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line, para;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      if (!para.empty()) out.push_back(para);
      para.clear();
    } else {
      para += (para.empty() ? "" : "\n") + line;
    }
  }
  if (!para.empty()) out.push_back(para);
  return out;
}

// Human paragraphs in turn from each training file of the bundled corpus,
// from paragraph `skip` on, tokenized, until `budget` tokens.
inline Docs human(const Tokenizer& tok, std::uint64_t budget, std::size_t skip = 0) {
  std::vector<std::vector<std::string>> files;
  for (const char* n : {"bible.txt", "jargon.txt", "wordnet.txt", "devil.txt"}) {
    files.push_back(paragraphs(data_dir() + "/corpus/" + n));
    if (files.back().empty())
      die("cannot read '" + data_dir() + "/corpus/" + n + "' (set ISOTOPE_DATA_DIR to a build's data folder)");
  }
  Docs out;
  std::uint64_t total = 0;
  for (std::size_t i = skip; total < budget; ++i) {
    bool any = false;
    for (const auto& f : files) {
      if (i >= f.size() || total >= budget) continue;
      any = true;
      std::vector<std::uint32_t> ids;
      ok(tok.encode(f[i], &ids), "encode");
      total += ids.size();
      out.push_back(std::move(ids));
    }
    if (!any) break;
  }
  return out;
}

// Decodes and encodes again: the ids a reader of the text would get.
inline std::vector<std::uint32_t> retokenize(const Tokenizer& tok, std::span<const std::uint32_t> ids) {
  std::string text;
  ok(tok.decode(ids, &text), "decode");
  std::vector<std::uint32_t> out;
  ok(tok.encode(text, &out), "encode");
  return out;
}

// The first `tokens` tokens of d, cutting the last document.
inline Docs prefix(const Docs& d, std::uint64_t tokens) {
  Docs out;
  std::uint64_t n = 0;
  for (const auto& x : d) {
    if (n >= tokens) break;
    const std::uint64_t take = std::min<std::uint64_t>(x.size(), tokens - n);
    out.emplace_back(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(take));
    n += take;
  }
  return out;
}

}  // namespace isotope::bench
