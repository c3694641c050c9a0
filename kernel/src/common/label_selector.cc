#include "rayk/label_selector.h"

#include <cctype>
#include <optional>

namespace rayk {

namespace {

constexpr size_t kMaxValueLength = 63;
constexpr size_t kMaxKeyLength = 253;
constexpr const char* kSyntax =
    "write \"v\", \"!v\", \"in(v1,v2)\", \"!in(v1,v2)\", \"exists()\" or \"!exists()\"";

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
}

bool IsValue(std::string_view value) {
  if (value.empty() || value.size() > kMaxValueLength) return false;
  for (char c : value) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// "[prefix/]name", each part non-empty and made of name characters.
bool IsKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength) return false;
  size_t slash = key.find('/');
  if (slash != std::string_view::npos) {
    if (slash == 0 || key.find('/', slash + 1) != std::string_view::npos) return false;
    if (!IsKey(key.substr(0, slash)) || !IsKey(key.substr(slash + 1))) return false;
    return true;
  }
  for (char c : key) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// A condition, split into its parts; nullopt when it is not valid syntax.
// Views into the condition text: matching allocates nothing.
struct Condition {
  enum class Op { kEquals, kIn, kExists };
  Op op = Op::kEquals;
  bool negated = false;
  std::string_view argument;  // the value, or the list inside in(...)
};

std::optional<Condition> Parse(std::string_view text) {
  Condition condition;
  if (!text.empty() && text.front() == '!') {
    condition.negated = true;
    text.remove_prefix(1);
  }
  if (text == "exists()") {
    condition.op = Condition::Op::kExists;
    return condition;
  }
  if (text.starts_with("in(") && text.ends_with(")")) {
    condition.op = Condition::Op::kIn;
    condition.argument = text.substr(3, text.size() - 4);
    if (condition.argument.empty()) return std::nullopt;
    std::string_view rest = condition.argument;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view value = rest.substr(0, comma);
      if (!IsValue(value)) return std::nullopt;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    return condition;
  }
  if (!IsValue(text)) return std::nullopt;
  condition.argument = text;
  return condition;
}

Status KeyError(const std::string& key, const std::string& where) {
  return Status::InvalidArgument(
      where + ": label key '" + key +
      "' is not a label name; use letters, digits, '.', '_' and '-', with an optional prefix "
      "ending in '/'");
}

bool InList(std::string_view list, std::string_view value) {
  while (true) {
    size_t comma = list.find(',');
    if (list.substr(0, comma) == value) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

bool LabelConditionHolds(const Labels& labels, const std::string& key, std::string_view text) {
  std::optional<Condition> condition = Parse(text);
  if (!condition) return false;
  auto it = labels.find(key);
  bool holds = false;
  if (it != labels.end()) {
    switch (condition->op) {
      case Condition::Op::kEquals:
        holds = it->second == condition->argument;
        break;
      case Condition::Op::kIn:
        holds = InList(condition->argument, it->second);
        break;
      case Condition::Op::kExists:
        holds = true;
        break;
    }
  }
  return holds != condition->negated;
}

bool LabelsMatch(const Labels& labels, const Labels& selector) {
  for (const auto& [key, condition] : selector) {
    if (!LabelConditionHolds(labels, key, condition)) return false;
  }
  return true;
}

Status CheckLabelSelector(const Labels& selector, const std::string& where) {
  for (const auto& [key, condition] : selector) {
    if (!IsKey(key)) return KeyError(key, where);
    if (!Parse(condition)) {
      return Status::InvalidArgument(where + ": the condition '" + condition + "' on label '" +
                                     key + "' is not valid; " + kSyntax +
                                     ", where each value uses letters, digits, '.', '_' and '-' "
                                     "(1 to 63 of them)");
    }
  }
  return Status::Ok();
}

Status CheckNodeLabels(const Labels& labels, const std::string& where, bool allow_reserved) {
  for (const auto& [key, value] : labels) {
    if (!IsKey(key)) return KeyError(key, where);
    if (!allow_reserved && std::string_view(key).starts_with(kReservedLabelPrefix)) {
      return Status::InvalidArgument(where + ": label '" + key + "' uses the prefix " +
                                     std::string(kReservedLabelPrefix) +
                                     ", which rayk sets itself; choose another key");
    }
    if (!IsValue(value)) {
      return Status::InvalidArgument(where + ": the value '" + value + "' of label '" + key +
                                     "' is not valid; use letters, digits, '.', '_' and '-' "
                                     "(1 to 63 of them)");
    }
  }
  return Status::Ok();
}

}  // namespace rayk
