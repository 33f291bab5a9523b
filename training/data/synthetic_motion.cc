#include "training/data/synthetic_motion.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "framework/error.h"
#include "framework/philox.h"

namespace repflow {
namespace {

// A 64-bit key from a key and two counters: the derived streams of different (a, b) are
// unrelated, which keeps videos, splits and requests apart.
uint64_t derive_key(uint64_t key, uint64_t a, uint64_t b) { return word64(philox4x32(key, a, b)); }

// Draw streams of one clip key; distractor i draws from kDistractor + 2 i (scalars) and
// kDistractor + 2 i + 1 (texture).
enum Stream : uint64_t { kScalars, kBackground, kObject, kNoise, kShake, kDistractor };

// Uniform draws of one stream, taken in order.
class Draws {
 public:
  Draws(uint64_t key, Stream stream) : key_(key), stream_(stream) {}
  float uniform(float lo, float hi) { return lo + (hi - lo) * philox_uniform(key_, stream_, i_++); }

 private:
  uint64_t key_;
  Stream stream_;
  uint64_t i_ = 0;
};

// An image of `channels` planes (h, w), channel-major.
struct Planes {
  int64_t channels, h, w;
  std::vector<float> v;
  Planes(int64_t c, int64_t h_, int64_t w_) : channels(c), h(h_), w(w_), v(c * h_ * w_, 0.0f) {}
  float& at(int64_t c, int64_t y, int64_t x) { return v[(c * h + y) * w + x]; }
  float at(int64_t c, int64_t y, int64_t x) const { return v[(c * h + y) * w + x]; }
};

// A periodic colour texture over (h, w): a mean colour drawn in [0.25, 0.75] per channel, plus
// values within +-0.25 of it on a grid about `cell` pixels apart, interpolated bilinearly with
// wrap-around (so the texture tiles the torus the object moves on).
Planes texture(Draws& d, int64_t h, int64_t w, int64_t cell) {
  const int64_t gy = std::max<int64_t>(1, h / cell), gx = std::max<int64_t>(1, w / cell);
  Planes grid(3, gy, gx), out(3, h, w);
  for (int64_t c = 0; c < 3; ++c) {
    const float mean = d.uniform(0.25f, 0.75f);
    for (int64_t i = 0; i < gy * gx; ++i) grid.v[c * gy * gx + i] = mean + d.uniform(-0.25f, 0.25f);
  }
  for (int64_t y = 0; y < h; ++y) {
    const float fy = static_cast<float>(y) * gy / h;
    const int64_t y0 = static_cast<int64_t>(fy), y1 = (y0 + 1) % gy;
    const float ay = fy - y0;
    for (int64_t x = 0; x < w; ++x) {
      const float fx = static_cast<float>(x) * gx / w;
      const int64_t x0 = static_cast<int64_t>(fx), x1 = (x0 + 1) % gx;
      const float ax = fx - x0;
      for (int64_t c = 0; c < 3; ++c)
        out.at(c, y, x) = (1 - ay) * ((1 - ax) * grid.at(c, y0, x0) + ax * grid.at(c, y0, x1)) +
                          ay * ((1 - ax) * grid.at(c, y1, x0) + ax * grid.at(c, y1, x1));
    }
  }
  return out;
}

// Bilinear sample of plane c of `p` at (y, x), wrapping around both edges.
float sample_wrapped(const Planes& p, int64_t c, float y, float x) {
  const float fy = std::floor(y), fx = std::floor(x);
  const float ay = y - fy, ax = x - fx;
  const auto wrap = [](int64_t i, int64_t n) { return ((i % n) + n) % n; };
  const int64_t y0 = wrap(static_cast<int64_t>(fy), p.h), y1 = wrap(y0 + 1, p.h);
  const int64_t x0 = wrap(static_cast<int64_t>(fx), p.w), x1 = wrap(x0 + 1, p.w);
  return (1 - ay) * ((1 - ax) * p.at(c, y0, x0) + ax * p.at(c, y0, x1)) +
         ay * ((1 - ax) * p.at(c, y1, x0) + ax * p.at(c, y1, x1));
}

// A textured rectangle of oh x ow pixels moving with constant velocity over the torus: its
// premultiplied colour in planes 0-2 and its coverage in plane 3, at the origin.
struct MovingObject {
  Planes layer;
  float y0, x0;  // position at frame 0
  float vy, vx;  // pixels per frame
  MovingObject(Draws& texture_draws, int64_t h, int64_t w, int64_t oh, int64_t ow, int64_t cell)
      : layer(4, h, w) {
    const Planes colour = texture(texture_draws, h, w, cell);
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t x = 0; x < ow; ++x) {
        for (int64_t c = 0; c < 3; ++c) layer.at(c, y, x) = colour.at(c, y, x);
        layer.at(3, y, x) = 1.0f;
      }
    }
  }
  // Its top-left corner at `frame` of the endless motion, in double and wrapped so that late
  // clips keep the sub-pixel precision of early ones.
  void position(int64_t frame, float* oy, float* ox) const {
    const auto at = [&](float p0, float v, int64_t n) {
      const double p = p0 + static_cast<double>(v) * static_cast<double>(frame);
      return static_cast<float>(std::fmod(p, static_cast<double>(n)));
    };
    *oy = at(y0, vy, layer.h);
    *ox = at(x0, vx, layer.w);
  }
  // Composites the object at (oy, ox) over `rgb` at pixel (y, x).
  void over(float oy, float ox, int64_t y, int64_t x, float rgb[3]) const {
    const float sy = static_cast<float>(y) - oy, sx = static_cast<float>(x) - ox;
    const float cover = sample_wrapped(layer, 3, sy, sx);
    if (cover == 0.0f) return;
    for (int64_t c = 0; c < 3; ++c)
      rgb[c] = sample_wrapped(layer, c, sy, sx) + (1 - cover) * rgb[c];
  }
};

