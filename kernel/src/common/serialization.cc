#include "rayk/internal/serialization.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>

namespace rayk::internal {

namespace {

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

}  // namespace

std::string Demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  std::string name = status == 0 && demangled ? demangled.get() : mangled;
  // Error messages name types as a user writes them, not as libstdc++ spells them.
  ReplaceAll(name,
             "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >",
             "std::string");
  ReplaceAll(name, "std::__cxx11::", "std::");
  return name;
}

void WriteRawHeader(uint8_t* out, size_t count, size_t element_size) {
  const uint32_t magic = kRawMagic;
  const uint32_t size32 = static_cast<uint32_t>(element_size);
  const uint64_t count64 = count;
  std::memcpy(out, &magic, 4);
  std::memcpy(out + 4, &size32, 4);
  std::memcpy(out + 8, &count64, 8);
}

void WriteRaw(uint8_t* out, const void* data, size_t count, size_t element_size) {
  WriteRawHeader(out, count, element_size);
  if (count > 0) std::memcpy(out + kRawHeaderSize, data, count * element_size);
}

std::string EncodeRaw(const void* data, size_t count, size_t element_size) {
  std::string out(kRawHeaderSize + count * element_size, '\0');
  WriteRaw(reinterpret_cast<uint8_t*>(out.data()), data, count, element_size);
  return out;
}

RawPayload DecodeRaw(std::string_view bytes, size_t element_size, const std::string& type) {
  if (bytes.size() < kRawHeaderSize) {
    throw DecodeError(type, bytes.size(),
                      "shorter than the " + std::to_string(kRawHeaderSize) + "-byte array header");
  }
  uint32_t magic = 0;
  uint32_t size32 = 0;
  uint64_t count = 0;
  std::memcpy(&magic, bytes.data(), 4);
  std::memcpy(&size32, bytes.data() + 4, 4);
  std::memcpy(&count, bytes.data() + 8, 8);
  if (magic != kRawMagic) {
    throw DecodeError(type, bytes.size(), "no array header (the bytes hold another type)");
  }
  if (size32 != element_size) {
    throw DecodeError(type, bytes.size(),
                      "the array holds elements of " + std::to_string(size32) + " bytes, not " +
                          std::to_string(element_size));
  }
  const size_t payload = bytes.size() - kRawHeaderSize;
  if (element_size == 0 || count > payload / element_size || count * element_size != payload) {
    throw DecodeError(type, bytes.size(),
                      "the header says " + std::to_string(count) + " elements of " +
                          std::to_string(element_size) + " bytes but " + std::to_string(payload) +
                          " bytes follow");
  }
  return {reinterpret_cast<const uint8_t*>(bytes.data()) + kRawHeaderSize,
          static_cast<size_t>(count)};
}

std::string DescribeDecodeFailure(const std::exception& error) {
  if (const auto* archive = dynamic_cast<const boost::archive::archive_exception*>(&error)) {
    if (archive->code == boost::archive::archive_exception::input_stream_error) {
      return "the bytes end before the value does (truncated, or another type)";
    }
    return std::string("Boost.Serialization: ") + archive->what();
  }
  if (dynamic_cast<const std::bad_alloc*>(&error) != nullptr ||
      dynamic_cast<const std::length_error*>(&error) != nullptr) {
    return "a length in the bytes is out of range (corrupt bytes, or another type)";
  }
  return Demangle(typeid(error).name()) + ": " + error.what();
}

}  // namespace rayk::internal
