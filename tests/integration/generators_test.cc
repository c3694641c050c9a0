// Streaming generators (rayk/generator.h) end to end on an embedded two-CPU
// cluster: items in order while the producer runs, large items through the
// store and freed one by one, an item passed to another task, a throw that
// ends the stream at its position, backpressure, dropping the generator
// stopping its producer, a worker death retried without duplicates, and the
// faults of bad options and timeouts; then the same for actor methods that
// stream, on plain and async actors, through actor deaths and restarts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster_fixture.h"
#include "functions/generator_functions.h"
#include "functions/test_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using namespace generator_functions;
using ::testing::HasSubstr;

class GeneratorsTest : public testing::ClusterTest {
 protected:
  // The lines a producer traced so far.
  static std::vector<std::string> TraceLines(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  // Waits (within kPatience) until `done` holds for the trace's lines.
  template <class Done>
  static std::vector<std::string> WaitForTrace(const std::string& path, Done done) {
    auto deadline = std::chrono::steady_clock::now() + testing::kPatience;
    std::vector<std::string> lines = TraceLines(path);
    while (!done(lines) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      lines = TraceLines(path);
    }
    return lines;
  }

  // Waits (within kPatience) until the producer traced "closed": its lines.
  static std::vector<std::string> WaitForClosed(const std::string& path) {
    return WaitForTrace(path, [](const auto& l) { return !l.empty() && l.back() == "closed"; });
  }

  // The stream's next item carries an `Error` saying `message`, and the
  // stream ends there.
  template <class Error>
  static void ExpectEndsWith(rayk::ObjectRefGenerator<int>& items, const std::string& message) {
    std::optional<rayk::ObjectRef<int>> failed = items.Next(testing::kPatience);
    ASSERT_TRUE(failed.has_value());
    try {
      rayk::Get(*failed, testing::kPatience);
      ADD_FAILURE() << "the item after the end must carry the error";
    } catch (const Error& error) {
      EXPECT_THAT(error.what(), HasSubstr(message));
    }
    EXPECT_FALSE(items.Next(testing::kPatience).has_value());
  }

  std::string TracePath(const std::string& name) { return session_root_.path() + "/" + name; }
};

TEST_F(GeneratorsTest, ItemsComeInOrderAsTheirOwnObjects) {
  rayk::ObjectRefGenerator<int> items = rayk::Task(Count).Remote(1000);
  int expected = 0;
  std::vector<ObjectId> ids;
  for (rayk::ObjectRef<int> item : items) {
    ASSERT_EQ(*rayk::Get(item, testing::kPatience), expected) << "item " << expected;
    ids.push_back(item.ID());
    ++expected;
  }
  EXPECT_EQ(expected, 1000);
  EXPECT_NE(ids[0], ids[1]);
  // The stream stays ended.
  EXPECT_FALSE(items.Next().has_value());
}

TEST_F(GeneratorsTest, AnEmptyStreamEndsAtOnce) {
  rayk::ObjectRefGenerator<int> items = rayk::Task(Count).Remote(0);
  EXPECT_FALSE(items.Next(testing::kPatience).has_value());
}

TEST_F(GeneratorsTest, AnItemIsPassedToAnotherTask) {
  rayk::ObjectRefGenerator<int> items = rayk::Task(Count).Remote(3);
  auto first = items.Next().value();
  auto second = items.Next().value();
  auto sum = rayk::Task(test_functions::Add).Remote(second, 40);
  EXPECT_EQ(*rayk::Get(sum, testing::kPatience), 41);
  EXPECT_EQ(*rayk::Get(first, testing::kPatience), 0);
}

TEST_F(GeneratorsTest, LargeItemsAreStoredAndFreedOneByOne) {
  constexpr int64_t kBytes = 2 << 20;  // each item goes to the store
  std::vector<rayk::ObjectRef<std::string>> refs;
  {
    rayk::ObjectRefGenerator<std::string> chunks = rayk::Task(LargeChunks).Remote(3, kBytes);
    for (auto chunk : chunks) refs.push_back(chunk);
  }
  ASSERT_EQ(refs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    auto value = rayk::Get(refs[i], testing::kPatience);
    ASSERT_EQ(value->size(), size_t{kBytes});
    EXPECT_EQ((*value)[0], static_cast<char>('a' + i));
  }
  EXPECT_EQ(StoredObjects(), 3u);
  refs.erase(refs.begin());
  EXPECT_EQ(StoredObjects(), 2u);
  refs.clear();
  EXPECT_EQ(StoredObjects(), 0u);
}

TEST_F(GeneratorsTest, AThrowEndsTheStreamAtItsPosition) {
  rayk::ObjectRefGenerator<int> items = rayk::Task(CountThenThrow).Remote(3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), i);
  ExpectEndsWith<rayk::TaskError>(items, "the stream broke after 3 items");
}

