#include "dist/poll.h"

#include <thread>

namespace sbert {

bool poll_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  // Spinning keeps the latency of quick collectives low; sleeping leaves the cores to the
  // ranks still computing (all ranks of a CPU job share the machine's cores).
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
  }
  auto nap = std::chrono::microseconds(20);
  for (;;) {
    if (done()) return true;
    if (clock::now() >= deadline) return false;
    std::this_thread::sleep_for(nap);
    if (nap < std::chrono::microseconds(1000)) nap *= 2;
  }
}

}  // namespace sbert
