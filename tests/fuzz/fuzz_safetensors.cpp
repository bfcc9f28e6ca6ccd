// safetensors: the header (length, JSON, dtypes, shapes) and the data offsets
// (io/safetensors.h), then every tensor read as the model loader reads it.
#include "fuzz_support.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = sbert::fuzz::write_file(
      "model.safetensors", {reinterpret_cast<const char*>(data), size});
  sbert::fuzz::run([&] {
    const sbert::SafetensorsFile f = sbert::SafetensorsFile::open(path);
    (void)f.metadata();
    for (const std::string& name : f.names()) {
      const sbert::TensorInfo& info = f.info(name);
      (void)f.bytes(name);
      sbert::fuzz::run([&] { (void)f.read_f32(name); });
      sbert::fuzz::run([&] { (void)f.read_f32(name, info.shape); });
      sbert::fuzz::run([&] { (void)f.read_i64(name); });
      sbert::fuzz::run([&] { (void)f.read_i32(name); });
      sbert::fuzz::run([&] { (void)f.read_i8(name, info.shape); });  // saved int8 weights
    }
  });
  return 0;
}
