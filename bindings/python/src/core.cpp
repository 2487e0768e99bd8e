// isotope._core — the compiled part of the Python module: a thin layer over
// the C++ API. Every Status that is not ok becomes a Python exception
// (ValueError, TypeError, OSError, PermissionError, ...) whose message is the
// Status message and whose `code` attribute is the Status code's name.
// Long loops run with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "evidence/result_json.hpp"
#include "isotope/account.hpp"
#include "isotope/audit.hpp"
#include "isotope/detect.hpp"
#include "isotope/evidence.hpp"
#include "isotope/io.hpp"
#include "isotope/key.hpp"
#include "isotope/lm.hpp"
#include "isotope/normalize.hpp"
#include "isotope/profile.hpp"
#include "isotope/recipes.hpp"
#include "isotope/shard.hpp"
#include "isotope/stats.hpp"
#include "isotope/status.hpp"
#include "isotope/tokenizer.hpp"
#include "isotope/watermark.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace isotope::python {
namespace {

// ---- errors ----------------------------------------------------------------

// Carries a Status out of C++ code; translated to a Python exception below.
struct StatusError {
  Status status;
};

[[noreturn]] void raise(Status st) { throw StatusError{std::move(st)}; }
void check(const Status& st) {
  if (!st.ok()) raise(st);
}

PyObject* exception_type(Code c) {
  switch (c) {
    case Code::io:
      return PyExc_OSError;
    case Code::key_permissions:
      return PyExc_PermissionError;
    case Code::out_of_memory:
      return PyExc_MemoryError;
    case Code::crypto:
    case Code::internal:
      return PyExc_RuntimeError;
    default:
      return PyExc_ValueError;
  }
}

void set_python_error(const Status& st) {
  PyObject* type = exception_type(st.code());
  PyObject* exc = PyObject_CallFunction(type, "s", st.message().c_str());
  if (exc == nullptr) return;  // the failed call left its own error set
  PyObject* code = PyUnicode_FromString(code_name(st.code()));
  if (code != nullptr) {
    PyObject_SetAttrString(exc, "code", code);
    Py_DECREF(code);
  }
  PyErr_SetObject(type, exc);
  Py_DECREF(exc);
}

[[noreturn]] void value_error(const std::string& m) { throw py::value_error(m); }
[[noreturn]] void type_error(const std::string& m) { throw py::type_error(m); }

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

// ---- argument conversion -----------------------------------------------------

bool is_path(py::handle h) {
  if (py::isinstance<py::str>(h)) return true;
  return py::hasattr(h, "__fspath__");
}

std::string path_string(py::handle h) {
  py::object p = py::module_::import("os").attr("fspath")(h);
  if (!py::isinstance<py::str>(p)) type_error("paths must be str or os.PathLike giving str");
  // As the os module does: undecodable bytes of a file name come back intact.
  return py::module_::import("os").attr("fsencode")(p).cast<std::string>();
}

// A Python int in [0, max] as T; TypeError for a non-integer (or a bool),
// ValueError naming the argument for a negative or too large one.
template <class T>
T uint_arg(py::handle h, const char* what, T max = std::numeric_limits<T>::max()) {
  if (py::isinstance<py::bool_>(h) || PyIndex_Check(h.ptr()) == 0)
    type_error(std::string(what) + " must be an integer, not " + type_name(h));
  py::int_ i = py::reinterpret_steal<py::int_>(PyNumber_Index(h.ptr()));
  if (!i) throw py::error_already_set();
  if (i < py::int_(0) || i > py::int_(max))
    value_error(std::string(what) + " must be an integer in [0, " + std::to_string(max) + "], got " +
                std::string(py::str(i)));
  return i.cast<T>();
}

Key copy_key(const Key& k) {
  Key out;
  if (k.is_engine())
    check(Key::from_engine_ints(k.engine_ints(), k.data(), KEY_BYTES, &out));
  else
    check(Key::from_bytes(k.data(), KEY_BYTES, &out));
  return out;
}

// An isotope.Key, or the path of a key file (read with the permission check).
Key key_arg(py::handle h) {
  if (py::isinstance<Key>(h)) {
    const Key& k = h.cast<const Key&>();
    if (!k.valid()) value_error("this isotope.Key holds no key");
    return copy_key(k);
  }
  if (is_path(h)) {
    Key k;
    check(key_read_file(path_string(h), &k));
    return k;
  }
  type_error("key must be an isotope.Key or the path of a key file, not " + type_name(h));
}

Profile profile_arg(py::handle h) {
  if (h.is_none()) return Profile{};
  if (py::isinstance<Profile>(h)) return h.cast<Profile>();
  type_error("profile must be an isotope.Profile or None, not " + type_name(h));
}

py::object numpy() { return py::module_::import("numpy"); }

// Accepts anything numpy.asarray takes (lists, numpy arrays, CPU torch
// tensors) whose values are integers; returns it as int64 with `ndim` axes.
py::array_t<std::int64_t, py::array::c_style> int_array(py::handle h, int ndim, const char* what) {
  py::object obj = py::reinterpret_borrow<py::object>(h);
  if (py::hasattr(obj, "detach") && py::hasattr(obj, "cpu")) obj = obj.attr("detach")().attr("cpu")();  // torch
  py::array a = numpy().attr("asarray")(obj);
  if (a.ndim() != ndim)
    value_error(std::string(what) + " must have " + std::to_string(ndim) + " dimension" + (ndim == 1 ? "" : "s") +
                ", got " + std::to_string(a.ndim()));
  const char kind = a.dtype().kind();
  if (a.size() > 0 && kind != 'i' && kind != 'u')
    type_error(std::string(what) + " must hold integer token ids, got dtype " + std::string(py::str(a.dtype())));
  if (kind == 'u' && a.itemsize() == 8) {
    // uint64 above 2^63 would wrap when cast; check before.
    py::object too_big =
        numpy().attr("any")(numpy().attr("greater")(a, py::int_(std::numeric_limits<std::uint32_t>::max())));
    if (too_big.cast<bool>()) value_error(std::string(what) + ": token ids must be below 2^32");
  }
  return py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
}

std::vector<std::uint32_t> to_ids(const std::int64_t* p, std::size_t n, const char* what) {
  std::vector<std::uint32_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] < 0 || p[i] > static_cast<std::int64_t>(std::numeric_limits<std::uint32_t>::max()))
      value_error(std::string(what) + ": token id " + std::to_string(p[i]) + " at position " + std::to_string(i) +
                  " is not in [0, 2^32)");
    ids[i] = static_cast<std::uint32_t>(p[i]);
  }
  return ids;
}

std::vector<std::uint32_t> ids_arg(py::handle h, const char* what = "ids") {
  auto a = int_array(h, 1, what);
  return to_ids(a.data(), static_cast<std::size_t>(a.size()), what);
}

std::vector<std::vector<std::uint32_t>> ids_list_arg(py::handle h, const char* what) {
  std::vector<std::vector<std::uint32_t>> out;
  for (py::handle item : py::reinterpret_borrow<py::iterable>(h)) out.push_back(ids_arg(item, what));
  return out;
}

std::string text_arg(py::handle h, const char* what) {
  if (py::isinstance<py::str>(h)) {
    Py_ssize_t n = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(h.ptr(), &n);
    if (utf8 != nullptr) return std::string(utf8, static_cast<std::size_t>(n));
    PyErr_Clear();
    // Only a lone surrogate (U+D800-DFFF, e.g. from surrogateescape) cannot be encoded.
    const Py_ssize_t len = PyUnicode_GetLength(h.ptr());
    Py_ssize_t at = 0;
    while (at < len) {
      const Py_UCS4 c = PyUnicode_ReadChar(h.ptr(), at);
      if (c >= 0xD800 && c <= 0xDFFF) break;
      ++at;
    }
    value_error(std::string(what) + " holds a lone surrogate (a code point in U+D800-U+DFFF) at index " +
                std::to_string(at) + ": it is not valid Unicode text and has no UTF-8 form");
  }
  if (py::isinstance<py::bytes>(h)) {
    std::string s = h.cast<std::string>();
    if (!is_valid_utf8(s)) raise(Status(Code::invalid_utf8, std::string(what) + " is not valid UTF-8"));
    return s;
  }
  type_error(std::string(what) + " must be str or UTF-8 bytes, not " + type_name(h));
}

// A 1-D float32 array viewed without a copy when it already is one.
py::array_t<float, py::array::c_style> float_row(py::handle h, const char* what) {
  py::object obj = py::reinterpret_borrow<py::object>(h);
  if (py::hasattr(obj, "detach") && py::hasattr(obj, "cpu")) obj = obj.attr("detach")().attr("cpu")().attr("float")();
  py::array a = numpy().attr("asarray")(obj);
  if (a.ndim() != 1) value_error(std::string(what) + " must have 1 dimension, got " + std::to_string(a.ndim()));
  if (a.dtype().kind() != 'f')
    type_error(std::string(what) + " must hold floating-point logits, got dtype " + std::string(py::str(a.dtype())));
  return py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
}

