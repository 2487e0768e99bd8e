#include "audit.hpp"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "cluster.hpp"
#include "common.hpp"
#include "corpus.hpp"
#include "evidence.hpp"
#include "evidence/result_json.hpp"
#include "ids.hpp"
#include "isotope/account.hpp"
#include "isotope/evidence.hpp"
#include "isotope/io.hpp"
#include "isotope/normalize.hpp"
#include "isotope/recipes.hpp"
#include "isotope/shard.hpp"
#include "isotope/tokenizer.hpp"

namespace isotope::cli {

void to_json(nlohmann::json& j, const AuditOptions& o) {
  j = {{"mode", o.mode},
       {"key", o.key},
       {"suspect", o.suspect},
       {"teacher", o.teacher},
       {"model", o.model},
       {"predictions", o.predictions},
       {"tokenizer", o.tokenizer},
       {"profile", profile_options_json(o.profile)},
       {"control", o.control},
       {"control_seed", o.control_seed},
       {"threshold", o.threshold},
       {"no_dedup", o.no_dedup},
       {"no_prompt_exclusion", o.no_prompt_exclusion}};
  // Left out when 0, as in options recorded before these existed.
  if (o.curve_points != 0) j["curve_points"] = o.curve_points;
  if (o.sample_tokens != 0) j["sample_tokens"] = o.sample_tokens;
  if (!o.normalize.empty()) j["normalize"] = o.normalize;
  if (o.vocab_size != 0) j["vocab_size"] = o.vocab_size;
  if (o.route_alpha != 0.0) j["route_alpha"] = o.route_alpha;
  if (!o.accounts.empty()) j["accounts"] = o.accounts;
}

void from_json(const nlohmann::json& j, AuditOptions& o) {
  if (!j.is_object()) fail_input("audit options are not a JSON object");
  try {
    AuditOptions d;
    o.mode = j.value("mode", d.mode);
    o.key = j.value("key", d.key);
    o.suspect = j.value("suspect", d.suspect);
    o.teacher = j.value("teacher", d.teacher);
    o.model = j.value("model", d.model);
    o.predictions = j.value("predictions", d.predictions);
    o.tokenizer = j.value("tokenizer", d.tokenizer);
    o.profile = d.profile;
    if (auto it = j.find("profile"); it != j.end()) o.profile = profile_from_options_json(*it);
    o.control = j.value("control", d.control);
    o.control_seed = j.value("control_seed", d.control_seed);
    o.threshold = j.value("threshold", d.threshold);
    o.no_dedup = j.value("no_dedup", d.no_dedup);
    o.no_prompt_exclusion = j.value("no_prompt_exclusion", d.no_prompt_exclusion);
    o.curve_points = j.value("curve_points", std::uint32_t{0});
    o.sample_tokens = j.value("sample_tokens", std::uint32_t{0});
    o.normalize = j.value("normalize", std::string());
    o.vocab_size = j.value("vocab_size", std::uint32_t{0});
    o.route_alpha = j.value("route_alpha", 0.0);
    o.accounts = j.value("accounts", std::string());
  } catch (const nlohmann::json::exception& e) {
    fail_input(std::string("audit options: ") + e.what());
  }
}

namespace {

// `tok` is null when the audit reads token ids against --vocab-size.
std::vector<std::uint32_t> encode(const Tokenizer* tok, const std::string& text, const std::string& where,
                                  const Normalizers& norm) {
  if (tok == nullptr)
    fail_input(where +
               ": a text, but this audit reads token ids against --vocab-size (give --tokenizer to read "
               "texts, or write the line as {\"ids\": [...]} / {\"prompt_ids\": [...], \"response_ids\": [...]})");
  std::vector<std::uint32_t> ids;
  if (norm.any()) {
    std::string normed;
    check(normalize_text(text, norm, &normed), where);
    check(tok->encode(normed, &ids), where);
    return ids;
  }
  check(tok->encode(text, &ids), where);
  return ids;
}

// Set when a suspect or teacher line gave token ids instead of text.
bool g_ids_given = false;
// The vocabulary ids are read against: the named tokenizer's, 0 if none was named.
std::uint32_t g_id_vocab = 0;

// Texts waiting for the tokenizer: each one's ids go to *out. Tokenized on
// `threads` threads (0: one per core), each text by one thread into its own
// slot, so the ids do not depend on the thread count; the error of the first
// failing text (in input order) is the one reported.
struct PendingText {
  std::string text;
  std::string where;
  std::vector<std::uint32_t>* out;
};

void encode_all(std::vector<PendingText>& pending, const Tokenizer* tok, const Normalizers& norm, unsigned threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, pending.size() / 64)));
  std::vector<std::optional<Failure>> errors(pending.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < pending.size(); i = next++) {
      try {
        *pending[i].out = encode(tok, pending[i].text, pending[i].where, norm);
      } catch (const Failure& f) {
        errors[i] = f;
      }
      std::string().swap(pending[i].text);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& th : pool) th.join();
  for (const auto& e : errors)
    if (e) throw *e;
}

