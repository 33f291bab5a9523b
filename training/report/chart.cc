#include "training/report/chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "framework/error.h"

namespace repflow {
namespace {

constexpr Rgb kBackground = {255, 255, 255};
constexpr Rgb kInk = {0, 0, 0};
constexpr Rgb kGrid = {225, 225, 225};
constexpr int kScale = 2;  // font pixels per image pixel: 10x14 glyphs
constexpr int kPad = 12;

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

struct Ticks {
  Range range;
  std::vector<double> values;
  int decimals = 0;
};

bool finite_point(const ChartSeries& s, size_t i) {
  return std::isfinite(s.x[i]) && std::isfinite(s.y[i]);
}

// 1, 2 or 5 times a power of ten, the first at least `raw`.
double nice_step(double raw) {
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * power >= raw) return m * power;
  return 10.0 * power;
}

// Ticks at whole multiples of a nice spacing that gives about five of them. `extend` widens
// the range out to the outer ticks (the y axes); otherwise it stays the data's (the x axis, so
// the curves span the whole width).
Ticks make_ticks(Range r, bool integer, bool extend) {
  if (r.empty()) r = {0.0, 1.0};
  // A range too narrow to divide (one value, or neighbours in floating point) is widened
  // around its middle.
  const double magnitude = std::max(std::abs(r.lo), std::abs(r.hi));
  if (!(r.hi - r.lo > magnitude * 1e-9)) {
    const double mid = r.lo / 2 + r.hi / 2;
    const double pad = magnitude > 1e-100 ? magnitude * 0.1 : 1.0;
    r = {mid - pad, mid + pad};
  }
  Ticks t;
  t.range = r;
  t.values = {r.lo, r.hi};
  double step = nice_step((r.hi - r.lo) / 5.0);
  if (integer) step = std::max(step, 1.0);
  const double first = std::floor(r.lo / step), last = std::ceil(r.hi / step);
  // Ranges near the limits of double keep the two ends as their only ticks.
  if (!std::isfinite(step) || !(last - first <= 20)) return t;
  if (extend) t.range = {first * step, last * step};
  t.values.clear();
  for (int k = 0; k <= static_cast<int>(last - first); ++k) {
    const double v = (first + k) * step;
    if (v >= t.range.lo - step * 1e-6 && v <= t.range.hi + step * 1e-6) t.values.push_back(v);
  }
  t.decimals = step >= 1.0 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return t;
}

std::string tick_label(const Ticks& t, double v) {
  char buf[64];
  const double magnitude = std::max(std::abs(t.range.lo), std::abs(t.range.hi));
  if (magnitude >= 1e6 || t.decimals > 6)
    std::snprintf(buf, sizeof buf, "%.2e", v);
  else
    std::snprintf(buf, sizeof buf, "%.*f", t.decimals, std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

// Maps a data value onto [from, to] pixels, clamped far outside the image so that the int
// conversion is defined for any value.
int to_pixel(double v, const Range& r, int from, int to) {
  const double p = from + (v - r.lo) / (r.hi - r.lo) * (to - from);
  return static_cast<int>(std::lround(std::clamp(p, -1e6, 1e6)));
}

void fill_rect(Image& image, int x0, int y0, int x1, int y1, Rgb color) {
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) set_pixel(image, x, y, color);
}

// Bresenham's line, each step drawn as a 2x2 block so the curve stays visible when scaled down.
void draw_line(Image& image, int x0, int y0, int x1, int y1, Rgb color) {
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  while (true) {
    fill_rect(image, x0, y0, x0 + 1, y0 + 1, color);
    if (x0 == x1 && y0 == y1) return;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

// The plot frame (inclusive pixel bounds), the same left and right edges for every panel so
// that their x axes line up.
struct Plot {
  int left, top, right, bottom;
};

Ticks y_ticks(const ChartPanel& panel) {
  Range r;
  if (panel.y_min < panel.y_max) {
    r.add(panel.y_min);
    r.add(panel.y_max);
  }
  for (const ChartSeries& s : panel.series)
    for (size_t i = 0; i < s.x.size(); ++i)
      if (finite_point(s, i)) r.add(s.y[i]);
  return make_ticks(r, false, true);
}

void draw_frame(Image& image, const Plot& plot) {
  fill_rect(image, plot.left, plot.top, plot.right, plot.top, kInk);
  fill_rect(image, plot.left, plot.bottom, plot.right, plot.bottom, kInk);
  fill_rect(image, plot.left, plot.top, plot.left, plot.bottom, kInk);
  fill_rect(image, plot.right, plot.top, plot.right, plot.bottom, kInk);
}

void draw_axes(Image& image, const Plot& plot, const Ticks& xt, const Ticks& yt,
               const std::string& x_label) {
  const int line = text_height(kScale);
  for (double v : yt.values) {
    const int y = to_pixel(v, yt.range, plot.bottom, plot.top);
    fill_rect(image, plot.left, y, plot.right, y, kGrid);
    const std::string label = tick_label(yt, v);
    draw_text(image, plot.left - 8 - text_width(label, kScale), y - kGlyphRows * kScale / 2, label,
              kInk, kScale);
  }
  for (double v : xt.values) {
    const int x = to_pixel(v, xt.range, plot.left, plot.right);
    fill_rect(image, x, plot.top, x, plot.bottom, kGrid);
    const std::string label = tick_label(xt, v);
    draw_text(image, x - text_width(label, kScale) / 2, plot.bottom + 6, label, kInk, kScale);
  }
  draw_text(image, (plot.left + plot.right - text_width(x_label, kScale)) / 2,
            plot.bottom + line + 8, x_label, kInk, kScale);
  draw_frame(image, plot);
}

// The points of a series joined by lines, a marker on each; a non-finite point breaks the line.
void draw_series(Image& image, const Plot& plot, const ChartSeries& s, const Ticks& xt,
                 const Ticks& yt, Rgb color) {
  bool joined = false;
  int px = 0, py = 0;
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!finite_point(s, i)) {
      joined = false;
      continue;
    }
    const int x = to_pixel(s.x[i], xt.range, plot.left, plot.right);
    const int y = to_pixel(s.y[i], yt.range, plot.bottom, plot.top);
    if (joined) draw_line(image, px, py, x, y, color);
    fill_rect(image, x - 2, y - 2, x + 3, y + 3, color);
    px = x;
    py = y;
    joined = true;
  }
}

void draw_legend(Image& image, const Plot& plot, const ChartPanel& panel) {
  const int line = text_height(kScale);
  for (size_t k = 0; k < panel.series.size(); ++k) {
    const int y = plot.top + static_cast<int>(k) * (line + 4);
    const int x = plot.right + kPad;
    const int mid = y + kGlyphRows * kScale / 2;
    fill_rect(image, x, mid - 1, x + 19, mid + 2, chart_color(k));
    draw_text(image, x + 28, y, panel.series[k].name, kInk, kScale);
  }
}

std::vector<double> record_values(const std::vector<nlohmann::json>& records,
                                  const std::string& key, double scale) {
  std::vector<double> values;
  for (const nlohmann::json& r : records) {
    const auto it = r.find(key);
    const bool number = it != r.end() && it->is_number();
    values.push_back(number ? it->get<double>() * scale : std::nan(""));
  }
  return values;
}

}  // namespace

Rgb chart_color(size_t index) {
  static constexpr Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14},  {44, 160, 44},
                                     {214, 39, 40},  {148, 103, 189}, {140, 86, 75}};
  return kPalette[index % (sizeof kPalette / sizeof kPalette[0])];
}