std::shared_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::unique_ptr<Tokenizer> t;
  Status st = Tokenizer::load(path.empty() ? default_tokenizer_path() : path, &t);
  if (!st.ok() && path.empty())
    st = Status(st.code(), st.message() +
                               " (the bundled tokenizer: set ISOTOPE_DATA_DIR to the folder holding "
                               "isotope-8k.model)");
  check(st);
  return std::shared_ptr<Tokenizer>(std::move(t));
}

std::shared_ptr<Tokenizer> tokenizer_arg(py::handle h) {
  if (h.is_none()) return load_tokenizer("");
  if (py::isinstance<Tokenizer>(h)) return h.cast<std::shared_ptr<Tokenizer>>();
  if (is_path(h)) return load_tokenizer(path_string(h));
  type_error("tokenizer must be an isotope.Tokenizer, a path or None, not " + type_name(h));
}

// ---- result dictionaries (the field names and values of the CLI's JSON) -----

// A JSON value of the library's results as Python objects (dict, list, int,
// float, str, bool, None).
py::object to_py(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      py::dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d[py::str(it.key())] = to_py(it.value());
      return d;
    }
    case nlohmann::json::value_t::array: {
      py::list l;
      for (const auto& v : j) l.append(to_py(v));
      return l;
    }
    case nlohmann::json::value_t::string:
      return py::str(j.get_ref<const std::string&>());
    case nlohmann::json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return py::int_(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return py::int_(j.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float:
      return py::float_(j.get<double>());
    default:
      return py::none();
  }
}

py::dict profile_dict(const Profile& p) { return to_py(detail::profile_json(p)); }

void check_threshold(double t) {
  if (!(t > 0.0 && t < 1.0)) value_error("threshold must lie in (0, 1)");
}

// ---- Detector ----------------------------------------------------------------

class Detector {
 public:
  Detector(py::handle key, py::handle profile, py::handle tokenizer, double threshold, bool dedup, py::handle normalize)
      : key_(key_arg(key)), profile_(profile_arg(profile)), threshold_(threshold), dedup_(dedup) {
    check(profile_.validate());
    check_threshold(threshold);
    if (!tokenizer.is_none()) tok_ = tokenizer_arg(tokenizer);
    // None, "all", "nfkc,spaces", or a list of names.
    if (!normalize.is_none()) {
      std::string list;
      if (py::isinstance<py::str>(normalize)) {
        list = text_arg(normalize, "normalize");
      } else {
        for (py::handle item : py::reinterpret_borrow<py::iterable>(normalize)) {
          if (!list.empty()) list += ',';
          list += text_arg(item, "normalize");
        }
      }
      check(parse_normalizers(list, &norm_));
    }
  }

  py::dict detect(py::handle text, py::handle prompt, bool mask, bool scan, py::handle scan_min_length) {
    const std::optional<ScanOptions> so = scan_arg(scan, scan_min_length);
    const Tokenizer& tok = tokenizer();
    std::string t = text_arg(text, "text");
    std::vector<std::uint32_t> ids, pids;
    const bool has_prompt = !prompt.is_none();
    std::string p = has_prompt ? text_arg(prompt, "prompt") : std::string();
    {
      py::gil_scoped_release nogil;
      if (norm_.any()) {
        check(normalize_text(t, norm_, &t));
        if (has_prompt) check(normalize_text(p, norm_, &p));
      }
      check(tok.encode(t, &ids));
      if (has_prompt) check(tok.encode(p, &pids));
    }
    // An empty text is a result (nothing scored, p = 1), as whitespace is.
    py::dict d = score(ids, has_prompt ? &pids : nullptr, mask, so, &tok);
    d["tokenizer_sha256"] = tok.sha256_hex();
    if (norm_.any()) d["normalize"] = norm_.names();
    return d;
  }

  py::dict detect_ids(py::handle ids, py::handle prompt_ids, bool mask, bool scan, py::handle scan_min_length) {
    const std::optional<ScanOptions> so = scan_arg(scan, scan_min_length);
    const std::vector<std::uint32_t> v = ids_arg(ids, "ids");
    if (prompt_ids.is_none()) return score(v, nullptr, mask, so, nullptr);
    const std::vector<std::uint32_t> p = ids_arg(prompt_ids, "prompt_ids");
    return score(v, &p, mask, so, nullptr);
  }

  // A batch: a 2-D array or tensor (one row per sequence) or a list of
  // sequences; prompt_ids, if given, one per sequence (None for none).
  py::list detect_batch(py::handle batch, py::handle prompt_ids, bool mask, bool scan, py::handle scan_min_length) {
    const std::optional<ScanOptions> so = scan_arg(scan, scan_min_length);
    if (py::isinstance<py::str>(batch) || py::isinstance<py::bytes>(batch))
      type_error("batch must hold token-id sequences, not " + type_name(batch));
    const std::vector<std::vector<std::uint32_t>> seqs = ids_list_arg(batch, "batch");
    std::vector<std::optional<std::vector<std::uint32_t>>> prompts(seqs.size());
    if (!prompt_ids.is_none()) {
      std::size_t i = 0;
      for (py::handle item : py::reinterpret_borrow<py::iterable>(prompt_ids)) {
        if (i >= seqs.size()) value_error("prompt_ids has more entries than batch");
        if (!item.is_none()) prompts[i] = ids_arg(item, "prompt_ids");
        ++i;
      }
      if (i != seqs.size()) value_error("prompt_ids must have one entry per sequence of batch");
    }
    py::list out;
    for (std::size_t i = 0; i < seqs.size(); ++i)
      out.append(score(seqs[i], prompts[i] ? &*prompts[i] : nullptr, mask, so, nullptr));
    return out;
  }

  const Profile& profile() const { return profile_; }
  double threshold() const { return threshold_; }
  std::shared_ptr<Tokenizer> tokenizer_ptr() {
    tokenizer();
    return tok_;
  }

 private:
  const Tokenizer& tokenizer() {
    if (!tok_) tok_ = load_tokenizer("");
    return *tok_;
  }

  // The scan's options, or none without scan=True; scan_min_length is checked either way.
  std::optional<ScanOptions> scan_arg(bool scan, py::handle min_length_arg) const {
    const auto min_length = uint_arg<std::uint32_t>(min_length_arg, "scan_min_length");
    if (min_length < 2 || min_length % 2 != 0)
      value_error("scan_min_length must be an even number of tokens >= 2, got " + std::to_string(min_length));
    if (!scan) return std::nullopt;
    return ScanOptions{.min_length = min_length, .rules = {.dedup = dedup_}};
  }

  // The library's detect recipe and result (isotope/recipes.hpp), as
  // `isotope detect --json` gives them; `tok` (may be null) decodes the
  // scan's best window.
  py::dict score(const std::vector<std::uint32_t>& ids, const std::vector<std::uint32_t>* prompt, bool want_mask,
                 const std::optional<ScanOptions>& scan, const Tokenizer* tok) {
    const DetectRecipe recipe{.threshold = threshold_,
                              .rules = {.dedup = dedup_},
                              .mask = want_mask,
                              .scan_min_length = scan ? std::optional<std::uint32_t>(scan->min_length) : std::nullopt};
    nlohmann::json j;
    {
      py::gil_scoped_release nogil;
      DetectOutcome outcome;
      check(detect_run(key_, profile_, ids, prompt, recipe, &outcome));
      check(detail::detect_result_json(outcome, profile_, recipe, tok, ids, &j));
    }
    return to_py(j);
  }

  Key key_;
  Profile profile_;
  double threshold_;
  bool dedup_;
  Normalizers norm_;
  std::shared_ptr<Tokenizer> tok_;
};

// ---- the watermark inside a decoding loop ------------------------------------

SamplingParams sampling(float temperature, std::uint32_t top_k, float top_p, bool greedy) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.greedy = greedy;
  return p;
}

// One Watermarker per processor, made for the vocabulary of the scores it is
// given (and remade when that changes). A mutex keeps concurrent callers from
// sharing its scratch space while the GIL is released.
class Processor {
 public:
  Processor(py::handle key, py::handle profile, py::object vocab_size, float temperature, py::object top_k, float top_p,
            py::handle account, py::object route_alpha)
      : key_(key_arg(key)),
        profile_(profile_arg(profile)),
        fixed_vocab_(uint_arg<std::uint32_t>(vocab_size, "vocab_size")),
        params_(sampling(temperature, uint_arg<std::uint32_t>(top_k, "top_k"), top_p, false)) {
    check(profile_.validate());
    if (!account.is_none()) {
      if (!py::isinstance<py::str>(account)) type_error("account must be a str or None, not " + type_name(account));
      account_ = account.cast<std::string>();
      check(account_id_check(account_));
    }
    route_alpha_ = route_alpha.is_none() ? route_alpha_default(profile_) : route_alpha.cast<double>();
    check(route_alpha_check(route_alpha_));
    if (fixed_vocab_ > 0) make(fixed_vocab_);
  }

