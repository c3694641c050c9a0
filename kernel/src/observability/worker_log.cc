#include "observability/worker_log.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace rayk::observability {

namespace {

constexpr char kWorkerMarker[] = ":rayk_worker: ";
constexpr char kTaskMarker[] = ":rayk_task: ";
constexpr char kMarkerEnd = '\x1f';  // ends a task marker (ASCII unit separator)

}  // namespace

std::string WorkerLogPath(const std::string& session_dir, const WorkerId& id) {
  return session_dir + "/logs/worker-" + id.Hex().substr(0, 8) + ".log";
}

std::string WorkerErrPath(const std::string& log_path) {
  return log_path.substr(0, log_path.rfind('.')) + ".err";
}

std::string WorkerLogHeader(const JobId& job, const NodeId& node, int64_t pid) {
  return std::string(kWorkerMarker) + job.Hex() + " " + node.Hex() + " " + std::to_string(pid) +
         "\n";
}

std::string TaskMarker(const TaskId& task, const ActorId& actor, std::string_view name) {
  std::string marker = std::string(kTaskMarker) + task.Hex() + " " +
                       (actor.IsNil() ? "-" : actor.Hex()) + " " + std::string(name);
  // A name is the user's: it must not end the marker or its line early.
  for (size_t i = sizeof(kTaskMarker) - 1; i < marker.size(); ++i) {
    if (marker[i] == '\n' || marker[i] == kMarkerEnd) marker[i] = ' ';
  }
  return marker + kMarkerEnd;
}

void PutTaskMarker(std::FILE* stream, const std::string& marker) {
  std::fputs(marker.c_str(), stream);
}

bool TakeBackTaskMarker(std::FILE* stream, const std::string& marker) {
  if (marker.empty()) return false;
#ifdef __GLIBC__
  // glibc's FILE keeps what is not written yet between _IO_write_base and
  // _IO_write_ptr (the members __fpurge uses). The marker is taken back only
  // if it still ends that span, so nothing printed since is lost.
  flockfile(stream);
  const bool last =
      stream->_IO_write_ptr != nullptr && stream->_IO_write_base != nullptr &&
      stream->_IO_write_ptr - stream->_IO_write_base >=
          static_cast<std::ptrdiff_t>(marker.size()) &&
      std::memcmp(stream->_IO_write_ptr - marker.size(), marker.data(), marker.size()) == 0;
  if (last) stream->_IO_write_ptr -= marker.size();
  funlockfile(stream);
  return last;
#else
  (void)stream;
  (void)marker;
  return false;
#endif
}

bool IsRuntimeLogLine(const std::string& line) {
  // "[2026-11-29 05:45:26.123] [worker 1234] [info] ...": the timestamp is
  // 23 characters between the brackets.
  return line.size() > 34 && line[0] == '[' && line[5] == '-' &&
         line.compare(24, 10, "] [worker ") == 0;
}

bool WorkerLogReader::ApplyMarkers(std::string& line) {
  if (line.starts_with(kWorkerMarker)) {
    std::istringstream fields(line.substr(sizeof(kWorkerMarker) - 1));
    std::string job, node;
    fields >> job >> node >> current_.pid;
    current_.job_id = JobId::FromHex(job);
    current_.node_id = NodeId::FromHex(node);
    return true;
  }
  bool applied = false;
  size_t start = 0;
  while (line.compare(start, sizeof(kTaskMarker) - 1, kTaskMarker) == 0) {
    size_t end = line.find(kMarkerEnd, start);
    if (end == std::string::npos) end = line.size();  // cut short: the whole line is it
    std::istringstream fields(line.substr(start + sizeof(kTaskMarker) - 1, end - start));
    std::string task, actor;
    fields >> task >> actor >> std::ws;
    std::getline(fields, current_.name, kMarkerEnd);
    current_.task_id = TaskId::FromHex(task);
    current_.actor_id = actor == "-" ? ActorId() : ActorId::FromHex(actor);
    applied = true;
    start = std::min(end + 1, line.size());
  }
  line.erase(0, start);
  return applied && line.empty();
}