TEST_F(GeneratorsTest, BackpressurePausesTheProducerUntilItemsAreTaken) {
  const std::string trace = TracePath("backpressure.trace");
  rayk::ObjectRefGenerator<int> items =
      rayk::Task(CountTraced).SetGeneratorBackpressure(2).Remote(6, trace);
  // Items 0 and 1 are acknowledged at once; item 2 waits for the caller,
  // so the producer is paused in its third co_yield.
  auto lines = WaitForTrace(trace, [](const auto& l) { return l.size() >= 3; });
  ASSERT_EQ(lines.size(), 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // more than one resend
  EXPECT_EQ(TraceLines(trace).size(), 3u) << "the producer ran past its backpressure bound";
  // Taking one lets exactly one more be made.
  EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), 0);
  lines = WaitForTrace(trace, [](const auto& l) { return l.size() >= 4; });
  EXPECT_EQ(lines.size(), 4u);
  // Taking the rest ends the stream with every item, in order.
  for (int i = 1; i < 6; ++i) EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), i);
  EXPECT_FALSE(items.Next(testing::kPatience).has_value());
}

TEST_F(GeneratorsTest, DroppingTheGeneratorStopsItsProducer) {
  const std::string trace = TracePath("endless.trace");
  rayk::ObjectRef<int> kept;
  {
    rayk::ObjectRefGenerator<int> items =
        rayk::Task(Endless).SetGeneratorBackpressure(4).Remote(trace);
    for (int i = 0; i < 3; ++i) {
      auto item = items.Next().value();
      EXPECT_EQ(*rayk::Get(item, testing::kPatience), i);
      if (i == 1) kept = item;
    }
  }
  auto lines = WaitForClosed(trace);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "closed") << "the producer did not stop";
  // A ref taken before the drop stays valid.
  EXPECT_EQ(*rayk::Get(kept, testing::kPatience), 1);
  // The worker is free again for other work.
  EXPECT_EQ(*rayk::Get(rayk::Task(test_functions::Add).Remote(1, 2), testing::kPatience), 3);
}

TEST_F(GeneratorsTest, AWorkerDeathIsRetriedWithoutDuplicates) {
  const std::string marker = TracePath("died.marker");
  rayk::ObjectRefGenerator<int> items = rayk::Task(CountDyingOnce).Remote(8, 3, marker);
  std::vector<int> seen;
  for (auto item : items) seen.push_back(*rayk::Get(item, testing::kPatience));
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(TraceLines(marker), std::vector<std::string>{"died"});
}

TEST_F(GeneratorsTest, AWorkerDeathWithoutRetriesEndsTheStreamWithTheCrash) {
  const std::string marker = TracePath("died-once.marker");
  rayk::ObjectRefGenerator<int> items =
      rayk::Task(CountDyingOnce).SetMaxRetries(0).Remote(8, 2, marker);
  EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), 0);
  EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), 1);
  ExpectEndsWith<rayk::WorkerCrashedError>(items, "");
}

TEST_F(GeneratorsTest, NextTimesOutWhileTheProducerWorks) {
  rayk::ObjectRefGenerator<int> items = rayk::Task(SlowSeven).Remote(3000);
  EXPECT_THROW(items.Next(std::chrono::milliseconds(10)), rayk::GetTimeoutError);
  EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), 7);
  EXPECT_FALSE(items.Next().has_value());
}

TEST_F(GeneratorsTest, BadUseIsRefusedWithOneLine) {
  try {
    rayk::Task(Count).SetGeneratorBackpressure(0);
    ADD_FAILURE() << "a backpressure of 0 must be refused";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_THAT(error.what(), HasSubstr("SetGeneratorBackpressure(0) on rayk::Task(Count)"));
  }
  rayk::ObjectRefGenerator<int> items = rayk::Task(Count).Remote(1);
  items.Close();
  EXPECT_THROW(items.Next(), rayk::RuntimeError);
}

// ---- actor methods that stream (rayk/generator.h, "Actor methods")

TEST_F(GeneratorsTest, AnActorMethodStreamsFromItsInstanceBeforeLaterCalls) {
  auto streamer = rayk::Actor(Streamer::Create).Remote(100);
  rayk::ObjectRefGenerator<int> items = streamer.Task(&Streamer::Count).Remote(50);
  // A plain actor runs one call at a time, in submission order: this one
  // starts once the stream has ended, though the caller took no item yet.
  rayk::ObjectRef<int> made = streamer.Task(&Streamer::Made).Remote();
  EXPECT_EQ(*rayk::Get(made, testing::kPatience), 50);
  std::vector<ObjectId> ids;
  for (rayk::ObjectRef<int> item : items) {
    ASSERT_EQ(*rayk::Get(item, testing::kPatience), 100 + static_cast<int>(ids.size()));
    ids.push_back(item.ID());
  }
  ASSERT_EQ(ids.size(), 50u);
  EXPECT_NE(ids[0], ids[1]);
  try {
    streamer.Task(&Streamer::Count).SetGeneratorBackpressure(0);
    ADD_FAILURE() << "a backpressure of 0 must be refused";
  } catch (const rayk::RuntimeError& error) {
    EXPECT_THAT(error.what(),
                HasSubstr("SetGeneratorBackpressure(0) on a call of &Streamer::Count"));
  }
}

