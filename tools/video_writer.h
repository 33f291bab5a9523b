#pragma once
// Video files encoded with libavcodec's encoders (Debian's FFmpeg: libx264, mpeg4, mjpeg, libvpx
// VP8 and VP9, AAC for sound) from synthetic moving pictures: the inputs of the loader benchmark
// (//tools:bench_loader) and of the video tests, which make their own files.
#include <string>

#include "framework/image_io.h"

namespace repflow {

enum class VideoCodec { kH264, kMpeg4, kMjpeg, kVp8, kVp9 };

struct VideoSpec {
  VideoCodec codec = VideoCodec::kH264;
  int width = 64, height = 48;  // even
  int frames = 30;
  int fps = 25;
  int gop = 250;     // frames between keyframes (H.264, MPEG-4, VP8/VP9)
  int b_frames = 3;  // H.264 and MPEG-4 (0: none)
  // MP4 only: the index (moov) before the data, so that a file cut short keeps a header that
  // claims frames it no longer holds.
  bool faststart = false;
  // Motion in pixels per frame of the textured picture (the class of a motion dataset).
  int dx = 1, dy = 0;
  int seed = 0;
  // H.264 only: x264's rate factor (lower is better quality, larger files).
  int crf = 16;
  // Pixel noise of up to +-noise levels, different in every frame: the grain of real footage,
  // which costs bits and decoding time as a camera's does.
  int noise = 0;
};

// "h264", "mpeg4", "mjpeg", "vp8" or "vp9"; anything else is an Error naming `flag`.
VideoCodec parse_video_codec(const std::string& name, const std::string& flag);

// What frame t of a video of `spec` shows (RGB, width x height): a texture moving by (dx, dy)
// per frame, with the frame's index written as a row of 8 x 8 black or white blocks at the top
// (bit i of t in block i), so that every frame differs from every other one visibly even after
// lossy coding.
Image synthetic_frame(const VideoSpec& spec, int t);

// Encodes spec.frames synthetic frames into `path` (its directory made when missing); the
// container is the extension's (.mp4, .mkv, .avi, .webm, .mov). Errors name the file and
// FFmpeg's reason.
void write_video(const std::string& path, const VideoSpec& spec);

// A file with one AAC audio stream and no video (.mp4).
void write_audio_only(const std::string& path);

}  // namespace repflow
