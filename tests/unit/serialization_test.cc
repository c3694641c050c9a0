// Serialize/Deserialize: round trips of the types tasks take and return, the
// raw layout of large arrays, and a clear error for bytes that are not a T.
#include "rayk/internal/serialization.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/version.hpp>
#include <cstdint>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

#include "rayk/buffer.h"

namespace rayk::internal {
namespace {

using ::testing::HasSubstr;

struct Point {
  double x = 0;
  double y = 0;
  std::string label;
  std::vector<int> tags;

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& x& y& label& tags;
  }
  friend bool operator==(const Point&, const Point&) = default;
};

// A class with a version of its own and a shared pointer: Boost writes its
// class, version and tracking fields, which rayk's archives must lay out as
// Boost's do.
struct Versioned {
  std::shared_ptr<Point> shared;
  std::wstring wide;
  bool flag = false;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& shared& wide& flag;
  }
};

// Trivially copyable, so a vector of it takes the raw path.
struct Pixel {
  uint8_t r, g, b, a;
  friend bool operator==(const Pixel&, const Pixel&) = default;
};

template <class T>
T RoundTrip(const T& value) {
  return Deserialize<T>(Serialize(value));
}

TEST(SerializationTest, Scalars) {
  EXPECT_EQ(RoundTrip(42), 42);
  EXPECT_EQ(RoundTrip(-7L), -7L);
  EXPECT_EQ(RoundTrip(std::numeric_limits<uint64_t>::max()), std::numeric_limits<uint64_t>::max());
  EXPECT_DOUBLE_EQ(RoundTrip(3.25), 3.25);
  EXPECT_EQ(RoundTrip(true), true);
  EXPECT_EQ(RoundTrip('x'), 'x');
  // A binary archive writes an int as its 4 bytes, nothing more.
  EXPECT_EQ(Serialize(42).size(), sizeof(int));
}

TEST(SerializationTest, Strings) {
  EXPECT_EQ(RoundTrip(std::string()), "");
  EXPECT_EQ(RoundTrip(std::string("hello")), "hello");
  std::string binary("a\0b\xff", 4);
  EXPECT_EQ(RoundTrip(binary), binary);
  std::string large(1 << 20, 'z');
  EXPECT_EQ(RoundTrip(large), large);
}

TEST(SerializationTest, NestedContainers) {
  std::map<std::string, std::vector<std::pair<int, std::string>>> nested{
      {"a", {{1, "one"}, {2, "two"}}}, {"b", {}}};
  EXPECT_EQ(RoundTrip(nested), nested);

  std::unordered_map<int, std::set<std::string>> sets{{1, {"x", "y"}}, {2, {}}};
  EXPECT_EQ(RoundTrip(sets), sets);

  std::vector<std::vector<double>> matrix{{1, 2}, {3}, {}};
  EXPECT_EQ(RoundTrip(matrix), matrix);

  std::list<std::string> list{"p", "q"};
  EXPECT_EQ(RoundTrip(list), list);

  std::array<int, 3> array{7, 8, 9};
  EXPECT_EQ(RoundTrip(array), array);
}

TEST(SerializationTest, OptionalVariantTuple) {
  EXPECT_EQ(RoundTrip(std::optional<int>()), std::nullopt);
  EXPECT_EQ(RoundTrip(std::optional<std::string>("x")), std::optional<std::string>("x"));

  using V = std::variant<int, std::string, std::vector<double>>;
  EXPECT_EQ(RoundTrip(V(5)), V(5));
  EXPECT_EQ(RoundTrip(V("five")), V("five"));
  EXPECT_EQ(RoundTrip(V(std::vector<double>{1.5})), V(std::vector<double>{1.5}));

  auto tuple = std::make_tuple(1, std::string("two"), 3.0, std::optional<int>(4));
  EXPECT_EQ(RoundTrip(tuple), tuple);

  std::vector<std::optional<std::variant<int, std::string>>> mixed{std::nullopt, 3, "s"};
  EXPECT_EQ(RoundTrip(mixed), mixed);
}

TEST(SerializationTest, UserStructWithSerializeMember) {
  Point p{1.5, -2.5, "corner", {1, 2, 3}};
  EXPECT_EQ(RoundTrip(p), p);
  std::vector<Point> points{p, Point{}, Point{0, 0, "o", {}}};
  EXPECT_EQ(RoundTrip(points), points);
  std::map<std::string, Point> by_name{{"p", p}};
  EXPECT_EQ(RoundTrip(by_name), by_name);
}

