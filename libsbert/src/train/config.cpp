#include "train/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

#include "core/check.h"
#include "io/atomic_file.h"
#include "train/ignored_keys.h"
#include "train/schedule.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

// ---- Where a value came from, for messages ----

// key -> "conf/x.yaml:12" or "command-line override 'k=v'". Keys absent: the default (or set in
// code, when there is no file).
using Origins = std::map<std::string, std::string>;

constexpr const char* kOverride = "command-line override";

std::string origin_of(const fs::path& source, const Origins* origins, const std::string& key) {
  if (origins) {
    const auto it = origins->find(key);
    if (it != origins->end()) return it->second;
  }
  return source.empty() ? std::string() : "default (not set in " + source.string() + ")";
}

std::string where(const fs::path& source, const Origins* origins, const std::string& key) {
  const std::string o = origin_of(source, origins, key);
  return o.empty() ? o : o + ": ";
}

// ---- Typed values: one parser and one printer per C++ type, so a key's type is its field's ----

template <class E>
struct EnumNames;  // {spelling, value}; the first spelling of a value is the one written
template <>
struct EnumNames<Accelerator> {
  static constexpr std::pair<const char*, Accelerator> v[] = {
      {"cpu", Accelerator::CPU}, {"gpu", Accelerator::GPU}, {"cuda", Accelerator::GPU},
      {"auto", Accelerator::Auto}};
  static constexpr const char* want = "cpu, gpu, cuda or auto";
};
template <>
struct EnumNames<Precision> {
  static constexpr std::pair<const char*, Precision> v[] = {
      {"32", Precision::FP32},          {"32-true", Precision::FP32},
      {"fp32", Precision::FP32},        {"bf16-mixed", Precision::BF16Mixed},
      {"bf16", Precision::BF16Mixed},   {"bf16-true", Precision::BF16Mixed},
      {"16-mixed", Precision::FP16Mixed}, {"16", Precision::FP16Mixed},
      {"fp16", Precision::FP16Mixed}};
  static constexpr const char* want = "32, bf16-mixed or 16-mixed";
};
template <>
struct EnumNames<LossType> {
  static constexpr std::pair<const char*, LossType> v[] = {
      {"nemo", LossType::NeMo},         {"mnrl", LossType::MNRL},
      {"cosent", LossType::CoSENT},     {"angle", LossType::AnglE},
      {"gist", LossType::GIST},         {"marginmse", LossType::MarginMSE},
      {"matryoshka", LossType::Matryoshka}};
  static constexpr const char* want = "nemo, mnrl, cosent, angle, gist, marginmse or matryoshka";
};
template <>
struct EnumNames<Schedule> {
  static constexpr std::pair<const char*, Schedule> v[] = {
      {"CosineAnnealing", Schedule::CosineAnnealing}, {"WarmupAnnealing", Schedule::WarmupAnnealing},
      {"WarmupPolicy", Schedule::WarmupPolicy},       {"cosine", Schedule::CosineAnnealing},
      {"linear", Schedule::WarmupAnnealing},          {"constant", Schedule::WarmupPolicy}};
  static constexpr const char* want = "CosineAnnealing, WarmupAnnealing or WarmupPolicy";
};
template <>
struct EnumNames<NegativeSelection> {
  static constexpr std::pair<const char*, NegativeSelection> v[] = {
      {"first", NegativeSelection::First}, {"random", NegativeSelection::Random}};
  static constexpr const char* want = "first or random";
};
template <>
struct EnumNames<MonitorMode> {
  static constexpr std::pair<const char*, MonitorMode> v[] = {{"min", MonitorMode::Min},
                                                              {"max", MonitorMode::Max}};
  static constexpr const char* want = "min or max";
};
template <>
struct EnumNames<Optimizer> {
  static constexpr std::pair<const char*, Optimizer> v[] = {{"fused_adam", Optimizer::FusedAdam},
                                                            {"adam", Optimizer::Adam},
                                                            {"adamw", Optimizer::AdamW}};
  static constexpr const char* want = "fused_adam, adam or adamw";
};

template <>
struct EnumNames<DataFormat> {
  static constexpr std::pair<const char*, DataFormat> v[] = {{"auto", DataFormat::Auto},
                                                             {"json", DataFormat::Json},
                                                             {"jsonl", DataFormat::Json},
                                                             {"csv", DataFormat::Csv},
                                                             {"tsv", DataFormat::Tsv}};
  static constexpr const char* want = "auto, json, jsonl, csv or tsv";
};
template <>
struct EnumNames<DatasetSampler> {
  static constexpr std::pair<const char*, DatasetSampler> v[] = {
      {"proportional", DatasetSampler::Proportional}, {"round_robin", DatasetSampler::RoundRobin}};
  static constexpr const char* want = "proportional or round_robin";
};

// Lists of numbers (model.matryoshka_dims, model.matryoshka_weights).
template <class T>
struct is_number_list : std::false_type {};
template <class E>
struct is_number_list<std::vector<E>> : std::bool_constant<std::is_arithmetic_v<E>> {};

template <class T>
constexpr const char* type_name() {
  if constexpr (is_number_list<T>::value) {
    return std::is_integral_v<typename T::value_type> ? "a list of integers" : "a list of numbers";
  } else if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) return "a path or a list of paths";
  else return EnumNames<T>::want;
}

// The value as it is written back (to_yaml) and in messages.
template <class T>
YAML::Node to_node(const T& v) {
  if constexpr (std::is_enum_v<T>) {
    for (const auto& [name, value] : EnumNames<T>::v)
      if (value == v) return YAML::Node(std::string(name));
    return YAML::Node();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>> || is_number_list<T>::value) {
    YAML::Node n(YAML::NodeType::Sequence);
    n.SetStyle(is_number_list<T>::value ? YAML::EmitterStyle::Flow : YAML::EmitterStyle::Default);
    for (const auto& s : v) n.push_back(s);
    return n;
  } else {
    return YAML::Node(v);
  }
}

template <class T>
std::string show(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return v.empty() ? std::string("nothing") : v;
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    return v.empty() ? std::string("nothing") : cat(v.size(), " paths");
  } else if constexpr (is_number_list<T>::value) {
    std::ostringstream s;
    s << "[";
    for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
    s << "]";
    return s.str();
  } else if constexpr (std::is_floating_point_v<T>) {
    std::ostringstream s;
    s << v;
    return s.str();
  } else {
    return to_node(v).Scalar();
  }
}

[[noreturn]] void type_error(const std::string& at, const std::string& key, const char* want,
                             const YAML::Node& v) {
  const std::string got =
      v.IsScalar() ? "'" + v.Scalar() + "'" : v.IsSequence() ? "a list" : "a map";
  fail("[config] ", at, "key '", key, "' must be ", want, ", got ", got);
}

