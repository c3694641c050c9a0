#include "scheduling/bundle_resources.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace rayk {

namespace {

constexpr char kGroupInfix[] = "_group_";
constexpr char kMarker[] = "bundle";

std::string Scoped(const std::string& base, const PlacementGroupId& group, int64_t index) {
  std::string name = base + kGroupInfix;
  if (index >= 0) name += std::to_string(index) + "_";
  return name + group.Hex();
}

bool IsHex(std::string_view text) {
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

ResourceSet BundleResources(const PlacementGroupId& group, uint32_t index,
                            const ResourceSet& bundle) {
  ResourceSet out;
  for (const auto& [name, amount] : bundle.amounts()) {
    out.Set(Scoped(name, group, index), amount);
    out.Set(Scoped(name, group, -1), amount);
  }
  out.Set(Scoped(kMarker, group, index), kBundleMarkerAmount);
  out.Set(Scoped(kMarker, group, -1), kBundleMarkerAmount);
  return out;
}

ResourceSet BundleDemand(const ResourceSet& demand, const PlacementGroupId& group, int64_t index) {
  ResourceSet out;
  for (const auto& [name, amount] : demand.amounts()) {
    // A bundle's own resource counts against the bundle and against the
    // group's total on the node, so that work asking for "any bundle" and
    // work asking for this one never hold more than the bundles have.
    out.Set(Scoped(name, group, -1), amount);
    if (index >= 0) out.Set(Scoped(name, group, index), amount);
  }
  out.Set(Scoped(kMarker, group, index), kBundleMarkerDemand);
  return out;
}

bool IsBundleResource(const std::string& name, std::string* base, bool* any_bundle) {
  // Views, not copies: the GCS and the raylets ask this of every name of a
  // node's resources, hundreds of them with many groups placed.
  const std::string_view text = name;
  const size_t hex = PlacementGroupId::kSize * 2;
  size_t infix = text.rfind(kGroupInfix);
  if (infix == std::string_view::npos || text.size() < hex + 1) return false;
  if (!IsHex(text.substr(text.size() - hex))) return false;
  std::string_view middle = text.substr(infix + sizeof(kGroupInfix) - 1);
  middle.remove_suffix(std::min(middle.size(), hex));  // "" or "<index>_"
  if (!middle.empty()) {                               // "<index>_"
    if (middle.size() < 2 || middle.back() != '_') return false;
    for (size_t i = 0; i + 1 < middle.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(middle[i]))) return false;
    }
  }
  std::string_view plain = text.substr(0, infix);
  if (base) *base = plain == kMarker ? std::string() : std::string(plain);
  if (any_bundle) *any_bundle = middle.empty();
  return true;
}

ResourceSet ReservedInBundles(const ResourceSet& total) {
  ResourceSet out;
  for (const auto& [name, amount] : total.amounts()) {
    std::string base;
    bool any_bundle = false;
    if (IsBundleResource(name, &base, &any_bundle) && any_bundle && !base.empty()) {
      out.Set(base, out.Get(base) + amount);
    }
  }
  return out;
}

ResourceSet WithoutBundleResources(const ResourceSet& resources) {
  ResourceSet out;
  for (const auto& [name, amount] : resources.amounts()) {
    if (!IsBundleResource(name)) out.Set(name, amount);
  }
  return out;
}

}  // namespace rayk
