#include "framework/image_io.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <string>

#include "framework/atomic_file.h"
#include "framework/error.h"

namespace repflow {

Image read_image(const std::string& path, int channels) {
  RF_CHECK(channels >= 0 && channels <= 4, "read_image: bad channel count ", channels);
  Image image;
  int file_channels = 0;
  uint8_t* data = stbi_load(path.c_str(), &image.width, &image.height, &file_channels, channels);
  RF_CHECK(data, path, ": cannot read image: ", stbi_failure_reason());
  image.channels = channels ? channels : file_channels;
  image.pixels.assign(data,
                      data + static_cast<size_t>(image.width) * image.height * image.channels);
  stbi_image_free(data);
  return image;
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