// Parses v into out; false when v does not read as a T.
template <class T>
bool parse_value(const YAML::Node& v, T& out) {
  if constexpr (is_number_list<T>::value) {  // [384, 256] or one number
    out.clear();
    if (v.IsNull()) return true;
    if (v.IsScalar()) {
      typename T::value_type x{};
      if (!parse_value(v, x)) return false;
      out.push_back(x);
      return true;
    }
    if (!v.IsSequence()) return false;
    for (const auto& item : v) {
      typename T::value_type x{};
      if (!parse_value(item, x)) return false;
      out.push_back(x);
    }
    return true;
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    out.clear();
    if (v.IsNull()) return true;
    if (v.IsScalar()) {
      out.push_back(v.Scalar());
      return true;
    }
    if (!v.IsSequence()) return false;
    for (const auto& item : v) {
      if (!item.IsScalar()) return false;
      out.push_back(item.Scalar());
    }
    return true;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (v.IsNull()) {
      out.clear();
      return true;
    }
    if (!v.IsScalar()) return false;
    out = v.Scalar();
    return true;
  } else {
    if (!v.IsScalar()) return false;
    const std::string s = v.Scalar();
    if constexpr (std::is_same_v<T, bool>) {
      return YAML::convert<bool>::decode(v, out);
    } else if constexpr (std::is_enum_v<T>) {
      for (const auto& [name, value] : EnumNames<T>::v) {
        if (s == name) {
          out = value;
          return true;
        }
      }
      return false;
    } else {
      try {
        size_t used = 0;
        if constexpr (std::is_floating_point_v<T>) {
          const double x = std::stod(s, &used);
          if (used != s.size() || !std::isfinite(x)) return false;
          out = static_cast<T>(x);
        } else {
          const long long x = std::stoll(s, &used);
          if (used != s.size()) return false;
          if constexpr (std::is_unsigned_v<T>) {
            if (x < 0) return false;
          } else {
            if (x < static_cast<long long>(std::numeric_limits<T>::min())) return false;
          }
          if (x > 0 && static_cast<unsigned long long>(x) >
                           static_cast<unsigned long long>(std::numeric_limits<T>::max())) {
            return false;
          }
          out = static_cast<T>(x);
        }
        return true;
      } catch (const std::logic_error&) {
        return false;
      }
    }
  }
}

// ---- The keys: each named once, with its type (its field's), help and check ----

struct Key {
  std::string name;
  std::string help;
  std::string type;                                  // for keys_help()
  std::function<void(TrainOptions&, const YAML::Node&, const std::string& at)> set;
  std::function<YAML::Node(const TrainOptions&)> get;
  // "" when the value is acceptable, else "must be positive, got -1".
  std::function<std::string(const TrainOptions&)> check;
  bool write = true;  // false: an alias of another key (not written by to_yaml)
  // Set for files and folders read: makes the key's relative paths relative to `base` (the
  // config file's folder).
  std::function<void(TrainOptions&, const fs::path& base)> rebase;
};

template <class T>
using Field = T& (*)(TrainOptions&);

template <class T>
Key key(std::string name, Field<T> field, std::string help,
        std::function<bool(const T&)> ok = nullptr, std::string must = "") {
  Key k;
  k.name = name;
  k.help = std::move(help);
  k.type = type_name<T>();
  k.set = [field, name](TrainOptions& o, const YAML::Node& v, const std::string& at) {
    if (v.IsNull() && !std::is_same_v<T, std::string> &&
        !std::is_same_v<T, std::vector<std::string>> && !is_number_list<T>::value) {
      return;  // null: keep the default, as OmegaConf's "???"-free configs mean it
    }
    if (!parse_value(v, field(o))) type_error(at, name, type_name<T>(), v);
  };
  k.get = [field](const TrainOptions& o) { return to_node(field(const_cast<TrainOptions&>(o))); };
  if (ok) {
    k.check = [field, ok, must](const TrainOptions& o) {
      const T& v = field(const_cast<TrainOptions&>(o));
      return ok(v) ? std::string() : cat(must, ", got ", show(v));
    };
  }
  return k;
}

template <class T>
std::function<bool(const T&)> positive() {
  return [](const T& v) { return v > 0; };
}
template <class T>
std::function<bool(const T&)> at_least(T lo) {
  return [lo](const T& v) { return v >= lo; };
}

void rebase_path(std::string& p, const fs::path& base) {
  if (!p.empty() && fs::path(p).is_relative()) p = (base / p).lexically_normal().string();
}

// Marks k as a path to read (one path or a list of them).
template <class T>
Key input_path(Key k, Field<T> field) {
  k.rebase = [field](TrainOptions& o, const fs::path& base) {
    if constexpr (std::is_same_v<T, std::string>) {
      rebase_path(field(o), base);
    } else {
      for (std::string& p : field(o)) rebase_path(p, base);
    }
  };
  return k;
}

// model.data.train_ds / validation_ds: a list of datasets, each a map
//   {name, paths (or file_names), format, columns: {anchor, positive, negatives, score, margins},
//    weight}. One key: its entries are checked here, each error naming "<key>[i].<field>".
Key datasets_key(const std::string& name, std::vector<DatasetSpec>& (*field)(TrainOptions&),
                 std::string help) {
  Key k;
  k.name = name;
  k.help = std::move(help);
  k.type = "a list of datasets";
  k.set = [field, name](TrainOptions& o, const YAML::Node& v, const std::string& at) {
    std::vector<DatasetSpec>& out = field(o);
    out.clear();
    if (v.IsNull()) return;
    if (!v.IsSequence()) type_error(at, name, "a list of datasets ([{paths: [...]}, ...])", v);
    for (size_t i = 0; i < v.size(); ++i) {
      const YAML::Node& e = v[i];
      const std::string ek = cat(name, "[", i, "]");
      if (!e.IsMap()) type_error(at, ek, "a map {paths, format, columns, weight}", e);
      DatasetSpec d;
      for (const auto& kv : e) {
        const std::string f = kv.first.as<std::string>();
        const YAML::Node& x = kv.second;
        const std::string fk = ek + "." + f;
        if (f == "name") {
          if (!parse_value(x, d.name)) type_error(at, fk, "a string", x);
        } else if (f == "paths" || f == "file_names" || f == "path") {
          if (!parse_value(x, d.paths)) type_error(at, fk, "a path or a list of paths", x);
        } else if (f == "format") {
          if (!parse_value(x, d.format)) type_error(at, fk, EnumNames<DataFormat>::want, x);
        } else if (f == "weight") {
          if (!parse_value(x, d.weight)) type_error(at, fk, "a number", x);
        } else if (f == "columns") {
          if (x.IsNull()) continue;
          if (!x.IsMap()) type_error(at, fk, "a map {anchor, positive, negatives, score, margins}", x);
          for (const auto& ckv : x) {
            const std::string c = ckv.first.as<std::string>();
            const std::string ck = fk + "." + c;
            bool ok = true;
            if (c == "anchor") ok = parse_value(ckv.second, d.columns.anchor);
            else if (c == "positive") ok = parse_value(ckv.second, d.columns.positive);
            else if (c == "score") ok = parse_value(ckv.second, d.columns.score);
            else if (c == "negatives") ok = parse_value(ckv.second, d.columns.negatives);
            else if (c == "margins") ok = parse_value(ckv.second, d.columns.margins);
            else fail("[config] ", at, "unknown key '", ck,
                      "' (columns are anchor, positive, negatives, score, margins)");
            if (!ok) type_error(at, ck, "a column name (or a list of them)", ckv.second);
          }
        } else {
          fail("[config] ", at, "unknown key '", fk,
               "' (a dataset has name, paths, format, columns, weight)");
        }
      }
      if (!(std::isfinite(d.weight) && d.weight > 0)) {
        fail("[config] ", at, "key '", ek, ".weight' must be positive, got ", d.weight);
      }
      if (d.paths.empty()) fail("[config] ", at, "key '", ek, ".paths' must name the data files");
      out.push_back(std::move(d));
    }
  };
  k.get = [field](const TrainOptions& o) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const DatasetSpec& d : field(const_cast<TrainOptions&>(o))) {
      YAML::Node n(YAML::NodeType::Map);
      if (!d.name.empty()) n["name"] = d.name;
      n["paths"] = to_node(d.paths);
      n["format"] = to_node(d.format);
      YAML::Node c(YAML::NodeType::Map);
      if (!d.columns.anchor.empty()) c["anchor"] = d.columns.anchor;
      if (!d.columns.positive.empty()) c["positive"] = d.columns.positive;
      if (!d.columns.negatives.empty()) c["negatives"] = to_node(d.columns.negatives);
      if (!d.columns.score.empty()) c["score"] = d.columns.score;
      if (!d.columns.margins.empty()) c["margins"] = to_node(d.columns.margins);
      if (c.size() > 0) n["columns"] = c;
      n["weight"] = d.weight;
      list.push_back(n);
    }
    return list;
  };
  k.rebase = [field](TrainOptions& o, const fs::path& base) {
    for (DatasetSpec& d : field(o))
      for (std::string& p : d.paths) rebase_path(p, base);
  };
  return k;
}

