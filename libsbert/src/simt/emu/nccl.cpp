// The SIMT emulator's NCCL model: in-process ranks.
//
// Each rank is a host thread of this process. Communicators made from the same unique id meet
// in a process-wide registry (one mutex, one condition variable). A collective is posted by
// every rank into the communicator's next slot (a rank's n-th collective meets the others'
// n-th); the rank that completes the slot computes the result from all ranks' buffers in rank
// order (so sums are deterministic and identical on every rank), writes every rank's output and
// releases the others. The emulator's streams execute synchronously, so a collective has
// completed when its call returns; ncclGroupStart/End defer the waits to ncclGroupEnd, which
// lets one thread drive several ranks as NCCL allows.
//
// Numerics: reductions run in the element type in rank order (fp32 adds rounded at each step,
// as a ring's hops are); bf16 accumulates in fp32 and rounds once at the end; ncclAvg is the
// sum divided by the rank count (integer division for integers).
//
// Failures never hang: a wait gives up after SIMT_EMU_NCCL_TIMEOUT_SEC seconds (default 60)
// with ncclSystemError naming the ranks that never posted, and the communicator is then broken
// for everyone: the other ranks' calls, and those of a rank whose peer called ncclCommAbort,
// fail with ncclRemoteError. Mismatched collectives (different kinds, counts, types, ops or
// roots in one slot, which hang or corrupt on a device) fail with ncclInvalidUsage. Buffers
// are checked with simt::emu::check_device_range; a bad one fails the call with
// ncclUnhandledCudaError (the stream's error set to cudaErrorIllegalAddress) and breaks the
// communicator so the peers do not wait for it.
#include <nccl.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "simt/emu/core.h"

namespace {

using simt::emu::Access;

enum class Kind { AllReduce, AllGather, Broadcast, ReduceScatter };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::AllReduce:
      return "ncclAllReduce";
    case Kind::AllGather:
      return "ncclAllGather";
    case Kind::Broadcast:
      return "ncclBroadcast";
    case Kind::ReduceScatter:
      return "ncclReduceScatter";
  }
  return "?";
}

struct Op {
  Kind kind = Kind::AllReduce;
  size_t count = 0;  // per rank: AllReduce / Broadcast count, AllGather sendcount, RS recvcount
  ncclDataType_t type = ncclFloat32;
  ncclRedOp_t op = ncclSum;
  int root = 0;
  bool operator==(const Op&) const = default;
};

struct Slot {
  Op op;
  bool has_op = false;
  std::vector<const void*> send;
  std::vector<void*> recv;
  int arrived = 0, released = 0;
  bool done = false;
  ncclResult_t result = ncclSuccess;
  std::string error;
};

// The ranks sharing one unique id.
struct Group {
  explicit Group(int n) : nranks(n), members(static_cast<size_t>(n), nullptr) {}
  int nranks;
  std::vector<ncclComm*> members;
  int joined = 0, alive = 0;
  std::map<uint64_t, Slot> slots;  // by collective sequence number
  bool broken = false;
  ncclResult_t broken_result = ncclSuccess;
  std::string broken_why;
};

struct Registry {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<Group>> groups;
};

Registry& registry() {
  static Registry r;
  return r;
}

thread_local std::string t_last_error;
thread_local int t_group_depth = 0;
thread_local std::vector<std::function<ncclResult_t()>> t_group_waits;

std::chrono::steady_clock::time_point deadline() {
  double sec = 60;
  if (const char* s = std::getenv("SIMT_EMU_NCCL_TIMEOUT_SEC")) {
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end != s && v > 0) sec = v;
  }
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(
             std::chrono::duration<double>(sec));
}

size_t type_size(ncclDataType_t t) {
  switch (t) {
    case ncclInt8:
    case ncclUint8:
      return 1;
    case ncclBfloat16:
      return 2;
    case ncclInt32:
    case ncclUint32:
    case ncclFloat32:
      return 4;
    case ncclInt64:
    case ncclUint64:
    case ncclFloat64:
      return 8;
    default:  // fp16 and fp8 are not modelled
      return 0;
  }
}

