// Map-reduce word count over a text file: the driver splits the file into
// chunks, map tasks count the words of each chunk, and a tree of reduce tasks
// merges the counts (their inputs are the map tasks' ObjectRefs, resolved by
// the runtime before each reduce runs).
//
//   build/bin/wordcount FILE [chunks]
#include <rayk/api.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using Counts = std::map<std::string, int64_t>;

Counts CountWords(const std::string& text) {
  Counts counts;
  std::string word;
  for (char c : text + " ") {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      ++counts[word];
      word.clear();
    }
  }
  return counts;
}

Counts Merge(const Counts& a, const Counts& b) {
  Counts out = a;
  for (const auto& [word, n] : b) out[word] += n;
  return out;
}
RAYK_REMOTE(CountWords, Merge);

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: wordcount FILE [chunks]\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "wordcount: cannot read %s\n", argv[1]);
    return 1;
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  size_t chunks = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 8;
  chunks = std::max<size_t>(1, std::min(chunks, lines.size()));

  rayk::Init();
  std::vector<rayk::ObjectRef<Counts>> partial;
  for (size_t c = 0; c < chunks; ++c) {
    std::string text;
    for (size_t i = c; i < lines.size(); i += chunks) text += lines[i] + "\n";
    partial.push_back(rayk::Task(CountWords).Remote(text));
  }
  while (partial.size() > 1) {  // a tree of merges, each waiting on two refs
    std::vector<rayk::ObjectRef<Counts>> next;
    for (size_t i = 0; i + 1 < partial.size(); i += 2)
      next.push_back(rayk::Task(Merge).Remote(partial[i], partial[i + 1]));
    if (partial.size() % 2) next.push_back(partial.back());
    partial = next;
  }
  Counts counts = *rayk::Get(partial[0]);
  std::vector<std::pair<int64_t, std::string>> top;
  int64_t total = 0;
  for (const auto& [word, n] : counts) {
    top.emplace_back(-n, word);
    total += n;
  }
  std::sort(top.begin(), top.end());
  std::printf("%lld words, %zu distinct, in %zu map tasks\n", static_cast<long long>(total),
              counts.size(), chunks);
  for (size_t i = 0; i < std::min<size_t>(10, top.size()); ++i) {
    std::printf("%8lld %s\n", static_cast<long long>(-top[i].first), top[i].second.c_str());
  }
  rayk::Shutdown();
  return 0;
}
