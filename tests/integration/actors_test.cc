// Actors end to end on an embedded cluster: ordered calls, state, named
// lookup from a second driver, handles passed to tasks, kill, SIGKILL with
// and without restarts, threaded actors, an actor no node can hold (it waits),
// and creation that cannot succeed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "cluster_fixture.h"
#include "functions/test_functions.h"
#include "process/session.h"

namespace rayk {
namespace {

using test_functions::Counter;
using ::testing::HasSubstr;

// In rayk_second_driver's namespace, to share named actors with it.
class ActorsTest : public testing::ClusterTest {
  void Customize(InitOptions& options) override { options.namespace_name = "second-driver"; }
};

TEST_F(ActorsTest, TenThousandPipelinedCallsRunInOrder) {
  auto counter = rayk::Actor(Counter::Create).Remote(0);
  std::vector<rayk::ObjectRef<int>> refs;
  for (int i = 0; i < 10000; ++i) refs.push_back(counter.Task(&Counter::Incr).Remote(1));
  auto values = rayk::Get(refs);
  for (int i = 0; i < 10000; ++i)
    ASSERT_EQ(*values[i], i + 1) << "call " << i << " ran out of order";
}

TEST_F(ActorsTest, StateIsKeptAcrossCalls) {
  auto counter = rayk::Actor(Counter::Create).Remote(100);
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Restarted).Remote()), "factory=0 method=0");
  EXPECT_FALSE(rayk::WasCurrentActorRestarted()) << "the driver is no actor";
  rayk::Get(counter.Task(&Counter::Incr).Remote(5));
  rayk::Get(counter.Task(&Counter::Incr).Remote(5));
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Value).Remote()), 110);
  // Its own process, not ours.
  EXPECT_NE(*rayk::Get(counter.Task(&Counter::Pid).Remote()), getpid());
}

TEST_F(ActorsTest, ArgumentsMayBeRefs) {
  auto start = rayk::Put(7);
  auto counter = rayk::Actor(Counter::Create).Remote(start);
  auto by = rayk::Task(test_functions::Add).Remote(1, 2);
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Incr).Remote(by)), 10);
}

TEST_F(ActorsTest, NamedActorFromASecondDriver) {
  auto counter = rayk::Actor(Counter::Create).SetName("shared").Remote(40);
  rayk::Get(counter.Task(&Counter::Incr).Remote(1));
  auto same = rayk::GetActor<Counter>("shared");
  EXPECT_EQ(*rayk::Get(same.Task(&Counter::Value).Remote()), 41);

  std::string address = ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
  auto second = testing::RunCommand("RAYK_ADDRESS=" + address + " " + RAYK_BINARY_DIR +
                                    "/bin/rayk_second_driver incr shared 1");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("value 42"));
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Value).Remote()), 42);
}

TEST_F(ActorsTest, ActorsEndWithTheirJobUnlessDetached) {
  std::string address = ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
  std::string driver =
      "RAYK_ADDRESS=" + address + " " + RAYK_BINARY_DIR + "/bin/rayk_second_driver create ";
  auto attached = testing::RunCommand(driver + "attached attached");
  ASSERT_EQ(attached.exit_code, 0) << attached.output;
  auto detached = testing::RunCommand(driver + "detached detached");
  ASSERT_EQ(detached.exit_code, 0) << detached.output;
  // The detached one outlives the driver that made it...
  auto kept = rayk::GetActor<Counter>("detached");
  EXPECT_EQ(*rayk::Get(kept.Task(&Counter::Incr).Remote(1)), 2);
  // ...the other went with its job (its name is free again once it is dead).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    try {
      rayk::GetActor<Counter>("attached");
    } catch (const rayk::RaykError& error) {
      EXPECT_THAT(error.what(), HasSubstr("no actor named 'attached'"));
      break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the job's actor outlived its job";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kept.Kill();
}

