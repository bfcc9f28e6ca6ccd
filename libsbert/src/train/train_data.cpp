// sbert::TrainData: the public face of data/train_reader's TrainDataset.
#include "train/api_impl.h"

namespace sbert {

TrainData::TrainData(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
TrainData::~TrainData() = default;
TrainData::TrainData(const TrainData&) = default;
TrainData& TrainData::operator=(const TrainData&) = default;

TrainData TrainData::open(const std::vector<std::filesystem::path>& files,
                          bool skip_bad_records) {
  TrainReaderOptions o;
  o.skip_bad_records = skip_bad_records;
  auto impl = std::make_shared<Impl>();
  impl->dataset = std::make_shared<const TrainDataset>(TrainDataset::open(files, o));
  return TrainData(std::move(impl));
}

TrainData TrainData::open(const std::vector<std::filesystem::path>& files,
                          const TrainDataOptions& options) {
  TrainReaderOptions o;
  o.skip_bad_records = options.skip_bad_records;
  o.format = options.format;
  o.columns = options.columns;
  auto impl = std::make_shared<Impl>();
  impl->dataset = std::make_shared<const TrainDataset>(TrainDataset::open(files, o));
  return TrainData(std::move(impl));
}

TrainData TrainData::from_examples(std::vector<TrainExample> examples) {
  auto impl = std::make_shared<Impl>();
  impl->dataset =
      std::make_shared<const TrainDataset>(TrainDataset::from_records(std::move(examples)));
  return TrainData(std::move(impl));
}

size_t TrainData::size() const { return impl_->dataset->size(); }
size_t TrainData::skipped() const { return impl_->dataset->stats().skipped; }
bool TrainData::all_have_scores() const { return impl_->dataset->all_have_scores(); }
bool TrainData::all_have_margins() const { return impl_->dataset->all_have_margins(); }
std::string TrainData::name() const { return impl_->dataset->name(); }
TrainExample TrainData::example(size_t i) const { return impl_->dataset->record(i); }

}  // namespace sbert
