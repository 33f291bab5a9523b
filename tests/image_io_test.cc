// Reading images (framework/image_io.h) as a user's frame folders give them: bounded by the
// header's size and the file's, whatever the file claims.
#include "framework/image_io.h"

#include <stb_image_write.h>
#include <zlib.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <optional>
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

// A smooth RGB gradient, which JPEG keeps within a few levels.
Image gradient(int width, int height, int channels) {
  Image image{width, height, channels, {}};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)
        image.pixels.push_back(static_cast<uint8_t>(c == 3 ? 128 : (x * 4 + y * 2 + c * 40) % 256));
  return image;
}

std::string jpeg_bytes(const Image& image) {
  std::string out;
  const auto append = [](void* s, void* data, int size) {
    static_cast<std::string*>(s)->append(static_cast<const char*>(data), size);
  };
  EXPECT_TRUE(stbi_write_jpg_to_func(append, &out, image.width, image.height, image.channels,
                                     image.pixels.data(), 95));
  return out;
}

TEST(ReadImage, JpegDecodesToItsPixelsInEveryChannelCount) {
  const Image rgb = gradient(48, 32, 3);
  const std::string path = test_tmp("gradient.jpg");
  write_text(path, jpeg_bytes(rgb));
  const Image read = read_image(path);
  ASSERT_EQ(read.channels, 3);
  ASSERT_EQ(read.width, 48);
  ASSERT_EQ(read.height, 32);
  double error = 0;
  for (size_t i = 0; i < read.pixels.size(); ++i) error += std::abs(read.pixels[i] - rgb.pixels[i]);
  EXPECT_LT(error / read.pixels.size(), 3.0);
  EXPECT_EQ(read_image(path, 1).pixels.size(), 48u * 32);
  const Image rgba = read_image(path, 4);
  ASSERT_EQ(rgba.pixels.size(), 48u * 32 * 4);
  for (size_t p = 0; p < 48 * 32; ++p) {
    ASSERT_EQ(rgba.pixels[4 * p + 3], 255);
    ASSERT_EQ(rgba.pixels[4 * p], read.pixels[3 * p]);
  }
}

// libjpeg stops with "Premature end of JPEG file" only as a warning and fills the rest grey;
// the reader refuses the file instead of returning made-up rows.
TEST(ReadImage, ATruncatedJpegIsRefused) {
  const std::string whole = jpeg_bytes(gradient(64, 64, 3));
  const std::string path = test_tmp("truncated.jpg");
  write_text(path, whole.substr(0, whole.size() / 2));
  EXPECT_ERROR_CONTAINS(read_image(path, 3), path + ": cannot read JPEG");
}

// stb_image read past its Huffman table (index 257) on a table whose code counts sum to more
// than 256 symbols: libjpeg-turbo refuses the table.
TEST(ReadImage, ABogusHuffmanTableIsRefused) {
  std::string bytes = jpeg_bytes(gradient(16, 16, 3));
  const size_t dht = bytes.find("\xFF\xC4");
  ASSERT_NE(dht, std::string::npos);
  for (size_t k = 0; k < 16; ++k) bytes[dht + 5 + k] = '\xFF';  // 16 code counts of 255
  const std::string path = test_tmp("bogus_huffman.jpg");
  write_text(path, bytes);
  EXPECT_ERROR_CONTAINS(read_image(path, 3), path + ": cannot read JPEG");
}

TEST(ReadImage, PngAlphaIsDroppedOrKeptAsAsked) {
  const Image rgba = gradient(5, 3, 4);
  const std::string path = test_tmp("rgba.png");
  write_png(path, rgba);
  EXPECT_EQ(read_image(path).pixels, rgba.pixels);
  const Image rgb = read_image(path, 3);
  ASSERT_EQ(rgb.channels, 3);
  for (size_t p = 0; p < 15; ++p)
    for (int c = 0; c < 3; ++c) ASSERT_EQ(rgb.pixels[3 * p + c], rgba.pixels[4 * p + c]);
  const Image grey = gradient(4, 2, 1);
  write_png(path, grey);
  const Image as_rgb = read_image(path, 3);
  for (size_t p = 0; p < 8; ++p)
    for (int c = 0; c < 3; ++c) ASSERT_EQ(as_rgb.pixels[3 * p + c], grey.pixels[p]);
}

// Big-endian bytes of v, as PNG stores numbers.
std::string be32(uint32_t v) {
  std::string b(4, '\0');
  for (int k = 0; k < 4; ++k) b[k] = static_cast<char>(v >> (24 - 8 * k) & 0xff);
  return b;
}