// A list of field names (not paths).
Key names(Key k) {
  k.type = "a name or a list of names";
  return k;
}

#define SBERT_FIELD(T, expr) static_cast<Field<T>>([](TrainOptions& o) -> T& { return o.expr; })

// The objectives' own keys (train/objective.h), named after sentence-transformers' parameters.
void add_objective_keys(std::vector<Key>& k) {
  using D = double;
  using I = int64_t;
  k.push_back(key<LossType>("model.matryoshka_loss", SBERT_FIELD(LossType, model.matryoshka_loss),
                            "loss = matryoshka: the loss it wraps (nemo, mnrl, cosent, ...)",
                            [](const LossType& v) { return v != LossType::Matryoshka; },
                            "must name another loss"));
  k.push_back(key<std::vector<I>>("model.matryoshka_dims",
                                  SBERT_FIELD(std::vector<I>, model.matryoshka_dims),
                                  "loss = matryoshka: embedding prefixes trained, e.g. [384, 256]",
                                  [](const std::vector<I>& v) {
                                    return std::all_of(v.begin(), v.end(), [](I d) { return d > 0; });
                                  },
                                  "must all be positive"));
  k.push_back(key<std::vector<D>>("model.matryoshka_weights",
                                  SBERT_FIELD(std::vector<D>, model.matryoshka_weights),
                                  "loss weight per matryoshka dim (empty: all 1)"));
  k.push_back(key<I>("model.matryoshka_n_dims_per_step",
                     SBERT_FIELD(I, model.matryoshka_n_dims_per_step),
                     "dims drawn per step (-1: all)",
                     [](const I& v) { return v == -1 || v > 0; }, "must be -1 or positive"));
  k.push_back(key<D>("model.cosent_scale", SBERT_FIELD(D, model.cosent_scale),
                     "CoSENTLoss scale", positive<D>(), "must be positive"));
  k.push_back(key<D>("model.angle_scale", SBERT_FIELD(D, model.angle_scale), "AnglELoss scale",
                     positive<D>(), "must be positive"));
  k.push_back(input_path(key<std::string>("model.gist_guide_model",
                                          SBERT_FIELD(std::string, model.gist_guide_model),
                                          "loss = gist: the guide model's folder"),
                         SBERT_FIELD(std::string, model.gist_guide_model)));
  k.push_back(key<D>("model.gist_temperature", SBERT_FIELD(D, model.gist_temperature),
                     "GISTEmbedLoss temperature", positive<D>(), "must be positive"));
  k.push_back(key<std::string>(
      "model.gist_margin_strategy", SBERT_FIELD(std::string, model.gist_margin_strategy),
      "absolute or relative",
      [](const std::string& v) { return v == "absolute" || v == "relative"; },
      "must be absolute or relative"));
  k.push_back(key<D>("model.gist_margin", SBERT_FIELD(D, model.gist_margin),
                     "GISTEmbedLoss margin of the false-negative filter"));
  k.push_back(key<bool>("model.gist_contrast_anchors",
                        SBERT_FIELD(bool, model.gist_contrast_anchors),
                        "anchor-anchor columns in the softmax"));
  k.push_back(key<bool>("model.gist_contrast_positives",
                        SBERT_FIELD(bool, model.gist_contrast_positives),
                        "positive-positive columns in the softmax"));
}

