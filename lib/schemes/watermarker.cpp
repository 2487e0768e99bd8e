// Watermarker: the public face of every scheme's generation hook.
#include <algorithm>
#include <limits>

#include "isotope/account.hpp"
#include "isotope/scheme.hpp"
#include "isotope/watermark.hpp"
#include "watermark/sampler_internal.hpp"

namespace isotope {

struct Watermarker::Impl {
  Profile profile;
  std::uint32_t vocab = 0;
  std::unique_ptr<Generator> gen;
  std::unique_ptr<TupleScorer> scorer;  // green_mask
  // Attribution: the route, and the account key's generator and scorer
  // (null without an account).
  std::unique_ptr<Router> router;
  std::unique_ptr<Generator> account_gen;
  std::unique_ptr<TupleScorer> account_scorer;
  // Nested (Scheme::nests_accounts): a routed position's marked tokens are
  // the master key's green ones that account_scorer also scores 1.
  bool nested = false;
  std::vector<std::uint32_t> all;
  std::vector<double> vals;

  // True if the position after `context` is routed to the account key.
  bool to_account(std::span<const std::uint32_t> context) const {
    const std::size_t h = profile.context_width;
    return router != nullptr && context.size() >= h && router->to_account(context.subspan(context.size() - h));
  }
  Generator& gen_for(std::span<const std::uint32_t> context) { return to_account(context) ? *account_gen : *gen; }
};

Watermarker::Watermarker() = default;
Watermarker::~Watermarker() = default;

Status Watermarker::create(const Key& key, const Profile& profile, std::uint32_t vocab_size,
                           std::unique_ptr<Watermarker>* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  if (vocab_size == 0 || vocab_size > static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max()))
    return {Code::invalid_argument, "vocabulary size must be between 1 and 2^31-1"};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  const Scheme* s = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &s));
  ISOTOPE_RETURN_IF_ERROR(check_key_kind(key, s->engine_key_ints(profile), profile.scheme));
  std::unique_ptr<Watermarker> w(new Watermarker());
  w->impl_ = std::make_unique<Impl>();
  ISOTOPE_RETURN_IF_ERROR(s->make_generator(key, profile, vocab_size, &w->impl_->gen));
  ISOTOPE_RETURN_IF_ERROR(s->make_scorer(key, profile, &w->impl_->scorer));
  w->impl_->profile = profile;
  w->impl_->vocab = vocab_size;
  *out = std::move(w);
  return Status::OK();
}

Status Watermarker::create_for_account(const Key& master, std::string_view account, double alpha,
                                       const Profile& profile, std::uint32_t vocab_size,
                                       std::unique_ptr<Watermarker>* out) {
  if (out == nullptr) return {Code::invalid_argument, "output pointer is null"};
  ISOTOPE_RETURN_IF_ERROR(account_id_check(account));
  ISOTOPE_RETURN_IF_ERROR(route_alpha_check(alpha));
  std::unique_ptr<Watermarker> w;
  ISOTOPE_RETURN_IF_ERROR(create(master, profile, vocab_size, &w));
  if (alpha > 0.0) {
    const Scheme* s = nullptr;
    ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &s));
    Key k;
    ISOTOPE_RETURN_IF_ERROR(account_key(master, account, &k));
    ISOTOPE_RETURN_IF_ERROR(Router::create(master, alpha, &w->impl_->router));
    ISOTOPE_RETURN_IF_ERROR(s->make_account_generator(master, k, profile, vocab_size, &w->impl_->account_gen));
    Profile ap;
    ISOTOPE_RETURN_IF_ERROR(s->account_profile(profile, &ap));
    ISOTOPE_RETURN_IF_ERROR(s->make_scorer(k, ap, &w->impl_->account_scorer));
    w->impl_->nested = s->nests_accounts(profile);
  }
  *out = std::move(w);
  return Status::OK();
}

const Profile& Watermarker::profile() const noexcept { return impl_->profile; }
std::uint32_t Watermarker::vocab_size() const noexcept { return impl_->vocab; }

