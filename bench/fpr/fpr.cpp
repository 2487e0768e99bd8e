// Calibration at scale: null tests of every scheme on held-out human text.
//
// The held-out corpus (corpora/heldout/, never seen by the tokenizer's or
// the model's training) is tokenized once and cut into documents
// (consecutive paragraphs of one file, at least --min-tokens tokens). The
// rules (dedup) are applied once per document; then every test scores the
// admitted tuples under its own fresh key (one key per test: the tests are
// independent), and takes the scheme's exact tail.
//
// For each level a it prints the empirical rate of p <= a with its exact
// (Clopper-Pearson) 95% interval, the nominal rate, and the exact size of the
// test: for a count statistic (KGW, SynthID) the attainable p-values are
// discrete, so P(p <= a) under H0 is the largest attainable tail <= a
// (averaged over the documents), at most a. For the scan (--scan-docs), it
// runs windowed detection (isotope::scan_ids) on documents of --scan-tokens
// tokens under fresh keys.
//
// Writes, with --qq DIR, DIR/qq-SCHEME.tsv: expected and observed -log10 p at
// log-spaced ranks with the pointwise 95% band of uniform order statistics,
// which bench/fpr/qq.py draws.
//
//   isotope_fpr [--tests N] [--schemes kgw,gumbel,synthid] [--min-tokens 128]
//               [--scan-docs D] [--scan-keys K] [--scan-tokens T] [--qq DIR] [--seed S]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "isotope/detect.hpp"
#include "isotope/io.hpp"
#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "isotope/tokenizer.hpp"

using namespace isotope;

namespace {

[[noreturn]] void die(const std::string& m) {
  std::cerr << "fpr: " << m << '\n';
  std::exit(1);
}
void ok(const Status& st, const char* what) {
  if (!st.ok()) die(std::string(what) + ": " + st.to_string());
}

std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// The key of test number i of one experiment: distinct for every i.
Key key_of(std::uint64_t experiment, std::uint64_t i) {
  std::uint64_t state = experiment * 0x100000000ULL + i;
  std::uint8_t b[KEY_BYTES];
  for (std::size_t j = 0; j < KEY_BYTES; j += 8) {
    const std::uint64_t w = splitmix(state);
    for (std::size_t k = 0; k < 8; ++k) b[j + k] = static_cast<std::uint8_t>(w >> (8 * k));
  }
  Key k;
  ok(Key::from_bytes(b, KEY_BYTES, &k), "key");
  return k;
}

// P(Binomial(n, x) >= k), as a probability.
double upper(std::uint64_t k, std::uint64_t n, double x) {
  if (k == 0) return 1.0;
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  return std::pow(10.0, binomial_upper_tail(k, n, x).log10_p);
}
// The x in (0, 1) where f (increasing in x) crosses target, by bisection in log
// space.
template <class F>
double solve_increasing(F f, double target) {
  double lo = -300.0, hi = 0.0;  // log10 x
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (f(std::pow(10.0, mid)) < target)
      lo = mid;
    else
      hi = mid;
  }
  return std::pow(10.0, 0.5 * (lo + hi));
}
// Exact (Clopper-Pearson) two-sided 95% interval for k successes in n.
std::pair<double, double> clopper_pearson(std::uint64_t k, std::uint64_t n) {
  const double lo = k == 0 ? 0.0 : solve_increasing([&](double x) { return upper(k, n, x); }, 0.025);
  const double hi = k == n ? 1.0 : solve_increasing([&](double x) { return upper(k + 1, n, x); }, 0.975);
  return {lo, hi};
}
// The q-quantile of the i-th smallest of n uniforms: P(U_(i) <= x) = P(Bin(n,
// x) >= i).
double order_stat_quantile(std::uint64_t i, std::uint64_t n, double q) {
  return solve_increasing([&](double x) { return upper(i, n, x); }, q);
}

std::string fmt(const char* f, double x) {
  char b[64];
  std::snprintf(b, sizeof b, f, x);
  return b;
}
std::string sci(double x) {
  if (x == 0.0) return "0";
  char b[64];
  std::snprintf(b, sizeof b, "%.2e", x);
  return b;
}
std::string with_commas(std::uint64_t n) {
  std::string s = std::to_string(n), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

struct Corpus {
  std::vector<std::vector<std::uint32_t>> docs;  // paragraphs merged to >= min_tokens
  std::vector<std::uint32_t> all;                // every token, in order
};

Corpus load_corpus(const Tokenizer& tok, std::size_t min_tokens) {
  Corpus c;
  const std::filesystem::path dir = std::filesystem::path(ISOTOPE_SOURCE_DIR) / "corpora" / "heldout";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string text;
    ok(read_file(f.string(), &text), "read");
    std::vector<std::uint32_t> cur;
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t end = text.find("\n\n", pos);
      if (end == std::string::npos) end = text.size();
      const std::string para = text.substr(pos, end - pos);
      pos = end + 2;
      if (para.find_first_not_of(" \t\r\n") == std::string::npos) continue;
      std::vector<std::uint32_t> ids;
      ok(tok.encode(para, &ids), "encode");
      cur.insert(cur.end(), ids.begin(), ids.end());
      c.all.insert(c.all.end(), ids.begin(), ids.end());
      if (cur.size() >= min_tokens) {
        c.docs.push_back(std::move(cur));
        cur.clear();
      }
    }
  }
  return c;
}

