#include "harness.h"

#include <rayk/api.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "microbenchmark.h"
#include "progress.h"
#include "timing.h"

namespace rayk::microbenchmark {

namespace {

struct Result {
  std::string name;
  std::string unit;
  double mean = 0;
  double std = 0;
  std::vector<double> samples;
};

Result Summarize(const Case& c, const std::vector<double>& samples) {
  Result result{c.name, c.unit, 0, 0, samples};
  for (double s : samples) result.mean += s / samples.size();
  double variance = 0;
  for (double s : samples) variance += (s - result.mean) * (s - result.mean) / samples.size();
  result.std = std::sqrt(variance);
  return result;
}

void PrintError(const std::string& message) {
  std::fprintf(stderr, "rayk: %s\n", message.c_str());
  std::fflush(stderr);
}

// The cases `filter` selects, or an error naming the problem and the choices.
std::vector<const Case*> Select(const std::string& filter, std::string* error) {
  std::regex pattern;
  try {
    pattern = std::regex(filter, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    *error = "--filter '" + filter + "' is not a valid regular expression (" + e.what() +
             "); pass e.g. --filter 'actor_calls'";
    return {};
  }
  std::vector<const Case*> selected;
  std::string names;
  for (const Case& c : Cases()) {
    names += (names.empty() ? "" : ", ") + std::string(c.name);
    if (std::regex_search(c.name, pattern)) selected.push_back(&c);
  }
  if (selected.empty()) *error = "--filter '" + filter + "' matches none of the cases: " + names;
  return selected;
}

}  // namespace

void Timer::Run(double multiplier, const std::function<void()>& body) {
  samples_ = TimeTrials(settings_.duration, settings_.trials, multiplier, body,
                        [this](const std::string& text) {
                          if (settings_.on_phase) settings_.on_phase(text);
                        });
}

}  // namespace rayk::microbenchmark

extern "C" __attribute__((visibility("default"))) int rayk_microbenchmark_run(
    const char* options_json) {
  using namespace rayk::microbenchmark;
  nlohmann::json options = nlohmann::json::parse(options_json, nullptr, /*allow_exceptions=*/false);
  if (!options.is_object()) {
    PrintError(
        "microbenchmark: the options are not a JSON object (the rayk command "
        "and " RAYK_MICROBENCHMARK_LIBRARY " do not match; rebuild both)");
    return 1;
  }
  Settings settings;
  settings.duration = options.value("duration", settings.duration);
  settings.trials = options.value("trials", settings.trials);
  const bool json = options.value("format", std::string("text")) == "json";
  if (!(settings.duration > 0)) {
    PrintError("--duration must be more than 0 seconds, not " + std::to_string(settings.duration));
    return 1;
  }
  if (settings.trials < 1) {
    PrintError("--trials must be at least 1, not " + std::to_string(settings.trials));
    return 1;
  }
  std::string error;
  std::vector<const Case*> selected = Select(options.value("filter", std::string()), &error);
  if (!error.empty()) {
    PrintError(error);
    return 1;
  }

  rayk::InitOptions init;
  init.address = options.value("address", std::string());
  try {
    rayk::Init(init);
  } catch (const std::exception& e) {
    PrintError(std::string("microbenchmark: cannot start rayk: ") + e.what());
    return 1;
  }
  int exit_code = 0;
  nlohmann::json cases = nlohmann::json::array();
  // On a terminal: "case 3/18 single_client_tasks_async trial 2/4".
  rayk::cli::Progress progress;
  for (size_t i = 0; i < selected.size(); ++i) {
    const Case* c = selected[i];
    std::string label = "case " + std::to_string(i + 1) + "/" + std::to_string(selected.size()) +
                        " " + c->name + " ";
    settings.on_phase = [&](const std::string& phase) { progress.Show(label + phase); };
    Timer timer(settings);
    try {
      c->body(timer);
    } catch (const std::exception& e) {
      progress.Clear();
      PrintError(std::string("microbenchmark: case ") + c->name + " failed: " + e.what());
      exit_code = 1;
      continue;
    }
    Result result = Summarize(*c, timer.samples());
    if (json) {
      cases.push_back({{"name", result.name},
                       {"unit", result.unit},
                       {"mean", result.mean},
                       {"std", result.std},
                       {"trials", result.samples}});
    } else {
      progress.Clear();
      std::printf("%s per second %.2f +- %.2f\n", result.name.c_str(), result.mean, result.std);
      std::fflush(stdout);
    }
  }
  progress.Clear();
  rayk::Shutdown();
  if (json) {
    nlohmann::json document = {{"cluster", init.address.empty() ? "embedded" : init.address},
                               {"duration_s", settings.duration},
                               {"trials", settings.trials},
                               {"cases", cases}};
    std::printf("%s\n", document.dump(2).c_str());
  }
  return exit_code;
}