Image render_chart(const Chart& chart) {
  RF_CHECK(!chart.panels.empty(), "chart: no panels to draw");
  RF_CHECK(chart.width >= 200 && chart.panel_height >= 120, "chart: ", chart.width, "x",
           chart.panel_height, " pixels per panel is below the 200x120 minimum");
  Range xr;
  for (const ChartPanel& p : chart.panels)
    for (const ChartSeries& s : p.series) {
      RF_CHECK(s.x.size() == s.y.size(), "chart: series '", s.name, "' of panel '", p.title,
               "' has ", s.x.size(), " x values and ", s.y.size(), " y values");
      for (size_t i = 0; i < s.x.size(); ++i)
        if (finite_point(s, i)) xr.add(s.x[i]);
    }
  const Ticks xt = make_ticks(xr, chart.integer_x, false);
  std::vector<Ticks> yts;
  int label_width = 0, legend_width = 0;
  for (const ChartPanel& p : chart.panels) {
    yts.push_back(y_ticks(p));
    for (double v : yts.back().values)
      label_width = std::max(label_width, text_width(tick_label(yts.back(), v), kScale));
    for (const ChartSeries& s : p.series)
      legend_width = std::max(legend_width, 28 + text_width(s.name, kScale) + kPad);
  }

  Image image;
  image.width = chart.width;
  image.height = chart.panel_height * static_cast<int>(chart.panels.size());
  image.channels = 3;
  image.pixels.assign(static_cast<size_t>(image.width) * image.height * 3, kBackground[0]);
  const int line = text_height(kScale);
  for (size_t i = 0; i < chart.panels.size(); ++i) {
    const ChartPanel& panel = chart.panels[i];
    const int top = static_cast<int>(i) * chart.panel_height;
    // Half a tick label of room left of the frame and right of it, for the end labels.
    const Plot plot{kPad + label_width + 8, top + kPad + line + 6,
                    image.width - kPad - std::max(legend_width, 3 * kScale * kGlyphWidth) - 1,
                    top + chart.panel_height - kPad - 2 * line - 8};
    draw_text(image, (plot.left + plot.right - text_width(panel.title, kScale)) / 2, top + kPad,
              panel.title, kInk, kScale);
    draw_axes(image, plot, xt, yts[i], chart.x_label);
    for (size_t k = 0; k < panel.series.size(); ++k)
      draw_series(image, plot, panel.series[k], xt, yts[i], chart_color(k));
    draw_legend(image, plot, panel);
  }
  return image;
}

