// A streaming pipeline: a producer task (a C++20 coroutine returning
// rayk::Generator) yields chunks of data one by one, as a reader of a large
// file would; the driver hands each chunk to a consumer task the moment it
// arrives, so consumers run while the producer is still producing. A
// backpressure bound keeps the producer at most a few chunks ahead of the
// driver, so memory stays bounded however long the stream is.
//
//   build/bin/streaming_pipeline [chunks] [numbers-per-chunk] [backpressure]
#include <rayk/api.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

// The chunks of a deterministic pseudo-random stream (as if read from a
// file): chunk i holds `size` numbers below 1,000,000.
uint32_t NextNumber(uint64_t& state) {
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return static_cast<uint32_t>(state >> 33) % 1000000;
}

rayk::Generator<std::vector<uint32_t>> ReadChunks(int chunks, int size) {
  uint64_t state = 42;
  for (int i = 0; i < chunks; ++i) {
    std::vector<uint32_t> chunk(size);
    for (uint32_t& number : chunk) number = NextNumber(state);
    co_yield std::move(chunk);
  }
}

// A consumer: the count, sum and largest number of one chunk.
std::vector<uint64_t> Summarize(const std::vector<uint32_t>& chunk) {
  uint64_t sum = 0, largest = 0;
  for (uint32_t number : chunk) {
    sum += number;
    largest = std::max<uint64_t>(largest, number);
  }
  return {chunk.size(), sum, largest};
}
RAYK_REMOTE(ReadChunks, Summarize);

int main(int argc, char** argv) {
  int chunks = argc > 1 ? std::atoi(argv[1]) : 64;
  int size = argc > 2 ? std::atoi(argv[2]) : 200000;
  int backpressure = argc > 3 ? std::atoi(argv[3]) : 4;
  if (chunks < 1 || size < 1 || backpressure < 1) {
    std::fprintf(stderr, "usage: streaming_pipeline [chunks] [numbers-per-chunk] [backpressure]\n");
    return 2;
  }
  rayk::Init();
  std::vector<rayk::ObjectRef<std::vector<uint64_t>>> summaries;
  size_t done_when_last_arrived = 0;
  {
    rayk::ObjectRefGenerator<std::vector<uint32_t>> stream =
        rayk::Task(ReadChunks).SetGeneratorBackpressure(backpressure).Remote(chunks, size);
    for (rayk::ObjectRef<std::vector<uint32_t>> chunk : stream) {
      summaries.push_back(rayk::Task(Summarize).Remote(chunk));  // starts now
      if (static_cast<int>(summaries.size()) == chunks) {
        done_when_last_arrived =
            rayk::Wait(summaries, summaries.size(), std::chrono::milliseconds(0)).ready.size();
      }
    }
  }
  uint64_t count = 0, sum = 0, largest = 0;
  for (const auto& summary : rayk::Get(summaries)) {
    count += (*summary)[0];
    sum += (*summary)[1];
    largest = std::max(largest, (*summary)[2]);
  }
  // The same numbers, summed here, to check the pipeline.
  uint64_t state = 42, local_sum = 0, local_largest = 0;
  for (uint64_t i = 0; i < static_cast<uint64_t>(chunks) * size; ++i) {
    uint32_t number = NextNumber(state);
    local_sum += number;
    local_largest = std::max<uint64_t>(local_largest, number);
  }
  const bool match =
      count == static_cast<uint64_t>(chunks) * size && sum == local_sum && largest == local_largest;
  std::printf("streamed %d chunks (%llu numbers): sum %llu, largest %llu; %s a local computation\n",
              chunks, static_cast<unsigned long long>(count), static_cast<unsigned long long>(sum),
              static_cast<unsigned long long>(largest), match ? "matches" : "DOES NOT MATCH");
  std::printf(
      "when the last chunk arrived, %zu of %d chunk summaries were already done: consumers ran "
      "while the producer produced, at most %d chunks ahead\n",
      done_when_last_arrived, chunks, backpressure + 1);
  rayk::Shutdown();
  return match ? 0 : 1;
}
