// The C API: thin wrappers that turn Status into codes and never let an
// exception out.
#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <new>
#include <string>
#include <vector>

#include "isotope/detect.hpp"
#include "isotope/io.hpp"
#include "isotope/isotope.h"
#include "isotope/key.hpp"
#include "isotope/watermark.hpp"

struct isotope_key {
  isotope::Key key;
};
struct isotope_rng {
  isotope::Rng rng;
};
struct isotope_watermark {
  std::unique_ptr<isotope::Watermarker> wm;
  std::vector<std::uint32_t> ctx;
};
struct isotope_profile {
  isotope::Profile profile;
};
struct isotope_detector {
  isotope::Profile profile;
  std::unique_ptr<isotope::Scorer> scorer;
  std::vector<std::uint32_t> ids, prompt;
};

namespace {

thread_local std::string g_last_error;

int fail(const isotope::Status& st) {
  g_last_error = st.message();
  return static_cast<int>(st.code());
}
int fail(int code, const char* msg) {
  g_last_error = msg;
  return code;
}
int finish(const isotope::Status& st) { return st.ok() ? ISOTOPE_OK : fail(st); }

template <typename F>
int guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return fail(ISOTOPE_ERR_OUT_OF_MEMORY, "out of memory");
  } catch (...) {
    return fail(ISOTOPE_ERR_INTERNAL, "internal error");
  }
}

isotope::Profile to_profile(const isotope_params* p) {
  isotope::Profile prof;
  if (p != nullptr) {
    prof.params["gamma"] = p->gamma;
    prof.params["delta"] = p->delta;
    prof.context_width = p->context_width;
  }
  return prof;
}

// Distortion-free schemes need the whole context (repeated windows); KGW only the window.
size_t context_skip(const isotope::Watermarker& wm, size_t n_context) {
  if (wm.profile().scheme != isotope::SCHEME_KGW) return 0;
  const size_t h = wm.profile().context_width;
  return n_context > h ? n_context - h : 0;
}

isotope::SamplingParams to_sampling(const isotope_sampling_params* p) {
  isotope::SamplingParams s;
  if (p != nullptr) {
    s.temperature = p->temperature;
    s.top_k = p->top_k;
    s.top_p = p->top_p;
    s.greedy = p->greedy != 0;
  }
  return s;
}

// Copies int32 ids into uint32, refusing negative ones.
bool to_ids(const int32_t* in, size_t n, std::vector<std::uint32_t>* out) {
  out->resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (in[i] < 0) return false;
    (*out)[i] = static_cast<std::uint32_t>(in[i]);
  }
  return true;
}

}  // namespace