  // The watermarker for a vocabulary of V: the master key's, or the account's routed one.
  void make(std::uint32_t V) {
    if (account_.empty())
      check(Watermarker::create(key_, profile_, V, &wm_));
    else
      check(Watermarker::create_for_account(key_, account_, route_alpha_, profile_, V, &wm_));
  }
  const std::string& account() const { return account_; }
  double route_alpha() const { return route_alpha_; }

  const Profile& profile() const { return profile_; }
  std::uint32_t vocab_size() const { return wm_ ? wm_->vocab_size() : fixed_vocab_; }

  // Biases scores (batch, vocab) in place; the last element stride must be 1.
  void apply(py::handle input_ids, py::array scores) {
    if (scores.ndim() != 2)
      value_error("scores must have shape (batch, vocab), got " + std::to_string(scores.ndim()) + " dimensions");
    if (!scores.dtype().is(py::dtype::of<float>()))
      type_error("this call biases float32 scores in place; got dtype " + std::string(py::str(scores.dtype())));
    if (!scores.writeable()) value_error("scores is read-only");
    if (scores.strides(1) != static_cast<py::ssize_t>(sizeof(float)))
      value_error("scores rows must be contiguous (element stride 4 bytes)");
    auto ids = int_array(input_ids, 2, "input_ids");
    const auto B = static_cast<std::size_t>(scores.shape(0));
    const auto V = static_cast<std::size_t>(scores.shape(1));
    if (static_cast<std::size_t>(ids.shape(0)) != B)
      value_error("input_ids has " + std::to_string(ids.shape(0)) + " rows but scores has " + std::to_string(B));
    const auto S = static_cast<std::size_t>(ids.shape(1));
    // KGW needs the window only; distortion-free schemes the whole row (repeated windows).
    const std::size_t h = profile_.scheme == SCHEME_KGW ? std::min<std::size_t>(profile_.context_width, S) : S;
    std::vector<std::vector<std::uint32_t>> ctx(B);
    for (std::size_t b = 0; b < B; ++b) ctx[b] = to_ids(ids.data() + b * S + (S - h), h, "input_ids");
    char* base = static_cast<char*>(scores.mutable_data());
    const py::ssize_t row_stride = scores.strides(0);
    // Rows that share memory (an expanded tensor has row stride 0) would be
    // biased once per row in the same place.
    if (B > 1 && static_cast<std::size_t>(row_stride < 0 ? -row_stride : row_stride) < V * sizeof(float))
      value_error("scores rows overlap in memory (row stride " + std::to_string(row_stride) + " bytes for rows of " +
                  std::to_string(V * sizeof(float)) + " bytes, as in an expanded tensor): pass a contiguous copy");
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    ensure(V);
    for (std::size_t b = 0; b < B; ++b) {
      float* row = reinterpret_cast<float*>(base + static_cast<py::ssize_t>(b) * row_stride);
      check(wm_->apply(ctx[b], std::span<float>(row, V), params_));
    }
  }

  // Green masks (batch, vocab) of uint8, 1 = green; all 0 for rows whose
  // context is shorter than h (those are left unchanged by apply too).
  py::array_t<std::uint8_t> green_masks(py::handle input_ids, py::object vocab_arg) {
    const auto vocab = uint_arg<std::uint32_t>(vocab_arg, "vocab_size");
    auto ids = int_array(input_ids, 2, "input_ids");
    const auto B = static_cast<std::size_t>(ids.shape(0));
    const auto S = static_cast<std::size_t>(ids.shape(1));
    const std::size_t h = profile_.context_width;
    py::array_t<std::uint8_t> out({B, static_cast<std::size_t>(vocab)});
    std::uint8_t* o = out.mutable_data();
    std::memset(o, 0, B * vocab);
    if (S < h) return out;
    std::vector<std::vector<std::uint32_t>> ctx(B);
    for (std::size_t b = 0; b < B; ++b) ctx[b] = to_ids(ids.data() + b * S + (S - h), h, "input_ids");
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    ensure(vocab);
    for (std::size_t b = 0; b < B; ++b) check(wm_->green_mask(ctx[b], std::span<std::uint8_t>(o + b * vocab, vocab)));
    return out;
  }

  std::uint32_t sample(py::handle context, py::handle logits, float temperature, py::object top_k, float top_p,
                       bool greedy, Rng& rng) {
    const std::vector<std::uint32_t> ctx = ids_arg(context, "input_ids");
    auto l = float_row(logits, "scores");
    const SamplingParams params = sampling(temperature, uint_arg<std::uint32_t>(top_k, "top_k"), top_p, greedy);
    std::uint32_t token = 0;
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    ensure(static_cast<std::size_t>(l.size()));
    check(wm_->sample(ctx, std::span<const float>(l.data(), static_cast<std::size_t>(l.size())), params, rng, &token));
    return token;
  }

 private:
  void ensure(std::size_t V) {
    if (V == 0 || V > std::numeric_limits<std::uint32_t>::max())
      raise(Status(Code::vocab_mismatch, "scores must have between 1 and 2^32-1 columns, got " + std::to_string(V)));
    if (fixed_vocab_ != 0 && V != fixed_vocab_)
      raise(Status(Code::vocab_mismatch, "scores have " + std::to_string(V) +
                                             " columns but this processor was made for a vocabulary of " +
                                             std::to_string(fixed_vocab_)));
    if (!wm_ || wm_->vocab_size() != V) make(static_cast<std::uint32_t>(V));
  }

  Key key_;
  Profile profile_;
  std::uint32_t fixed_vocab_;
  SamplingParams params_;
  std::unique_ptr<Watermarker> wm_;
  std::mutex mu_;
  std::string account_;  // empty: the master key alone
  double route_alpha_ = 0.0;
};

// ---- audits --------------------------------------------------------------------

