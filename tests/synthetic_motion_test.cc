#include "training/data/synthetic_motion.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <vector>

#include "framework/parallel.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

using Split = SyntheticMotionOptions::Split;

// Noise-free clips whose objects move by whole pixels per frame: 4 classes (right, down, left,
// up) at 2 pixels per frame, so a moved pixel matches its source exactly.
SyntheticMotionOptions exact_options() {
  SyntheticMotionOptions o;
  o.size = 256;
  o.classes = 4;
  o.frames = 6;
  o.height = 24;
  o.width = 32;
  o.min_speed = o.max_speed = 2.0f;
  o.noise = 0.0f;
  return o;
}

// The same with pixel noise, which must be as reproducible as the rest.
SyntheticMotionOptions noisy_options() {
  SyntheticMotionOptions o = exact_options();
  o.noise = 0.05f;
  return o;
}

// A clip's pixel values back in [0, 1].
struct Frames {
  int64_t t, h, w;
  std::vector<float> v;
  explicit Frames(const Tensor& x) : t(x.size(1)), h(x.size(2)), w(x.size(3)) {
    v = x.to_vector();
    for (float& p : v) p = p * 0.25f + 0.5f;
  }
  // Wraps around the frame's edges.
  float at(int64_t c, int64_t f, int64_t y, int64_t x) const {
    y = ((y % h) + h) % h;
    x = ((x % w) + w) % w;
    return v[((c * t + f) * h + y) * w + x];
  }
  bool same(int64_t f1, int64_t y1, int64_t x1, int64_t f0, int64_t y0, int64_t x0,
            float tol) const {
    for (int64_t c = 0; c < 3; ++c)
      if (std::fabs(at(c, f1, y1, x1) - at(c, f0, y0, x0)) > tol) return false;
    return true;
  }
  // Pixels of frame f1 that changed since frame f0 and equal the pixel of f0 displaced by
  // (-sy, -sx): the part of the picture that moved by (sy, sx).
  int64_t moved_pixels(int64_t f0, int64_t f1, int64_t sy, int64_t sx, float tol,
                       std::vector<bool>* mask = nullptr) const {
    int64_t count = 0;
    if (mask) mask->assign(h * w, false);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        if (!same(f1, y, x, f0, y, x, tol) && same(f1, y, x, f0, y - sy, x - sx, tol)) {
          ++count;
          if (mask) (*mask)[y * w + x] = true;
        }
    return count;
  }
  // The displacement (sy, sx), wrapped to [-h/2, h/2) x [-w/2, w/2), that explains most
  // changed pixels between frames f0 and f1.
  void best_shift(int64_t f0, int64_t f1, float tol, int64_t* by, int64_t* bx,
                  int64_t* best) const {
    *best = -1;
    for (int64_t sy = -h / 2; sy < h / 2; ++sy)
      for (int64_t sx = -w / 2; sx < w / 2; ++sx) {
        if (sy == 0 && sx == 0) continue;
        const int64_t n = moved_pixels(f0, f1, sy, sx, tol);
        if (n > *best) {
          *best = n;
          *by = sy;
          *bx = sx;
        }
      }
  }
};

TEST(SyntheticMotion, SameInputsGiveTheSameClipOnAnyThreadInAnyOrder) {
  const SyntheticMotionOptions o = noisy_options();
  const SyntheticMotion ds(o);
  const ClipRequest train = ClipRequest::training(17);
  std::vector<std::vector<float>> first(8), again(8);
  for (int64_t i = 0; i < 8; ++i) first[i] = ds.clip(i, train).frames.to_vector();
  parallel_for(0, 8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = e - 1; i >= b; --i) again[i] = ds.clip(i, train).frames.to_vector();
  });
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(first[i], again[i]) << "video " << i;
  EXPECT_EQ(SyntheticMotion(o).clip(3, train).frames.to_vector(), first[3]);
}

