// Recursive Fibonacci with nested tasks: each task submits tasks for n-1 and
// n-2 and waits for them. Waiting workers lend their CPU back to the node, so
// the recursion cannot deadlock however few CPUs there are.
//
//   build/bin/fibonacci [n]
#include <rayk/api.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

int64_t Fibonacci(int n) {
  if (n < 2) return n;
  if (n < 8) return Fibonacci(n - 1) + Fibonacci(n - 2);  // small ones locally: a task costs more
  auto a = rayk::Task(Fibonacci).Remote(n - 1);
  auto b = rayk::Task(Fibonacci).Remote(n - 2);
  return *rayk::Get(a) + *rayk::Get(b);
}
RAYK_REMOTE(Fibonacci);

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 12;
  rayk::Init();
  int64_t result = *rayk::Get(rayk::Task(Fibonacci).Remote(n));
  std::printf("fibonacci(%d) = %lld\n", n, static_cast<long long>(result));
  rayk::Shutdown();
  return 0;
}
