#pragma once
// Whether this build runs under AddressSanitizer (`--config=asan` or `--config=fuzz`), for the
// few places that behave differently there: caches that would hide a use-after-free from it.
namespace repflow {

#if defined(__SANITIZE_ADDRESS__)  // gcc
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

}  // namespace repflow
