#pragma once
// What the video tests check the reader against, and damage they do to files: a plain
// sequential decode of every frame, and files cut short, damaged or patched. The files
// themselves come from tools/video_writer.h.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/image_io.h"
#include "tools/video_writer.h"

namespace repflow {

// Every frame of a full sequential decode of `path` (its best video stream: every packet sent
// in file order, those the decoder refuses passed over, then the decoder drained), in output
// order, as RGB images with the shorter side scaled to `decode_size` (0: the stream's size),
// through the reader's own conversion (training/data/rgb_converter.h).
std::vector<Image> decode_all(const std::string& path, int decode_size = 0);

// Reads the file, replaces every occurrence of `from` by `to` (the same length) and writes it
// back; the count of replacements.
int patch_file(const std::string& path, const std::string& from, const std::string& to);

// Sets `size` bytes at `offset` to a fixed pseudo-random pattern (a damaged stretch of a file).
void damage_file(const std::string& path, int64_t offset, int64_t size);

// The first `size` bytes of `from`, written to `to` (a file cut short).
void truncate_copy(const std::string& from, const std::string& to, int64_t size);

int64_t file_size(const std::string& path);

}  // namespace repflow
