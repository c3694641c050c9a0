#include "group_functions.h"

#include <algorithm>
#include <chrono>

namespace group_functions {

namespace {
constexpr auto kBound = std::chrono::seconds(30);
}  // namespace

bool GroupedActor::Meet(const std::string& name, int parties) {
  std::unique_lock<std::mutex> lock(mu_);
  ++arrived_[name];
  changed_.notify_all();
  return changed_.wait_for(lock, kBound, [&] { return arrived_[name] >= parties; });
}
bool GroupedActor::MeetInA(const std::string& name, int parties) { return Meet(name, parties); }
bool GroupedActor::MeetInB(const std::string& name, int parties) { return Meet(name, parties); }

void GroupedActor::HoldInA(const std::string& tag) {
  std::unique_lock<std::mutex> lock(mu_);
  log_.push_back("enter " + tag);
  changed_.notify_all();
  changed_.wait_for(lock, kBound, [&] { return open_.contains(tag); });
  log_.push_back("leave " + tag);
}

void GroupedActor::Open(const std::string& tag) {
  std::lock_guard<std::mutex> lock(mu_);
  open_.insert(tag);
  changed_.notify_all();
}

bool GroupedActor::Entered(const std::string& tag) {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, kBound, [&] {
    return std::find(log_.begin(), log_.end(), "enter " + tag) != log_.end();
  });
}

std::vector<std::string> GroupedActor::Log() {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

rayk::Async<int> AsyncGrouped::PassGateInA(rayk::ObjectRef<std::string> gate, int i) {
  co_return co_await PassGate(std::move(gate), i);
}

rayk::Async<int> AsyncGrouped::PassGate(rayk::ObjectRef<std::string> gate, int i) {
  log_.push_back("enter " + std::to_string(i));
  co_await gate;
  log_.push_back("leave " + std::to_string(i));
  co_return i;
}

std::string MeetInGroupFromATask(rayk::ActorHandle<GroupedActor> actor, std::string group) {
  try {
    rayk::Get(actor.Task(&GroupedActor::Meet).SetConcurrencyGroup(group).Remote("task", 1));
    return "no error";
  } catch (const rayk::RuntimeError& error) {
    return error.what();
  }
}

}  // namespace group_functions

using group_functions::AsyncGrouped;
using group_functions::GroupedActor;
using group_functions::TwoGroups;

RAYK_REMOTE(GroupedActor::Create, &GroupedActor::Meet, &GroupedActor::MeetInA,
            &GroupedActor::MeetInB, &GroupedActor::HoldInA, &GroupedActor::Open,
            &GroupedActor::Entered, &GroupedActor::Log, AsyncGrouped::Create,
            &AsyncGrouped::PassGateInA, &AsyncGrouped::PassGate, &AsyncGrouped::Log,
            TwoGroups::Create, &TwoGroups::Run, group_functions::MeetInGroupFromATask);
RAYK_CONCURRENCY_GROUP("a", &GroupedActor::MeetInA, &GroupedActor::HoldInA,
                       &AsyncGrouped::PassGateInA);
RAYK_CONCURRENCY_GROUP("b", &GroupedActor::MeetInB);
RAYK_CONCURRENCY_GROUP("x", &TwoGroups::Run);
RAYK_CONCURRENCY_GROUP("y", &TwoGroups::Run);
