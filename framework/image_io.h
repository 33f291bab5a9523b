#pragma once
// Reading and writing images. JPEG is decoded by libjpeg-turbo, PNG by libpng (both fuzzed
// upstream), BMP by stb_image after its header is checked; PNG is written through
// stb_image_write. Writes are atomic: a temporary file beside the target, then a rename.
#include <cstdint>
#include <string>
#include <vector>

namespace repflow {

// The largest image or video frame read, in pixels (8K UHD). A header claiming more is refused
// before anything is decoded or allocated for it.
constexpr int64_t kMaxImagePixels = 7680LL * 4320;
// The largest image file read (an 8K PNG of noise is about 100 MB).
constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;

struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // row-major, interleaved channels
};

// `channels` 0 keeps the file's own count; 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA)
// converts, dropping an alpha channel that is not asked for. The format is taken from the
// file's signature. Errors name the file and the decoder's reason (missing, not a regular file,
// not a JPEG, PNG or BMP, truncated or damaged, larger than kMaxImagePixels).
Image read_image(const std::string& path, int channels = 0);
void write_png(const std::string& path, const Image& image);

}  // namespace repflow
