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

// sentence-transformers' GISTEmbedLoss.must_retokenize: the guide's vocabulary differs from the
// trained model's, or its max_seq_length is below the training sequences' max_tokens.
bool guide_must_retokenize(const Model& model, const Model& guide, int max_tokens);

// gist: the guide folder (model.gist_guide_model), loaded. Without re-tokenizing it embeds the
// trained model's token ids (then it needs max_tokens positions); with it, the decoded text
// encoded by its own tokenizer at its max_seq_length (then the trained tokenizer must decode).
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
