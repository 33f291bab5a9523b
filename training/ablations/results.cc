#include "training/ablations/results.h"

#include <cstdio>

#include "framework/atomic_file.h"
#include "framework/error.h"
#include "training/report/chart.h"

namespace repflow {

std::string table_markdown_path(const std::string& out_dir, int table) {
  return out_dir + "/table" + std::to_string(table) + ".md";
}

std::string table_chart_path(const std::string& out_dir, int table) {
  return out_dir + "/table" + std::to_string(table) + ".png";
}

void write_table_results(const std::string& out_dir, const ExperimentTable& table,
                         const std::vector<CellStatus>& status, int64_t epochs,
                         const std::vector<std::string>& common) {
  RF_CHECK(status.size() == table.cells.size(), "table ", table.number, ": ", status.size(),
           " results for ", table.cells.size(), " cells");
  std::string flags;
  for (const std::string& f : common) flags += " " + f;
  std::string md = "# " + table.title + "\n\nValidation top-1 (%) of each cell's run after " +
                   std::to_string(epochs) + " epoch(s). Cells this command started ran `train" +
                   flags + " --epochs " + std::to_string(epochs) +
                   "` and the cell's flags; each run directory's config.json holds the flags "
                   "its run started with.\n\n" +
                   "| cell | flags | val top-1 (%) | run directory |\n| --- | --- | ---: | --- |\n";
  BarChart chart;
  chart.title = table.title;
  chart.x_label = "val top-1 (%)";
  for (size_t i = 0; i < table.cells.size(); ++i) {
    const ExperimentCell& c = table.cells[i];
    std::string cell_flags;
    for (const std::string& f : c.flags) cell_flags += (cell_flags.empty() ? "" : " ") + f;
    const std::string dir = "table" + std::to_string(table.number) + "/" + c.id;
    chart.labels.push_back(c.label);
    char value[32];
    std::snprintf(value, sizeof value, "%.2f", status[i].val_top1);
    md += "| " + c.label + " | `" + cell_flags + "` | " + value + " | " + dir + " |\n";
    chart.values.push_back(status[i].val_top1);
  }
  write_file_atomic(table_markdown_path(out_dir, table.number), md);
  write_bar_chart(table_chart_path(out_dir, table.number), chart);
}

}  // namespace repflow
