#pragma once
// Line charts as PNG files, drawn by our own rasteriser and bitmap font
// (training/report/bitmap_font.h): panels stacked top to bottom over a shared x axis, each with
// tick labels, a title and a legend. The trainer writes chart.png beside metrics.jsonl with
// training_chart().
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

// The chart of a metrics.jsonl log (training/report/metrics_log.h): x = "epoch" (the record's
// position, from 1, when missing); panel "loss" with "train_loss" and "val_loss"; panel
// "accuracy (%)" with "train_top1", "val_top1", "val_top5", "val_video_top1" (fractions, drawn as
// percent).
// A key no record has gives no series; a null or non-numeric value is a skipped point.
Chart training_chart(const std::vector<nlohmann::json>& records);

}  // namespace repflow
