// Waiting for a collective without ever waiting forever: poll `done` (which also drives the
// backend's progress, e.g. MPI_Test) with a short spin, then sleeps growing to 1 ms, until it
// returns true or `timeout` has passed. Returns false on timeout.
#pragma once

#include <chrono>
#include <functional>

namespace sbert {

bool poll_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

}  // namespace sbert
