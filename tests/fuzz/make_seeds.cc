// Writes the seed corpora of the message and frame fuzz targets:
//   rayk_fuzz_seeds DIR   writes DIR/message/<Type> and DIR/frame/<name>
// Message seeds are one encoded sample of every message type (the bodies the
// codec tests use, message_samples.h), so every decoder starts from a body
// with every field present; frame seeds are a header of each frame type, on
// its own and followed by a payload. scripts/fuzz.sh runs it before fuzzing,
// so the seeds follow every change to a message; tests/fuzz/corpus/ holds a
// committed copy (regenerate it with `rayk_fuzz_seeds tests/fuzz/corpus`).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "../../plugins/transport/zmq/zmq_frame.h"
#include "message_samples.h"

namespace {

bool Write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir / "message");
  std::filesystem::create_directories(dir / "frame");
  bool ok = true;
  for (const auto& wire : rayk::protocol::samples::Samples()) {
    ok = ok && Write(dir / "message" / rayk::protocol::MessageTypeName(wire.type), wire.bytes);
  }
  using rayk::zmq_transport::EncodeFrameHeader;
  using rayk::zmq_transport::FrameType;
  const std::pair<const char*, FrameType> kTypes[] = {{"request", FrameType::kRequest},
                                                      {"reply", FrameType::kReply},
                                                      {"oneway", FrameType::kOneWay},
                                                      {"publish", FrameType::kPublish}};
  for (const auto& [name, type] : kTypes) {
    std::string header = EncodeFrameHeader(type, 0x0102030405060708);
    ok = ok && Write(dir / "frame" / name, header);
    ok = ok && Write(dir / "frame" / (std::string(name) + "_with_payload"), header + "payload");
  }
  if (!ok) {
    std::fprintf(stderr, "%s: cannot write the seeds under %s\n", argv[0], dir.c_str());
    return 1;
  }
  return 0;
}