// Side of an object, as a fraction of the frame's smaller side drawn in [lo, hi].
int64_t object_side(Draws& d, float side, float lo, float hi) {
  return std::max<int64_t>(1, std::lround(side * d.uniform(lo, hi)));
}

}  // namespace

SyntheticMotion::SyntheticMotion(const SyntheticMotionOptions& o) : options_(o) {
  RF_CHECK(o.size >= 1 && o.classes >= 2 && o.frames >= 2 && o.height >= 4 && o.width >= 4,
           "SyntheticMotion: needs size >= 1, classes >= 2, frames >= 2 and frames of at least "
           "4x4 pixels, got size ",
           o.size, ", classes ", o.classes, ", frames ", o.frames, ", ", o.height, "x", o.width);
  RF_CHECK(o.min_speed >= 0 && o.max_speed >= o.min_speed,
           "SyntheticMotion: speeds must satisfy 0 <= min_speed <= max_speed, got ", o.min_speed,
           " and ", o.max_speed);
  RF_CHECK(o.min_object > 0 && o.max_object >= o.min_object && o.max_object <= 1,
           "SyntheticMotion: object sizes must satisfy 0 < min_object <= max_object <= 1, got ",
           o.min_object, " and ", o.max_object);
  RF_CHECK(o.shake >= 0 && o.distractors >= 0 && o.distractors <= 16 && o.min_distractor > 0 &&
               o.max_distractor >= o.min_distractor && o.max_distractor <= 1,
           "SyntheticMotion: needs shake >= 0, 0 <= distractors <= 16 and distractor sizes with "
           "0 < min_distractor <= max_distractor <= 1, got ",
           o.shake, ", ", o.distractors, ", ", o.min_distractor, " and ", o.max_distractor);
  RF_CHECK(o.texture_cell >= 1 && o.noise >= 0,
           "SyntheticMotion: texture_cell must be positive and noise not negative, got ",
           o.texture_cell, " and ", o.noise);
}

SyntheticMotionOptions synthetic_preset(const std::string& name, SyntheticMotionOptions o) {
  const SyntheticMotionOptions easy;
  o.classes = easy.classes;
  o.min_speed = easy.min_speed;
  o.max_speed = easy.max_speed;
  o.min_object = easy.min_object;
  o.max_object = easy.max_object;
  o.shake = easy.shake;
  o.distractors = easy.distractors;
  o.min_distractor = easy.min_distractor;
  o.max_distractor = easy.max_distractor;
  o.texture_cell = easy.texture_cell;
  o.noise = easy.noise;
  if (name == "easy") return o;
  RF_CHECK(name == "hard", "synthetic preset '", excerpt(name), "' is not easy or hard");
  o.classes = 12;
  o.min_speed = 0.5f;
  o.max_speed = 1.25f;
  o.shake = 0.5f;
  o.distractors = 1;
  o.noise = 0.05f;
  return o;
}

Normalisation synthetic_motion_normalisation() {
  return {{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}};
}