TEST(SyntheticMotion, EveryInputChangesTheClip) {
  const SyntheticMotionOptions o = noisy_options();
  const SyntheticMotion ds(o);
  const ClipRequest train = ClipRequest::training(17);
  const std::vector<float> base = ds.clip(3, train).frames.to_vector();
  EXPECT_NE(ds.clip(3, ClipRequest::training(18)).frames.to_vector(), base);
  EXPECT_NE(ds.clip(7, train).frames.to_vector(), base);  // same class, another video
  EXPECT_NE(ds.clip(3, ClipRequest::evaluation(0, 1)).frames.to_vector(), base);
  EXPECT_NE(ds.clip(3, ClipRequest::evaluation(1, 1)).frames.to_vector(),
            ds.clip(3, ClipRequest::evaluation(0, 1)).frames.to_vector());
  SyntheticMotionOptions seed = o, val = o;
  seed.seed = 1;
  val.split = Split::kVal;
  EXPECT_NE(SyntheticMotion(seed).clip(3, train).frames.to_vector(), base);
  EXPECT_NE(SyntheticMotion(val).clip(3, train).frames.to_vector(), base);
  // Evaluation ignores the request seed.
  ClipRequest eval_seeded = ClipRequest::evaluation(0, 1);
  eval_seeded.seed = 99;
  EXPECT_EQ(ds.clip(3, eval_seeded).frames.to_vector(),
            ds.clip(3, ClipRequest::evaluation(0, 1)).frames.to_vector());
}

TEST(SyntheticMotion, ShapesValueRangeAndBalancedLabels) {
  SyntheticMotionOptions o = exact_options();
  o.size = 30;
  o.classes = 3;
  const SyntheticMotion ds(o);
  EXPECT_EQ(ds.size(), 30);
  EXPECT_EQ(ds.num_classes(), 3);
  EXPECT_EQ(ds.video_name(4), "synthetic #4");
  std::vector<int64_t> per_class(3, 0);
  for (int64_t i = 0; i < ds.size(); ++i) {
    const Clip c = ds.clip(i, ClipRequest{});
    ASSERT_EQ(c.frames.shape(), (Shape{3, 6, 24, 32}));
    ASSERT_TRUE(c.label >= 0 && c.label < 3);
    ++per_class[c.label];
    // Noise-free pixels lie in [0, 1] before normalisation and use most of that range.
    const std::vector<float> v = c.frames.to_vector();
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    EXPECT_GE(*lo, -2.0f - 1e-5f);
    EXPECT_LE(*hi, 2.0f + 1e-5f);
    EXPECT_GT(*hi - *lo, 1.0f);
  }
  EXPECT_EQ(per_class, (std::vector<int64_t>{10, 10, 10}));
}

// The class is the motion: between consecutive frames the moving pixels are displaced by
// exactly the class's velocity, and by no other displacement.
TEST(SyntheticMotion, ObjectMovesByTheClassVelocityBetweenFrames) {
  const SyntheticMotionOptions o = exact_options();
  const SyntheticMotion ds(o);
  const int64_t vel[4][2] = {{0, 2}, {2, 0}, {0, -2}, {-2, 0}};  // (y, x) per class
  const int64_t min_side = std::lround(o.min_object * o.height);
  for (int64_t i = 0; i < 16; ++i) {
    const Clip clip = ds.clip(i, ClipRequest::evaluation(0, 1));
    const Frames f(clip.frames);
    for (int64_t t = 0; t + 1 < f.t; ++t) {
      int64_t sy = 0, sx = 0, best = 0;
      f.best_shift(t, t + 1, 1e-3f, &sy, &sx, &best);
      EXPECT_EQ(sy, vel[clip.label][0]) << "video " << i << " frame " << t;
      EXPECT_EQ(sx, vel[clip.label][1]) << "video " << i << " frame " << t;
      // The object's interior, minus its anti-aliased edges and the strip it uncovered.
      EXPECT_GE(best, (min_side - 4) * (min_side - 4)) << "video " << i;
    }
  }
}