ControlSeed seed_arg(py::handle h) {
  ControlSeed seed{};
  std::string bytes;
  if (py::isinstance<py::bytes>(h)) {
    bytes = h.cast<std::string>();
  } else if (py::isinstance<py::str>(h)) {
    const std::string hex = h.cast<std::string>();
    if (hex.size() != 2 * CONTROL_SEED_BYTES || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
      value_error("control_seed must be " + std::to_string(2 * CONTROL_SEED_BYTES) + " hexadecimal digits");
    py::object b = py::module_::import("builtins").attr("bytes").attr("fromhex")(hex);
    bytes = b.cast<std::string>();
  } else {
    type_error("control_seed must be bytes or a hex string, not " + type_name(h));
  }
  if (bytes.size() != CONTROL_SEED_BYTES)
    value_error("control_seed must be " + std::to_string(CONTROL_SEED_BYTES) + " bytes");
  std::memcpy(seed.data(), bytes.data(), CONTROL_SEED_BYTES);
  return seed;
}

struct AuditSettings {
  double threshold = 1e-4;
  std::uint32_t control = 20;
  ControlSeed seed{};
  double route_alpha = 0.0;           // attribution: the routing share (0: none)
  std::vector<std::string> accounts;  // candidate accounts (empty: no attribution)
};

py::dict run_audit(Audit& audit, const Key& key, const AuditSettings& s) {
  // The library's audit recipe and result (isotope/recipes.hpp), as
  // `isotope audit --json` gives them, less what describes its input files.
  const AuditRecipe recipe{.threshold = s.threshold,
                           .controls = s.control,
                           .control_seed = s.seed,
                           .route_alpha = s.route_alpha,
                           .accounts = s.accounts};
  nlohmann::json j;
  {
    py::gil_scoped_release nogil;
    AuditOutcome outcome;
    check(audit_run(audit, key, recipe, &outcome));
    j = detail::audit_result_json(outcome, audit.profile(), key.commitment_hex(), recipe);
  }
  return to_py(j);
}

AuditSettings audit_settings(double threshold, py::handle control_arg, py::handle control_seed, py::handle accounts,
                             double route_alpha) {
  check_threshold(threshold);
  const auto control = uint_arg<std::uint32_t>(control_arg, "control");
  if (control > 100000) value_error("control: at most 100000 control keys");
  AuditSettings s;
  s.threshold = threshold;
  s.control = control;
  s.seed = seed_arg(control_seed);
  check(route_alpha_check(route_alpha));
  s.route_alpha = route_alpha;
  if (!accounts.is_none()) {
    if (py::isinstance<py::str>(accounts) || py::isinstance<py::bytes>(accounts))
      type_error("accounts must be a list of identifiers, not one string");
    for (py::handle a : py::reinterpret_borrow<py::iterable>(accounts)) {
      if (!py::isinstance<py::str>(a)) type_error("each account identifier must be a str, not " + type_name(a));
      s.accounts.push_back(a.cast<std::string>());
    }
    if (s.accounts.empty()) value_error("accounts is empty");
    if (route_alpha == 0.0) value_error("accounts need a routing share route_alpha above 0");
  }
  return s;
}

py::dict audit_closed(py::handle key, py::handle profile, py::handle records, py::handle teacher, bool dedup,
                      bool prompt_exclusion, double threshold, py::object control, py::handle control_seed,
                      py::handle accounts, double route_alpha) {
  const Key k = key_arg(key);
  const Profile p = profile_arg(profile);
  const AuditSettings s = audit_settings(threshold, control, control_seed, accounts, route_alpha);
  std::vector<AuditRecord> recs;
  for (py::handle item : py::reinterpret_borrow<py::iterable>(records)) {
    auto pair = py::reinterpret_borrow<py::sequence>(item);
    if (pair.size() != 2) value_error("each record must be a (prompt_ids, response_ids) pair");
    recs.push_back({ids_arg(pair[0], "prompt ids"), ids_arg(pair[1], "response ids")});
  }
  std::vector<std::vector<std::uint32_t>> t;
  if (!teacher.is_none()) t = ids_list_arg(teacher, "teacher ids");
  std::unique_ptr<Audit> a;
  {
    py::gil_scoped_release nogil;
    check(Audit::closed(p, std::move(recs), teacher.is_none() ? nullptr : &t,
                        {.dedup = dedup, .prompt_exclusion = prompt_exclusion}, &a));
  }
  return run_audit(*a, k, s);
}

py::dict audit_open(py::handle key, py::handle profile, py::handle teacher, py::handle predictions,
                    py::object vocab_size_arg, bool dedup, double threshold, py::object control,
                    py::handle control_seed, py::handle accounts, double route_alpha) {
  const Key k = key_arg(key);
  const Profile p = profile_arg(profile);
  const AuditSettings s = audit_settings(threshold, control, control_seed, accounts, route_alpha);
  auto t = ids_list_arg(teacher, "teacher ids");
  auto preds = ids_list_arg(predictions, "predictions");
  const auto vocab_size = uint_arg<std::uint32_t>(vocab_size_arg, "vocab_size");
  std::unique_ptr<Audit> a;
  {
    py::gil_scoped_release nogil;
    check(Audit::open(p, std::move(t), std::move(preds), vocab_size, {.dedup = dedup, .prompt_exclusion = true}, &a));
  }
  return run_audit(*a, k, s);
}

py::dict audit_open_model(py::handle key, py::handle profile, py::handle teacher, const NgramModel& model, bool dedup,
                          double threshold, py::object control, py::handle control_seed, py::handle accounts,
                          double route_alpha) {
  const Key k = key_arg(key);
  const Profile p = profile_arg(profile);
  const AuditSettings s = audit_settings(threshold, control, control_seed, accounts, route_alpha);
  auto t = ids_list_arg(teacher, "teacher ids");
  std::unique_ptr<Audit> a;
  {
    py::gil_scoped_release nogil;
    check(Audit::open_with_model(p, std::move(t), model, {.dedup = dedup, .prompt_exclusion = true}, &a));
  }
  return run_audit(*a, k, s);
}

// Row-wise argmax of a (seq, vocab) float array, lowest id on ties (as the
// library's LanguageModel::next_argmax); NaN rows are an error.
py::array_t<std::uint32_t> argmax_rows(py::handle logits) {
  py::object obj = py::reinterpret_borrow<py::object>(logits);
  if (py::hasattr(obj, "detach") && py::hasattr(obj, "cpu")) obj = obj.attr("detach")().attr("cpu")().attr("float")();
  py::array a0 = numpy().attr("asarray")(obj);
  if (a0.ndim() != 2)
    value_error("logits must have shape (seq, vocab), got " + std::to_string(a0.ndim()) + " dimensions");
  if (a0.dtype().kind() != 'f')
    type_error("logits must be floating point, got dtype " + std::string(py::str(a0.dtype())));
  auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a0);
  const auto n = static_cast<std::size_t>(a.shape(0));
  const auto V = static_cast<std::size_t>(a.shape(1));
  if (V == 0) value_error("logits have no columns");
  py::array_t<std::uint32_t> out(n);
  std::uint32_t* o = out.mutable_data();
  const float* d = a.data();
  bool nan = false;
  {
    py::gil_scoped_release nogil;
    for (std::size_t i = 0; i < n; ++i) {
      const float* row = d + i * V;
      std::size_t best = 0;
      for (std::size_t j = 1; j < V; ++j)
        if (row[j] > row[best]) best = j;
      for (std::size_t j = 0; j < V; ++j) nan |= std::isnan(row[j]);
      o[i] = static_cast<std::uint32_t>(best);
    }
  }
  if (nan) value_error("logits contain NaN");
  return out;
}

// ---- n-gram model -------------------------------------------------------------

std::shared_ptr<NgramModel> load_model(py::handle path) {
  std::unique_ptr<NgramModel> m;
  check(NgramModel::load(path.is_none() ? default_model_path() : path_string(path), &m));
  return std::shared_ptr<NgramModel>(std::move(m));
}

// ---- the pieces of a distributed audit (isotope/shard.hpp)
// ----------------------

// A vector handed to numpy without a copy (the array owns it).
template <class T>
py::array_t<T> to_array(std::vector<T>&& v) {
  auto* p = new std::vector<T>(std::move(v));
  py::capsule owner(p, [](void* q) { delete static_cast<std::vector<T>*>(q); });
  return py::array_t<T>(static_cast<py::ssize_t>(p->size()), p->data(), owner);
}

template <class T>
std::vector<T> from_array(py::handle h, const char* what) {
  auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(h);
  if (!a || a.ndim() != 1) value_error(std::string(what) + " must be a one-dimensional array");
  return std::vector<T>(a.data(), a.data() + a.size());
}

py::tuple parts_tuple(ShardTuples&& t) {
  return py::make_tuple(to_array(std::move(t.windows)), to_array(std::move(t.tokens)), to_array(std::move(t.records)),
                        to_array(std::move(t.positions)));
}

ShardTuples parts_arg(py::handle h, std::uint32_t width) {
  auto seq = py::reinterpret_borrow<py::sequence>(h);
  if (seq.size() != 4) value_error("partition tuples are (windows, tokens, records, positions)");
  ShardTuples t;
  t.width = width;
  t.windows = from_array<std::uint32_t>(seq[0], "windows");
  t.tokens = from_array<std::uint32_t>(seq[1], "tokens");
  t.records = from_array<std::uint32_t>(seq[2], "records");
  t.positions = from_array<std::uint32_t>(seq[3], "positions");
  return t;
}

py::dict counts_dict(const ShardCounts& c) {
  return py::dict("records"_a = c.records, "tokens"_a = c.tokens, "skipped_short"_a = c.skipped_short,
                  "skipped_prompt"_a = c.skipped_prompt, "skipped_duplicate"_a = c.skipped_duplicate);
}

// Text (str: normalized, then tokenized) or token ids (each below vocab_size).
struct TextOrIds {
  std::string text;
  std::vector<std::uint32_t> ids;
  bool is_text = false;
};

TextOrIds text_or_ids(py::handle h, const char* what) {
  TextOrIds t;
  if (py::isinstance<py::str>(h) || py::isinstance<py::bytes>(h)) {
    t.text = text_arg(h, what);
    t.is_text = true;
  } else {
    t.ids = ids_arg(h, what);
  }
  return t;
}

Status encode_into(const Tokenizer* tok, const Normalizers& norm, std::uint32_t vocab, TextOrIds& t,
                   std::vector<std::uint32_t>* out) {
  if (!t.is_text) {
    for (std::size_t i = 0; i < t.ids.size(); ++i)
      if (t.ids[i] >= vocab)
        return {Code::vocab_mismatch, "token id " + std::to_string(t.ids[i]) + " at index " + std::to_string(i) +
                                          " is not below the vocabulary size " + std::to_string(vocab)};
    *out = std::move(t.ids);
    return Status::OK();
  }
  if (tok == nullptr) return {Code::invalid_argument, "text needs a tokenizer"};
  if (!norm.any()) return tok->encode(t.text, out);
  std::string normed;
  ISOTOPE_RETURN_IF_ERROR(normalize_text(t.text, norm, &normed));
  return tok->encode(normed, out);
}