// ---- reductions --------------------------------------------------------------------------------
float bf16_to_float(uint16_t h) {
  const uint32_t u = uint32_t{h} << 16;
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}
uint16_t float_to_bf16(float v) {  // round to nearest even; NaN stays NaN
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

template <class T>
T combine(T a, T b, ncclRedOp_t op) {
  switch (op) {
    case ncclProd:
      return static_cast<T>(a * b);
    case ncclMax:
      return b > a ? b : a;
    case ncclMin:
      return b < a ? b : a;
    default:  // ncclSum, ncclAvg
      return static_cast<T>(a + b);
  }
}

// out[e] = reduce over ranks (in rank order) of in[r][offset + e], for e < count.
template <class T, class Acc = T>
void reduce_as(const std::vector<const void*>& in, size_t offset, size_t count, ncclRedOp_t op,
               void* out) {
  const auto n = static_cast<Acc>(in.size());
  for (size_t e = 0; e < count; ++e) {
    auto load = [&](size_t r) {
      T v;
      std::memcpy(&v, static_cast<const unsigned char*>(in[r]) + (offset + e) * sizeof(T),
                  sizeof v);
      if constexpr (std::is_same_v<T, uint16_t>)
        return static_cast<Acc>(bf16_to_float(v));  // bf16 as fp32
      else
        return static_cast<Acc>(v);
    };
    Acc acc = load(0);
    for (size_t r = 1; r < in.size(); ++r) acc = combine<Acc>(acc, load(r), op);
    if (op == ncclAvg) acc = static_cast<Acc>(acc / n);
    T v;
    if constexpr (std::is_same_v<T, uint16_t>)
      v = float_to_bf16(acc);
    else
      v = acc;
    std::memcpy(static_cast<unsigned char*>(out) + e * sizeof(T), &v, sizeof v);
  }
}

void reduce(ncclDataType_t t, const std::vector<const void*>& in, size_t offset, size_t count,
            ncclRedOp_t op, void* out) {
  switch (t) {
    case ncclInt8:
      return reduce_as<int8_t>(in, offset, count, op, out);
    case ncclUint8:
      return reduce_as<uint8_t>(in, offset, count, op, out);
    case ncclInt32:
      return reduce_as<int32_t>(in, offset, count, op, out);
    case ncclUint32:
      return reduce_as<uint32_t>(in, offset, count, op, out);
    case ncclInt64:
      return reduce_as<int64_t>(in, offset, count, op, out);
    case ncclUint64:
      return reduce_as<uint64_t>(in, offset, count, op, out);
    case ncclFloat32:
      return reduce_as<float>(in, offset, count, op, out);
    case ncclFloat64:
      return reduce_as<double>(in, offset, count, op, out);
    case ncclBfloat16:
      return reduce_as<uint16_t, float>(in, offset, count, op, out);
    default:
      return;  // refused when posted
  }
}

// Every rank has posted: compute into a scratch buffer first (buffers may be in place or
// overlap across ranks), then write every rank's output.
void execute(Slot& s, int nranks) {
  const Op& op = s.op;
  const size_t es = type_size(op.type);
  const auto n = static_cast<size_t>(nranks);
  std::vector<unsigned char> tmp;
  switch (op.kind) {
    case Kind::AllReduce:
      tmp.resize(op.count * es);
      reduce(op.type, s.send, 0, op.count, op.op, tmp.data());
      for (void* r : s.recv) std::memcpy(r, tmp.data(), tmp.size());
      break;
    case Kind::AllGather:
      tmp.resize(n * op.count * es);
      for (size_t r = 0; r < n; ++r)
        std::memcpy(tmp.data() + r * op.count * es, s.send[r], op.count * es);
      for (void* r : s.recv) std::memcpy(r, tmp.data(), tmp.size());
      break;
    case Kind::Broadcast:
      tmp.resize(op.count * es);
      std::memcpy(tmp.data(), s.send[static_cast<size_t>(op.root)], tmp.size());
      for (void* r : s.recv) std::memcpy(r, tmp.data(), tmp.size());
      break;
    case Kind::ReduceScatter:
      tmp.resize(n * op.count * es);
      reduce(op.type, s.send, 0, n * op.count, op.op, tmp.data());
      for (size_t r = 0; r < n; ++r)
        std::memcpy(s.recv[r], tmp.data() + r * op.count * es, op.count * es);
      break;
  }
  s.done = true;
}

}  // namespace

struct ncclComm {
  std::shared_ptr<Group> group;
  std::string key;
  int rank = 0;
  uint64_t next = 0;  // sequence number of this rank's next collective
  ncclResult_t async = ncclSuccess;
  std::string last_error;
};

