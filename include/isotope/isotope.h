/*
 * isotope — C API.
 *
 * Keyed watermarks for language-model outputs (schemes: KGW green lists,
 * Gumbel-max, SynthID tournament), exact detection, and the pieces a
 * decoding loop needs. The ABI grows without breaking callers: a profile is
 * an opaque handle set parameter by parameter (isotope_profile_set), and
 * result structs carry their own size. Every function returns an
 * int status: ISOTOPE_OK (0) or one of the ISOTOPE_ERR_* codes below, which
 * are stable; isotope_error_name() names them and isotope_last_error_message()
 * gives the message of the calling thread's last failure. Handles are opaque;
 * every *_free function accepts NULL. Nothing here prints, exits or throws.
 * A handle may be used by one thread at a time.
 *
 * Token ids are int32_t, as in llama.cpp; a negative id is an error.
 */
#ifndef ISOTOPE_H
#define ISOTOPE_H

#include <stddef.h>
#include <stdint.h>

#include "isotope/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ISOTOPE_VERSION_MAJOR 0
#define ISOTOPE_VERSION_MINOR 2
#define ISOTOPE_VERSION_PATCH 0
#define ISOTOPE_VERSION_NUMBER (ISOTOPE_VERSION_MAJOR * 10000 + ISOTOPE_VERSION_MINOR * 100 + ISOTOPE_VERSION_PATCH)

#define ISOTOPE_KEYBYTES 32
#define ISOTOPE_COMMITMENTBYTES 32

enum {
  ISOTOPE_OK = 0,
  ISOTOPE_ERR_INVALID_ARGUMENT = 1,
  ISOTOPE_ERR_IO = 2,
  ISOTOPE_ERR_KEY_PERMISSIONS = 3,
  ISOTOPE_ERR_KEY_FORMAT = 4,
  ISOTOPE_ERR_CORRUPT = 5,
  ISOTOPE_ERR_PROFILE_MISMATCH = 6,
  ISOTOPE_ERR_INVALID_UTF8 = 7,
  ISOTOPE_ERR_EMPTY_INPUT = 8,
  ISOTOPE_ERR_CRYPTO = 9,
  ISOTOPE_ERR_TOKENIZER = 10,
  ISOTOPE_ERR_OUT_OF_MEMORY = 11,
  ISOTOPE_ERR_INTERNAL = 12,
  ISOTOPE_ERR_VOCAB_MISMATCH = 13,
  ISOTOPE_ERR_PARSE = 14
};

/* "ok", "io", "key_permissions", ... ; "unknown" for any other value. */
ISOTOPE_API const char* isotope_error_name(int code);
/* Message of this thread's last failed call ("" if none). Valid until the next call. */
ISOTOPE_API const char* isotope_last_error_message(void);
ISOTOPE_API const char* isotope_version(void);

/* ---- keys ---- */
typedef struct isotope_key isotope_key;
ISOTOPE_API int isotope_key_generate(isotope_key** out);
ISOTOPE_API int isotope_key_from_bytes(const uint8_t* bytes, size_t len, isotope_key** out);
/* An engine key (another engine's integer key: vLLM's 64-bit key, or one
   integer per layer), 1 to 256 integers, with a fresh random salt for its
   commitment (docs/spec.md, "Engine keys"). The vllm-* profiles take one. */
ISOTOPE_API int isotope_key_from_engine_ints(const uint64_t* ints, size_t n, isotope_key** out);
/* Refuses files readable by group or others (ISOTOPE_ERR_KEY_PERMISSIONS). */
ISOTOPE_API int isotope_key_load(const char* path, isotope_key** out);
/* Writes mode 0600, atomically; fails if the file exists unless overwrite != 0. */
ISOTOPE_API int isotope_key_save(const isotope_key* key, const char* path, int overwrite);
ISOTOPE_API int isotope_key_commitment(const isotope_key* key, uint8_t out[ISOTOPE_COMMITMENTBYTES]);
ISOTOPE_API void isotope_key_free(isotope_key* key); /* wipes the key */

