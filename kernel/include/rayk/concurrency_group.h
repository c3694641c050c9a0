// Concurrency groups, as Ray's concurrency_groups: an actor declares named
// groups, each with its own limit of calls running at once, and every method
// runs in one group, so that slow calls of one kind cannot hold up calls of
// another:
//
//   class Service {
//    public:
//     static Service* Create() { return new Service(); }
//     std::string Fetch(std::string url);   // waits on the network
//     int Compute(int n);                   // uses a CPU
//     int Stats();                          // quick
//   };
//   RAYK_REMOTE(Service::Create, &Service::Fetch, &Service::Compute, &Service::Stats);
//   RAYK_CONCURRENCY_GROUP("io", &Service::Fetch);
//   RAYK_CONCURRENCY_GROUP("compute", &Service::Compute);
//
//   auto service = rayk::Actor(Service::Create)
//                      .SetConcurrencyGroup("io", 4)        // 4 Fetch calls at once
//                      .SetConcurrencyGroup("compute", 2)   // and 2 Compute calls beside them
//                      .Remote();
//   service.Task(&Service::Stats).SetConcurrencyGroup("io").Remote();  // this one call in "io"
//
// A method in no group runs in the default group ("default"), whose limit is
// SetMaxConcurrency (1 for a plain actor, 1000 for an async one). A plain
// actor runs each group on threads of its own (as many as its limit); an
// async actor (rayk/async.h) keeps one event loop and bounds each group's
// calls in flight. Within a group calls start in arrival order, as for the
// whole actor without groups. docs/actors.md, "Concurrency groups", says the
// rest.
//
// Bad names fail where they are given: a name that is not 1 to 64 letters,
// digits, '.', '_' or '-' does not compile in RAYK_CONCURRENCY_GROUP and
// throws RuntimeError from SetConcurrencyGroup; an actor whose methods are in
// a group it does not declare is refused by Remote(); a call naming a group
// its actor lacks throws from Remote() when this process created the actor,
// and otherwise fails with RuntimeError from Get().
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <typeinfo>

#include "rayk/errors.h"
#include "rayk/internal/function_registry.h"

// Puts the methods (&Class::Method, each also in a RAYK_REMOTE line) in the
// concurrency group `group`, a string literal, at namespace scope:
//
//   RAYK_CONCURRENCY_GROUP("io", &Service::Fetch, &Service::Store);
#define RAYK_CONCURRENCY_GROUP(group, ...) RAYK_INTERNAL_CONCURRENCY_GROUP(group, __VA_ARGS__)

namespace rayk::internal {

// The group of methods no RAYK_CONCURRENCY_GROUP line names; a call may
// choose it by this name.
inline constexpr std::string_view kDefaultConcurrencyGroup = "default";

// 1 to 64 letters, digits, '.', '_' or '-', as a namespace's name.
constexpr bool IsConcurrencyGroupName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool letter_or_digit =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!letter_or_digit && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

// Throws RuntimeError naming `what` ("SetConcurrencyGroup on rayk::Actor(
// Service::Create)") and the rule when `name` is not a group's name.
inline void CheckConcurrencyGroupName(const std::string& what, const std::string& name) {
  if (IsConcurrencyGroupName(name)) return;
  throw RuntimeError(what + ": concurrency group '" + name +
                     "' is not a valid name; use 1 to 64 letters, digits, '.', '_' or '-'");
}

// rayk::Actor(...).Remote(): throws RuntimeError naming `what`
// ("rayk::Actor(Service::Create)"), the method and the fix when a method of
// `actor_class` is in a group `declared` (SetConcurrencyGroup) lacks, or in
// two groups.
void CheckMethodGroups(const std::string& what, const std::type_info& actor_class,
                       const std::map<std::string, int>& declared);

}  // namespace rayk::internal

#define RAYK_INTERNAL_GROUP_MEMBER(f) ::rayk::internal::MakeGroupMember<f>(#f)

#define RAYK_INTERNAL_CONCURRENCY_GROUP(group, ...)                                               \
  static_assert(::rayk::internal::IsConcurrencyGroupName(group),                                  \
                "RAYK_CONCURRENCY_GROUP: a group's name is 1 to 64 letters, digits, '.', '_' or " \
                "'-'");                                                                           \
  static const ::rayk::internal::GroupRegistrar RAYK_INTERNAL_CONCAT(                             \
      rayk_internal_group_registrar_, __COUNTER__)(                                               \
      group, {RAYK_INTERNAL_FOR_EACH(RAYK_INTERNAL_GROUP_MEMBER, __VA_ARGS__)})
