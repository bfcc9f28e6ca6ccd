#include "model_arg.h"

#include <cstdio>

namespace sbert::cli {

std::string resolve_model_arg(const std::string& program, const std::string& path) {
  std::string note;
  const std::string dir = resolve_model_path(path, &note).string();
  if (!note.empty()) std::fprintf(stderr, "%s: model: %s\n", program.c_str(), note.c_str());
  return dir;
}

Model load_model_arg(const std::string& program, const std::string& path, Quantize quantize) {
  LoadOptions options;
  options.quantize = quantize;
  return Model::load(resolve_model_arg(program, path), options);
}

Option device_option() {
  return {"--device",
          "cpu | cuda: where the encoder runs (cuda: GPU 0 of a CUDA build of libsbert, fp32;\n"
          "      docs/gpu.md)",
          true, false, "cpu"};
}

Option quantize_option() {
  return {"--quantize",
          "none | int8: int8 linear layers (per-channel int8 weights, per-row int8 activations;\n"
          "      CPU only; docs/quantization.md). A model saved int8 is int8 either way",
          true, false, "none"};
}

Quantize quantize_arg(const Args& args) {
  const std::string v = args.get("--quantize");
  if (v != "none" && v != "int8") {
    throw UsageError{"--quantize must be none or int8, got '" + v + "'"};
  }
  return parse_quantize(v);
}

Option matmul_precision_option() {
  return {"--matmul-precision",
          "highest | high: the fp32 linear layers' products. high: bf16x3 on AMX tiles (Intel\n"
          "      Sapphire Rapids and later; torch.set_float32_matmul_precision('high')), faster,\n"
          "      embeddings within a few 1e-6; highest elsewhere (docs/quantization.md)",
          true, false, "highest"};
}

MatmulPrecision matmul_precision_arg(const std::string& program, const Args& args) {
  const std::string v = args.get("--matmul-precision");
  if (v != "highest" && v != "high") {
    throw UsageError{"--matmul-precision must be highest or high, got '" + v + "'"};
  }
  const MatmulPrecision p = parse_matmul_precision(v);
  if (!matmul_precision_available(p)) {
    std::fprintf(stderr,
                 "%s: --matmul-precision high: this CPU or process cannot run AMX bf16 tiles; "
                 "running highest\n",
                 program.c_str());
  }
  return p;
}

Option no_prompts_option() {
  return {"--no-prompts",
          "do not apply the model's prompts (config_sentence_transformers.json) to queries and\n"
          "      documents; --query-prefix / --passage-prefix still apply",
          false, false, ""};
}

TaskPrefixes task_prefixes(const std::string& program, const Model& model, const Args& args) {
  TaskPrefixes p;
  p.query = args.get("--query-prefix");
  p.passage = args.get("--passage-prefix");
  const std::string qname = model.query_prompt_name(), dname = model.document_prompt_name();
  if (qname.empty() && dname.empty()) return p;  // a model without prompts: as before
  if (args.flag("--no-prompts")) {
    std::fprintf(stderr, "%s: prompts: the model's (%s%s%s) not applied (--no-prompts)\n",
                 program.c_str(), qname.c_str(), qname.empty() || dname.empty() ? "" : ", ",
                 dname.c_str());
    return p;
  }
  std::string said;
  auto take = [&](std::string& prefix, const char* flag, const std::string& name,
                  const char* side) {
    if (name.empty() || args.has(flag)) return;
    prefix = model.prompt(name);
    said += said.empty() ? "" : ", ";
    said += side;
    said += " get \"" + prefix + "\" (prompt '" + name + "')";
  };
  take(p.query, "--query-prefix", qname, "queries");
  take(p.passage, "--passage-prefix", dname, "documents");
  if (!said.empty()) {
    std::fprintf(stderr, "%s: prompts of the model applied: %s; --no-prompts turns them off\n",
                 program.c_str(), said.c_str());
  }
  return p;
}

}  // namespace sbert::cli
