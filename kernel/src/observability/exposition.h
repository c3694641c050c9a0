// ExpositionWriter: renders metrics in Prometheus's text exposition format
// (version 0.0.4), the format every Prometheus server scrapes.
//
// A family is announced once with its `# HELP` and `# TYPE` lines, then its
// samples follow, each `name{label="value",...} number`. Label values and
// help texts are escaped as the format requires (backslash, double quote and
// newline in label values; backslash and newline in help). A histogram is
// written from per-bucket counts as cumulative `_bucket{le="..."}` samples
// ending with `le="+Inf"`, then `_sum` and `_count`.
//
//   ExpositionWriter out;
//   out.Family("rayk_nodes_alive", MetricType::kGauge, "Nodes reporting to the GCS.");
//   out.Sample("rayk_nodes_alive", {}, 3);
//   std::string text = out.Take();
//
// Metric and label names are the caller's constants and are not checked.
// Not synchronized; one writer renders one scrape.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rayk::observability {

enum class MetricType { kCounter, kGauge, kHistogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

// A histogram's state: `counts[i]` observations fell at or under
// `upper_bounds[i]` and above the bound before it; `counts` has one more
// entry than `upper_bounds`, for observations above the last bound.
struct HistogramData {
  std::vector<double> upper_bounds;
  std::vector<uint64_t> counts;
  double sum = 0;
};

class ExpositionWriter {
 public:
  // Writes the `# HELP` and `# TYPE` lines of a family.
  void Family(std::string_view name, MetricType type, std::string_view help);
  // One sample line; `name` may carry a suffix of its family (`_total`).
  void Sample(std::string_view name, const Labels& labels, double value);
  // The `_bucket`, `_sum` and `_count` lines of one histogram of family `name`.
  void Histogram(std::string_view name, const Labels& labels, const HistogramData& data);

  // The text written so far; the writer is empty afterwards.
  std::string Take() { return std::exchange(text_, {}); }

 private:
  void WriteLabels(const Labels& labels, const std::pair<std::string, std::string>* extra);

  std::string text_;
};

// A label value as it goes between the quotes: \ -> \\, " -> \", newline -> \n.
std::string EscapeLabelValue(std::string_view value);
// A help text: \ -> \\, newline -> \n.
std::string EscapeHelp(std::string_view help);
// A sample value: integers without exponent or decimals, "+Inf", "-Inf", "NaN".
std::string FormatSampleValue(double value);

}  // namespace rayk::observability
