#include "training/ablations/tables.h"

#include <algorithm>

#include "framework/error.h"
#include "framework/text.h"

namespace repflow {
namespace {

// A cell whose run directory is named `id` with ',' and '-' made '_'.
ExperimentCell cell(std::string id, std::string label, std::vector<std::string> flags) {
  std::replace_if(
      id.begin(), id.end(), [](char c) { return c == ',' || c == '-'; }, '_');
  return {std::move(id), std::move(label), std::move(flags)};
}

std::vector<ExperimentTable> make_tables() {
  std::vector<ExperimentTable> t;
  t.push_back({1, "Table 1: where the flow layer goes", {}});
  t.back().cells = {
      cell("rgb", "RGB CNN", {"--flow", "none"}),
      cell("flow_cnn", "Flow CNN (TV-L1)", {"--input", "flow"}),
      cell("two_stream", "Two-stream (RGB + TV-L1)", {"--input", "flow", "--fusion", "late"}),
      cell("input", "flow layer on the RGB input", {"--flow", "input"})};
  for (int stage = 1; stage <= 5; ++stage)
    t.back().cells.push_back(cell("after" + std::to_string(stage),
                                  "after block " + std::to_string(stage),
                                  {"--flow", "after" + std::to_string(stage)}));

  t.push_back({2, "Table 2: which flow parameters are learned", {}});
  const std::pair<const char*, const char*> learned[] = {
      {"none", "none (fixed TV-L1)"},
      {"sobel", "Sobel kernels"},
      {"div,grad", "divergence kernels"},
      {"tlt", "tau, lambda, theta"},
      {"all", "all"},
      {"div,grad,tlt", "divergence + tau, lambda, theta"}};
  for (const auto& [value, label] : learned)
    t.back().cells.push_back(cell(std::string("learn_") + value, label, {"--flow-learn", value}));

  t.push_back({3, "Table 3: TV-L1 iterations of the flow layer", {}});
  for (int iters : {1, 5, 10, 20, 50})
    t.back().cells.push_back(cell("iters" + std::to_string(iters),
                                  std::to_string(iters) + " iterations",
                                  {"--flow-iters", std::to_string(iters)}));

  t.push_back({4, "Table 4: fusing RGB and flow", {}});
  for (const char* fusion : {"none", "late", "add", "multiply", "layer-multiply", "concat"})
    t.back().cells.push_back(cell(std::string("fusion_") + fusion, fusion, {"--fusion", fusion}));

  t.push_back({5, "Table 5: flow of flow", {}});
  t.back().cells = {
      cell("single", "one flow layer", {"--flow-stages", "1"}),
      cell("tvl1_twice", "TV-L1 twice (fixed)", {"--flow-stages", "2", "--flow-learn", "none"}),
      cell("fof", "FoF", {"--flow-stages", "2"}),
      cell("fcf", "FcF", {"--flow-stages", "2", "--fcf", "true"}),
      cell("fcfcf", "FcFcF", {"--flow-stages", "3", "--fcf", "true"})};
  return t;
}

}  // namespace

const std::vector<ExperimentTable>& experiment_tables() {
  static const std::vector<ExperimentTable> tables = make_tables();
  return tables;
}

std::vector<int> parse_table_list(const std::string& text) {
  if (text == "all") return {1, 2, 3, 4, 5};
  std::vector<int> out;
  std::vector<std::string> items = split(text, ',');
  if (items.empty()) items.push_back("");  // "" is one empty item, refused below
  for (const std::string& item : items) {
    RF_CHECK(item.size() == 1 && item[0] >= '1' && item[0] <= '5', "flag --table: '", excerpt(text),
             "' is not all or a comma list of tables 1 to 5");
    const int n = item[0] - '0';
    RF_CHECK(std::find(out.begin(), out.end(), n) == out.end(), "flag --table: table ", n,
             " given twice");
    out.push_back(n);
  }
  return out;
}

}  // namespace repflow
