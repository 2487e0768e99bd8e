// Radioactivity experiment on the reference models: how strongly do audits
// detect a student trained on a share rho of watermarked teacher outputs?
// Writes markdown tables to standard output (bench/radioactivity/run.sh).
//
// For each replicate (its own key and seeds): the teacher (the bundled n-gram
// model) answers prompts made of the first tokens of human paragraphs, with the
// watermark; a student (order-3 n-gram) is trained on S tokens, a share rho of
// them the teacher's watermarked answers and the rest human text; the student
// answers the bundled prompts (closed audit, with and without the filter), and
// reads the teacher's answers (open audit). Medians over replicates.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "isotope/audit.hpp"
#include "isotope/generate.hpp"
#include "isotope/io.hpp"
#include "isotope/lm.hpp"
#include "isotope/tokenizer.hpp"
#include "isotope/watermark.hpp"
#include "../common/reference_data.hpp"

using namespace isotope;
using namespace isotope::bench;

namespace {

struct Options {
  int replicates = 3;
  std::uint64_t student_tokens = 300000;
  std::uint32_t answer_tokens = 100;
  std::uint64_t read_tokens = 20000;
  std::vector<double> rhos = {0, 0.01, 0.05, 0.10, 0.50, 1.0};
  bool validity = true;
  std::string scheme = "kgw";
};

Key replicate_key(int r) {
  ControlSeed s{};
  std::memcpy(s.data(), "isotope radioactivity experiment", 32);
  Key k;
  ok(audit_control_key(s, 1000 + static_cast<std::uint64_t>(r), &k), "key");
  return k;
}

struct Cell {
  std::vector<double> v;
};

}  // namespace

