#include "io/model_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <regex>

#include "core/check.h"
#include "io/atomic_file.h"
#include "io/convert.h"
#include "io/safetensors.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

bool is_config_file(const fs::path& p) {
  const std::string ext = p.extension().string();
  const std::string name = p.filename().string();
  if (name.find("safetensors.index") != std::string::npos) return false;
  return ext == ".json" || ext == ".txt" || ext == ".model" || ext == ".md";
}

void copy_config_files(const fs::path& from, const fs::path& to) {
  static const std::regex module_dir(R"(^\d+_.*)");  // sentence-transformers modules: 1_Pooling
  for (const auto& entry : fs::directory_iterator(from)) {
    const fs::path& p = entry.path();
    if (entry.is_regular_file() && is_config_file(p)) {
      fs::copy_file(p, to / p.filename(), fs::copy_options::overwrite_existing);
    } else if (entry.is_directory() && std::regex_match(p.filename().string(), module_dir)) {
      fs::create_directories(to / p.filename());
      copy_config_files(p, to / p.filename());
    }
  }
}

void fsync_path(const fs::path& p, bool directory) {
  const int fd = ::open(p.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_model_files(const Model::Impl& impl, const float* weights, const fs::path& dir,
                       DType dtype) {
  fs::create_directories(dir);
  copy_config_files(impl.dir, dir);
  // The prompts travel with the model: the source's file is rewritten only when they differ
  // from it (the trainer sets its prefixes), so an unchanged model keeps its bytes.
  const StConfig source = read_st_config(impl.dir);
  if (source.prompts != impl.prompts || source.default_prompt_name != impl.default_prompt_name) {
    write_st_config(impl.dir, dir, impl.prompts, impl.default_prompt_name);
  }
  write_model_weights(impl, weights, dir / "model.safetensors", dtype);
}

void write_model_weights(const Model::Impl& impl, const float* weights, const fs::path& path,
                         DType dtype) {
  SBERT_CHECK(dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::I8, "[io] ",
              path.string(), ": weights can be written as F32, BF16 or I8, not ",
              dtype_name(dtype));
  std::vector<uint16_t> half;  // the BF16 copy of the parameter block
  if (dtype == DType::BF16) {
    half.resize(static_cast<size_t>(impl.layout.total));
    for (size_t i = 0; i < half.size(); ++i) half[i] = f32_to_bf16(weights[i]);
  }
  // I8: the linear weights as the int8 encoder runs them, the rest F32: the model's own int8
  // weights (stored ones when it was loaded int8), or quantize_bert of its view as
  // EmbedOptions::quantize would make them.
  std::shared_ptr<const QuantizedBert> int8;
  if (dtype == DType::I8) {
    SBERT_CHECK(weights == impl.weights.data(), "[io] ", path.string(),
                ": int8 weights are written from the model's own parameters only");
    int8 = impl.int8 ? impl.int8
                     : std::make_shared<const QuantizedBert>(quantize_bert(impl.config, impl.view));
  }
  std::vector<TensorView> views;
  for (const ParamSpec& s : impl.layout.specs) {
    const std::string name = impl.weight_prefix + s.name;
    if (int8) {
      if (const auto rows = int8_rows(*int8, impl.config, s.name)) {
        const int64_t k = rows->weight->k;
        views.push_back({name, DType::I8, s.shape, rows->weight->q.data() + rows->row0 * k});
        views.push_back(
            {name + "_scale", DType::F32, {rows->rows}, rows->weight->scale.data() + rows->row0});
        continue;
      }
    }
    const void* data = dtype == DType::BF16 ? static_cast<const void*>(half.data() + s.offset)
                                            : static_cast<const void*>(weights + s.offset);
    views.push_back({name, int8 ? DType::F32 : dtype, s.shape, data});
  }
  for (const ExtraTensor& e : impl.extras) {
    views.push_back({e.name, e.dtype, e.shape, e.bytes.data()});
  }
  write_safetensors(path, views, {{"format", "pt"}});
}

void commit_folder(const fs::path& tmp, const fs::path& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(tmp)) {
    fsync_path(entry.path(), entry.is_directory());
  }
  fsync_path(tmp, true);
  std::error_code ec;
  if (fs::exists(dir)) {
    fs::path old = dir;
    old += cat(".old.", static_cast<long>(::getpid()));
    fs::rename(dir, old, ec);
    SBERT_CHECK(!ec, "[io] ", dir.string(), ": cannot move the previous folder aside (",
                ec.message(), ")");
    fs::rename(tmp, dir, ec);
    if (ec) {
      fs::rename(old, dir);  // put the previous one back
      fail("[io] ", dir.string(), ": cannot rename ", tmp.string(), " into place (", ec.message(),
           ")");
    }
    fs::remove_all(old);
  } else {
    fs::rename(tmp, dir, ec);
    SBERT_CHECK(!ec, "[io] ", dir.string(), ": cannot rename ", tmp.string(), " into place (",
                ec.message(), ")");
  }
  fsync_path(dir.parent_path().empty() ? fs::path(".") : dir.parent_path(), true);
}

void save_model_folder(const Model::Impl& impl, const float* weights, const fs::path& dir,
                       DType dtype) {
  fs::path tmp = dir;
  tmp += cat(".tmp.", static_cast<long>(::getpid()));
  fs::remove_all(tmp);
  try {
    write_model_files(impl, weights, tmp, dtype);
    commit_folder(tmp, dir);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace sbert
