// isotope demo: the whole story on the embedded defaults, in under a minute.
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"
#include "corpus.hpp"
#include "isotope/audit.hpp"
#include "isotope/generate.hpp"
#include "isotope/io.hpp"

namespace isotope::cli {

namespace {
struct DemoOptions {
  std::uint32_t tokens = 400;
  std::uint64_t seed = 1;
  std::string model, tokenizer;
  double rho = 0.05;                     // share of watermarked text in the student's training data
  std::uint64_t human_tokens = 1000000;  // human text in each student's training data
  std::uint32_t control = 20;
  bool skip_audit = false;
  bool skip_schemes = false;
};

// A temporary folder removed on every exit path.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/isotope-demo-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) fail(Status(Code::io, "cannot create a temporary folder"));
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string excerpt(const std::string& text, std::size_t n = 220) {
  std::string s = text.size() <= n ? text : text.substr(0, n);
  if (text.size() > n) {
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();  // whole characters
    if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xC0) s.pop_back();
    s += "...";
  }
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

void line(const std::string& label, const DetectionResult& r) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "  %-34s %4llu scored, %5.1f%% green  ->  p = %s", label.c_str(),
                static_cast<unsigned long long>(r.scored), 100.0 * r.green_fraction, format_p(r.log10_p).c_str());
  std::cout << buf << '\n';
}


using Docs = std::vector<std::vector<std::uint32_t>>;

// Text round trip: what a student or an auditor sees is text, re-tokenized.
std::vector<std::uint32_t> retokenize(const Tokenizer& tok, std::span<const std::uint32_t> ids) {
  std::string text;
  check(tok.decode(ids, &text));
  std::vector<std::uint32_t> out;
  check(tok.encode(text, &out));
  return out;
}

// Human training text: paragraphs of the bundled training corpus, taken in
// turn from each file, until `budget` tokens.
Docs human_documents(const Tokenizer& tok, std::uint64_t budget) {
  const std::string dir = data_dir() + "/corpus";
  std::vector<std::vector<std::string>> files;
  for (const char* name : {"bible.txt", "jargon.txt", "wordnet.txt", "devil.txt"}) {
    const std::string path = dir + "/" + name;
    if (!std::filesystem::exists(path))
      fail(Status(Code::io, "the demo needs the bundled training text, but '" + path +
                                "' is missing (set ISOTOPE_DATA_DIR to the folder holding corpus/)"));
    files.push_back(read_documents(path));
  }
  Docs docs;
  std::uint64_t total = 0;
  for (std::size_t i = 0; total < budget; ++i) {
    bool any = false;
    for (const auto& f : files) {
      if (i >= f.size() || total >= budget) continue;
      any = true;
      std::vector<std::uint32_t> ids;
      check(tok.encode(f[i], &ids));
      total += ids.size();
      docs.push_back(std::move(ids));
    }
    if (!any) break;
  }
  return docs;
}

std::vector<std::string> demo_prompts() {
  const std::string path = data_dir() + "/prompts.jsonl";
  if (!std::filesystem::exists(path))
    fail(Status(Code::io, "the demo needs the bundled prompts, but '" + path + "' is missing"));
  std::vector<std::string> out;
  const std::string data = read_text(path);
  for_each_jsonl(data, path, [&](const nlohmann::json& j, std::size_t lineno) {
    const nlohmann::json* p = string_field(j, "prompt", path, lineno);
    if (p != nullptr) out.push_back(p->get<std::string>());
  });
  if (out.empty()) fail(Status(Code::empty_input, "'" + path + "' holds no prompts"));
  return out;
}

void audit_line(const std::string& label, const AuditResult& r, const ControlResult& c) {
  char buf[240];
  std::snprintf(buf, sizeof buf, "  %-30s %6llu scored, %5.1f%% green -> log10 p = %7.1f | random keys: min %5.1f, KS p = %.2f",
                label.c_str(), static_cast<unsigned long long>(r.detection.scored), 100.0 * r.detection.green_fraction,
                r.detection.log10_p, *std::min_element(c.log10_p.begin(), c.log10_p.end()), c.ks_p);
  std::cout << buf << '\n';
}

