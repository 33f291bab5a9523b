#pragma once
// Decoded video frames (any pixel format FFmpeg's decoders give: YUV 4:2:0/4:2:2/4:4:4 in
// limited or full range, BT.601/709/2020, RGB...) to 8-bit RGB through libswscale: the one
// conversion the video reader (training/data/video_file.h) and the tests' reference decoder
// share, so their frames can be compared bit for bit.
#include "framework/image_io.h"

struct AVFrame;
struct SwsContext;

namespace repflow {

class RgbConverter {
 public:
  // Frames come out width x height: the stream's own size, or scaled (area averaging,
  // antialiased) when it differs.
  RgbConverter(int width, int height);
  ~RgbConverter();
  RgbConverter(const RgbConverter&) = delete;
  RgbConverter& operator=(const RgbConverter&) = delete;

  // `frame` as an RGB image (3 channels) in `image`, whose memory is reused when it has the
  // size already. Frames of any size and format may follow each other. An Error when
  // libswscale cannot convert the format.
  void convert(const AVFrame& frame, Image* image);

 private:
  int width_, height_;
  SwsContext* sws_ = nullptr;
};

}  // namespace repflow
