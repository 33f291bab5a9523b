#include "training/data/video_frames.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "framework/error.h"
#include "framework/image_io.h"

namespace repflow {
namespace {

namespace fs = std::filesystem;

bool is_frame_name(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp";
}

// Natural order: runs of digits compare by value (leading zeros ignored), everything else byte
// by byte; names equal under that order fall back to plain comparison so the order is total.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i]));
    const bool db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei]))) ++ei;
      while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej]))) ++ej;
      size_t si = i, sj = j;
      while (si + 1 < ei && a[si] == '0') ++si;
      while (sj + 1 < ej && b[sj] == '0') ++sj;
      if (ei - si != ej - sj) return ei - si < ej - sj;
      const int c = a.compare(si, ei - si, b, sj, ej - sj);
      if (c != 0) return c < 0;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  if (i < a.size() || j < b.size()) return j < b.size();
  return a < b;
}

// One output coordinate of the bilinear resize: the value is (1 - w) * p[i0] + w * p[i1].
struct Tap {
  int i0, i1;
  float w;
};

// Taps for outputs first..first+count-1 of a `src` -> `dst` resize with pixel centres aligned;
// outside the source the border pixel repeats.
std::vector<Tap> taps(int src, int dst, int first, int count) {
  std::vector<Tap> out(count);
  const double scale = static_cast<double>(src) / dst;
  for (int k = 0; k < count; ++k) {
    const double s = std::clamp((first + k + 0.5) * scale - 0.5, 0.0, src - 1.0);
    const int i0 = static_cast<int>(s);
    out[k] = {i0, std::min(i0 + 1, src - 1), static_cast<float>(s - i0)};
  }
  return out;
}

int crop_start(float fraction, int room) {
  RF_CHECK(fraction >= 0 && fraction <= 1, "read_frames: crop position ", fraction,
           " is outside [0, 1]");
  return std::min(room, static_cast<int>(std::floor(fraction * (room + 1))));
}

}  // namespace

std::vector<std::string> list_frames(const std::string& dir) {
  std::error_code ec;
  RF_CHECK(fs::is_directory(dir, ec), dir, ": not a directory of frames (missing or unreadable)");
  std::vector<std::string> names;
  fs::directory_iterator it(dir, ec);
  RF_CHECK(!ec, dir, ": cannot list frames: ", ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    RF_CHECK(!ec, dir, ": cannot list frames: ", ec.message());
    const std::string name = it->path().filename().string();
    if (!is_frame_name(name)) continue;
    std::error_code status_error;  // a broken link's ENOENT: its type, not_found, says it
    const fs::file_status status = it->status(status_error);
    if (fs::is_directory(status)) continue;  // a folder named like an image holds no frame
    // A broken link or a FIFO in a frame's place would drop that frame and shift the rest.
    RF_CHECK(fs::is_regular_file(status), (fs::path(dir) / name).string(),
             ": named as a frame but not a regular file (a broken link, a FIFO or a device)");
    names.push_back(name);
  }
  RF_CHECK(!names.empty(), dir, ": no frames (no .jpg, .jpeg, .png or .bmp files)");
  std::sort(names.begin(), names.end(), natural_less);
  std::vector<std::string> paths;
  paths.reserve(names.size());
  for (const std::string& name : names) paths.push_back((fs::path(dir) / name).string());
  return paths;
}

std::vector<int64_t> evenly_spaced_frames(int64_t count, int64_t length) {
  RF_CHECK(count >= 1 && length >= 1, "evenly_spaced_frames: need at least one frame (", count,
           ") and a clip length of at least one (", length, ")");
  std::vector<int64_t> out(length);
  for (int64_t i = 0; i < length; ++i)
    out[i] = count >= length ? (2 * i + 1) * count / (2 * length) : i % count;
  return out;
}

Normalisation imagenet_normalisation() {
  return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
}

Normalisation paper_normalisation() { return {{0.5f, 0.5f, 0.5f}, {-0.5f, -0.5f, -0.5f}}; }

Normalisation parse_normalisation(const std::string& name, const std::string& flag) {
  if (name == "imagenet") return imagenet_normalisation();
  if (name == "paper") return paper_normalisation();
  Normalisation n{};
  float* values[6] = {&n.mean[0], &n.mean[1], &n.mean[2], &n.std[0], &n.std[1], &n.std[2]};
  const char* p = name.c_str();
  bool ok = true;
  for (int i = 0; i < 6 && ok; ++i) {
    char* end = nullptr;
    *values[i] = std::strtof(p, &end);
    ok = end != p && std::isfinite(*values[i]) && *end == (i == 5 ? '\0' : i == 2 ? '/' : ',');
    p = end + (i < 5 ? 1 : 0);
  }
  for (int c = 0; c < 3 && ok; ++c) ok = n.std[c] != 0;
  RF_CHECK(ok, flag, ": '", name,
           "' is not imagenet, paper or M,M,M/S,S,S (three means, three non-zero stds)");
  check_normalisation(n, flag + " '" + name + "'");
  return n;
}

void check_normalisation(const Normalisation& norm, const std::string& what) {
  for (int c = 0; c < 3; ++c) {
    const double mean = norm.mean[c];
    const double reach = std::max(std::fabs(mean), std::fabs(1.0 - mean));
    RF_CHECK(norm.std[c] != 0 && reach / std::fabs(norm.std[c]) <= kMaxNormalisedPixel, what,
             ": channel ", c, " (mean ", norm.mean[c], ", std ", norm.std[c],
             ") would normalise pixels in [0, 1] beyond +-", kMaxNormalisedPixel);
  }
}

