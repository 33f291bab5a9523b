#include "training/data/rgb_converter.h"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include <cstring>

#include "framework/error.h"

namespace repflow {
namespace {

// A frame's enum field as the integer the decoder stored. A stream may carry any byte there
// (the fuzzer found H.264 with colour space 240), and reading that as the enum type itself is
// undefined behaviour.
template <class Enum>
int raw_value(const Enum& field) {
  static_assert(sizeof(Enum) == sizeof(int), "FFmpeg's enums are int-sized");
  int value;
  std::memcpy(&value, &field, sizeof value);
  return value;
}

// The coefficients the frame says it was encoded with. Streams that do not say (most SD
// video), or say something unknown, are BT.601, as FFmpeg and OpenCV assume.
int colorspace(int space) {
  switch (space) {
    case AVCOL_SPC_BT709:
      return SWS_CS_ITU709;
    case AVCOL_SPC_FCC:
      return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M:
      return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
      return SWS_CS_BT2020;
    default:
      return SWS_CS_ITU601;
  }
}

// The deprecated full-range "J" formats (MJPEG's) as their plain twins; their range is passed
// to libswscale explicitly instead.
AVPixelFormat plain_format(AVPixelFormat format, bool* full_range) {
  switch (format) {
    case AV_PIX_FMT_YUVJ420P:
      *full_range = true;
      return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
      *full_range = true;
      return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
      *full_range = true;
      return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
      *full_range = true;
      return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
      *full_range = true;
      return AV_PIX_FMT_YUV411P;
    default:
      return format;
  }
}

}  // namespace

RgbConverter::RgbConverter(int width, int height) : width_(width), height_(height) {
  RF_CHECK(width >= 1 && height >= 1, "RGB conversion to ", width, "x", height);
}

RgbConverter::~RgbConverter() { sws_freeContext(sws_); }

void RgbConverter::convert(const AVFrame& frame, Image* image) {
  bool full_range = raw_value(frame.color_range) == AVCOL_RANGE_JPEG;
  const AVPixelFormat format = plain_format(static_cast<AVPixelFormat>(frame.format), &full_range);
  // Exact rather than fast: accurate rounding and full-resolution chroma interpolation, so the
  // RGB values do not depend on which SIMD path libswscale takes; area averaging when scaling.
  const bool scaled = frame.width != width_ || frame.height != height_;
  const int flags = (scaled ? SWS_AREA : SWS_BILINEAR) | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT |
                    SWS_FULL_CHR_H_INP;
  sws_ = sws_getCachedContext(sws_, frame.width, frame.height, format, width_, height_,
                              AV_PIX_FMT_RGB24, flags, nullptr, nullptr, nullptr);
  const char* name = av_get_pix_fmt_name(format);
  RF_CHECK(sws_, "libswscale cannot convert ", name ? name : "an unknown pixel format", " ",
           frame.width, "x", frame.height, " to RGB");
  const int* table = sws_getCoefficients(colorspace(raw_value(frame.colorspace)));
  sws_setColorspaceDetails(sws_, table, full_range ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                           0, 1 << 16, 1 << 16);
  image->width = width_;
  image->height = height_;
  image->channels = 3;
  image->pixels.resize(static_cast<size_t>(width_) * height_ * 3);
  uint8_t* planes[4] = {image->pixels.data(), nullptr, nullptr, nullptr};
  const int strides[4] = {width_ * 3, 0, 0, 0};
  const int rows = sws_scale(sws_, frame.data, frame.linesize, 0, frame.height, planes, strides);
  RF_CHECK(rows == height_, "libswscale converted ", rows, " of ", height_, " rows");
}

}  // namespace repflow
