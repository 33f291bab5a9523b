#pragma once
// A video stored as a directory of frame images (JPEG, PNG or BMP), read into the clip tensor
// the models take: (3, T, H, W) float32 on the CPU. The inference tool and the frame-folder
// datasets share it, so a clip is cut the same way in training and in use.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "framework/image_io.h"
#include "framework/tensor.h"

namespace repflow {

// The frame files of `dir` (extensions .jpg .jpeg .png .bmp, any case; hidden files skipped) as
// paths, in natural order: digit runs compare as numbers, so frame_2 comes before frame_10. An
// Error names the directory when it is missing, unreadable or holds no frames.
std::vector<std::string> list_frames(const std::string& dir);

// `length` frame indices spread evenly over `count` frames: index i is the middle frame of the
// i-th of `length` equal spans. A video shorter than `length` loops from its first frame again
// (0, 1, .., count-1, 0, 1, ..), as the published code's video reader does.
std::vector<int64_t> evenly_spaced_frames(int64_t count, int64_t length);

// Per-channel normalisation of values in [0, 1]: (v - mean) / std.
struct Normalisation {
  std::array<float, 3> mean, std;
};
// torchvision's ImageNet statistics, the usual choice for ImageNet-initialised backbones.
Normalisation imagenet_normalisation();
// The published code's `1 - 2 * pixel / 255` (mean 0.5, std -0.5): what its released weights saw.
Normalisation paper_normalisation();
// The largest magnitude a normalised pixel may reach: far beyond any real statistics, while a
// tiny std (1e-45, say) would make the clips infinite, which nothing downstream tells from data.
constexpr float kMaxNormalisedPixel = 1e6f;
// Whether pixels in [0, 1] normalised by `norm` stay within kMaxNormalisedPixel (and no std is 0);
// otherwise an Error naming `what`.
void check_normalisation(const Normalisation& norm, const std::string& what);
// "imagenet", "paper" or explicit statistics "M,M,M/S,S,S" (three means, then three stds) (the
// --norm flag of the trainer and of //tools:infer); anything else is an Error naming `flag`.
Normalisation parse_normalisation(const std::string& name, const std::string& flag);
// The text parse_normalisation reads back as `norm`: its name when it is a named one.
std::string normalisation_text(const Normalisation& norm);

// How the model's clips are cut: the flags of the same names (--frames, --stride, --resize,
// --size, --norm, --decode-size, and evaluation's --clips-per-video as `clips`), as a run's
// weight file records them (training/weights_meta.h). Only what changes the pixels evaluation
// feeds the model is recorded: --decode-size does (a video decoded at a smaller size and then
// resized is another picture), training's augmentation (--flip) does not.
struct ClipMeta {
  std::optional<int64_t> frames, stride;
  std::optional<int> resize, size, clips, decode_size;
  std::optional<Normalisation> norm;
};

// Where a crop sits, as fractions of the free room: the crop's left column is
// min(room, floor(x * (room + 1))) with room = width - crop, and likewise for rows. A sampler that
// draws x and y uniformly from [0, 1) gets every position with equal chance; 0.5 is the centre.
struct CropPosition {
  float x = 0.5f, y = 0.5f;
};

struct FrameTransform {
  // The shorter side after bilinear resizing (pixel centres aligned, as OpenCV and PyTorch's
  // align_corners=false; no antialiasing); 0 keeps the frames' size.
  int resize = 0;
  int crop = 0;  // side of the square crop taken after resizing; 0 keeps the whole frame
  CropPosition position;
  bool flip = false;  // mirror left-right after cropping
  Normalisation norm = imagenet_normalisation();
};

// The size of a width x height frame whose shorter side is resized to `shorter`, the longer
// side keeping the aspect ratio (rounded to the nearest pixel, at least 1): {width, height}.
// A size over kMaxImagePixels (a thin frame's long side grows with the short one) is an Error
// naming `what` (the file), before anything of that size is allocated.
std::array<int, 2> resized_size(int width, int height, int shorter, const std::string& what);

// One clip, (3, T, H, W), from T RGB frames (Image with 3 channels) of one size: frame(t) gives
// frame t, valid until the next call; name(t) is what errors call it. Resizing, cropping,
// mirroring and normalisation as `transform` says. This is the one transform every clip goes
// through, whether its frames came from image files (read_frames) or from a decoded video file
// (training/data/frame_dataset.h), so a video and its extracted frames give the same clip.
// Errors name the frame: a frame of another size than the first, a crop larger than the frame.
Tensor transform_frames(int64_t count, const std::function<const Image&(int64_t)>& frame,
                        const std::function<std::string(int64_t)>& name,
                        const FrameTransform& transform);

// The frames at `paths` (in that order, repeats allowed) as one (3, T, H, W) clip. Grey or RGBA
// frames become RGB. Every frame must have the size of the first. Errors name the file: missing,
// unreadable or truncated images, a frame of another size, a crop larger than the frame. Runs on
// the calling thread (loaders read several clips at once on their own threads).
Tensor read_frames(const std::vector<std::string>& paths, const FrameTransform& transform);

}  // namespace repflow
