// inproc: the transport for one process. Servers, channels, publishers and
// subscriptions meet in a process-wide registry keyed by endpoint name, and
// messages move between threads as std::string without any encoding.
//
// Threads: each Server runs its handler on its own thread; each Channel has a
// thread that runs reply callbacks and fires timeouts; each Subscription runs
// its handler on its own thread. CallSync does not use the channel thread: the
// server's reply wakes the caller directly.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "rayk/plugin/transport.h"

namespace rayk {
namespace {

using Clock = std::chrono::steady_clock;

// Messages parked for an endpoint nobody serves yet. Beyond this many, new
// messages are dropped (their calls time out) so a peer that never comes back
// cannot exhaust memory.
constexpr size_t kMaxBacklog = 1 << 20;

// A timeout this long means "no timeout"; it also keeps now + timeout from
// overflowing.
constexpr std::chrono::milliseconds kForever = std::chrono::hours(24 * 365);

Clock::time_point DeadlineAfter(std::chrono::milliseconds timeout) {
  if (timeout >= kForever) return Clock::time_point::max();
  return Clock::now() + std::max(timeout, std::chrono::milliseconds(0));
}

// A thread may destroy the object that owns it (a reply callback that drops
// the last reference to its channel); it cannot join itself, so it detaches
// and finishes on its own: its function holds the state it needs.
void JoinOrDetach(std::thread& thread) {
  if (!thread.joinable()) return;
  if (thread.get_id() == std::this_thread::get_id()) {
    thread.detach();
  } else {
    thread.join();
  }
}

Status CheckEndpoint(const std::string& endpoint) {
  size_t scheme_end = endpoint.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0 || scheme_end + 3 == endpoint.size()) {
    return Status::InvalidArgument("inproc transport: endpoint '" + endpoint +
                                   "' is not a URL; use inproc://<name>");
  }
  return Status::Ok();
}

bool MatchesAnyPrefix(const std::vector<std::string>& prefixes, const std::string& topic) {
  for (const std::string& prefix : prefixes) {
    if (topic.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

// One message to a server; `reply` is empty for one-way messages.
struct Envelope {
  std::string body;
  ReplyFn reply;
};

// A server's queue and the thread that feeds its handler.
class ServerCore {
 public:
  explicit ServerCore(MessageHandler handler) : handler_(std::move(handler)) {}

  // Queues `envelope` (moving from it) unless the server has stopped.
  bool TryDeliver(Envelope& envelope) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return false;
    queue_.push_back(std::move(envelope));
    if (queue_.size() == 1) cv_.notify_one();
    return true;
  }

  void DeliverAll(std::deque<Envelope>& envelopes) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Envelope& envelope : envelopes) queue_.push_back(std::move(envelope));
    envelopes.clear();
    cv_.notify_one();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    stopping_.store(true, std::memory_order_relaxed);
    cv_.notify_one();
  }

  void Loop() {
    std::deque<Envelope> batch;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (stop_) break;
        batch.swap(queue_);
      }
      for (Envelope& envelope : batch) {
        // A busy server must still stop promptly; what is left is lost, as a
        // crashed remote server's queue would be.
        if (stopping_.load(std::memory_order_relaxed)) break;
        try {
          handler_(std::move(envelope.body), std::move(envelope.reply));
        } catch (const std::exception& e) {
          spdlog::error("inproc transport: server handler threw: {}", e.what());
        } catch (...) {
          spdlog::error("inproc transport: server handler threw a non-std exception");
        }
      }
      batch.clear();
      if (stopping_.load(std::memory_order_relaxed)) break;
    }
    // Channels that cached this core may keep it alive for a while: release
    // the user's handler state and the undelivered messages now.
    handler_ = nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    queue_.clear();
  }

 private:
  MessageHandler handler_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Envelope> queue_;
  bool stop_ = false;
};

// A subscription's queue and the thread that feeds its handler.
class SubscriptionCore {
 public:
  SubscriptionCore(std::vector<std::string> prefixes, TopicHandler handler)
      : prefixes_(std::move(prefixes)), handler_(std::move(handler)) {}

