#include "report_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "common.hpp"
#include "evidence.hpp"
#include "isotope/detect.hpp"
#include "isotope/scheme.hpp"

namespace isotope::cli {

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

using json = nlohmann::json;

// j[key], or null when j is not an object or has no such member (operator[]
// of a const json must not be asked for a missing key).
const json& member(const json& j, const char* key) {
  static const json null_json;
  if (!j.is_object()) return null_json;
  auto it = j.find(key);
  return it != j.end() ? *it : null_json;
}

double num(const json& j, const char* key, double dflt) {
  if (!j.is_object()) return dflt;
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : dflt;
}
std::string str(const json& j, const char* key, const std::string& dflt = "") {
  if (!j.is_object()) return dflt;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}
bool flag(const json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string count(double v) { return fmt("%.0f", v); }

// 10^k with a superscript.
// (Exponents are doubles: a report's log10 p may lie far beyond any integer.)
std::string pow10_html(double k) {
  if (k == 0) return "1";
  return "10<sup>" + (std::fabs(k) < 1e15 ? fmt("%.0f", k) : fmt("%.6g", k)) + "</sup>";
}
std::string p_html(double log10_p) {
  if (log10_p > -4.0) return fmt("%.3g", std::pow(10.0, log10_p));
  const double e = std::floor(log10_p);
  const double mant = std::pow(10.0, log10_p - e);
  return (std::isfinite(mant) && std::fabs(e) < 1e15 ? fmt("%.1f", mant) + " &times; " : std::string()) +
         pow10_html(e);
}
std::string odds_html(double log10_p) {
  const double x = -log10_p;
  if (x < 0.3) return "better than even";
  if (x < 6.0) return "about 1 in " + fmt("%.0f", std::pow(10.0, x));
  return "about 1 in " + pow10_html(std::floor(x));
}

std::vector<double> doubles(const json& a) {
  std::vector<double> v;
  if (!a.is_array()) return v;
  for (const auto& x : a)
    if (x.is_number()) v.push_back(x.get<double>());
  return v;
}

// Chart of log10 p against scored tuples: the real key and the controls.
// With `zoom`, the vertical scale is set by the controls and the threshold
// only; the committed key's curve is clipped where it leaves the panel.
std::string chart_svg(const json& curve, double threshold, const std::string& id, bool zoom = false) {
  const std::vector<double> xs = doubles(curve.is_object() && curve.contains("scored") ? curve["scored"] : json());
  const std::vector<double> real = doubles(curve.is_object() && curve.contains("log10_p") ? curve["log10_p"] : json());
  std::vector<std::vector<double>> controls;
  if (curve.is_object() && curve.contains("controls_log10_p") && curve["controls_log10_p"].is_array())
    for (const auto& c : curve["controls_log10_p"]) controls.push_back(doubles(c));
  const double W = 720, H = 350, L = 70, R = 20, T = 20, B = 72;
  std::ostringstream s;
  s << "<svg id=\"" << id << "\" class=\"chart\" viewBox=\"0 0 " << W << ' '
    << H << "\" role=\"img\" aria-label=\"p-value as scored tokens accumulate\">";
  if (xs.empty() || real.size() != xs.size()) {
    s << "<text x=\"" << W / 2 << "\" y=\"" << H / 2 << "\" text-anchor=\"middle\">No tokens were scored.</text></svg>";
    return s.str();
  }
  double ymin = std::log10(threshold);
  if (!zoom)
    for (double v : real) ymin = std::min(ymin, v);
  for (const auto& c : controls)
    for (double v : c) ymin = std::min(ymin, v);
  if (zoom) ymin -= 1;  // room below the threshold
  // A round number of decades below the lowest point: a step of 1, 2 or 5
  // times a power of ten, so that at most 8 grid lines are drawn however low
  // the p-values go.
  double step = 1;
  for (double decade = 1; -ymin / step > 8 && std::isfinite(decade); decade *= 10)
    for (double m : {1.0, 2.0, 5.0}) {
      step = m * decade;
      if (-ymin / step <= 8) break;
    }
  const double lines = std::max(1.0, std::ceil(-ymin / step));
  if (std::isfinite(-step * lines)) ymin = -step * lines;
  const double xmax = std::max(1.0, xs.back());
  auto X = [&](double x) { return L + (W - L - R) * x / xmax; };
  auto Y = [&](double y) { return T + (H - T - B) * (y / ymin); };
  s << "<defs><clipPath id=\"" << id << "-clip\"><rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R
    << "\" height=\"" << H - T - B << "\"/></clipPath></defs>";
  s << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"#fff\" stroke=\"#999\"/>";
  for (int i = 0; i <= 9; ++i) {
    const double y = -step * i;
    if (!(y >= ymin - 1e-9 * step)) break;
    s << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << Y(y) << "\" y2=\"" << Y(y)
      << "\" stroke=\"#e4e4e4\"/>";
    s << "<text x=\"" << L - 6 << "\" y=\"" << Y(y) + 4 << "\" text-anchor=\"end\" font-size=\"12\">"
      << (y == 0 ? std::string("1") : "10<tspan dy=\"-6\" font-size=\"9\">" + fmt(std::fabs(y) < 1e15 ? "%.0f" : "%.3g", y) + "</tspan>")
      << "</text>";
  }
  for (int k = 0; k <= 4; ++k) {
    const double x = std::round(xmax * k / 4);
    s << "<text x=\"" << X(x) << "\" y=\"" << H - B + 18 << "\" text-anchor=\"middle\" font-size=\"12\">"
      << count(x) << "</text>";
  }
  s << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - B + 36
    << "\" text-anchor=\"middle\" font-size=\"13\">tokens scored so far</text>";
  s << "<text transform=\"translate(16," << (T + H - B) / 2
    << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">p-value (lower = stronger evidence)</text>";
  const double ty = Y(std::log10(threshold));
  s << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << ty << "\" y2=\"" << ty
    << "\" stroke=\"#c0392b\" stroke-dasharray=\"6 4\"/>";
  auto poly = [&](const std::vector<double>& ys, const char* style, const char* cls) {
    if (ys.size() != xs.size()) return;
    s << "<polyline class=\"" << cls << "\" clip-path=\"url(#" << id << "-clip)\" fill=\"none\" " << style
      << " points=\"" << X(0) << ',' << Y(0);
    for (std::size_t i = 0; i < xs.size(); ++i) s << ' ' << fmt("%.1f", X(xs[i])) << ',' << fmt("%.1f", Y(ys[i]));
    s << "\"/>";
  };
  for (const auto& c : controls) poly(c, "stroke=\"#9a9a9a\" stroke-width=\"1.2\"", "control");
  poly(real, "stroke=\"#1f4e9c\" stroke-width=\"3\"", "real");
  if (zoom) {
    // Where the committed key leaves the panel.
    for (std::size_t i = 0; i < real.size(); ++i)
      if (real[i] < ymin) {
        s << "<text x=\"" << fmt("%.1f", std::min(X(xs[i]) + 6, W - R - 230)) << "\" y=\"" << H - B - 8
          << "\" font-size=\"12\" fill=\"#1f4e9c\">the committed key continues below, to p = "
          << (real.back() > -4.0 ? fmt("%.3g", std::pow(10.0, real.back()))
                                 : "10<tspan dy=\"-6\" font-size=\"9\">" + fmt("%.0f", std::floor(real.back())) +
                                       "</tspan>")
          << "</text>";
        break;
      }
  }
  // Legend, under the axis.
  const double ly = H - 10;
  s << "<g font-size=\"12\"><line x1=\"" << L << "\" x2=\"" << L + 28 << "\" y1=\"" << ly - 4 << "\" y2=\""
    << ly - 4 << "\" stroke=\"#1f4e9c\" stroke-width=\"3\"/><text x=\"" << L + 34 << "\" y=\"" << ly
    << "\">the committed key</text>";
  if (!controls.empty())
    s << "<line x1=\"" << L + 200 << "\" x2=\"" << L + 228 << "\" y1=\"" << ly - 4 << "\" y2=\"" << ly - 4
      << "\" stroke=\"#9a9a9a\" stroke-width=\"1.2\"/><text x=\"" << L + 234 << "\" y=\"" << ly << "\">"
      << controls.size() << " random keys (controls)</text>";
  s << "<line x1=\"" << L + 430 << "\" x2=\"" << L + 458 << "\" y1=\"" << ly - 4 << "\" y2=\"" << ly - 4
    << "\" stroke=\"#c0392b\" stroke-dasharray=\"6 4\"/><text x=\"" << L + 464 << "\" y=\"" << ly
    << "\">decision threshold</text>";
  s << "</g></svg>";
  return s.str();
}

bool needs_zoom(const json& curve, double threshold) {
  if (!curve.is_object() || !curve.contains("log10_p")) return false;
  double real_min = 0, other_min = std::log10(threshold);
  for (double v : doubles(curve["log10_p"])) real_min = std::min(real_min, v);
  if (curve.contains("controls_log10_p") && curve["controls_log10_p"].is_array())
    for (const auto& c : curve["controls_log10_p"])
      for (double v : doubles(c)) other_min = std::min(other_min, v);
  return real_min < 6 * other_min;
}

std::string sample_html(const json& sample, const json& r) {
  if (!sample.is_array() || sample.empty()) return "";
  std::ostringstream s;
  s << "<p class=\"sample\">";
  for (const auto& piece : sample) {
    const int g = piece.is_object() && piece.contains("green") && piece["green"].is_number_integer()
                      ? piece["green"].get<int>()
                      : -1;
    s << "<span class=\"" << (g > 0 ? "g" : g == 0 ? "r" : "n") << "\">" << html_escape(str(piece, "text"))
      << "</span>";
  }
  s << "&hellip;</p><p class=\"legend\"><span class=\"g\">green token</span> <span class=\"r\">other scored "
       "token</span> <span class=\"n\">not scored</span>";
  if (r.is_object() && r.contains("skipped") && r["skipped"].is_object()) {
    const json& k = r["skipped"];
    s << " Not scored in all: " << count(num(k, "short_context", 0)) << " without a full context, "
      << count(num(k, "duplicate", 0)) << " repeats, " << count(num(k, "prompt", 0)) << " inside a prompt, "
      << count(num(k, "filter", 0)) << " removed by the filter.";
  }
  s << "</p>";
  return s.str();
}

// The profile line of "How the score was computed", with the scheme's test in plain words.
std::string scheme_rule_html(const json& prof) {
  std::ostringstream s;
  s << "<li>Watermark profile: <code>" << html_escape(str(prof, "name")) << "</code>";
  if (str(prof, "scheme") == "kgw") {
    s << ": a share &gamma; = " << html_escape(fmt("%g", num(prof, "gamma", 0.25)))
      << " of the vocabulary is green at each step, chosen by the key and the "
      << html_escape(count(num(prof, "context_width", 2))) << " previous tokens.</li>";
  } else if (const Scheme* sc = find_scheme(str(prof, "scheme")); sc != nullptr) {
    s << " (" << html_escape(std::string(sc->title())) << "). " << html_escape(std::string(sc->explanation()))
      << "</li>";
  } else {
    s << ".</li>";
  }
  return s.str();
}

// Counts and rules of one scored text or audit.
std::string counts_html(const json& r) {
  std::ostringstream s;
  const double scored = num(r, "scored", 0), green = num(r, "green", 0), g = num(r, "gamma_effective", 0.25);
  s << "<table class=\"counts\"><tr><th>tokens read</th><td>" << count(num(r, "tokens", 0)) << "</td></tr>"
    << "<tr><th>tokens scored</th><td>" << count(scored) << "</td></tr>";
  if (r.is_object() && r.contains("green"))
    s << "<tr><th>green among them</th><td>" << count(green) << " (" << fmt("%.1f", 100 * num(r, "green_fraction", 0))
      << "%)</td></tr>"
      << "<tr><th>expected by chance</th><td>" << fmt("%.1f", scored * g) << " (" << fmt("%.1f", 100 * g)
      << "%)</td></tr>";
  else
    s << "<tr><th>score (sum over " << count(num(r, "trials", 0)) << " trials)</th><td>"
      << fmt("%.6g", num(r, "statistic", 0)) << " (mean " << fmt("%.4g", num(r, "mean_score", 0)) << ")</td></tr>"
      << "<tr><th>expected by chance</th><td>" << fmt("%.6g", num(r, "trials", 0) * num(r, "null_mean", 0))
      << " (mean " << fmt("%.4g", num(r, "null_mean", 0)) << ")</td></tr>";
  s << ""
    << "<tr><th>p-value</th><td>" << p_html(num(r, "log10_p", 0)) << " (log<sub>10</sub> p = "
    << fmt("%.2f", num(r, "log10_p", 0)) << ")</td></tr>"
    << "<tr><th>z-score (for reference)</th><td>" << fmt("%.2f", num(r, "z", 0)) << "</td></tr>";
  if (r.is_object() && r.contains("skipped") && r["skipped"].is_object()) {
    const json& k = r["skipped"];
    s << "<tr><th>not scored</th><td>" << count(num(k, "duplicate", 0)) << " repeats, "
      << count(num(k, "short_context", 0)) << " without a full context, " << count(num(k, "prompt", 0))
      << " inside a prompt, " << count(num(k, "filter", 0)) << " outside the filter</td></tr>";
  }
  s << "</table>";
  return s.str();
}

std::vector<double> control_values(const json& r) {
  for (const char* k : {"controls", "control"})
    if (r.is_object() && r.contains(k) && r[k].is_object() && r[k].contains("log10_p")) return doubles(r[k]["log10_p"]);
  return {};
}

// Without a curve: the final p-value of the real key against each control key.
std::string strip_svg(double real, const std::vector<double>& controls, double threshold, const std::string& id) {
  const double W = 720, H = 130, L = 40, R = 40;
  double lo = std::min(real, std::log10(threshold));
  for (double v : controls) lo = std::min(lo, v);
  lo = std::floor(lo) - 1;
  auto X = [&](double v) { return W - R - (W - L - R) * (v / lo); };
  std::ostringstream s;
  s << "<svg id=\"" << id << "\" class=\"chart\" viewBox=\"0 0 " << W << ' ' << H
    << "\" role=\"img\" aria-label=\"p-value of the committed key against random keys\">";
  s << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"60\" y2=\"60\" stroke=\"#999\"/>";
  double step = 1;
  for (double decade = 1; -lo / step > 8; decade *= 10)
    for (double m : {1.0, 2.0, 5.0}) {
      step = m * decade;
      if (-lo / step <= 8) break;
    }
  for (int i = 0; i <= 9 && -step * i >= lo; ++i) {
    const double v = -step * i;
    s << "<text x=\"" << X(v) << "\" y=\"82\" text-anchor=\"middle\" font-size=\"11\">"
      << (v == 0 ? std::string("1") : "10<tspan dy=\"-5\" font-size=\"8\">" + fmt(std::fabs(v) < 1e15 ? "%.0f" : "%.3g", v) + "</tspan>") << "</text>";
  }
  s << "<line x1=\"" << X(std::log10(threshold)) << "\" x2=\"" << X(std::log10(threshold))
    << "\" y1=\"35\" y2=\"70\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/>";
  for (double v : controls) s << "<circle class=\"control\" cx=\"" << fmt("%.1f", X(v)) << "\" cy=\"60\" r=\"4\" fill=\"#9a9a9a\"/>";
  s << "<circle class=\"real\" cx=\"" << fmt("%.1f", X(real)) << "\" cy=\"60\" r=\"7\" fill=\"#1f4e9c\"/>";
  s << "<text x=\"" << (L + W - R) / 2 << "\" y=\"104\" text-anchor=\"middle\" font-size=\"12\">p-value (further right = "
       "stronger evidence)</text><g font-size=\"12\"><circle cx=\"" << L + 6 << "\" cy=\"20\" r=\"6\" fill=\"#1f4e9c\"/><text x=\""
    << L + 16 << "\" y=\"24\">the committed key</text><circle cx=\"" << L + 176 << "\" cy=\"20\" r=\"4\" fill=\"#9a9a9a\"/><text x=\""
    << L + 186 << "\" y=\"24\">" << controls.size() << " random keys (controls)</text><line x1=\"" << L + 380 << "\" x2=\"" << L + 380
    << "\" y1=\"12\" y2=\"28\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/><text x=\"" << L + 388
    << "\" y=\"24\">decision threshold</text></g></svg>";
  return s.str();
}

std::string controls_sentence(const json& r) {
  const std::vector<double> c = control_values(r);
  if (c.empty()) return "";
  const auto [lo, hi] = std::minmax_element(c.begin(), c.end());
  return "<p>As a control, the same test was run under " + std::to_string(c.size()) +
         " random keys that were never used to write anything. Their p-values range from " + p_html(*lo) + " to " +
         p_html(*hi) + ": this is what &ldquo;no watermark&rdquo; looks like.</p>";
}

}  // namespace

std::string report_html(const json& doc, const std::string& report_name, const SignerOutcome& signer_check) {
  const std::string command = str(doc, "command");
  const json& result = member(doc, "result");
  const json& opts = member(doc, "options");
  const json& prof = member(doc, "profile");
  const std::string commitment = str(doc, "commitment");
  const double threshold = num(opts, "threshold", num(result, "threshold", 1e-4));

  // Items shown: each text of a detect report, or the audit as a whole.
  std::vector<const json*> items;
  if (command == "detect" && result.contains("texts") && result["texts"].is_array())
    for (const auto& t : result["texts"]) items.push_back(&t);
  else
    items.push_back(&result);

  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       "<title>isotope evidence report</title><style>\n"
       "body{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;color:#222;max-width:190mm;margin:0 auto;"
       "padding:10mm 8mm;line-height:1.45;font-size:11pt}\n"
       "h1{font-size:20pt;margin:0 0 2mm}h2{font-size:14pt;margin:6mm 0 2mm;border-bottom:1px solid #ccc}"
       "h3{font-size:12pt;margin:4mm 0 1mm}\n"
       ".meta{color:#555;font-size:9.5pt}.signer{padding:1mm 3mm;font-size:10pt}.signer.unchecked{border:2px "
       "solid #c62828;background:#fdecea}.signer.ok{border:1px solid #2e7d32}.answer{padding:3mm 5mm;border-radius:2mm;border:2px solid}"
       ".answer.yes{background:#eaf4ea;border-color:#2e7d32}.answer.no{background:#f3f3f3;border-color:#888}"
       ".answer .big{font-size:14pt;font-weight:bold;margin:1mm 0}\n"
       "table{border-collapse:collapse;margin:2mm 0;font-size:10pt}th,td{text-align:left;padding:1mm 3mm;"
       "border-bottom:1px solid #e3e3e3;vertical-align:top}th{font-weight:600}\n"
       ".hash{font-family:'DejaVu Sans Mono',monospace;font-size:8pt;word-break:break-all}"
       "svg.chart{width:100%;height:auto;max-width:180mm}\n"
       ".sample{white-space:pre-wrap;font-family:'DejaVu Serif',Georgia,serif;border:1px solid #ddd;"
       "padding:3mm;background:#fcfcfc}.g{background:#9be39b}.r{}.n{color:#999}"
       ".legend span{padding:0 2mm;margin-right:3mm;border:1px solid #ddd}\n"
       "code{overflow-wrap:anywhere}pre{background:#f4f4f4;padding:2mm 3mm;white-space:pre-wrap;font-size:9pt}\n"
       "section,figure,table{break-inside:avoid}figure{margin:2mm 0}"
       "@page{size:A4;margin:14mm}@media print{body{padding:0;max-width:none}a{color:inherit}}\n"
       "</style></head><body>\n";
  h << "<header><h1>Watermark evidence report</h1><p class=\"meta\">isotope " << html_escape(command)
    << " report &middot; made " << html_escape(str(doc, "created_utc")) << " &middot; isotope "
    << html_escape(str(member(doc, "tool"), "version"));
  if (member(doc, "tool").contains("revision") && member(doc, "tool")["revision"].is_string())
    h << " (revision <code>" << html_escape(member(doc, "tool")["revision"].get<std::string>()) << "</code>"
      << (member(doc, "tool").contains("modified") && member(doc, "tool")["modified"].is_boolean() && member(doc, "tool")["modified"].get<bool>()
              ? ", with uncommitted changes"
              : "")
      << ")";
  h << " &middot; file " << html_escape(report_name) << "</p>";
  if (signer_check.checked)
    h << "<p class=\"signer ok\">Signer checked: the report is signed by the key checked against "
      << html_escape(signer_check.against) << ".</p>";
  else
    h << "<p class=\"signer unchecked\"><b>Signer not checked.</b> The signature is valid, but only against the "
         "key the report itself names, and anyone can sign a report with a key of their own. Nobody compared "
         "that key with the expected signer's when this page was made.</p>";
  h << "</header>\n";

  // The question.
  h << "<section id=\"question\"><h2>The question</h2><p>";
  if (command == "detect") {
    h << "Was the text below written by a model that carried <b>our watermark</b>: a secret key whose public "
         "fingerprint (commitment) is <span class=\"hash\">"
      << html_escape(commitment) << "</span>?</p><p>";
    if (str(member(doc, "profile"), "scheme") == "kgw")
      h << "The watermark makes a model prefer a secret, key-dependent "
        << html_escape(fmt("%g", 100.0 * num(member(doc, "profile"), "gamma", 0.25)))
        << "% of all words (&ldquo;green&rdquo; tokens) at every step. Text written "
           "without the key contains green tokens at that chance rate only.";
    else if (const Scheme* sc = find_scheme(str(member(doc, "profile"), "scheme")); sc != nullptr)
      h << html_escape(std::string(sc->explanation()));
  } else {
    h << "Was the suspect model trained on text produced by our watermarked model, whose secret key has the "
         "public fingerprint (commitment) <span class=\"hash\">"
      << html_escape(commitment) << "</span>?</p><p>A model that learns from watermarked text picks up a trace of "
                                    "the watermark: it prefers the key's &ldquo;green&rdquo; tokens more often "
                                    "than chance.";
  }
  h << "</p></section>\n";

  // The answer. A result computed with a validity rule switched off answers nothing.
  const auto item_valid = [](const json& it) {
    if (it.contains("valid") && it["valid"].is_boolean() && !it["valid"].get<bool>()) return false;
    if (it.contains("rules") && it["rules"].is_object()) {
      const json& r = it["rules"];
      if (r.contains("dedup") && r["dedup"].is_boolean() && !r["dedup"].get<bool>()) return false;
    }
    return true;
  };
  // A verdict that contradicts its own p-value is refused: the page would
  // show one and say the other.
  for (const json* it : items) {
    if (!it->is_object()) continue;
    const double t = num(*it, "threshold", threshold);
    const bool by_p = num(*it, "scored", 0) > 0 && significant(num(*it, "log10_p", 0), t);  // the library's rule
    for (const char* field : {"watermarked", "flagged"}) {
      auto f = it->find(field);
      if (f == it->end()) continue;
      const bool expected = by_p && (std::string(field) == "watermarked" || item_valid(*it));
      if (!f->is_boolean() || f->get<bool>() != expected)
        throw Failure{EXIT_REPORT_MALFORMED, std::string("the report's verdict \"") + field + "\" contradicts its " +
                                                 "p-value (log10 p = " + fmt("%g", num(*it, "log10_p", 0)) +
                                                 ", threshold " + fmt("%g", t) + "): refusing to show it"};
    }
  }
  std::size_t flagged = 0, invalid = 0;
  double best = 0;
  const json* best_item = nullptr;
  for (const json* it : items) {
    if (!item_valid(*it)) {
      ++invalid;
      continue;
    }
    const double lp = num(*it, "log10_p", 0);
    if (flag(*it, "watermarked") || flag(*it, "flagged") || (num(*it, "scored", 0) > 0 && significant(lp, threshold))) ++flagged;
    if (best_item == nullptr || lp < best) best_item = it;
    best = std::min(best, lp);
  }
  const bool yes = flagged > 0;
  h << "<section id=\"answer\" class=\"answer " << (yes ? "yes" : "no") << "\"><h2>The answer</h2><p class=\"big\">";
  if (invalid == items.size()) {
    h << "No valid answer: a rule that keeps the p-value valid (counting each context and token once, or ignoring "
         "contexts inside the prompts) was switched off when this result was computed, so its p-value proves "
         "nothing either way.</p></section>\n";
  } else {
    if (command == "detect") {
      if (items.size() == 1)
        h << (yes ? "Yes: the text carries the watermark of the committed key."
                  : "No: the text does not show the watermark at the recorded threshold.");
      else
        h << "The watermark of the committed key was found in " << flagged << " of " << items.size() << " texts.";
    } else {
      h << (yes ? "Yes: the suspect's outputs show the watermark's trace: evidence that it was trained on text "
                  "watermarked with this key."
                : "No: the suspect's outputs do not show the watermark's trace at the recorded threshold.");
    }
    h << "</p><p>";
    const std::string who =
        command == "detect" ? "text written without this key" : "a model never trained on text watermarked with this key";
    if (command == "detect" && items.size() > 1 && best_item != nullptr)
      h << "The figures below are for the text with the lowest p-value, <b>" << html_escape(str(*best_item, "input"))
        << "</b>; each text has its own section. ";
    if (yes)
      h << "The odds are " << odds_html(best) << " that " << who << " scores this high (p = " << p_html(best)
        << "). The decision rule recorded in the report was p &le; " << html_escape(fmt("%g", threshold)) << ".";
    else
      h << "A score like this is unremarkable for " << who << " (odds " << odds_html(best) << ", p = "
        << p_html(best) << "); the decision rule recorded in the report was p &le; " << html_escape(fmt("%g", threshold))
        << ".";
    h << "</p></section>\n";
  }

  // Each item.
  for (std::size_t i = 0; i < items.size() && i < 20; ++i) {
    const json& r = *items[i];
    h << "<section class=\"item\"><h2>";
    if (command == "detect") h << "Text: " << html_escape(str(r, "input"));
    else h << "The evidence";
    h << "</h2>";
    if (r.contains("curve")) {
      h << "<figure>" << chart_svg(r["curve"], threshold, i == 0 ? "pvalue-chart" : "pvalue-chart-" + std::to_string(i + 1))
        << "<figcaption>How the p-value falls as more tokens are scored. The thick blue line is the committed key; "
           "the grey lines are random keys, which show what chance alone produces. Below the dashed red line the "
           "decision rule says "
        << (command == "detect" ? "&ldquo;watermarked&rdquo;" : "&ldquo;the watermark's trace&rdquo;")
        << ".</figcaption></figure>";
      if (needs_zoom(r["curve"], threshold))
        h << "<figure>"
          << chart_svg(r["curve"], threshold, (i == 0 ? "pvalue-zoom" : "pvalue-zoom-" + std::to_string(i + 1)), true)
          << "<figcaption>The same chart at the scale of the random keys, so that they and the threshold can be "
             "seen: the committed key's curve leaves this panel at the bottom.</figcaption></figure>";
    } else if (!control_values(r).empty()) {
      h << "<figure>" << strip_svg(num(r, "log10_p", 0), control_values(r), threshold,
                                   i == 0 ? "pvalue-chart" : "pvalue-chart-" + std::to_string(i + 1))
        << "<figcaption>The p-value of the committed key (blue) against the same test under random keys (grey), "
           "which show what chance alone produces. Right of the dashed red line the decision rule says "
           "&ldquo;the watermark's trace&rdquo;.</figcaption></figure>";
    }
    if (r.is_object() && r.contains("valid") && r["valid"].is_boolean() && !r["valid"].get<bool>()) {
      h << "<p><b>Warning: a rule that makes the p-value valid was switched off; this p-value is not valid.</b></p>";
    }
    h << controls_sentence(r);
    h << "<h3>Counts</h3>" << counts_html(r);
    if (r.contains("sample")) {
      if (command != "audit")
        h << "<h3>Sample of the text, with green tokens highlighted</h3>";
      else if (str(r, "mode") == "open")
        h << "<h3>Sample of our watermarked text as read by the suspect</h3><p>Each token is highlighted when the "
             "suspect's own prediction at that position was green.</p>";
      else
        h << "<h3>Sample of the suspect's answers, with green tokens highlighted</h3>";
      h << sample_html(r["sample"], r);
    }
    h << "</section>\n";
  }
  if (items.size() > 20) h << "<p>(" << items.size() - 20 << " more texts are in the JSON report.)</p>";

  // Rules.
  h << "<section id=\"rules\"><h2>How the score was computed</h2><ul>"
    << scheme_rule_html(prof)
    << "<li>Each (context, token) pair is counted only the first time it occurs"
    << (flag(opts, "dedup") || !opts.contains("dedup") ? "" : " &mdash; <b>this rule was switched off: the p-value is not valid</b>")
    << ", so repeated text cannot inflate the score.</li>"
    << (str(prof, "scheme") == "kgw"
            ? "<li>Under the hypothesis that the text does not depend on the key, the number of green tokens follows a "
              "binomial distribution; the p-value is its exact upper tail.</li>"
            : "<li>Under the hypothesis that the text does not depend on the key, the summed score follows the "
              "scheme's null law stated above; the p-value is its exact upper tail.</li>")
    << "<li>Decision rule: watermarked when p &le; " << html_escape(fmt("%g", threshold)) << ".</li>"
    << "<li>Options: <code>" << html_escape(opts.dump()) << "</code></li></ul></section>\n";

  // Inputs.
  h << "<section id=\"inputs\"><h2>Inputs (fingerprinted)</h2><table><tr><th>role</th><th>name</th><th>bytes</th>"
       "<th>SHA-256</th></tr>";
  if (member(doc, "inputs").is_array())
    for (const auto& in : member(doc, "inputs"))
      h << "<tr><td>" << html_escape(str(in, "role")) << "</td><td>" << html_escape(str(in, "name")) << "</td><td>"
        << count(num(in, "size", 0)) << "</td><td class=\"hash\">" << html_escape(str(in, "sha256")) << "</td></tr>";
  h << "</table></section>\n";

  // Verification.
  const std::string signer = str(member(doc, "signature"), "public_key");
  h << "<section id=\"verify\"><h2>How to check this report</h2>"
       "<p>This page is a reading aid; the evidence is the signed JSON file <code>"
    << html_escape(report_name)
    << "</code>. Its Ed25519 signature was valid when this page was made. It was signed by the key</p>"
       "<p class=\"hash\">"
    << html_escape(signer) << "</p><p>"
    << (signer_check.checked ? "That key was checked against " + html_escape(signer_check.against) + "."
                             : std::string("That key was <b>not</b> checked against the expected signer's public key "
                                           "when this page was made."))
    << "</p><p>Anyone can check the signature, and that no byte of the report has changed:</p><pre>isotope verify "
    << html_escape(report_name)
    << " --signer SIGNER.pub</pre><p>Once the watermark key is revealed, an independent expert can check that it is "
       "the key committed to above, that the input files are the ones fingerprinted here, and recompute every "
       "number exactly:</p><pre>isotope verify "
    << html_escape(report_name)
    << " --signer SIGNER.pub --key WATERMARK.key --inputs FILE...</pre>"
       "<p>The method is specified in the isotope documentation (docs/spec.md, docs/evidence.md), so it can also be "
       "re-implemented independently.</p></section>\n";
  h << "</body></html>\n";
  return h.str();
}

}  // namespace isotope::cli
