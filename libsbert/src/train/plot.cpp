#include "train/plot.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "core/check.h"
#include "io/atomic_file.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Sorts by step (stable) and keeps the last record of each step.
void sort_unique(std::vector<MetricPoint>& v) {
  std::stable_sort(v.begin(), v.end(),
                   [](const MetricPoint& a, const MetricPoint& b) { return a.step < b.step; });
  std::vector<MetricPoint> out;
  for (const MetricPoint& p : v) {
    if (!out.empty() && out.back().step == p.step) {
      out.back() = p;
    } else {
      out.push_back(p);
    }
  }
  v = std::move(out);
}

}  // namespace

TrainingLog read_metrics_log(const fs::path& file) {
  SBERT_CHECK(fs::exists(file), "[plot] ", file.string(), ": file not found");
  std::string text;
  try {
    text = read_file(file);
  } catch (const Error& e) {
    fail("[plot] ", file.string(), ": cannot read (", e.what(), ")");
  }
  TrainingLog log;
  simdjson::dom::parser parser;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    simdjson::dom::element doc;
    simdjson::dom::object o;
    int64_t step = 0;
    if (parser.parse(line).get(doc) || doc.get_object().get(o) || o["step"].get_int64().get(step)) {
      ++log.skipped_lines;  // a line cut short by a crash, or not ours
      continue;
    }
    bool validation = false;
    if (o["validation"].get_bool().get(validation)) validation = false;
    auto& series = validation ? log.validation : log.train;
    for (const auto kv : o) {
      if (kv.key == "step" || kv.key == "validation" || kv.key == "epoch") continue;
      double v = kNaN;
      if (kv.value.is_null()) {
        v = kNaN;
      } else if (kv.value.is_int64()) {
        v = static_cast<double>(kv.value.get_int64().value_unsafe());
      } else if (kv.value.is_uint64()) {
        v = static_cast<double>(kv.value.get_uint64().value_unsafe());
      } else if (kv.value.is_double()) {
        v = kv.value.get_double().value_unsafe();
      } else {
        continue;  // strings, booleans, arrays: not plotted
      }
      if (!std::isfinite(v)) v = kNaN;
      series[std::string(kv.key)].push_back({step, v});
    }
    ++log.records;
  }
  for (auto& [k, v] : log.train) sort_unique(v);
  for (auto& [k, v] : log.validation) sort_unique(v);
  return log;
}

// ---------------------------------------------------------------------------------------------
// Drawing

