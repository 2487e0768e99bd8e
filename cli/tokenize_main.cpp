// isotope tokenize: the ids a tokenizer gives a text (and back), so that
// anyone can check a tokenization against the provider's own encoder.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "common.hpp"
#include "ids.hpp"

namespace isotope::cli {

namespace {
struct TokenizeOptions {
  std::string tokenizer;
  std::vector<std::string> inputs;
  bool jsonl = false, decode = false;
};

std::vector<std::uint32_t> encode_or_fail(const Tokenizer& tok, const std::string& text, const std::string& where) {
  std::vector<std::uint32_t> ids;
  check(tok.encode(text, &ids), where);
  return ids;
}

std::string decode_or_fail(const Tokenizer& tok, const std::vector<std::uint32_t>& ids, const std::string& where) {
  std::string text;
  check(tok.decode(ids, &text), where);
  return text;
}

void emit(std::string* line) {
  line->push_back('\n');
  std::cout << *line;
  line->clear();
}

int run_tokenize(const TokenizeOptions& o) {
  const std::unique_ptr<Tokenizer> tok = load_tokenizer(o.tokenizer);
  std::vector<std::string> paths = o.inputs;
  if (paths.empty()) paths.push_back("-");
  std::string line;
  for (const std::string& path : paths) {
    const std::string name = path == "-" ? "<stdin>" : path;
    const std::string data = read_text(path);
    if (!o.jsonl && !o.decode) {
      line = "{\"ids\":";
      append_id_array(&line, encode_or_fail(*tok, data, name));
      line += "}";
      emit(&line);
      continue;
    }
    std::size_t records = 0;
    for_each_jsonl(data, name, [&](const nlohmann::json& j, std::size_t lineno) {
      const std::string where = name + ":" + std::to_string(lineno);
      ++records;
      if (o.decode) {
        IdRecord rec;
        if (!read_id_record(j, where, tok->vocab_size(), &rec))
          fail_input(where + ": no \"ids\" or \"response_ids\" field");
        const std::string text = decode_or_fail(*tok, rec.ids, where);
        if (!o.jsonl) {
          line = text;
          emit(&line);
          return;
        }
        nlohmann::json out;
        if (rec.prompt_ids) {
          out["prompt"] = decode_or_fail(*tok, *rec.prompt_ids, where);
          out["response"] = text;
        } else if (j.contains("ids")) {
          out["text"] = text;
        } else {
          out["response"] = text;
        }
        line = out.dump();
        emit(&line);
        return;
      }
      const nlohmann::json* response = string_field(j, "response", name, lineno);
      const nlohmann::json* prompt = string_field(j, "prompt", name, lineno);
      const nlohmann::json* text = string_field(j, "text", name, lineno);
      if (response != nullptr) {
        line = "{";
        if (prompt != nullptr) {
          line += "\"prompt_ids\":";
          append_id_array(&line, encode_or_fail(*tok, prompt->get<std::string>(), where));
          line += ",";
        }
        line += "\"response_ids\":";
        append_id_array(&line, encode_or_fail(*tok, response->get<std::string>(), where));
        line += "}";
      } else if (text != nullptr) {
        line = "{\"ids\":";
        append_id_array(&line, encode_or_fail(*tok, text->get<std::string>(), where));
        line += "}";
      } else {
        fail_input(where + ": no \"text\" or \"response\" field");
      }
      emit(&line);
    });
    if (records == 0) fail_input("'" + name + "' holds no JSON lines");
  }
  std::cout << std::flush;
  return EXIT_OK;
}
}  // namespace

void register_tokenize(CLI::App& root, Runner* run) {
  auto o = std::make_shared<TokenizeOptions>();
  auto* sub = root.add_subcommand(
      "tokenize", "Print the token ids of texts ({\"ids\": [...]} per text), or with --decode the texts of ids");
  sub->add_option("FILE", o->inputs, "Input files ('-' or none: standard input)");
  sub->add_option("--tokenizer", o->tokenizer,
                  "A sentencepiece .model or a Hugging Face tokenizer.json (default: the bundled one)");
  sub->add_flag("--jsonl", o->jsonl,
                "Inputs are JSONL: {\"text\"} gives {\"ids\"}, {\"prompt\",\"response\"} gives "
                "{\"prompt_ids\",\"response_ids\"}; with --decode, print JSON lines instead of plain text");
  sub->add_flag("--decode", o->decode,
                "Inputs are JSONL lines {\"ids\": [...]} (or prompt_ids/response_ids): print their text");
  sub->callback([o, run] { *run = [o] { return run_tokenize(*o); }; });
}

}  // namespace isotope::cli