  bool Matches(const std::string& topic) const { return MatchesAnyPrefix(prefixes_, topic); }

  void Deliver(std::string topic, std::string payload) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    queue_.emplace_back(std::move(topic), std::move(payload));
    if (queue_.size() == 1) cv_.notify_one();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_one();
  }

  void Loop() {
    std::deque<std::pair<std::string, std::string>> batch;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        batch.swap(queue_);
      }
      for (auto& [topic, payload] : batch) {
        try {
          handler_(topic, std::move(payload));
        } catch (const std::exception& e) {
          spdlog::error("inproc transport: subscription handler threw: {}", e.what());
        } catch (...) {
          spdlog::error("inproc transport: subscription handler threw a non-std exception");
        }
      }
      batch.clear();
    }
  }

 private:
  const std::vector<std::string> prefixes_;
  TopicHandler handler_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> queue_;
  bool stop_ = false;
};

// Where servers, publishers and subscribers meet. One per process (shared by
// every InprocTransport), so that a GCS, a raylet and workers created as
// separate transports in one process still reach each other.
class Registry {
 public:
  static std::shared_ptr<Registry> Get() {
    static std::mutex mu;
    static std::weak_ptr<Registry> instance;
    std::lock_guard<std::mutex> lock(mu);
    std::shared_ptr<Registry> registry = instance.lock();
    if (!registry) {
      registry = std::make_shared<Registry>();
      instance = registry;
    }
    return registry;
  }

  // Binds `server` to `endpoint` (":0" picks a free number) and hands it the
  // messages that were waiting for that name. Returns the bound name.
  Result<std::string> BindServer(const std::string& endpoint, std::shared_ptr<ServerCore> server) {
    RAYK_RETURN_IF_ERROR(CheckEndpoint(endpoint));
    std::lock_guard<std::mutex> lock(mu_);
    std::string name = UniqueName(endpoint, [&](const std::string& n) {
      auto it = mailboxes_.find(n);
      return it != mailboxes_.end() && it->second.server != nullptr;
    });
    Mailbox& mailbox = mailboxes_[name];
    if (mailbox.server) {
      return Status::AlreadyExists("inproc transport: '" + name + "' is already served");
    }
    mailbox.server = server;
    if (!mailbox.backlog.empty()) server->DeliverAll(mailbox.backlog);
    return name;
  }