namespace {

ncclResult_t fail(ncclComm* c, ncclResult_t r, std::string why) {
  if (c) {
    if (c->async == ncclSuccess) c->async = r;
    c->last_error = why;
  }
  t_last_error = std::move(why);
  return r;
}

// Marks the communicator unusable for every rank and wakes them. Caller holds the lock.
void break_group(Group& g, ncclResult_t r, const std::string& why) {
  if (g.broken) return;
  g.broken = true;
  g.broken_result = r;
  g.broken_why = why;
  registry().cv.notify_all();
}

// Runs `wait` now, or at ncclGroupEnd inside a group.
ncclResult_t finish(std::function<ncclResult_t()> wait) {
  if (t_group_depth > 0) {
    t_group_waits.push_back(std::move(wait));
    return ncclSuccess;
  }
  return wait();
}

std::string missing_ranks(const Group& g, const Slot* s) {
  std::string out;
  for (int r = 0; r < g.nranks; ++r) {
    const bool there =
        s ? s->send[static_cast<size_t>(r)] != nullptr || s->recv[static_cast<size_t>(r)] != nullptr
          : g.members[static_cast<size_t>(r)] != nullptr;
    if (!there) out += (out.empty() ? "" : ", ") + std::to_string(r);
  }
  return out;
}

ncclResult_t collective(Kind kind, const void* send, void* recv, size_t count, ncclDataType_t type,
                        ncclRedOp_t op, int root, ncclComm* c) {
  const char* name = kind_name(kind);
  if (!c) return fail(nullptr, ncclInvalidArgument, std::string(name) + ": null communicator");
  Group& g = *c->group;
  const size_t es = type_size(type);
  if (es == 0)
    return fail(c, ncclInvalidArgument,
                std::string(name) + ": data type " + std::to_string(type) + " is not modelled");
  if (kind != Kind::AllGather && kind != Kind::Broadcast && (op < ncclSum || op > ncclAvg))
    return fail(c, ncclInvalidArgument,
                std::string(name) + ": reduction op " + std::to_string(op) + " is not modelled");
  if (kind == Kind::Broadcast && (root < 0 || root >= g.nranks))
    return fail(c, ncclInvalidArgument, std::string(name) + ": root " + std::to_string(root));
  if (!recv || (!send && (kind != Kind::Broadcast || c->rank == root)))
    return fail(c, ncclInvalidArgument, std::string(name) + ": null buffer");

  // The device buffers, before anything is posted (no lock held: the emulator's memory state
  // has its own).
  const auto n = static_cast<size_t>(g.nranks);
  const size_t send_bytes = (kind == Kind::ReduceScatter ? n : 1) * count * es;
  const size_t recv_bytes = (kind == Kind::AllGather ? n : 1) * count * es;
  const std::string who = std::string(name) + " on rank " + std::to_string(c->rank);
  const bool reads_send = kind != Kind::Broadcast || c->rank == root;
  const bool ok = (!reads_send || count == 0 ||
                   simt::emu::check_device_range(send, send_bytes, Access::Read,
                                                 (who + ": send buffer").c_str())) &&
                  (count == 0 || simt::emu::check_device_range(recv, recv_bytes, Access::Write,
                                                               (who + ": receive buffer").c_str()));
  Registry& reg = registry();
  std::unique_lock lock(reg.mu);
  if (!ok) {
    simt::emu::set_error(cudaErrorIllegalAddress);
    const std::string why = who + ": buffer outside device memory (see the emulator's report)";
    break_group(g, ncclRemoteError, who + " failed: bad buffer");
    return fail(c, ncclUnhandledCudaError, why);
  }
  if (g.broken) return fail(c, g.broken_result, who + ": communicator broken: " + g.broken_why);

  const uint64_t seq = c->next++;
  Slot& s = g.slots[seq];
  if (s.send.empty()) {
    s.send.assign(n, nullptr);
    s.recv.assign(n, nullptr);
  }
  const Op mine{kind, count, type,
                kind == Kind::AllGather || kind == Kind::Broadcast ? ncclSum : op,
                kind == Kind::Broadcast ? root : 0};
  if (!s.has_op) {
    s.op = mine;
    s.has_op = true;
  } else if (!(s.op == mine)) {
    const std::string why = who + " (count " + std::to_string(count) + ", type " +
                            std::to_string(type) + ") does not match collective #" +
                            std::to_string(seq) + " of the other ranks (" + kind_name(s.op.kind) +
                            ", count " + std::to_string(s.op.count) + ", type " +
                            std::to_string(s.op.type) + ")";
    break_group(g, ncclInvalidUsage, why);
    return fail(c, ncclInvalidUsage, why);
  }
  // A non-null marker for "posted" even where the send buffer is unused (non-root broadcast).
  s.send[static_cast<size_t>(c->rank)] = reads_send ? send : recv;
  s.recv[static_cast<size_t>(c->rank)] = recv;
  if (++s.arrived == g.nranks) {
    execute(s, g.nranks);
    reg.cv.notify_all();
  }
  lock.unlock();

  std::shared_ptr<Group> keep = c->group;
  return finish([c, keep, seq, who]() -> ncclResult_t {
    Registry& r = registry();
    Group& gr = *keep;
    std::unique_lock l(r.mu);
    Slot& sl = gr.slots[seq];
    const bool done = r.cv.wait_until(l, deadline(), [&] { return sl.done || gr.broken; });
    if (sl.done) {
      if (++sl.released == gr.nranks) gr.slots.erase(seq);
      return ncclSuccess;
    }
    if (!done) {
      const std::string why = who + ": timed out (SIMT_EMU_NCCL_TIMEOUT_SEC) waiting for rank(s) " +
                              missing_ranks(gr, &sl) + " to post collective #" +
                              std::to_string(seq);
      break_group(gr, ncclRemoteError, why);
      return fail(c, ncclSystemError, why);
    }
    return fail(c, gr.broken_result, who + ": communicator broken: " + gr.broken_why);
  });
}

}  // namespace

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
  if (!version) return ncclInvalidArgument;
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}