void write_chart(const std::string& path, const Chart& chart) {
  write_png(path, render_chart(chart));
}

Image render_bar_chart(const BarChart& chart) {
  RF_CHECK(chart.labels.size() == chart.values.size(), "bar chart: ", chart.labels.size(),
           " labels and ", chart.values.size(), " values");
  RF_CHECK(!chart.labels.empty(), "bar chart: no bars to draw");
  RF_CHECK(chart.width >= 300 && chart.row_height >= 20, "bar chart: width ", chart.width,
           " and rows of ", chart.row_height, " pixels are below the 300 and 20 minimum");
  Range r;
  r.add(chart.x_min);
  r.add(chart.x_max);
  for (double v : chart.values)
    if (std::isfinite(v)) r.add(v);
  const Ticks xt = make_ticks(r, false, true);
  const int line = text_height(kScale);
  int label_width = 0;
  for (const std::string& l : chart.labels)
    label_width = std::max(label_width, text_width(l, kScale));
  const int rows = static_cast<int>(chart.labels.size());
  Image image;
  image.width = chart.width;
  image.height = kPad + line + 6 + rows * chart.row_height + 2 * line + 2 * kPad;
  image.channels = 3;
  image.pixels.assign(static_cast<size_t>(image.width) * image.height * 3, kBackground[0]);
  // Room right of the frame for the value printed after the longest bar.
  const Plot plot{kPad + label_width + 8, kPad + line + 6,
                  image.width - kPad - text_width("100.00", kScale) - 8,
                  kPad + line + 6 + rows * chart.row_height};
  RF_CHECK(plot.right - plot.left >= 50, "bar chart: labels of ", label_width,
           " pixels leave no room for bars in ", chart.width);
  draw_text(image, (plot.left + plot.right - text_width(chart.title, kScale)) / 2, kPad,
            chart.title, kInk, kScale);
  for (double v : xt.values) {
    const int x = to_pixel(v, xt.range, plot.left, plot.right);
    fill_rect(image, x, plot.top, x, plot.bottom, kGrid);
    const std::string label = tick_label(xt, v);
    draw_text(image, x - text_width(label, kScale) / 2, plot.bottom + 6, label, kInk, kScale);
  }
  draw_text(image, (plot.left + plot.right - text_width(chart.x_label, kScale)) / 2,
            plot.bottom + line + 8, chart.x_label, kInk, kScale);
  const int zero =
      to_pixel(std::clamp(0.0, xt.range.lo, xt.range.hi), xt.range, plot.left, plot.right);
  for (int i = 0; i < rows; ++i) {
    const int top = plot.top + i * chart.row_height;
    const int text_y = top + (chart.row_height - kGlyphRows * kScale) / 2;
    draw_text(image, plot.left - 8 - text_width(chart.labels[i], kScale), text_y, chart.labels[i],
              kInk, kScale);
    const double v = chart.values[i];
    if (!std::isfinite(v)) {
      draw_text(image, plot.left + 6, text_y, "-", kInk, kScale);
      continue;
    }
    const int end = to_pixel(v, xt.range, plot.left, plot.right);
    fill_rect(image, std::min(zero, end), top + 4, std::max(zero, end), top + chart.row_height - 5,
              chart_color(0));
    char value[32];
    std::snprintf(value, sizeof value, "%.2f", v);
    draw_text(image, std::max(zero, end) + 6, text_y, value, kInk, kScale);
  }
  draw_frame(image, plot);
  return image;
}

void write_bar_chart(const std::string& path, const BarChart& chart) {
  write_png(path, render_bar_chart(chart));
}

Chart training_chart(const std::vector<nlohmann::json>& records) {
  std::vector<double> epochs = record_values(records, "epoch", 1.0);
  for (size_t i = 0; i < epochs.size(); ++i)
    if (std::isnan(epochs[i])) epochs[i] = static_cast<double>(i + 1);
  const auto panel = [&](const std::string& title, double scale,
                         const std::vector<std::pair<std::string, std::string>>& keys) {
    ChartPanel p;
    p.title = title;
    for (const auto& key_name : keys) {
      const std::string& key = key_name.first;  // a structured binding cannot be captured
      const std::string& name = key_name.second;
      const bool present = std::any_of(records.begin(), records.end(),
                                       [&](const nlohmann::json& r) { return r.contains(key); });
      if (present) p.series.push_back({name, epochs, record_values(records, key, scale)});
    }
    return p;
  };
  Chart chart;
  chart.panels.push_back(panel("loss", 1.0, {{"train_loss", "train"}, {"val_loss", "val"}}));
  ChartPanel accuracy = panel("accuracy (%)", 100.0,
                              {{"train_top1", "train top-1"},
                               {"val_top1", "val top-1"},
                               {"val_top5", "val top-5"},
                               {"val_video_top1", "val video top-1"}});
  accuracy.y_min = 0.0;
  accuracy.y_max = 100.0;
  chart.panels.push_back(accuracy);
  return chart;
}

}  // namespace repflow