// Built on every call (a few microseconds) rather than kept in a static: no globals.
std::vector<Key> keys() {
  {
    using S = std::string;
    using I = int64_t;
    using D = double;
    std::vector<Key> k;
    k.push_back(key<S>("name", SBERT_FIELD(S, name), "run name (exp_manager.name's default)"));
    k.push_back(input_path(key<S>("restore_from_path", SBERT_FIELD(S, restore_from_path),
                                  "Hugging Face / sentence-transformers folder to fine-tune"),
                           SBERT_FIELD(S, restore_from_path)));
    k.push_back(key<int>("trainer.devices", SBERT_FIELD(int, trainer.devices),
                         "processes per machine", at_least(1), "must be at least 1"));
    k.push_back(key<int>("trainer.num_nodes", SBERT_FIELD(int, trainer.num_nodes), "machines",
                         at_least(1), "must be at least 1"));
    k.push_back(key<Accelerator>("trainer.accelerator",
                                 SBERT_FIELD(Accelerator, trainer.accelerator),
                                 "cpu, gpu (= cuda: one GPU, fp32, bf16-mixed or 16-mixed) or auto "
                                 "(gpu when one is present)"));
    k.push_back(key<Precision>("trainer.precision", SBERT_FIELD(Precision, trainer.precision),
                               "32, bf16-mixed or 16-mixed (GPU only: GEMMs on tensor cores, the "
                               "rest fp32; 16-mixed scales the loss)"));
    k.push_back(key<I>("trainer.max_steps", SBERT_FIELD(I, trainer.max_steps),
                       "optimizer steps (-1: trainer.max_epochs decides)"));
    k.push_back(key<I>("trainer.max_epochs", SBERT_FIELD(I, trainer.max_epochs),
                       "epochs (-1: unbounded)",
                       [](const I& v) { return v == -1 || v > 0; }, "must be positive or -1"));
    {
      // Lightning's meaning: an integer counts steps, a number in (0, 1] is a fraction of an epoch.
      Key v;
      v.name = "trainer.val_check_interval";
      v.help = "steps between validations (an integer), or a fraction of an epoch in (0, 1] "
               "(0.25: four times per epoch)";
      v.type = "an integer or a fraction";
      v.set = [](TrainOptions& o, const YAML::Node& n, const std::string& at) {
        if (n.IsNull()) return;
        int64_t steps = 0;
        double x = 0;
        if (parse_value(n, steps)) {
          o.trainer.val_check_interval = steps;
          o.trainer.val_check_fraction = 0;
        } else if (parse_value(n, x)) {
          SBERT_CHECK(x > 0 && x <= 1, "[config] ", at, "key 'trainer.val_check_interval' must "
                      "be a positive integer (steps) or a fraction of an epoch in (0, 1], got ",
                      n.Scalar());
          o.trainer.val_check_fraction = x;
        } else {
          type_error(at, "trainer.val_check_interval", "an integer or a fraction", n);
        }
      };
      v.get = [](const TrainOptions& o) {
        if (o.trainer.val_check_fraction <= 0) return YAML::Node(o.trainer.val_check_interval);
        // Always with a decimal point: "1" would read back as one step, not one epoch.
        std::ostringstream f;
        f << o.trainer.val_check_fraction;
        std::string text = f.str();
        if (text.find_first_of(".e") == std::string::npos) text += ".0";
        return YAML::Node(text);
      };
      v.check = [](const TrainOptions& o) {
        const double f = o.trainer.val_check_fraction;
        if (f != 0 && !(f > 0 && f <= 1)) return cat("must be a fraction in (0, 1], got ", f);
        if (f == 0 && o.trainer.val_check_interval <= 0)
          return cat("must be positive, got ", o.trainer.val_check_interval);
        return std::string();
      };
      k.push_back(v);
    }
    k.push_back(key<I>("trainer.num_sanity_val_steps",
                       SBERT_FIELD(I, trainer.num_sanity_val_steps),
                       "validation batches before training (0: none)", at_least<I>(0),
                       "must be >= 0"));
    k.push_back(key<I>("trainer.limit_val_batches", SBERT_FIELD(I, trainer.limit_val_batches),
                       "validation batches (-1: all)",
                       [](const I& v) { return v == -1 || v > 0; }, "must be positive or -1"));
    k.push_back(key<I>("trainer.log_every_n_steps", SBERT_FIELD(I, trainer.log_every_n_steps),
                       "steps between progress lines", positive<I>(), "must be positive"));
    k.push_back(key<D>("trainer.gradient_clip_val", SBERT_FIELD(D, trainer.gradient_clip_val),
                       "global gradient norm clip (0: none)", at_least<D>(0), "must be >= 0"));
    k.push_back(key<int>("trainer.threads", SBERT_FIELD(int, trainer.threads),
                         "CPU threads (0: all cores)", at_least(0), "must be >= 0"));
    k.push_back(key<I>("trainer.dist_timeout_sec", SBERT_FIELD(I, trainer.dist_timeout_sec),
                       "seconds a collective may wait", at_least<I>(1), "must be at least 1"));
    k.push_back(key<S>("exp_manager.explicit_log_dir",
                       SBERT_FIELD(S, exp_manager.explicit_log_dir),
                       "log and checkpoint folder"));
    k.push_back(key<S>("exp_manager.exp_dir", SBERT_FIELD(S, exp_manager.exp_dir),
                       "parent of <name> when explicit_log_dir is unset"));
    k.push_back(key<S>("exp_manager.name", SBERT_FIELD(S, exp_manager.name),
                       "log folder name (default: name)"));
    k.push_back(key<bool>("exp_manager.resume_if_exists",
                          SBERT_FIELD(bool, exp_manager.resume_if_exists),
                          "continue from the newest checkpoint"));
    k.push_back(key<bool>("exp_manager.resume_ignore_no_checkpoint",
                          SBERT_FIELD(bool, exp_manager.resume_ignore_no_checkpoint),
                          "start fresh when there is none"));
    k.push_back(key<bool>("exp_manager.create_checkpoint_callback",
                          SBERT_FIELD(bool, exp_manager.create_checkpoint_callback),
                          "write checkpoints"));
    k.push_back(key<bool>("exp_manager.create_tensorboard_logger",
                          SBERT_FIELD(bool, exp_manager.create_tensorboard_logger),
                          "TensorBoard event files of the scalars in <log dir>/tensorboard"));
    const std::string ck = "exp_manager.checkpoint_callback_params.";
    k.push_back(key<S>(ck + "monitor", SBERT_FIELD(S, exp_manager.checkpoint.monitor),
                       "metric ranking checkpoints: val_loss, val_ndcg@10, val_spearman, ..."));
    k.push_back(key<MonitorMode>(ck + "mode", SBERT_FIELD(MonitorMode, exp_manager.checkpoint.mode),
                                 "min or max"));
    k.push_back(key<int>(ck + "save_top_k", SBERT_FIELD(int, exp_manager.checkpoint.save_top_k),
                         "checkpoints kept (-1: all)", at_least(-1), "must be >= -1"));
    k.push_back(key<I>(ck + "every_n_train_steps",
                       SBERT_FIELD(I, exp_manager.checkpoint.every_n_train_steps),
                       "steps between checkpoints (0: at every validation)", at_least<I>(0),
                       "must be >= 0"));
    k.push_back(key<bool>(ck + "save_last", SBERT_FIELD(bool, exp_manager.checkpoint.save_last),
                          "checkpoint the final step"));
    k.push_back(key<I>("model.micro_batch_size", SBERT_FIELD(I, model.micro_batch_size),
                       "queries per forward pass (GradCache chunk)", positive<I>(),
                       "must be positive"));
    k.push_back(key<I>("model.global_batch_size", SBERT_FIELD(I, model.global_batch_size),
                       "queries per optimizer step (all ranks)", positive<I>(),
                       "must be positive"));
    k.push_back(key<I>("model.encoder_seq_length", SBERT_FIELD(I, model.encoder_seq_length),
                       "token cap", at_least<I>(2), "must be at least 2"));
    Key mp = key<Precision>("model.precision", SBERT_FIELD(Precision, trainer.precision),
                            "alias of trainer.precision");
    mp.write = false;
    k.push_back(mp);
    k.push_back(key<D>("model.softmax_temp", SBERT_FIELD(D, model.softmax_temp),
                       "InfoNCE temperature", positive<D>(), "must be positive"));
    k.push_back(key<bool>("model.global_inbatch_negatives",
                          SBERT_FIELD(bool, model.global_inbatch_negatives),
                          "every rank's positives are negatives"));
    k.push_back(key<LossType>("model.loss", SBERT_FIELD(LossType, model.loss),
                              "nemo, mnrl, cosent, angle, gist, marginmse or matryoshka"));
    k.push_back(key<D>("model.mnrl_scale", SBERT_FIELD(D, model.mnrl_scale),
                       "MNRL similarity scale", positive<D>(), "must be positive"));
    k.push_back(key<D>("model.label_smoothing", SBERT_FIELD(D, model.label_smoothing),
                       "cross-entropy label smoothing",
                       [](const D& v) { return v >= 0 && v < 1; }, "must be in [0, 1)"));
    add_objective_keys(k);
    k.push_back(key<uint64_t>("model.seed", SBERT_FIELD(uint64_t, model.seed),
                              "data order and dropout seed"));
    k.push_back(key<D>("model.native_amp_init_scale", SBERT_FIELD(D, model.native_amp_init_scale),
                       "16-mixed: the initial loss scale",
                       [](const D& v) { return v > 0 && std::isfinite(v); },
                       "must be positive and finite"));
    k.push_back(key<I>("model.native_amp_growth_interval",
                       SBERT_FIELD(I, model.native_amp_growth_interval),
                       "16-mixed: finite steps before the loss scale doubles", positive<I>(),
                       "must be positive"));
    k.push_back(key<I>("model.hysteresis", SBERT_FIELD(I, model.hysteresis),
                       "16-mixed: overflowing steps before the loss scale halves", positive<I>(),
                       "must be positive"));
    k.push_back(key<D>("model.hidden_dropout", SBERT_FIELD(D, model.hidden_dropout),
                       "-1: the model's", [](const D& v) { return v < 1; },
                       "must be below 1 (-1: the model's)"));
    k.push_back(key<D>("model.attention_dropout", SBERT_FIELD(D, model.attention_dropout),
                       "-1: the model's", [](const D& v) { return v < 1; },
                       "must be below 1 (-1: the model's)"));
    k.push_back(key<S>("model.attention_backend", SBERT_FIELD(S, model.attention_backend),
                       "ours, or cudnn (cuDNN's fused attention: GPU, bf16-mixed, attention "
                       "dropout 0)",
                       [](const S& v) { return v == "ours" || v == "cudnn"; },
                       "must be ours or cudnn"));
    Key hn = key<I>("model.hard_negatives_to_train",
                    SBERT_FIELD(I, model.data.hard_negatives_to_train),
                    "alias of model.data.hard_negatives_to_train");
    hn.write = false;
    k.push_back(hn);
    const std::string d = "model.data.";
    k.push_back(input_path(key<std::vector<S>>(d + "data_train",
                                               SBERT_FIELD(std::vector<S>, model.data.data_train),
                                               "training files: NeMo JSON/JSONL, CSV or TSV"),
                           SBERT_FIELD(std::vector<S>, model.data.data_train)));
    k.push_back(input_path(
        key<std::vector<S>>(d + "data_validation",
                            SBERT_FIELD(std::vector<S>, model.data.data_validation),
                            "validation files (val_loss), read as data_train"),
        SBERT_FIELD(std::vector<S>, model.data.data_validation)));
    k.push_back(key<DataFormat>(d + "format", SBERT_FIELD(DataFormat, model.data.format),
                                "format of data_train / data_validation: auto (by extension: "
                                ".csv, .tsv, else JSON), json (array or JSON Lines), csv or tsv"));
    const std::string dc = d + "columns.";
    k.push_back(key<S>(dc + "anchor", SBERT_FIELD(S, model.data.columns.anchor),
                       "field of the anchor (query, sentence1); empty: JSON query, CSV/TSV the "
                       "first text column"));
    k.push_back(key<S>(dc + "positive", SBERT_FIELD(S, model.data.columns.positive),
                       "field of the positive (pos_doc, sentence2); empty: JSON pos_doc, CSV/TSV "
                       "the second text column"));
    k.push_back(names(key<std::vector<S>>(dc + "negatives",
                                    SBERT_FIELD(std::vector<S>, model.data.columns.negatives),
                                    "fields of the negatives; empty: JSON neg_doc, CSV/TSV the "
                                    "further text columns")));
    k.push_back(key<S>(dc + "score", SBERT_FIELD(S, model.data.columns.score),
                       "field of the pair's score; empty: JSON score, CSV/TSV a column named "
                       "score or label"));
    k.push_back(names(key<std::vector<S>>(dc + "margins",
                                    SBERT_FIELD(std::vector<S>, model.data.columns.margins),
                                    "fields of the teacher margins, one per negative; empty: JSON "
                                    "margins, CSV/TSV columns named margin...")));
    k.push_back(datasets_key(d + "train_ds", [](TrainOptions& o) -> std::vector<DatasetSpec>& {
      return o.model.data.train_ds;
    }, "several training datasets instead of data_train: [{name, paths, format, columns, "
       "weight}, ...], a batch from one at a time"));
    k.push_back(datasets_key(d + "validation_ds", [](TrainOptions& o) -> std::vector<DatasetSpec>& {
      return o.model.data.validation_ds;
    }, "validation datasets instead of data_validation (read as one list; weight unused)"));
    k.push_back(key<DatasetSampler>(d + "sampler", SBERT_FIELD(DatasetSampler, model.data.sampler),
                                    "with several train_ds: proportional (each dataset's batches "
                                    "once a round, x weight, shuffled) or round_robin"));
    k.push_back(key<I>(d + "hard_negatives_to_train",
                       SBERT_FIELD(I, model.data.hard_negatives_to_train),
                       "negatives per query", at_least<I>(0), "must be >= 0"));
    k.push_back(key<NegativeSelection>(d + "negative_selection",
                                       SBERT_FIELD(NegativeSelection, model.data.negative_selection),
                                       "first or random"));
    k.push_back(key<bool>(d + "add_prefix", SBERT_FIELD(bool, model.data.add_prefix),
                          "prepend query_prefix / passage_prefix"));
    k.push_back(key<S>(d + "query_prefix", SBERT_FIELD(S, model.data.query_prefix),
                       "e.g. \"query: \""));
    k.push_back(key<S>(d + "passage_prefix", SBERT_FIELD(S, model.data.passage_prefix),
                       "e.g. \"passage: \""));
    k.push_back(key<I>(d + "query_seq_length", SBERT_FIELD(I, model.data.query_seq_length),
                       "-1: encoder_seq_length", [](const I& v) { return v == -1 || v >= 2; },
                       "must be -1 or at least 2"));
    k.push_back(key<I>(d + "passage_seq_length", SBERT_FIELD(I, model.data.passage_seq_length),
                       "-1: encoder_seq_length", [](const I& v) { return v == -1 || v >= 2; },
                       "must be -1 or at least 2"));
    k.push_back(key<bool>(d + "shuffle", SBERT_FIELD(bool, model.data.shuffle),
                          "seeded shuffle every epoch"));
    k.push_back(key<bool>(d + "dedupe_in_batch", SBERT_FIELD(bool, model.data.dedupe_in_batch),
                          "mask duplicate texts within a batch"));
    k.push_back(key<bool>(d + "skip_bad_records", SBERT_FIELD(bool, model.data.skip_bad_records),
                          "skip (and count) bad records instead of failing"));
    const std::string vb = d + "validation_beir.";
    k.push_back(input_path(key<S>(vb + "path", SBERT_FIELD(S, model.data.validation_beir.path),
                                  "BEIR folder for retrieval validation (empty: off)"),
                           SBERT_FIELD(S, model.data.validation_beir.path)));
    k.push_back(key<S>(vb + "split", SBERT_FIELD(S, model.data.validation_beir.split),
                       "qrels split", [](const S& v) { return !v.empty(); },
                       "must name a qrels split"));
    k.push_back(key<I>(vb + "max_queries", SBERT_FIELD(I, model.data.validation_beir.max_queries),
                       "first N queries (0: all)", at_least<I>(0), "must be >= 0 (0: all)"));
    k.push_back(key<I>(vb + "batch_size", SBERT_FIELD(I, model.data.validation_beir.batch_size),
                       "texts per forward pass", positive<I>(), "must be positive"));
    const std::string vs = d + "validation_sts.";
    k.push_back(input_path(key<S>(vs + "path", SBERT_FIELD(S, model.data.validation_sts.path),
                                  "scored pairs (sentence1, sentence2, score TSV) for "
                                  "val_spearman / val_pearson (empty: off)"),
                           SBERT_FIELD(S, model.data.validation_sts.path)));
    k.push_back(key<I>(vs + "batch_size", SBERT_FIELD(I, model.data.validation_sts.batch_size),
                       "texts per forward pass", positive<I>(), "must be positive"));
    k.push_back(key<Optimizer>("model.optim.name", SBERT_FIELD(Optimizer, model.optim.name),
                               "fused_adam, adam or adamw (all AdamW)"));
    k.push_back(key<D>("model.optim.lr", SBERT_FIELD(D, model.optim.lr), "peak learning rate",
                       positive<D>(), "must be positive"));
    k.push_back(key<D>("model.optim.weight_decay", SBERT_FIELD(D, model.optim.weight_decay),
                       "AdamW decoupled weight decay", at_least<D>(0), "must be >= 0"));
    {
      // [beta1, beta2]: two fields behind one key.
      Key b;
      b.name = "model.optim.betas";
      b.help = "AdamW [beta1, beta2], each in [0, 1)";
      b.type = "a list of two numbers";
      b.set = [](TrainOptions& o, const YAML::Node& v, const std::string& at) {
        double b1 = 0, b2 = 0;
        if (!v.IsSequence() || v.size() != 2 || !parse_value(v[0], b1) || !parse_value(v[1], b2))
          type_error(at, "model.optim.betas", "a list of two numbers", v);
        o.model.optim.beta1 = b1;
        o.model.optim.beta2 = b2;
      };
      b.get = [](const TrainOptions& o) {
        YAML::Node n(YAML::NodeType::Sequence);
        n.push_back(o.model.optim.beta1);
        n.push_back(o.model.optim.beta2);
        return n;
      };
      b.check = [](const TrainOptions& o) {
        const auto& p = o.model.optim;
        if (!(p.beta1 >= 0 && p.beta1 < 1)) return cat("first value must be in [0, 1), got ", p.beta1);
        if (!(p.beta2 >= 0 && p.beta2 < 1)) return cat("second value must be in [0, 1), got ", p.beta2);
        return std::string();
      };
      k.push_back(b);
    }
    k.push_back(key<D>("model.optim.eps", SBERT_FIELD(D, model.optim.eps), "AdamW epsilon",
                       positive<D>(), "must be positive"));
    const std::string sc = "model.optim.sched.";
    k.push_back(key<Schedule>(sc + "name", SBERT_FIELD(Schedule, model.optim.sched.name),
                              "CosineAnnealing, WarmupAnnealing or WarmupPolicy"));
    k.push_back(key<I>(sc + "warmup_steps", SBERT_FIELD(I, model.optim.sched.warmup_steps),
                       "linear warmup steps", at_least<I>(0), "must be >= 0"));
    k.push_back(key<D>(sc + "warmup_ratio", SBERT_FIELD(D, model.optim.sched.warmup_ratio),
                       "warmup as a fraction of max_steps (when warmup_steps is 0; -1: off)",
                       [](const D& v) { return v < 1; }, "must be below 1"));
    k.push_back(key<I>(sc + "constant_steps", SBERT_FIELD(I, model.optim.sched.constant_steps),
                       "steps at min_lr after the decay", at_least<I>(0), "must be >= 0"));
    k.push_back(key<D>(sc + "min_lr", SBERT_FIELD(D, model.optim.sched.min_lr),
                       "final learning rate"));
    return k;
  }
}

