// Semantic textual similarity evaluation, as sentence-transformers' EmbeddingSimilarityEvaluator
// with cosine similarity: Spearman and Pearson correlation between the gold scores and the
// cosine similarity of the two sentences' embeddings (scipy.stats.spearmanr / pearsonr).
//
// File format, tab-separated, split on tabs only (no CSV quoting), "\n" or "\r\n":
//   a header naming the columns sentence1, sentence2 and score (any order, any case, other
//   columns ignored), then rows with at least those columns;
//   else 3 columns:   sentence1 <TAB> sentence2 <TAB> score
//   or 7+ columns:    the STS benchmark: genre, file, year, id, score, sentence1, sentence2 [, ...]
// Blank lines are skipped; a first line whose score column is not a number is a header and is
// skipped; any other bad line is an error naming file:line. The same reader serves sbert-eval
// --sts and the trainer's STS validation (model.data.validation_sts).
#pragma once

#include "sbert/eval.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sbert/model.h"

namespace sbert::eval {



// cosine(embed(s1[i]), embed(s2[i])) in float32, as sentence-transformers' pairwise_cos_sim.
std::vector<float> sts_cosines(const Model& model, const StsData& data, const EmbedOptions& opt);

// cosine(a[i][:d], b[i][:d]) in float32: the rows' first d dimensions, L2-normalized (a and b
// alike: (rows, dim), 1 <= d <= dim).
std::vector<float> pair_cosines(const Embeddings& a, const Embeddings& b, int64_t d);

// Correlations of given similarities with data.scores.
StsMetrics score_sts(const std::vector<float>& cosines, const StsData& data);

}  // namespace sbert::eval