namespace {

struct Range {
  double lo = 0, hi = 1;
};

std::string xml_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string significant(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string coord(double v) { return fixed(v, 1); }

std::string line_el(double x1, double y1, double x2, double y2, const std::string& attrs) {
  return cat("<line x1=\"", coord(x1), "\" y1=\"", coord(y1), "\" x2=\"", coord(x2), "\" y2=\"",
             coord(y2), "\" ", attrs, "/>");
}

// "Nice" tick spacing (1, 2 or 5 x 10^k) giving about `target` intervals over the range.
double nice_step(double span, int target) {
  const double raw = span / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  const double nice = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0;
  return nice * mag;
}

// A tick label with as many digits as the spacing needs.
std::string tick_label(double v, double spacing) {
  if (std::fabs(v) < spacing * 1e-9) return "0";
  const double a = std::fabs(v);
  if (spacing < 1e-3 || a >= 1e6) {
    const int ev = static_cast<int>(std::floor(std::log10(a)));
    const int es = static_cast<int>(std::floor(std::log10(spacing)));
    const int digits = std::clamp(ev - es, 0, 6);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*e", digits, v);
    // 2.0e-04 -> 2.0e-4
    std::string s = buf;
    const size_t e = s.find('e');
    if (e != std::string::npos) {
      std::string mant = s.substr(0, e), exp = s.substr(e + 1);
      const char sign = exp[0];
      exp = exp.substr(1);
      while (exp.size() > 1 && exp[0] == '0') exp.erase(0, 1);
      s = cat(mant, "e", sign == '-' ? "-" : "", exp);
    }
    return s;
  }
  const int decimals = std::clamp(-static_cast<int>(std::floor(std::log10(spacing) + 1e-9)), 0, 8);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A value for the subtitle: 4 significant digits.
std::string short_value(double v) {
  if (!std::isfinite(v)) return "NaN";
  return significant(v, 4);
}

struct Series {
  std::string label;
  std::string color;
  double width = 1.5;
  std::vector<MetricPoint> points;
  bool markers = false;
  double opacity = 1.0;
};

struct Panel {
  std::string title;
  std::string ylabel;
  std::vector<Series> series;
  std::string empty_note;  // shown when there is nothing to draw
};

const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// Bias-corrected exponential moving average over the finite values (as TensorBoard's
// smoothing); non-finite points stay non-finite and do not enter the average.
std::vector<MetricPoint> smooth(const std::vector<MetricPoint>& raw, double weight) {
  std::vector<MetricPoint> out;
  double acc = 0, norm = 0;
  for (const MetricPoint& p : raw) {
    if (!std::isfinite(p.value)) continue;
    acc = acc * weight + (1 - weight) * p.value;
    norm = norm * weight + (1 - weight);
    out.push_back({p.step, acc / norm});
  }
  return out;
}

double smoothing_weight(size_t n) {
  // About n/25 points of memory: nothing for a handful of steps, 0.975 for a thousand.
  const double window = std::max(1.0, static_cast<double>(n) / 25.0);
  return 1.0 - 1.0 / window;
}

size_t finite_count(const std::vector<MetricPoint>& v) {
  return static_cast<size_t>(std::count_if(
      v.begin(), v.end(), [](const MetricPoint& p) { return std::isfinite(p.value); }));
}

class Svg {
 public:
  void add(const std::string& s) {
    out_ += s;
    out_ += '\n';
  }
  std::string text(double x, double y, const std::string& s, const std::string& attrs = "") {
    return cat("<text x=\"", coord(x), "\" y=\"", coord(y), "\"", attrs.empty() ? "" : " ", attrs,
               ">", xml_escape(s), "</text>");
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

// Draws a panel with its plot area at (x0, y0)-(x1, y1).
void draw_panel(Svg& svg, const Panel& panel, double px, double py, double pw, double ph,
                Range xr) {
  const double x0 = px + 72, x1 = px + pw - 16, y1 = py + ph - 44;
  svg.add(svg.text(px + 10, py + 20, panel.title,
                   "font-size=\"14\" font-weight=\"bold\" fill=\"#222\""));

  // Legend (more than one series): right-aligned rows of items, the first on the title's line
  // when it fits there, the plot area starting below the last row.
  struct Item {
    const Series* s;
    double x, y;
  };
  std::vector<Item> legend;
  double y0 = py + 34;
  if (panel.series.size() > 1) {
    const double title_end = px + 10 + 8.6 * static_cast<double>(panel.title.size()) + 24;
    std::vector<std::vector<std::pair<const Series*, double>>> rows(1);
    std::vector<double> row_width(1, 0);
    for (const Series& s : panel.series) {
      const double w = 38 + 6.9 * static_cast<double>(s.label.size());
      const double left = rows.size() == 1 ? title_end : x0;
      if (!rows.back().empty() && x1 - (row_width.back() + w) < left) {
        rows.emplace_back();
        row_width.push_back(0);
      }
      rows.back().emplace_back(&s, w);
      row_width.back() += w;
    }
    if (x1 - row_width[0] < title_end) {  // even one item does not fit beside the title
      rows.insert(rows.begin(), {});
      row_width.insert(row_width.begin(), 0);
    }
    for (size_t r = 0; r < rows.size(); ++r) {
      double x = x1 - row_width[r];
      for (const auto& [s, w] : rows[r]) {
        legend.push_back({s, x, py + 20 + 16.0 * static_cast<double>(r)});
        x += w;
      }
    }
    y0 += 16.0 * static_cast<double>(rows.size() - 1);
  }
  svg.add(cat("<rect x=\"", coord(x0), "\" y=\"", coord(y0), "\" width=\"", coord(x1 - x0),
              "\" height=\"", coord(y1 - y0), "\" fill=\"#fbfbfb\" stroke=\"#bbb\"/>"));

  // Y range over the finite values of every series.
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  size_t finite = 0, nonfinite = 0;
  for (const Series& s : panel.series) {
    for (const MetricPoint& p : s.points) {
      if (std::isfinite(p.value)) {
        lo = std::min(lo, p.value);
        hi = std::max(hi, p.value);
        ++finite;
      } else {
        ++nonfinite;
      }
    }
  }
  if (finite == 0) {
    const std::string note = panel.empty_note.empty()
                                 ? (nonfinite ? "only non-finite values" : "no data")
                                 : panel.empty_note;
    svg.add(svg.text((x0 + x1) / 2, (y0 + y1) / 2, note,
                     "font-size=\"13\" fill=\"#888\" text-anchor=\"middle\""));
    lo = 0;
    hi = 1;
  }
  const double data_lo = lo;
  if (finite == 0) {
    // [0, 1] as is
  } else if (hi - lo <= std::fabs(hi) * 1e-9 || hi == lo) {
    const double pad = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  } else {
    const double pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  const double ys = nice_step(hi - lo, 5);
  Range yr{std::floor(lo / ys) * ys, std::ceil(hi / ys) * ys};
  if (finite > 0 && data_lo >= 0 && yr.lo < 0) yr.lo = 0;  // no negative axis for positive data

  auto X = [&](double step) { return x0 + (step - xr.lo) / (xr.hi - xr.lo) * (x1 - x0); };
  auto Y = [&](double v) { return y1 - (v - yr.lo) / (yr.hi - yr.lo) * (y1 - y0); };

  // Grid and ticks.
  for (double t = yr.lo; t <= yr.hi + ys * 1e-6; t += ys) {
    const double y = Y(t);
    svg.add(line_el(x0, y, x1, y, "stroke=\"#e4e4e4\""));
    svg.add(svg.text(x0 - 6, y + 4, tick_label(t, ys),
                     "font-size=\"11\" fill=\"#444\" text-anchor=\"end\""));
  }
  double xs = nice_step(xr.hi - xr.lo, 6);
  if (xs < 1) xs = 1;  // steps are integers
  for (double t = std::ceil(xr.lo / xs) * xs; t <= xr.hi + xs * 1e-6; t += xs) {
    const double x = X(t);
    svg.add(line_el(x, y0, x, y1, "stroke=\"#eeeeee\""));
    svg.add(line_el(x, y1, x, y1 + 4, "stroke=\"#888\""));
    svg.add(svg.text(x, y1 + 17, tick_label(t, xs),
                     "font-size=\"11\" fill=\"#444\" text-anchor=\"middle\""));
  }
  svg.add(line_el(x0, y1, x1, y1, "stroke=\"#666\""));
  svg.add(line_el(x0, y0, x0, y1, "stroke=\"#666\""));
  svg.add(svg.text((x0 + x1) / 2, y1 + 36, "step",
                   "font-size=\"12\" fill=\"#333\" text-anchor=\"middle\""));
  const double ly = (y0 + y1) / 2;
  svg.add(
      svg.text(px + 16, ly, panel.ylabel,
               cat("font-size=\"12\" fill=\"#333\" text-anchor=\"middle\" transform=\"rotate(-90 ",
                   coord(px + 16), " ", coord(ly), ")\"")));

  // Series: one <path> each; a non-finite value ends a run of segments.
  std::vector<int64_t> bad_steps;
  for (const Series& s : panel.series) {
    std::string d;
    bool pen_down = false;
    std::string markers;
    for (const MetricPoint& p : s.points) {
      if (!std::isfinite(p.value)) {
        pen_down = false;
        bad_steps.push_back(p.step);
        continue;
      }
      const double x = X(static_cast<double>(p.step)), y = Y(p.value);
      d += pen_down ? "L" : "M";
      d += coord(x);
      d += ' ';
      d += coord(y);
      d += ' ';
      pen_down = true;
      if (s.markers) {
        markers += cat("<circle cx=\"", coord(x), "\" cy=\"", coord(y), "\" r=\"2.8\" fill=\"",
                       s.color, "\"/>");
      }
    }
    if (!d.empty()) d.pop_back();
    svg.add(cat("<path class=\"series\" data-label=\"", xml_escape(s.label), "\" d=\"", d,
                "\" fill=\"none\" stroke=\"", s.color, "\" stroke-width=\"", fixed(s.width, 1),
                "\" stroke-opacity=\"", fixed(s.opacity, 2),
                "\" stroke-linejoin=\"round\" stroke-linecap=\"round\"/>"));
    if (!markers.empty()) svg.add(markers);
  }

  // Non-finite values: red ticks under the axis and a note.
  if (!bad_steps.empty()) {
    std::sort(bad_steps.begin(), bad_steps.end());
    bad_steps.erase(std::unique(bad_steps.begin(), bad_steps.end()), bad_steps.end());
    std::string marks;
    for (const int64_t s : bad_steps) {
      const double x = X(static_cast<double>(s));
      marks += line_el(x, y1 - 6, x, y1, "stroke=\"#d62728\" stroke-width=\"1.5\"");
    }
    svg.add(marks);
    svg.add(svg.text(x0 + 6, y1 - 10,
                     cat(nonfinite, " non-finite value", nonfinite == 1 ? "" : "s", " (red ticks)"),
                     "font-size=\"11\" fill=\"#d62728\""));
  }

  for (const Item& it : legend) {
    svg.add(line_el(
        it.x, it.y - 4, it.x + 18, it.y - 4,
        cat("stroke=\"", it.s->color, "\" stroke-width=\"", fixed(std::max(2.0, it.s->width), 1),
            "\" stroke-opacity=\"", fixed(std::max(0.6, it.s->opacity), 2), "\"")));
    svg.add(svg.text(it.x + 23, it.y, it.s->label, "font-size=\"11\" fill=\"#333\""));
  }
}

bool is_loss_key(const std::string& k) { return k.find("loss") != std::string::npos; }

bool within_unit(const std::vector<MetricPoint>& v) {
  return std::all_of(v.begin(), v.end(), [](const MetricPoint& p) {
    return !std::isfinite(p.value) || (p.value >= 0 && p.value <= 1);
  });
}

}  // namespace

std::string render_training_plot(const TrainingLog& log, const std::string& title) {
  std::vector<Panel> panels;
  auto find_train = [&](const char* key) -> const std::vector<MetricPoint>* {
    const auto it = log.train.find(key);
    return it == log.train.end() ? nullptr : &it->second;
  };

  // Training loss: raw + smoothed.
  Panel loss{"Training loss", "loss", {}, "no training steps logged yet"};
  std::string subtitle;
  if (const auto* raw = find_train("loss"); raw && !raw->empty()) {
    const double w = smoothing_weight(finite_count(*raw));
    loss.series.push_back({"raw", "#1f77b4", 1.0, *raw, raw->size() <= 60, 0.35});
    loss.series.push_back(
        {w > 0 ? "smoothed (EMA " + significant(w, 3) + ")" : "smoothed (no smoothing)", "#1f77b4",
         2.2, smooth(*raw, w), false, 1.0});
    const MetricPoint& last = raw->back();
    subtitle = raw->front().step == last.step ? cat("step ", last.step)
                                              : cat("steps ", raw->front().step, "–", last.step);
    subtitle += cat(" · last loss ", short_value(last.value));
  }
  panels.push_back(std::move(loss));

  Panel lr{"Learning rate", "lr", {}, "no training steps logged yet"};
  if (const auto* v = find_train("lr"); v && !v->empty()) {
    lr.series.push_back({"lr", "#2ca02c", 1.8, *v, v->size() <= 60, 1.0});
  }
  panels.push_back(std::move(lr));

  // Validation: each loss-like or unbounded key alone, the [0, 1] metrics together.
  Panel unit{"Validation metrics", "value", {}, ""};
  std::vector<Panel> alone;
  size_t color = 0;
  for (const auto& [key, points] : log.validation) {
    if (points.empty()) continue;
    Series s{key, kPalette[color++ % 10], 1.8, points, true, 1.0};
    if (!is_loss_key(key) && within_unit(points)) {
      unit.series.push_back(std::move(s));
    } else {
      alone.push_back({"Validation: " + key, key, {std::move(s)}, ""});
    }
    if (key == "val_loss") {
      const MetricPoint* best = nullptr;
      for (const MetricPoint& p : points) {
        if (std::isfinite(p.value) && (!best || p.value < best->value)) best = &p;
      }
      if (best) {
        subtitle += cat(subtitle.empty() ? "" : " · ", "best val_loss ", short_value(best->value),
                        " at step ", best->step);
      }
    }
  }
  for (Panel& p : alone) panels.push_back(std::move(p));
  if (!unit.series.empty()) panels.push_back(std::move(unit));
  if (log.validation.empty()) {
    panels.push_back({"Validation", "value", {}, "no validation logged yet"});
  }
  if (log.skipped_lines) {
    subtitle += cat(subtitle.empty() ? "" : " · ", log.skipped_lines, " unreadable line",
                    log.skipped_lines == 1 ? "" : "s", " skipped");
  }

  // Shared step range.
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* m : {&log.train, &log.validation}) {
    for (const auto& [k, v] : *m) {
      for (const MetricPoint& p : v) {
        lo = std::min(lo, static_cast<double>(p.step));
        hi = std::max(hi, static_cast<double>(p.step));
      }
    }
  }
  Range xr{0, 1};
  if (std::isfinite(lo)) {
    // A little room at both ends so that the first and last markers are not cut by the frame.
    const double pad = std::max(0.02 * (hi - lo), 0.05);
    xr = {lo - pad, hi + pad};
    if (hi - lo < 1) xr = {lo - 1, hi + 1};
  }

  // Layout: the loss full width, then two panels a row.
  const double W = 1000, header = 64, full_h = 320, cell_h = 280;
  const size_t rest = panels.size() - 1;
  const double H = header + full_h + std::ceil(static_cast<double>(rest) / 2.0) * cell_h + 12;
  Svg svg;
  svg.add("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
  svg.add(cat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", coord(W), "\" height=\"",
              coord(H), "\" viewBox=\"0 0 ", coord(W), " ", coord(H),
              "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">"));
  svg.add("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>");
  svg.add(svg.text(16, 28, title, "font-size=\"18\" font-weight=\"bold\" fill=\"#111\""));
  svg.add(svg.text(16, 50, subtitle.empty() ? "no records in metrics.jsonl" : subtitle,
                   "font-size=\"12\" fill=\"#555\""));
  draw_panel(svg, panels[0], 0, header, W, full_h, xr);
  for (size_t i = 1; i < panels.size(); ++i) {
    const size_t r = (i - 1) / 2, c = (i - 1) % 2;
    draw_panel(svg, panels[i], static_cast<double>(c) * W / 2,
               header + full_h + static_cast<double>(r) * cell_h, W / 2, cell_h, xr);
  }
  svg.add("</svg>");
  return svg.str();
}

fs::path write_training_plot(const fs::path& log_dir, const fs::path& output) {
  fs::path file = log_dir / "metrics.jsonl";
  fs::path dir = log_dir;
  if (fs::is_regular_file(log_dir)) {  // given the metrics file itself
    file = log_dir;
    dir = log_dir.parent_path();
  }
  SBERT_CHECK(fs::exists(dir), "[plot] ", dir.string(), ": no such folder");
  SBERT_CHECK(fs::exists(file), "[plot] ", file.string(),
              ": file not found (not a training log folder?)");
  const TrainingLog log = read_metrics_log(file);
  const fs::path out = output.empty() ? dir / "metrics.svg" : output;
  std::string name = fs::absolute(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  write_file_atomic(out, render_training_plot(log, "Training — " + name));
  return out;
}

}  // namespace sbert
