// --model and the prompts of a model, the same in every app.
#pragma once

#include <string>

#include "cli.h"
#include "sbert/model.h"

namespace sbert::cli {

// The model a --model argument names (sbert::resolve_model_path: a model folder, a run's log
// folder, checkpoints/latest or checkpoints/best). Says on stderr, in one line, which checkpoint
// a log folder or a name resolved to.
std::string resolve_model_arg(const std::string& program, const std::string& path);
// quantize: Int8 quantizes the linear weights at load (--quantize int8, docs/quantization.md).
Model load_model_arg(const std::string& program, const std::string& path,
                     Quantize quantize = Quantize::None);

// What queries and corpus documents are prefixed with in a task whose sides are known (eval,
// mine): --query-prefix / --passage-prefix when given, else the model's prompts ("query";
// "document", as sentence-transformers' encode_query / encode_document pick them) unless
// --no-prompts. One line on stderr names what the model's prompts contributed.
struct TaskPrefixes {
  std::string query, passage;
};
TaskPrefixes task_prefixes(const std::string& program, const Model& model, const Args& args);

// Options every app with task prefixes declares.
Option no_prompts_option();
// --device cpu|cuda of the embedding apps.
Option device_option();
// --quantize none|int8 of the embedding apps, and its value (a usage error otherwise).
Option quantize_option();
Quantize quantize_arg(const Args& args);
// --matmul-precision highest|high of the embedding apps, and its value (a usage error
// otherwise). High where the CPU cannot run it says so on stderr once (as program) and runs
// highest.
Option matmul_precision_option();
MatmulPrecision matmul_precision_arg(const std::string& program, const Args& args);

}  // namespace sbert::cli
