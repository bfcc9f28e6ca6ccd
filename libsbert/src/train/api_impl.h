// What the public TrainData and ProcessGroup (sbert/train.h) hold.
#pragma once

#include <memory>

#include "data/train_reader.h"
#include "dist/communicator.h"
#include "sbert/train.h"

namespace sbert {

struct SBERT_LOCAL TrainData::Impl {
  std::shared_ptr<const TrainDataset> dataset;
};

struct SBERT_LOCAL ProcessGroup::Impl {
  std::unique_ptr<Communicator> owned;
  Communicator* comm = nullptr;  // owned.get(), or a communicator the caller keeps
};

// A ProcessGroup over a communicator the caller keeps alive (the internal train()).
ProcessGroup borrow_process_group(Communicator* comm);

}  // namespace sbert
