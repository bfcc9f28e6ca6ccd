// TensorBoard event files (exp_manager.create_tensorboard_logger): the scalars of a run in the
// format TensorBoard's EventFileLoader reads, written without TensorFlow or protobuf.
//
// A file is a sequence of TFRecords: uint64 length, uint32 masked CRC32C of the length, the
// bytes, uint32 masked CRC32C of the bytes (all little-endian). Each record is a tensorflow.Event
// protobuf; the first holds file_version "brain.Event:2", the others a Summary with one
// simple_value per scalar. The few protobuf fields needed are encoded by hand.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sbert {

uint32_t crc32c(const void* data, size_t size);
uint32_t masked_crc32c(const void* data, size_t size);  // TFRecord's ((c>>15 | c<<17) + k)

class TfEventsWriter {
 public:
  // Creates dir and a new events.out.tfevents.<seconds>.<host>.<pid>.0 file in it (one file per
  // session, as TensorFlow's writer does) and writes the file_version event.
  explicit TfEventsWriter(const std::filesystem::path& dir);
  ~TfEventsWriter();
  TfEventsWriter(const TfEventsWriter&) = delete;
  TfEventsWriter& operator=(const TfEventsWriter&) = delete;

  // One Event at `step` holding every scalar (tag -> value); flushed.
  void scalars(int64_t step, const std::map<std::string, double>& values);
  const std::filesystem::path& file() const { return file_; }

 private:
  void record(const std::string& event);
  std::filesystem::path file_;
  std::FILE* f_ = nullptr;
};

// Reading back, for tests: the records of a file with both CRCs checked (throws sbert::Error
// naming the file and record on a bad length or CRC), and the scalars of its Events.
std::vector<std::string> read_tfrecords(const std::filesystem::path& file);
struct TfScalar {
  int64_t step = 0;
  double wall_time = 0;
  std::string tag;
  float value = 0;
};
// Events without a Summary (file_version) are skipped; file_version is returned separately.
std::vector<TfScalar> read_tfevents_scalars(const std::filesystem::path& file,
                                            std::string* file_version = nullptr);

}  // namespace sbert
