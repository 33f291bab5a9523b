#include "framework/image_io.h"

#include <stb_image.h>
#include <stb_image_write.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "framework/atomic_file.h"
#include "framework/error.h"

namespace repflow {

Image read_image(const std::string& path, int channels) {
  RF_CHECK(channels >= 0 && channels <= 4, "read_image: bad channel count ", channels);
  // Only a regular file (a device could be read forever), and the size from the header first: a
  // few bytes claiming 20000 x 20000 would otherwise be decoded into gigabytes of made-up
  // pixels. stb reads from the file itself: decoding from a copy in memory measured slower.
  struct stat st {};
  RF_CHECK(::stat(path.c_str(), &st) == 0, path, ": cannot open file: ", std::strerror(errno));
  RF_CHECK(S_ISREG(st.st_mode), path, ": not a regular file");
  Image image;
  int file_channels = 0;
  RF_CHECK(stbi_info(path.c_str(), &image.width, &image.height, &file_channels), path,
           ": cannot read image: ", stbi_failure_reason());
  RF_CHECK(static_cast<int64_t>(image.width) * image.height <= kMaxImagePixels, path,
           ": an image of ", image.width, "x", image.height, " is larger than the ",
           kMaxImagePixels, " pixels read");
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
