#include "training/data/ffmpeg_log.h"

#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "framework/error.h"

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

namespace repflow {
namespace {

thread_local std::string t_last_message;
// The first error since clear_ffmpeg_log: a decoder often logs the cause ("Picture size ...
// exceeds specified max pixel count") and then its consequence ("no frame!"), which is last.
thread_local std::string t_first_error;

void keep_message(void* context, int level, const char* format, va_list args) {
  if (level > AV_LOG_WARNING) return;
  char line[512];
  int prefix = 0;  // no "[h264 @ 0x...]": the address would make messages differ run to run
  av_log_format_line2(context, level, format, args, line, sizeof line, &prefix);
  std::string message = line;
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  if (message.empty()) return;
  const AVClass* const* component = static_cast<const AVClass* const*>(context);
  if (component && *component && (*component)->item_name)
    message = std::string((*component)->item_name(context)) + ": " + message;
  if (level <= AV_LOG_ERROR && t_first_error.empty()) t_first_error = message;
  t_last_message = message;
}

}  // namespace

void quiet_ffmpeg_log() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(keep_message); });
}

void clear_ffmpeg_log() {
  t_last_message.clear();
  t_first_error.clear();
}

std::string ffmpeg_reason(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(code, text, sizeof text) < 0)
    std::snprintf(text, sizeof text, "FFmpeg error %d", code);
  std::string reason = text;
  std::string logged = t_last_message;
  if (!t_first_error.empty() && t_first_error != t_last_message)
    logged = t_first_error + "; last: " + t_last_message;
  if (!logged.empty() && logged.find(reason) == std::string::npos) reason += " (" + logged + ")";
  return reason;
}

void check_ffmpeg(int code, const std::string& path, const std::string& what) {
  if (code < 0) RF_FAIL(path, ": ", what, ": ", ffmpeg_reason(code));
}

}  // namespace repflow