#undef SBERT_FIELD

const Key* find_key(const std::vector<Key>& table, const std::string& name) {
  for (const Key& k : table)
    if (k.name == name) return &k;
  return nullptr;
}

// Levenshtein distance of a and b, or limit + 1 when it is larger. Only near misses are
// suggested, so the pass keeps to the band |i - j| <= limit and stops once a whole row is over
// the limit: an unknown key from an untrusted file costs O(|b| * limit) per known key, not
// O(|a| * |b|).
size_t edit_distance_within(const std::string& a, const std::string& b, size_t limit) {
  const size_t over = limit + 1;
  const size_t n = a.size(), m = b.size();
  if ((n > m ? n - m : m - n) > limit) return over;
  std::vector<size_t> prev(m + 1, over), cur(m + 1, over);
  for (size_t j = 0; j <= std::min(m, limit); ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    std::fill(cur.begin(), cur.end(), over);
    if (i <= limit) cur[0] = i;
    const size_t lo = i > limit ? i - limit : 1, hi = std::min(m, i + limit);
    size_t row_min = cur[lo - 1];
    for (size_t j = lo; j <= hi; ++j) {
      const size_t d = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      cur[j] = std::min(d, over);
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > limit) return over;
    std::swap(prev, cur);
  }
  return prev[m];
}