TEST_F(GeneratorsTest, AThrowEndsAnActorStreamAtItsPositionAndTheActorServesOn) {
  auto streamer = rayk::Actor(Streamer::Create).Remote(10);
  rayk::ObjectRefGenerator<int> items = streamer.Task(&Streamer::CountThenThrow).Remote(2);
  EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), 10);
  EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), 11);
  ExpectEndsWith<rayk::TaskError>(items, "the stream broke after 2 items");
  EXPECT_EQ(*rayk::Get(streamer.Task(&Streamer::Made).Remote(), testing::kPatience), 2);
}

TEST_F(GeneratorsTest, ClosingAnActorStreamStopsItsProducerAndTheActorLivesOn) {
  const std::string trace = TracePath("actor-endless.trace");
  auto streamer = rayk::Actor(Streamer::Create).Remote(0);
  {
    rayk::ObjectRefGenerator<int> items =
        streamer.Task(&Streamer::Endless).SetGeneratorBackpressure(4).Remote(trace);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), i);
  }
  auto lines = WaitForClosed(trace);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "closed") << "the producer did not stop";
  // The producer's frame went, the actor did not: its state is intact.
  EXPECT_EQ(*rayk::Get(streamer.Task(&Streamer::Made).Remote(), testing::kPatience),
            static_cast<int>(lines.size()) - 1);
  rayk::ObjectRefGenerator<int> again = streamer.Task(&Streamer::Count).Remote(1);
  EXPECT_EQ(*rayk::Get(again.Next().value(), testing::kPatience), 0);
}

TEST_F(GeneratorsTest, AnAsyncActorServesOtherCallsWhileItsStreamIsHeldBack) {
  const std::string trace = TracePath("async-endless.trace");
  auto streamer = rayk::Actor(AsyncStreamer::Create).Remote(0);
  rayk::ObjectRefGenerator<int> items =
      streamer.Task(&AsyncStreamer::Endless).SetGeneratorBackpressure(2).Remote(trace);
  // Items 0 and 1 are acknowledged at once; item 2's ack waits for the
  // caller, and meanwhile the actor's loop runs other calls.
  auto lines = WaitForTrace(trace, [](const auto& l) { return l.size() >= 3; });
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(*rayk::Get(streamer.Task(&AsyncStreamer::Echo).Remote(5), testing::kPatience), 5);
  EXPECT_EQ(*rayk::Get(streamer.Task(&AsyncStreamer::Made).Remote(), testing::kPatience), 3);
  EXPECT_EQ(TraceLines(trace).size(), 3u) << "the producer ran past its backpressure bound";
  // Taking one lets exactly one more be made.
  EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), 0);
  lines = WaitForTrace(trace, [](const auto& l) { return l.size() >= 4; });
  EXPECT_EQ(lines.size(), 4u);
  // Closing stops the producer on the loop; the actor serves on.
  items.Close();
  EXPECT_EQ(WaitForClosed(trace), (std::vector<std::string>{"0", "1", "2", "3", "closed"}));
  EXPECT_EQ(*rayk::Get(streamer.Task(&AsyncStreamer::Echo).Remote(6), testing::kPatience), 6);
}

TEST_F(GeneratorsTest, AnActorDeathEndsTheStreamWithActorDied) {
  const std::string marker = TracePath("actor-died.marker");
  auto streamer = rayk::Actor(Streamer::Create).Remote(0);
  rayk::ObjectRefGenerator<int> items =
      streamer.Task(&Streamer::CountDyingOnce).Remote(8, 2, marker);
  EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), 0);
  EXPECT_EQ(*rayk::Get(items.Next().value(), testing::kPatience), 1);
  ExpectEndsWith<rayk::ActorDiedError>(items, "died while running this call");
}

TEST_F(GeneratorsTest, AnActorRestartRetriesTheStreamWithoutDuplicates) {
  const std::string marker = TracePath("actor-restarted.marker");
  auto streamer = rayk::Actor(Streamer::Create).SetMaxRestarts(1).SetMaxTaskRetries(1).Remote(100);
  rayk::ObjectRefGenerator<int> items =
      streamer.Task(&Streamer::CountDyingOnce).Remote(6, 3, marker);
  std::vector<int> seen;
  for (auto item : items) seen.push_back(*rayk::Get(item, testing::kPatience));
  EXPECT_EQ(seen, (std::vector<int>{100, 101, 102, 103, 104, 105}));
  EXPECT_EQ(TraceLines(marker), std::vector<std::string>{"died"});
  // The restarted instance made all six again.
  EXPECT_EQ(*rayk::Get(streamer.Task(&Streamer::Made).Remote(), testing::kPatience), 6);
}

TEST(GeneratorLocal, AGeneratorAlsoRunsInPlace) {
  std::vector<int> values;
  for (int v : Count(4)) values.push_back(v);
  EXPECT_EQ(values, (std::vector<int>{0, 1, 2, 3}));
  auto throwing = CountThenThrow(1);
  EXPECT_TRUE(throwing.Next());
  EXPECT_THROW(throwing.Next(), std::runtime_error);
}

}  // namespace
}  // namespace rayk
