#include "framework/image_io.h"

#include <png.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include <turbojpeg.h>

#include <cstring>
#include <memory>
#include <string>

#include "framework/atomic_file.h"
#include "framework/error.h"
#include "framework/read_file.h"

namespace repflow {
namespace {

// The file's header claims `width` x `height`: refused before any pixel memory is allocated
// when either is not positive or their product exceeds kMaxImagePixels (a few bytes claiming
// 20000 x 20000 would otherwise be decoded into gigabytes of made-up pixels).
void check_size(const std::string& path, int64_t width, int64_t height) {
  RF_CHECK(width > 0 && height > 0, path, ": the image header claims a size of ", width, "x",
           height);
  RF_CHECK(width * height <= kMaxImagePixels, path, ": an image of ", width, "x", height,
           " is larger than the ", kMaxImagePixels, " pixels read");
}

// A file's own channels, or the requested ones: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
int output_channels(int requested, bool colour, bool alpha) {
  return requested ? requested : (colour ? 3 : 1) + (alpha ? 1 : 0);
}

// JPEG through libjpeg-turbo (the pixels PIL and torchvision give: accurate integer IDCT, fancy
// upsampling). Any warning is an error, so that a truncated or damaged file never becomes grey
// rows; progressive files with an absurd number of scans are refused rather than decoded for
// minutes.
Image decode_jpeg(const std::string& path, const std::string& bytes, int channels) {
  const std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  RF_CHECK(handle, path, ": cannot start the JPEG decoder: ", tjGetErrorStr2(nullptr));
  tjhandle tj = handle.get();
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const unsigned long size = bytes.size();
  int width = 0, height = 0, subsampling = 0, colourspace = 0;
  RF_CHECK(tjDecompressHeader3(tj, data, size, &width, &height, &subsampling, &colourspace) == 0,
           path, ": cannot read JPEG: ", tjGetErrorStr2(tj));
  check_size(path, width, height);
  Image image;
  image.width = width;
  image.height = height;
  image.channels = output_channels(channels, colourspace != TJCS_GRAY, false);
  const bool grey = image.channels <= 2;
  const int format = grey ? TJPF_GRAY : image.channels == 3 ? TJPF_RGB : TJPF_RGBA;
  const int decoded = grey ? 1 : image.channels;
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * decoded);
  RF_CHECK(tjDecompress2(tj, data, size, pixels.data(), width, 0, height, format,
                         TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) == 0,
           path, ": cannot read JPEG: ", tjGetErrorStr2(tj));
  if (image.channels == 2) {  // grey + an opaque alpha
    image.pixels.resize(pixels.size() * 2);
    for (size_t i = 0; i < pixels.size(); ++i) {
      image.pixels[2 * i] = pixels[i];
      image.pixels[2 * i + 1] = 255;
    }
  } else {
    image.pixels = std::move(pixels);
  }
  return image;
}

// `bytes` without the chunks that say how the pixels map to light (gAMA, sRGB, iCCP, cHRM).
// Readers of video frames (PIL, OpenCV, FFmpeg) take the stored values as they are; libpng's
// simplified API converts by them. A malformed chunk list is left for libpng to refuse.
std::string without_colour_chunks(const std::string& bytes) {
  constexpr size_t kSignature = 8;
  std::string out = bytes.substr(0, kSignature);
  for (size_t at = kSignature; at < bytes.size();) {
    if (bytes.size() - at < 12) return bytes;
    uint32_t length = 0;
    for (int k = 0; k < 4; ++k) length = length << 8 | static_cast<uint8_t>(bytes[at + k]);
    if (length > bytes.size() - at - 12) return bytes;
    const std::string type = bytes.substr(at + 4, 4);
    const size_t chunk = 12 + static_cast<size_t>(length);
    if (type != "gAMA" && type != "sRGB" && type != "iCCP" && type != "cHRM")
      out.append(bytes, at, chunk);
    at += chunk;
  }
  return out;
}

// PNG through libpng's simplified API, which turns every bit depth, palette and transparency
// chunk into 8-bit grey or RGB with or without alpha. The stored values are read as they are:
// 16 bits scale to 8 (libpng would otherwise take 16-bit values for linear light and brighten
// them), and colour-space chunks are ignored. An alpha channel that is not wanted is dropped (as
// stb and PIL's convert("RGB") do), not composited onto a background.
Image decode_png(const std::string& path, const std::string& file_bytes, int channels) {
  const std::string bytes = without_colour_chunks(file_bytes);
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  const std::unique_ptr<png_image, void (*)(png_imagep)> release(&png, png_image_free);
  RF_CHECK(png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()), path,
           ": cannot read PNG: ", png.message);
  png.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
  check_size(path, png.width, png.height);
  const bool file_colour = png.format & PNG_FORMAT_FLAG_COLOR;
  const bool file_alpha = png.format & PNG_FORMAT_FLAG_ALPHA;
  Image image;
  image.width = static_cast<int>(png.width);
  image.height = static_cast<int>(png.height);
  image.channels = output_channels(channels, file_colour, file_alpha);
  const bool colour = image.channels >= 3;
  const bool alpha = image.channels == 2 || image.channels == 4;
  const bool drop_alpha = file_alpha && !alpha;
  png.format =
      (colour ? PNG_FORMAT_FLAG_COLOR : 0) | (alpha || drop_alpha ? PNG_FORMAT_FLAG_ALPHA : 0);
  const size_t decoded = image.channels + (drop_alpha ? 1 : 0);
  std::vector<uint8_t> pixels(static_cast<size_t>(png.width) * png.height * decoded);
  RF_CHECK(png_image_finish_read(&png, nullptr, pixels.data(), 0, nullptr), path,
           ": cannot read PNG: ", png.message);
  if (drop_alpha) {
    image.pixels.resize(pixels.size() / decoded * image.channels);
    for (size_t p = 0, q = 0; p < pixels.size(); p += decoded, q += image.channels)
      std::memcpy(&image.pixels[q], &pixels[p], image.channels);
  } else {
    image.pixels = std::move(pixels);
  }
  return image;
}