/* ---- profile ---- */
typedef struct {
  double gamma;           /* green share, default 0.25 */
  double delta;           /* bias, default 3.0 */
  uint32_t context_width; /* h, default 2 */
} isotope_params;
ISOTOPE_API void isotope_params_default(isotope_params* p);

/* A profile of any scheme: "kgw", "gumbel" or "synthid" (NULL: "kgw"), with
   the scheme's defaults. Parameters are set by name: "context_width" for
   every scheme; "gamma", "delta" (kgw); "skip_repeated" (gumbel, synthid);
   "layers", "leaves" (synthid). The engine profiles "hf-kgw", "tgi-kgw" and
   "hf-synthid" (docs/compat.md) take their engine's parameter names; the
   KGW ones need "engine_vocab_size" set first (their default profile lacks
   it), and setting "ngram_len" (hf-synthid) sets the context width to
   ngram_len - 1. An unknown name or an out-of-range value is
   ISOTOPE_ERR_INVALID_ARGUMENT and leaves the profile unchanged. */
typedef struct isotope_profile isotope_profile;
ISOTOPE_API int isotope_profile_create(const char* scheme, isotope_profile** out);
ISOTOPE_API int isotope_profile_set(isotope_profile* p, const char* name, double value);
ISOTOPE_API int isotope_profile_get(const isotope_profile* p, const char* name, double* value);
/* Canonical name, e.g. "gumbel/v1/skip_repeated=1/h=2/siphash128-aes128ctr-u32-v1"; valid until the next call. */
ISOTOPE_API const char* isotope_profile_name(const isotope_profile* p);
ISOTOPE_API void isotope_profile_free(isotope_profile* p);
/* The values the profile's scheme tests for each of n_tokens tokens after the
   context (its last context_width ids; for the vllm-* schemes a shorter
   context is padded with 0xFFFFFFFF, the engine's -1): *per_token values per
   token, token after token, into out (out_len >= n_tokens * *per_token, else
   ISOTOPE_ERR_INVALID_ARGUMENT with *per_token set). Gumbel-type: the uniform
   u (vllm-*: the engine's float32, exactly; dual key: u under key A, then key
   B); KGW: the green bit; SynthID: the g-values, layer 1 first. */
ISOTOPE_API int isotope_prf_values(const isotope_key* key, const isotope_profile* profile, const uint32_t* context,
                                   size_t n_context, const uint32_t* tokens, size_t n_tokens, double* out,
                                   size_t out_len, size_t* per_token);

/* ---- sampling ---- */
typedef struct isotope_rng isotope_rng;
ISOTOPE_API int isotope_rng_create(uint64_t seed, isotope_rng** out);
ISOTOPE_API void isotope_rng_free(isotope_rng* rng);

typedef struct {
  float temperature; /* > 0, default 1 */
  uint32_t top_k;    /* 0 = off */
  float top_p;       /* (0, 1], 1 = off */
  int greedy;        /* non-zero: argmax */
} isotope_sampling_params;
ISOTOPE_API void isotope_sampling_params_default(isotope_sampling_params* p);

/* As llama.cpp's llama_token_data. */
typedef struct {
  int32_t id;
  float logit;
  float p;
} isotope_token_data;

/* ---- the watermark in a decoding loop ---- */
typedef struct isotope_watermark isotope_watermark;
/* params may be NULL (defaults). The key may be freed afterwards. */
ISOTOPE_API int isotope_watermark_create(const isotope_key* key, const isotope_params* params, uint32_t vocab_size,
                             isotope_watermark** out);
/* The same for any scheme. Gumbel and SynthID refuse greedy sampling
   (ISOTOPE_ERR_INVALID_ARGUMENT); their isotope_watermark_apply leaves only
   the chosen token finite (gumbel) or writes the tournament's
   log-probabilities (synthid), at temperature 1 over the whole vocabulary. */