// P(p <= a) under H0 for one document of `scored` tuples: the largest
// attainable tail <= a (a for a continuous statistic).
double exact_size(const Scheme& s, const Profile& p, std::uint64_t scored, double a) {
  if (!s.integer_scores()) return a;
  const double la = std::log10(a);
  std::uint64_t lo = 0, hi = s.trials(p, scored) + 1;  // tail(hi) = 0 <= a
  while (lo < hi) {                                    // the smallest statistic whose tail is <= a
    const std::uint64_t mid = lo + (hi - lo) / 2;
    if (s.tail(p, static_cast<double>(mid), scored).log10_p <= la)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo > s.trials(p, scored) ? 0.0 : std::pow(10.0, s.tail(p, static_cast<double>(lo), scored).log10_p);
}

const double kLevels[] = {1e-2, 1e-3, 1e-4, 1e-5, 1e-6};

void null_tests(const std::string& scheme, std::uint64_t experiment, const Corpus& c, std::uint64_t tests,
                const std::string& qq_dir) {
  Profile p;
  ok(Profile::of(scheme, &p), "profile");
  const Scheme* s = nullptr;
  ok(scheme_of(p, &s), "scheme");
  const auto t0 = std::chrono::steady_clock::now();
  // The rules once per document.
  std::vector<AdmittedTuples> adm;
  std::uint64_t tuples = 0;
  for (const auto& d : c.docs) {
    std::unique_ptr<Scorer> col;
    ok(Scorer::create_collector(p, &col), "collector");
    ok(col->add(d), "collect");
    adm.push_back(col->take_tuples());
    tuples += adm.back().size();
  }
  const std::uint64_t keys = (tests + c.docs.size() - 1) / c.docs.size();
  std::vector<double> lp;
  lp.reserve(keys * c.docs.size());
  std::vector<double> expected(std::size(kLevels), 0.0);
  std::vector<double> scores;
  std::uint64_t scored_tuples = 0;
  for (std::size_t d = 0; d < adm.size(); ++d) {
    const AdmittedTuples& a = adm[d];
    std::vector<double> size(std::size(kLevels));
    for (std::size_t l = 0; l < std::size(kLevels); ++l) size[l] = exact_size(*s, p, a.size(), kLevels[l]);
    scores.resize(a.size());
    for (std::uint64_t k = 0; k < keys; ++k) {
      const Key key = key_of(experiment, d * keys + k);
      std::unique_ptr<TupleScorer> ts;
      ok(s->make_scorer(key, p, &ts), "scorer");
      if (a.size() > 0) ok(ts->score(a.windows.data(), a.tokens.data(), a.size(), scores.data()), "score");
      double stat = 0.0;
      for (double x : scores) stat += x;
      lp.push_back(s->tail(p, stat, a.size()).log10_p);
      for (std::size_t l = 0; l < std::size(kLevels); ++l) expected[l] += size[l];
      scored_tuples += a.size();
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::uint64_t n = lp.size();
  std::sort(lp.begin(), lp.end());
  std::vector<std::size_t> sz;
  for (const auto& a : adm) sz.push_back(a.size());
  std::sort(sz.begin(), sz.end());
  std::cout << "\n### " << scheme << "\n\n"
            << with_commas(n) << " null tests: " << c.docs.size() << " held-out documents (median " << sz[sz.size() / 2]
            << " tuples scored after dedup) x " << keys << " fresh keys each; " << with_commas(scored_tuples)
            << " tuples scored in " << fmt("%.1f", secs) << " s.\n\n"
            << "| level a | false positives | empirical rate | 95% Clopper-Pearson interval | exact size of the test | "
               "nominal a in the interval | size in the interval |\n"
            << "| ---: | ---: | ---: | ---: | ---: | :---: | :---: |\n";
  for (std::size_t l = 0; l < std::size(kLevels); ++l) {
    const double a = kLevels[l];
    const double la = std::log10(a);
    const auto k = static_cast<std::uint64_t>(std::upper_bound(lp.begin(), lp.end(), la) - lp.begin());
    const auto [lo, hi] = clopper_pearson(k, n);
    const double size = expected[l] / static_cast<double>(n);
    std::cout << "| " << sci(a) << " | " << k << " | " << sci(static_cast<double>(k) / static_cast<double>(n)) << " | ["
              << sci(lo) << ", " << sci(hi) << "] | " << sci(size) << " | " << (lo <= a && a <= hi ? "yes" : "NO")
              << " | " << (lo <= size && size <= hi ? "yes" : "NO") << " |\n";
  }
  std::cout << "\nSmallest p-value of " << with_commas(n) << ": 10^" << fmt("%.2f", lp.front()) << ".\n";
  if (qq_dir.empty()) return;
  std::ofstream q(qq_dir + "/qq-" + scheme + ".tsv");
  q << "expected\tobserved\tband_lo\tband_hi\n";
  // Log-spaced ranks i (1-based, smallest p first): ~40 per decade.
  std::vector<std::uint64_t> ranks;
  for (double r = 0.0; r <= std::log10(static_cast<double>(n)); r += 0.025) {
    const auto i = static_cast<std::uint64_t>(std::llround(std::pow(10.0, r)));
    if (ranks.empty() || ranks.back() != i) ranks.push_back(i);
  }
  for (std::uint64_t i : ranks) {
    const double e = -std::log10((static_cast<double>(i) - 0.5) / static_cast<double>(n));
    const double lo_q = -std::log10(order_stat_quantile(i, n, 0.975));
    const double hi_q = -std::log10(order_stat_quantile(i, n, 0.025));
    q << fmt("%.5f", e) << '\t' << fmt("%.5f", -lp[i - 1]) << '\t' << fmt("%.5f", lo_q) << '\t' << fmt("%.5f", hi_q)
      << '\n';
  }
}

void scan_tests(const std::string& scheme, std::uint64_t experiment, const Corpus& c, std::uint64_t docs,
                std::uint64_t keys, std::uint64_t tokens) {
  Profile p;
  ok(Profile::of(scheme, &p), "profile");
  const std::uint64_t available = c.all.size() / tokens;
  if (docs > available) docs = available;
  const auto t0 = std::chrono::steady_clock::now();
  const double levels[] = {1e-1, 1e-2, 1e-3, 1e-4};
  std::uint64_t below[std::size(levels)] = {};
  std::uint64_t n = 0, windows = 0;
  for (std::uint64_t d = 0; d < docs; ++d) {
    const auto doc = std::span(c.all).subspan(d * tokens, tokens);
    for (std::uint64_t k = 0; k < keys; ++k) {
      ScanResult r;
      ok(scan_ids(key_of(experiment, d * keys + k), p, doc, nullptr, {}, &r), "scan");
      windows = r.windows;
      for (std::size_t l = 0; l < std::size(levels); ++l) below[l] += r.log10_p <= std::log10(levels[l]) ? 1 : 0;
      ++n;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "| " << scheme << " | " << with_commas(n) << " (" << docs << " x " << keys << ") | " << windows;
  for (std::size_t l = 0; l < std::size(levels); ++l) {
    const auto [lo, hi] = clopper_pearson(below[l], n);
    std::cout << " | " << below[l] << " (" << sci(static_cast<double>(below[l]) / static_cast<double>(n)) << ", CI ["
              << sci(lo) << ", " << sci(hi) << "])";
  }
  std::cout << " | " << fmt("%.1f", secs) << " s |\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t tests = 1000000, min_tokens = 128, scan_docs = 0, scan_keys = 100, scan_tokens = 3500;
  std::uint64_t seed = 0;  // another seed: other keys, an independent replicate
  std::string schemes = "kgw,gumbel,synthid", qq_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--tests")
      tests = std::stoull(next());
    else if (a == "--schemes")
      schemes = next();
    else if (a == "--min-tokens")
      min_tokens = std::stoull(next());
    else if (a == "--scan-docs")
      scan_docs = std::stoull(next());
    else if (a == "--scan-keys")
      scan_keys = std::stoull(next());
    else if (a == "--scan-tokens")
      scan_tokens = std::stoull(next());
    else if (a == "--seed")
      seed = std::stoull(next());
    else if (a == "--qq")
      qq_dir = next();
    else
      die("unknown option " + a);
  }
  std::unique_ptr<Tokenizer> tok;
  ok(Tokenizer::load(default_tokenizer_path(), &tok), "tokenizer");
  const Corpus c = load_corpus(*tok, min_tokens);
  std::vector<std::string> names;
  std::stringstream ss(schemes);
  for (std::string s; std::getline(ss, s, ',');) names.push_back(s);
  std::cout << "Held-out corpus: " << with_commas(c.all.size()) << " tokens, " << c.docs.size()
            << " documents of at least " << min_tokens << " tokens.\n";
  if (tests > 0) {
    for (std::size_t i = 0; i < names.size(); ++i) null_tests(names[i], 1 + i + 1000 * seed, c, tests, qq_dir);
  }
  if (scan_docs > 0) {
    std::cout
        << "\n### Windowed detection (scan) on human documents of " << scan_tokens
        << " tokens\n\n| scheme | scans | windows per scan | p <= 0.1 | p <= 0.01 | p <= 0.001 | p <= 1e-4 | time |\n"
        << "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    for (std::size_t i = 0; i < names.size(); ++i) scan_tests(names[i], 100 + i + 1000 * seed, c, scan_docs, scan_keys, scan_tokens);
  }
  return 0;
}
