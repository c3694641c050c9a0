// A batching service: an async actor (its methods are C++20 coroutines,
// rayk::Async) takes scoring requests, cuts each into batches, fans a task
// out per batch and co_awaits them. While a request waits for its tasks the
// actor's one thread takes the next request, so several are in flight at
// once; SetMaxConcurrency bounds them, and a concurrency group of its own
// keeps Stats() answering however many requests are waiting.
//
//   build/bin/batching_service [requests] [items-per-request] [batch-size]
#include <rayk/api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

// The work of one batch, in a worker process: a score per item.
std::vector<double> ScoreBatch(const std::vector<int>& items) {
  std::vector<double> scores;
  for (int item : items) scores.push_back(item % 7 + item * 0.5);
  return scores;
}

class Scorer {
 public:
  explicit Scorer(int batch_size) : batch_size_(batch_size) {}
  static Scorer* Create(int batch_size) { return new Scorer(batch_size); }

  // The sum of the items' scores, one ScoreBatch task per batch.
  rayk::Async<double> Score(std::vector<int> items) {
    peak_in_flight_ = std::max(peak_in_flight_, ++in_flight_);
    std::vector<rayk::ObjectRef<std::vector<double>>> batches;
    for (size_t at = 0; at < items.size(); at += batch_size_) {
      std::vector<int> batch(items.begin() + at,
                             items.begin() + std::min(items.size(), at + batch_size_));
      batches.push_back(rayk::Task(ScoreBatch).Remote(batch));
    }
    double total = 0;
    for (auto& batch : batches) {
      for (double score : co_await batch) total += score;  // other requests run meanwhile
    }
    batch_tasks_ += static_cast<int>(batches.size());
    --in_flight_;
    ++served_;
    co_return total;
  }

  // A plain method, in the "admin" group: it runs even while the default
  // group is full of requests waiting for their tasks.
  std::string Stats() {
    return "served " + std::to_string(served_) + " requests with " + std::to_string(batch_tasks_) +
           " batch tasks; up to " + std::to_string(peak_in_flight_) +
           " requests in flight at once on one thread";
  }

 private:
  size_t batch_size_;
  int in_flight_ = 0, peak_in_flight_ = 0, served_ = 0, batch_tasks_ = 0;
};
RAYK_REMOTE(ScoreBatch, Scorer::Create, &Scorer::Score, &Scorer::Stats);
RAYK_CONCURRENCY_GROUP("admin", &Scorer::Stats);

int main(int argc, char** argv) {
  int requests = argc > 1 ? std::atoi(argv[1]) : 32;
  int items = argc > 2 ? std::atoi(argv[2]) : 100;
  int batch_size = argc > 3 ? std::atoi(argv[3]) : 16;
  if (requests < 1 || items < 1 || batch_size < 1) {
    std::fprintf(stderr, "usage: batching_service [requests] [items-per-request] [batch-size]\n");
    return 2;
  }
  rayk::Init();
  auto scorer = rayk::Actor(Scorer::Create)
                    .SetMaxConcurrency(8)  // requests in flight
                    .SetConcurrencyGroup("admin", 1)
                    .Remote(batch_size);
  std::vector<rayk::ObjectRef<double>> totals;
  std::vector<double> expected;
  for (int r = 0; r < requests; ++r) {
    std::vector<int> request;
    for (int i = 0; i < items; ++i) request.push_back(r * items + i);
    double sum = 0;
    for (double score : ScoreBatch(request)) sum += score;
    expected.push_back(sum);
    totals.push_back(scorer.Task(&Scorer::Score).Remote(request));
  }
  auto values = rayk::Get(totals);
  int right = 0;
  for (int r = 0; r < requests; ++r) right += *values[r] == expected[r];
  std::printf("%d of %d request totals match a local computation (request 0: %.1f)\n", right,
              requests, *values[0]);
  std::printf("%s\n", rayk::Get(scorer.Task(&Scorer::Stats).Remote())->c_str());
  rayk::Shutdown();
  return right == requests ? 0 : 1;
}