std::vector<AuditRecord> read_suspect(const std::string& path, const Tokenizer* tok, std::string* raw,
                                      const Normalizers& norm, unsigned threads) {
  *raw = read_text(path);
  const std::string& data = *raw;
  std::vector<AuditRecord> records;
  // Text fields wait for the tokenizer; the records are in place first, so
  // that the pointers into them stay valid.
  struct Texts {
    std::size_t record;
    std::optional<std::string> prompt;
    std::string response, where;
  };
  std::vector<Texts> texts;
  for_each_jsonl(data, path, [&](const nlohmann::json& j, std::size_t lineno) {
    const std::string where = path + ":" + std::to_string(lineno);
    IdRecord idr;
    if (read_id_record(j, where, g_id_vocab, &idr)) {
      g_ids_given = true;
      records.push_back(
          {idr.prompt_ids ? std::move(*idr.prompt_ids) : std::vector<std::uint32_t>{}, std::move(idr.ids)});
      return;
    }
    const nlohmann::json* response = string_field(j, "response", path, lineno);
    if (response == nullptr)
      fail_input(where + ": no \"response\" field (each line is {\"prompt\": ..., \"response\": ...})");
    const nlohmann::json* prompt = string_field(j, "prompt", path, lineno);
    texts.push_back({records.size(), prompt != nullptr ? std::optional(prompt->get<std::string>()) : std::nullopt,
                     response->get<std::string>(), where});
    records.emplace_back();
  });
  if (records.empty()) fail(Status(Code::empty_input, "'" + path + "' holds no suspect records"));
  std::vector<PendingText> pending;
  pending.reserve(2 * texts.size());
  for (Texts& t : texts) {
    if (t.prompt) pending.push_back({std::move(*t.prompt), t.where, &records[t.record].prompt});
    pending.push_back({std::move(t.response), t.where, &records[t.record].response});
  }
  encode_all(pending, tok, norm, threads);
  return records;
}