  void UnbindServer(const std::string& name, const ServerCore* server) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = mailboxes_.find(name);
    if (it == mailboxes_.end() || it->second.server.get() != server) return;
    it->second.server = nullptr;
    if (it->second.backlog.empty()) mailboxes_.erase(it);
  }

  // Delivers `envelope` to the server bound at `name`, or parks it until one
  // binds. Returns the server it went to, for the caller to cache.
  std::shared_ptr<ServerCore> Route(const std::string& name, Envelope& envelope) {
    std::lock_guard<std::mutex> lock(mu_);
    Mailbox& mailbox = mailboxes_[name];
    if (mailbox.server && mailbox.server->TryDeliver(envelope)) return mailbox.server;
    if (mailbox.backlog.size() >= kMaxBacklog) {
      if (!backlog_full_logged_) {
        spdlog::warn("inproc transport: {} messages wait for '{}', which nobody serves; dropping",
                     kMaxBacklog, name);
        backlog_full_logged_ = true;
      }
      return nullptr;
    }
    mailbox.backlog.push_back(std::move(envelope));
    return nullptr;
  }

  Result<std::string> BindPublisher(const std::string& endpoint) {
    RAYK_RETURN_IF_ERROR(CheckEndpoint(endpoint));
    std::lock_guard<std::mutex> lock(mu_);
    std::string name =
        UniqueName(endpoint, [&](const std::string& n) { return publishers_.count(n) > 0; });
    if (!publishers_.insert(name).second) {
      return Status::AlreadyExists("inproc transport: '" + name + "' already has a publisher");
    }
    return name;
  }

  void UnbindPublisher(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    publishers_.erase(name);
  }

  void AddSubscriber(const std::string& name, std::shared_ptr<SubscriptionCore> subscriber) {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers_[name].push_back(std::move(subscriber));
  }

  void RemoveSubscriber(const std::string& name, const SubscriptionCore* subscriber) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = subscribers_.find(name);
    if (it == subscribers_.end()) return;
    auto& list = it->second;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const auto& s) { return s.get() == subscriber; }),
               list.end());
    if (list.empty()) subscribers_.erase(it);
  }

  void Publish(const std::string& name, const std::string& topic, std::string payload) {
    std::vector<std::shared_ptr<SubscriptionCore>> targets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = subscribers_.find(name);
      if (it == subscribers_.end()) return;
      for (const auto& subscriber : it->second) {
        if (subscriber->Matches(topic)) targets.push_back(subscriber);
      }
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      if (i + 1 == targets.size()) {
        targets[i]->Deliver(topic, std::move(payload));
      } else {
        targets[i]->Deliver(topic, payload);
      }
    }
  }

 private:
  struct Mailbox {
    std::shared_ptr<ServerCore> server;
    std::deque<Envelope> backlog;
  };

  // Replaces a trailing ":0" with a number no bound name uses, so every
  // server asked for port 0 gets an endpoint of its own.
  template <typename Taken>
  std::string UniqueName(const std::string& endpoint, Taken taken) {
    if (endpoint.size() < 2 || endpoint.compare(endpoint.size() - 2, 2, ":0") != 0) return endpoint;
    std::string base = endpoint.substr(0, endpoint.size() - 1);
    while (true) {
      std::string name = base + std::to_string(next_port_++);
      if (!taken(name)) return name;
    }
  }

  std::mutex mu_;
  std::unordered_map<std::string, Mailbox> mailboxes_;
  std::unordered_set<std::string> publishers_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<SubscriptionCore>>> subscribers_;
  uint64_t next_port_ = 1;
  bool backlog_full_logged_ = false;
};

// A channel's pending calls and the thread that completes them.
class ChannelCore {
 public:
  // Returns the call's id.
  uint64_t Register(ReplyCallback on_reply, Clock::time_point deadline) {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t id = next_id_++;
    pending_.emplace(id, std::move(on_reply));
    if (deadline != Clock::time_point::max()) {
      // Deadlines of completed calls stay in the heap until they expire;
      // rebuild it when they outnumber the live ones.
      if (deadlines_.size() > 2 * pending_.size() + 1024) CompactDeadlines();
      bool earliest = deadlines_.empty() || deadline < deadlines_.top().first;
      deadlines_.emplace(deadline, id);
      if (earliest) cv_.notify_one();
    }
    return id;
  }

