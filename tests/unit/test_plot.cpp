// sbert-plot / write_training_plot: a well-formed SVG with one <path class="series"> per drawn
// series and finite coordinates only, for full, empty, single-point, NaN and resumed logs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "support/fixtures.h"
#include "train/plot.h"

using namespace sbert;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

using test::put;
using test::slurp;

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// The values of every occurrence of attribute `name` ("d", "x", "cy", ...).
std::vector<std::string> attributes(const std::string& svg, const std::string& name) {
  std::vector<std::string> out;
  const std::string key = " " + name + "=\"";
  for (size_t at = svg.find(key); at != std::string::npos; at = svg.find(key, at + 1)) {
    const size_t b = at + key.size();
    out.push_back(svg.substr(b, svg.find('"', b) - b));
  }
  return out;
}

// Minimal well-formedness: one root <svg>, tags balanced by name, every coordinate a finite
// number, every series path made of M/L commands with finite numbers.
void check_well_formed(const std::string& svg) {
  REQUIRE(svg.rfind("<?xml", 0) == 0);
  const size_t root = svg.find("<svg ");
  REQUIRE(root != std::string::npos);
  CHECK(svg.find('<', 1) == root);  // nothing between the declaration and <svg
  CHECK(count(svg, "<svg") == 1);
  CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
  CHECK(count(svg, "<text") == count(svg, "</text>"));
  // Every other element is self-closing.
  size_t opens = 0, closes = 0;
  for (size_t i = 0; i < svg.size(); ++i) {
    if (svg[i] != '<') continue;
    if (svg.compare(i, 2, "</") == 0) {
      ++closes;
    } else if (svg.compare(i, 2, "<?") != 0) {
      const size_t end = svg.find('>', i);
      REQUIRE(end != std::string::npos);
      if (svg[end - 1] != '/') ++opens;
    }
  }
  CHECK(opens == closes);
  std::vector<std::string> bad;  // attribute values or path tokens that are not finite numbers
  auto number = [&](const std::string& v) {
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(d)) bad.push_back(v);
  };
  size_t numbers = 0;
  for (const char* a : {"x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "width", "height"}) {
    for (const std::string& v : attributes(svg, a)) {
      if (v.back() == '%') continue;
      number(v);
      ++numbers;
    }
  }
  for (const std::string& d : attributes(svg, "d")) {
    std::istringstream in(d);
    for (std::string tok; in >> tok;) {
      if (tok[0] == 'M' || tok[0] == 'L') tok = tok.substr(1);
      number(tok);
      ++numbers;
    }
  }
  CHECK(numbers > 20);
  CHECK(bad == std::vector<std::string>{});
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
}

size_t series(const std::string& svg) { return count(svg, "<path class=\"series\""); }

std::string step_line(int step, const std::string& loss, double lr) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"step\": %d, \"epoch\": 0, \"loss\": %s, \"lr\": %.9g, \"grad_norm\": 1.5, "
                "\"accuracy\": 0.5, \"samples_per_sec\": 10, \"tokens_per_sec\": 100, "
                "\"elapsed_sec\": %d}\n",
                step, loss.c_str(), lr, step);
  return buf;
}

std::string typical_log(int steps) {
  std::string s;
  for (int i = 1; i <= steps; ++i) {
    char loss[32];
    std::snprintf(loss, sizeof loss, "%.6f",
                  3.0 * std::exp(-i / 60.0) + 0.2 * ((i * 7919) % 13) / 13.0);
    s += step_line(i, loss, 2e-4 * std::min(1.0, i / 20.0));
    if (i % 50 == 0) {
      char v[160];
      std::snprintf(v, sizeof v,
                    "{\"step\": %d, \"validation\": true, \"val_loss\": %.5f, \"ndcg@10\": %.4f, "
                    "\"recall@10\": %.4f}\n",
                    i, 2.0 * std::exp(-i / 80.0) + 0.3, 0.4 + i / 1000.0, 0.6 + i / 1000.0);
      s += v;
    }
  }
  return s;
}

}  // namespace

TEST_CASE("plot: a typical run: loss (raw + smoothed), lr, validation panels", "[plot]") {
  test::TempDir tmp;
  put(tmp / "metrics.jsonl", typical_log(300));
  const TrainingLog log = read_metrics_log(tmp / "metrics.jsonl");
  CHECK(log.records == 306);
  CHECK(log.skipped_lines == 0);
  CHECK(log.train.at("loss").size() == 300);
  CHECK(log.validation.at("val_loss").size() == 6);
  CHECK(log.validation.at("ndcg@10").size() == 6);
  CHECK(log.validation.count("epoch") == 0);

  const fs::path out = write_training_plot(tmp.path());
  CHECK(out == tmp / "metrics.svg");
  const std::string svg = slurp(out);
  check_well_formed(svg);
  // loss raw + smoothed, lr, val_loss, ndcg@10, recall@10.
  CHECK(series(svg) == 6);
  CHECK_THAT(svg, Contains("Training loss"));
  CHECK_THAT(svg, Contains("Learning rate"));
  CHECK_THAT(svg, Contains("Validation: val_loss"));
  CHECK_THAT(svg, Contains("Validation metrics"));  // ndcg@10 and recall@10 share a panel
  CHECK_THAT(svg, Contains("data-label=\"ndcg@10\""));
  CHECK_THAT(svg, Contains("best val_loss"));
  CHECK_THAT(svg, Contains(">step</text>"));
  CHECK(count(svg, "<circle") >= 18);  // validation points are marked
  // No temporary left beside it.
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
  }
}

