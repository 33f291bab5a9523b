// Video files as the datasets and infer read them (FFmpeg): the packet scan that counts frames,
// then the first, a middle and the last frame, decoded at the stream's size or scaled (the first
// byte chooses).
#include "fuzz/fuzz_input.h"
#include "training/data/video_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  repflow::VideoReadOptions options;
  options.decode_size = data[0] % 2 ? 24 : 0;
  const std::string path = repflow::fuzz::write_input(
      "video", std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  repflow::fuzz::expect_clean([&] {
    repflow::VideoFile video(path, options);
    const int64_t frames = video.info().frames;
    if (frames > 0) (void)video.read({0, frames / 2, frames - 1});
  });
  return 0;
}