// The ids of the context window (the last h, which seed the keyed values)
// must lie in the vocabulary, as candidate ids must.
Status Watermarker::check_context(std::span<const std::uint32_t> context) const {
  const std::size_t h = std::min<std::size_t>(impl_->profile.context_width, context.size());
  for (std::size_t i = context.size() - h; i < context.size(); ++i)
    if (context[i] >= impl_->vocab)
      return {Code::vocab_mismatch, "context token id " + std::to_string(context[i]) + " (position " +
                                        std::to_string(i) + ") is outside the vocabulary of " +
                                        std::to_string(impl_->vocab)};
  return Status::OK();
}

static Status check_vocab(std::size_t got, std::uint32_t want) {
  if (got != want)
    return {Code::vocab_mismatch, "logits array has " + std::to_string(got) +
                                      " entries, the watermark was set up for a vocabulary of " + std::to_string(want)};
  return Status::OK();
}

Status Watermarker::apply(std::span<const std::uint32_t> context, std::span<float> logits,
                          const SamplingParams& params) {
  ISOTOPE_RETURN_IF_ERROR(check_vocab(logits.size(), impl_->vocab));
  ISOTOPE_RETURN_IF_ERROR(check_context(context));
  return impl_->gen_for(context).apply(context, logits, params);
}

Status Watermarker::apply_candidates(std::span<const std::uint32_t> context, std::span<TokenLogit> cand,
                                     const SamplingParams& params) {
  const std::uint32_t V = impl_->vocab;
  for (const TokenLogit& c : cand)
    if (c.id < 0 || static_cast<std::uint32_t>(c.id) >= V)
      return {Code::vocab_mismatch, "candidate token id " + std::to_string(c.id) + " is outside the vocabulary"};
  ISOTOPE_RETURN_IF_ERROR(check_context(context));
  return impl_->gen_for(context).apply_candidates(context, cand, params);
}

Status Watermarker::sample(std::span<const std::uint32_t> context, std::span<const float> logits,
                           const SamplingParams& params, Rng& rng, std::uint32_t* token) {
  if (token == nullptr) return {Code::invalid_argument, "token output is null"};
  ISOTOPE_RETURN_IF_ERROR(check_vocab(logits.size(), impl_->vocab));
  ISOTOPE_RETURN_IF_ERROR(check_context(context));
  Status st = impl_->gen_for(context).sample(context, logits, params, rng, token);
  return st.ok() ? st : detail::explain_logits(logits, std::move(st), token);
}

Status Watermarker::green_mask(std::span<const std::uint32_t> context, std::span<std::uint8_t> mask) {
  ISOTOPE_RETURN_IF_ERROR(check_vocab(mask.size(), impl_->vocab));
  if (impl_->profile.scheme != SCHEME_KGW) return {Code::invalid_argument, "green masks exist only for the kgw scheme"};
  const std::size_t h = impl_->profile.context_width;
  if (context.size() < h) return {Code::invalid_argument, "context is shorter than the context width"};
  auto& all = impl_->all;
  if (all.size() != mask.size()) {
    all.resize(mask.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint32_t>(i);
  }
  impl_->vals.resize(mask.size());
  const auto window = context.subspan(context.size() - h);
  const bool routed = impl_->to_account(context);
  TupleScorer& scorer = routed && !impl_->nested ? *impl_->account_scorer : *impl_->scorer;
  ISOTOPE_RETURN_IF_ERROR(scorer.values(window, all, impl_->vals));
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = impl_->vals[i] != 0.0 ? 1 : 0;
  if (routed && impl_->nested) {  // the account's half of the master green list
    ISOTOPE_RETURN_IF_ERROR(impl_->account_scorer->values(window, all, impl_->vals));
    for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = mask[i] != 0 && impl_->vals[i] != 0.0 ? 1 : 0;
  }
  return Status::OK();
}

}  // namespace isotope