TEST_CASE("plot: empty log, single point, NaN values, resumed log", "[plot]") {
  test::TempDir tmp;
  SECTION("empty metrics.jsonl") {
    put(tmp / "metrics.jsonl", "");
    const std::string svg = slurp(write_training_plot(tmp.path()));
    check_well_formed(svg);
    CHECK(series(svg) == 0);
    CHECK_THAT(svg, Contains("no training steps logged yet"));
    CHECK_THAT(svg, Contains("no validation logged yet"));
  }
  SECTION("a single step") {
    put(tmp / "metrics.jsonl", step_line(1, "2.5", 1e-5));
    const std::string svg = slurp(write_training_plot(tmp.path()));
    check_well_formed(svg);
    CHECK(series(svg) == 3);
    CHECK(count(svg, "<circle") >= 2);  // a lone point is drawn as a marker
  }
  SECTION("null (non-finite) losses break the line and are reported") {
    std::string s;
    for (int i = 1; i <= 10; ++i) s += step_line(i, i == 4 || i == 7 ? "null" : "1.25", 1e-4);
    s += "{\"step\": 10, \"validation\": true, \"val_loss\": null}\n";
    put(tmp / "metrics.jsonl", s);
    const TrainingLog log = read_metrics_log(tmp / "metrics.jsonl");
    CHECK(std::isnan(log.train.at("loss")[3].value));
    const std::string svg = slurp(write_training_plot(tmp.path()));
    check_well_formed(svg);
    CHECK_THAT(svg, Contains("2 non-finite values"));
    CHECK_THAT(svg, Contains("only non-finite values"));  // the val_loss panel
    const auto paths = attributes(svg, "d");
    REQUIRE(!paths.empty());
    CHECK(count(paths[0], "M") == 3);  // raw loss: 1-3, 5-6, 8-10
  }
  SECTION("a resumed run that replayed steps keeps the last record of each step") {
    std::string s;
    for (int i = 1; i <= 6; ++i) s += step_line(i, "2.0", 1e-4);
    for (int i = 4; i <= 8; ++i) s += step_line(i, "1.0", 1e-4);  // resumed from step 3
    s += "{\"step\": 8, \"epo";                                   // cut short by a crash
    put(tmp / "metrics.jsonl", s);
    const TrainingLog log = read_metrics_log(tmp / "metrics.jsonl");
    const auto& loss = log.train.at("loss");
    REQUIRE(loss.size() == 8);
    for (size_t i = 0; i < loss.size(); ++i) {
      CHECK(loss[i].step == static_cast<int64_t>(i + 1));
      CHECK(loss[i].value == (i < 3 ? 2.0 : 1.0));
    }
    CHECK(log.skipped_lines == 1);
    const std::string svg = render_training_plot(log, "t <&> \"q\"");
    check_well_formed(svg);
    CHECK_THAT(svg, Contains("t &lt;&amp;&gt; &quot;q&quot;"));
    CHECK_THAT(svg, Contains("1 unreadable line skipped"));
  }
  SECTION("huge and tiny values get readable ticks") {
    std::string s;
    for (int i = 1; i <= 5; ++i) s += step_line(i * 1000000, i == 3 ? "1e30" : "0.5", 1e-9 * i);
    put(tmp / "metrics.jsonl", s);
    const std::string svg = slurp(write_training_plot(tmp.path()));
    check_well_formed(svg);
    CHECK(series(svg) == 3);
  }
}

TEST_CASE("sbert-plot: the app", "[plot][apps]") {
  test::TempDir tmp;
  put(tmp / "metrics.jsonl", typical_log(60));
  auto r = test::run_app("sbert-plot", {tmp.path().string()});
  INFO(r.stderr_text);
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(tmp / "metrics.svg"));
  r = test::run_app("sbert-plot", {tmp.path().string(), "--output", (tmp / "x.svg").string()});
  CHECK(r.exit_code == 0);
  CHECK(slurp(tmp / "x.svg") == slurp(tmp / "metrics.svg"));

  r = test::run_app("sbert-plot", {});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.stderr_text, Contains("sbert-plot: error: missing LOGDIR"));
  r = test::run_app("sbert-plot", {(tmp / "nope").string()});
  CHECK(r.exit_code == 1);
  CHECK(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n') == 1);
  CHECK_THAT(r.stderr_text, Contains("no such folder"));
  fs::create_directories(tmp / "empty");
  r = test::run_app("sbert-plot", {(tmp / "empty").string()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.stderr_text, Contains("metrics.jsonl: file not found"));
}