// Little-endian fields of a BMP header.
int64_t le(const std::string& bytes, size_t at, int width_bytes) {
  uint32_t v = 0;
  for (int i = width_bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
  return width_bytes == 4 ? static_cast<int32_t>(v) : static_cast<int64_t>(v);
}

// BMP through stb_image, after the header fields stb trusts are checked: a height of INT_MIN
// (top-down rows are stored as a negative height, and stb negates it), sizes beyond the limit,
// and pixel data shorter than the header's size says (stb fills what is missing with zeros, so a
// 70-byte file claiming 8K became 100 MB of made-up pixels). Uncompressed BMP only, as stb.
Image decode_bmp(const std::string& path, const std::string& bytes, int channels) {
  RF_CHECK(bytes.size() >= 30, path, ": cannot read BMP: truncated header");
  const int64_t header = le(bytes, 14, 4);
  const bool core = header == 12;  // OS/2's BITMAPCOREHEADER: 16-bit sizes
  RF_CHECK(core || (header >= 40 && bytes.size() >= 34), path,
           ": cannot read BMP: unknown header of ", header, " bytes");
  const int64_t width = core ? le(bytes, 18, 2) : le(bytes, 18, 4);
  const int64_t height = core ? le(bytes, 20, 2) : le(bytes, 22, 4);
  const int64_t bits = core ? le(bytes, 24, 2) : le(bytes, 28, 2);
  const int64_t compression = core ? 0 : le(bytes, 30, 4);
  const int64_t rows = height < 0 ? -height : height;  // negative: stored top-down
  check_size(path, width, rows);
  RF_CHECK(bits == 1 || bits == 4 || bits == 8 || bits == 16 || bits == 24 || bits == 32, path,
           ": cannot read BMP: ", bits, " bits per pixel");
  RF_CHECK(compression == 0 || compression == 3, path, ": cannot read BMP: compressed (method ",
           compression, "), only uncompressed is read");
  const int64_t row_bytes = (width * bits + 31) / 32 * 4;
  const int64_t needed = le(bytes, 10, 4) + row_bytes * rows;
  RF_CHECK(static_cast<int64_t>(bytes.size()) >= needed, path, ": cannot read BMP: truncated (",
           bytes.size(), " bytes, the header needs ", needed, ")");
  Image image;
  int file_channels = 0;
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int size = static_cast<int>(bytes.size());
  const std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(data, size, &image.width, &image.height, &file_channels, channels),
      stbi_image_free);
  RF_CHECK(decoded, path, ": cannot read BMP: ", stbi_failure_reason());
  image.channels = channels ? channels : file_channels;
  image.pixels.assign(decoded.get(), decoded.get() + static_cast<size_t>(image.width) *
                                                         image.height * image.channels);
  return image;
}

bool starts_with(const std::string& bytes, const char* magic, size_t length) {
  return bytes.size() >= length && std::memcmp(bytes.data(), magic, length) == 0;
}

}  // namespace

Image read_image(const std::string& path, int channels) {
  RF_CHECK(channels >= 0 && channels <= 4, "read_image: bad channel count ", channels);
  // Bounded: a frame larger than this is not a video frame (an 8K PNG of noise is about 100 MB).
  const std::string bytes = read_file(path, kMaxImageFileBytes);
  // The format from the file's signature, not its name: frames extracted as .jpg are sometimes
  // PNGs.
  if (starts_with(bytes, "\xFF\xD8\xFF", 3)) return decode_jpeg(path, bytes, channels);
  if (starts_with(bytes, "\x89PNG\r\n\x1A\n", 8)) return decode_png(path, bytes, channels);
  if (starts_with(bytes, "BM", 2)) return decode_bmp(path, bytes, channels);
  RF_FAIL(path, ": cannot read image: not a JPEG, PNG or BMP file");
}

void write_png(const std::string& path, const Image& image) {
  RF_CHECK(
      image.width > 0 && image.height > 0 && image.channels >= 1 && image.channels <= 4 &&
          image.pixels.size() == static_cast<size_t>(image.width) * image.height * image.channels,
      "write_png: ", path, ": inconsistent image ", image.width, "x", image.height, "x",
      image.channels);
  // Encoded in memory, then written with every write checked: stbi_write_png's own file
  // output ignores write errors (a full disk gave a truncated chart).
  std::string png;
  const auto append = [](void* out, void* data, int size) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(data),
                                           static_cast<size_t>(size));
  };
  RF_CHECK(stbi_write_png_to_func(append, &png, image.width, image.height, image.channels,
                                  image.pixels.data(), image.width * image.channels),
           path, ": cannot encode the PNG");
  write_file_atomic(path, png);
}

}  // namespace repflow
