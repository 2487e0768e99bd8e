// isotope lm: train and inspect the reference n-gram model.
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"
#include "corpus.hpp"

namespace isotope::cli {

namespace {
struct TrainOptions {
  std::vector<std::string> corpus;
  std::string out, tokenizer;
  NgramOptions ngram;
  bool quiet = false;
};

int run_train(const TrainOptions& o) {
  auto tok = load_tokenizer(o.tokenizer);
  std::vector<std::vector<std::uint32_t>> docs;
  std::uint64_t tokens = 0;
  for (const std::string& path : o.corpus) {
    const std::size_t before = docs.size();
    for (const std::string& doc : read_documents(path)) {
      std::vector<std::uint32_t> ids;
      check(tok->encode(doc, &ids), path);
      tokens += ids.size();
      if (!ids.empty()) docs.push_back(std::move(ids));
    }
    note(o.quiet, "read " + std::to_string(docs.size() - before) + " documents from '" + path + "'");
  }
  if (tokens == 0) fail(Status(Code::empty_input, "the corpus holds no text"));
  note(o.quiet, "training an order-" + std::to_string(o.ngram.order) + " model on " + std::to_string(tokens) +
                    " tokens");
  std::unique_ptr<NgramModel> model;
  check(NgramModel::train(docs, tok->vocab_size(), o.ngram, tok->sha256_hex(), &model));
  check(model->save(o.out), "cannot save model");
  note(o.quiet, "wrote '" + o.out + "'");
  return EXIT_OK;
}

int run_info(const std::string& path) {
  std::unique_ptr<NgramModel> model;
  check(NgramModel::load(path, &model), "cannot load model");
  nlohmann::json j = {{"order", model->order()},
                      {"vocab_size", model->vocab_size()},
                      {"trained_tokens", model->trained_tokens()},
                      {"tokenizer_sha256", model->tokenizer_sha256()}};
  std::cout << j.dump(2) << '\n';
  return EXIT_OK;
}
}  // namespace

void register_lm(CLI::App& root, Runner* run) {
  auto* lm = root.add_subcommand("lm", "Train or inspect the reference n-gram language model");
  lm->require_subcommand(1);

  auto o = std::make_shared<TrainOptions>();
  auto* train = lm->add_subcommand("train", "Train an n-gram model on text or JSONL files");
  train->add_option("-c,--corpus", o->corpus,
                    "Plain text (one document per paragraph, paragraphs separated by blank lines) or .jsonl files "
                    "(one document per line: field \"response\", else \"text\")")
      ->required();
  train->add_option("-o,--output", o->out, "Model file to write")->required();
  train->add_option("--tokenizer", o->tokenizer, "sentencepiece model (default: the bundled tokenizer)");
  train->add_option("--order", o->ngram.order, "n of the n-gram model (1-6)")->capture_default_str();
  train->add_option("--discount", o->ngram.discount, "Kneser-Ney absolute discount, in [1e-6, 1)")->capture_default_str();
  train->add_flag("-q,--quiet", o->quiet, "No progress messages");
  train->callback([o, run] { *run = [o] { return run_train(*o); }; });

  auto path = std::make_shared<std::string>();
  auto* info = lm->add_subcommand("info", "Print a model file's order, vocabulary and tokenizer as JSON");
  info->add_option("MODEL", *path, "Model file")->required();
  info->callback([path, run] { *run = [path] { return run_info(*path); }; });
}

}  // namespace isotope::cli
