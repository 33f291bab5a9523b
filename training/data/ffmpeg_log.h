#pragma once
// FFmpeg's diagnostics as repflow reports them. FFmpeg logs to stderr by default, which would
// interleave its warnings with the trainer's output from every worker thread; instead its
// messages are kept, per thread, and errors quote the last one with av_strerror's text.
#include <string>

namespace repflow {

// Routes FFmpeg's log into the per-thread record below (once per process; safe to call from
// any thread, as often as needed). Nothing FFmpeg logs reaches stderr afterwards.
void quiet_ffmpeg_log();

// Forgets what FFmpeg logged on this thread, so that the next reason quotes only what the next
// call logs.
void clear_ffmpeg_log();

// av_strerror's text for the error `code` (a negative AVERROR), followed by the last error or
// warning FFmpeg logged on this thread since clear_ffmpeg_log, when there is one:
// "Invalid data found when processing input (moov atom not found)"; when an earlier error was
// logged, that first one leads, often the cause of the last: "(h264: Picture size 7744x4320
// exceeds specified max pixel count; last: h264: no frame!)".
std::string ffmpeg_reason(int code);

// When `code` is an error (negative): an Error "PATH: WHAT: REASON" (ffmpeg_reason).
void check_ffmpeg(int code, const std::string& path, const std::string& what);

}  // namespace repflow