bool run_radioactivity(const DemoOptions& o, const Key& key, const Profile& profile, const Tokenizer& tok,
                       const NgramModel& teacher) {
  if (!(o.rho > 0.0 && o.rho < 1.0)) fail_usage("--rho must lie in (0, 1)");
  const auto t0 = std::chrono::steady_clock::now();
  auto secs = [&] {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return std::string(b);
  };
  std::cout << "\nPart two: radioactivity. Did a student model learn from the provider's watermarked outputs?\n\n";
  const Docs human = human_documents(tok, o.human_tokens);
  std::uint64_t human_total = 0;
  for (const auto& d : human) human_total += d.size();
  const std::uint64_t teacher_budget =
      static_cast<std::uint64_t>(std::llround(o.rho / (1.0 - o.rho) * static_cast<double>(human_total)));

  // The teacher answers prompts made of the first tokens of other human paragraphs.
  const Docs prompt_source = human_documents(tok, human_total + 400000);
  std::unique_ptr<Watermarker> wm;
  check(Watermarker::create(key, profile, teacher.vocab_size(), &wm));
  SamplingParams sampling;
  Rng rng_wm(o.seed + 10), rng_plain(o.seed + 11);
  Docs wm_out, plain_out;
  std::uint64_t produced = 0;
  for (std::size_t i = human.size(); produced < teacher_budget; ++i) {
    const auto& src = prompt_source[human.size() + (i - human.size()) % (prompt_source.size() - human.size())];
    const std::span<const std::uint32_t> prompt(src.data(), std::min<std::size_t>(src.size(), 6));
    std::vector<std::uint32_t> a, b;
    check(generate(teacher, wm.get(), prompt, 200, sampling, rng_wm, &a));
    check(generate(teacher, nullptr, prompt, 200, sampling, rng_plain, &b));
    wm_out.push_back(retokenize(tok, a));
    plain_out.push_back(retokenize(tok, b));
    produced += wm_out.back().size();
  }
  std::cout << "4. The provider's model answers " << wm_out.size() << " prompts (" << produced
            << " tokens), once watermarked and once plain (" << secs() << ").\n";

  // Two students: the same human text, plus the teacher's watermarked or plain answers.
  auto train = [&](const Docs& extra) {
    Docs all = human;
    all.insert(all.end(), extra.begin(), extra.end());
    std::unique_ptr<NgramModel> m;
    check(NgramModel::train(all, tok.vocab_size(), NgramOptions{}, tok.sha256_hex(), &m));
    return m;
  };
  const auto student_wm = train(wm_out);
  const auto student_plain = train(plain_out);
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.0f%%", 100.0 * o.rho);
  std::cout << "5. Two students (order-3 n-gram models) are trained on " << human_total << " tokens of human text plus\n"
            << "   the teacher's answers (" << pct << " of their training tokens): student A on the watermarked answers,\n"
            << "   student B on the plain ones (" << secs() << ").\n";

  // Closed model: the auditor only sees the students' answers to its prompts.
  const std::vector<std::string> prompts = demo_prompts();
  auto answers = [&](const NgramModel& m, std::uint64_t seed) {
    std::vector<AuditRecord> recs;
    Rng rng(seed);
    for (const auto& p : prompts) {
      AuditRecord r;
      check(tok.encode(p, &r.prompt));
      std::vector<std::uint32_t> out;
      check(generate(m, nullptr, r.prompt, 400, sampling, rng, &out));
      r.response = retokenize(tok, out);
      recs.push_back(std::move(r));
    }
    return recs;
  };
  const auto ans_wm = answers(*student_wm, o.seed + 20);
  const auto ans_plain = answers(*student_plain, o.seed + 21);
  std::cout << "6. The auditor sends " << prompts.size() << " prompts to each student and keeps the answers (" << secs()
            << ").\n";

  ControlSeed cseed{};
  for (std::size_t i = 0; i < cseed.size(); ++i) cseed[i] = static_cast<std::uint8_t>(o.seed * 31 + i);
  struct Row {
    std::string label;
    AuditResult r;
    ControlResult c;
  };
  std::vector<Row> rows;
  auto score = [&](const std::string& label, const Audit& a) {
    Row row{label, {}, {}};
    check(a.run(key, &row.r));
    check(a.control(cseed, o.control, &row.c));
    rows.push_back(std::move(row));
  };
  for (int which = 0; which < 2; ++which) {
    const auto& recs = which == 0 ? ans_wm : ans_plain;
    const std::string who = which == 0 ? "A (watermarked)" : "B (plain)";
    std::unique_ptr<Audit> f, nf;
    check(Audit::closed(profile, recs, &wm_out, {}, &f));
    check(Audit::closed(profile, recs, nullptr, {}, &nf));
    score(who + ", closed+filter", *f);
    score(who + ", closed", *nf);
  }
  // Open model: feed the provider's watermarked answers to each student and
  // score its top-1 predictions.
  const std::size_t n_read = std::min<std::size_t>(wm_out.size(), 120);
  const Docs reading(wm_out.begin(), wm_out.begin() + static_cast<std::ptrdiff_t>(n_read));
  for (int which = 0; which < 2; ++which) {
    std::unique_ptr<Audit> a;
    check(Audit::open_with_model(profile, reading, which == 0 ? *student_wm : *student_plain, {}, &a));
    score(which == 0 ? "A (watermarked), open" : "B (plain), open", *a);
  }
  std::cout << "7. Audits under the provider's key, each repeated under " << o.control << " random keys (" << secs()
            << "):\n";
  for (const Row& r : rows) audit_line(r.label, r.r, r.c);

  const double a_filter = rows[0].r.detection.log10_p, a_open = rows[4].r.detection.log10_p;
  // Expected: A flagged far beyond chance in both settings; B and every
  // random key not flagged (1e-4), and random-key p-values look uniform.
  bool ok = a_filter <= -10.0 && a_open <= -6.0;
  double worst_clean = 0.0, worst_control = 0.0, min_ks = 1.0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const bool clean = i == 2 || i == 3 || i == 5;
    if (clean) worst_clean = std::min(worst_clean, rows[i].r.detection.log10_p);
    for (double lp : rows[i].c.log10_p) worst_control = std::min(worst_control, lp);
    min_ks = std::min(min_ks, rows[i].c.ks_p);
  }
  ok = ok && worst_clean > -4.0 && min_ks > 0.001;
  std::cout << "\nWhat this shows:\n"
            << "  - Student A never saw the key, yet " << pct << " of watermarked training text left a trace: its answers\n"
            << "    land on green tokens more often than chance (closed audit, " << odds_phrase(a_filter)
            << " with the filter),\n"
            << "    and its own predictions on the provider's text do too (open audit, " << odds_phrase(a_open) << ").\n"
            << "  - The filter keeps only contexts the provider's watermarked answers contain, where the trace lives;\n"
            << "    without it the same answers give a weaker, still clear result.\n"
            << "  - Student B learned from the same teacher without the watermark and looks like chance (smallest\n"
            << "    log10 p ";
  char b2[32];
  std::snprintf(b2, sizeof b2, "%.1f", worst_clean);
  std::cout << b2 << "), and so do the audits under random keys: the smallest of " << rows.size() * o.control
            << " is log10 p ";
  std::snprintf(b2, sizeof b2, "%.1f", worst_control);
  std::cout << b2 << ",\n    about what that many draws give by chance (uniformity check p >= ";
  std::snprintf(b2, sizeof b2, "%.2f", min_ks);
  std::cout << b2 << "). The test is calibrated,\n"
            << "    so a small p-value means training on watermarked outputs, not a quirk of the data.\n"
            << "  - Every (context, token) pair is counted once, and contexts inside the prompts are ignored: without\n"
            << "    these rules a model that repeats itself or its prompt would look watermarked (docs/audit.md).\n";
  return ok;
}

