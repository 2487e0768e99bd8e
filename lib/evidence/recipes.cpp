// The detect and audit recipes and the JSON of their results
// (isotope/recipes.hpp).
#include "isotope/recipes.hpp"

#include <algorithm>
#include <cmath>

#include "evidence/result_json.hpp"
#include "isotope/account.hpp"
#include "isotope/io.hpp"
#include "isotope/scheme.hpp"

namespace isotope {

namespace {

bool threshold_ok(double t) { return t > 0.0 && t < 1.0; }

// Whether results of this profile report green counts (Scheme::green_rate).
bool green_list(const Profile& p) {
  const Scheme* sc = find_scheme(p.scheme);
  return sc != nullptr && sc->green_rate(p).has_value();
}

// How the control keys of an audit are derived, in words (audit_control_key).
constexpr const char* AUDIT_CONTROL_DERIVATION =
    "BLAKE2b-256 keyed with the seed over \"isotope/v1/audit-control-key\" || uint64le(i)";

// The "scan" member: the corrected p-value, the best window and its own
// result; with a tokenizer, the window's text when it is whole characters.
Status scan_json(const ScanResult& sr, const Profile& profile, double threshold, const Tokenizer* tok,
                 std::span<const std::uint32_t> ids, nlohmann::json* out) {
  const DetectionResult& w = sr.window;
  nlohmann::json j = {
      {"log10_p", sr.log10_p},
      {"p_value", sr.p_value},
      {"watermarked", w.scored > 0 && significant(sr.log10_p, threshold)},
      {"start", sr.start},
      {"end", sr.end},
      {"windows", sr.windows},
      {"min_length", sr.min_length},
      {"correction", "bonferroni"},
      {"window",
       {{"tokens", w.tokens},
        {"scored", w.scored},
        {"statistic", w.statistic},
        {"trials", w.trials},
        {"log10_p", w.log10_p},
        {"skipped",
         {{"short_context", w.skipped_short}, {"duplicate", w.skipped_duplicate}, {"prompt", w.skipped_prompt}}}}}};
  if (green_list(profile)) j["window"]["green"] = w.green;
  if (tok != nullptr && sr.end > sr.start && sr.end <= ids.size()) {
    std::string text;
    if (Status st = tok->decode(ids.subspan(sr.start, sr.end - sr.start), &text); !st.ok()) return st;
    // A window may begin inside a character of byte-level pieces: keep valid UTF-8 only.
    if (is_valid_utf8(text)) j["text"] = text;
  }
  *out = std::move(j);
  return {};
}

// One fresh scorer over `ids`, the prompt's windows excluded.
Status score_once(const Key& key, const Profile& profile, const ScoreRules& rules, std::span<const std::uint32_t> ids,
                  const WindowSet* exclude, DetectionResult* result, TokenScores* mask) {
  std::unique_ptr<Scorer> s;
  if (Status st = Scorer::create(key, profile, &s, rules); !st.ok()) return st;
  if (Status st = s->add(ids, exclude, nullptr, mask); !st.ok()) return st;
  *result = s->result();
  return {};
}

}  // namespace

namespace detail {

nlohmann::json param_json(const Profile& p, const std::string& name, double v) {
  if (const Scheme* sc = find_scheme(p.scheme); sc != nullptr)
    for (const ParamSpec& ps : sc->params())
      if (name == ps.name && ps.integer && v == std::floor(v) && std::fabs(v) < 9e15)
        return static_cast<std::int64_t>(v);
  return v;
}

nlohmann::json profile_json(const Profile& p) {
  nlohmann::json j = {{"scheme", p.scheme},
                      {"version", p.version},
                      {"context_width", p.context_width},
                      {"prf", p.prf},
                      {"name", p.name()}};
  for (const auto& [k, v] : p.params) j[k] = param_json(p, k, v);
  return j;
}

nlohmann::json detection_json(const DetectionResult& r, const Profile& p, double threshold, bool dedup,
                              bool prompt_exclusion) {
  const Scheme* sc = find_scheme(p.scheme);
  const bool integer_statistic = sc != nullptr && sc->integer_scores();
  nlohmann::json j = {{"tokens", r.tokens},
                      {"scored", r.scored},
                      {"scheme", r.scheme},
                      {"statistic", integer_statistic ? nlohmann::json(static_cast<std::int64_t>(r.statistic))
                                                      : nlohmann::json(r.statistic)},
                      {"trials", r.trials},
                      {"mean_score", r.mean_score},
                      {"null_mean", r.null_mean},
                      {"z", r.z},
                      {"log10_p", r.log10_p},
                      {"p_value", r.p_value},
                      {"threshold", threshold},
                      {"watermarked", is_watermarked(r, threshold)},
                      {"skipped",
                       {{"short_context", r.skipped_short},
                        {"duplicate", r.skipped_duplicate},
                        {"prompt", r.skipped_prompt},
                        {"filter", r.skipped_filter}}},
                      {"rules", {{"dedup", dedup}, {"prompt_exclusion", prompt_exclusion}}},
                      {"profile", detail::profile_json(p)}};
  if (green_list(p)) {
    j["green"] = r.green;
    j["green_fraction"] = r.green_fraction;
    j["gamma_effective"] = r.gamma;
  }
  return j;
}

nlohmann::json mask_json(const TokenScores& scores) {
  nlohmann::json a = nlohmann::json::array();
  for (double v : scores) {
    if (std::isnan(v))
      a.push_back(-1);
    else if (v == std::floor(v) && std::fabs(v) < 1e15)
      a.push_back(static_cast<std::int64_t>(v));
    else
      a.push_back(v);
  }
  return a;
}

Status sample_json(const Tokenizer& tok, std::span<const std::uint32_t> ids, const TokenScores& mask,
                   const Profile& profile, std::uint32_t max_tokens, nlohmann::json* out) {
  // The mean score of one tuple under H0 (trials of one tuple times the mean of a trial).
  DetectionResult one;
  if (Status st = result_from_statistic(profile, 0.0, 1, &one); !st.ok()) return st;
  const double per_tuple_mean = static_cast<double>(one.trials) * one.null_mean;
  nlohmann::json a = nlohmann::json::array();
  const std::size_t n = std::min<std::size_t>({ids.size(), mask.size(), max_tokens});
  std::string prev;
  for (std::size_t i = 0; i < n; ++i) {
    std::string cur;
    if (Status st = tok.decode(ids.first(i + 1), &cur); !st.ok()) return st;
    std::string piece;
    if (cur.size() >= prev.size() && cur.compare(0, prev.size(), prev) == 0) {
      piece = cur.substr(prev.size());
    } else if (Status st = tok.decode(ids.subspan(i, 1), &piece); !st.ok()) {
      return st;
    }
    prev = std::move(cur);
    // Pieces must stay valid UTF-8 on their own.
    if (!is_valid_utf8(piece)) piece = "\xEF\xBF\xBD";
    const double v = mask[i];
    const int green = std::isnan(v) ? -1 : (v > per_tuple_mean ? 1 : 0);
    if (green_list(profile))
      a.push_back({{"text", piece}, {"green", green}});
    else
      a.push_back(
          {{"text", piece}, {"green", green}, {"score", std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v)}});
  }
  *out = std::move(a);
  return {};
}

Status detect_result_json(const DetectOutcome& o, const Profile& profile, const DetectRecipe& recipe,
                          const Tokenizer* tok, std::span<const std::uint32_t> ids, nlohmann::json* out) {
  if (recipe.evidence && tok == nullptr)
    return Status(Code::invalid_argument, "the sample of an evidence result needs the tokenizer");
  nlohmann::json j = detection_json(o.result, profile, recipe.threshold, recipe.rules.dedup, o.prompt_exclusion);
  if (recipe.mask && !recipe.evidence) j["mask"] = detail::mask_json(o.mask);
  if (o.scan) {
    nlohmann::json s;
    if (Status st = scan_json(*o.scan, profile, recipe.threshold, tok, ids, &s); !st.ok()) return st;
    j["scan"] = std::move(s);
  }
  if (recipe.evidence) {
    j["curve"] = {{"scored", o.curve.scored}, {"log10_p", o.curve.log10_p}, {"controls_log10_p", o.control_curves}};
    j["controls"] = {{"count", recipe.controls}, {"log10_p", o.control_log10_p}};
    nlohmann::json sample;
    if (Status st = detail::sample_json(*tok, ids, o.mask, profile, recipe.sample_tokens, &sample); !st.ok()) return st;
    j["sample"] = std::move(sample);
  }
  *out = std::move(j);
  return {};
}

nlohmann::json audit_result_json(const AuditOutcome& o, const Profile& profile, const std::string& key_commitment_hex,
                                 const AuditRecipe& recipe) {
  const AuditResult& r = o.result;
  const bool open = r.mode == AuditMode::open;
  nlohmann::json out = {{"type", "isotope-audit"},
                        {"format_version", 1},
                        {"tool_version", version_string()},
                        {"mode", audit_mode_name(r.mode)}};
  out.update(detail::detection_json(r.detection, profile, recipe.threshold, r.rules.dedup,
                                    open ? false : r.rules.prompt_exclusion));
  out["rules"]["filter"] = r.filter;
  out["valid"] = r.valid();
  if (!r.warnings.empty()) out["warnings"] = r.warnings;
  out["flagged"] = r.valid() && is_watermarked(r.detection, recipe.threshold);
  out["records"] = r.records;
  out["filter"] = {{"enabled", r.filter}, {"teacher_windows", r.filter_windows}};
  if (recipe.route_alpha > 0.0) {
    out["route_alpha"] = recipe.route_alpha;
    out["account_mark"] = account_mark_name(profile);
    out["routed_to_accounts"] = r.routed_to_accounts;
  }
  if (!recipe.accounts.empty()) out.update(attribution_json(o.attribution));
  out["key_commitment"] = key_commitment_hex;
  out["control"] = {
      {"keys", recipe.controls},       {"seed", to_hex(recipe.control_seed)}, {"derivation", AUDIT_CONTROL_DERIVATION},
      {"log10_p", o.controls.log10_p}, {"below_0_05", o.controls.below_0_05}, {"ks_p", o.controls.ks_p}};
  if (recipe.curve_points > 0)
    out["curve"] = {{"scored", o.curve.scored}, {"log10_p", o.curve.log10_p}, {"controls_log10_p", o.control_curves}};
  return out;
}

}  // namespace detail

