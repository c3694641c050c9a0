#include "observability/log_to_driver.h"

#include "rpc/protocol.h"

namespace rayk::observability {

std::string LogPrinter::Prefix(const protocol::LogBatch& batch) {
  return "(" + (batch.name.empty() ? std::string("worker") : batch.name) +
         " pid=" + std::to_string(batch.pid) + ", node=" + batch.node_id.Hex().substr(0, 8) + ") ";
}

void LogPrinter::PrintRepeatsLocked(const std::string& prefix, Source& source) {
  if (source.repeats == 0) return;
  std::fprintf(source.to, "%s%s [repeated %llux]\n", prefix.c_str(), source.last_line.c_str(),
               static_cast<unsigned long long>(source.repeats));
  source.repeats = 0;
}

void LogPrinter::Print(const protocol::LogBatch& batch) {
  const std::string prefix = Prefix(batch);
  std::lock_guard<std::mutex> lock(mu_);
  Source& source = sources_[{prefix, batch.from_stderr}];
  source.last_seen = std::chrono::steady_clock::now();
  source.to = batch.from_stderr ? err_ : out_;
  for (const std::string& line : batch.lines) {
    if (line == source.last_line) {
      ++source.repeats;
      continue;
    }
    PrintRepeatsLocked(prefix, source);
    std::fprintf(source.to, "%s%s\n", prefix.c_str(), line.c_str());
    source.last_line = line;
  }
  std::fflush(source.to);
}

void LogPrinter::Flush(bool all) {
  const auto quiet_since = std::chrono::steady_clock::now() - kFoldWindow;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, source] : sources_) {
    if (all || source.last_seen < quiet_since) PrintRepeatsLocked(key.first, source);
  }
  std::fflush(out_);
  std::fflush(err_);
}

Result<std::unique_ptr<LogToDriver>> LogToDriver::Start(Transport& transport,
                                                        const std::string& gcs_address,
                                                        const JobId& job) {
  std::unique_ptr<LogToDriver> self(new LogToDriver());
  auto gcs = GcsClient::Connect(transport, gcs_address);
  if (!gcs.ok()) return gcs.status();
  self->gcs_ = std::move(*gcs);
  LogPrinter* printer = &self->printer_;
  auto subscription = GcsSubscription::Start(
      transport, *self->gcs_, {protocol::LogTopic(job)},
      [printer](const std::string&, std::string payload) {
        auto logs = protocol::Decode<protocol::PublishLogs>(payload);
        if (!logs.ok()) return;
        for (const protocol::LogBatch& batch : logs->batches) printer->Print(batch);
      },
      [](const protocol::ClusterStatus&) {});  // lines nobody heard stay in the log files
  if (!subscription.ok()) return subscription.status();
  self->subscription_ = std::move(*subscription);
  LogToDriver* raw = self.get();
  self->thread_ = std::thread([raw] { raw->Loop(); });
  return self;
}

LogToDriver::~LogToDriver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wakeup_.notify_all();
  if (thread_.joinable()) thread_.join();
  subscription_.reset();  // waits for the handler, which prints
  printer_.Flush(/*all=*/true);
}

// Prints folded repeats once their worker is quiet, and follows the GCS
// through restarts and failovers.
void LogToDriver::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wakeup_.wait_for(lock, LogPrinter::kFoldWindow / 4, [this] { return stopping_; });
    lock.unlock();
    printer_.Flush(/*all=*/false);
    subscription_->Check();
    lock.lock();
  }
}

}  // namespace rayk::observability