std::string normalisation_text(const Normalisation& norm) {
  const auto same = [&norm](const Normalisation& other) {
    return norm.mean == other.mean && norm.std == other.std;
  };
  if (same(imagenet_normalisation())) return "imagenet";
  if (same(paper_normalisation())) return "paper";
  std::string text;
  char number[32];
  for (int i = 0; i < 6; ++i) {
    std::snprintf(number, sizeof number, "%.9g", i < 3 ? norm.mean[i] : norm.std[i - 3]);
    text += (i == 0 ? "" : i == 3 ? "/" : ",") + std::string(number);
  }
  return text;
}

std::array<int, 2> resized_size(int width, int height, int shorter, const std::string& what) {
  const int64_t r = shorter, small = std::min(width, height);
  const int64_t longer =
      std::max<int64_t>(1, (2 * int64_t{std::max(width, height)} * r + small) / (2 * small));
  RF_CHECK(longer <= kMaxImagePixels / std::max<int64_t>(r, 1), what, ": frames of ", width, "x",
           height, " resized to a shorter side of ", shorter, " would be ",
           width <= height ? r : longer, "x", width <= height ? longer : r, ", larger than the ",
           kMaxImagePixels, " pixels a frame may take");
  const int l = static_cast<int>(longer);
  return {width <= height ? shorter : l, width <= height ? l : shorter};
}

Tensor transform_frames(int64_t count, const std::function<const Image&(int64_t)>& frame,
                        const std::function<std::string(int64_t)>& name,
                        const FrameTransform& transform) {
  RF_CHECK(count >= 1, "read_frames: no frames to read");
  RF_CHECK(transform.resize >= 0 && transform.crop >= 0, "read_frames: resize ", transform.resize,
           " and crop ", transform.crop, " must not be negative");
  for (int c = 0; c < 3; ++c)
    RF_CHECK(transform.norm.std[c] != 0 && std::isfinite(transform.norm.std[c]) &&
                 std::isfinite(transform.norm.mean[c]),
             "read_frames: channel ", c, " has mean ", transform.norm.mean[c], " and std ",
             transform.norm.std[c]);
  const Image* image = &frame(0);
  RF_CHECK(image->channels == 3, name(0), ": frame has ", image->channels, " channels, not 3");
  const int width = image->width, height = image->height;
  int scaled_w = width, scaled_h = height;
  if (transform.resize > 0) {
    const std::array<int, 2> size = resized_size(width, height, transform.resize, name(0));
    scaled_w = size[0];
    scaled_h = size[1];
  }
  const int out_w = transform.crop ? transform.crop : scaled_w;
  const int out_h = transform.crop ? transform.crop : scaled_h;
  RF_CHECK(out_w <= scaled_w && out_h <= scaled_h, name(0), ": a ", transform.crop, "x",
           transform.crop, " crop does not fit in the frame (", width, "x", height,
           transform.resize
               ? ", resized to " + std::to_string(scaled_w) + "x" + std::to_string(scaled_h)
               : std::string(),
           ")");
  std::vector<Tap> xs =
      taps(width, scaled_w, crop_start(transform.position.x, scaled_w - out_w), out_w);
  const std::vector<Tap> ys =
      taps(height, scaled_h, crop_start(transform.position.y, scaled_h - out_h), out_h);
  if (transform.flip) std::reverse(xs.begin(), xs.end());
  // (v / 255 - mean) / std as one multiply-add per value.
  float gain[3], bias[3];
  for (int c = 0; c < 3; ++c) {
    gain[c] = 1.0f / (255.0f * transform.norm.std[c]);
    bias[c] = -transform.norm.mean[c] / transform.norm.std[c];
  }

  Tensor clip = Tensor::empty({3, count, out_h, out_w});
  float* out = clip.data();
  const int64_t plane = static_cast<int64_t>(out_h) * out_w, channel = count * plane;
  for (int64_t t = 0; t < count; ++t) {
    if (t > 0) {
      image = &frame(t);
      RF_CHECK(image->channels == 3 && image->width == width && image->height == height, name(t),
               ": frame is ", image->width, "x", image->height, " but ", name(0), " is ", width,
               "x", height);
    }
    const uint8_t* px = image->pixels.data();
    const size_t row_bytes = static_cast<size_t>(width) * 3;
    for (int y = 0; y < out_h; ++y) {
      const uint8_t* r0 = px + ys[y].i0 * row_bytes;
      const uint8_t* r1 = px + ys[y].i1 * row_bytes;
      const float wy = ys[y].w;
      float* dst = out + t * plane + static_cast<int64_t>(y) * out_w;
      for (int x = 0; x < out_w; ++x) {
        const int a = xs[x].i0 * 3, b = xs[x].i1 * 3;
        const float wx = xs[x].w;
        for (int c = 0; c < 3; ++c) {
          const float top = r0[a + c] + wx * (r0[b + c] - r0[a + c]);
          const float bottom = r1[a + c] + wx * (r1[b + c] - r1[a + c]);
          dst[c * channel + x] = (top + wy * (bottom - top)) * gain[c] + bias[c];
        }
      }
    }
  }
  return clip;
}

Tensor read_frames(const std::vector<std::string>& paths, const FrameTransform& transform) {
  RF_CHECK(!paths.empty(), "read_frames: no frames to read");
  Image image;
  return transform_frames(
      static_cast<int64_t>(paths.size()),
      [&](int64_t t) -> const Image& { return image = read_image(paths[t], 3); },
      [&](int64_t t) { return paths[t]; }, transform);
}

}  // namespace repflow
