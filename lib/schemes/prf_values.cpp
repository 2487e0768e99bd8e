// prf_values(): the per-token values any scheme tests, through its TupleScorer.
#include <string>
#include <vector>

#include "isotope/scheme.hpp"

namespace isotope {

Status prf_values(const Key& key, const Profile& profile, std::span<const std::uint32_t> context,
                  std::span<const std::uint32_t> tokens, std::vector<double>* out, ValueShape* shape) {
  if (out == nullptr || shape == nullptr) return {Code::invalid_argument, "output pointer is null"};
  ISOTOPE_RETURN_IF_ERROR(profile.validate());
  const Scheme* s = nullptr;
  ISOTOPE_RETURN_IF_ERROR(scheme_of(profile, &s));
  ISOTOPE_RETURN_IF_ERROR(check_key_kind(key, s->engine_key_ints(profile), profile.scheme));
  const std::size_t h = profile.context_width;
  std::vector<std::uint32_t> window(h);
  if (context.size() >= h) {
    window.assign(context.end() - static_cast<std::ptrdiff_t>(h), context.end());
  } else {
    const auto pad = s->pad_id(profile);
    if (!pad)
      return {Code::invalid_argument, "the context holds " + std::to_string(context.size()) + " ids; the " +
                                          profile.scheme + " scheme needs at least h = " + std::to_string(h)};
    const std::size_t missing = h - context.size();
    for (std::size_t i = 0; i < h; ++i) window[i] = i < missing ? *pad : context[i - missing];
  }
  std::unique_ptr<TupleScorer> scorer;
  ISOTOPE_RETURN_IF_ERROR(s->make_scorer(key, profile, &scorer));
  *shape = scorer->value_shape();
  out->assign(tokens.size() * shape->per_token, 0.0);
  return scorer->values(window, tokens, *out);
}

}  // namespace isotope
