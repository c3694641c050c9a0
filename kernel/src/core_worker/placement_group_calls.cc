#include "core_worker/placement_group_calls.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <utility>
#include <vector>

#include "rpc/protocol.h"

namespace rayk {

Status PlacementGroupCalls::Send(const PlacementGroupId& id, std::string request,
                                 std::string what) {
  RAYK_RETURN_IF_ERROR(Settle(id));
  if (!context_.gcs) return Status::Unavailable(what + ": this process has no GCS connection");
  auto answer = std::make_shared<std::promise<Status>>();
  uint64_t serial = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    serial = ++next_serial_;
    calls_[id] = Call{serial, answer->get_future().share()};
  }
  context_.gcs->Call(std::move(request),
                     [this, id, serial, answer, what = std::move(what)](Result<std::string> reply) {
                       Status status = reply.status();
                       if (reply.ok()) {
                         auto decoded = protocol::Decode<protocol::StatusReply>(*reply);
                         status = decoded.ok() ? decoded->ToStatus() : decoded.status();
                       }
                       if (!status.ok()) {
                         status = Status(status.code(), what + " failed: " + status.message());
                         spdlog::warn("{}", status.message());
                       }
                       answer->set_value(status);
                       // A failure stays, for the group's next call to report.
                       if (!status.ok()) return;
                       std::lock_guard<std::mutex> lock(mu_);
                       auto it = calls_.find(id);
                       if (it != calls_.end() && it->second.serial == serial) calls_.erase(it);
                     });
  return Status::Ok();
}

Status PlacementGroupCalls::Settle(const PlacementGroupId& id) {
  std::shared_future<Status> answer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(id);
    if (it == calls_.end()) return Status::Ok();
    answer = it->second.answer;
  }
  return answer.get();
}

void PlacementGroupCalls::SettleAll(std::chrono::milliseconds limit) {
  std::vector<std::shared_future<Status>> answers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, call] : calls_) answers.push_back(call.answer);
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (const auto& answer : answers) {
    if (answer.wait_until(deadline) != std::future_status::ready) {
      spdlog::warn("{} placement group call(s) still unanswered at exit", answers.size());
      return;
    }
  }
}

}  // namespace rayk