ISOTOPE_API int isotope_watermark_create_with_profile(const isotope_key* key, const isotope_profile* profile,
                                          uint32_t vocab_size, isotope_watermark** out);
ISOTOPE_API void isotope_watermark_free(isotope_watermark* wm);
/* Adds delta to the green logits (n_vocab must equal vocab_size), in place.
   context: every token so far (prompt and generated); only the last h matter. */
ISOTOPE_API int isotope_watermark_apply(isotope_watermark* wm, const int32_t* context, size_t n_context, float* logits,
                            size_t n_vocab);
/* Same over a candidate array (any subset of ids, any order), in place. */
ISOTOPE_API int isotope_watermark_apply_candidates(isotope_watermark* wm, const int32_t* context, size_t n_context,
                                       isotope_token_data* candidates, size_t n_candidates);
/* Picks the next token with the watermark; logits are not modified. params may be NULL. */
ISOTOPE_API int isotope_watermark_sample(isotope_watermark* wm, const int32_t* context, size_t n_context, const float* logits,
                             size_t n_vocab, const isotope_sampling_params* params, isotope_rng* rng,
                             int32_t* token);
/* The library's plain sampler (no watermark), for comparison. */
ISOTOPE_API int isotope_sample_plain(const float* logits, size_t n_vocab, const isotope_sampling_params* params,
                         isotope_rng* rng, int32_t* token);

/* ---- detection ---- */
typedef struct {
  uint64_t tokens, scored, green;
  uint64_t skipped_short, skipped_duplicate, skipped_prompt;
  double gamma, green_fraction, z, log10_p, p_value;
} isotope_detection;

/* Any scheme's result. Set size = sizeof(isotope_result) before the call;
   the library fills the fields it knows up to that size and sets size to
   the bytes written, so older and newer callers keep working. */
typedef struct {
  size_t size;
  uint64_t tokens, scored, trials;
  uint64_t skipped_short, skipped_duplicate, skipped_prompt;
  double statistic;  /* KGW: green count; gumbel: sum of -ln(1-u); synthid: number of g = 1 */
  double mean_score; /* statistic / trials */
  double z, log10_p, p_value;
} isotope_result;

typedef struct isotope_detector isotope_detector;
ISOTOPE_API int isotope_detector_create(const isotope_key* key, const isotope_params* params, isotope_detector** out);
ISOTOPE_API void isotope_detector_free(isotope_detector* d);
/* Scores one token sequence on its own (fresh dedup memory). prompt may be
   NULL; tuples whose window occurs in the prompt are not scored. */
ISOTOPE_API int isotope_detect_ids(isotope_detector* d, const int32_t* ids, size_t n_ids, const int32_t* prompt,
                       size_t n_prompt, isotope_detection* out);
ISOTOPE_API int isotope_detector_create_with_profile(const isotope_key* key, const isotope_profile* profile,
                                         isotope_detector** out);
/* As isotope_detect_ids, for any scheme. */
ISOTOPE_API int isotope_detect_ids_result(isotope_detector* d, const int32_t* ids, size_t n_ids, const int32_t* prompt,
                              size_t n_prompt, isotope_result* out);
/* Scores a batch of n sequences in one call, each on its own: sequence i is
   seqs[i][0 .. lens[i]) and its result goes to out[i]. prompts and
   prompt_lens may be NULL (no prompts), or give one prompt per sequence
   (prompts[i] may be NULL when prompt_lens[i] is 0). A 2-D array of rows of
   width w is seqs[i] = base + i * w, lens[i] = w. On an error no result is
   meaningful; the message names the sequence. */
ISOTOPE_API int isotope_detect_batch(isotope_detector* d, const int32_t* const* seqs, const size_t* lens, size_t n,
                         const int32_t* const* prompts, const size_t* prompt_lens, isotope_detection* out);

#ifdef __cplusplus
}
#endif
#endif /* ISOTOPE_H */