TEST(SerializationTest, VectorOfDoublesIsRawBytes) {
  static_assert(kHasRawLayout<std::vector<double>>);
  static_assert(kHasRawLayout<std::vector<Pixel>>);
  static_assert(!kHasRawLayout<std::vector<bool>>);
  static_assert(!kHasRawLayout<std::vector<std::string>>);
  static_assert(!kHasRawLayout<std::vector<const char*>>);

  std::vector<double> values{1.0, 2.5, -3.75};
  std::string bytes = Serialize(values);
  ASSERT_EQ(bytes.size(), kRawHeaderSize + values.size() * sizeof(double));
  uint32_t magic = 0, element_size = 0;
  uint64_t count = 0;
  std::memcpy(&magic, bytes.data(), 4);
  std::memcpy(&element_size, bytes.data() + 4, 4);
  std::memcpy(&count, bytes.data() + 8, 8);
  EXPECT_EQ(magic, kRawMagic);
  EXPECT_EQ(element_size, sizeof(double));
  EXPECT_EQ(count, 3u);
  // The elements follow the header exactly as they lie in memory.
  EXPECT_EQ(std::memcmp(bytes.data() + kRawHeaderSize, values.data(), 3 * sizeof(double)), 0);
  EXPECT_EQ(Deserialize<std::vector<double>>(bytes), values);

  EXPECT_EQ(RoundTrip(std::vector<double>()), std::vector<double>());
  std::vector<Pixel> pixels{{1, 2, 3, 4}, {5, 6, 7, 8}};
  EXPECT_EQ(RoundTrip(pixels), pixels);
}

TEST(SerializationTest, LargeRawArrayRoundTrips) {
  std::vector<int64_t> large(8 << 20);  // 64 MiB: per-element archiving would be slow
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<int64_t>(i * 2654435761u);
  std::string bytes = Serialize(large);
  EXPECT_EQ(bytes.size(), kRawHeaderSize + large.size() * sizeof(int64_t));
  EXPECT_EQ(Deserialize<std::vector<int64_t>>(bytes), large);
}

TEST(SerializationTest, RawArrayFromMisalignedBytes) {
  std::vector<double> values{1, 2, 3};
  std::string bytes = Serialize(values);
  std::string shifted = " " + bytes;  // elements now start at an odd address
  EXPECT_EQ(Deserialize<std::vector<double>>(std::string_view(shifted).substr(1)), values);
}

TEST(SerializationTest, Buffer) {
  Buffer buffer = Buffer::FromString("raw \0bytes");
  std::string bytes = Serialize(buffer);
  EXPECT_EQ(bytes.size(), kRawHeaderSize + buffer.size());
  uint32_t element_size = 0;
  std::memcpy(&element_size, bytes.data() + 4, 4);
  EXPECT_EQ(element_size, 1u);
  EXPECT_EQ(RoundTrip(buffer), buffer);
  EXPECT_EQ(RoundTrip(Buffer()), Buffer());
  EXPECT_EQ(Buffer(3), Buffer(std::string(3, '\0').data(), 3));

  // Nested inside another value, a Buffer goes through the archive.
  std::map<std::string, Buffer> files{{"a", Buffer::FromString("alpha")}, {"b", Buffer()}};
  EXPECT_EQ(RoundTrip(files), files);
}

TEST(SerializationTest, GarbageBytesGiveAClearError) {
  try {
    Deserialize<std::string>(std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8));
    FAIL() << "decoded garbage";
  } catch (const DecodeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot decode std::string from 8 bytes"));
    EXPECT_THAT(e.detail(), HasSubstr("out of range"));
  }
  try {
    Deserialize<int>("ab");
    FAIL() << "decoded a truncated int";
  } catch (const DecodeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot decode int from 2 bytes"));
    EXPECT_THAT(e.detail(), HasSubstr("end before the value"));
  }
  // Bytes of another type: an int read from a double's 8 bytes leaves 4.
  try {
    Deserialize<int>(Serialize(2.5));
    FAIL() << "decoded a double as an int";
  } catch (const DecodeError& e) {
    EXPECT_THAT(e.detail(), HasSubstr("4 bytes are left over"));
  }
  EXPECT_THROW(Deserialize<Point>(""), DecodeError);
  EXPECT_THROW((Deserialize<std::map<int, int>>("garbage!")), DecodeError);
  // And a DecodeError is a rayk::RuntimeError.
  EXPECT_THROW(Deserialize<std::vector<std::string>>("\x01"), RuntimeError);
}

