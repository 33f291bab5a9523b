// The PNG chart: decodes, has the promised size, shows every series, survives odd data.
#include "training/report/chart.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "framework/error.h"
#include "framework/image_io.h"
#include "tests/test_util.h"

namespace repflow {
namespace {

int64_t count_color(const Image& image, Rgb color) {
  int64_t n = 0;
  for (size_t i = 0; i + 2 < image.pixels.size(); i += 3)
    n += image.pixels[i] == color[0] && image.pixels[i + 1] == color[1] &&
         image.pixels[i + 2] == color[2];
  return n;
}

std::vector<nlohmann::json> records(int epochs) {
  std::vector<nlohmann::json> r;
  for (int e = 1; e <= epochs; ++e)
    r.push_back({{"epoch", e},
                 {"train_loss", 2.0 / e},
                 {"val_loss", 2.2 / e},
                 {"train_top1", 1.0 - 0.8 / e},
                 {"val_top1", 1.0 - 0.9 / e},
                 {"val_top5", 1.0 - 0.5 / e},
                 {"val_video_top1", 1.0 - 0.85 / e}});
  return r;
}

TEST(Chart, TrainingChartIsWrittenAndShowsEverySeries) {
  const std::string path = test_tmp("chart.png");
  std::filesystem::remove(path);
  const Chart chart = training_chart(records(12));
  ASSERT_EQ(chart.panels.size(), 2u);
  EXPECT_EQ(chart.panels[0].series.size(), 2u);
  EXPECT_EQ(chart.panels[1].series.size(), 4u);
  EXPECT_DOUBLE_EQ(chart.panels[1].series[1].y[9], 100.0 * (1.0 - 0.9 / 10));
  write_chart(path, chart);
  const Image image = read_image(path);
  EXPECT_EQ(image.width, chart.width);
  EXPECT_EQ(image.height, 2 * chart.panel_height);
  EXPECT_EQ(image.channels, 3);
  // Each series paints far more than its legend swatch (20x4 pixels).
  for (size_t k = 0; k < 4; ++k) EXPECT_GT(count_color(image, chart_color(k)), 300) << k;
  EXPECT_GT(count_color(image, {0, 0, 0}), 1000);  // frames, ticks and labels
}

// A series' own pixels are what a chart without its data lacks.
TEST(Chart, SeriesPixelsComeFromTheData) {
  Chart with, without;
  with.panels = without.panels = {{"loss", {{"a", {1, 2, 3}, {3, 1, 2}}}}};
  without.panels[0].series[0].y = {NAN, NAN, NAN};
  const int64_t drawn = count_color(render_chart(with), chart_color(0));
  const int64_t legend = count_color(render_chart(without), chart_color(0));
  EXPECT_GT(legend, 0);
  EXPECT_GT(drawn, legend + 200);
}

TEST(Chart, OneEpochConstantAndNonFiniteValuesAreDrawn) {
  const double inf = std::numeric_limits<double>::infinity();
  Chart chart;
  chart.panels = {{"one epoch", {{"a", {1}, {0.5}}}},
                  {"constant", {{"a", {1, 2, 3}, {7, 7, 7}}, {"b", {1, 2, 3}, {0, 0, 0}}}},
                  {"gaps", {{"a", {1, 2, 3, 4, 5}, {1, NAN, inf, -inf, 2}}}},
                  {"empty", {}}};
  const Image image = render_chart(chart);
  EXPECT_EQ(image.height, 4 * chart.panel_height);
  // A lone point is a 6x6 marker, and so are both ends around the gap.
  const int64_t one_epoch =
      count_color(render_chart({"epoch", true, 900, 340, {chart.panels[0]}}), chart_color(0));
  const int64_t legend = 20 * 4;
  EXPECT_EQ(one_epoch, legend + 36);
  EXPECT_GT(count_color(image, chart_color(1)), legend);
}

// Ranges at the edges of double precision must neither hang the tick loop nor divide by zero.
TEST(Chart, ExtremeRangesRender) {
  const double big = std::numeric_limits<double>::max();
  const double tiny = std::numeric_limits<double>::denorm_min();
  Chart chart;
  chart.panels = {{"neighbours", {{"a", {1, 2}, {1e17, 1e17 + 16}}}},
                  {"widest", {{"a", {1, 2}, {-big, big}}}},
                  {"denormal", {{"a", {1, 2}, {tiny, tiny}}}},
                  {"tiny steps", {{"a", {1, 2}, {1e-12, 3e-12}}}}};
  const Image image = render_chart(chart);
  EXPECT_GT(count_color(image, chart_color(0)), 4 * 80);
}

TEST(Chart, TrainingChartSkipsMissingKeysAndNulls) {
  std::vector<nlohmann::json> r = {{{"epoch", 1}, {"train_loss", 1.0}, {"train_top1", nullptr}},
                                   {{"train_loss", 0.5}}};
  const Chart chart = training_chart(r);
  ASSERT_EQ(chart.panels[0].series.size(), 1u);  // no val_loss anywhere
  EXPECT_EQ(chart.panels[0].series[0].x, (std::vector<double>{1, 2}));
  ASSERT_EQ(chart.panels[1].series.size(), 1u);
  EXPECT_TRUE(std::isnan(chart.panels[1].series[0].y[0]));
  render_chart(chart);
}

// Bar lengths are proportional to the values (the bar colour's pixel count per row), a NaN is
// a row without a bar, and the size follows the rows.
TEST(Chart, BarsAreAsLongAsTheirValues) {
  BarChart chart;
  chart.title = "table";
  chart.x_label = "val top-1 (%)";
  chart.labels = {"a", "b", "none", "c"};
  chart.values = {20, 40, std::nan(""), 80};
  const Image image = render_bar_chart(chart);
  EXPECT_EQ(image.width, 900);
  const Image five = render_bar_chart([&] {
    BarChart c = chart;
    c.labels.push_back("d");
    c.values.push_back(10);
    return c;
  }());
  EXPECT_EQ(five.height - image.height, chart.row_height);
  // Each bar's length: the widest run of the bar colour in any of the image's rows.
  const Rgb bar = chart_color(0);
  std::vector<int> lengths;
  int previous = 0;
  for (int y = 0; y < image.height; ++y) {
    int run = 0;
    for (int x = 0; x < image.width; ++x) {
      const uint8_t* p = &image.pixels[(static_cast<size_t>(y) * image.width + x) * 3];
      run += p[0] == bar[0] && p[1] == bar[1] && p[2] == bar[2];
    }
    if (run > 0 && run != previous) lengths.push_back(run);
    previous = run;
  }
  ASSERT_EQ(lengths.size(), 3u);  // the NaN row has none
  EXPECT_NEAR(lengths[1], 2.0 * lengths[0], 2);
  EXPECT_NEAR(lengths[2], 4.0 * lengths[0], 3);
  chart.values.pop_back();
  EXPECT_ERROR_CONTAINS(render_bar_chart(chart), "bar chart: 4 labels and 3 values");
  EXPECT_ERROR_CONTAINS(render_bar_chart(BarChart{}), "bar chart: no bars to draw");
}

TEST(Chart, BadChartsAndUnwritablePathsAreErrors) {
  EXPECT_ERROR_CONTAINS(render_chart(Chart{}), "no panels");
  Chart chart;
  chart.panels = {{"loss", {{"a", {1, 2}, {1}}}}};
  EXPECT_ERROR_CONTAINS(render_chart(chart), "series 'a' of panel 'loss' has 2 x values and 1 y");
  chart.panels[0].series[0].y = {1, 2};
  chart.width = 100;
  EXPECT_ERROR_CONTAINS(render_chart(chart), "below the 200x120 minimum");
  chart.width = 900;
  const std::string path = test_tmp("no/such/dir/chart.png");
  EXPECT_ERROR_CONTAINS(write_chart(path, chart), path);
}

}  // namespace
}  // namespace repflow
