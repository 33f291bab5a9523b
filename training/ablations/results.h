#pragma once
// A table's results in its output directory: table<N>.md, laid out as the paper's table with
// the validation top-1 of every cell, and table<N>.png, the same values as bars.
#include <cstdint>
#include <string>
#include <vector>

#include "training/ablations/cell_run.h"
#include "training/ablations/tables.h"

namespace repflow {

// `status[i]` is cell i's. `common` are the trainer flags
// every cell shared, written into the page so that it says how it was made. Both files are
// written atomically.
void write_table_results(const std::string& out_dir, const ExperimentTable& table,
                         const std::vector<CellStatus>& status, int64_t epochs,
                         const std::vector<std::string>& common);

// The paths write_table_results writes.
std::string table_markdown_path(const std::string& out_dir, int table);
std::string table_chart_path(const std::string& out_dir, int table);

}  // namespace repflow
