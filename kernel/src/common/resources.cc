#include "rayk/resources.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

namespace rayk {

namespace {
// Resource amounts are sums of user-given decimals; compare with a tolerance
// so that 0.1 + 0.2 fits a node with 0.3 free.
constexpr double kEpsilon = 1e-9;
}  // namespace

ResourceSet::ResourceSet(std::initializer_list<std::pair<const std::string, double>> amounts) {
  for (const auto& [name, amount] : amounts) Set(name, amount);
}

Result<ResourceSet> ResourceSet::FromJson(const std::string& json) {
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Status::InvalidArgument("resources '" + json +
                                   "' are not a JSON object; write them as '{\"GPU\": 1}'");
  }
  ResourceSet set;
  for (const auto& [name, amount] : parsed.items()) {
    if (!amount.is_number() || amount.get<double>() < 0) {
      return Status::InvalidArgument("resource '" + name + "' in '" + json +
                                     "' must be a non-negative number, as in {\"" + name +
                                     "\": 1}");
    }
    set.Set(name, amount.get<double>());
  }
  return set;
}

std::string ResourceSet::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, amount] : amounts_) out[name] = amount;
  return out.dump();
}

void ResourceSet::Set(const std::string& name, double amount) {
  if (amount <= kEpsilon) {
    amounts_.erase(name);
  } else {
    amounts_[name] = amount;
  }
}

double ResourceSet::Get(const std::string& name) const {
  auto it = amounts_.find(name);
  return it == amounts_.end() ? 0 : it->second;
}

bool ResourceSet::Contains(const ResourceSet& demand) const {
  for (const auto& [name, amount] : demand.amounts_) {
    if (Get(name) + kEpsilon < amount) return false;
  }
  return true;
}

void ResourceSet::Add(const ResourceSet& other) {
  for (const auto& [name, amount] : other.amounts_) Set(name, Get(name) + amount);
}

void ResourceSet::Subtract(const ResourceSet& other) {
  for (const auto& [name, amount] : other.amounts_) Set(name, std::max(0.0, Get(name) - amount));
}

}  // namespace rayk