TEST_F(ActorsTest, ListActorsShowsStateAndRestarts) {
  auto counter = rayk::Actor(Counter::Create).SetName("listed").SetMaxRestarts(2).Remote(0);
  rayk::Get(counter.Task(&Counter::Value).Remote());
  std::string address = ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
  auto text = testing::RunRayk("list actors --address " + address);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("listed"));
  EXPECT_THAT(text.output, HasSubstr("ALIVE"));
  auto json = testing::RunRayk("list actors --format json --address " + address);
  ASSERT_EQ(json.exit_code, 0) << json.output;
  auto actors = nlohmann::json::parse(json.output);
  ASSERT_EQ(actors.size(), 1u);
  EXPECT_EQ(actors[0]["name"], "listed");
  EXPECT_EQ(actors[0]["state"], "ALIVE");
  EXPECT_EQ(actors[0]["restarts"], 0);
  EXPECT_THAT(actors[0]["class"].get<std::string>(), HasSubstr("Counter"));
}

TEST_F(ActorsTest, NamesAreUniqueAndLookupsOfUnknownNamesFail) {
  // Held, so that the name stays taken.
  [[maybe_unused]] auto counter = rayk::Actor(Counter::Create).SetName("only").Remote(0);
  EXPECT_THROW(rayk::Actor(Counter::Create).SetName("only").Remote(0), rayk::RaykError);
  EXPECT_THROW(rayk::GetActor<Counter>("nobody"), rayk::RaykError);
}

TEST_F(ActorsTest, HandlePassedIntoATask) {
  auto counter = rayk::Actor(Counter::Create).Remote(0);
  EXPECT_EQ(*rayk::Get(rayk::Task(test_functions::IncrThroughHandle).Remote(counter, 5)), 5);
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Incr).Remote(1)), 6);
}

TEST_F(ActorsTest, KilledActorFailsLaterCalls) {
  auto counter = rayk::Actor(Counter::Create).Remote(0);
  rayk::Get(counter.Task(&Counter::Incr).Remote(1));
  counter.Kill();
  try {
    rayk::Get(counter.Task(&Counter::Incr).Remote(1), std::chrono::milliseconds(30000));
    FAIL() << "expected ActorDiedError";
  } catch (const rayk::ActorDiedError& error) {
    EXPECT_THAT(error.what(), HasSubstr("Kill"));
  }
}

TEST_F(ActorsTest, KillAllowingRestartRecreatesTheActor) {
  auto counter = rayk::Actor(Counter::Create).SetMaxRestarts(1).Remote(5);
  int64_t pid = *rayk::Get(counter.Task(&Counter::Pid).Remote());
  counter.Kill(/*no_restart=*/false);
  int64_t new_pid = 0;
  for (int attempt = 0; attempt < 100 && new_pid == 0; ++attempt) {
    try {
      new_pid = *rayk::Get(counter.Task(&Counter::Pid).Remote(), std::chrono::milliseconds(30000));
    } catch (const rayk::ActorDiedError&) {
      // a call that reached the old process
    }
  }
  EXPECT_NE(new_pid, 0);
  EXPECT_NE(new_pid, pid);
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Value).Remote()), 5);
}

TEST_F(ActorsTest, ProcessDeathWithoutRestartsIsReported) {
  auto counter = rayk::Actor(Counter::Create).Remote(0);
  rayk::Get(counter.Task(&Counter::Incr).Remote(1));
  auto dying = counter.Task(&Counter::Die).Remote();
  EXPECT_THROW(rayk::Get(dying, std::chrono::milliseconds(30000)), rayk::ActorDiedError);
  try {
    rayk::Get(counter.Task(&Counter::Value).Remote(), std::chrono::milliseconds(30000));
    FAIL() << "expected ActorDiedError";
  } catch (const rayk::ActorDiedError& error) {
    EXPECT_THAT(error.what(), HasSubstr("max_restarts=0"));
  }
}