std::vector<std::vector<std::uint32_t>> read_teacher(const std::string& path, const Tokenizer* tok, std::string* raw,
                                                     const Normalizers& norm, unsigned threads) {
  std::vector<std::vector<std::uint32_t>> out;
  std::vector<std::pair<std::size_t, PendingText>> texts;  // (index in out, text)
  if (path.ends_with(".jsonl") || path.ends_with(".json")) {
    // JSONL lines of text, or of token ids ({"ids"} or {"response_ids"})
    *raw = read_text(path);
    for_each_jsonl(*raw, path, [&](const nlohmann::json& j, std::size_t lineno) {
      const std::string where = path + ":" + std::to_string(lineno);
      IdRecord idr;
      if (read_id_record(j, where, g_id_vocab, &idr)) {
        g_ids_given = true;
        out.push_back(std::move(idr.ids));
        return;
      }
      const nlohmann::json* text = string_field(j, "response", path, lineno);
      if (text == nullptr) text = string_field(j, "text", path, lineno);
      if (text == nullptr) fail_input(where + ": no \"response\", \"text\", \"ids\" or \"response_ids\" field");
      texts.push_back({out.size(), {text->get<std::string>(), where, nullptr}});
      out.emplace_back();
    });
    if (out.empty()) fail(Status(Code::empty_input, "'" + path + "' holds no teacher texts"));
  } else {
    std::vector<std::string> docs = read_documents(path, raw);
    if (docs.empty()) fail(Status(Code::empty_input, "'" + path + "' holds no teacher texts"));
    out.resize(docs.size());
    for (std::size_t i = 0; i < docs.size(); ++i)
      texts.push_back({i, {std::move(docs[i]), path + " (text " + std::to_string(i + 1) + ")", nullptr}});
  }
  std::vector<PendingText> pending;
  pending.reserve(texts.size());
  for (auto& [i, t] : texts) {
    t.out = &out[i];
    pending.push_back(std::move(t));
  }
  encode_all(pending, tok, norm, threads);
  return out;
}

ControlSeed parse_seed(const std::string& hex) {
  ControlSeed seed{};
  std::size_t len = 0;
  if (hex.size() != 2 * CONTROL_SEED_BYTES ||
      sodium_hex2bin(seed.data(), seed.size(), hex.c_str(), hex.size(), nullptr, &len, nullptr) != 0 ||
      len != CONTROL_SEED_BYTES)
    fail_usage("--control-seed must be " + std::to_string(2 * CONTROL_SEED_BYTES) + " hexadecimal digits");
  return seed;
}

// The record of an input: the hash and size of the bytes actually scored
// (read once), never of a second read of the path.
nlohmann::json data_json(const std::string& path, const std::string& data) {
  return {{"path", path}, {"sha256", sha256_hex(data)}, {"bytes", data.size()}};
}

nlohmann::json file_json(const std::string& path) {
  std::string hex;
  std::uint64_t size = 0;
  check(sha256_file_hex(path, &hex, &size), "cannot hash '" + path + "'");
  return {{"path", path}, {"sha256", hex}, {"bytes", size}};
}

// The numbers of an audit computed on a Dask cluster (run_on_cluster): the
// same as Audit gives on one machine (isotope/shard.hpp says why).
struct ClusterAudit {
  const Profile& profile;
  AuditRules rules;
  const ControlSeed& seed;
  const Tokenizer& tok;
};