extern "C" {

const char* isotope_error_name(int code) {
  if (code < 0 || code > ISOTOPE_ERR_PARSE) return "unknown";
  return isotope::code_name(static_cast<isotope::Code>(code));
}
const char* isotope_last_error_message(void) { return g_last_error.c_str(); }
const char* isotope_version(void) { return isotope::version_string(); }

int isotope_key_generate(isotope_key** out) {
  return guarded([&]() -> int {
    if (out == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "out is NULL");
    auto k = std::make_unique<isotope_key>();
    if (auto st = isotope::Key::generate(&k->key); !st.ok()) return fail(st);
    *out = k.release();
    return ISOTOPE_OK;
  });
}

int isotope_key_from_bytes(const uint8_t* bytes, size_t len, isotope_key** out) {
  return guarded([&]() -> int {
    if (out == nullptr || bytes == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    auto k = std::make_unique<isotope_key>();
    if (auto st = isotope::Key::from_bytes(bytes, len, &k->key); !st.ok()) return fail(st);
    *out = k.release();
    return ISOTOPE_OK;
  });
}

int isotope_key_from_engine_ints(const uint64_t* ints, size_t n, isotope_key** out) {
  return guarded([&]() -> int {
    if (out == nullptr || (ints == nullptr && n > 0)) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    auto k = std::make_unique<isotope_key>();
    if (auto st = isotope::Key::from_engine_ints({ints, n}, &k->key); !st.ok()) return fail(st);
    *out = k.release();
    return ISOTOPE_OK;
  });
}

int isotope_prf_values(const isotope_key* key, const isotope_profile* profile, const uint32_t* context,
                       size_t n_context, const uint32_t* tokens, size_t n_tokens, double* out, size_t out_len,
                       size_t* per_token) {
  return guarded([&]() -> int {
    if (key == nullptr || profile == nullptr || per_token == nullptr || (context == nullptr && n_context > 0) ||
        (tokens == nullptr && n_tokens > 0) || (out == nullptr && out_len > 0))
      return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    std::vector<double> vals;
    isotope::ValueShape shape;
    if (auto st =
            isotope::prf_values(key->key, profile->profile, {context, n_context}, {tokens, n_tokens}, &vals, &shape);
        !st.ok())
      return fail(st);
    *per_token = shape.per_token;
    if (out_len < vals.size())
      return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "out holds fewer than n_tokens * per_token values");
    std::copy(vals.begin(), vals.end(), out);
    return ISOTOPE_OK;
  });
}

int isotope_key_load(const char* path, isotope_key** out) {
  return guarded([&]() -> int {
    if (out == nullptr || path == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    auto k = std::make_unique<isotope_key>();
    if (auto st = isotope::key_read_file(path, &k->key); !st.ok()) return fail(st);
    *out = k.release();
    return ISOTOPE_OK;
  });
}

int isotope_key_save(const isotope_key* key, const char* path, int overwrite) {
  return guarded([&]() -> int {
    if (key == nullptr || path == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    return finish(isotope::key_write_file(path, key->key, overwrite != 0));
  });
}

int isotope_key_commitment(const isotope_key* key, uint8_t out[ISOTOPE_COMMITMENTBYTES]) {
  return guarded([&]() -> int {
    if (key == nullptr || out == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    const auto c = key->key.commitment();
    std::copy(c.begin(), c.end(), out);
    return ISOTOPE_OK;
  });
}

void isotope_key_free(isotope_key* key) { delete key; }

void isotope_params_default(isotope_params* p) {
  if (p == nullptr) return;
  const isotope::Profile d;
  p->gamma = d.param("gamma");
  p->delta = d.param("delta");
  p->context_width = d.context_width;
}

int isotope_rng_create(uint64_t seed, isotope_rng** out) {
  return guarded([&]() -> int {
    if (out == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = new isotope_rng{isotope::Rng(seed)};
    return ISOTOPE_OK;
  });
}
void isotope_rng_free(isotope_rng* rng) { delete rng; }

void isotope_sampling_params_default(isotope_sampling_params* p) {
  if (p == nullptr) return;
  p->temperature = 1.0f;
  p->top_k = 0;
  p->top_p = 1.0f;
  p->greedy = 0;
}

int isotope_watermark_create(const isotope_key* key, const isotope_params* params, uint32_t vocab_size,
                             isotope_watermark** out) {
  return guarded([&]() -> int {
    if (key == nullptr || out == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    auto w = std::make_unique<isotope_watermark>();
    if (auto st = isotope::Watermarker::create(key->key, to_profile(params), vocab_size, &w->wm); !st.ok())
      return fail(st);
    *out = w.release();
    return ISOTOPE_OK;
  });
}
void isotope_watermark_free(isotope_watermark* wm) { delete wm; }

int isotope_watermark_apply(isotope_watermark* wm, const int32_t* context, size_t n_context, float* logits,
                            size_t n_vocab) {
  return guarded([&]() -> int {
    if (wm == nullptr || logits == nullptr || (context == nullptr && n_context > 0))
      return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    const size_t skip = context_skip(*wm->wm, n_context);  // KGW: only the window matters
    if (!to_ids(context + skip, n_context - skip, &wm->ctx)) return fail(ISOTOPE_ERR_VOCAB_MISMATCH, "negative token id");
    return finish(wm->wm->apply(wm->ctx, {logits, n_vocab}));
  });
}

int isotope_watermark_apply_candidates(isotope_watermark* wm, const int32_t* context, size_t n_context,
                                       isotope_token_data* candidates, size_t n_candidates) {
  static_assert(sizeof(isotope_token_data) == sizeof(isotope::TokenLogit));
  return guarded([&]() -> int {
    if (wm == nullptr || (candidates == nullptr && n_candidates > 0) || (context == nullptr && n_context > 0))
      return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    const size_t skip = context_skip(*wm->wm, n_context);
    if (!to_ids(context + skip, n_context - skip, &wm->ctx)) return fail(ISOTOPE_ERR_VOCAB_MISMATCH, "negative token id");
    return finish(wm->wm->apply_candidates(
        wm->ctx, {reinterpret_cast<isotope::TokenLogit*>(candidates), n_candidates}));
  });
}

int isotope_watermark_sample(isotope_watermark* wm, const int32_t* context, size_t n_context, const float* logits,
                             size_t n_vocab, const isotope_sampling_params* params, isotope_rng* rng,
                             int32_t* token) {
  return guarded([&]() -> int {
    if (wm == nullptr || logits == nullptr || rng == nullptr || token == nullptr ||
        (context == nullptr && n_context > 0))
      return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    const size_t skip = context_skip(*wm->wm, n_context);
    if (!to_ids(context + skip, n_context - skip, &wm->ctx)) return fail(ISOTOPE_ERR_VOCAB_MISMATCH, "negative token id");
    std::uint32_t t = 0;
    if (auto st = wm->wm->sample(wm->ctx, {logits, n_vocab}, to_sampling(params), rng->rng, &t); !st.ok())
      return fail(st);
    *token = static_cast<int32_t>(t);
    return ISOTOPE_OK;
  });
}

int isotope_sample_plain(const float* logits, size_t n_vocab, const isotope_sampling_params* params,
                         isotope_rng* rng, int32_t* token) {
  return guarded([&]() -> int {
    if (logits == nullptr || rng == nullptr || token == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    std::uint32_t t = 0;
    if (auto st = isotope::sample_plain({logits, n_vocab}, to_sampling(params), rng->rng, &t); !st.ok())
      return fail(st);
    *token = static_cast<int32_t>(t);
    return ISOTOPE_OK;
  });
}

int isotope_detector_create(const isotope_key* key, const isotope_params* params, isotope_detector** out) {
  return guarded([&]() -> int {
    if (key == nullptr || out == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    auto d = std::make_unique<isotope_detector>();
    d->profile = to_profile(params);
    if (auto st = isotope::Scorer::create(key->key, d->profile, &d->scorer); !st.ok()) return fail(st);
    *out = d.release();
    return ISOTOPE_OK;
  });
}
void isotope_detector_free(isotope_detector* d) { delete d; }

int isotope_detect_ids(isotope_detector* d, const int32_t* ids, size_t n_ids, const int32_t* prompt,
                       size_t n_prompt, isotope_detection* out) {
  return guarded([&]() -> int {
    if (d == nullptr || out == nullptr || (ids == nullptr && n_ids > 0) || (prompt == nullptr && n_prompt > 0))
      return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    if (!to_ids(ids, n_ids, &d->ids) || !to_ids(prompt, n_prompt, &d->prompt))
      return fail(ISOTOPE_ERR_VOCAB_MISMATCH, "negative token id");
    d->scorer->reset();
    isotope::WindowSet prompt_windows(d->profile.context_width);
    prompt_windows.add_windows_of(d->prompt);
    if (auto st = d->scorer->add(d->ids, n_prompt > 0 ? &prompt_windows : nullptr); !st.ok()) return fail(st);
    const isotope::DetectionResult r = d->scorer->result();
    *out = isotope_detection{r.tokens,  r.scored, r.green,          r.skipped_short, r.skipped_duplicate,
                             r.skipped_prompt, r.gamma, r.green_fraction, r.z, r.log10_p, r.p_value};
    return ISOTOPE_OK;
  });
}

int isotope_profile_create(const char* scheme, isotope_profile** out) {
  return guarded([&]() -> int {
    if (out == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "out is NULL");
    auto p = std::make_unique<isotope_profile>();
    if (auto st = isotope::Profile::of(scheme == nullptr ? isotope::SCHEME_KGW : scheme, &p->profile); !st.ok())
      return fail(st);
    *out = p.release();
    return ISOTOPE_OK;
  });
}
void isotope_profile_free(isotope_profile* p) { delete p; }

int isotope_profile_set(isotope_profile* p, const char* name, double value) {
  return guarded([&]() -> int {
    if (p == nullptr || name == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    if (std::string_view(name) == "context_width") {
      const isotope::Scheme* sc = isotope::find_scheme(p->profile.scheme);
      const uint32_t hmax = sc != nullptr ? sc->max_context_width() : isotope::MAX_CONTEXT_WIDTH;
      if (!(value >= 0.0 && value <= hmax) || value != static_cast<double>(static_cast<uint32_t>(value)))
        return fail(isotope::Status(isotope::Code::invalid_argument,
                                    "context_width must be a whole number between 0 and " + std::to_string(hmax) +
                                        " for the " + p->profile.scheme + " scheme"));
      p->profile.context_width = static_cast<uint32_t>(value);
      return ISOTOPE_OK;
    }
    isotope::Profile q = p->profile;
    if (auto st = q.set(name, value); !st.ok()) return fail(st);
    if (const isotope::Scheme* sc = isotope::find_scheme(q.scheme); sc != nullptr)
      if (auto w = sc->implied_context_width(q)) q.context_width = *w;
    if (auto st = q.validate(); !st.ok()) return fail(st);
    p->profile = std::move(q);
    return ISOTOPE_OK;
  });
}

int isotope_profile_get(const isotope_profile* p, const char* name, double* value) {
  return guarded([&]() -> int {
    if (p == nullptr || name == nullptr || value == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    if (std::string_view(name) == "context_width") {
      *value = p->profile.context_width;
      return ISOTOPE_OK;
    }
    const double v = p->profile.param(name);
    if (std::isnan(v)) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "the profile's scheme has no such parameter");
    *value = v;
    return ISOTOPE_OK;
  });
}

const char* isotope_profile_name(const isotope_profile* p) {
  if (p == nullptr) return "";
  thread_local std::string name;
  name = p->profile.name();
  return name.c_str();
}

int isotope_watermark_create_with_profile(const isotope_key* key, const isotope_profile* profile, uint32_t vocab_size,
                                          isotope_watermark** out) {
  return guarded([&]() -> int {
    if (key == nullptr || out == nullptr || profile == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    auto w = std::make_unique<isotope_watermark>();
    if (auto st = isotope::Watermarker::create(key->key, profile->profile, vocab_size, &w->wm); !st.ok())
      return fail(st);
    *out = w.release();
    return ISOTOPE_OK;
  });
}

int isotope_detector_create_with_profile(const isotope_key* key, const isotope_profile* profile,
                                         isotope_detector** out) {
  return guarded([&]() -> int {
    if (key == nullptr || out == nullptr || profile == nullptr) return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    auto d = std::make_unique<isotope_detector>();
    d->profile = profile->profile;
    if (auto st = isotope::Scorer::create(key->key, d->profile, &d->scorer); !st.ok()) return fail(st);
    *out = d.release();
    return ISOTOPE_OK;
  });
}

int isotope_detect_ids_result(isotope_detector* d, const int32_t* ids, size_t n_ids, const int32_t* prompt,
                              size_t n_prompt, isotope_result* out) {
  return guarded([&]() -> int {
    if (d == nullptr || out == nullptr || (ids == nullptr && n_ids > 0) || (prompt == nullptr && n_prompt > 0))
      return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument");
    if (out->size < offsetof(isotope_result, p_value) + sizeof(double))
      return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "isotope_result.size must be set to sizeof(isotope_result)");
    if (!to_ids(ids, n_ids, &d->ids) || !to_ids(prompt, n_prompt, &d->prompt))
      return fail(ISOTOPE_ERR_VOCAB_MISMATCH, "negative token id");
    d->scorer->reset();
    isotope::WindowSet prompt_windows(d->profile.context_width);
    prompt_windows.add_windows_of(d->prompt);
    if (auto st = d->scorer->add(d->ids, n_prompt > 0 ? &prompt_windows : nullptr); !st.ok()) return fail(st);
    const isotope::DetectionResult r = d->scorer->result();
    isotope_result full{};
    full.size = sizeof(isotope_result);
    full.tokens = r.tokens;
    full.scored = r.scored;
    full.trials = r.trials;
    full.skipped_short = r.skipped_short;
    full.skipped_duplicate = r.skipped_duplicate;
    full.skipped_prompt = r.skipped_prompt;
    full.statistic = r.statistic;
    full.mean_score = r.mean_score;
    full.z = r.z;
    full.log10_p = r.log10_p;
    full.p_value = r.p_value;
    const size_t n = out->size < sizeof full ? out->size : sizeof full;
    std::memcpy(out, &full, n);
    out->size = n;
    return ISOTOPE_OK;
  });
}

int isotope_detect_batch(isotope_detector* d, const int32_t* const* seqs, const size_t* lens, size_t n,
                         const int32_t* const* prompts, const size_t* prompt_lens, isotope_detection* out) {
  if (d == nullptr || out == nullptr || (n > 0 && (seqs == nullptr || lens == nullptr)) ||
      ((prompts == nullptr) != (prompt_lens == nullptr)))
    return guarded([&]() -> int { return fail(ISOTOPE_ERR_INVALID_ARGUMENT, "NULL argument"); });
  for (size_t i = 0; i < n; ++i) {
    const int32_t* p = prompts != nullptr ? prompts[i] : nullptr;
    const size_t np = prompt_lens != nullptr ? prompt_lens[i] : 0;
    const int rc = isotope_detect_ids(d, seqs[i], lens[i], p, np, &out[i]);
    if (rc != ISOTOPE_OK) {
      return guarded([&]() -> int {
        g_last_error = "sequence " + std::to_string(i) + " of the batch: " + g_last_error;
        return rc;
      });
    }
  }
  return ISOTOPE_OK;
}

}  // extern "C"
