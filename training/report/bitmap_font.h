#pragma once
// A 5x7 pixel font built into the code, so that charts need no font files or libraries. It has
// the digits, the letters (capitals drawn as lower case) and . , % - + ( ) / : _ ? and space;
// any other character is drawn as '?'. Cells are 5x9: g p q y hang two rows below the others.
#include <array>
#include <cstdint>
#include <string>

#include "framework/image_io.h"

namespace repflow {

using Rgb = std::array<uint8_t, 3>;

constexpr int kGlyphWidth = 5, kGlyphRows = 7, kGlyphHeight = 9;

// Pixels a line of text takes at `scale` (each font pixel drawn as scale x scale): glyphs are
// one font pixel apart.
int text_width(const std::string& text, int scale);
inline int text_height(int scale) { return kGlyphHeight * scale; }

// Draws `text` with its top-left corner at (x, y) into a 3-channel image; pixels outside the
// image are skipped.
void draw_text(Image& image, int x, int y, const std::string& text, Rgb color, int scale);

// Sets one pixel of a 3-channel image, skipping coordinates outside it.
void set_pixel(Image& image, int x, int y, Rgb color);

}  // namespace repflow
