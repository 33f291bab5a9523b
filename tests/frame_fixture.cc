#include "tests/frame_fixture.h"

#include <filesystem>
#include <fstream>

#include "framework/error.h"
#include "framework/image_io.h"

namespace repflow {

void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path);
  out << text;
  RF_CHECK(out.good(), path, ": cannot write");
}

void write_coded_frames(const std::string& dir, int frames, int width, int height, int tag) {
  std::filesystem::create_directories(dir);
  for (int t = 0; t < frames; ++t) {
    Image image;
    image.width = width;
    image.height = height;
    image.channels = 3;
    image.pixels.resize(static_cast<size_t>(width) * height * 3);
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        uint8_t* p = &image.pixels[(static_cast<size_t>(y) * width + x) * 3];
        p[0] = static_cast<uint8_t>(8 * t + tag);
        p[1] = static_cast<uint8_t>(4 * x);
        p[2] = static_cast<uint8_t>(4 * y);
      }
    }
    write_png(dir + "/" + std::to_string(t + 1) + ".png", image);
  }
}

}  // namespace repflow
