// Remote functions for the borrower tests (borrowers_test.cc), in the same
// test library as test_functions.h: refs that travel inside values, to tasks
// and to actors that keep some of them and let the others go.
#pragma once

#include <rayk/api.h>

#include <cstdint>
#include <string>
#include <vector>

namespace borrow_functions {

using Blob = std::string;
using BlobRef = rayk::ObjectRef<Blob>;

// A value that carries references, as a user's struct would.
struct RefBag {
  std::vector<BlobRef> refs;
  std::string label;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& refs& label;
  }
};

// The total length of the blobs the bag refers to (each one fetched).
int64_t TotalLength(RefBag bag);

// Puts a blob of `bytes` bytes in the worker (which owns it) and returns a
// bag referring to it: a reference inside a task's result.
RefBag MakeBag(int64_t bytes);
// Returns the bag it was given: the references go back to the caller.
RefBag PassBack(RefBag bag);

// A streaming generator whose `count` items are bags, each referring to a
// blob of `bytes` bytes the worker puts (and owns): references inside items.
rayk::Generator<RefBag> BagsOfNewBlobs(int64_t count, int64_t bytes);
// Yields the bag it was given `count` times: the caller's own objects come back.
rayk::Generator<RefBag> EchoBag(RefBag bag, int64_t count);

// An actor that keeps references it was given and lets them go on request.
class Keeper {
 public:
  static Keeper* Create();  // out of line: a test calling only it still links the library
  // Keeps the refs of `bag`, its creation argument.
  static Keeper* CreateWith(RefBag bag);
  // Keeps the first `keep` refs of `bag` (in place of those it kept before,
  // which it lets go) and drops the others; returns how many it keeps.
  int Take(RefBag bag, int keep);
  // The total length of the blobs it keeps (each one fetched).
  int64_t KeptLength();
  // Passes what it keeps to `other` (inside a bag), keeping it too.
  int PassTo(rayk::ActorHandle<Keeper> other);
  // Puts a blob of `bytes` bytes (owned by the actor), keeps it, and
  // returns a bag referring to it.
  RefBag MakeAndKeep(int64_t bytes);
  // Lets go of everything it keeps; returns how many it let go.
  int Release();
  int64_t Pid();

 private:
  std::vector<BlobRef> kept_;
};

// An async actor (its calls interleave on one loop) that returns and yields
// refs to blobs it puts: the hand-over of refs in results and items from
// interleaved coroutines.
class AsyncBagMaker {
 public:
  static AsyncBagMaker* Create();
  // Awaits a Put of its own first (so that other calls run meanwhile), then
  // puts a blob of `bytes` bytes and returns a bag referring to it.
  rayk::Async<RefBag> MakeBagLater(int64_t bytes);
  // As BagsOfNewBlobs, on the actor's loop.
  rayk::Generator<RefBag> Bags(int64_t count, int64_t bytes);
};

}  // namespace borrow_functions