// Unique within the process (the only place its ranks live): a marker, the pid and a counter.
ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  if (!id) return fail(nullptr, ncclInvalidArgument, "ncclGetUniqueId: null id");
  static std::atomic<uint64_t> counter{0};
  std::memset(id->internal, 0, sizeof id->internal);
  const std::string s = "simt-emu-nccl:" + std::to_string(::getpid()) + ":" +
                        std::to_string(counter.fetch_add(1) + 1);
  std::memcpy(id->internal, s.data(), s.size());
  return ncclSuccess;
}

// Joins the id's group and waits (at once, or at ncclGroupEnd) until every rank has joined. A
// non-blocking config behaves the same and returns ncclSuccess: the emulator completes the
// initialisation before returning, so ncclCommGetAsyncError then reports ncclSuccess.
ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank,
                                    ncclConfig_t* config) {
  if (!comm) return fail(nullptr, ncclInvalidArgument, "ncclCommInitRank: null comm");
  *comm = nullptr;
  if (nranks < 1 || rank < 0 || rank >= nranks)
    return fail(nullptr, ncclInvalidArgument,
                "ncclCommInitRank: rank " + std::to_string(rank) + " of " + std::to_string(nranks));
  if (config && config->magic != 0xcafebeef)
    return fail(nullptr, ncclInvalidArgument,
                "ncclCommInitRankConfig: config not initialised with NCCL_CONFIG_INITIALIZER");
  const std::string key(id.internal, sizeof id.internal);
  Registry& reg = registry();
  std::unique_lock lock(reg.mu);
  std::shared_ptr<Group>& slot = reg.groups[key];
  if (!slot) slot = std::make_shared<Group>(nranks);
  Group& g = *slot;
  if (g.nranks != nranks)
    return fail(nullptr, ncclInvalidArgument,
                "ncclCommInitRank: rank " + std::to_string(rank) + " says " +
                    std::to_string(nranks) + " ranks, the id's other ranks " +
                    std::to_string(g.nranks));
  if (g.members[static_cast<size_t>(rank)])
    return fail(nullptr, ncclInvalidUsage,
                "ncclCommInitRank: rank " + std::to_string(rank) + " joined twice");
  auto* c = new ncclComm;
  c->group = slot;
  c->key = key;
  c->rank = rank;
  g.members[static_cast<size_t>(rank)] = c;
  ++g.joined;
  ++g.alive;
  reg.cv.notify_all();
  lock.unlock();
  *comm = c;

  return finish([c]() -> ncclResult_t {
    Registry& r = registry();
    Group& gr = *c->group;
    std::unique_lock l(r.mu);
    const bool ok =
        r.cv.wait_until(l, deadline(), [&] { return gr.joined == gr.nranks || gr.broken; });
    // Once everyone has joined the initialisation has succeeded, whatever happens later.
    if (gr.joined == gr.nranks) return ncclSuccess;
    if (!ok) {
      const std::string why = "ncclCommInitRank on rank " + std::to_string(c->rank) +
                              ": timed out (SIMT_EMU_NCCL_TIMEOUT_SEC) waiting for rank(s) " +
                              missing_ranks(gr, nullptr) + " to join";
      break_group(gr, ncclRemoteError, why);
      return fail(c, ncclSystemError, why);
    }
    return fail(c, gr.broken_result, "ncclCommInitRank: communicator broken: " + gr.broken_why);
  });
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  return ncclCommInitRankConfig(comm, nranks, id, rank, nullptr);
}

