// Reading training and suspect corpora: plain text and JSONL.
#pragma once
#include <string>
#include <vector>

namespace isotope::cli {

// Documents of a corpus file. Files ending in .jsonl or .json: one document
// per line, the "response" field, else the "text" field. Other files: one
// document per paragraph (paragraphs are separated by blank lines).
// *raw (if non-null) gets the bytes read, for hashing what was actually used.
std::vector<std::string> read_documents(const std::string& path, std::string* raw = nullptr);

}  // namespace isotope::cli
