#include "core_worker/push_streams.h"

namespace rayk {

void PushStreams::Push(protocol::PushTasks push, ReplyFn reply) {
  Key key{std::move(push.caller), push.stream};
  std::vector<protocol::PushedTaskReply> replies;
  ReplyFn answer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Stream& stream = streams_[key];
    stream.running += push.specs.size();
    stream.requests.push_back(std::move(reply));
    answer = TakeAnswerLocked(key, replies);
  }
  if (answer) Answer(answer, std::move(replies));
  for (protocol::TaskSpec& spec : push.specs) {
    TaskId task_id = spec.task_id;
    int attempt = spec.attempt;
    executor_.Enqueue(std::move(spec), [this, key, task_id, attempt](std::string encoded) {
      OnReply(key, protocol::PushedTaskReply{task_id, attempt, std::move(encoded)});
    });
  }
}

void PushStreams::OnReply(const Key& key, protocol::PushedTaskReply reply) {
  std::vector<protocol::PushedTaskReply> replies;
  ReplyFn answer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Stream& stream = streams_[key];
    --stream.running;
    stream.ready.push_back(std::move(reply));
    answer = TakeAnswerLocked(key, replies);
  }
  if (answer) Answer(answer, std::move(replies));
}

ReplyFn PushStreams::TakeAnswerLocked(const Key& key,
                                      std::vector<protocol::PushedTaskReply>& replies) {
  auto it = streams_.find(key);
  Stream& stream = it->second;
  ReplyFn answer;
  if (!stream.ready.empty() && !stream.requests.empty()) {
    answer = std::move(stream.requests.front());
    stream.requests.pop_front();
    replies.swap(stream.ready);
  }
  // The caller keeps no request out once it has every reply.
  if (stream.running == 0 && stream.ready.empty() && stream.requests.empty()) streams_.erase(it);
  return answer;
}

void PushStreams::Answer(ReplyFn& reply, std::vector<protocol::PushedTaskReply> replies) {
  reply(protocol::Encode(protocol::MessageType::kPushTasksReply,
                         protocol::PushTasksReply{std::move(replies)}));
}

}  // namespace rayk