// Eight directions at a fractional speed: the displacement between the first and the last
// frame points along the class's direction.
TEST(SyntheticMotion, DisplacementOverTheClipPointsInTheClassDirection) {
  SyntheticMotionOptions o = exact_options();
  o.classes = 8;
  o.height = o.width = 32;
  o.frames = 8;
  o.min_speed = o.max_speed = 1.5f;
  const SyntheticMotion ds(o);
  for (int64_t i = 0; i < 16; ++i) {
    const Clip clip = ds.clip(i, ClipRequest::evaluation(0, 1));
    const Frames f(clip.frames);
    int64_t sy = 0, sx = 0, best = 0;
    f.best_shift(0, f.t - 1, 0.1f, &sy, &sx, &best);
    float dx, dy;
    ds.direction(clip.label, &dx, &dy);
    const float travelled = o.min_speed * static_cast<float>(f.t - 1);
    EXPECT_NEAR(sx, dx * travelled, 1.0f) << "video " << i;
    EXPECT_NEAR(sy, dy * travelled, 1.0f) << "video " << i;
  }
}

// No single frame tells the class: over many videos of one class the object's position in the
// first and in the last frame is spread evenly around the (wrapped) frame, while its
// displacement between them is the same for all. Positions are circular means of the pixels
// that moved by the class velocity; a path kept inside the frame, or a start biased against the
// direction, concentrates them and fails.
TEST(SyntheticMotion, SingleFramesCarryNoClassInformation) {
  const SyntheticMotionOptions o = exact_options();
  const SyntheticMotion ds(o);
  const int64_t vel[4][2] = {{0, 2}, {2, 0}, {0, -2}, {-2, 0}};
  const double pi = std::acos(-1.0);
  for (int64_t label = 0; label < 4; ++label) {
    std::complex<double> first_x, first_y, last_x, last_y, moved;
    int64_t clips = 0;
    for (int64_t i = label; i < o.size; i += 4, ++clips) {
      const Frames f(ds.clip(i, ClipRequest::evaluation(0, 1)).frames);
      // The object's position in frames 1 and t - 1 (where it arrived from the frame before).
      std::complex<double> pos[2][2];
      for (int k = 0; k < 2; ++k) {
        const int64_t t = k == 0 ? 1 : f.t - 1;
        std::vector<bool> mask;
        f.moved_pixels(t - 1, t, vel[label][0], vel[label][1], 1e-3f, &mask);
        for (int64_t y = 0; y < f.h; ++y)
          for (int64_t x = 0; x < f.w; ++x)
            if (mask[y * f.w + x]) {
              pos[k][0] += std::polar(1.0, 2 * pi * y / f.h);
              pos[k][1] += std::polar(1.0, 2 * pi * x / f.w);
            }
      }
      const auto unit = [](std::complex<double> z) { return z / std::abs(z); };
      first_y += unit(pos[0][0]);
      first_x += unit(pos[0][1]);
      last_y += unit(pos[1][0]);
      last_x += unit(pos[1][1]);
      // The displacement along the motion, as an angle of the axis it moves on.
      const int axis = vel[label][0] != 0 ? 0 : 1;
      moved += unit(pos[1][axis] / pos[0][axis]);
    }
    const double n = static_cast<double>(clips);
    // 64 uniform positions give a mean resultant of about 1 / sqrt(64) = 0.125.
    for (const auto& r : {first_x, first_y, last_x, last_y})
      EXPECT_LT(std::abs(r) / n, 0.35) << "class " << label;
    EXPECT_GT(std::abs(moved) / n, 0.95) << "class " << label;
    const double axis_size = vel[label][0] != 0 ? o.height : o.width;
    const double expected = 2.0 * (o.frames - 2) * 2 * pi / axis_size;
    const double sign = vel[label][0] + vel[label][1] > 0 ? 1 : -1;
    EXPECT_NEAR(std::arg(moved), sign * expected, 0.05) << "class " << label;
  }
}

