// The error of an actor call whose concurrency group (rayk/concurrency_group.h)
// its actor does not have. The caller raises it at submission when it created
// the actor and so knows its groups (ActorSubmitter); otherwise the actor's
// worker fails the call with it (TaskExecutor). One text for both, so that
// users see the same line wherever the mistake is caught.
#pragma once

#include <string>
#include <vector>

#include "rayk/ids.h"

namespace rayk {

// "concurrency group 'gpu' of call &Service::Fetch: actor 1a2b3c4d has no
// such group (it has default, io); ..." `groups`: the actor's named groups.
inline std::string UnknownConcurrencyGroupMessage(const std::string& group,
                                                  const std::string& method, const ActorId& actor,
                                                  const std::vector<std::string>& groups) {
  std::string known = "default";
  for (const std::string& name : groups) known += ", " + name;
  return "concurrency group '" + group + "' of call " + method + ": actor " +
         actor.Hex().substr(0, 8) + " has no such group (it has " + known +
         "); name one of these in SetConcurrencyGroup, or declare it with rayk::Actor(...)"
         ".SetConcurrencyGroup(\"" +
         group + "\", n)";
}

}  // namespace rayk