  // Completes call `id` unless it already completed (a late or second reply).
  void Complete(uint64_t id, Result<std::string> result) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    ready_.emplace_back(std::move(it->second), std::move(result));
    pending_.erase(it);
    if (ready_.size() == 1) cv_.notify_one();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_one();
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    std::deque<std::pair<ReplyCallback, Result<std::string>>> batch;
    while (true) {
      if (!ready_.empty()) {
        batch.swap(ready_);
        lock.unlock();
        for (auto& [callback, result] : batch) Invoke(callback, std::move(result));
        batch.clear();
        lock.lock();
        continue;
      }
      if (stop_) break;
      Clock::time_point now = Clock::now();
      while (!deadlines_.empty() && deadlines_.top().first <= now) {
        auto it = pending_.find(deadlines_.top().second);
        deadlines_.pop();
        if (it == pending_.end()) continue;
        ready_.emplace_back(std::move(it->second),
                            Status::TimedOut("inproc transport: no reply within the timeout"));
        pending_.erase(it);
      }
      if (!ready_.empty()) continue;
      if (deadlines_.empty()) {
        cv_.wait(lock);
      } else {
        // A copy: wait_until reads its deadline again after waking, and a
        // Register meanwhile may grow the heap and free the element under
        // a reference.
        Clock::time_point earliest = deadlines_.top().first;
        cv_.wait_until(lock, earliest);
      }
    }
    std::unordered_map<uint64_t, ReplyCallback> pending;
    pending.swap(pending_);
    lock.unlock();
    for (auto& [id, callback] : pending) {
      Invoke(callback, Status::Unavailable("inproc transport: channel closed before the reply"));
    }
  }

 private:
  static void Invoke(ReplyCallback& callback, Result<std::string> result) {
    try {
      callback(std::move(result));
    } catch (const std::exception& e) {
      spdlog::error("inproc transport: reply callback threw: {}", e.what());
    } catch (...) {
      spdlog::error("inproc transport: reply callback threw a non-std exception");
    }
  }

  void CompactDeadlines() {
    std::vector<std::pair<Clock::time_point, uint64_t>> live;
    while (!deadlines_.empty()) {
      if (pending_.count(deadlines_.top().second)) live.push_back(deadlines_.top());
      deadlines_.pop();
    }
    for (auto& entry : live) deadlines_.push(entry);
  }

  using Deadline = std::pair<Clock::time_point, uint64_t>;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<uint64_t, ReplyCallback> pending_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> deadlines_;
  std::deque<std::pair<ReplyCallback, Result<std::string>>> ready_;
  uint64_t next_id_ = 1;
  bool stop_ = false;
};

// Where a CallSync waits: the reply is handed straight to the caller.
struct SyncWait {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::string> reply;

  void Set(std::string value) {
    std::lock_guard<std::mutex> lock(mu);
    if (reply) return;
    reply = std::move(value);
    cv.notify_one();
  }
};

class InprocServer : public Server {
 public:
  InprocServer(std::shared_ptr<Registry> registry, std::string name,
               std::shared_ptr<ServerCore> core)
      : registry_(std::move(registry)), name_(std::move(name)), core_(std::move(core)) {
    thread_ = std::thread([core = core_] { core->Loop(); });
  }

  ~InprocServer() override {
    registry_->UnbindServer(name_, core_.get());
    core_->Stop();
    JoinOrDetach(thread_);
  }

  std::string endpoint() const override { return name_; }

 private:
  std::shared_ptr<Registry> registry_;
  std::string name_;
  std::shared_ptr<ServerCore> core_;
  std::thread thread_;
};

class InprocChannel : public Channel {
 public:
  InprocChannel(std::shared_ptr<Registry> registry, std::string name)
      : registry_(std::move(registry)),
        name_(std::move(name)),
        core_(std::make_shared<ChannelCore>()) {
    thread_ = std::thread([core = core_] { core->Loop(); });
  }

  ~InprocChannel() override {
    core_->Stop();
    JoinOrDetach(thread_);
  }

  void Call(std::string request, ReplyCallback on_reply,
            std::chrono::milliseconds timeout) override {
    uint64_t id = core_->Register(std::move(on_reply), DeadlineAfter(timeout));
    // The reply may come after the channel is gone: it then has nowhere to go.
    std::weak_ptr<ChannelCore> weak = core_;
    Envelope envelope{std::move(request), [weak, id](std::string reply) {
                        if (auto core = weak.lock()) core->Complete(id, std::move(reply));
                      }};
    Route(envelope);
  }

  Result<std::string> CallSync(std::string request, std::chrono::milliseconds timeout) override {
    Clock::time_point deadline = DeadlineAfter(timeout);
    auto wait = std::make_shared<SyncWait>();
    Envelope envelope{std::move(request),
                      [wait](std::string reply) { wait->Set(std::move(reply)); }};
    Route(envelope);
    std::unique_lock<std::mutex> lock(wait->mu);
    if (!wait->cv.wait_until(lock, deadline, [&] { return wait->reply.has_value(); })) {
      return Status::TimedOut("inproc transport: no reply from " + name_ + " within the timeout");
    }
    return std::move(*wait->reply);
  }

