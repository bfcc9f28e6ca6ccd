#include "train/objective_setup.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "api/model_impl.h"
#include "core/check.h"

namespace sbert {

namespace {

ObjectiveKind kind_of(LossType t) {
  switch (t) {
    case LossType::CoSENT:
      return ObjectiveKind::CoSENT;
    case LossType::AnglE:
      return ObjectiveKind::AnglE;
    case LossType::GIST:
      return ObjectiveKind::GIST;
    case LossType::MarginMSE:
      return ObjectiveKind::MarginMSE;
    default:
      return ObjectiveKind::Contrastive;
  }
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

ObjectiveConfig objective_from_options(const TrainOptions& o, int64_t embedding_dim) {
  const auto& m = o.model;
  const LossType base = m.loss == LossType::Matryoshka ? m.matryoshka_loss : m.loss;
  SBERT_CHECK(base != LossType::Matryoshka,
              "[config] key 'model.matryoshka_loss' must name another loss, got matryoshka");
  ObjectiveConfig c;
  c.kind = kind_of(base);
  c.contrastive.mode =
      base == LossType::MNRL ? LossMode::SharedNegatives : LossMode::ExclusiveHardNegatives;
  c.contrastive.softmax_temp = m.softmax_temp;
  c.contrastive.scale = m.mnrl_scale;
  c.contrastive.label_smoothing = m.label_smoothing;
  c.cosent_scale = m.cosent_scale;
  c.angle_scale = m.angle_scale;
  c.gist_temperature = m.gist_temperature;
  SBERT_CHECK(m.gist_margin_strategy == "absolute" || m.gist_margin_strategy == "relative",
              "[config] key 'model.gist_margin_strategy' must be absolute or relative, got ",
              m.gist_margin_strategy);
  c.gist_margin_strategy =
      m.gist_margin_strategy == "relative" ? GistMargin::Relative : GistMargin::Absolute;
  c.gist_margin = m.gist_margin;
  c.gist_contrast_anchors = m.gist_contrast_anchors;
  c.gist_contrast_positives = m.gist_contrast_positives;
  if (m.loss == LossType::Matryoshka) {
    SBERT_CHECK(!m.matryoshka_dims.empty(),
                "[config] key 'model.matryoshka_dims' must list at least one dim when model.loss "
                "is matryoshka");
    c.matryoshka_dims = m.matryoshka_dims;
    c.matryoshka_weights = m.matryoshka_weights;
    c.matryoshka_n_dims_per_step = m.matryoshka_n_dims_per_step;
  }
  validate(c, embedding_dim);
  return c;
}

bool guide_must_retokenize(const Model& model, const Model& guide, int max_tokens) {
  const Tokenizer& a = model.tokenizer();
  const Tokenizer& b = guide.tokenizer();
  bool same = a.vocab_size() == b.vocab_size();
  for (int32_t i = 0; same && i < a.vocab_size(); ++i) same = a.id_to_token(i) == b.id_to_token(i);
  return !same || guide.impl().config.max_seq_length < max_tokens;
}

std::unique_ptr<Model> load_guide_model(const TrainOptions& o, const Model& model, int max_tokens) {
  const std::string& dir = o.model.gist_guide_model;
  SBERT_CHECK(!dir.empty(),
              "[config] key 'model.gist_guide_model' must name the guide model's "
              "folder when the loss is gist");
  auto guide = std::make_unique<Model>(Model::load(dir));
  const ModelConfig& gc = guide->impl().config;
  if (guide_must_retokenize(model, *guide, max_tokens)) {
    // The guide encodes decoded text: the trained model's tokenizer must decode.
    try {
      (void)model.tokenizer().decode({model.tokenizer().cls_id()});
    } catch (const Error& e) {
      fail("[loss] gist: the guide model ", dir,
           " has another vocabulary or a shorter max_seq_length (", gc.max_seq_length, " < ",
           max_tokens,
           "), so its input is the trained model's ids decoded and re-tokenized, "
           "but: ",
           e.what());
    }
    SBERT_CHECK(gc.max_seq_length > 0 && gc.max_seq_length <= gc.max_tokens(),
                "[loss] gist: the guide model ", dir, " has max_seq_length ", gc.max_seq_length,
                " but ", gc.max_tokens(), " positions");
    return guide;
  }
  SBERT_CHECK(max_tokens <= gc.max_tokens(), "[loss] gist: the guide model ", dir, " has ",
              gc.max_tokens(), " positions but training sequences reach ", max_tokens,
              " tokens (lower model.encoder_seq_length)");
  return guide;
}

void check_data_suits(const ObjectiveConfig& cfg, const TrainDataset& data, int hard_negatives) {
  const char* name = objective_name(cfg);
  const TrainReadStats& st = data.stats();
  if (cfg.needs_scores()) {
    SBERT_CHECK(data.all_have_scores(), "[loss] ", name,
                " needs a score on every record (sentence1, sentence2, score): ", data.name(),
                " has ", st.records - st.with_score, " records without one");
  }
  if (cfg.needs_margins()) {
    SBERT_CHECK(hard_negatives > 0, "[loss] ", name,
                " needs hard negatives with teacher margins: set "
                "model.data.hard_negatives_to_train > 0 (",
                data.name(), ")");
    SBERT_CHECK(data.all_have_margins(), "[loss] ", name,
                " needs a teacher margin per negative (\"margins\"): ", data.name(), " has ",
                st.records - st.with_margins, " records without them");
  }
}

void check_batch_suits(const ObjectiveConfig& cfg, const TrainBatch& batch,
                       const std::string& data_name) {
  const char* name = objective_name(cfg);
  if (cfg.needs_scores()) {
    SBERT_CHECK(batch.scores.size() == batch.size(), "[loss] ", name,
                " needs a score on every record (sentence1, sentence2, score): ", data_name,
                " has records without one");
  }
  if (cfg.needs_margins()) {
    SBERT_CHECK(batch.num_negatives > 0, "[loss] ", name,
                " needs hard negatives with teacher margins: set "
                "model.data.hard_negatives_to_train > 0 (",
                data_name, ")");
    SBERT_CHECK(batch.margins.size() == batch.size() * static_cast<size_t>(batch.num_negatives),
                "[loss] ", name, " needs a teacher margin per negative (\"margins\"): ", data_name,
                " has records without them");
  }
}

void draw_matryoshka_dims(ObjectiveConfig& cfg, uint64_t seed, uint64_t step) {
  const size_t n = cfg.matryoshka_dims.size();
  const int64_t want = cfg.matryoshka_n_dims_per_step;
  if (want <= 0 || static_cast<size_t>(want) >= n) {
    cfg.matryoshka_active.clear();
    return;
  }
  // The first `want` of a Fisher-Yates shuffle keyed by (seed, step).
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  uint64_t state = seed * 0x2545F4914F6CDD1Dull ^ (step + 0x6A09E667F3BCC909ull);
  for (size_t i = 0; i < static_cast<size_t>(want); ++i) {
    const size_t j = i + static_cast<size_t>(splitmix64(state) % (n - i));
    std::swap(idx[i], idx[j]);
  }
  cfg.matryoshka_active.assign(n, 0);
  for (size_t i = 0; i < static_cast<size_t>(want); ++i) cfg.matryoshka_active[idx[i]] = 1;
}

}  // namespace sbert
