// FormatBytes: a byte count for people ("512 B", "7.1 GiB"), in powers of
// 1024 with one decimal. Header-only, so that the CLI (`rayk memory`,
// `rayk summary objects`) and the kernel (a setting's bound) print sizes the
// same way without librayk exporting it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace rayk {

inline std::string FormatBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 6) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

}  // namespace rayk