std::string motion_class_name(int64_t label, int64_t classes) {
  RF_CHECK(classes >= 1 && label >= 0 && label < classes, "motion class ", label, " of ", classes);
  // Degrees clockwise from right, exact when 360 * label / classes is a whole number.
  if (360 * label % classes == 0 && 360 * label / classes % 45 == 0) {
    static const char* const kNames[] = {"right", "down-right", "down", "down-left",
                                         "left",  "up-left",    "up",   "up-right"};
    return kNames[360 * label / classes / 45];
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.4g deg", 360.0 * static_cast<double>(label) / classes);
  return text;
}

std::string SyntheticMotion::video_name(int64_t index) const {
  return "synthetic #" + std::to_string(index);
}

void SyntheticMotion::direction(int64_t label, float* dx, float* dy) const {
  const double angle =
      2 * M_PI * static_cast<double>(label) / static_cast<double>(options_.classes);
  *dx = static_cast<float>(std::cos(angle));
  *dy = static_cast<float>(std::sin(angle));
}

Clip SyntheticMotion::clip(int64_t index, const ClipRequest& request) const {
  const SyntheticMotionOptions& o = options_;
  const Normalisation norm = synthetic_motion_normalisation();
  RF_CHECK(index >= 0 && index < o.size, "SyntheticMotion: video ", index, " is out of range [0, ",
           o.size, ")");
  const int64_t label = index % o.classes;
  const uint64_t video_key =
      derive_key(o.seed, o.split == SyntheticMotionOptions::Split::kTrain ? 0 : 1,
                 static_cast<uint64_t>(index));
  const bool fresh = request.train && o.fresh_train_clips;
  const uint64_t key = fresh ? derive_key(video_key, 1, request.seed) : video_key;

  Draws scalars(key, kScalars);
  const int64_t h = o.height, w = o.width, t_count = o.frames;
  const float side = static_cast<float>(std::min(h, w));
  const int64_t oh = object_side(scalars, side, o.min_object, o.max_object);
  const int64_t ow = object_side(scalars, side, o.min_object, o.max_object);
  const float speed = scalars.uniform(o.min_speed, o.max_speed);
  Draws object_draws(key, kObject);
  MovingObject object(object_draws, h, w, oh, ow, o.texture_cell);
  object.y0 = scalars.uniform(0, static_cast<float>(h));
  object.x0 = scalars.uniform(0, static_cast<float>(w));
  float dx, dy;
  direction(label, &dx, &dy);
  object.vy = speed * dy;
  object.vx = speed * dx;

  // Distractors: the same speeds as the object, in directions drawn uniformly.
  std::vector<MovingObject> distractors;
  for (int64_t i = 0; i < o.distractors; ++i) {
    Draws d(key, static_cast<Stream>(kDistractor + 2 * i));
    Draws d_texture(key, static_cast<Stream>(kDistractor + 2 * i + 1));
    const int64_t dh = object_side(d, side, o.min_distractor, o.max_distractor);
    const int64_t dw = object_side(d, side, o.min_distractor, o.max_distractor);
    MovingObject m(d_texture, h, w, dh, dw, o.texture_cell);
    const float angle = d.uniform(0, static_cast<float>(2 * M_PI));
    const float v = d.uniform(o.min_speed, o.max_speed);
    m.y0 = d.uniform(0, static_cast<float>(h));
    m.x0 = d.uniform(0, static_cast<float>(w));
    m.vy = v * std::sin(angle);
    m.vx = v * std::cos(angle);
    distractors.push_back(std::move(m));
  }

  // The first frame of the clip in the video's endless motion.
  int64_t start = 0;
  if (!request.train) {
    start = static_cast<int64_t>(request.clip_index) * t_count;
  } else if (!fresh) {
    start = static_cast<int64_t>(derive_key(video_key, 3, request.seed) % 1024);
  }

  Draws bg_draws(key, kBackground);
  const Planes background = texture(bg_draws, h, w, o.texture_cell);

  // Noise differs between the requests that show one video's content.
  const uint64_t noise_key =
      fresh ? key : derive_key(key, 2, request.train ? request.seed : request.clip_index);
  Tensor frames = Tensor::empty({3, t_count, h, w});
  float* out = frames.data();
  std::vector<std::pair<float, float>> at(distractors.size());
  for (int64_t t = 0; t < t_count; ++t) {
    const int64_t frame = start + t;
    // The camera's offset in this frame; a function of the frame, so clips agree where they meet.
    float shake_y = 0, shake_x = 0;
    if (o.shake > 0) {
      shake_y = o.shake * (2 * philox_uniform(key, kShake, 2 * static_cast<uint64_t>(frame)) - 1);
      shake_x =
          o.shake * (2 * philox_uniform(key, kShake, 2 * static_cast<uint64_t>(frame) + 1) - 1);
    }
    float oy, ox;
    object.position(frame, &oy, &ox);
    oy += shake_y;
    ox += shake_x;
    for (size_t i = 0; i < distractors.size(); ++i) {
      distractors[i].position(frame, &at[i].first, &at[i].second);
      at[i].first += shake_y;
      at[i].second += shake_x;
    }
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        float rgb[3];
        for (int64_t c = 0; c < 3; ++c)
          rgb[c] = o.shake > 0 ? sample_wrapped(background, c, static_cast<float>(y) - shake_y,
                                                static_cast<float>(x) - shake_x)
                               : background.at(c, y, x);
        for (size_t i = 0; i < distractors.size(); ++i)
          distractors[i].over(at[i].first, at[i].second, y, x, rgb);
        object.over(oy, ox, y, x, rgb);
        for (int64_t c = 0; c < 3; ++c) {
          const int64_t i = ((c * t_count + t) * h + y) * w + x;
          const float noisy =
              rgb[c] + o.noise * philox_normal(noise_key, kNoise, static_cast<uint64_t>(i));
          out[i] = (noisy - norm.mean[c]) / norm.std[c];
        }
      }
    }
  }
  return Clip{frames, label};
}

}  // namespace repflow
