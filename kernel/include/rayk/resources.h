// ResourceSet: an amount of each named resource ("CPU", "GPU", "memory",
// or any custom name such as "accel_x").
//
// Used both for a node's capacity and for a task's demand. Amounts are
// doubles so that fractional demands ({"CPU": 0.5}) work as in Ray. A plain
// value type; not synchronized.
#pragma once

#include <map>
#include <string>

#include "rayk/status.h"

namespace rayk {

class ResourceSet {
 public:
  ResourceSet() = default;
  ResourceSet(std::initializer_list<std::pair<const std::string, double>> amounts);

  // Parses a JSON object of names to non-negative numbers: {"GPU": 1, "CPU": 2}.
  static Result<ResourceSet> FromJson(const std::string& json);
  std::string ToJson() const;

  void Set(const std::string& name, double amount);  // amount 0 removes the name
  double Get(const std::string& name) const;
  bool empty() const { return amounts_.empty(); }
  const std::map<std::string, double>& amounts() const { return amounts_; }

  // True when every amount in `demand` is available here.
  bool Contains(const ResourceSet& demand) const;
  void Add(const ResourceSet& other);
  // Subtracts; amounts never go below zero.
  void Subtract(const ResourceSet& other);

  friend bool operator==(const ResourceSet& a, const ResourceSet& b) {
    return a.amounts_ == b.amounts_;
  }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& amounts_;
  }

 private:
  std::map<std::string, double> amounts_;
};

}  // namespace rayk