TEST(SyntheticMotion, TrainingClipsAreFreshOrTimeShifted) {
  SyntheticMotionOptions o = exact_options();
  const ClipRequest a = ClipRequest::training(1), b = ClipRequest::training(2);
  const SyntheticMotion fresh(o);
  const Clip ca = fresh.clip(5, a), cb = fresh.clip(5, b);
  EXPECT_EQ(ca.label, cb.label);
  // Fresh clips: a new background, so the frames differ even where nothing moves.
  EXPECT_NE(ca.frames.to_vector(), cb.frames.to_vector());

  o.fresh_train_clips = false;
  const SyntheticMotion fixed(o);
  const Frames fa(fixed.clip(5, a).frames), fb(fixed.clip(5, b).frames),
      fe(fixed.clip(5, ClipRequest::evaluation(0, 1)).frames);
  // The same video: the static background agrees wherever no object is on it in any of the
  // clips, which is most of the frame.
  int64_t agree = 0;
  for (int64_t y = 0; y < fa.h; ++y)
    for (int64_t x = 0; x < fa.w; ++x) {
      bool all = true;
      for (int64_t c = 0; c < 3; ++c)
        all =
            all && fa.at(c, 0, y, x) == fb.at(c, 0, y, x) && fa.at(c, 0, y, x) == fe.at(c, 0, y, x);
      agree += all;
    }
  EXPECT_GT(agree, fa.h * fa.w / 4);
  EXPECT_NE(fa.v, fb.v);
}

// Camera shake moves background and object together: with static objects, every frame is the
// first one displaced as a whole by less than twice the shake (up to sub-pixel resampling), and
// the displacement changes over the clip; without shake, static frames are equal.
TEST(SyntheticMotion, CameraShakeMovesTheWholePicture) {
  SyntheticMotionOptions o = exact_options();
  o.min_speed = o.max_speed = 0.0f;
  const Frames still(SyntheticMotion(o).clip(2, ClipRequest::evaluation(0, 1)).frames);
  for (int64_t t = 1; t < still.t; ++t)
    for (int64_t i = 0; i < still.h * still.w; ++i)
      ASSERT_EQ(still.v[t * still.h * still.w + i], still.v[i]) << "frame " << t;

  o.shake = 1.5f;
  const SyntheticMotion ds(o);
  int64_t moved_frames = 0;
  for (int64_t video = 0; video < 4; ++video) {
    const Frames f(ds.clip(video, ClipRequest::evaluation(0, 1)).frames);
    for (int64_t t = 1; t < f.t; ++t) {
      int64_t best = 0, by = 0, bx = 0;
      for (int64_t sy = -3; sy <= 3; ++sy)
        for (int64_t sx = -3; sx <= 3; ++sx) {
          int64_t n = 0;
          for (int64_t y = 0; y < f.h; ++y)
            for (int64_t x = 0; x < f.w; ++x) n += f.same(t, y, x, 0, y - sy, x - sx, 0.1f);
          if (n > best) best = n, by = sy, bx = sx;
        }
      EXPECT_GE(best, f.h * f.w * 8 / 10) << "video " << video << " frame " << t;
      moved_frames += by != 0 || bx != 0;
    }
  }
  EXPECT_GE(moved_frames, 4);
}

// A distractor changes only a region of its own size in each frame, and leaves the clip's
// object, background and class as they were.
TEST(SyntheticMotion, DistractorsAddIndependentMotionOnly) {
  SyntheticMotionOptions o = exact_options();
  const SyntheticMotion plain(o);
  o.distractors = 1;
  const SyntheticMotion busy(o);
  const int64_t side = std::lround(o.max_distractor * std::min(o.height, o.width)) + 2;
  int64_t seen = 0;
  for (int64_t video = 0; video < 8; ++video) {
    const Clip a = plain.clip(video, ClipRequest::training(3));
    const Clip b = busy.clip(video, ClipRequest::training(3));
    EXPECT_EQ(a.label, b.label);
    const Frames fa(a.frames), fb(b.frames);
    int64_t changed_frames = 0;
    for (int64_t t = 0; t < fa.t; ++t) {
      int64_t changed = 0;
      for (int64_t y = 0; y < fa.h; ++y)
        for (int64_t x = 0; x < fa.w; ++x) {
          bool same = true;
          for (int64_t c = 0; c < 3; ++c)
            same = same && std::fabs(fa.at(c, t, y, x) - fb.at(c, t, y, x)) <= 1e-4f;
          changed += !same;
        }
      EXPECT_LE(changed, side * side) << "video " << video << " frame " << t;
      changed_frames += changed > 0;
    }
    seen += changed_frames > 0;
  }
  // Hidden only where the object covers it, which can last a whole short clip.
  EXPECT_GE(seen, 6);
}