std::string png_chunk(const std::string& type, const std::string& data) {
  const std::string body = type + data;
  const auto* p = reinterpret_cast<const Bytef*>(body.data());
  return be32(static_cast<uint32_t>(data.size())) + body +
         be32(static_cast<uint32_t>(crc32(0, p, static_cast<uInt>(body.size()))));
}

// A 2 x 2 grey PNG of `depth` bits (8 or 16), every sample `value`, with a gAMA chunk when
// `gamma` (its value x 100000) is given: written by hand, since libpng's writer puts a linear
// gAMA into every 16-bit file.
std::string grey_png(int depth, uint16_t value, std::optional<uint32_t> gamma) {
  const std::string ihdr = be32(2) + be32(2) + std::string{static_cast<char>(depth), 0, 0, 0, 0};
  std::string rows;
  for (int y = 0; y < 2; ++y) {
    rows += '\0';  // no filter
    for (int x = 0; x < 2; ++x) {
      if (depth == 16) rows += static_cast<char>(value >> 8);
      rows += static_cast<char>(value & 0xff);
    }
  }
  std::string idat(compressBound(rows.size()), '\0');
  uLongf size = idat.size();
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(idat.data()), &size,
                     reinterpret_cast<const Bytef*>(rows.data()), rows.size()),
            Z_OK);
  idat.resize(size);
  return std::string("\x89PNG\r\n\x1A\n", 8) + png_chunk("IHDR", ihdr) +
         (gamma ? png_chunk("gAMA", be32(*gamma)) : "") + png_chunk("IDAT", idat) +
         png_chunk("IEND", "");
}

// The stored values, as PIL, OpenCV and FFmpeg read them: 16 bits scale to 8 and a gAMA chunk
// changes nothing. libpng's simplified API took 16-bit values for linear light (0x8080 read as
// 188) and converted by any gAMA chunk.
TEST(ReadImage, PngValuesAreReadAsStored) {
  const std::string path = test_tmp("grey.png");
  const struct {
    int depth;
    uint16_t value;
    std::optional<uint32_t> gamma;
    uint8_t expected;
  } cases[] = {{16, 0x8080, std::nullopt, 128}, {16, 0xffff, std::nullopt, 255},
               {16, 0x0000, std::nullopt, 0},   {16, 0x8080, 100000, 128},
               {8, 128, 100000, 128},           {8, 128, 45455, 128},
               {8, 77, std::nullopt, 77}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::to_string(c.depth) + "-bit " + std::to_string(c.value) +
                 (c.gamma ? " gAMA " + std::to_string(*c.gamma) : ""));
    write_text(path, grey_png(c.depth, c.value, c.gamma));
    const Image grey = read_image(path);
    ASSERT_EQ(grey.channels, 1);
    EXPECT_EQ(grey.pixels, std::vector<uint8_t>(4, c.expected));
    EXPECT_EQ(read_image(path, 3).pixels, std::vector<uint8_t>(12, c.expected));
  }
}

TEST(ReadImage, TheFormatComesFromTheSignatureNotTheName) {
  const Image rgb = gradient(4, 4, 3);
  const std::string png = test_tmp("a_png.png"), named_jpg = test_tmp("really_a_png.jpg");
  write_png(png, rgb);
  write_text(named_jpg, read_text(png));
  EXPECT_EQ(read_image(named_jpg).pixels, rgb.pixels);
  const std::string gif = test_tmp("a.gif");
  write_text(gif, "GIF89a\x01\x00\x01\x00\x00\x00\x00;");
  EXPECT_ERROR_CONTAINS(read_image(gif), gif + ": cannot read image: not a JPEG, PNG or BMP file");
}

// stb_image filled missing pixel data with zeros: a made-up image instead of an error.
TEST(ReadImage, ABmpShorterThanItsHeaderSaysIsRefused) {
  const std::string path = test_tmp("short.bmp");
  write_text(path, bmp_header(64, 64, 100));
  EXPECT_ERROR_CONTAINS(read_image(path, 3),
                        path + ": cannot read BMP: truncated (154 bytes, the header needs 12342)");
}

// stb_image negated a height of INT_MIN (a top-down BMP's rows are a negative height).
TEST(ReadImage, ABmpHeightOfIntMinIsRefused) {
  const std::string path = test_tmp("int_min.bmp");
  write_text(path, bmp_header(2, INT_MIN, 8));
  EXPECT_ERROR_CONTAINS(read_image(path, 3), path + ": an image of 2x2147483648 is larger");
}

}  // namespace
}  // namespace repflow
