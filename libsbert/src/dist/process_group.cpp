// sbert::ProcessGroup: the public face of dist/communicator's Communicator.
#include <chrono>
#include <cstdlib>

#include "train/api_impl.h"

namespace sbert {

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;
ProcessGroup::ProcessGroup(ProcessGroup&&) noexcept = default;
ProcessGroup& ProcessGroup::operator=(ProcessGroup&&) noexcept = default;

ProcessGroup ProcessGroup::from_environment(int64_t timeout_sec, bool gpu) {
  CommOptions o;
  o.timeout = std::chrono::seconds(timeout_sec);
  o.gpu = gpu;
  auto impl = std::make_unique<Impl>();
  impl->owned = make_communicator(o);
  impl->comm = impl->owned.get();
  return ProcessGroup(std::move(impl));
}

ProcessGroup borrow_process_group(Communicator* comm) {
  auto impl = std::make_unique<ProcessGroup::Impl>();
  impl->comm = comm;
  return ProcessGroup(std::move(impl));
}

int ProcessGroup::rank() const { return impl_->comm->rank(); }
int ProcessGroup::size() const { return impl_->comm->size(); }
const char* ProcessGroup::backend() const { return impl_->comm->backend(); }
void ProcessGroup::abort(int code) {
  impl_->comm->abort(code);  // [[noreturn]] in Communicator too; GCC does not see through it
  std::abort();
}

}  // namespace sbert