// " (did you mean 'model.optim.lr'?)" when a key is close to the unknown one.
std::string suggestion(const std::vector<Key>& table, const std::string& unknown) {
  constexpr size_t kNear = 4;  // typed letters off that still earn a suggestion
  const Key* best = nullptr;
  size_t best_d = kNear + 1;
  for (const Key& k : table) {
    const size_t d = edit_distance_within(unknown, k.name, kNear);
    if (d < best_d) {
      best_d = d;
      best = &k;
    }
  }
  // Same last component in another section, or a few typed letters off.
  const auto last = [](const std::string& s) { return s.substr(s.rfind('.') + 1); };
  if (!best) {
    for (const Key& k : table)
      if (last(k.name) == last(unknown)) return " (did you mean '" + k.name + "'?)";
    return "";
  }
  return " (did you mean '" + best->name + "'?)";
}

std::vector<std::string> split_dots(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

void set_path(YAML::Node node, const std::vector<std::string>& parts, size_t i,
              const YAML::Node& value, const std::string& key) {
  if (i + 1 == parts.size()) {
    node[parts[i]] = value;
    return;
  }
  if (!node[parts[i]] || node[parts[i]].IsNull()) node[parts[i]] = YAML::Node(YAML::NodeType::Map);
  SBERT_CHECK(node[parts[i]].IsMap(), "[config] override '", key, "': '", parts[i],
              "' is not a section");
  set_path(node[parts[i]], parts, i + 1, value, key);
}

// Leaves of the tree as (dotted key, node); empty maps contribute nothing.
// A key must be a scalar: YAML allows a list or a mapping as a key ("? [a, b]: 1").
void flatten(const YAML::Node& node, const std::string& prefix, const std::filesystem::path& source,
             std::vector<std::pair<std::string, YAML::Node>>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      SBERT_CHECK(kv.first.IsScalar(), "[config] ", source.string(), ":", kv.first.Mark().line + 1,
                  ": a key", prefix.empty() ? std::string() : " under '" + prefix + "'",
                  " is a ", kv.first.IsSequence() ? "list" : kv.first.IsMap() ? "mapping" : "null",
                  ", not a name");
      const std::string k = kv.first.as<std::string>();
      flatten(kv.second, prefix.empty() ? k : prefix + "." + k, source, out);
    }
  } else {
    out.emplace_back(prefix, node);
  }
}

YAML::Node lookup(const YAML::Node& root, const std::string& key) {
  YAML::Node cur = YAML::Clone(root);
  for (const std::string& p : split_dots(key)) {
    if (!cur.IsMap() || !cur[p]) return YAML::Node();
    cur = YAML::Node(cur[p]);  // a fresh handle: rebinding, not assignment through
  }
  return cur;
}

// Resolves "${a.b}" (absolute) and "${.b}" (sibling of the key) as OmegaConf does.
YAML::Node resolve(const YAML::Node& root, const std::string& key, YAML::Node value,
                   const fs::path& source, int depth = 0) {
  static const std::regex ref(R"(^\$\{(\.?)([A-Za-z0-9_.]+)\}$)");
  if (!value.IsScalar()) return value;
  const std::string s = value.Scalar();
  std::smatch m;
  if (!std::regex_match(s, m, ref)) {
    SBERT_CHECK(s.find("${") == std::string::npos, "[config] ", source.string(), ": key '", key,
                "': interpolation '", s, "' is not supported (only ${a.b} and ${.b})");
    return value;
  }
  SBERT_CHECK(depth < 16, "[config] ", source.string(), ": key '", key, "': interpolation loop");
  std::string target = m[2];
  if (m[1] == ".") {
    const size_t dot = key.rfind('.');
    target = (dot == std::string::npos ? "" : key.substr(0, dot + 1)) + target;
  }
  const YAML::Node found = lookup(root, target);
  SBERT_CHECK(found.IsDefined() && !found.IsNull(), "[config] ", source.string(), ": key '", key,
              "' refers to '", target, "', which is not set");
  return resolve(root, target, found, source, depth + 1);
}