  Status Send(std::string message) override {
    Envelope envelope{std::move(message), nullptr};
    Route(envelope);
    return Status::Ok();
  }

  std::string endpoint() const override { return name_; }

 private:
  // Goes straight to the server this channel last reached, or through the
  // registry (which parks the message if nobody serves the name yet).
  void Route(Envelope& envelope) {
    std::lock_guard<std::mutex> lock(route_mu_);
    if (server_ && server_->TryDeliver(envelope)) return;
    server_ = registry_->Route(name_, envelope);
  }

  std::shared_ptr<Registry> registry_;
  const std::string name_;
  std::shared_ptr<ChannelCore> core_;
  std::thread thread_;
  std::mutex route_mu_;
  std::shared_ptr<ServerCore> server_;  // guarded by route_mu_
};

class InprocPublisher : public Publisher {
 public:
  InprocPublisher(std::shared_ptr<Registry> registry, std::string name)
      : registry_(std::move(registry)), name_(std::move(name)) {}
  ~InprocPublisher() override { registry_->UnbindPublisher(name_); }

  Status Publish(const std::string& topic, std::string payload) override {
    registry_->Publish(name_, topic, std::move(payload));
    return Status::Ok();
  }

  std::string endpoint() const override { return name_; }

 private:
  std::shared_ptr<Registry> registry_;
  const std::string name_;
};

class InprocSubscription : public Subscription {
 public:
  InprocSubscription(std::shared_ptr<Registry> registry, std::string name,
                     std::shared_ptr<SubscriptionCore> core)
      : registry_(std::move(registry)), name_(std::move(name)), core_(std::move(core)) {
    thread_ = std::thread([core = core_] { core->Loop(); });
    registry_->AddSubscriber(name_, core_);
  }

  ~InprocSubscription() override {
    registry_->RemoveSubscriber(name_, core_.get());
    core_->Stop();
    JoinOrDetach(thread_);
  }

 private:
  std::shared_ptr<Registry> registry_;
  const std::string name_;
  std::shared_ptr<SubscriptionCore> core_;
  std::thread thread_;
};

class InprocTransport : public Transport {
 public:
  explicit InprocTransport(const PluginContext& /*context*/) : registry_(Registry::Get()) {}

  Result<std::unique_ptr<Server>> Serve(const std::string& endpoint,
                                        MessageHandler handler) override {
    auto core = std::make_shared<ServerCore>(std::move(handler));
    auto name = registry_->BindServer(endpoint, core);
    if (!name.ok()) return name.status();
    return std::unique_ptr<Server>(new InprocServer(registry_, std::move(*name), std::move(core)));
  }

  Result<std::unique_ptr<Channel>> Connect(const std::string& endpoint) override {
    RAYK_RETURN_IF_ERROR(CheckEndpoint(endpoint));
    return std::unique_ptr<Channel>(new InprocChannel(registry_, endpoint));
  }

  Result<std::unique_ptr<Publisher>> Publish(const std::string& endpoint) override {
    auto name = registry_->BindPublisher(endpoint);
    if (!name.ok()) return name.status();
    return std::unique_ptr<Publisher>(new InprocPublisher(registry_, std::move(*name)));
  }

  Result<std::unique_ptr<Subscription>> Subscribe(const std::string& endpoint,
                                                  const std::vector<std::string>& topic_prefixes,
                                                  TopicHandler handler) override {
    RAYK_RETURN_IF_ERROR(CheckEndpoint(endpoint));
    auto core = std::make_shared<SubscriptionCore>(topic_prefixes, std::move(handler));
    return std::unique_ptr<Subscription>(
        new InprocSubscription(registry_, endpoint, std::move(core)));
  }

 private:
  std::shared_ptr<Registry> registry_;
};

}  // namespace
}  // namespace rayk

RAYK_PLUGIN(rayk::PluginKind::kTransport, "inproc", "1.0",
            "Threads in one process: for tests and embedded use", rayk::InprocTransport,
            RAYK_NO_SETTINGS);