// A key derived from the demo's seed (libsodium's deterministic generator).
Key demo_key(std::uint64_t seed, std::uint8_t which) {
  unsigned char s[randombytes_SEEDBYTES] = {'i', 's', 'o', 't', 'o', 'p', 'e', '-', 'd', 'e', 'm', 'o'};
  for (int i = 0; i < 8; ++i) s[16 + i] = static_cast<unsigned char>(seed >> (8 * i));
  s[24] = which;
  unsigned char bytes[KEY_BYTES];
  randombytes_buf_deterministic(bytes, sizeof bytes, s);
  Key k;
  const Status st = Key::from_bytes(bytes, sizeof bytes, &k);
  sodium_memzero(bytes, sizeof bytes);
  check(st);
  return k;
}

std::string fmt(const char* f, double x) {
  char b[64];
  std::snprintf(b, sizeof b, f, x);
  return b;
}
std::string fmt(const char* f, const char* x) {
  char b[64];
  std::snprintf(b, sizeof b, f, x);
  return b;
}

// Part three: the same watermark key under each scheme. Detection of one
// generation, then a student trained with `rho` of the scheme's watermarked
// answers, audited open and closed with the filter.
bool run_schemes(const DemoOptions& o, const Key& key, const Key& other, const Tokenizer& tok,
                 const NgramModel& teacher) {
  const auto t0 = std::chrono::steady_clock::now();
  std::cout << "\nPart three: the schemes side by side. KGW changes what the model says (delta = 3); Gumbel-max\n"
            << "and SynthID keep the model's distribution exactly (distortion-free) and are audited the same way.\n\n";
  const Docs human = human_documents(tok, o.human_tokens);
  std::uint64_t human_total = 0;
  for (const auto& d : human) human_total += d.size();
  const std::uint64_t budget =
      static_cast<std::uint64_t>(std::llround(o.rho / (1.0 - o.rho) * static_cast<double>(human_total)));
  const Docs prompt_source = human_documents(tok, human_total + 400000);
  const std::vector<std::string> prompts = demo_prompts();
  ControlSeed cseed{};
  for (std::size_t i = 0; i < cseed.size(); ++i) cseed[i] = static_cast<std::uint8_t>(o.seed * 37 + i);
  std::vector<std::uint32_t> prompt_ids;
  check(tok.encode("The meaning of the word is", &prompt_ids));
  bool ok = true;
  std::cout << "  scheme    text: own key / plain / other key (log10 p) | student (" << fmt("%.0f%%", 100.0 * o.rho)
            << " watermarked): open / closed+filter (log10 p), random keys min\n";
  for (const char* name : {"kgw", "gumbel", "synthid"}) {
    Profile profile;
    check(Profile::of(name, &profile));
    std::unique_ptr<Watermarker> wm;
    check(Watermarker::create(key, profile, teacher.vocab_size(), &wm));
    SamplingParams sampling;
    Rng r1(o.seed + 40), r2(o.seed + 41);
    std::vector<std::uint32_t> marked, plain;
    check(generate(teacher, wm.get(), prompt_ids, 300, sampling, r1, &marked));
    check(generate(teacher, nullptr, prompt_ids, 300, sampling, r2, &plain));
    auto det = [&](const Key& k, const std::vector<std::uint32_t>& ids) {
      DetectionResult r;
      check(detect_ids(k, profile, retokenize(tok, ids), &r));
      return r.log10_p;
    };
    const double own = det(key, marked), pl = det(key, plain), ot = det(other, marked);

    Docs wm_out;
    std::uint64_t produced = 0;
    Rng rng_wm(o.seed + 50);
    for (std::size_t i = human.size(); produced < budget; ++i) {
      const auto& src = prompt_source[human.size() + (i - human.size()) % (prompt_source.size() - human.size())];
      const std::span<const std::uint32_t> prompt(src.data(), std::min<std::size_t>(src.size(), 6));
      std::vector<std::uint32_t> a;
      check(generate(teacher, wm.get(), prompt, 200, sampling, rng_wm, &a));
      wm_out.push_back(retokenize(tok, a));
      produced += wm_out.back().size();
    }
    Docs all = human;
    all.insert(all.end(), wm_out.begin(), wm_out.end());
    std::unique_ptr<NgramModel> student;
    check(NgramModel::train(all, tok.vocab_size(), NgramOptions{}, tok.sha256_hex(), &student));
    std::vector<AuditRecord> recs;
    Rng rs(o.seed + 60);
    for (std::size_t p = 0; p < prompts.size() && p < 100; ++p) {
      AuditRecord r;
      check(tok.encode(prompts[p], &r.prompt));
      std::vector<std::uint32_t> out;
      check(generate(*student, nullptr, r.prompt, 400, sampling, rs, &out));
      r.response = retokenize(tok, out);
      recs.push_back(std::move(r));
    }
    const std::size_t n_read = std::min<std::size_t>(wm_out.size(), 120);
    const Docs reading(wm_out.begin(), wm_out.begin() + static_cast<std::ptrdiff_t>(n_read));
    std::unique_ptr<Audit> open, closed;
    check(Audit::open_with_model(profile, reading, *student, {}, &open));
    check(Audit::closed(profile, recs, &wm_out, {}, &closed));
    AuditResult ro, rc;
    ControlResult co, cc;
    check(open->run(key, &ro));
    check(closed->run(key, &rc));
    check(open->control(cseed, o.control, &co));
    check(closed->control(cseed, o.control, &cc));
    double cmin = 0.0;
    for (double v : co.log10_p) cmin = std::min(cmin, v);
    for (double v : cc.log10_p) cmin = std::min(cmin, v);
    std::cout << "  " << fmt("%-8s", name) << "  " << fmt("%7.1f", own) << " / " << fmt("%5.1f", pl) << " / "
              << fmt("%5.1f", ot) << "                      | " << fmt("%8.1f", ro.detection.log10_p) << " / "
              << fmt("%6.1f", rc.detection.log10_p) << "                        " << fmt("%5.1f", cmin) << "\n";
    ok = ok && own <= -6.0 && pl > -4.0 && ot > -4.0 && ro.detection.log10_p <= -6.0 && cmin > -4.0;
  }
  std::cout << "  Every scheme finds its own text and its student; plain text, other keys and random keys look like\n"
            << "  chance. Each p-value is the exact tail of the scheme's own null law (docs/statistics.md) ("
            << fmt("%.1f s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) << ").\n";
  return ok;
}

