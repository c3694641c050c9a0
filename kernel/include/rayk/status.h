// Status and Result<T>: how errors cross module and plugin edges.
//
// A Status is either OK or a code plus a one-line message that names the thing
// that failed and, where there is one, the fix. Result<T> holds a T or a non-OK
// Status. Neither throws; exceptions are used only at the user API edge (api.h).
// Both are plain values and safe to copy between threads.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace rayk {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something malformed (config, frame, argument)
  kNotFound,         // a named thing (plugin, object, actor, key) does not exist
  kAlreadyExists,
  kIoError,  // a file, socket or process operation failed
  kTimedOut,
  kUnavailable,  // the peer or resource is gone or not reachable now
  kOutOfMemory,  // a store or allocator is full
  kInfeasible,   // no node can ever satisfy a resource demand
  kInternal,     // a bug in rayk: please report it
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status TimedOut(std::string m) { return {StatusCode::kTimedOut, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status OutOfMemory(std::string m) { return {StatusCode::kOutOfMemory, std::move(m)}; }
  static Status Infeasible(std::string m) { return {StatusCode::kInfeasible, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: no plugin ..." or "OK".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: must not be OK

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace rayk

// Returns the status from the enclosing function when it is not OK.
#define RAYK_RETURN_IF_ERROR(expr) \
  do {                             \
    ::rayk::Status _st = (expr);   \
    if (!_st.ok()) return _st;     \
  } while (0)
