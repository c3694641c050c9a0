// SHA-256 digests, as lowercase hex: the names of job code (job_code/), which
// is content-addressed so that a host can verify what it was sent.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace rayk {

// The hex digest of `data`.
std::string Sha256Hex(std::string_view data);

// True for 64 lowercase hex digits, the form Sha256Hex returns.
bool IsSha256Hex(std::string_view text);

// A digest fed in pieces (a library arrives in chunks).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void Update(std::string_view data);
  std::string FinishHex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace rayk
