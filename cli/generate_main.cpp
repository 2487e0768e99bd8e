// isotope generate: text from the reference model, with or without the watermark.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"
#include "isotope/account.hpp"
#include "isotope/generate.hpp"

namespace isotope::cli {

namespace {
// Upper bound of -n: a million tokens (under a minute at 20k tokens/s).
constexpr std::uint32_t MAX_TOKENS = 1000000;

struct GenerateOptions {
  std::string key, model, tokenizer, prompt, prompts, out;
  std::string account;                // attribution: generate for this account
  std::optional<double> route_alpha;  // unset: the scheme's default (route_alpha_default)
  std::uint32_t tokens = 200;
  std::uint64_t seed = 0;
  SamplingParams sampling;
  bool no_watermark = false;
  bool quiet = false;
  ProfileOptions profile;
};

// Seed of the i-th prompt of a file: independent of the other prompts.
std::uint64_t seed_for(std::uint64_t seed, std::uint64_t index) { return seed ^ (0x9e3779b97f4a7c15ULL * (index + 1)); }

int run_generate(const GenerateOptions& o) {
  if (!o.no_watermark && o.key.empty()) fail_usage("--key is required (or pass --no-watermark for plain text)");
  if (!o.prompt.empty() && !o.prompts.empty()) fail_usage("give either --prompt or --prompts, not both");
  if (o.tokens > MAX_TOKENS)
    fail_usage("-n: at most " + std::to_string(MAX_TOKENS) + " tokens per response (docs/cli.md)");
  if (!o.out.empty() && o.out != "-") check_output_path(o.out);  // before the work, not after
  const Profile profile = o.profile.get();
  const double route_alpha = o.route_alpha.value_or(route_alpha_default(profile));
  if (!route_alpha_check(route_alpha).ok()) fail_usage("--route-alpha must lie in [0, 1)");
  auto tok = load_tokenizer(o.tokenizer);
  auto model = load_model(o.model, *tok);
  if (o.no_watermark && !o.account.empty()) fail_usage("--account needs the watermark (drop --no-watermark)");
  if (!o.account.empty())
    if (Status st = account_id_check(o.account); !st.ok()) fail_usage("--account: " + st.message());
  Key key;
  if (!o.no_watermark) key = load_key(o.key);
  // One watermarker per account ("" = the master key alone), made when first needed.
  std::map<std::string, std::unique_ptr<Watermarker>> wms;
  auto watermarker = [&](const std::string& account) -> Watermarker* {
    if (o.no_watermark) return nullptr;
    auto& wm = wms[account];
    if (wm == nullptr) {
      if (account.empty())
        check(Watermarker::create(key, profile, model->vocab_size(), &wm));
      else
        check(Watermarker::create_for_account(key, account, route_alpha, profile, model->vocab_size(), &wm),
              "account '" + term_safe(account) + "'");
    }
    return wm.get();
  };

  auto continuation = [&](const std::string& prompt, std::uint64_t seed, Watermarker* wm) {
    std::vector<std::uint32_t> prompt_ids, ids;
    check(tok->encode(prompt, &prompt_ids), "cannot tokenize the prompt");
    Rng rng(seed);
    // In chunks, for progress on long runs; the text is the same as one call's.
    Progress progress(o.quiet || !o.prompts.empty(), "tokens generated", o.tokens);
    std::vector<std::uint32_t> context = prompt_ids;
    while (ids.size() < o.tokens) {
      const auto chunk = static_cast<std::uint32_t>(std::min<std::size_t>(4096, o.tokens - ids.size()));
      std::vector<std::uint32_t> more;
      check(generate(*model, wm, context, chunk, o.sampling, rng, &more, prompt_ids.size()));
      context.insert(context.end(), more.begin(), more.end());
      ids.insert(ids.end(), more.begin(), more.end());
      progress.update(ids.size());
    }
    std::string text;
    check(tok->decode(ids, &text));
    return text;
  };

  if (o.prompts.empty()) {
    std::string text = continuation(o.prompt, o.seed, watermarker(o.account));
    write_output(o.out, text + "\n");
    return EXIT_OK;
  }

  const std::string data = read_text(o.prompts);
  std::ostringstream out;
  std::size_t count = 0;
  for_each_jsonl(data, o.prompts, [&](const nlohmann::json& j, std::size_t lineno) {
    const nlohmann::json* p = string_field(j, "prompt", o.prompts, lineno);
    if (p == nullptr) fail_input(o.prompts + ":" + std::to_string(lineno) + ": no \"prompt\" field");
    const std::string prompt = p->get<std::string>();
    // The line's "account" field, else --account, else none.
    std::string account = o.account;
    if (const nlohmann::json* a = string_field(j, "account", o.prompts, lineno); a != nullptr) {
      account = a->get<std::string>();
      if (Status st = account_id_check(account); !st.ok())
        fail_input(o.prompts + ":" + std::to_string(lineno) + ": \"account\": " + st.message());
      if (o.no_watermark) fail_input(o.prompts + ":" + std::to_string(lineno) + ": \"account\" needs the watermark");
    }
    nlohmann::json rec = {{"prompt", prompt},
                          {"response", continuation(prompt, seed_for(o.seed, count), watermarker(account))}};
    if (!account.empty()) rec["account"] = account;
    out << rec.dump() << '\n';
    ++count;
    if (!o.quiet && count % 50 == 0) note(false, "generated " + std::to_string(count) + " responses");
  });
  if (count == 0) fail_input("'" + o.prompts + "' holds no prompts");
  write_output(o.out, out.str());
  note(o.quiet || o.out.empty() || o.out == "-", "wrote " + std::to_string(count) + " responses to '" + o.out + "'");
  return EXIT_OK;
}
}  // namespace

void register_generate(CLI::App& root, Runner* run) {
  auto o = std::make_shared<GenerateOptions>();
  auto* sub = root.add_subcommand("generate", "Generate text with the reference model, watermarked by default");
  sub->add_option("-k,--key", o->key, "Watermark key file");
  sub->add_option("-m,--model", o->model, "n-gram model file (default: the bundled model)");
  sub->add_option("--tokenizer", o->tokenizer, "sentencepiece model (default: the bundled tokenizer)");
  sub->add_option("-p,--prompt", o->prompt, "Text to continue (default: empty)");
  sub->add_option("--prompts", o->prompts,
                  "JSONL file of {\"prompt\": ...} lines; writes {\"prompt\", \"response\"} lines");
  sub->add_option("-o,--output", o->out, "Write here instead of standard output (atomically)");
  sub->add_option("-n,--tokens", o->tokens, "Tokens to generate per prompt (at most 1000000)")->capture_default_str();
  sub->add_option("--seed", o->seed, "Random seed; the same seed gives the same text")->capture_default_str();
  sub->add_option("--temperature", o->sampling.temperature, "Sampling temperature (> 0)")->capture_default_str();
  sub->add_option("--top-k", o->sampling.top_k, "Sample among the k most likely tokens (0 = off)")
      ->capture_default_str();
  sub->add_option("--top-p", o->sampling.top_p, "Nucleus sampling mass in (0, 1] (1 = off)")->capture_default_str();
  sub->add_flag("--greedy", o->sampling.greedy, "Always take the most likely token");
  sub->add_flag("--no-watermark", o->no_watermark, "Plain sampling, no key needed");
  sub->add_option("--account", o->account,
                  "Generate for this account: a share --route-alpha of positions marked with its key, derived from "
                  "--key (docs/attribution.md); --prompts lines may name their own \"account\"");
  sub->add_option(
      "--route-alpha", o->route_alpha,
      "Share of positions routed to the account, in [0, 1) (default: " + shortest_double(ROUTE_ALPHA_NESTED_DEFAULT) +
          " for kgw, " + shortest_double(ROUTE_ALPHA_DEFAULT) + " for the other schemes; docs/attribution.md)");
  sub->add_flag("-q,--quiet", o->quiet, "No progress messages");
  o->profile.add_to(sub);
  sub->callback([o, run] { *run = [o] { return run_generate(*o); }; });
}

}  // namespace isotope::cli