void audit_on_cluster(const AuditOptions& o, const ClusterAudit& ca, const std::function<void(const std::string&)>& say,
                      nlohmann::json* inputs, AuditOutcome* outcome, std::vector<std::uint32_t>* sample_ids) {
  AuditResult* r = &outcome->result;
  TokenScores* sample_mask = &outcome->first_mask;
  const bool open = o.mode == "open";
  const Profile& profile = ca.profile;
  if (open && o.predictions.empty())
    fail_usage(
        "--scheduler with --mode open needs --predictions (the "
        "suspect's predictions, computed elsewhere)");
  if (!shard_sums_exact(profile))
    fail_usage(
        "--scheduler: a cluster audit adds up the partitions' sums of "
        "scores, which is exact only for schemes "
        "whose scores are whole numbers (kgw, synthid); audit the " +
        profile.scheme + " scheme on one machine");
  for (const std::string* in : {&o.suspect, &o.teacher, &o.predictions})
    if (*in == "-") fail_usage("--scheduler reads its inputs from files, not standard input");
  const nlohmann::json request = {{"scheduler", o.scheduler},
                                  {"mode", o.mode},
                                  {"key", o.key},
                                  {"suspect", o.suspect},
                                  {"teacher", o.teacher},
                                  {"predictions", o.predictions},
                                  {"tokenizer", ca.tok.path()},
                                  {"tokenizer_sha256", ca.tok.sha256_hex()},
                                  {"profile", profile_options_json(profile)},
                                  {"normalize", o.normalize},
                                  {"control", o.control},
                                  {"control_seed", to_hex(ca.seed)},
                                  {"dedup", ca.rules.dedup},
                                  {"prompt_exclusion", ca.rules.prompt_exclusion},
                                  {"curve_points", o.curve_points},
                                  {"id_vocab", g_id_vocab}};
  say("running the audit on the Dask cluster at " + o.scheduler);
  nlohmann::json res;
  // The inputs' digests (for the result and the report) are taken while the
  // cluster helper starts.
  run_on_cluster(
      "audit", request, [&](const nlohmann::json& j) { res = j; },
      [&] {
        if (!open) (*inputs)["suspect"] = file_json(o.suspect);
        if (!o.teacher.empty()) (*inputs)["teacher"] = file_json(o.teacher);
        if (open) (*inputs)["predictions"] = file_json(o.predictions);
      });
  try {
    DetectionResult d;
    d.tokens = res.at("tokens").get<std::uint64_t>();
    d.skipped_short = res.at("skipped_short").get<std::uint64_t>();
    d.skipped_duplicate = res.at("skipped_duplicate").get<std::uint64_t>();
    d.skipped_prompt = res.at("skipped_prompt").get<std::uint64_t>();
    d.skipped_filter = res.at("skipped_filter").get<std::uint64_t>();
    const auto scored = res.at("scored").get<std::uint64_t>();
    check(result_from_statistic(profile, res.at("statistic").get<double>(), scored, &d));
    r->detection = d;
    r->mode = open ? AuditMode::open : AuditMode::closed;
    r->records = res.at("records").get<std::uint64_t>();
    r->filter = !open && !o.teacher.empty();
    r->filter_windows = r->filter ? res.at("filter_windows").get<std::uint64_t>() : 0;
    r->rules = ca.rules;
    if (open) r->rules.prompt_exclusion = true;  // as Audit::open: no prompts in reading mode
    r->warnings = audit_warnings(r->mode, profile, scored);
    std::vector<double> lp, ps;
    for (const auto& s : res.at("control_statistics")) {
      DetectionResult cd;
      check(result_from_statistic(profile, s.get<double>(), scored, &cd));
      lp.push_back(cd.log10_p);
      ps.push_back(cd.p_value);
    }
    outcome->controls = control_summary(std::move(lp), ps);
    const auto& cv = res.at("curve");
    const auto ranks = cv.at("scored").get<std::vector<std::uint64_t>>();
    if (o.curve_points > 0) {
      check(curve_from_sums(profile, ranks, cv.at("statistic").get<std::vector<double>>(), &outcome->curve));
      for (const auto& row : cv.at("controls_statistic")) {
        Curve cc;
        check(curve_from_sums(profile, ranks, row.get<std::vector<double>>(), &cc));
        outcome->control_curves.push_back(cc.log10_p);
      }
    }
    *sample_ids = res.at("sample_ids").get<std::vector<std::uint32_t>>();
    sample_mask->clear();
    for (const auto& v : res.at("sample_mask")) sample_mask->push_back(v.is_null() ? std::nan("") : v.get<double>());
    g_ids_given = res.at("input_ids").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    throw Failure{EXIT_CLUSTER, std::string("the cluster helper's answer is incomplete: ") + e.what()};
  }
}

}  // namespace

