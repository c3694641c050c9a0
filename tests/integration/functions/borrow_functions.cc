#include "borrow_functions.h"

#include <unistd.h>

#include <algorithm>

namespace borrow_functions {

int64_t TotalLength(RefBag bag) {
  int64_t total = 0;
  for (const BlobRef& ref : bag.refs) total += static_cast<int64_t>(rayk::Get(ref)->size());
  return total;
}

RefBag MakeBag(int64_t bytes) {
  return RefBag{{rayk::Put(Blob(static_cast<size_t>(bytes), 'm'))}, "made"};
}

RefBag PassBack(RefBag bag) { return bag; }

rayk::Generator<RefBag> BagsOfNewBlobs(int64_t count, int64_t bytes) {
  for (int64_t i = 0; i < count; ++i) {
    RefBag bag;  // built first: GCC rejects a braced aggregate in co_yield
    bag.refs.push_back(rayk::Put(Blob(static_cast<size_t>(bytes), 'g')));
    co_yield bag;
  }
}

rayk::Generator<RefBag> EchoBag(RefBag bag, int64_t count) {
  for (int64_t i = 0; i < count; ++i) co_yield bag;
}

Keeper* Keeper::Create() { return new Keeper(); }

Keeper* Keeper::CreateWith(RefBag bag) {
  auto* keeper = new Keeper();
  keeper->kept_ = std::move(bag.refs);
  return keeper;
}

RefBag Keeper::MakeAndKeep(int64_t bytes) {
  kept_ = {rayk::Put(Blob(static_cast<size_t>(bytes), 'k'))};
  return RefBag{kept_, "kept"};
}

int Keeper::Take(RefBag bag, int keep) {
  const size_t kept = std::min(bag.refs.size(), static_cast<size_t>(std::max(keep, 0)));
  bag.refs.resize(kept);  // the others go here
  kept_ = std::move(bag.refs);
  return static_cast<int>(kept_.size());
}

int64_t Keeper::KeptLength() { return TotalLength(RefBag{kept_, "kept"}); }

int Keeper::PassTo(rayk::ActorHandle<Keeper> other) {
  const int count = static_cast<int>(kept_.size());
  return *rayk::Get(other.Task(&Keeper::Take).Remote(RefBag{kept_, "passed"}, count));
}

int Keeper::Release() {
  const int count = static_cast<int>(kept_.size());
  kept_.clear();
  return count;
}

int64_t Keeper::Pid() { return getpid(); }

AsyncBagMaker* AsyncBagMaker::Create() { return new AsyncBagMaker(); }

rayk::Async<RefBag> AsyncBagMaker::MakeBagLater(int64_t bytes) {
  const int64_t size = co_await rayk::Put(bytes);
  RefBag bag;
  bag.refs.push_back(rayk::Put(Blob(static_cast<size_t>(size), 'l')));
  co_return bag;
}

rayk::Generator<RefBag> AsyncBagMaker::Bags(int64_t count, int64_t bytes) {
  for (int64_t i = 0; i < count; ++i) {
    RefBag bag;
    bag.refs.push_back(rayk::Put(Blob(static_cast<size_t>(bytes), 'a')));
    co_yield bag;
  }
}

}  // namespace borrow_functions

using namespace borrow_functions;  // RAYK_REMOTE names functions as written here
RAYK_REMOTE(TotalLength, MakeBag, PassBack, BagsOfNewBlobs, EchoBag, Keeper::Create,
            Keeper::CreateWith, &Keeper::MakeAndKeep, &Keeper::Take, &Keeper::KeptLength,
            &Keeper::PassTo, &Keeper::Release, &Keeper::Pid, AsyncBagMaker::Create,
            &AsyncBagMaker::MakeBagLater, &AsyncBagMaker::Bags);