Status detect_run(const Key& key, const Profile& profile, std::span<const std::uint32_t> ids,
                  const std::vector<std::uint32_t>* prompt_ids, const DetectRecipe& recipe, DetectOutcome* out) {
  if (out == nullptr) return Status(Code::invalid_argument, "detect_run: null output");
  if (!threshold_ok(recipe.threshold)) return Status(Code::invalid_argument, "the threshold must lie in (0, 1)");
  if (recipe.evidence && (recipe.controls > 1000 || recipe.curve_points > 10000 || recipe.sample_tokens > 10000))
    return Status(Code::invalid_argument, "at most 1000 control keys, 10000 curve points and 10000 sample tokens");
  if (Status st = profile.validate(); !st.ok()) return st;
  DetectOutcome o;
  WindowSet prompt_windows(profile.context_width);
  if (prompt_ids != nullptr) prompt_windows.add_windows_of(*prompt_ids);
  const WindowSet* exclude = prompt_ids != nullptr ? &prompt_windows : nullptr;
  o.prompt_exclusion = prompt_ids != nullptr;
  const bool want_mask = recipe.mask || recipe.evidence;
  if (Status st = score_once(key, profile, recipe.rules, ids, exclude, &o.result, want_mask ? &o.mask : nullptr);
      !st.ok())
    return st;
  if (recipe.scan_min_length) {
    ScanResult sr;
    if (Status st =
            scan_ids(key, profile, ids, exclude, {.min_length = *recipe.scan_min_length, .rules = recipe.rules}, &sr);
        !st.ok())
      return st;
    o.scan = sr;
  }
  if (recipe.evidence) {
    o.curve = score_curve(o.mask, profile, recipe.curve_points);
    const auto commitment = key.commitment();
    const std::size_t engine_ints = key.engine_ints().size();
    for (std::uint32_t i = 0; i < recipe.controls; ++i) {
      Key ck;
      if (Status st = control_key(commitment, i, &ck, engine_ints); !st.ok()) return st;
      DetectionResult cr;
      TokenScores cmask;
      if (Status st = score_once(ck, profile, recipe.rules, ids, exclude, &cr, &cmask); !st.ok()) return st;
      o.control_log10_p.push_back(cr.log10_p);
      o.control_curves.push_back(score_curve(cmask, profile, recipe.curve_points).log10_p);
    }
  }
  *out = std::move(o);
  return {};
}

