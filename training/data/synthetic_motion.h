#pragma once
// The built-in dataset of the default training run: a randomly textured object moving over a
// randomly textured, static background, where the class is the direction of motion alone.
//
// The object's layer wraps around the frame (it is rolled cyclically, with sub-pixel bilinear
// shifts) and its start position is uniform, so its position in any one frame is uniform
// whatever the class: a per-frame (RGB-only) model sees nothing of the class, only the change
// between frames does. Class c of `classes` moves at angle 2 pi c / classes (0 = right, then
// clockwise on screen, y pointing down), at a speed drawn per clip.
//
// Optional difficulties (the `hard` preset turns them on): camera shake moves the whole picture
// by a random offset in every frame, and distractors, smaller textured objects moving in random
// directions beneath the class's object, add motion that says nothing of the class.
//
// Everything is a pure function of (options.seed, options.split, index, request), computed from
// counter-based Philox draws, so any thread gives the same clip in any order.
#include <cstdint>
#include <string>

#include "training/data/dataset.h"
#include "training/data/video_frames.h"

namespace repflow {

struct SyntheticMotionOptions {
  uint64_t seed = 0;
  // Train and validation sets of one seed draw from disjoint streams.
  enum class Split { kTrain, kVal } split = Split::kTrain;
  int64_t size = 1024;  // videos; labels cycle 0, 1, ..., classes - 1, so they are balanced
  int64_t classes = 8;  // directions, evenly spaced
  int64_t frames = 8;   // T of every clip
  int64_t height = 32;
  int64_t width = 32;
  float min_speed = 1.0f;  // pixels per frame, uniform in [min_speed, max_speed]
  float max_speed = 2.0f;
  float min_object = 0.3f;  // object side, as a fraction of the frame's smaller side
  float max_object = 0.5f;
  // Camera shake: each frame's picture is offset by up to +-shake pixels in x and in y, drawn
  // per frame of the video's endless motion.
  float shake = 0.0f;
  int64_t distractors = 0;       // independently moving objects beneath the class's object
  float min_distractor = 0.15f;  // their sides, as fractions of the frame's smaller side
  float max_distractor = 0.25f;
  int64_t texture_cell = 4;  // pixels between the random values of the (bilinear) textures
  float noise = 0.02f;       // std of the per-frame pixel noise (pixel values in [0, 1])
  // Training requests draw a whole new clip of the video's class from (index, request.seed),
  // so no two epochs see the same clip. Off: a training clip is the video's fixed clip,
  // started at a random time (request.seed).
  bool fresh_train_clips = true;
};

// `options` with the motion of a preset: "easy" (the defaults above) or "hard" (the experiments'
// miniature: more classes, slower motion, camera shake, a distractor and more noise). Seed,
// split, size and clip shape are kept. Another name is an Error.
SyntheticMotionOptions synthetic_preset(const std::string& name, SyntheticMotionOptions options);

// How pixel values in [0, 1] (before noise) are normalised: mean 0.5, std 0.25 per channel.
Normalisation synthetic_motion_normalisation();

// The name of class `label` of `classes`: its direction, "right", "down-right", "down", ... when
// the angle is a multiple of 45 degrees (y points down), else "<degrees> deg".
std::string motion_class_name(int64_t label, int64_t classes);

class SyntheticMotion : public Dataset {
 public:
  explicit SyntheticMotion(const SyntheticMotionOptions& options);
  int64_t size() const override { return options_.size; }
  int64_t num_classes() const override { return options_.classes; }
  std::string video_name(int64_t index) const override;
  // Evaluation requests: clip `clip_index` of `clips` starts at frame clip_index * frames of the
  // video's endless motion, so the clips of one video are different but of the same class.
  Clip clip(int64_t index, const ClipRequest& request) const override;
  // The velocity of class `label` at unit speed, in pixels per frame (x right, y down).
  void direction(int64_t label, float* dx, float* dy) const;

 private:
  SyntheticMotionOptions options_;
};

}  // namespace repflow