int main(int argc, char** argv) {
  program = "radioactivity";
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--replicates") o.replicates = std::stoi(next());
    else if (a == "--student-tokens") o.student_tokens = std::stoull(next());
    else if (a == "--answer-tokens") o.answer_tokens = static_cast<std::uint32_t>(std::stoul(next()));
    else if (a == "--read-tokens") o.read_tokens = std::stoull(next());
    else if (a == "--no-validity") o.validity = false;
    else if (a == "--scheme") o.scheme = next();
    else if (a == "--rhos") {
      o.rhos.clear();
      std::stringstream ss(next());
      std::string x;
      while (std::getline(ss, x, ',')) o.rhos.push_back(std::stod(x) / 100.0);
    } else {
      std::cout << "usage: isotope_radioactivity [--replicates R] [--student-tokens S] [--answer-tokens L]\n"
                   "       [--read-tokens T] [--rhos 0,1,5,10,50,100] [--no-validity] [--scheme kgw|gumbel|synthid]\n";
      return a == "--help" ? 0 : 2;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  std::unique_ptr<Tokenizer> tok;
  ok(Tokenizer::load(default_tokenizer_path(), &tok), "tokenizer");
  std::unique_ptr<NgramModel> teacher;
  ok(NgramModel::load(default_model_path(), &teacher), "model");
  std::vector<std::string> prompts;
  {
    std::ifstream in(data_dir() + "/prompts.jsonl");
    if (!in) die("cannot read prompts.jsonl in the data folder");
    std::string line;
    while (std::getline(in, line)) {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("prompt") && j["prompt"].is_string()) prompts.push_back(j["prompt"].get<std::string>());
    }
  }
  Profile profile;
  ok(Profile::of(o.scheme, &profile), "--scheme");
  const SamplingParams sampling;

  // Results: [rho][column] -> values over replicates.
  std::map<double, std::map<std::string, Cell>> table;
  std::map<std::uint64_t, std::map<std::string, Cell>> sweep;  // records -> {scored, log10p}
  std::map<std::string, Cell> validity;
  const Docs human_all = human(*tok, o.student_tokens, 0);
  // Teacher prompts: the first tokens of the human paragraphs that follow the
  // students' human text (never part of it).
  Docs prompt_src = human(*tok, o.student_tokens + 200000, 0);
  prompt_src.erase(prompt_src.begin(), prompt_src.begin() + static_cast<std::ptrdiff_t>(human_all.size()));
  if (prompt_src.empty()) die("not enough human text for teacher prompts");

  for (int rep = 0; rep < o.replicates; ++rep) {
    const Key key = replicate_key(rep);
    ControlSeed cseed{};
    cseed[0] = static_cast<std::uint8_t>(rep + 1);
    Key random_key;
    ok(audit_control_key(cseed, 0, &random_key), "control key");
    std::unique_ptr<Watermarker> wm;
    ok(Watermarker::create(key, profile, teacher->vocab_size(), &wm), "watermarker");
    Rng rng(100 + static_cast<std::uint64_t>(rep));
    Docs wm_out;
    std::uint64_t produced = 0;
    const double max_rho = *std::max_element(o.rhos.begin(), o.rhos.end());
    const std::uint64_t need = std::max<std::uint64_t>(
        o.read_tokens, static_cast<std::uint64_t>(std::ceil(max_rho * static_cast<double>(o.student_tokens))));
    for (std::size_t i = 0; produced < need; ++i) {
      const auto& src = prompt_src[(i + 97 * static_cast<std::size_t>(rep)) % prompt_src.size()];
      std::vector<std::uint32_t> out;
      ok(generate(*teacher, wm.get(), std::span<const std::uint32_t>(src.data(), std::min<std::size_t>(src.size(), 6)),
                  200, sampling, rng, &out),
         "generate");
      wm_out.push_back(retokenize(*tok, out));
      produced += wm_out.back().size();
    }
    std::cerr << "replicate " << rep + 1 << ": " << produced << " teacher tokens (" << elapsed() << " s)\n";
    const Docs reading = prefix(wm_out, o.read_tokens);

    for (double rho : o.rhos) {
      const auto wm_tokens = static_cast<std::uint64_t>(std::llround(rho * static_cast<double>(o.student_tokens)));
      Docs train = prefix(human_all, o.student_tokens - wm_tokens);
      const Docs part = prefix(wm_out, wm_tokens);
      train.insert(train.end(), part.begin(), part.end());
      std::unique_ptr<NgramModel> student;
      ok(NgramModel::train(train, tok->vocab_size(), NgramOptions{}, tok->sha256_hex(), &student), "train");
      std::vector<AuditRecord> recs;
      Rng srng(500 + static_cast<std::uint64_t>(rep) * 31 + static_cast<std::uint64_t>(rho * 1000));
      for (const auto& p : prompts) {
        AuditRecord r;
        ok(tok->encode(p, &r.prompt), "encode");
        std::vector<std::uint32_t> out;
        ok(generate(*student, nullptr, r.prompt, o.answer_tokens, sampling, srng, &out), "generate");
        r.response = retokenize(*tok, out);
        recs.push_back(std::move(r));
      }
      std::unique_ptr<Audit> f, nf, op;
      ok(Audit::closed(profile, recs, &wm_out, {}, &f), "audit");
      ok(Audit::closed(profile, recs, nullptr, {}, &nf), "audit");
      ok(Audit::open_with_model(profile, reading, *student, {}, &op), "audit");
      auto& row = table[rho];
      AuditResult r;
      ok(f->run(key, &r), "run");
      row["filter"].v.push_back(r.detection.log10_p);
      row["filter_N"].v.push_back(static_cast<double>(r.detection.scored));
      ok(f->run(random_key, &r), "run");
      row["filter_rand"].v.push_back(r.detection.log10_p);
      ok(nf->run(key, &r), "run");
      row["nofilter"].v.push_back(r.detection.log10_p);
      row["nofilter_N"].v.push_back(static_cast<double>(r.detection.scored));
      ok(nf->run(random_key, &r), "run");
      row["nofilter_rand"].v.push_back(r.detection.log10_p);
      ok(op->run(key, &r), "run");
      row["open"].v.push_back(r.detection.log10_p);
      row["open_N"].v.push_back(static_cast<double>(r.detection.scored));
      ok(op->run(random_key, &r), "run");
      row["open_rand"].v.push_back(r.detection.log10_p);
      if (std::abs(rho - 0.05) < 1e-9) {
        for (std::uint64_t n : {10, 25, 50, 100, 200}) {
          if (n > recs.size()) continue;
          ok(f->run(key, &r, n), "run");
          sweep[n]["filter"].v.push_back(r.detection.log10_p);
          sweep[n]["filter_N"].v.push_back(static_cast<double>(r.detection.scored));
          ok(nf->run(key, &r, n), "run");
          sweep[n]["nofilter"].v.push_back(r.detection.log10_p);
          sweep[n]["nofilter_N"].v.push_back(static_cast<double>(r.detection.scored));
        }
      }
      if (rho == 0.0 && o.validity) {
        // A clean student (rho = 0) prompted with the provider's watermarked
        // text, answering greedily (it loops) after echoing the prompt.
        std::vector<AuditRecord> echo;
        SamplingParams greedy;
        greedy.greedy = true;
        for (std::size_t i = 0; i < 100 && i < wm_out.size(); ++i) {
          AuditRecord e;
          e.prompt.assign(wm_out[i].begin(), wm_out[i].begin() + std::min<std::ptrdiff_t>(40, static_cast<std::ptrdiff_t>(wm_out[i].size())));
          std::vector<std::uint32_t> out;
          ok(generate(*student, nullptr, e.prompt, o.answer_tokens, greedy, srng, &out), "generate");
          e.response = e.prompt;
          e.response.insert(e.response.end(), out.begin(), out.end());
          echo.push_back(std::move(e));
        }
        const std::pair<const char*, AuditRules> variants[] = {
            {"all rules", {}},
            {"no dedup", {.dedup = false}},
            {"no prompt exclusion", {.prompt_exclusion = false}},
            {"neither", {.dedup = false, .prompt_exclusion = false}}};
        for (const auto& [name, rules] : variants) {
          std::unique_ptr<Audit> a;
          ok(Audit::closed(profile, echo, nullptr, rules, &a), "audit");
          ok(a->run(key, &r), "run");
          validity[name].v.push_back(r.detection.log10_p);
          ok(a->run(random_key, &r), "run");
          validity[std::string(name) + " (random key)"].v.push_back(r.detection.log10_p);
        }
      }
      std::cerr << "  rho " << rho * 100 << "%: filter " << row["filter"].v.back() << ", no filter "
                << row["nofilter"].v.back() << ", open " << row["open"].v.back() << " (" << elapsed() << " s)\n";
    }
  }

  auto f1 = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", x);
    return std::string(b);
  };
  auto f0 = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.0f", x);
    return std::string(b);
  };
  std::cout << "Median log10 p over " << o.replicates << " keys/seeds; student trained on " << o.student_tokens
            << " tokens; " << prompts.size() << " prompts x " << o.answer_tokens << " answer tokens; open audit reads "
            << o.read_tokens << " teacher tokens. Random key: the same audit under a key the student never saw.\n\n";
  std::cout << "| rho | closed, filter | (scored) | closed, no filter | (scored) | open | (scored) | random key: filter / no filter / open |\n"
            << "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |\n";
  for (auto& [rho, row] : table) {
    std::cout << "| " << f0(rho * 100) << "% | " << f1(median(row["filter"].v)) << " | " << f0(median(row["filter_N"].v))
              << " | " << f1(median(row["nofilter"].v)) << " | " << f0(median(row["nofilter_N"].v)) << " | "
              << f1(median(row["open"].v)) << " | " << f0(median(row["open_N"].v)) << " | "
              << f1(median(row["filter_rand"].v)) << " / " << f1(median(row["nofilter_rand"].v)) << " / "
              << f1(median(row["open_rand"].v)) << " |\n";
  }
  if (!sweep.empty()) {
    std::cout << "\nrho = 5%: median log10 p against the amount of suspect text (closed audit).\n\n"
              << "| prompts answered | scored (filter) | closed, filter | scored (no filter) | closed, no filter |\n"
              << "| ---: | ---: | ---: | ---: | ---: |\n";
    for (auto& [n, row] : sweep)
      std::cout << "| " << n << " | " << f0(median(row["filter_N"].v)) << " | " << f1(median(row["filter"].v)) << " | "
                << f0(median(row["nofilter_N"].v)) << " | " << f1(median(row["nofilter"].v)) << " |\n";
  }
  if (!validity.empty()) {
    std::cout << "\nValidity: a clean student (rho = 0), prompted with 40 tokens of watermarked text, echoes the prompt\n"
                 "and answers greedily. Median log10 p (closed audit, no filter):\n\n"
              << "| rules | provider key | random key |\n| --- | ---: | ---: |\n";
    for (const char* name : {"all rules", "no dedup", "no prompt exclusion", "neither"})
      std::cout << "| " << name << " | " << f1(median(validity[name].v)) << " | "
                << f1(median(validity[std::string(name) + " (random key)"].v)) << " |\n";
  }
  std::cerr << "done in " << elapsed() << " s\n";
  return 0;
}
