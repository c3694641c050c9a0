#include "observability/exposition.h"

#include <charconv>
#include <cmath>

namespace rayk::observability {

namespace {

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string Escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) { return Escape(value, /*quotes=*/true); }
std::string EscapeHelp(std::string_view help) { return Escape(help, /*quotes=*/false); }

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Exact integers (counts, bytes) print as integers, however large.
  if (value == std::trunc(value) && std::fabs(value) < 9.007199254740992e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  // The shortest text that reads back as the same double; without an
  // exponent in the usual range (0.0005, not 5e-04), as bucket bounds read best.
  char buffer[64];
  auto format = std::fabs(value) >= 1e-6 ? std::chars_format::fixed : std::chars_format::general;
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value, format);
  return std::string(buffer, ec == std::errc() ? end : buffer);
}

void ExpositionWriter::Family(std::string_view name, MetricType type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  text_ += EscapeHelp(help);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += TypeName(type);
  text_ += '\n';
}

void ExpositionWriter::WriteLabels(const Labels& labels,
                                   const std::pair<std::string, std::string>* extra) {
  if (labels.empty() && extra == nullptr) return;
  text_ += '{';
  bool first = true;
  auto write = [&](const std::pair<std::string, std::string>& label) {
    if (!first) text_ += ',';
    first = false;
    text_ += label.first;
    text_ += "=\"";
    text_ += EscapeLabelValue(label.second);
    text_ += '"';
  };
  for (const auto& label : labels) write(label);
  if (extra) write(*extra);
  text_ += '}';
}

void ExpositionWriter::Sample(std::string_view name, const Labels& labels, double value) {
  text_ += name;
  WriteLabels(labels, nullptr);
  text_ += ' ';
  text_ += FormatSampleValue(value);
  text_ += '\n';
}

void ExpositionWriter::Histogram(std::string_view name, const Labels& labels,
                                 const HistogramData& data) {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= data.upper_bounds.size(); ++i) {
    cumulative += i < data.counts.size() ? data.counts[i] : 0;
    std::pair<std::string, std::string> le{
        "le", i < data.upper_bounds.size() ? FormatSampleValue(data.upper_bounds[i]) : "+Inf"};
    text_ += bucket;
    WriteLabels(labels, &le);
    text_ += ' ';
    text_ += std::to_string(cumulative);
    text_ += '\n';
  }
  Sample(std::string(name) + "_sum", labels, data.sum);
  Sample(std::string(name) + "_count", labels, static_cast<double>(cumulative));
}

}  // namespace rayk::observability