Normalizers normalizers_arg(py::handle h) {
  Normalizers n;
  if (!h.is_none()) check(parse_normalizers(text_arg(h, "normalize"), &n));
  return n;
}

const Tokenizer* tokenizer_ptr(py::handle h) {
  if (h.is_none()) return nullptr;
  return h.cast<std::shared_ptr<Tokenizer>>().get();
}

// Step 1 of a closed audit over a chunk of records (prompt, response): each a
// (prompt, `second`) pairs: each prompt a str, token ids or None; each
// `second` a str or token ids.
std::vector<std::pair<std::optional<TextOrIds>, TextOrIds>> record_pairs(py::handle records, const char* second) {
  std::vector<std::pair<std::optional<TextOrIds>, TextOrIds>> in;
  for (py::handle item : py::reinterpret_borrow<py::iterable>(records)) {
    auto pair = py::reinterpret_borrow<py::sequence>(item);
    if (pair.size() != 2) value_error(std::string("each record must be a (prompt, ") + second + ") pair");
    std::optional<TextOrIds> prompt;
    if (!pair[0].is_none()) prompt = text_or_ids(pair[0], "prompt");
    in.emplace_back(std::move(prompt), text_or_ids(pair[1], second));
  }
  return in;
}

// str (normalized, tokenized), token ids, or None (no prompt).
py::tuple shard_closed_py(py::handle tokenizer, py::handle normalize, py::object vocab_arg, py::handle profile,
                          py::handle records, bool prompt_exclusion, py::object parts_arg) {
  const Tokenizer* tok = tokenizer_ptr(tokenizer);
  const Normalizers norm = normalizers_arg(normalize);
  const auto vocab = uint_arg<std::uint32_t>(vocab_arg, "vocab_size");
  const Profile p = profile_arg(profile);
  const auto parts = uint_arg<std::uint32_t>(parts_arg, "parts");
  auto in = record_pairs(records, "response");
  std::vector<ShardTuples> out;
  ShardCounts counts;
  {
    py::gil_scoped_release nogil;
    std::vector<AuditRecord> recs(in.size());
    for (std::size_t r = 0; r < in.size(); ++r) {
      if (in[r].first) check(encode_into(tok, norm, vocab, *in[r].first, &recs[r].prompt));
      check(encode_into(tok, norm, vocab, in[r].second, &recs[r].response));
    }
    check(shard_closed(p, recs, prompt_exclusion, parts, &out, &counts));
  }
  py::list l;
  for (ShardTuples& t : out) l.append(parts_tuple(std::move(t)));
  return py::make_tuple(counts_dict(counts), l);
}

// Teacher texts: each a str or token ids.
std::vector<TextOrIds> teacher_texts(py::handle texts) {
  std::vector<TextOrIds> in;
  for (py::handle item : py::reinterpret_borrow<py::iterable>(texts)) in.push_back(text_or_ids(item, "teacher text"));
  return in;
}

// Token ids of every text (normalized and tokenized, or checked ids); call
// without the GIL.
std::vector<std::vector<std::uint32_t>> encode_all(const Tokenizer* tok, const Normalizers& norm, std::uint32_t vocab,
                                                   std::vector<TextOrIds>& in) {
  std::vector<std::vector<std::uint32_t>> ids(in.size());
  for (std::size_t r = 0; r < in.size(); ++r) check(encode_into(tok, norm, vocab, in[r], &ids[r]));
  return ids;
}

// Step 1 of an open audit over a chunk of teacher texts and their predictions.
py::tuple shard_open_py(py::handle tokenizer, py::handle normalize, py::object vocab_arg, py::handle profile,
                        py::handle texts, py::handle predictions, bool dedup, py::object parts_arg) {
  const Tokenizer* tok = tokenizer_ptr(tokenizer);
  const Normalizers norm = normalizers_arg(normalize);
  const auto vocab = uint_arg<std::uint32_t>(vocab_arg, "vocab_size");
  const Profile p = profile_arg(profile);
  const auto parts = uint_arg<std::uint32_t>(parts_arg, "parts");
  auto in = teacher_texts(texts);
  auto preds = ids_list_arg(predictions, "predictions");
  std::vector<ShardTuples> out;
  ShardCounts counts;
  {
    py::gil_scoped_release nogil;
    const auto ids = encode_all(tok, norm, vocab, in);
    check(shard_open(p, ids, preds, vocab, dedup, parts, &out, &counts));
  }
  py::list l;
  for (ShardTuples& t : out) l.append(parts_tuple(std::move(t)));
  return py::make_tuple(counts_dict(counts), l);
}

// The filter's windows of a chunk of teacher texts, routed to partitions.
py::list shard_windows_py(py::handle tokenizer, py::handle normalize, py::object vocab_arg, py::handle profile,
                          py::handle texts, py::object parts_arg) {
  const Tokenizer* tok = tokenizer_ptr(tokenizer);
  const Normalizers norm = normalizers_arg(normalize);
  const auto vocab = uint_arg<std::uint32_t>(vocab_arg, "vocab_size");
  const Profile p = profile_arg(profile);
  const auto parts = uint_arg<std::uint32_t>(parts_arg, "parts");
  auto in = teacher_texts(texts);
  std::vector<std::vector<std::uint32_t>> out;
  {
    py::gil_scoped_release nogil;
    const auto ids = encode_all(tok, norm, vocab, in);
    check(shard_windows(p, ids, parts, &out));
  }
  py::list l;
  for (auto& w : out) l.append(to_array(std::move(w)));
  return l;
}

ShardAdmitted admitted_arg(py::handle profile_h, py::handle windows, py::handle tokens) {
  ShardAdmitted a;
  a.width = profile_arg(profile_h).context_width;
  a.windows = from_array<std::uint32_t>(windows, "windows");
  a.tokens = from_array<std::uint32_t>(tokens, "tokens");
  if (a.windows.size() != a.tokens.size() * a.width) value_error("windows and tokens do not match the context width");
  return a;
}

// Step 2 for one partition; with keep_seen, "seen" holds the set of the
// admitted tuples (a ShardSeen) for shard_dedup_runs.
py::dict shard_admit_py(py::handle profile, py::handle chunks, py::handle offsets, py::handle filter, bool dedup,
                        bool keep_seen) {
  const Profile p = profile_arg(profile);
  std::vector<ShardTuples> cs;
  for (py::handle c : py::reinterpret_borrow<py::iterable>(chunks)) cs.push_back(parts_arg(c, p.context_width));
  const auto offs = from_array<std::uint64_t>(offsets, "record offsets");
  std::optional<std::vector<std::vector<std::uint32_t>>> f;
  if (!filter.is_none()) {
    f.emplace();
    for (py::handle w : py::reinterpret_borrow<py::iterable>(filter))
      f->push_back(from_array<std::uint32_t>(w, "filter"));
  }
  ShardAdmitted a;
  auto seen = std::make_shared<ShardSeen>();
  {
    py::gil_scoped_release nogil;
    check(shard_admit(p, cs, offs, f ? &*f : nullptr, dedup, &a, keep_seen ? seen.get() : nullptr));
  }
  py::dict d("windows"_a = to_array(std::move(a.windows)), "tokens"_a = to_array(std::move(a.tokens)),
             "order"_a = to_array(std::move(a.order)), "skipped_filter"_a = a.skipped_filter,
             "skipped_duplicate"_a = a.skipped_duplicate, "filter_windows"_a = a.filter_windows);
  if (keep_seen) d["seen"] = py::cast(seen);
  return d;
}

// A one-dimensional uint32 array viewed without a copy (the array is kept in
// `hold` while the view is used).
std::span<const std::uint32_t> u32_view(py::handle h, const char* what, std::vector<py::object>* hold) {
  auto a = py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>::ensure(h);
  if (!a || a.ndim() != 1) value_error(std::string(what) + " must be a one-dimensional array");
  hold->push_back(a);
  return {a.data(), static_cast<std::size_t>(a.size())};
}

// Step 2 across runs for one partition: runs are (windows, tokens) in run
// order; returns ([keep array per run], dropped).
py::tuple shard_dedup_runs_py(py::handle profile, py::handle runs, std::size_t local, py::handle seen_h) {
  const Profile p = profile_arg(profile);
  std::vector<py::object> hold;
  std::vector<ShardKeys> keys;
  for (py::handle r : py::reinterpret_borrow<py::iterable>(runs)) {
    auto seq = py::reinterpret_borrow<py::sequence>(r);
    if (seq.size() != 2) value_error("each run is (windows, tokens)");
    keys.push_back({u32_view(seq[0], "windows", &hold), u32_view(seq[1], "tokens", &hold)});
  }
  const ShardSeen* seen = seen_h.is_none() ? nullptr : seen_h.cast<std::shared_ptr<ShardSeen>>().get();
  std::vector<std::vector<std::uint8_t>> keep;
  std::uint64_t dropped = 0;
  {
    py::gil_scoped_release nogil;
    check(shard_dedup_runs(p, keys, local, seen, &keep, &dropped));
  }
  py::list l;
  for (auto& k : keep) l.append(to_array(std::move(k)));
  return py::make_tuple(l, dropped);
}