// Checks across keys, after every key's own check.
void validate_options(const TrainOptions& c, const Origins* origins) {
  const fs::path& src = c.source;
  for (const Key& k : keys()) {
    if (!k.check) continue;
    const std::string problem = k.check(c);
    SBERT_CHECK(problem.empty(), "[config] ", where(src, origins, k.name), "key '", k.name, "' ",
                problem);
  }
  const auto& t = c.trainer;
  const auto& m = c.model;
  const auto& vb = m.data.validation_beir;
  const auto& ck = c.exp_manager.checkpoint;
  auto at = [&](const std::string& key) { return where(src, origins, key); };
  SBERT_CHECK(t.max_steps > 0 || (t.max_steps == -1 && t.max_epochs > 0), "[config] ",
              at("trainer.max_steps"), "key 'trainer.max_steps' must be positive (or -1 with "
              "trainer.max_epochs > 0), got ", t.max_steps);
  // A check across two keys names where the other one came from too.
  auto also = [&](const std::string& key) {
    const std::string o = origin_of(src, origins, key);
    return o.empty() ? o : " (" + key + ": " + o + ")";
  };
  SBERT_CHECK(m.micro_batch_size <= m.global_batch_size, "[config] ",
              at("model.micro_batch_size"), "key 'model.micro_batch_size' (", m.micro_batch_size,
              ") is larger than model.global_batch_size (", m.global_batch_size, ")",
              also("model.global_batch_size"));
  const int64_t per_step = m.micro_batch_size * t.devices * t.num_nodes;
  SBERT_CHECK(m.global_batch_size % per_step == 0, "[config] ", at("model.global_batch_size"),
              "key 'model.global_batch_size' (", m.global_batch_size,
              ") must be a multiple of micro_batch_size x devices x num_nodes (", per_step, ")",
              also("model.micro_batch_size"));
  const std::string mon = "exp_manager.checkpoint_callback_params.monitor";
  const std::string mode = "exp_manager.checkpoint_callback_params.mode";
  const std::set<std::string> beir_metrics = {"val_ndcg@10",  "val_mrr@10",    "val_map@100",
                                              "val_recall@1", "val_recall@10", "val_recall@100"};
  const std::set<std::string> sts_metrics = {"val_spearman", "val_pearson"};
  if (beir_metrics.count(ck.monitor) > 0 || sts_metrics.count(ck.monitor) > 0) {
    const bool sts = sts_metrics.count(ck.monitor) > 0;
    SBERT_CHECK(!(sts ? m.data.validation_sts.path : vb.path).empty(), "[config] ", at(mon),
                "key '", mon, "' names ", sts ? "an STS metric" : "a retrieval metric", " but ",
                sts ? "model.data.validation_sts.path" : "model.data.validation_beir.path",
                " is not set, got ", ck.monitor);
    SBERT_CHECK(ck.mode == MonitorMode::Max, "[config] ", at(mode), "key '", mode,
                "' must be max when monitoring ", ck.monitor, " (higher is better), got min");
  } else {
    SBERT_CHECK(ck.monitor == "val_loss", "[config] ", at(mon), "key '", mon,
                "' must be val_loss, val_ndcg@10, val_mrr@10, val_map@100, val_recall@1/10/100, "
                "val_spearman or val_pearson, got ",
                ck.monitor);
  }
  if (m.loss == LossType::Matryoshka) {
    SBERT_CHECK(!m.matryoshka_dims.empty(), "[config] ", at("model.matryoshka_dims"),
                "key 'model.matryoshka_dims' must list at least one dim when model.loss is "
                "matryoshka");
  }
  SBERT_CHECK(m.matryoshka_weights.empty() ||
                  m.matryoshka_weights.size() == m.matryoshka_dims.size(),
              "[config] ", at("model.matryoshka_weights"), "key 'model.matryoshka_weights' has ",
              m.matryoshka_weights.size(), " values but model.matryoshka_dims has ",
              m.matryoshka_dims.size(), also("model.matryoshka_dims"));
  const LossType base = m.loss == LossType::Matryoshka ? m.matryoshka_loss : m.loss;
  if (base == LossType::GIST) {
    SBERT_CHECK(!m.gist_guide_model.empty(), "[config] ", at("model.gist_guide_model"),
                "key 'model.gist_guide_model' must name the guide model's folder when the loss "
                "is gist");
  }
  SBERT_CHECK(m.data.data_train.empty() || m.data.train_ds.empty(), "[config] ",
              at("model.data.train_ds"), "keys 'model.data.data_train' and 'model.data.train_ds' "
              "are both set; use one", also("model.data.data_train"));
  SBERT_CHECK(m.data.data_validation.empty() || m.data.validation_ds.empty(), "[config] ",
              at("model.data.validation_ds"), "keys 'model.data.data_validation' and "
              "'model.data.validation_ds' are both set; use one", also("model.data.data_validation"));
  for (const DatasetSpec& ds : m.data.train_ds) {
    SBERT_CHECK(m.data.sampler != DatasetSampler::RoundRobin || ds.weight == 1.0, "[config] ",
                at("model.data.sampler"), "key 'model.data.sampler' is round_robin but a train_ds "
                "entry has weight ", ds.weight, " (weights need the proportional sampler)");
  }
  const auto& sc = m.optim.sched;
  SBERT_CHECK(sc.min_lr >= 0 && sc.min_lr <= m.optim.lr, "[config] ", at("model.optim.sched.min_lr"),
              "key 'model.optim.sched.min_lr' must be in [0, model.optim.lr], got ", sc.min_lr);
}

std::string value_text(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

}  // namespace

void TrainOptions::validate() const { validate_options(*this, &origins); }

ScheduleConfig schedule_config(const TrainConfig& cfg, int64_t max_steps) {
  const auto& sc = cfg.model.optim.sched;
  ScheduleConfig s;
  s.name = to_string(sc.name);
  s.lr = cfg.model.optim.lr;
  s.max_steps = max_steps;
  s.min_lr = sc.min_lr;
  if (sc.warmup_ratio >= 0 && sc.warmup_steps == 0) {
    s.warmup_ratio = sc.warmup_ratio;
  } else {
    s.warmup_steps = sc.warmup_steps;
  }
  s.constant_steps = sc.constant_steps;
  return s;
}

int64_t TrainOptions::accumulation_steps() const {
  return model.global_batch_size / (model.micro_batch_size * trainer.devices * trainer.num_nodes);
}

fs::path TrainOptions::log_dir() const {
  if (!exp_manager.explicit_log_dir.empty()) return exp_manager.explicit_log_dir;
  return fs::path(exp_manager.exp_dir) / (exp_manager.name.empty() ? name : exp_manager.name);
}

TrainOptions TrainOptions::from_nemo_yaml_text(const std::string& yaml_text, const fs::path& source,
                                               const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail("[config] ", source.string(), ": not valid YAML (line ", e.mark.line + 1, ": ", e.msg,
         ")");
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  SBERT_CHECK(root.IsMap(), "[config] ", source.string(), ": expected a mapping at the top");
  Origins origins;
  for (const std::string& ov : overrides) {
    const size_t eq = ov.find('=');
    SBERT_CHECK(eq != std::string::npos && eq > 0, "[config] override '", ov,
                "' must look like key.path=value");
    std::string key = ov.substr(0, eq);
    if (key[0] == '+' || key[0] == '~') key = key.substr(1);  // Hydra's add marker
    YAML::Node value;
    try {
      value = YAML::Load(ov.substr(eq + 1));
    } catch (const YAML::Exception&) {
      value = YAML::Node(ov.substr(eq + 1));
    }
    set_path(root, split_dots(key), 0, value, key);
    origins[key] = std::string(kOverride) + " '" + ov + "'";
  }

  TrainOptions cfg;
  cfg.source = source;
  std::vector<std::pair<std::string, YAML::Node>> leaves;
  flatten(root, "", source, leaves);
  for (const auto& [key, node] : leaves) {
    if (origins.count(key)) continue;
    // A leaf of a section given whole on the command line (model.optim={lr: 1}): that override.
    std::string section = key;
    for (size_t dot; (dot = section.rfind('.')) != std::string::npos;) {
      section.resize(dot);
      const auto it = origins.find(section);
      if (it != origins.end() && it->second.rfind(kOverride, 0) == 0) {
        origins[key] = it->second;
        break;
      }
    }
    if (origins.count(key)) continue;
    origins[key] = node.Mark().line >= 0 ? cat(source.string(), ":", node.Mark().line + 1)
                                         : source.string();
  }
  std::map<std::string, std::string> seen_hn;  // both hard_negatives_to_train keys must agree
  const std::vector<Key> table = keys();
  for (const auto& [key, node] : leaves) {
    const Key* k = find_key(table, key);
    if (!k) {
      SBERT_CHECK(is_ignored_nemo_key(key), "[config] ", where(source, &origins, key),
                  "unknown key '", key, "'", suggestion(table, key));
      cfg.ignored_keys.push_back(key);
      continue;
    }
    const YAML::Node value = resolve(root, key, node, source);
    if (key.ends_with("precision") && value.IsScalar()) {
      const std::string p = value.Scalar();
      SBERT_CHECK(p != "16-true", "[config] ", where(source, &origins, key), "key '", key,
                  "': 16-true (fp16 weights) is not supported, use 16-mixed (fp32 master "
                  "weights) or bf16-mixed");
    }
    k->set(cfg, value, where(source, &origins, key));
    if (key.find("hard_negatives_to_train") != std::string::npos && !value.IsNull()) {
      seen_hn[key] = value_text(value);
    }
  }
  if (seen_hn.size() == 2) {
    SBERT_CHECK(seen_hn.begin()->second == seen_hn.rbegin()->second, "[config] ", source.string(),
                ": keys 'model.hard_negatives_to_train' and 'model.data.hard_negatives_to_train'"
                " disagree (",
                seen_hn["model.hard_negatives_to_train"], " vs ",
                seen_hn["model.data.hard_negatives_to_train"], ")");
  }
  // The file-driven run names its model and data in the file (a Trainer may get them in code).
  SBERT_CHECK(!cfg.restore_from_path.empty(), "[config] ", source.string(),
              ": key 'restore_from_path' must name the model folder to fine-tune, got nothing");
  SBERT_CHECK(!cfg.model.data.data_train.empty() || !cfg.model.data.train_ds.empty(), "[config] ",
              source.string(),
              ": key 'model.data.data_train' (or model.data.train_ds) must name the training data, "
              "got nothing");
  validate_options(cfg, &origins);
  if (cfg.trainer.max_steps > 0) {  // else the step count depends on the data: the trainer checks
    try {
      const std::string w = schedule_warnings(schedule_config(cfg, cfg.trainer.max_steps));
      if (!w.empty()) cfg.warnings.push_back(w);
    } catch (const Error& e) {
      // The schedule's keys may come from three places: name each one's.
      std::string from = cat(
          "model.optim.sched.warmup_steps: ",
          origin_of(source, &origins, "model.optim.sched.warmup_steps"),
          "; trainer.max_steps: ", origin_of(source, &origins, "trainer.max_steps"));
      for (const char* k : {"model.optim.sched.warmup_ratio", "model.optim.sched.constant_steps"})
        if (origins.count(k)) from += cat("; ", k, ": ", origins.at(k));
      fail("[config] ", e.what(), " (", from, ")");
    }
  }
  cfg.origins = std::move(origins);
  return cfg;
}

