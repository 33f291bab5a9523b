// Reading images (framework/image_io.h) as a user's frame folders give them: bounded by the
// header's size and the file's, whatever the file claims.
#include "framework/image_io.h"

#include <cstdint>
#include <string>

#include "tests/test_util.h"

namespace repflow {
namespace {

// A 24-bit BMP header (54 bytes) claiming width x height pixels, followed by `pixels` bytes.
std::string bmp_header(int32_t width, int32_t height, size_t pixels) {
  std::string b(54, '\0');
  const auto put = [&b](size_t at, uint32_t v) {
    for (int k = 0; k < 4; ++k) b[at + k] = static_cast<char>(v >> (8 * k) & 0xff);
  };
  b[0] = 'B';
  b[1] = 'M';
  put(2, static_cast<uint32_t>(54 + pixels));
  put(10, 54);  // where the pixels start
  put(14, 40);  // BITMAPINFOHEADER
  put(18, static_cast<uint32_t>(width));
  put(22, static_cast<uint32_t>(height));
  b[26] = 1;   // planes
  b[28] = 24;  // bits per pixel
  return b + std::string(pixels, '\x40');
}

TEST(ReadImage, ASmallBmpReadsItsPixels) {
  const std::string path = test_tmp("two.bmp");
  // 2 x 1 pixels, each row padded to 4 bytes.
  write_text(path, bmp_header(2, 1, 8));
  const Image image = read_image(path, 3);
  EXPECT_EQ(image.width, 2);
  EXPECT_EQ(image.height, 1);
  EXPECT_EQ(image.pixels, std::vector<uint8_t>(6, 0x40));
}

// A 70-byte BMP claiming 20000 x 20000 made infer decode 1.2 GB of made-up pixels for 35 s.
TEST(ReadImage, AHeaderClaimingHugeFramesIsRefusedBeforeDecoding) {
  const std::string path = test_tmp("huge.bmp");
  write_text(path, bmp_header(20000, 20000, 16));
  EXPECT_ERROR_CONTAINS(read_image(path, 3),
                        path + ": an image of 20000x20000 is larger than the 33177600 pixels read");
}

TEST(ReadImage, OnlyRegularFilesAreRead) {
  EXPECT_ERROR_CONTAINS(read_image("/dev/zero"), "/dev/zero: not a regular file");
  EXPECT_ERROR_CONTAINS(read_image(fresh_dir("a_dir.png")), "a_dir.png: not a regular file");
  EXPECT_ERROR_CONTAINS(read_image(test_tmp("missing.png")), "missing.png: cannot open file");
  const std::string garbage = test_tmp("garbage.png");
  write_text(garbage, "not an image");
  EXPECT_ERROR_CONTAINS(read_image(garbage), garbage + ": cannot read image");
}

}  // namespace
}  // namespace repflow