TEST_F(ActorsTest, SigkilledActorRestartsThroughItsFactory) {
  auto counter = rayk::Actor(Counter::Create).SetMaxRestarts(1).Remote(10);
  rayk::Get(counter.Task(&Counter::Incr).Remote(5));
  int64_t pid = *rayk::Get(counter.Task(&Counter::Pid).Remote());
  kill(static_cast<pid_t>(pid), SIGKILL);
  // The call in flight when it died is lost (no task retries)...
  // ...and later calls reach the re-created actor, whose state started over.
  int value = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    try {
      value = *rayk::Get(counter.Task(&Counter::Value).Remote(), std::chrono::milliseconds(30000));
      break;
    } catch (const rayk::ActorDiedError&) {
      // a call sent to the old process before the GCS saw it die
    }
  }
  EXPECT_EQ(value, 10);
  EXPECT_NE(*rayk::Get(counter.Task(&Counter::Pid).Remote()), pid);
  // Its factory and methods know it is a restart (to restore saved state).
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Restarted).Remote()), "factory=1 method=1");
}

// -1 restarts without limit: three deaths, and the actor is still there.
TEST_F(ActorsTest, UnlimitedRestartsOutlastManyDeaths) {
  auto counter = rayk::Actor(Counter::Create).SetMaxRestarts(-1).Remote(10);
  for (int death = 0; death < 3; ++death) {
    int64_t pid = *rayk::Get(counter.Task(&Counter::Pid).Remote(), std::chrono::seconds(60));
    kill(static_cast<pid_t>(pid), SIGKILL);
    int64_t next = pid;
    for (int attempt = 0; attempt < 200 && next == pid; ++attempt) {
      try {
        next = *rayk::Get(counter.Task(&Counter::Pid).Remote(), std::chrono::seconds(30));
      } catch (const rayk::ActorDiedError&) {
        // a call sent to the old process before the GCS saw it die
      }
    }
    EXPECT_NE(next, pid) << "restart " << death + 1;
  }
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Value).Remote()), 10);
}

TEST_F(ActorsTest, TaskRetriesResendCallsLostInARestart) {
  auto counter = rayk::Actor(Counter::Create).SetMaxRestarts(1).SetMaxTaskRetries(1).Remote(0);
  rayk::Get(counter.Task(&Counter::Incr).Remote(1));
  auto dying = counter.Task(&Counter::Die).Remote();
  auto after = counter.Task(&Counter::Incr).Remote(3);
  // Die runs again in the new process and kills it too: no restarts are left.
  EXPECT_THROW(rayk::Get(dying, std::chrono::milliseconds(30000)), rayk::ActorDiedError);
  EXPECT_THROW(rayk::Get(after, std::chrono::milliseconds(30000)), rayk::ActorDiedError);
}

// SetRetryExceptions on an actor call retries a throw within the actor's
// max_task_retries, in the same actor (its state kept); without it, or with
// no retries, the first throw is the result.
TEST_F(ActorsTest, ActorCallsRetryExceptionsWhenAsked) {
  auto retrying = rayk::Actor(Counter::Create).SetMaxTaskRetries(2).Remote(10);
  EXPECT_EQ(*rayk::Get(retrying.Task(&Counter::FlakyIncr).SetRetryExceptions().Remote(5, 2)), 15);
  EXPECT_EQ(*rayk::Get(retrying.Task(&Counter::Value).Remote()), 15);

  auto plain = rayk::Actor(Counter::Create).SetMaxTaskRetries(2).Remote(10);
  EXPECT_THROW(rayk::Get(plain.Task(&Counter::FlakyIncr).Remote(5, 1)), rayk::TaskError);

  auto no_retries = rayk::Actor(Counter::Create).Remote(10);
  try {
    rayk::Get(
        no_retries.Task(&Counter::FlakyIncr).SetRetryExceptions<std::runtime_error>().Remote(5, 1));
    FAIL() << "expected TaskError";
  } catch (const rayk::TaskError& error) {
    EXPECT_THAT(error.remote_message(), HasSubstr("flaky call 1"));
  }
  EXPECT_EQ(*rayk::Get(no_retries.Task(&Counter::FlakyIncr).Remote(5, 1)), 15);
}

