#pragma once
// Charts as PNG files, drawn by our own rasteriser and bitmap font
// (training/report/bitmap_font.h). Line charts: panels stacked top to bottom over a shared x
// axis, each with tick labels, a title and a legend; the trainer writes chart.png beside
// metrics.jsonl with training_chart(). Bar charts: one horizontal bar per named value, as
// //training:experiments draws a table's results.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/image_io.h"
#include "training/report/bitmap_font.h"

namespace repflow {

// x and y of the same length. Points where either is NaN or infinite are skipped and break the
// line there; a lone point still shows as a marker.
struct ChartSeries {
  std::string name;
  std::vector<double> x, y;
};

struct ChartPanel {
  std::string title;
  std::vector<ChartSeries> series;  // series i is drawn in chart_color(i)
  // When min < max, the y axis spans at least this range (e.g. 0..100 for accuracies); data
  // outside it widens the axis.
  double y_min = 0.0, y_max = 0.0;
};

struct Chart {
  std::string x_label = "epoch";
  bool integer_x = true;  // x ticks only at whole numbers (epochs)
  int width = 900, panel_height = 340;
  std::vector<ChartPanel> panels;
};

// The colour of series `index` (a fixed palette, repeating after 6).
Rgb chart_color(size_t index);

// An RGB image of width x (panel_height * panels) pixels; x and y ranges come from the finite
// data (a constant series or a single point gets a range around its value, no data at all
// 0..1). Errors: no panels, a size under 200 x 120 per panel, x and y of different lengths.
Image render_chart(const Chart& chart);

// render_chart written as PNG atomically (write_png): an unwritable path is an Error naming it.
void write_chart(const std::string& path, const Chart& chart);

// Horizontal bars, one row per label, the label left of its bar and the value printed after it;
// a NaN value (no result) is a row with the label and "-" and no bar. The x axis spans
// [x_min, x_max] widened to the finite values.
struct BarChart {
  std::string title, x_label;
  std::vector<std::string> labels;
  std::vector<double> values;  // one per label
  double x_min = 0.0, x_max = 100.0;
  int width = 900, row_height = 28;
};

// An RGB image `width` wide; Errors: labels and values of different lengths, no labels, a width
// under 300 or rows under 20 pixels.
Image render_bar_chart(const BarChart& chart);
void write_bar_chart(const std::string& path, const BarChart& chart);

// The chart of a metrics.jsonl log (training/report/metrics_log.h): x = "epoch" (the record's
// position, from 1, when missing); panel "loss" with "train_loss" and "val_loss"; panel
// "accuracy (%)" with "train_top1", "val_top1", "val_top5", "val_video_top1" (fractions, drawn as
// percent).
// A key no record has gives no series; a null or non-numeric value is a skipped point.
Chart training_chart(const std::vector<nlohmann::json>& records);

}  // namespace repflow