TEST(SerializationTest, RawHeaderMismatchesAreNamed) {
  try {
    Deserialize<std::vector<double>>(Serialize(std::string("not an array at all")));
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_THAT(e.detail(), HasSubstr("no array header"));
  }
  try {
    Deserialize<std::vector<float>>(Serialize(std::vector<double>{1, 2}));
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_THAT(e.detail(), HasSubstr("elements of 8 bytes, not 4"));
  }
  std::string truncated = Serialize(std::vector<int>{1, 2, 3});
  truncated.pop_back();
  try {
    Deserialize<std::vector<int>>(truncated);
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_THAT(e.detail(), HasSubstr("header says 3 elements"));
  }
  EXPECT_THROW(Deserialize<Buffer>("short"), DecodeError);
}

TEST(SerializationTest, VariantIndexOutOfRange) {
  std::string bytes = Serialize(std::variant<int, double>(1));
  bytes[0] = 9;  // the alternative index
  try {
    Deserialize<std::variant<int, double>>(bytes);
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_THAT(e.detail(), HasSubstr("alternative 9 is out of range"));
  }
}

TEST(SerializationTest, TypeNamesReadAsWritten) {
  EXPECT_EQ(TypeName<int>(), "int");
  EXPECT_EQ(TypeName<std::string>(), "std::string");
  EXPECT_EQ(TypeName<std::invalid_argument>(), "std::invalid_argument");
}

// rayk's archives (binary_archive.h) write what Boost's binary archives
// write with the same flags, and read it back: the wire format did not change.
template <class T>
std::string BoostBytes(const T& value) {
  std::ostringstream out;
  {
    boost::archive::binary_oarchive archive(out, kBinaryArchiveFlags);
    archive << value;
  }
  return out.str();
}

TEST(SerializationTest, ArchivesWriteAndReadBoostsBinaryFormat) {
  Point p{1.5, -2.5, "corner", {1, 2, 3}};
  Versioned versioned{std::make_shared<Point>(p), L"wide", true};
  std::vector<Versioned> many{versioned, Versioned{}, versioned};
  std::map<std::string, std::vector<Point>> nested{{"a", {p, p}}, {"b", {}}};

  EXPECT_EQ(Serialize(p), BoostBytes(p));
  EXPECT_EQ(Serialize(many), BoostBytes(many));
  EXPECT_EQ(Serialize(nested), BoostBytes(nested));
  EXPECT_EQ(Serialize(std::make_tuple(7, 'c', true, std::string("s"))),
            BoostBytes(std::make_tuple(7, 'c', true, std::string("s"))));

  std::vector<Versioned> read = Deserialize<std::vector<Versioned>>(BoostBytes(many));
  ASSERT_EQ(read.size(), 3u);
  ASSERT_NE(read[0].shared, nullptr);
  EXPECT_EQ(*read[0].shared, p);
  EXPECT_EQ(read[0].wide, L"wide");
  EXPECT_TRUE(read[0].flag);
  EXPECT_EQ(read[1].shared, nullptr);
  EXPECT_EQ(Deserialize<decltype(nested)>(BoostBytes(nested)), nested);

  // And Boost reads what rayk writes.
  std::istringstream in(Serialize(nested));
  boost::archive::binary_iarchive archive(in, kBinaryArchiveFlags);
  std::map<std::string, std::vector<Point>> by_boost;
  archive >> by_boost;
  EXPECT_EQ(by_boost, nested);
}

TEST(SerializationTest, AStringCutShortIsADecodeErrorNotAHugeAllocation) {
  std::string bytes = Serialize(std::string("hello"));
  bytes[0] = 0x7f;  // the length's low byte: 127 bytes claimed, 5 there
  try {
    Deserialize<std::string>(bytes);
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_THAT(e.detail(), HasSubstr("a length in the bytes is out of range"));
  }
  EXPECT_THROW(Deserialize<std::wstring>(bytes), DecodeError);
}

}  // namespace
}  // namespace rayk::internal