// Step 3 with the scores kept: a uint8 array (1 + controls, n), row 0 under
// the key, row 1 + i under control key i (isotope::shard_score_bytes).
py::array_t<std::uint8_t> shard_score_bytes_py(py::handle key, py::handle seed, py::object controls_arg,
                                               py::handle profile, py::handle windows, py::handle tokens,
                                               py::object threads_arg) {
  const Key k = key_arg(key);
  const ControlSeed s = seed_arg(seed);
  const auto controls = uint_arg<std::uint32_t>(controls_arg, "controls");
  const Profile p = profile_arg(profile);
  const ShardAdmitted a = admitted_arg(profile, windows, tokens);
  const auto threads = uint_arg<unsigned>(threads_arg, "threads");
  const std::size_t rows = std::size_t{1} + controls;
  std::vector<std::uint8_t> out(rows * a.size());
  {
    py::gil_scoped_release nogil;
    check(shard_score_bytes(k, s, controls, p, a, out, threads));
  }
  return to_array(std::move(out)).reshape({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(a.size())});
}

// Detection of each record on its own (a corpus scan): records are (prompt,
// text) as for shard_closed; a prompt's windows are excluded. Returns a dict
// of arrays, one entry per record.
py::dict detect_records_py(py::handle key, py::handle tokenizer, py::handle normalize, py::object vocab_arg,
                           py::handle profile, py::handle records, bool dedup) {
  const Key k = key_arg(key);
  const Tokenizer* tok = tokenizer_ptr(tokenizer);
  const Normalizers norm = normalizers_arg(normalize);
  const auto vocab = uint_arg<std::uint32_t>(vocab_arg, "vocab_size");
  const Profile p = profile_arg(profile);
  auto in = record_pairs(records, "text");
  const std::size_t n = in.size();
  std::vector<std::uint64_t> tokens(n), scored(n), sshort(n), sdup(n), sprompt(n);
  std::vector<double> stat(n);
  {
    py::gil_scoped_release nogil;
    std::unique_ptr<Scorer> s;
    check(Scorer::create(k, p, &s, {.dedup = dedup}));
    std::vector<std::uint32_t> ids, pids;
    for (std::size_t r = 0; r < n; ++r) {
      check(encode_into(tok, norm, vocab, in[r].second, &ids));
      WindowSet prompt(p.context_width);
      if (in[r].first) {
        check(encode_into(tok, norm, vocab, *in[r].first, &pids));
        prompt.add_windows_of(pids);
      }
      s->reset();
      check(s->add(ids, in[r].first ? &prompt : nullptr));
      const DetectionResult d = s->result();
      tokens[r] = d.tokens;
      scored[r] = d.scored;
      stat[r] = d.statistic;
      sshort[r] = d.skipped_short;
      sdup[r] = d.skipped_duplicate;
      sprompt[r] = d.skipped_prompt;
    }
  }
  return py::dict("tokens"_a = to_array(std::move(tokens)), "scored"_a = to_array(std::move(scored)),
                  "statistic"_a = to_array(std::move(stat)), "skipped_short"_a = to_array(std::move(sshort)),
                  "skipped_duplicate"_a = to_array(std::move(sdup)), "skipped_prompt"_a = to_array(std::move(sprompt)));
}

// A key on its way to the workers: pickles to its 32 bytes (the connection
// must be private: docs/scale.md), unpickles into guarded memory; never shown.
struct KeyParcel {
  Key key;
};

}  // namespace
}  // namespace isotope::python

