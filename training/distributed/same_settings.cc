#include "training/distributed/same_settings.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/error.h"

namespace repflow {
namespace {

// The settings travel as JSON text, a byte to a float (exact for 0..255), since the collectives
// take tensors; a few kilobytes, once.
constexpr int64_t kMaxSettingsBytes = 1 << 20;
// What an error lists: the first differing names of a rank, of the first few ranks.
constexpr int kShownDifferences = 8;
constexpr int kShownRanks = 4;

// Rank 0's `text` on every rank.
std::string broadcast_text(Communicator& comm, const std::string& text, const std::string& what) {
  Tensor length = Tensor::from_vector({1}, {static_cast<float>(text.size())}).to(comm.device());
  comm.broadcast(length, 0, what + " check (length)");
  const int64_t bytes = static_cast<int64_t>(length.to(Device::cpu()).item());
  RF_CHECK(bytes >= 0 && bytes <= kMaxSettingsBytes, "distributed: rank 0's ", what, " are ", bytes,
           " bytes, over the ", kMaxSettingsBytes, " a check takes");
  std::vector<float> values(static_cast<size_t>(bytes));
  if (comm.rank() == 0)
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<unsigned char>(text[i]);
  if (bytes == 0) return "";
  Tensor data = Tensor::from_vector({bytes}, values).to(comm.device());
  comm.broadcast(data, 0, what + " check");
  std::string out;
  for (float v : data.to(Device::cpu()).to_vector()) out += static_cast<char>(v);
  return out;
}

// Every rank's `text` on every rank, through sums of vectors in which each rank fills its own
// slots: the differences of all ranks reach every rank, so whichever rank's error is printed
// before the job is aborted tells the whole story.
std::vector<std::string> gather_text(Communicator& comm, const std::string& text,
                                     const std::string& what) {
  const size_t ranks = static_cast<size_t>(comm.world_size());
  std::vector<double> lengths(ranks, 0.0);
  lengths[comm.rank()] = static_cast<double>(text.size());
  lengths = comm.allreduce_sum(lengths, what + " check (lengths)");
  std::vector<size_t> offsets(ranks + 1, 0);
  for (size_t r = 0; r < ranks; ++r) offsets[r + 1] = offsets[r] + static_cast<size_t>(lengths[r]);
  std::vector<double> bytes(offsets[ranks], 0.0);
  for (size_t i = 0; i < text.size(); ++i)
    bytes[offsets[comm.rank()] + i] = static_cast<unsigned char>(text[i]);
  if (!bytes.empty()) bytes = comm.allreduce_sum(bytes, what + " check (differences)");
  std::vector<std::string> out(ranks);
  for (size_t r = 0; r < ranks; ++r)
    for (size_t i = offsets[r]; i < offsets[r + 1]; ++i) out[r] += static_cast<char>(bytes[i]);
  return out;
}

// "--lr '0.5' (rank 0: '0.1'), ...": the first few names whose values differ.
std::string differences(const std::map<std::string, std::string>& mine,
                        const std::map<std::string, std::string>& root, const std::string& prefix) {
  std::map<std::string, std::string> names = mine;
  names.insert(root.begin(), root.end());
  std::string out;
  int shown = 0;
  for (const auto& [name, unused] : names) {
    const auto a = mine.find(name), b = root.find(name);
    // Compared whole: two long paths may differ only past what an excerpt shows.
    if (a != mine.end() && b != root.end() && a->second == b->second) continue;
    const std::string value = a == mine.end() ? "(none)" : "'" + excerpt(a->second) + "'";
    const std::string root_value = b == root.end() ? "(none)" : "'" + excerpt(b->second) + "'";
    if (++shown > kShownDifferences) return out + ", ...";
    out +=
        (out.empty() ? "" : ", ") + prefix + name + " " + value + " (rank 0: " + root_value + ")";
  }
  return out;
}

}  // namespace

void check_same_settings(Communicator& comm, const std::map<std::string, std::string>& settings,
                         const std::string& what, const std::string& prefix) {
  if (comm.world_size() == 1) return;
  const std::string mine = nlohmann::json(settings).dump();
  const std::string root_text = broadcast_text(comm, mine, what);
  const std::string own =
      root_text == mine
          ? ""
          : differences(settings,
                        nlohmann::json::parse(root_text).get<std::map<std::string, std::string>>(),
                        prefix);
  const std::vector<std::string> all = gather_text(comm, own, what);
  std::string message;
  int differing = 0;
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r].empty()) continue;
    if (++differing <= kShownRanks) message += "; rank " + std::to_string(r) + ": " + all[r];
  }
  if (differing == 0) return;
  if (differing > kShownRanks)
    message += "; and " + std::to_string(differing - kShownRanks) + " more rank(s)";
  RF_FAIL("distributed: ", differing, " of ", comm.world_size(), " ranks were started with other ",
          what, " than rank 0", message, ". Every rank must be started alike");
}

}  // namespace repflow