TrainOptions TrainOptions::from_nemo_yaml(const fs::path& config_dir,
                                          const std::string& config_name,
                                          const std::vector<std::string>& overrides) {
  fs::path file = config_dir / config_name;
  if (file.extension() != ".yaml" && file.extension() != ".yml") file += ".yaml";
  TrainOptions cfg = from_nemo_yaml_text(read_file(file), file, overrides);
  // A relative path written in the file names a place next to the file, as Hydra users expect,
  // wherever sbert-finetune runs; an override's is relative to the current folder, as a shell's.
  // Outputs (exp_manager.*) stay relative to the current folder.
  for (const Key& k : keys()) {
    if (!k.rebase) continue;
    const auto it = cfg.origins.find(k.name);
    if (it == cfg.origins.end() || it->second.rfind(kOverride, 0) == 0) continue;
    k.rebase(cfg, file.parent_path());
  }
  return cfg;
}

TrainConfig parse_train_config(const std::string& yaml_text, const fs::path& source,
                               const std::vector<std::string>& overrides) {
  return TrainOptions::from_nemo_yaml_text(yaml_text, source, overrides);
}

TrainConfig load_train_config(const fs::path& config_dir, const std::string& config_name,
                              const std::vector<std::string>& overrides) {
  return TrainOptions::from_nemo_yaml(config_dir, config_name, overrides);
}

std::string TrainOptions::to_yaml() const {
  YAML::Node root(YAML::NodeType::Map);
  for (const Key& k : keys()) {
    if (k.write) set_path(root, split_dots(k.name), 0, k.get(*this), k.name);
  }
  YAML::Emitter out;
  out.SetDoublePrecision(17);
  out << root;
  std::string text = std::string("# resolved by sbert-finetune from ") + source.string() + "\n";
  if (!ignored_keys.empty()) {
    text += "# NeMo keys accepted without effect:";
    for (const auto& k : ignored_keys) text += " " + k;
    text += "\n";
  }
  return text + out.c_str() + "\n";
}

std::string to_yaml(const TrainConfig& cfg) { return cfg.to_yaml(); }

int64_t TrainOptions::val_check_steps(int64_t batches_per_epoch) const {
  if (trainer.val_check_fraction <= 0) return trainer.val_check_interval;
  const double steps = std::round(trainer.val_check_fraction * static_cast<double>(batches_per_epoch));
  return std::max<int64_t>(1, static_cast<int64_t>(steps));
}

namespace {

// The shortest text that reads back as the same double: 1e-05, not 1.0000000000000001e-05.
std::string shortest(double x) {
  for (int digits = 6; digits < 17; ++digits) {
    std::ostringstream s;
    s.precision(digits);
    s << x;
    if (std::stod(s.str()) == x) return s.str();
  }
  std::ostringstream s;
  s.precision(17);
  s << x;
  return s.str();
}

// A value for people: flow style, numbers at their shortest.
std::string human_text(const YAML::Node& n) {
  const auto scalar = [](const YAML::Node& v) {
    const std::string t = v.Scalar();
    double x = 0;
    if (t.find_first_of(".e") != std::string::npos && parse_value(v, x)) return shortest(x);
    YAML::Emitter e;
    e << v;
    return std::string(e.c_str());
  };
  if (n.IsScalar()) return scalar(n);
  if (n.IsSequence()) {
    std::string out = "[";
    for (size_t i = 0; i < n.size(); ++i)
      out += (i ? ", " : "") + (n[i].IsScalar() ? scalar(n[i]) : value_text(n[i]));
    return out + "]";
  }
  return value_text(n);
}

}  // namespace

std::string TrainOptions::describe() const {
  std::vector<std::pair<std::string, std::string>> rows;
  size_t width = 0;
  for (const Key& k : keys()) {
    if (!k.write) continue;
    std::string line = k.name + ": " + human_text(k.get(*this));
    width = std::max(width, line.size());
    const auto it = origins.find(k.name);
    rows.emplace_back(line, it != origins.end() ? it->second : "default");
  }
  std::string out = "# resolved configuration";
  out += source.empty() ? "\n" : " of " + source.string() + "\n";
  for (const auto& [line, from] : rows)
    out += line + std::string(width + 2 - line.size(), ' ') + "# " + from + "\n";
  for (const auto& k : ignored_keys) {
    const auto it = origins.find(k);
    out += "# accepted without effect (a NeMo key): " + k +
           (it != origins.end() ? " (" + it->second + ")" : "") + "\n";
  }
  return out;
}

std::string TrainOptions::reference_yaml() {
  std::string out =
      "# Every sbert-finetune key with its default; generated by `sbert-finetune --reference`\n"
      "# (a test keeps this file equal to it). Key names are NeMo's (megatron_bert_embedding_config\n"
      "# .yaml). Relative input paths written in a config file are relative to that file's folder;\n"
      "# on the command line, to the current folder. This file is a reference, not a runnable\n"
      "# config: restore_from_path and model.data.data_train have no default.\n";
  std::vector<std::string> open;  // the sections the previous key sat in
  for (const Key& k : keys()) {
    if (!k.write) continue;
    std::vector<std::string> parts = split_dots(k.name);
    const std::string leaf = parts.back();
    parts.pop_back();
    size_t same = 0;
    while (same < open.size() && same < parts.size() && open[same] == parts[same]) ++same;
    for (size_t i = same; i < parts.size(); ++i) {
      if (i == 0) out += "\n";
      out += std::string(2 * i, ' ') + parts[i] + ":\n";
    }
    open = parts;
    const std::string pad(2 * parts.size(), ' ');
    const YAML::Node def = k.get(TrainOptions{});
    const std::string text = def.IsScalar() && def.Scalar().empty() ? "null" : human_text(def);
    out += pad + "# " + k.help + "\n";
    out += pad + leaf + ": " + text + "   # " + k.type + "\n";
  }
  return out;
}

std::string TrainOptions::keys_help() {
  std::string out;
  for (const Key& k : keys()) {
    std::string def = value_text(k.get(TrainOptions{}));
    double x = 0;
    if (k.type == type_name<double>() && parse_value(YAML::Node(def), x)) {
      std::ostringstream s;  // 0.0002, not the round-trip 0.00020000000000000001
      s << x;
      def = s.str();
    }
    out += cat(k.name, " (", k.type, ", default ", def, "): ", k.help, "\n");
  }
  return out;
}

}  // namespace sbert
