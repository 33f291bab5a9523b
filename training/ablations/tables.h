#pragma once
// The paper's ablations (Tables 1-5) as grids of training runs: each cell is one run of
// //training:train with the cell's flags on top of the flags every cell of the run shares.
// docs/experiments.md relates every cell to the paper's rows.
#include <string>
#include <vector>

namespace repflow {

struct ExperimentCell {
  std::string id;     // the run directory's name within the table's directory
  std::string label;  // the row as the paper names it
  std::vector<std::string> flags;
};

struct ExperimentTable {
  int number = 0;
  std::string title;
  std::vector<ExperimentCell> cells;
};

// Tables 1 to 5, in order.
const std::vector<ExperimentTable>& experiment_tables();

// "3" -> {3}; "1,4" -> {1, 4}; "all" -> {1, 2, 3, 4, 5}. Anything else, or a table given twice,
// is an Error naming the flag.
std::vector<int> parse_table_list(const std::string& text);

}  // namespace repflow