TEST_F(ActorsTest, ThreadedActorRunsCallsConcurrently) {
  auto threaded = rayk::Actor(Counter::Create).SetMaxConcurrency(2).Remote(0);
  auto a = threaded.Task(&Counter::Rendezvous).Remote(2);
  auto b = threaded.Task(&Counter::Rendezvous).Remote(2);
  EXPECT_TRUE(*rayk::Get(a));
  EXPECT_TRUE(*rayk::Get(b));
}

TEST_F(ActorsTest, InfeasibleActorWaitsPendingWithItsReasonAndCanBeKilled) {
  // No node has a GPU: as in Ray, the actor waits for one to join (the
  // multi-node tests add it), its calls queue, and it can still be killed.
  auto gpu = rayk::Actor(Counter::Create).SetResource("GPU", 1).Remote(0);
  auto value = gpu.Task(&Counter::Value).Remote();
  EXPECT_THROW(rayk::Get(value, std::chrono::milliseconds(500)), rayk::GetTimeoutError);
  std::string address = ReadFile(session_root_.path() + "/session_latest/gcs_address").value();
  nlohmann::json actors;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto json = testing::RunRayk("list actors --format json --address " + address);
    ASSERT_EQ(json.exit_code, 0) << json.output;
    actors = nlohmann::json::parse(json.output);
    if (actors.size() == 1 && !actors[0]["pending_reason"].get<std::string>().empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(actors.size(), 1u);
  EXPECT_EQ(actors[0]["state"], "PENDING");
  EXPECT_THAT(actors[0]["pending_reason"].get<std::string>(), HasSubstr("GPU"));
  auto text = testing::RunRayk("list actors --address " + address);
  EXPECT_THAT(text.output, HasSubstr("(waiting: "));
  gpu.Kill();
  EXPECT_THROW(rayk::Get(value, std::chrono::milliseconds(30000)), rayk::ActorDiedError);
}

TEST_F(ActorsTest, HardAffinityToAnUnknownNodeFailsTheActor) {
  // No node that joins can be that node: the actor fails at once.
  auto pinned = rayk::Actor(Counter::Create).SetNodeAffinity(NodeId::FromRandom()).Remote(0);
  try {
    rayk::Get(pinned.Task(&Counter::Value).Remote(), std::chrono::milliseconds(30000));
    FAIL() << "expected ActorDiedError";
  } catch (const rayk::ActorDiedError& error) {
    EXPECT_THAT(error.what(), HasSubstr("hard node affinity"));
  }
}

TEST_F(ActorsTest, FactoryThatThrows) {
  auto broken = rayk::Actor(Counter::CreateFailing).Remote(0);
  try {
    rayk::Get(broken.Task(&Counter::Value).Remote(), std::chrono::milliseconds(30000));
    FAIL() << "expected ActorDiedError";
  } catch (const rayk::ActorDiedError& error) {
    EXPECT_THAT(error.what(), HasSubstr("no counter today"));
  }
}

TEST_F(ActorsTest, ExitActorFromInside) {
  auto counter = rayk::Actor(Counter::Create).SetMaxRestarts(3).Remote(3);
  EXPECT_EQ(*rayk::Get(counter.Task(&Counter::Exit).Remote()), 3);
  try {
    rayk::Get(counter.Task(&Counter::Value).Remote(), std::chrono::milliseconds(30000));
    FAIL() << "expected ActorDiedError";
  } catch (const rayk::ActorDiedError& error) {
    EXPECT_THAT(error.what(), HasSubstr("ExitActor"));
  }
}

}  // namespace
}  // namespace rayk
