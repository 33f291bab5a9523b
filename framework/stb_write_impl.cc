// The one translation unit holding stb_image_write's implementation (stb is header-only).
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
