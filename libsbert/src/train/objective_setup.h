// From the configuration to a training objective: builds the ObjectiveConfig of model.loss and
// its keys, loads and checks gist's guide model, checks that the data carries what the loss
// needs, and draws Matryoshka's dims of a step. The trainer's side of train/objective.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "data/train_batches.h"
#include "data/train_reader.h"
#include "sbert/model.h"
#include "sbert/train.h"
#include "train/objective.h"

namespace sbert {

// model.loss and the objective keys; embedding_dim checks model.matryoshka_dims. Throws
// "[loss] ..." / "[config] ..." one-line errors.
ObjectiveConfig objective_from_options(const TrainOptions& o, int64_t embedding_dim);

// gist: the guide folder (model.gist_guide_model), loaded. It embeds the token ids of the
// trained model's tokenizer (sentence-transformers' path when both vocabularies are equal), so
// a guide with another vocabulary, or fewer positions than max_tokens, is refused.
std::unique_ptr<Model> load_guide_model(const TrainOptions& o, const Model& model, int max_tokens);

// At start: every record of the dataset carries what the loss needs (a score for cosent and
// angle; margins, and hard_negatives > 0, for marginmse). "[loss] cosent needs a score on
// every record (sentence1, sentence2, score): train.jsonl has 40 records without one".
void check_data_suits(const ObjectiveConfig& cfg, const TrainDataset& data, int hard_negatives);

// The same on one batch (a dataset added later, TrainData built in code): "[loss] cosent needs a
// score on every record (sentence1, sentence2, score): data.jsonl has
// none" and the like; data_name names the file(s).
void check_batch_suits(const ObjectiveConfig& cfg, const TrainBatch& batch,
                       const std::string& data_name);

// model.matryoshka_n_dims_per_step > 0: which dims step `step` trains, drawn from (seed, step)
// (sentence-transformers draws with Python's random.sample: same distribution, other draws).
void draw_matryoshka_dims(ObjectiveConfig& cfg, uint64_t seed, uint64_t step);

}  // namespace sbert
