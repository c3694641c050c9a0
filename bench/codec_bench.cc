// Encode + decode of one PushTask (a task spec with one small argument), as
// the protocol does it (codec.h: WireOArchive, BoundedIArchive) and as it did
// before issue 19 item 4 (a Boost binary_oarchive on a boost::iostreams
// stream, a binary_iarchive on a streambuf: a std::locale and Boost's class
// bookkeeping per archive), alternated in one process.
//
//   build/bin/codec_bench [messages] [rounds]    # defaults 200000 3
#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/iostreams/device/back_inserter.hpp>
#include <boost/iostreams/stream.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <streambuf>
#include <string>

#include "rpc/codec.h"
#include "rpc/worker_messages.h"

namespace {

using rayk::protocol::PushTask;
using Clock = std::chrono::steady_clock;
constexpr unsigned kFlags = boost::archive::no_header | boost::archive::no_codecvt;

class View : public std::streambuf {
 public:
  explicit View(const std::string& bytes) {
    char* begin = const_cast<char*>(bytes.data());
    setg(begin, begin, begin + bytes.size());
  }
};

// Returns the encoded size, so that nothing is optimized away.
size_t WithBoostStreams(const PushTask& push) {
  std::string out;
  {
    boost::iostreams::stream<boost::iostreams::back_insert_device<std::string>> stream(out);
    boost::archive::binary_oarchive archive(stream, kFlags);
    archive << push;
  }
  View view(out);
  boost::archive::binary_iarchive archive(view, kFlags);
  PushTask back;
  archive >> back;
  return out.size() + back.spec.function.size();
}

size_t WithWireArchives(const PushTask& push) {
  std::string out = rayk::protocol::Encode(rayk::protocol::MessageType::kPushTask, push);
  auto back = rayk::protocol::Decode<PushTask>(out);
  if (!back.ok()) {
    std::fprintf(stderr, "codec_bench: %s\n", back.status().ToString().c_str());
    std::exit(1);
  }
  return out.size() + back->spec.function.size();
}

double MicrosEach(int messages, size_t (*run)(const PushTask&), const PushTask& push,
                  size_t& bytes) {
  auto start = Clock::now();
  for (int i = 0; i < messages; ++i) bytes = run(push);
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / messages;
}

}  // namespace

int main(int argc, char** argv) {
  int messages = argc > 1 ? std::atoi(argv[1]) : 200000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  if (messages <= 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: codec_bench [messages > 0] [rounds > 0]\n");
    return 2;
  }
  PushTask push;
  push.spec.function = "Noop";
  push.spec.args.resize(1);
  push.spec.args[0].value = std::string(4, 'x');
  for (int round = 0; round < rounds; ++round) {
    size_t boost_bytes = 0;
    size_t wire_bytes = 0;
    double boost_us = MicrosEach(messages, WithBoostStreams, push, boost_bytes);
    double wire_us = MicrosEach(messages, WithWireArchives, push, wire_bytes);
    std::printf(
        "PushTask encode + decode: Boost streams %.2f us (%zu bytes), wire archives %.2f us "
        "(%zu bytes)\n",
        boost_us, boost_bytes - 4, wire_us, wire_bytes - 4);
  }
  return 0;
}
