// A parameter server: one actor holds the model's weights; stateless tasks
// compute gradients on shards of data against the current weights and push
// them to the server through its handle. Fits y = 3x + 2 by gradient descent.
//
//   build/bin/parameter_server [rounds] [workers]
#include <rayk/api.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

class ParameterServer {
 public:
  ParameterServer(double learning_rate) : rate_(learning_rate) {}
  static ParameterServer* Create(double learning_rate) {
    return new ParameterServer(learning_rate);
  }
  std::vector<double> Weights() { return weights_; }
  std::vector<double> ApplyGradient(const std::vector<double>& gradient) {
    for (size_t i = 0; i < weights_.size(); ++i) weights_[i] -= rate_ * gradient[i];
    return weights_;
  }

 private:
  double rate_;
  std::vector<double> weights_ = {0.0, 0.0};  // slope, intercept
};

// The mean-squared-error gradient over points x = shard, shard + 0.1, ...
std::vector<double> Gradient(const std::vector<double>& weights, int shard) {
  double slope = 0, intercept = 0;
  const int points = 100;
  for (int i = 0; i < points; ++i) {
    double x = shard + i * 0.01, y = 3 * x + 2;
    double error = weights[0] * x + weights[1] - y;
    slope += 2 * error * x / points;
    intercept += 2 * error / points;
  }
  return {slope, intercept};
}

// A worker round: read the weights, compute a gradient, push it.
std::vector<double> TrainStep(rayk::ActorHandle<ParameterServer> server, int shard) {
  auto weights = *rayk::Get(server.Task(&ParameterServer::Weights).Remote());
  return *rayk::Get(server.Task(&ParameterServer::ApplyGradient).Remote(Gradient(weights, shard)));
}
RAYK_REMOTE(ParameterServer::Create, &ParameterServer::Weights, &ParameterServer::ApplyGradient,
            TrainStep);

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
  int workers = argc > 2 ? std::atoi(argv[2]) : 2;
  rayk::Init();
  auto server = rayk::Actor(ParameterServer::Create).SetName("parameter_server").Remote(0.05);
  for (int round = 0; round < rounds; ++round) {
    std::vector<rayk::ObjectRef<std::vector<double>>> steps;
    for (int w = 0; w < workers; ++w) steps.push_back(rayk::Task(TrainStep).Remote(server, w % 2));
    rayk::Get(steps);
  }
  auto weights = *rayk::Get(server.Task(&ParameterServer::Weights).Remote());
  std::printf("after %d rounds of %d workers: y = %.3f x + %.3f (target y = 3x + 2)\n", rounds,
              workers, weights[0], weights[1]);
  rayk::Shutdown();
  return 0;
}