std::vector<std::vector<std::uint32_t>> parse_predictions(const std::string& data, const std::string& file,
                                                          const std::vector<std::vector<std::uint32_t>>& teacher,
                                                          std::uint32_t vocab_size) {
  std::vector<std::vector<std::uint32_t>> preds;
  for_each_jsonl(data, file, [&](const nlohmann::json& j, std::size_t lineno) {
    const std::string where = file + ":" + std::to_string(lineno);
    auto it = j.find("predictions");
    if (it == j.end() || !it->is_array()) fail_input(where + ": no \"predictions\" array");
    const std::size_t r = preds.size();
    if (r >= teacher.size())
      fail_input(where + ": more prediction lines than teacher texts (" + std::to_string(teacher.size()) + ")");
    if (it->size() != teacher[r].size())
      fail_input(where + ": " + std::to_string(it->size()) + " predictions, but teacher text " + std::to_string(r + 1) +
                 " has " + std::to_string(teacher[r].size()) + " tokens (need one prediction per token)");
    std::vector<std::uint32_t> p;
    p.reserve(it->size());
    for (std::size_t i = 0; i < it->size(); ++i) {
      const nlohmann::json& v = (*it)[i];
      if (!v.is_number_unsigned())
        fail_input(where + ": entry " + std::to_string(i) + " is not a non-negative integer token id");
      const std::uint64_t id = v.get<std::uint64_t>();
      if (id >= vocab_size)
        fail(Status(Code::vocab_mismatch, where + ": entry " + std::to_string(i) + ": token id " + std::to_string(id) +
                                              " is not below the tokenizer's vocabulary size " +
                                              std::to_string(vocab_size)));
      p.push_back(static_cast<std::uint32_t>(id));
    }
    preds.push_back(std::move(p));
  });
  if (preds.size() != teacher.size())
    fail_input("'" + file + "' has " + std::to_string(preds.size()) + " prediction lines, but the teacher data hold " +
               std::to_string(teacher.size()) + " texts (need one line per teacher text, in order)");
  return preds;
}

std::vector<std::string> parse_account_list(const std::string& data, const std::string& file) {
  std::vector<std::string> ids;
  std::unordered_map<std::string, std::size_t> seen;
  std::size_t pos = 0, lineno = 0;
  while (pos < data.size()) {
    std::size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    std::string line = data.substr(pos, end - pos);
    pos = end + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = file + ":" + std::to_string(lineno);
    if (line.empty()) fail_input(where + ": empty line (one account identifier per line, no blank lines)");
    if (Status st = account_id_check(line); !st.ok()) fail_input(where + ": " + st.message());
    if (auto [it, fresh] = seen.emplace(line, lineno); !fresh)
      fail_input(where + ": account '" + term_safe(line) + "' is already listed on line " + std::to_string(it->second));
    ids.push_back(std::move(line));
  }
  if (ids.empty()) fail(Status(Code::empty_input, "'" + file + "' lists no account"));
  return ids;
}

nlohmann::json compute_audit(const AuditOptions& o, const ProgressFn& progress) {
  if (o.key.empty()) fail_usage("a key file is required (--key)");
  const Key key = load_key(o.key);
  return compute_audit(o, key, progress);
}

