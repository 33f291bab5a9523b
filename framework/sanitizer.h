#pragma once
// Whether this build runs under AddressSanitizer (`--config=asan` or `--config=fuzz`) or
// ThreadSanitizer (`--config=tsan`), for the few places that behave differently there: caches
// that would hide a use-after-free, tests whose OpenMP threads ThreadSanitizer cannot follow.
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

#if defined(__SANITIZE_THREAD__)  // gcc
constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)  // clang
#if __has_feature(thread_sanitizer)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif
#else
constexpr bool kThreadSanitizer = false;
#endif

}  // namespace repflow