TEST(SyntheticMotion, PresetsSetTheMotionAndKeepTheRest) {
  SyntheticMotionOptions o = exact_options();
  o.seed = 7;
  const SyntheticMotionOptions hard = synthetic_preset("hard", o);
  EXPECT_EQ(hard.seed, 7u);
  EXPECT_EQ(hard.size, o.size);
  EXPECT_EQ(hard.frames, o.frames);
  EXPECT_EQ(hard.height, o.height);
  EXPECT_EQ(hard.classes, 12);
  EXPECT_GT(hard.shake, 0.0f);
  EXPECT_EQ(hard.distractors, 1);
  EXPECT_LT(hard.max_speed, SyntheticMotionOptions{}.min_speed * 1.5f);
  EXPECT_GT(hard.noise, SyntheticMotionOptions{}.noise);
  const SyntheticMotionOptions easy = synthetic_preset("easy", hard);
  const SyntheticMotionOptions defaults;
  EXPECT_EQ(easy.classes, defaults.classes);
  EXPECT_EQ(easy.shake, defaults.shake);
  EXPECT_EQ(easy.distractors, defaults.distractors);
  EXPECT_EQ(easy.min_speed, defaults.min_speed);
  EXPECT_EQ(easy.noise, defaults.noise);
  EXPECT_EQ(easy.seed, 7u);
  EXPECT_ERROR_CONTAINS(synthetic_preset("medium", o), "synthetic preset 'medium'");
}

TEST(SyntheticMotion, BadOptionsAndIndicesAreErrors) {
  const auto with = [](auto set) {
    SyntheticMotionOptions o;
    set(o);
    return o;
  };
  EXPECT_ERROR_CONTAINS(SyntheticMotion{with([](auto& o) { o.classes = 1; })}, "classes >= 2");
  EXPECT_ERROR_CONTAINS(SyntheticMotion{with([](auto& o) { o.frames = 1; })}, "frames >= 2");
  EXPECT_ERROR_CONTAINS(SyntheticMotion{with([](auto& o) { o.min_speed = 3; })},
                        "min_speed <= max_speed");
  EXPECT_ERROR_CONTAINS(SyntheticMotion{with([](auto& o) { o.max_object = 1.5f; })},
                        "max_object <= 1");
  EXPECT_ERROR_CONTAINS(SyntheticMotion{with([](auto& o) { o.noise = -1; })}, "noise not negative");
  EXPECT_ERROR_CONTAINS(SyntheticMotion{with([](auto& o) { o.shake = -1; })}, "shake >= 0");
  EXPECT_ERROR_CONTAINS(SyntheticMotion{with([](auto& o) { o.distractors = 17; })},
                        "distractors <= 16");
  EXPECT_ERROR_CONTAINS(SyntheticMotion{with([](auto& o) { o.max_distractor = 2; })},
                        "max_distractor <= 1");
  const SyntheticMotion ds(SyntheticMotionOptions{});
  EXPECT_ERROR_CONTAINS(ds.clip(ds.size(), ClipRequest{}), "video 1024 is out of range");
  EXPECT_ERROR_CONTAINS(ds.clip(-1, ClipRequest{}), "video -1 is out of range");
}

}  // namespace
}  // namespace repflow
