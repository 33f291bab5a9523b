// .npy arrays: values, shapes and header versions, and an Error naming the file for every way a
// file can be wrong.
#include "framework/npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "framework/error.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

std::string raw_floats(const std::vector<float>& values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::string write_file(const std::string& name, const std::string& bytes) {
  const std::string path = test_tmp(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(ReadNpy, ValuesInCOrderWithTheirShape) {
  std::vector<float> values(2 * 3 * 4);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.5f * i - 3;
  const std::string path = write_file("a.npy", npy_bytes("<f4", "(2, 3, 4)", raw_floats(values)));
  const Tensor t = read_npy(path);
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(t.to_vector(), values);
  EXPECT_EQ(t.at({1, 2, 3}), values[23]);
}

TEST(ReadNpy, OneDimensionalTupleAndVersionTwoHeader) {
  const std::string one = write_file("one.npy", npy_bytes("<f4", "(3,)", raw_floats({1, 2, 3})));
  EXPECT_EQ(read_npy(one).shape(), (Shape{3}));
  // Version 2 has a 4-byte header length; the header itself is the same.
  std::string v1 = npy_bytes("<f4", "(2,)", raw_floats({7, 8}));
  std::string v2 = v1.substr(0, 6) + std::string("\x02\x00", 2) + v1.substr(8, 2) +
                   std::string(2, '\0') + v1.substr(10);
  const Tensor t = read_npy(write_file("v2.npy", v2));
  EXPECT_EQ(t.to_vector(), (std::vector<float>{7, 8}));
}

TEST(ReadNpy, BadFilesNameTheFileAndTheProblem) {
  const std::string good = npy_bytes("<f4", "(2, 2)", raw_floats({1, 2, 3, 4}));
  struct Case {
    const char* name;
    std::string bytes;
    const char* fragment;
  };
  std::string maybe = good;
  maybe.replace(maybe.find("False"), 5, "Maybe");
  const Case cases[] = {
      {"order.npy", maybe, "fortran_order 'Maybe' is not True or False"},
      {"long_descr.npy", npy_bytes(std::string(20000, 'x'), "(2,)", std::string(8, '\0')),
       "xxx..."},
      {"magic.npy", "PK\x03\x04 not numpy at all", "bad magic"},
      {"short.npy", "\x93NUM", "bad magic"},
      {"f8.npy", npy_bytes("<f8", "(2,)", std::string(16, '\0')), "'<f8'"},
      {"big_endian.npy", npy_bytes(">f4", "(2,)", std::string(8, '\0')), "'>f4'"},
      {"fortran.npy", npy_bytes("<f4", "(2, 2)", raw_floats({1, 2, 3, 4}), true), "Fortran"},
      {"scalar.npy", npy_bytes("<f4", "()", raw_floats({1})), "1 to 8 dimensions"},
      {"badshape.npy", npy_bytes("<f4", "(2, x)", raw_floats({1, 2})), "bad dimension"},
      {"truncated.npy", good.substr(0, good.size() - 3), "(truncated)"},
      {"long.npy", good + "xxxx", "needs 16 data bytes but the file has 20"},
      {"header_cut.npy", good.substr(0, 30), "header is truncated"},
      // numpy reads the last of a repeated key: this array is in Fortran order to numpy.
      {"twice.npy",
       npy_bytes("<f4', 'fortran_order': True, 'x': '", "(2, 2)", raw_floats({1, 2, 3, 4})),
       "header gives 'fortran_order' 2 times"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = write_file(c.name, c.bytes);
    EXPECT_ERROR_CONTAINS(read_npy(path), path);
    EXPECT_ERROR_CONTAINS(read_npy(path), c.fragment);
    // A hostile header is quoted, never copied whole into the message.
    try {
      read_npy(path);
    } catch (const Error& e) {
      EXPECT_LT(std::string(e.what()).size(), 400u);
    }
  }
  // Read until memory runs out, were it not refused.
  EXPECT_ERROR_CONTAINS(read_npy("/dev/zero"), "/dev/zero: not a regular file");
  EXPECT_ERROR_CONTAINS(read_npy(test_tmp("missing.npy")), "missing.npy: cannot open");
}

}  // namespace
}  // namespace repflow
