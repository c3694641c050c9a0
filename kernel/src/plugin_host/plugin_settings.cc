// Checking a plugin's TOML table against its SettingSpec array: the one place
// where values are typed, bounded and given their defaults, used alike by
// `rayk config check` and by the loader before create().
#include <sys/sysinfo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>

#include "common/byte_count.h"
#include "rayk/host/plugin_loader.h"

namespace rayk {

namespace {

std::string SectionName(const PluginInfo& plugin) {
  return "[" + std::string(PluginKindName(plugin.kind)) + "." + plugin.name + "]";
}

std::string Place(const std::string& source, int line) {
  return line > 0 ? source + ":" + std::to_string(line) : source + " (command line)";
}

// This machine's RAM plus swap: no store can hold more.
int64_t MemoryAndSwapBytes() {
  struct sysinfo info {};
  if (sysinfo(&info) != 0) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>((info.totalram + info.totalswap) * uint64_t{info.mem_unit});
}

// One bound of a spec, as a number of the spec's type, and as people read it.
struct Bound {
  SettingValue value;
  std::string text;
};

Result<Bound> ParseBound(const SettingSpec& spec, const char* text) {
  if (spec.type == SettingType::kBytes && std::string(text) == "memory") {
    int64_t bytes = MemoryAndSwapBytes();
    return Bound{SettingValue(bytes),
                 "this machine's RAM + swap (" + FormatBytes(static_cast<uint64_t>(bytes)) + ")"};
  }
  auto parsed = ParseSettingText(text);
  if (spec.type == SettingType::kBytes) {
    if (const auto* s = std::get_if<std::string>(&*parsed)) {
      auto bytes = ParseBytes(*s);
      if (!bytes.ok()) return bytes.status();
      return Bound{SettingValue(*bytes), *s};
    }
  }
  if (spec.type == SettingType::kFloat) {
    if (const auto* i = std::get_if<int64_t>(&*parsed)) return Bound{double(*i), text};
  }
  if (std::holds_alternative<int64_t>(*parsed) || std::holds_alternative<double>(*parsed)) {
    return Bound{*parsed, text};
  }
  return Status::InvalidArgument("bound '" + std::string(text) + "' is not a number");
}

// Negative when a < b, 0 when equal, positive when a > b; both of one type.
int Compare(const SettingValue& a, const SettingValue& b) {
  if (const auto* x = std::get_if<int64_t>(&a)) {
    int64_t y = std::get<int64_t>(b);
    return *x < y ? -1 : (*x > y ? 1 : 0);
  }
  double x = std::get<double>(a), y = std::get<double>(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

// Checks a typed value against the spec's bounds and choices; `wrong` makes
// the error from what is wrong with it.
template <typename WrongFn>
Status CheckAllowed(const SettingSpec& spec, const SettingValue& value, WrongFn wrong) {
  if (const auto* d = std::get_if<double>(&value); d && !std::isfinite(*d)) {
    return wrong("is not a finite number; write a number such as " +
                 std::string(spec.default_value ? spec.default_value : "0.5"));
  }
  if (spec.type == SettingType::kString && spec.choices != nullptr) {
    const std::string& text = std::get<std::string>(value);
    std::string choices = spec.choices, shown;
    bool found = false;
    for (size_t start = 0; start <= choices.size();) {
      size_t end = std::min(choices.find('|', start), choices.size());
      std::string choice = choices.substr(start, end - start);
      found = found || choice == text;
      shown += (shown.empty() ? "\"" : ", \"") + choice + "\"";
      start = end + 1;
    }
    if (!found) return wrong("is not one of the allowed values " + shown);
    return Status::Ok();
  }
  if (spec.min == nullptr && spec.max == nullptr) return Status::Ok();
  std::optional<Bound> min, max;
  for (auto [text, bound] : {std::pair{spec.min, &min}, std::pair{spec.max, &max}}) {
    if (text == nullptr) continue;
    auto parsed = ParseBound(spec, text);
    if (!parsed.ok()) return wrong("cannot be checked: the plugin's " + parsed.status().message());
    *bound = std::move(*parsed);
  }
  if ((min && Compare(value, min->value) < 0) || (max && Compare(value, max->value) > 0)) {
    std::string range = min && max ? "from " + min->text + " to " + max->text
                        : min      ? "at least " + min->text
                                   : "at most " + max->text;
    return wrong("is out of range; the allowed values are " + range);
  }
  return Status::Ok();
}

// Turns a value from the file (or a default) into the spec's type.
Result<SettingValue> ConvertType(const SettingSpec& spec, const SettingValue& value,
                                 const std::function<Status(const std::string&)>& wrong) {
  switch (spec.type) {
    case SettingType::kString:
      if (std::holds_alternative<std::string>(value)) return value;
      return wrong("must be a string, as in " + std::string(spec.key) + " = \"...\"");
    case SettingType::kInteger:
      if (std::holds_alternative<int64_t>(value)) return value;
      return wrong("must be an integer, as in " + std::string(spec.key) + " = 4");
    case SettingType::kFloat:
      if (const auto* i = std::get_if<int64_t>(&value))
        return SettingValue(static_cast<double>(*i));
      if (std::holds_alternative<double>(value)) return value;
      return wrong("must be a number, as in " + std::string(spec.key) + " = 0.5");
    case SettingType::kBool:
      if (std::holds_alternative<bool>(value)) return value;
      return wrong("must be true or false");
    case SettingType::kBytes: {
      if (const auto* i = std::get_if<int64_t>(&value)) {
        if (*i >= 0) return value;
        return wrong("must not be negative; write a byte count or a size such as \"64MiB\"");
      }
      if (const auto* text = std::get_if<std::string>(&value)) {
        auto bytes = ParseBytes(*text);
        if (bytes.ok()) return SettingValue(*bytes);
      }
      return wrong(
          "is not a size; write it as a byte count or with a unit, as in \"64MiB\" or \"2GiB\"");
    }
  }
  return wrong("has an unknown setting type");
}

Result<SettingValue> Convert(const SettingSpec& spec, const SettingValue& value,
                             const std::string& where) {
  auto wrong = [&](const std::string& what) {
    return Status::InvalidArgument(where + " " + spec.key + " = " + SettingValueToString(value) +
                                   " " + what);
  };
  auto converted = ConvertType(spec, value, wrong);
  if (!converted.ok()) return converted;
  RAYK_RETURN_IF_ERROR(CheckAllowed(spec, *converted, wrong));
  return converted;
}

}  // namespace

Result<int64_t> ParseBytes(const std::string& text) {
  auto not_a_size = [&text] {
    return Status::InvalidArgument("'" + text +
                                   "' is not a size; write it as \"64MiB\" or \"2GiB\"");
  };
  size_t digits_end = 0;
  double number = 0;
  try {
    number = std::stod(text, &digits_end);
  } catch (const std::exception&) {
    return not_a_size();
  }
  std::string unit = text.substr(digits_end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  static const std::map<std::string, double> kUnits = {
      {"", 1},        {"B", 1},         {"KB", 1e3},      {"MB", 1e6},         {"GB", 1e9},
      {"TB", 1e12},   {"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40},
      {"K", 1 << 10}, {"M", 1 << 20},   {"G", 1ull << 30}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end() || !std::isfinite(number) || number < 0) return not_a_size();
  // 2^63 does not fit an int64_t; converting it (or more) would be undefined.
  double bytes = number * it->second;
  if (bytes >= 9.2e18) {
    return Status::InvalidArgument("'" + text + "' is too large a size; sizes stop below 8EiB");
  }
  return static_cast<int64_t>(bytes);
}

Result<PluginSettings> PluginLoader::ValidateSettings(const PluginInfo& plugin,
                                                      const RawSettingTable& table,
                                                      const std::string& source) {
  const std::string section = SectionName(plugin);
  std::vector<std::string> known;
  for (const SettingSpec& spec : plugin.settings) known.push_back(spec.key);
  for (const auto& [key, raw] : table) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string nearest = NearestName(key, known);
    return Status::InvalidArgument(
        Place(source, raw.line) + ": unknown key '" + key + "' in " + section + "; " +
        (nearest.empty() ? std::string("") : "did you mean '" + nearest + "'? ") +
        (known.empty() ? "this plugin takes no settings"
                       : "'rayk plugins info " + plugin.name + "' lists its settings"));
  }
  std::map<std::string, SettingValue> values;
  for (const SettingSpec& spec : plugin.settings) {
    auto it = table.find(spec.key);
    if (it != table.end()) {
      auto converted =
          Convert(spec, it->second.value, Place(source, it->second.line) + ": " + section);
      if (!converted.ok()) return converted.status();
      values[spec.key] = *converted;
      continue;
    }
    if (spec.default_value == nullptr) {
      return Status::InvalidArgument(source + ": " + section + " needs the setting '" + spec.key +
                                     "' (" + SettingTypeName(spec.type) + "): " + spec.help);
    }
    auto parsed = ParseSettingText(spec.default_value);
    auto converted = Convert(spec, *parsed, "plugin " + plugin.path + " default for " + section);
    if (!converted.ok()) return converted.status();
    values[spec.key] = *converted;
  }
  return PluginSettings(std::move(values));
}

}  // namespace rayk
