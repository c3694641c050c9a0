#include "observability/worker_log.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace rayk::observability {

namespace {

constexpr char kWorkerMarker[] = ":rayk_worker: ";
constexpr char kTaskMarker[] = ":rayk_task: ";

}  // namespace

std::string WorkerLogPath(const std::string& session_dir, const WorkerId& id) {
  return session_dir + "/logs/worker-" + id.Hex().substr(0, 8) + ".log";
}

std::string WorkerLogHeader(const JobId& job, const NodeId& node, int64_t pid) {
  return std::string(kWorkerMarker) + job.Hex() + " " + node.Hex() + " " + std::to_string(pid) +
         "\n";
}

std::string TaskMarker(const TaskId& task, const ActorId& actor, const std::string& name) {
  return std::string(kTaskMarker) + task.Hex() + " " + (actor.IsNil() ? "-" : actor.Hex()) + " " +
         name + "\n";
}

bool IsRuntimeLogLine(const std::string& line) {
  // "[2026-11-29 05:45:26.123] [worker 1234] [info] ...": the timestamp is
  // 23 characters between the brackets.
  return line.size() > 34 && line[0] == '[' && line[5] == '-' &&
         line.compare(24, 10, "] [worker ") == 0;
}

bool WorkerLogReader::ApplyMarker(const std::string& line) {
  std::istringstream fields;
  if (line.starts_with(kWorkerMarker)) {
    fields.str(line.substr(sizeof(kWorkerMarker) - 1));
    std::string job, node;
    fields >> job >> node >> current_.pid;
    current_.job_id = JobId::FromHex(job);
    current_.node_id = NodeId::FromHex(node);
    return true;
  }
  if (line.starts_with(kTaskMarker)) {
    fields.str(line.substr(sizeof(kTaskMarker) - 1));
    std::string task, actor;
    fields >> task >> actor;
    fields >> std::ws;
    std::getline(fields, current_.name);
    current_.task_id = TaskId::FromHex(task);
    current_.actor_id = actor == "-" ? ActorId() : ActorId::FromHex(actor);
    return true;
  }
  return false;
}

std::vector<protocol::LogBatch> WorkerLogReader::ReadNew(uint64_t max_bytes) {
  std::vector<protocol::LogBatch> batches;
  std::ifstream file(path_, std::ios::binary);
  if (!file) return batches;
  file.seekg(static_cast<std::streamoff>(offset_));
  std::string chunk(max_bytes, '\0');
  file.read(chunk.data(), static_cast<std::streamsize>(max_bytes));
  chunk.resize(static_cast<size_t>(file.gcount()));
  auto take = [&](std::string line) {
    if (ApplyMarker(line) || IsRuntimeLogLine(line)) return;
    if (batches.empty() || batches.back().task_id != current_.task_id ||
        batches.back().name != current_.name) {
      batches.push_back(current_);
    }
    batches.back().lines.push_back(std::move(line));
  };
  size_t start = 0;
  if (!chunk.empty() && chunk.size() == max_bytes && chunk.find('\n') == std::string::npos) {
    // A line longer than the whole budget goes out in pieces rather than never.
    take(chunk);
    start = chunk.size();
  }
  for (size_t end; (end = chunk.find('\n', start)) != std::string::npos; start = end + 1) {
    take(chunk.substr(start, end - start));
  }
  offset_ += start;
  return batches;
}

protocol::LogLines ReadWorkerLogs(const std::string& session_dir, const protocol::ReadLogs& request,
                                  uint64_t max_bytes) {
  namespace fs = std::filesystem;
  // Oldest first, so that output reads in about the order it was written.
  std::vector<std::pair<fs::file_time_type, fs::path>> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(session_dir + "/logs", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("worker-") && name.ends_with(".log") && entry.is_regular_file(ec)) {
      files.emplace_back(entry.last_write_time(ec), entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  auto matches = [&](const protocol::LogBatch& batch) {
    return (request.job_id.IsNil() || batch.job_id == request.job_id) &&
           (request.actor_id.IsNil() || batch.actor_id == request.actor_id) &&
           (request.task_id.IsNil() || batch.task_id == request.task_id);
  };
  protocol::LogLines out;
  uint64_t budget = max_bytes;
  for (const auto& [time, path] : files) {
    const std::string name = path.filename().string();
    WorkerLogReader reader(path.string());
    // Markers before the offset still say whose lines come after it.
    auto known = request.offsets.find(name);
    if (known != request.offsets.end() && known->second > 0) reader.ReadNew(known->second);
    if (budget == 0) {
      out.more = true;
    } else {
      const uint64_t before = reader.offset();
      for (protocol::LogBatch& batch : reader.ReadNew(budget)) {
        if (matches(batch)) out.batches.push_back(std::move(batch));
      }
      budget -= std::min(budget, reader.offset() - before);
      if (budget == 0) out.more = true;
    }
    out.offsets[name] = reader.offset();
  }
  return out;
}

}  // namespace rayk::observability
