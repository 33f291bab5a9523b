#pragma once
// Reading and writing images (JPEG, PNG, BMP... through stb_image; PNG out through
// stb_image_write). Writes are atomic: a temporary file beside the target, then a rename.
#include <cstdint>
#include <string>
#include <vector>

namespace repflow {

// The largest image or video frame read, in pixels (8K UHD). A header claiming more is refused
// before anything is decoded or allocated for it.
constexpr int64_t kMaxImagePixels = 7680LL * 4320;

struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // row-major, interleaved channels
};

// `channels` 0 keeps the file's own count; 1 or 3 converts. Errors name the file and stb's
// reason (missing, unreadable, truncated, not an image).
Image read_image(const std::string& path, int channels = 0);
void write_png(const std::string& path, const Image& image);

}  // namespace repflow