int run_demo(const DemoOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  TempDir dir;
  const Profile profile;  // the defaults: gamma 0.25, delta 3, h 2
  std::cout << "isotope demo: watermark, detect, and see why the evidence holds.\n"
            << "Profile: " << profile.name() << "\n\n";

  // 1. Keys. Derived from the seed so that the whole demo is reproducible.
  const std::string key_path = dir.path + "/provider.key";
  check(key_write_file(key_path, demo_key(o.seed, 1)));
  const Key key = load_key(key_path);
  const Key other = demo_key(o.seed, 2);
  std::cout << "1. The provider makes a secret key (" << key_path << ", mode 0600) and publishes its commitment:\n"
            << "   " << key.commitment_hex() << "\n"
            << "   (The demo derives its keys from --seed " << o.seed
            << " so that every run is the same; 'isotope keygen' draws them from\n"
            << "   the system's random generator.)\n\n";

  // 2. Generation.
  auto tok = load_tokenizer(o.tokenizer);
  auto model = load_model(o.model, *tok);
  std::unique_ptr<Watermarker> wm;
  check(Watermarker::create(key, profile, model->vocab_size(), &wm));
  const std::string prompt = "The meaning of the word is";
  std::vector<std::uint32_t> prompt_ids, marked, plain;
  check(tok->encode(prompt, &prompt_ids));
  SamplingParams sampling;
  Rng rng1(o.seed), rng2(o.seed + 1);
  check(generate(*model, wm.get(), prompt_ids, o.tokens, sampling, rng1, &marked));
  check(generate(*model, nullptr, prompt_ids, o.tokens, sampling, rng2, &plain));
  std::string marked_text, plain_text;
  check(tok->decode(marked, &marked_text));
  check(tok->decode(plain, &plain_text));
  std::cout << "2. The reference model (an order-" << model->order() << " n-gram model, " << model->vocab_size()
            << "-token vocabulary) continues \"" << prompt << "\" for " << o.tokens << " tokens,\n"
            << "   once with the watermark (green tokens get +" << profile.param("delta") << " logits) and once without:\n"
            << "   watermarked: " << excerpt(marked_text) << "\n"
            << "   plain:       " << excerpt(plain_text) << "\n\n";

  // 3. Detection from the text alone: re-tokenize, dedup, exact binomial tail.
  auto detect_text = [&](const Key& k, const std::string& text) {
    std::vector<std::uint32_t> ids;
    check(tok->encode(text, &ids));
    DetectionResult r;
    check(detect_ids(k, profile, ids, &r));
    return r;
  };
  const DetectionResult r_marked = detect_text(key, marked_text);
  const DetectionResult r_plain = detect_text(key, plain_text);
  const DetectionResult r_other = detect_text(other, marked_text);
  std::cout << "3. Detection sees only the text and the key. Each (2 previous tokens, token) pair is scored once;\n"
            << "   by chance " << 100.0 * kgw_gamma_effective(profile) << "% of tokens are green:\n";
  line("watermarked text, provider key:", r_marked);
  line("plain text, provider key:", r_plain);
  line("watermarked text, another key:", r_other);
  std::cout << "\n";

  const bool ok = is_flagged(r_marked, 1e-4) && !is_flagged(r_plain, 1e-4) && !is_flagged(r_other, 1e-4);
  std::cout << "Why this is convincing:\n"
            << "  - Without the key, text lands on green tokens " << 100.0 * kgw_gamma_effective(profile)
            << "% of the time, as a fair coin would; the count of green\n"
            << "    tokens then follows a binomial law, and the p-value is its exact tail (no approximation).\n"
            << "  - The watermarked text is " << odds_phrase(r_marked.log10_p)
            << " by that law; the plain text and the wrong key look like chance.\n"
            << "  - The key never left the provider: anyone can check it against the commitment published earlier.\n";
  bool ok2 = true;
  if (!o.skip_audit) ok2 = run_radioactivity(o, key, profile, *tok, *model);
  if (!o.skip_audit && !o.skip_schemes) ok2 = run_schemes(o, key, other, *tok, *model) && ok2;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", secs);
  std::cout << "\nDone in " << buf << " s. " << (ok && ok2 ? "Every result came out as expected." : "UNEXPECTED RESULT: see above.")
            << '\n';
  return ok && ok2 ? EXIT_OK : EXIT_FAILURE_INTERNAL;
}
}  // namespace

void register_demo(CLI::App& root, Runner* run) {
  auto o = std::make_shared<DemoOptions>();
  auto* sub = root.add_subcommand("demo", "Run the whole story end to end on the bundled data (under a minute)");
  sub->add_option("-n,--tokens", o->tokens, "Tokens to generate")->capture_default_str();
  sub->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  sub->add_option("-m,--model", o->model, "n-gram model file (default: the bundled model)");
  sub->add_option("--tokenizer", o->tokenizer, "sentencepiece model (default: the bundled tokenizer)");
  sub->add_option("--rho", o->rho, "Part two: share of watermarked text in the student's training tokens")
      ->capture_default_str();
  sub->add_option("--human-tokens", o->human_tokens, "Part two: human training tokens per student")
      ->capture_default_str();
  sub->add_option("--control", o->control, "Part two: random control keys per audit")->capture_default_str();
  sub->add_flag("--no-audit", o->skip_audit, "Stop after part one (watermark and detection)");
  sub->add_flag("--no-schemes", o->skip_schemes, "Leave out part three (the schemes side by side)");
  sub->callback([o, run] { *run = [o] { return run_demo(*o); }; });
}

}  // namespace isotope::cli
