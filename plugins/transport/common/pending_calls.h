// What the zmq and asio transports share about calls in flight on a channel:
// the table of pending calls with their deadlines, the wait of a sync call
// completed by another thread, the eventfd that wakes a thread in poll(), and
// the rate limit on repeated error lines. Header-only: each plugin is its own
// library and builds this in.
//
// Thread safety: PendingCalls is guarded by its owner's mutex; SyncWait and
// WakeFd are thread-safe.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rayk/plugin/transport.h"

namespace rayk::transport_common {

using Clock = std::chrono::steady_clock;

// A timeout this long means "no timeout"; it also keeps now + timeout from
// overflowing.
inline constexpr std::chrono::milliseconds kForever = std::chrono::hours(24 * 365);

inline Clock::time_point DeadlineAfter(std::chrono::milliseconds timeout) {
  if (timeout >= kForever) return Clock::time_point::max();
  return Clock::now() + std::max(timeout, std::chrono::milliseconds(0));
}

// Whether to log the `count`th occurrence of a repeated error: the first few,
// then one in ten thousand, so that a peer spraying garbage (or a handler
// that throws on every message) cannot flood the log.
inline bool ShouldLog(std::atomic<uint64_t>& count, uint64_t* n) {
  *n = count.fetch_add(1, std::memory_order_relaxed) + 1;
  return *n <= 10 || *n % 10000 == 0;
}

// The calls of one channel waiting for their replies, with their deadlines.
class PendingCalls {
 public:
  void Add(uint64_t id, ReplyCallback on_reply, Clock::time_point deadline) {
    calls_.emplace(id, std::move(on_reply));
    if (deadline == Clock::time_point::max()) return;
    // Deadlines of completed calls stay in the heap until they come up;
    // rebuild it when they outnumber the live ones.
    if (deadlines_.size() > 2 * calls_.size() + 1024) {
      std::vector<Deadline> live;
      while (!deadlines_.empty()) {
        if (calls_.count(deadlines_.top().second)) live.push_back(deadlines_.top());
        deadlines_.pop();
      }
      for (const Deadline& entry : live) deadlines_.push(entry);
    }
    deadlines_.emplace(deadline, id);
  }

  // The call `id`'s callback, removed; nothing when it is not pending (it
  // timed out, or was never made).
  std::optional<ReplyCallback> Take(uint64_t id) {
    auto it = calls_.find(id);
    if (it == calls_.end()) return std::nullopt;
    ReplyCallback callback = std::move(it->second);
    calls_.erase(it);
    return callback;
  }

  // The callbacks of the calls whose deadline is `now` or earlier, removed.
  std::vector<ReplyCallback> TakeExpired(Clock::time_point now) {
    std::vector<ReplyCallback> expired;
    while (!deadlines_.empty() && deadlines_.top().first <= now) {
      auto it = calls_.find(deadlines_.top().second);
      deadlines_.pop();
      if (it == calls_.end()) continue;
      expired.push_back(std::move(it->second));
      calls_.erase(it);
    }
    return expired;
  }

  // Every pending call, removed.
  std::unordered_map<uint64_t, ReplyCallback> TakeAll() {
    std::unordered_map<uint64_t, ReplyCallback> all;
    all.swap(calls_);
    return all;
  }

  // The earliest deadline (perhaps of a call already completed); max() for none.
  Clock::time_point NextDeadline() const {
    return deadlines_.empty() ? Clock::time_point::max() : deadlines_.top().first;
  }
  bool empty() const { return calls_.empty(); }

 private:
  using Deadline = std::pair<Clock::time_point, uint64_t>;
  std::unordered_map<uint64_t, ReplyCallback> calls_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> deadlines_;
};

// Where a sync call that went through a channel's own thread waits for its
// result.
class SyncWait {
 public:
  void Set(Result<std::string> result) {
    std::lock_guard<std::mutex> lock(mu_);
    result_.emplace(std::move(result));
    cv_.notify_one();
  }
  // The channel's thread always completes the call (reply, timeout or
  // close), so this needs no deadline of its own.
  Result<std::string> Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return result_.has_value(); });
    return std::move(*result_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Result<std::string>> result_;
};

// An eventfd that wakes a thread blocked in poll().
class WakeFd {
 public:
  WakeFd() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  ~WakeFd() { close(fd_); }
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;

  void Signal() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(fd_, &one, sizeof(one));
  }
  void Drain() {
    uint64_t value;
    [[maybe_unused]] ssize_t n = read(fd_, &value, sizeof(value));
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace rayk::transport_common