void WorkerLogReader::Resume(uint64_t offset) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path_, ec);
  if (ec || offset > size) return;  // gone, truncated or replaced: from the start
  if (offset == size) {
    offset_ = offset;  // nothing new, so no one's lines to name
    return;
  }
  std::ifstream file(path_, std::ios::binary);
  std::string header;
  if (!std::getline(file, header) || file.tellg() > static_cast<std::streamoff>(offset)) {
    offset_ = 0;
    return;
  }
  ApplyMarkers(header);
  // Backwards from `offset`, a window at a time, to the last task marker.
  const std::string_view marker(kTaskMarker);
  uint64_t end = offset;
  std::string window;
  while (end > 0 && offset - end < kMaxMarkerSearch) {
    const uint64_t begin = end > 65536 ? end - 65536 : 0;
    // A marker may straddle the window's end: read on past it a little.
    const uint64_t stop = std::min<uint64_t>(offset, end + 512);
    window.resize(stop - begin);
    file.clear();
    file.seekg(static_cast<std::streamoff>(begin));
    file.read(window.data(), static_cast<std::streamsize>(window.size()));
    window.resize(static_cast<size_t>(file.gcount()));
    for (size_t at = window.rfind(marker); at != std::string::npos;
         at = at == 0 ? std::string::npos : window.rfind(marker, at - 1)) {
      const bool at_line_start =
          begin + at == 0 || (at > 0 && (window[at - 1] == '\n' || window[at - 1] == kMarkerEnd));
      const size_t marker_end = window.find(kMarkerEnd, at);
      if (!at_line_start || marker_end == std::string::npos || begin + marker_end >= offset) {
        continue;
      }
      std::string line = window.substr(at, marker_end + 1 - at);
      ApplyMarkers(line);
      offset_ = offset;
      return;
    }
    end = begin;
  }
  offset_ = offset;  // no marker: the lines are the worker's own, before any task
}

std::vector<protocol::LogBatch> WorkerLogReader::ReadNew(uint64_t max_bytes) {
  std::vector<protocol::LogBatch> batches;
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path_, ec);
  if (ec) return batches;
  if (size < offset_) offset_ = 0;      // truncated or replaced: from its start again
  if (size == offset_) return batches;  // nothing new: not even opened
  std::ifstream file(path_, std::ios::binary);
  if (!file) return batches;
  file.seekg(static_cast<std::streamoff>(offset_));
  std::string chunk(std::min(max_bytes, size - offset_), '\0');
  file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  chunk.resize(static_cast<size_t>(file.gcount()));
  auto take = [&](std::string line) {
    if (ApplyMarkers(line) || IsRuntimeLogLine(line)) return;
    if (batches.empty() || batches.back().task_id != current_.task_id ||
        batches.back().name != current_.name) {
      batches.push_back(current_);
    }
    batches.back().lines.push_back(std::move(line));
  };
  size_t start = 0;
  for (size_t end; (end = chunk.find('\n', start)) != std::string::npos; start = end + 1) {
    take(chunk.substr(start, end - start));
  }
  // The unfinished last line: its complete leading markers (of tasks that
  // printed nothing, whose markers stdio flushed when its buffer filled)
  // apply now, so that they never pile up into one endless line.
  for (size_t end; chunk.compare(start, sizeof(kTaskMarker) - 1, kTaskMarker) == 0 &&
                   (end = chunk.find(kMarkerEnd, start)) != std::string::npos;
       start = end + 1) {
    std::string marker = chunk.substr(start, end + 1 - start);
    ApplyMarkers(marker);
  }
  if (start == 0 && !chunk.empty() && chunk.size() == max_bytes) {
    // A line longer than the whole budget goes out in pieces rather than never.
    take(chunk);
    start = chunk.size();
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
    const bool wanted =
        (name.ends_with(".log") && (request.streams & protocol::ReadLogs::kStdoutOnly)) ||
        (name.ends_with(".err") && (request.streams & protocol::ReadLogs::kStderrOnly));
    if (name.starts_with("worker-") && wanted && entry.is_regular_file(ec)) {
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
    WorkerLogReader reader(path.string(), name.ends_with(".err"));
    // Only what came after the offset is read, and the markers that say
    // whose lines come after it.
    auto known = request.offsets.find(name);
    if (known != request.offsets.end() && known->second > 0) reader.Resume(known->second);
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
