// make_video: writes one synthetic video file (tools/video_writer.h), for tests that run the
// binaries on video files made outside a C++ test (tests/readme_test.py).
#include <cstdio>

#include "framework/error.h"
#include "framework/flags.h"
#include "tools/video_writer.h"

namespace repflow {
namespace {

int run(int argc, char** argv) {
  Flags flags("make_video",
              "Writes a synthetic video: make_video OUT.{mp4,avi,mkv,webm} [--codec ...]");
  flags.add("codec", "h264", "h264, mpeg4, mjpeg, vp8 or vp9");
  flags.add("frames", "12", "frames");
  flags.add("width", "48", "frame width (even)");
  flags.add("height", "40", "frame height (even)");
  flags.add("dx", "1", "motion right, pixels per frame");
  flags.add("dy", "0", "motion down, pixels per frame");
  flags.add("seed", "0", "texture");
  if (!flags.parse(argc, argv, /*allow_positional=*/true)) return 0;
  RF_CHECK(flags.positional().size() == 1, "make_video: give one output file");
  VideoSpec spec;
  spec.codec = parse_video_codec(flags.str("codec"), "flag --codec");
  spec.frames = static_cast<int>(flags.integer_in("frames", 1, 100000));
  spec.width = static_cast<int>(flags.integer_in("width", 16, 4096));
  spec.height = static_cast<int>(flags.integer_in("height", 16, 4096));
  spec.dx = static_cast<int>(flags.integer_in("dx", -100, 100));
  spec.dy = static_cast<int>(flags.integer_in("dy", -100, 100));
  spec.seed = static_cast<int>(flags.integer_in("seed", 0, 1000000));
  spec.b_frames = spec.codec == VideoCodec::kH264 ? 2 : 0;
  write_video(user_path(flags.positional()[0]), spec);
  return 0;
}

}  // namespace
}  // namespace repflow

int main(int argc, char** argv) {
  return repflow::run_main([&] { return repflow::run(argc, argv); });
}