// Every collective has completed when its call returned: nothing to flush.
ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  if (!comm) return fail(nullptr, ncclInvalidArgument, "ncclCommFinalize: null comm");
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (!comm) return ncclSuccess;
  {
    Registry& reg = registry();
    std::lock_guard lock(reg.mu);
    Group& g = *comm->group;
    g.members[static_cast<size_t>(comm->rank)] = nullptr;
    // The id can be used again once all its ranks are gone.
    if (--g.alive == 0) {
      auto it = reg.groups.find(comm->key);
      if (it != reg.groups.end() && it->second == comm->group) reg.groups.erase(it);
    }
  }
  delete comm;
  return ncclSuccess;
}

// The peers' pending and later calls fail with ncclRemoteError instead of waiting for this rank.
ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (!comm) return ncclSuccess;
  {
    std::lock_guard lock(registry().mu);
    break_group(*comm->group, ncclRemoteError,
                "rank " + std::to_string(comm->rank) + " called ncclCommAbort");
  }
  return ncclCommDestroy(comm);
}

const char* ncclGetErrorString(ncclResult_t r) {
  switch (r) {
    case ncclSuccess:
      return "no error";
    case ncclUnhandledCudaError:
      return "unhandled cuda error (see ncclGetLastError)";
    case ncclSystemError:
      return "unhandled system error (see ncclGetLastError)";
    case ncclInternalError:
      return "internal error (see ncclGetLastError)";
    case ncclInvalidArgument:
      return "invalid argument (see ncclGetLastError)";
    case ncclInvalidUsage:
      return "invalid usage (see ncclGetLastError)";
    case ncclRemoteError:
      return "remote process exited or there was a network error";
    case ncclInProgress:
      return "NCCL operation in progress";
    default:
      return "unknown result code";
  }
}

const char* ncclGetLastError(ncclComm_t comm) {
  return comm && !comm->last_error.empty() ? comm->last_error.c_str() : t_last_error.c_str();
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* err) {
  if (!comm || !err) return ncclInvalidArgument;
  *err = comm->async;
  return ncclSuccess;
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  if (!comm || !count) return ncclInvalidArgument;
  *count = comm->group->nranks;
  return ncclSuccess;
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  if (!comm || !rank) return ncclInvalidArgument;
  *rank = comm->rank;
  return ncclSuccess;
}

ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t type,
                           int root, ncclComm_t comm, cudaStream_t /*synchronous*/) {
  return collective(Kind::Broadcast, send, recv, count, type, ncclSum, root, comm);
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t /*synchronous*/) {
  return collective(Kind::AllReduce, send, recv, count, type, op, 0, comm);
}

ncclResult_t ncclReduceScatter(const void* send, void* recv, size_t recvcount, ncclDataType_t type,
                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t /*synchronous*/) {
  return collective(Kind::ReduceScatter, send, recv, recvcount, type, op, 0, comm);
}

ncclResult_t ncclAllGather(const void* send, void* recv, size_t sendcount, ncclDataType_t type,
                           ncclComm_t comm, cudaStream_t /*synchronous*/) {
  return collective(Kind::AllGather, send, recv, sendcount, type, ncclSum, 0, comm);
}

ncclResult_t ncclGroupStart() {
  ++t_group_depth;
  return ncclSuccess;
}

// The outermost ncclGroupEnd waits for everything posted inside the group; the first error wins.
ncclResult_t ncclGroupEnd() {
  if (t_group_depth == 0)
    return fail(nullptr, ncclInvalidUsage, "ncclGroupEnd without ncclGroupStart");
  if (--t_group_depth > 0) return ncclSuccess;
  auto waits = std::move(t_group_waits);
  t_group_waits.clear();
  ncclResult_t first = ncclSuccess;
  for (auto& w : waits) {
    const ncclResult_t r = w();
    if (first == ncclSuccess) first = r;
  }
  return first;
}

}  // extern "C"
