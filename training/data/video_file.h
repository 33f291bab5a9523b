#pragma once
// A video file decoded with FFmpeg (libavformat, libavcodec, libswscale): whatever container and
// codec FFmpeg reads (H.264 in .mp4/.mkv, MPEG-4 part 2 and MJPEG in .avi, VP8/VP9 in .webm,
// ...). Opening it probes the stream and scans its packets (demuxing only, no decoding) for the
// true frame count, their timestamps and keyframes; read() then returns the frames at any list
// of indices by seeking to the keyframe at or before each run of wanted frames and decoding
// forward, never the whole file. The frames are exactly those a full sequential decode gives,
// in its order. Frames come out as 8-bit RGB (training/data/rgb_converter.h).
//
// One VideoFile is used by one thread at a time; the loader opens one per clip on each worker.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/image_io.h"

namespace repflow {

struct VideoReadOptions {
  // FFmpeg's own decoding threads for this file (slice threading: frames split in slices or
  // tiles are decoded in parallel). Loaders that decode W videos at once give each
  // decoder_threads_per_worker(W).
  int threads = 1;
  // The shorter side of the frames read() returns (the longer keeps the aspect ratio, as
  // resized_size in training/data/video_frames.h); 0 keeps the stream's size. Scaling happens in
  // the RGB conversion, which is cheaper than converting at full size and resizing after.
  int decode_size = 0;
};

struct VideoInfo {
  int64_t frames = 0;                 // what a full decode gives (from the packet scan)
  int64_t header_frames = -1;         // what the container's header says; -1 when it says nothing
  double fps = 0;                     // the stream's average frame rate; 0 when unknown
  int width = 0, height = 0;          // the stream's frame size
  int out_width = 0, out_height = 0;  // the size of the frames read() returns
  std::string codec;                  // FFmpeg's name for the decoder
};

// The largest frames read (width x height), before any scaling: the same as for images. A
// header claiming more is refused before anything is allocated for it.
constexpr int64_t kMaxVideoPixels = kMaxImagePixels;
// The largest single allocation FFmpeg may make while reading (av_max_alloc, set for the whole
// process by the first VideoFile): a frame's plane of kMaxVideoPixels at 8 bytes a pixel
// (16-bit RGBA) is 265 MB, and a few kilobytes of a hostile file can claim one; the planes of
// any 8K 4:2:0 frame, even at 16 bits, stay under 70 MB.
constexpr size_t kMaxVideoAllocationBytes = size_t{256} << 20;
// The most packets a video may hold (over 90 hours at 30 frames a second): the packet scan keeps
// a few words per packet, and a longer video is not a clip source.
constexpr int64_t kMaxVideoPackets = 10000000;

// The file extensions of video files that dataset lists name without one (.mp4 .avi .mkv .webm
// .mov), in the order they are tried.
const std::vector<std::string>& video_extensions();

// FFmpeg threads for each of `workers` threads decoding at once: the machine's cores divided
// among them, at least 1, so that workers x threads stays within the cores.
int decoder_threads_per_worker(int workers);

class VideoFile {
 public:
  // Opens, probes and scans the file. Errors name the file and FFmpeg's reason: missing,
  // not a regular file (a directory named x.mp4), empty or truncated before its header, not a
  // video container, no video stream (audio only), a codec FFmpeg cannot decode, a frame size
  // above kMaxVideoPixels, no frames.
  explicit VideoFile(const std::string& path, VideoReadOptions options = {});
  ~VideoFile();
  VideoFile(const VideoFile&) = delete;
  VideoFile& operator=(const VideoFile&) = delete;

  const std::string& path() const;
  const VideoInfo& info() const;

  // The frames at `indices` (each in [0, info().frames); any order, repeats allowed), in that
  // order, as out_width x out_height RGB images. Errors name the file, the frame and FFmpeg's
  // reason: a corrupt stream (decoding errors are not concealed), a frame the decoder never
  // gives, a frame of another size than the stream's (a size that changes mid-stream). Every loop
  // is bounded by the packet count, and FFmpeg's blocking calls are interrupted after a time limit,
  // so a damaged file cannot hang the caller.
  std::vector<Image> read(const std::vector<int64_t>& indices);
  // The same into `frames` (resized to indices.size()), whose images' memory is reused: a
  // thread that reads clip after clip keeps one vector and allocates nothing per clip.
  void read(const std::vector<int64_t>& indices, std::vector<Image>* frames);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace repflow