Status detect_result_json(const DetectOutcome& outcome, const Profile& profile, const DetectRecipe& recipe,
                          const Tokenizer* tok, std::span<const std::uint32_t> ids, std::string* out) {
  if (out == nullptr) return Status(Code::invalid_argument, "detect_result_json: null output");
  nlohmann::json j;
  if (Status st = detail::detect_result_json(outcome, profile, recipe, tok, ids, &j); !st.ok()) return st;
  *out = j.dump();
  return {};
}

Status audit_run(Audit& audit, const Key& key, const AuditRecipe& recipe, AuditOutcome* out,
                 const std::function<void(AuditStage)>& stage) {
  if (out == nullptr) return Status(Code::invalid_argument, "audit_run: null output");
  if (!threshold_ok(recipe.threshold)) return Status(Code::invalid_argument, "the threshold must lie in (0, 1)");
  if (recipe.controls > 100000) return Status(Code::invalid_argument, "at most 100000 control keys");
  if (recipe.curve_points > 10000) return Status(Code::invalid_argument, "at most 10000 curve points");
  if (!recipe.accounts.empty() && recipe.route_alpha == 0.0)
    return Status(Code::invalid_argument, "candidate accounts need a routing share above 0");
  if (Status st = audit.set_route_alpha(recipe.route_alpha); !st.ok()) return st;
  const auto say = [&](AuditStage s) {
    if (stage) stage(s);
  };
  AuditOutcome o;
  say(AuditStage::score);
  const bool want_masks = recipe.curve_points > 0 || recipe.keep_first_mask;
  std::vector<TokenScores> masks;
  if (Status st = audit.run(key, &o.result, 0, want_masks ? &masks : nullptr); !st.ok()) return st;
  if (recipe.controls > 0) {
    say(AuditStage::controls);
    // Each control key's curve from its tuples' scores in scoring order (the
    // scored entries of its masks, record after record), on the scoring threads.
    std::vector<std::vector<double>> curves(recipe.curve_points > 0 ? recipe.controls : 0);
    Audit::ControlScoresFn on_scores;
    if (recipe.curve_points > 0)
      on_scores = [&](std::uint32_t i, const std::vector<double>& scores) {
        curves[i] = score_curve(scores, audit.profile(), recipe.curve_points).log10_p;
      };
    if (Status st = audit.control(recipe.control_seed, recipe.controls, &o.controls, {}, {}, recipe.threads, on_scores);
        !st.ok())
      return st;
    o.control_curves = std::move(curves);
  }
  if (recipe.curve_points > 0) {
    // The records' masks one after the other, in scoring order.
    std::size_t n = 0;
    for (const TokenScores& m : masks) n += m.size();
    TokenScores all;
    all.reserve(n);
    for (const TokenScores& m : masks) all.insert(all.end(), m.begin(), m.end());
    o.curve = score_curve(all, audit.profile(), recipe.curve_points);
  }
  if (recipe.keep_first_mask && !masks.empty()) o.first_mask = std::move(masks.front());
  if (!recipe.accounts.empty()) {
    say(AuditStage::accounts);
    if (Status st = audit.attribute(key, recipe.accounts, recipe.threshold, &o.attribution, recipe.threads); !st.ok())
      return st;
  }
  *out = std::move(o);
  return {};
}

Status audit_result_json(const AuditOutcome& outcome, const Profile& profile, const std::string& key_commitment_hex,
                         const AuditRecipe& recipe, std::string* out) {
  if (out == nullptr) return Status(Code::invalid_argument, "audit_result_json: null output");
  *out = detail::audit_result_json(outcome, profile, key_commitment_hex, recipe).dump();
  return {};
}

std::string profile_json(const Profile& profile) { return detail::profile_json(profile).dump(); }

Status sample_json(const Tokenizer& tok, std::span<const std::uint32_t> ids, const TokenScores& mask,
                   const Profile& profile, std::uint32_t max_tokens, std::string* out) {
  if (out == nullptr) return Status(Code::invalid_argument, "sample_json: null output");
  nlohmann::json j;
  if (Status st = detail::sample_json(tok, ids, mask, profile, max_tokens, &j); !st.ok()) return st;
  *out = j.dump();
  return {};
}

}  // namespace isotope
