#pragma once
// Tiny frame-folder datasets the data tests write for themselves.
#include <string>

namespace repflow {

// Writes `text` to `path`, creating its directory.
void write_text(const std::string& path, const std::string& text);

// Writes frames 1.png ... N.png (unpadded, so only natural order sorts them right) of
// width x height RGB into `dir`. Each pixel encodes where it came from: red = 8 * frame index
// (0-based) + `tag`, green = 4 * x, blue = 4 * y.
void write_coded_frames(const std::string& dir, int frames, int width, int height, int tag = 0);

}  // namespace repflow