nlohmann::json compute_audit(const AuditOptions& o, const Key& key, const ProgressFn& progress,
                             std::vector<std::vector<std::uint32_t>>* predictions_out) {
  auto say = [&](const std::string& m) {
    if (progress) progress(m);
  };
  if (o.mode != "closed" && o.mode != "open") fail_usage("--mode must be 'closed' or 'open', not '" + o.mode + "'");
  const bool open = o.mode == "open";
  if (!(o.threshold > 0.0 && o.threshold < 1.0)) fail_usage("--threshold must lie in (0, 1)");
  if (o.control > 100000) fail_usage("--control: at most 100000 control keys");
  if (o.curve_points > 10000 || o.sample_tokens > 10000)
    fail_usage("curve_points and sample_tokens: at most 10000 each");
  if (!route_alpha_check(o.route_alpha).ok()) fail_usage("--route-alpha must lie in [0, 1)");
  if (!o.accounts.empty() && o.route_alpha == 0.0)
    fail_usage("--accounts needs a routing share --route-alpha above 0 (the provider's generation setting)");
  if (open) {
    if (o.teacher.empty()) fail_usage("--mode open needs --teacher (the watermarked texts to feed the suspect)");
    if (o.model.empty() == o.predictions.empty())
      fail_usage("--mode open needs exactly one of --model (a suspect n-gram model) and --predictions (PREDS.jsonl)");
    if (!o.suspect.empty()) fail_usage("--suspect is for the closed audit; the open audit reads --teacher");
    if (o.no_prompt_exclusion) fail_usage("--no-prompt-exclusion applies to the closed audit only");
  } else {
    if (o.suspect.empty()) fail_usage("the closed audit needs --suspect (the suspect's responses, JSONL)");
    if (!o.model.empty() || !o.predictions.empty()) fail_usage("--model and --predictions are for --mode open");
  }
  Profile profile = o.profile;
  check(profile.validate(), "invalid watermark profile");
  Normalizers norm;
  check(parse_normalizers(o.normalize, &norm), "--normalize");
  ControlSeed seed{};
  if (o.control_seed.empty()) {
    if (sodium_init() < 0) fail(Status(Code::crypto, "libsodium failed to initialise"));
    randombytes_buf(seed.data(), seed.size());
  } else {
    seed = parse_seed(o.control_seed);
  }

  // Token ids against --vocab-size: no tokenizer at all, so no text can be read.
  const bool ids_only = o.vocab_size > 0;
  if (ids_only) {
    if (!o.tokenizer.empty()) fail_usage("--vocab-size is for token ids without --tokenizer");
    if (!o.normalize.empty()) fail_usage("--normalize applies to texts; with --vocab-size the inputs are token ids");
    if (!o.model.empty())
      fail_usage(
          "--model needs the tokenizer the model was trained with (--tokenizer); with --vocab-size give "
          "--predictions");
  }
  const std::unique_ptr<Tokenizer> tok = ids_only ? nullptr : load_tokenizer(o.tokenizer);
  const std::uint32_t vocab = ids_only ? o.vocab_size : tok->vocab_size();
  g_ids_given = false;
  g_id_vocab = ids_only ? o.vocab_size : o.tokenizer.empty() ? 0 : tok->vocab_size();
  const AuditRules rules{.dedup = !o.no_dedup, .prompt_exclusion = !o.no_prompt_exclusion};
  nlohmann::json inputs = nlohmann::json::object();
  if (!ids_only) {
    inputs["tokenizer"] = file_json(tok->path());
    if (inputs["tokenizer"]["sha256"] != tok->sha256_hex())
      fail(Status(Code::io, "'" + tok->path() + "' changed while it was read"));
    if (o.tokenizer.empty()) inputs["tokenizer"]["path"] = BUNDLED_TOKENIZER_NAME;  // not this machine's path
  }
  std::vector<std::string> account_ids;
  if (!o.accounts.empty()) {
    if (!o.scheduler.empty()) fail_usage("--accounts: attribution runs on one machine, not with --scheduler");
    say("reading the candidate accounts from '" + o.accounts + "'");
    const std::string data = read_text(o.accounts);
    account_ids = parse_account_list(data, o.accounts);
    inputs["accounts"] = data_json(o.accounts, data);
  }
  std::vector<std::uint32_t> sample_ids;  // the tokens of the first record (the sample)
  const AuditRecipe recipe{.threshold = o.threshold,
                           .controls = o.control,
                           .control_seed = seed,
                           .route_alpha = o.route_alpha,
                           .accounts = account_ids,
                           .curve_points = o.curve_points,
                           .keep_first_mask = o.sample_tokens > 0,
                           .threads = o.threads};
  AuditOutcome outcome;  // with the first record's scores under the provider's key (the sample)
  if (!o.scheduler.empty()) {
    if (ids_only) fail_usage("--scheduler reads inputs with a tokenizer: give --tokenizer instead of --vocab-size");
    if (o.route_alpha > 0.0) fail_usage("--route-alpha: a routed audit runs on one machine, not with --scheduler");
    ClusterAudit ca{.profile = profile, .rules = rules, .seed = seed, .tok = *tok};
    audit_on_cluster(o, ca, say, &inputs, &outcome, &sample_ids);
  } else {
    std::unique_ptr<Audit> audit;
    std::string raw;  // the bytes of the input being read
    if (!open) {
      say("reading the suspect's responses from '" + o.suspect + "'");
      std::vector<AuditRecord> records = read_suspect(o.suspect, tok.get(), &raw, norm, o.threads);
      inputs["suspect"] = data_json(o.suspect, raw);
      sample_ids = records.front().response;
      std::vector<std::vector<std::uint32_t>> teacher;
      if (!o.teacher.empty()) {
        say("reading the teacher data for the filter from '" + o.teacher + "'");
        teacher = read_teacher(o.teacher, tok.get(), &raw, norm, o.threads);
        inputs["teacher"] = data_json(o.teacher, raw);
      }
      check(Audit::closed(profile, std::move(records), o.teacher.empty() ? nullptr : &teacher, rules, &audit));
    } else {
      say("reading the teacher texts from '" + o.teacher + "'");
      std::vector<std::vector<std::uint32_t>> teacher = read_teacher(o.teacher, tok.get(), &raw, norm, o.threads);
      inputs["teacher"] = data_json(o.teacher, raw);
      sample_ids = teacher.front();
      if (!o.model.empty()) {
        auto model = load_model(o.model, *tok);
        inputs["model"] = file_json(o.model);
        std::uint64_t total = 0;
        for (const auto& t : teacher) total += t.size();
        say("feeding " + std::to_string(total) + " teacher tokens to the suspect model (teacher forcing)");
        std::size_t last = 0;
        check(Audit::open_with_model(profile, std::move(teacher), *model, rules, &audit,
                                     [&](std::size_t done, std::size_t all) {
                                       if (done * 10 / all != last) {
                                         last = done * 10 / all;
                                         say("  " + std::to_string(done) + " of " + std::to_string(all) + " texts");
                                       }
                                     }));
      } else {
        say("reading the suspect's predictions from '" + o.predictions + "'");
        const std::string data = read_text(o.predictions);
        auto preds = parse_predictions(data, o.predictions, teacher, vocab);
        inputs["predictions"] = data_json(o.predictions, data);
        check(Audit::open(profile, std::move(teacher), std::move(preds), vocab, rules, &audit));
      }
    }

    if (predictions_out != nullptr) *predictions_out = audit->predictions();
    check(audit_run(*audit, key, recipe, &outcome,
                    [&](AuditStage st) {
                      switch (st) {
                        case AuditStage::score: say("scoring under the provider's key"); break;
                        case AuditStage::controls:
                          say("scoring under " + std::to_string(o.control) + " random control keys");
                          break;
                        case AuditStage::accounts:
                          say("testing " + std::to_string(account_ids.size()) + " candidate accounts");
                          break;
                      }
                    }));
  }

  // The library's result, and what describes the inputs.
  nlohmann::json out = detail::audit_result_json(outcome, profile, key.commitment_hex(), recipe);
  out["tokenizer_sha256"] = ids_only ? nlohmann::json(nullptr) : nlohmann::json(tok->sha256_hex());
  if (norm.any()) out["normalize"] = norm.names();
  out["inputs"] = inputs;
  if (g_ids_given) out["input_ids"] = true;
  if (ids_only) out["vocab_size"] = o.vocab_size;
  if (o.sample_tokens > 0 && !ids_only) {  // the sample shows text: it needs the tokenizer
    // Closed: the first response. Open: the first teacher text, each token
    // marked by the outcome of the suspect's prediction at its position.
    out["sample"] = sample_json(*tok, sample_ids, outcome.first_mask, profile, o.sample_tokens,
                                open ? "teacher text 1" : "suspect record 1");
  }
  AuditOptions recorded = o;
  recorded.control_seed = to_hex(seed);
  out["options"] = recorded;
  return out;
}

}  // namespace isotope::cli
