// The one translation unit holding stb_image's implementation (stb is header-only).
#define STB_IMAGE_IMPLEMENTATION
// Only BMP is decoded by stb (framework/image_io.cc); its other decoders are left out.
#define STBI_ONLY_BMP
#include <stb_image.h>
