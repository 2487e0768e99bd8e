// Distortion, quality and power of each watermark scheme on the reference
// model. Writes the markdown tables of docs/statistics.md ("The schemes
// compared"); bench/schemes/run.sh drives it.
//
// - Distortion: fixed logits, 20,000 draws with distinct contexts (fresh
//   keyed values at each draw), Pearson chi-square of the sampled tokens
//   against the model's own distribution, and the total variation distance.
// - Quality: perplexity of generated text under the plain reference model
//   (the teacher itself), same prompts and seeds for every scheme and for
//   plain sampling.
// - Power: tokens generated until the text's own p-value reaches 1e-6, median
//   over texts, at temperature 1.0 and 0.7.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "isotope/detect.hpp"
#include "isotope/generate.hpp"
#include "isotope/io.hpp"
#include "isotope/lm.hpp"
#include "isotope/scheme.hpp"
#include "isotope/stats.hpp"
#include "isotope/tokenizer.hpp"
#include "isotope/watermark.hpp"

using namespace isotope;

namespace {

[[noreturn]] void die(const std::string& m) {
  std::cerr << "schemes: " << m << '\n';
  std::exit(1);
}
void ok(const Status& st, const char* what) {
  if (!st.ok()) die(std::string(what) + ": " + st.to_string());
}
Key key_of(std::uint64_t i) {
  std::uint8_t b[KEY_BYTES];
  for (std::size_t j = 0; j < KEY_BYTES; ++j) b[j] = static_cast<std::uint8_t>(i * 131 + j * 7 + 1);
  Key k;
  ok(Key::from_bytes(b, KEY_BYTES, &k), "key");
  return k;
}
Profile profile_of(const std::string& s) {
  Profile p;
  ok(Profile::of(s, &p), "profile");
  return p;
}
std::string f(const char* fmt, double x) {
  char b[64];
  std::snprintf(b, sizeof b, fmt, x);
  return b;
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? std::nan("") : (n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}
const char* kSchemes[] = {"kgw", "gumbel", "synthid"};

void distortion() {
  const std::vector<float> logits{2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -1.5f, -2.0f};
  const std::size_t V = logits.size(), n = 20000;
  std::cout << "Distortion: " << n << " draws on fixed logits (9 tokens, probabilities 0.32 down to 0.006) with distinct "
               "contexts (context width 5); chi-square of the sampled tokens against the model's distribution (8 degrees of freedom).\n\n"
            << "| scheme | temperature | chi-square | p-value | total variation |\n| --- | ---: | ---: | ---: | ---: |\n";
  for (float temp : {1.0f, 0.7f}) {
    std::vector<double> probs(V);
    double z = 0.0;
    for (std::size_t i = 0; i < V; ++i) z += std::exp(static_cast<double>(logits[i]) / temp);
    for (std::size_t i = 0; i < V; ++i) probs[i] = std::exp(static_cast<double>(logits[i]) / temp) / z;
    for (const char* s : kSchemes) {
      // Context width 5: the base-9 digits of the draw's number give 59,049
      // distinct windows, every id inside this 9-token vocabulary.
      Profile prof = profile_of(s);
      prof.context_width = 5;
      std::unique_ptr<Watermarker> wm;
      ok(Watermarker::create(key_of(1), prof, static_cast<std::uint32_t>(V), &wm), "watermarker");
      Rng rng(7);
      std::vector<double> counts(V, 0.0);
      SamplingParams sp;
      sp.temperature = temp;
      for (std::size_t i = 0; i < n; ++i) {
        std::vector<std::uint32_t> ctx(5);
        for (std::size_t d = 0, x = i; d < 5; ++d, x /= V) ctx[d] = static_cast<std::uint32_t>(x % V);
        std::uint32_t t = 0;
        ok(wm->sample(ctx, logits, sp, rng, &t), "sample");
        counts[t] += 1.0;
      }
      double x = 0.0, tv = 0.0;
      for (std::size_t i = 0; i < V; ++i) {
        const double e = probs[i] * static_cast<double>(n);
        x += (counts[i] - e) * (counts[i] - e) / e;
        tv += 0.5 * std::fabs(counts[i] / static_cast<double>(n) - probs[i]);
      }
      const Tail t = chi2_upper_tail_even(x, (V - 1) / 2);
      std::cout << "| " << s << " | " << f("%.1f", temp) << " | " << f("%.1f", x) << " | "
                << (t.log10_p > -3 ? f("%.3f", t.p_value) : "1e" + f("%.0f", t.log10_p)) << " | " << f("%.4f", tv)
                << " |\n";
    }
  }
  std::cout << '\n';
}

void quality_and_power(const NgramModel& model, const Tokenizer& tok, int texts, std::uint32_t length) {
  std::vector<std::vector<std::uint32_t>> prompts;
  for (const char* p : {"The meaning of the word is", "In the beginning", "A man who", "The law of", "When the king",
                        "It is said that", "The art of", "Of all the"}) {
    std::vector<std::uint32_t> ids;
    ok(tok.encode(p, &ids), "encode");
    prompts.push_back(ids);
  }
  auto perplexity = [&](const std::vector<std::uint32_t>& prompt, const std::vector<std::uint32_t>& out,
                        double* nll, std::uint64_t* count) {
    std::vector<std::uint32_t> ctx = prompt;
    std::vector<float> l(model.vocab_size());
    for (std::uint32_t t : out) {
      ok(model.next_logits(ctx, l), "logits");
      float m = -std::numeric_limits<float>::infinity();
      for (float x : l) m = std::max(m, x);
      double z = 0.0;
      for (float x : l) z += std::exp(static_cast<double>(x - m));
      *nll -= static_cast<double>(l[t] - m) - std::log(z);
      ++*count;
      ctx.push_back(t);
    }
  };
  std::cout << "Quality and power on the reference model (order-" << model.order() << " n-gram, " << model.vocab_size()
            << " tokens): " << texts << " texts of " << length
            << " tokens per row, the same prompts and seeds for every row. Perplexity under the plain model; tokens "
               "until the text's p-value reaches 1e-6 (median; texts that never reach it count as "
            << length << "+).\n\n"
            << "| scheme | temperature | perplexity | plain sampling | median tokens to p <= 1e-6 | reached |\n"
            << "| --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (float temp : {1.0f, 0.7f}) {
    SamplingParams sp;
    sp.temperature = temp;
    double plain_nll = 0.0;
    std::uint64_t plain_n = 0;
    for (int i = 0; i < texts; ++i) {
      Rng rng(1000 + static_cast<std::uint64_t>(i));
      std::vector<std::uint32_t> out;
      const auto& p = prompts[static_cast<std::size_t>(i) % prompts.size()];
      ok(generate(model, nullptr, p, length, sp, rng, &out), "generate");
      perplexity(p, out, &plain_nll, &plain_n);
    }
    for (const char* s : kSchemes) {
      const Profile prof = profile_of(s);
      const Scheme* sc = find_scheme(s);
      double nll = 0.0;
      std::uint64_t cnt = 0;
      std::vector<double> needed;
      int reached = 0;
      for (int i = 0; i < texts; ++i) {
        const Key key = key_of(100 + static_cast<std::uint64_t>(i));
        std::unique_ptr<Watermarker> wm;
        ok(Watermarker::create(key, prof, model.vocab_size(), &wm), "watermarker");
        Rng rng(1000 + static_cast<std::uint64_t>(i));
        std::vector<std::uint32_t> out;
        const auto& p = prompts[static_cast<std::size_t>(i) % prompts.size()];
        ok(generate(model, wm.get(), p, length, sp, rng, &out), "generate");
        perplexity(p, out, &nll, &cnt);
        // The p-value of the text (prompt included, prompt windows excluded) as it grows.
        std::vector<std::uint32_t> all = p;
        all.insert(all.end(), out.begin(), out.end());
        std::unique_ptr<Scorer> scorer;
        ok(Scorer::create(key, prof, &scorer), "scorer");
        WindowSet pw(prof.context_width);
        pw.add_windows_of(p);
        TokenScores scores;
        ok(scorer->add(all, &pw, nullptr, &scores), "score");
        double sum = 0.0;
        std::uint64_t scored = 0;
        double at = static_cast<double>(length) + 1.0;
        for (std::size_t j = p.size(); j < all.size(); ++j) {
          if (std::isnan(scores[j])) continue;
          sum += scores[j];
          ++scored;
          if (sc->tail(prof, sum, scored).log10_p <= -6.0) {
            at = static_cast<double>(j - p.size() + 1);
            ++reached;
            break;
          }
        }
        needed.push_back(at);
      }
      std::cout << "| " << s << " | " << f("%.1f", temp) << " | " << f("%.2f", std::exp(nll / static_cast<double>(cnt)))
                << " | " << f("%.2f", std::exp(plain_nll / static_cast<double>(plain_n))) << " | "
                << (median(needed) > length ? std::to_string(length) + "+" : f("%.0f", median(needed))) << " | "
                << reached << "/" << texts << " |\n";
    }
  }
  std::cout << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  int texts = 40;
  std::uint32_t length = 400;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--texts" && i + 1 < argc) texts = std::atoi(argv[++i]);
    else if (a == "--length" && i + 1 < argc) length = static_cast<std::uint32_t>(std::atoi(argv[++i]));
    else {
      std::cout << "usage: isotope_schemes [--texts N] [--length TOKENS]\n";
      return a == "--help" ? 0 : 2;
    }
  }
  if (texts <= 0 || length == 0) die("--texts and --length must be positive");
  std::unique_ptr<Tokenizer> tok;
  ok(Tokenizer::load(default_tokenizer_path(), &tok), "tokenizer");
  std::unique_ptr<NgramModel> model;
  ok(NgramModel::load(default_model_path(), &model), "model");
  distortion();
  quality_and_power(*model, *tok, texts, length);
  return 0;
}
