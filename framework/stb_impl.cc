// The one translation unit holding stb's implementations (stb is header-only).
#define STB_IMAGE_IMPLEMENTATION
// Only BMP is decoded by stb (framework/image_io.cc); its other decoders are left out.
#define STBI_ONLY_BMP
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>