PYBIND11_MODULE(_core, m) {
  using namespace isotope;
  using namespace isotope::python;
  m.doc() = "isotope: keyed watermarks for language-model outputs (compiled core; import isotope instead)";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      set_python_error(e.status);
    }
  });

  m.attr("__version__") = version_string();
  m.attr("KEY_BYTES") = KEY_BYTES;
  m.def("data_dir", &data_dir, "Folder of the bundled data ($ISOTOPE_DATA_DIR if set)");
  m.def("default_tokenizer_path", &default_tokenizer_path);
  m.def("default_model_path", &default_model_path);

  // Key: no way to read its bytes back from Python, and no repr of them.
  py::class_<Key>(m, "Key", "A 32-byte watermark key held in guarded memory. Its bytes are never shown.")
      .def_static(
          "generate",
          [] {
            Key k;
            check(Key::generate(&k));
            return k;
          },
          "A fresh key from libsodium's CSPRNG.")
      .def_static(
          "from_bytes",
          [](const py::bytes& b) {
            const std::string s = b;
            Key k;
            check(Key::from_bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size(), &k));
            return k;
          },
          "data"_a, "A key from exactly 32 bytes (test vectors, re-implementations).")
      .def_static(
          "from_engine_ints",
          [](py::handle ints) {
            std::vector<std::uint64_t> v;
            if (PyIndex_Check(ints.ptr()) != 0) {
              v.push_back(uint_arg<std::uint64_t>(ints, "engine key"));
            } else {
              for (py::handle item : py::reinterpret_borrow<py::iterable>(ints))
                v.push_back(uint_arg<std::uint64_t>(item, "engine key integer"));
            }
            Key k;
            const Status st = Key::from_engine_ints(v, &k);
            std::fill(v.begin(), v.end(), 0);
            check(st);
            return k;
          },
          "ints"_a,
          "An engine key (another serving engine's integer watermark key: vLLM's 64-bit key, or one integer\n"
          "per layer) from an int or a list of ints in [0, 2^64), with a fresh random salt for its\n"
          "commitment. For tests and notebooks; in production import it once with\n"
          "'isotope key import --int - -o FILE' and pass the file, so the key sits in no script.")
      .def_property_readonly("is_engine", &Key::is_engine, "True for an engine key (Key.from_engine_ints)")
      .def_property_readonly("commitment", &Key::commitment_hex,
                             "The key's public commitment (64 hex digits), safe to publish")
      .def(
          "save",
          [](const Key& k, py::handle path, bool overwrite) { check(key_write_file(path_string(path), k, overwrite)); },
          "path"_a, "overwrite"_a = false, "Writes a key file with mode 0600 (atomically).")
      .def("__repr__", [](const Key& k) {
        return k.valid() ? "<isotope.Key commitment=" + k.commitment_hex().substr(0, 16) + "...>"
                         : std::string("<isotope.Key (empty)>");
      });
  m.def(
      "load_key", [](py::handle path) { return key_arg(path); }, "path"_a,
      "Reads a key file; refuses (PermissionError) one that group or others can read.");

  py::class_<Profile>(m, "Profile",
                      "A named, versioned parameter set of a watermark scheme.\n\n"
                      "Profile(scheme='kgw', context_width=2, **params): params are the scheme's own (kgw: gamma,\n"
                      "delta; gumbel: skip_repeated; synthid: layers, leaves, skip_repeated); the rest take the\n"
                      "scheme's defaults. Profile(gamma, delta, context_width) positionally is the kgw form.")
      .def(py::init([](py::args args, py::kwargs kwargs) {
        Profile p;
        std::string scheme = SCHEME_KGW;
        if (kwargs.contains("scheme")) scheme = kwargs["scheme"].cast<std::string>();
        check(Profile::of(scheme, &p));
        if (args.size() > 3) type_error("Profile takes at most 3 positional arguments (gamma, delta, context_width)");
        if (!args.empty() && scheme != SCHEME_KGW) type_error("positional arguments are the kgw form; use keywords");
        const char* pos[] = {"gamma", "delta", "context_width"};
        auto set_value = [&](const std::string& name, py::handle v) {
          if (name == "context_width") {
            // The range depends on the scheme: validate() checks it.
            p.context_width = uint_arg<std::uint32_t>(py::reinterpret_borrow<py::object>(v), "context_width");
            return;
          }
          if (std::isnan(p.param(name))) type_error("the " + scheme + " scheme has no parameter '" + name + "'");
          p.params[name] = py::cast<double>(v);
        };
        for (std::size_t i = 0; i < args.size(); ++i) set_value(pos[i], args[i]);
        for (auto [k, v] : kwargs) {
          const std::string name = py::cast<std::string>(k);
          if (name == "scheme") continue;
          set_value(name, v);
        }
        if (!kwargs.contains("context_width"))
          if (const Scheme* sc = find_scheme(p.scheme); sc != nullptr)
            if (auto w = sc->implied_context_width(p)) p.context_width = *w;
        check(p.validate());
        return p;
      }))
      .def_readonly("scheme", &Profile::scheme)
      .def_readonly("context_width", &Profile::context_width)
      .def_readonly("prf", &Profile::prf)
      .def_readonly("version", &Profile::version)
      .def_property_readonly("params",
                             [](const Profile& p) {
                               py::dict d;
                               for (const auto& [k, v] : p.params) d[py::str(k)] = v;
                               return d;
                             })
      .def_property_readonly("name", &Profile::name)
      .def_property_readonly("gamma_effective",
                             [](const Profile& p) -> py::object {
                               if (p.scheme != SCHEME_KGW) return py::none();
                               return py::float_(kgw_gamma_effective(p));
                             })
      .def("__getattr__",
           [](const Profile& p, const std::string& name) -> double {
             const double v = p.param(name);
             if (std::isnan(v))
               throw py::attribute_error("the " + p.scheme + " profile has no parameter '" + name + "'");
             return v;
           })
      .def("to_dict", &profile_dict)
      .def("__eq__", [](const Profile& a, const Profile& b) { return a == b; })
      .def("__hash__", [](const Profile& p) { return py::hash(py::str(p.name())); })
      .def("__repr__", [](const Profile& p) { return "<isotope.Profile " + p.name() + ">"; });
  m.def(
      "prf_values",
      [](py::handle key, const Profile& profile, py::handle context, py::handle tokens) {
        const Key k = key_arg(key);
        // The engine's padding id -1 may appear in a context, as the engine
        // writes it.
        auto c = int_array(context, 1, "context");
        std::vector<std::int64_t> cv(c.data(), c.data() + c.size());
        for (std::int64_t& x : cv)
          if (x == -1) x = static_cast<std::int64_t>(std::numeric_limits<std::uint32_t>::max());
        const std::vector<std::uint32_t> ctx = to_ids(cv.data(), cv.size(), "context");
        const std::vector<std::uint32_t> toks = ids_arg(tokens, "tokens");
        std::vector<double> vals;
        ValueShape shape;
        {
          py::gil_scoped_release nogil;
          check(prf_values(k, profile, ctx, toks, &vals, &shape));
        }
        const char* dtype =
            shape.kind == ValueKind::float32 ? "float32" : (shape.kind == ValueKind::bit ? "uint8" : "float64");
        py::array_t<double> a(static_cast<py::ssize_t>(vals.size()));
        std::copy(vals.begin(), vals.end(), a.mutable_data());
        py::object out = a.attr("astype")(dtype);
        if (shape.per_token != 1)
          out = out.attr("reshape")(
              py::make_tuple(static_cast<py::ssize_t>(toks.size()), static_cast<py::ssize_t>(shape.per_token)));
        return out;
      },
      "key"_a, "profile"_a, "context"_a, "tokens"_a,
      "The values the profile's scheme tests for each of `tokens` after `context` (numpy array):\n"
      "the uniform u of Gumbel-type schemes (float32 for vllm-*: the engine's own values, bit for bit;\n"
      "vllm-dual-key-gumbel: (n, 2), u under key A then key B), the green bit of KGW-type schemes\n"
      "(uint8), the g-values of SynthID-type schemes ((n, layers) uint8, layer 1 first). The window is\n"
      "the last context_width ids of `context`; a shorter context is padded on the left with -1 for\n"
      "the vllm-* schemes (which never look into the prompt: give the generated tokens only), and\n"
      "refused for the others. -1 in `context` is the engine's padding id.");
  m.def(
      "schemes",
      []() {
        py::list l;
        for (const Scheme* s : schemes()) l.append(std::string(s->name()));
        return l;
      },
      "Names of the watermark schemes this build knows.");

  py::class_<Tokenizer, std::shared_ptr<Tokenizer>>(m, "Tokenizer", "The provider's sentencepiece tokenizer")
      .def(py::init(
               [](py::handle path) { return path.is_none() ? load_tokenizer("") : load_tokenizer(path_string(path)); }),
           "path"_a = py::none(),
           "Loads a sentencepiece .model or a Hugging Face tokenizer.json (None: the bundled one).")
      .def(
          "encode",
          [](const Tokenizer& t, py::handle text) {
            const std::string s = text_arg(text, "text");
            std::vector<std::uint32_t> ids;
            {
              py::gil_scoped_release nogil;
              check(t.encode(s, &ids));
            }
            return ids;
          },
          "text"_a)
      .def(
          "decode",
          [](const Tokenizer& t, py::handle ids) {
            const auto v = ids_arg(ids, "ids");
            for (std::uint32_t id : v)
              if (id >= t.vocab_size())
                raise(Status(Code::vocab_mismatch, "token id " + std::to_string(id) +
                                                       " is not below the vocabulary size " +
                                                       std::to_string(t.vocab_size())));
            std::string s;
            check(t.decode(v, &s));
            return s;
          },
          "ids"_a)
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
      .def_property_readonly("sha256", &Tokenizer::sha256_hex)
      .def_property_readonly("path", &Tokenizer::path)
      .def_property_readonly(
          "kind", [](const Tokenizer& t) { return std::string(t.kind()); },
          "\"sentencepiece\", \"bpe-byte-level\" or \"bpe-sentencepiece\"")
      .def("__repr__", [](const Tokenizer& t) {
        return "<isotope.Tokenizer " + t.path() + " vocab=" + std::to_string(t.vocab_size()) + ">";
      });

  py::class_<Detector>(m, "Detector",
                       "Scores text or token ids for the watermark of a key. Results are dicts with the fields "
                       "of `isotope detect --json`.")
      .def(py::init<py::handle, py::handle, py::handle, double, bool, py::handle>(), "key"_a, "profile"_a = py::none(),
           "tokenizer"_a = py::none(), "threshold"_a = 1e-4, "dedup"_a = true, "normalize"_a = py::none(),
           "normalize: None, \"all\", or normalizers to apply to texts before tokenization (\"nfkc,spaces\" or a "
           "list of nfkc, spaces, format, confusables)")
      .def("detect", &Detector::detect, "text"_a, "prompt"_a = py::none(), "mask"_a = false, "scan"_a = false,
           "scan_min_length"_a = 32,
           "Tokenizes `text` with the provider's tokenizer and scores it; windows of `prompt` are excluded. "
           "scan=True adds \"scan\": windowed detection of a watermarked span inside a longer text, with a "
           "p-value corrected (Bonferroni) for every window tried, the span's token offsets [start, end) and "
           "its text (docs/statistics.md, section 8); scan_min_length: the shortest window, in tokens (even).")
      .def("detect_ids", &Detector::detect_ids, "ids"_a, "prompt_ids"_a = py::none(), "mask"_a = false,
           "scan"_a = false, "scan_min_length"_a = 32,
           "Scores token ids (list, numpy array or CPU tensor); scan as for detect().")
      .def("detect_batch", &Detector::detect_batch, "batch"_a, "prompt_ids"_a = py::none(), "mask"_a = false,
           "scan"_a = false, "scan_min_length"_a = 32,
           "Scores a batch of token-id sequences in one call (a 2-D array or tensor, one row per sequence, or a "
           "list of sequences of any lengths), each on its own; prompt_ids: one sequence or None per row. "
           "Returns a list of result dicts.")
      .def_property_readonly("profile", &Detector::profile)
      .def_property_readonly("threshold", &Detector::threshold)
      .def_property_readonly("tokenizer", &Detector::tokenizer_ptr);

  py::class_<Rng>(m, "Rng", "The library's deterministic generator (xoshiro256**): a seed reproduces a generation.")
      .def(py::init([](py::object seed) { return Rng(uint_arg<std::uint64_t>(seed, "seed")); }), "seed"_a = 0)
      .def("next_u64", &Rng::next_u64)
      .def("next_double", &Rng::next_double);

  m.def(
      "sample_plain",
      [](py::handle logits, float temperature, py::object top_k, float top_p, bool greedy, Rng& rng) {
        auto l = float_row(logits, "logits");
        const SamplingParams params = sampling(temperature, uint_arg<std::uint32_t>(top_k, "top_k"), top_p, greedy);
        std::uint32_t token = 0;
        py::gil_scoped_release nogil;
        check(sample_plain(std::span<const float>(l.data(), static_cast<std::size_t>(l.size())), params, rng, &token));
        return token;
      },
      "logits"_a, "temperature"_a = 1.0f, "top_k"_a = 0, "top_p"_a = 1.0f, "greedy"_a = false, "rng"_a,
      "The library's plain sampler (no watermark).");

  py::class_<Processor>(m, "_Processor")
      .def(py::init<py::handle, py::handle, py::object, float, py::object, float, py::handle, py::object>(), "key"_a,
           "profile"_a = py::none(), "vocab_size"_a = 0, "temperature"_a = 1.0f, "top_k"_a = 0, "top_p"_a = 1.0f,
           "account"_a = py::none(), "route_alpha"_a = py::none())
      .def_property_readonly("profile", &Processor::profile)
      .def_property_readonly("account", &Processor::account)
      .def_property_readonly("route_alpha", &Processor::route_alpha)
      .def_property_readonly("vocab_size", &Processor::vocab_size)
      .def("apply", &Processor::apply, "input_ids"_a, "scores"_a)
      .def("green_masks", &Processor::green_masks, "input_ids"_a, "vocab_size"_a)
      .def("sample", &Processor::sample, "context"_a, "logits"_a, "temperature"_a = 1.0f, "top_k"_a = 0,
           "top_p"_a = 1.0f, "greedy"_a = false, "rng"_a);

  py::class_<NgramModel, std::shared_ptr<NgramModel>>(m, "NgramModel",
                                                      "The reference n-gram language model over token ids")
      .def(py::init(&load_model), "path"_a = py::none(), "Loads a model file (None: the bundled default model).")
      .def_property_readonly("vocab_size", &NgramModel::vocab_size)
      .def_property_readonly("order", &NgramModel::order)
      .def_property_readonly("tokenizer_sha256", &NgramModel::tokenizer_sha256)
      .def(
          "next_logits",
          [](const NgramModel& model, py::handle context) {
            const auto ctx = ids_arg(context, "context");
            py::array_t<float> out(model.vocab_size());
            float* o = out.mutable_data();
            py::gil_scoped_release nogil;
            check(model.next_logits(ctx, std::span<float>(o, model.vocab_size())));
            return out;
          },
          "context"_a, "Next-token logits (float32, vocab_size) after `context`.")
      .def(
          "predict_top1",
          [](const NgramModel& model, py::handle ids) {
            const auto v = ids_arg(ids, "ids");
            std::vector<std::uint32_t> out;
            {
              py::gil_scoped_release nogil;
              check(predict_top1(model, v, &out));
            }
            return out;
          },
          "ids"_a, "Teacher-forced top-1 predictions: entry i is the argmax after ids[0..i).");

  // The pieces of a distributed audit and corpus scan (isotope.dask;
  // isotope/shard.hpp).
  m.def("_shard_closed", &shard_closed_py, "tokenizer"_a, "normalize"_a, "vocab_size"_a, "profile"_a, "records"_a,
        "prompt_exclusion"_a, "parts"_a);
  m.def("_shard_open", &shard_open_py, "tokenizer"_a, "normalize"_a, "vocab_size"_a, "profile"_a, "texts"_a,
        "predictions"_a, "dedup"_a, "parts"_a);
  m.def("_shard_windows", &shard_windows_py, "tokenizer"_a, "normalize"_a, "vocab_size"_a, "profile"_a, "texts"_a,
        "parts"_a);
  m.def("_shard_admit", &shard_admit_py, "profile"_a, "chunks"_a, "offsets"_a, "filter"_a, "dedup"_a,
        "keep_seen"_a = false);
  // The set of a run's admitted tuples (isotope::ShardSeen): it stays in the
  // process that made it; pickled, it travels as nothing, and
  // _shard_dedup_runs then builds the set again from the run's tuples.
  py::class_<ShardSeen, std::shared_ptr<ShardSeen>>(m, "_ShardSeen")
      .def(py::pickle([](const ShardSeen&) { return py::tuple(); },
                      [](const py::tuple&) { return std::make_shared<ShardSeen>(); }))
      .def_property_readonly("kept", [](const ShardSeen& s) { return s.set != nullptr; });
  m.def("_shard_dedup_runs", &shard_dedup_runs_py, "profile"_a, "runs"_a, "local"_a, "seen"_a);
  m.def("_shard_score_bytes", &shard_score_bytes_py, "key"_a, "seed"_a, "controls"_a, "profile"_a, "windows"_a,
        "tokens"_a, "threads"_a);
  m.def("_curve_checkpoints", &curve_checkpoints, "total"_a, "points"_a);
  m.def(
      "_encode_normalized",
      [](const Tokenizer& t, py::handle normalize, py::handle text) {
        TextOrIds x = text_or_ids(text, "text");
        std::vector<std::uint32_t> ids;
        check(encode_into(&t, normalizers_arg(normalize), t.vocab_size(), x, &ids));
        return ids;
      },
      "tokenizer"_a, "normalize"_a, "text"_a);
  m.def(
      "holm",
      [](const std::vector<double>& lp, double alpha) {
        const HolmResult h = holm(lp, alpha);
        return py::make_tuple(h.rejected, h.adjusted_log10_p);
      },
      "log10_p"_a, "alpha"_a,
      "Holm's step-down correction over p-values given as log10: (rejected, "
      "adjusted log10 p-values).");
  m.def(
      "_shard_sums_exact", [](py::handle p) { return shard_sums_exact(profile_arg(p)); }, "profile"_a);
  m.def("_detect_records", &detect_records_py, "key"_a, "tokenizer"_a, "normalize"_a, "vocab_size"_a, "profile"_a,
        "records"_a, "dedup"_a);
  m.def(
      "_result_from_statistic",
      [](py::handle profile, double statistic, std::uint64_t scored) {
        DetectionResult r;
        check(result_from_statistic(profile_arg(profile), statistic, scored, &r));
        return py::dict("log10_p"_a = r.log10_p, "p_value"_a = r.p_value, "z"_a = r.z);
      },
      "profile"_a, "statistic"_a, "scored"_a);
  py::class_<KeyParcel>(m, "_KeyParcel")
      .def(py::init([](py::handle key) { return KeyParcel{key_arg(key)}; }), "key"_a)
      .def("key", [](const KeyParcel& p) { return copy_key(p.key); })
      .def("__repr__", [](const KeyParcel&) { return std::string("<isotope key parcel>"); })
      .def(py::pickle(
          [](const KeyParcel& p) {
            return py::make_tuple(py::bytes(reinterpret_cast<const char*>(p.key.data()), KEY_BYTES));
          },
          [](py::tuple t) {
            if (t.size() != 1) value_error("bad key parcel");
            const std::string b = t[0].cast<std::string>();
            KeyParcel p;
            check(Key::from_bytes(reinterpret_cast<const std::uint8_t*>(b.data()), b.size(), &p.key));
            return p;
          }));
  m.def("_audit_closed", &audit_closed, "key"_a, "profile"_a, "records"_a, "teacher"_a, "dedup"_a, "prompt_exclusion"_a,
        "threshold"_a, "control"_a, "control_seed"_a, "accounts"_a = py::none(), "route_alpha"_a = 0.0);
  m.def("_audit_open", &audit_open, "key"_a, "profile"_a, "teacher"_a, "predictions"_a, "vocab_size"_a, "dedup"_a,
        "threshold"_a, "control"_a, "control_seed"_a, "accounts"_a = py::none(), "route_alpha"_a = 0.0);
  m.def("_audit_open_model", &audit_open_model, "key"_a, "profile"_a, "teacher"_a, "model"_a, "dedup"_a, "threshold"_a,
        "control"_a, "control_seed"_a, "accounts"_a = py::none(), "route_alpha"_a = 0.0);
  m.def(
      "account_key",
      [](py::handle master, const std::string& id) {
        Key k;
        check(account_key(key_arg(master), id, &k));
        return k;
      },
      "master"_a, "id"_a,
      "The key of account `id` under the master key: BLAKE2b-256 keyed with the master key over "
      "\"isotope/v1/account-key\" || uint32le(len(id)) || id (docs/spec.md, \"Attribution\"). ValueError for an "
      "identifier that is empty, longer than 256 bytes, or holds a control character or a space at either end.");
  m.attr("ROUTE_ALPHA_DEFAULT") = ROUTE_ALPHA_DEFAULT;
  m.attr("ROUTE_ALPHA_NESTED_DEFAULT") = ROUTE_ALPHA_NESTED_DEFAULT;
  m.def(
      "route_alpha_default", [](py::handle profile) { return route_alpha_default(profile_arg(profile)); }, "profile"_a,
      "The default routing share of attribution for the profile's scheme: ROUTE_ALPHA_NESTED_DEFAULT (0.6) for a "
      "scheme that nests the account's mark in the master key's (kgw), ROUTE_ALPHA_DEFAULT (0.4) for one that routes "
      "(docs/attribution.md).");
  m.def("argmax_rows", &argmax_rows, "logits"_a,
        "Row-wise argmax of (seq, vocab) logits as uint32, lowest id on ties.");
}
