#include "training/data/video_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mem.h>
}

#include "framework/error.h"
#include "training/data/ffmpeg_log.h"
#include "training/data/rgb_converter.h"
#include "training/data/video_frames.h"

// How frames are found (the design, and why):
//
// - A frame is named by the presentation timestamp (pts) of the packet that carries it, and its
//   index is the rank of that pts among all the stream's: decoders return frames in
//   presentation order, which with B-frames is not the packets' (decode) order, so ranking pts
//   gives exactly the order of a sequential decode. Ranks, not pts x frame rate: a stream that
//   starts at pts != 0 (an edit list, the B-frame delay of most H.264 .mp4 files), a variable
//   frame rate or a rounded time base (Matroska's milliseconds) all keep the order of their
//   timestamps, while arithmetic on them is off by a frame here and there. Not dts: it is the
//   decode order, and containers that reorder only give pts (Matroska).
// - The scan on open demuxes every packet (no decoding: a few milliseconds) and so gives the
//   true frame count even where the header has none (WebM, Matroska) or claims frames the file
//   does not hold (a truncated download); packets FFmpeg marks corrupt or empty hold no frame,
//   and packets an edit list hides (AV_PKT_FLAG_DISCARD) are decoded but not shown, as in a
//   sequential decode.
// - Missing pts: AVFMT_FLAG_GENPTS has libavformat derive them where the container stores only
//   dts (AVI). When some frame still has no timestamp, or two share one, frames are named by
//   their position in the decoder's output from the start of the stream instead: always exact,
//   only slower.
// - Decoding starts at a keyframe at or before the first wanted frame's packet whose pts is
//   not after the frame's own (an open GOP's leading frames need the GOP before), and runs
//   forward; a later wanted frame whose keyframe lies ahead is sought again. Where a seek lands
//   is checked against the scan (byte position and timestamps of the first packet read), and so
//   is every packet read after it: a demuxer that lands after the keyframe, or gives other
//   timestamps than during the scan, sends the reader back to the start of the stream, never to
//   a wrong frame.
// - Decoding errors are not concealed (AV_EF_EXPLODE, corrupt-frame flags): a damaged stream is
//   an Error, not silent garbage; only the leading frames of a keyframe just sought to, which
//   may reference the GOP before it, are allowed to fail (they are not wanted from there).
// - Frames the decoder need not produce (non-reference frames that are not wanted) are skipped
//   (AVDISCARD_NONREF), which leaves every other frame's pixels unchanged.

namespace repflow {
namespace {

using Clock = std::chrono::steady_clock;

// How long one open() or read() may take: FFmpeg's blocking calls are interrupted after it.
constexpr int kOperationSeconds = 120;

// One packet of the video stream, as the scan found it.
struct Packet {
  int64_t pts = AV_NOPTS_VALUE, dts = AV_NOPTS_VALUE;
  int64_t pos = -1;    // byte position in the file, -1 when unknown
  int64_t frame = -1;  // the frame it shows (its index), -1 for a hidden one
  bool key = false;
  int64_t ts() const { return pts != AV_NOPTS_VALUE ? pts : dts; }
};

std::string fourcc(uint32_t tag) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((tag >> (8 * i)) & 0xff);
    s += (c >= 32 && c < 127) ? c : '?';
  }
  return s;
}

}  // namespace

const std::vector<std::string>& video_extensions() {
  static const std::vector<std::string> extensions = {".mp4", ".avi", ".mkv", ".webm", ".mov"};
  return extensions;
}

int decoder_threads_per_worker(int workers) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, workers));
}

struct VideoFile::State {
  std::string path;
  VideoReadOptions options;
  VideoInfo info;
  AVFormatContext* fmt = nullptr;
  AVCodecContext* dec = nullptr;
  AVPacket* pkt = nullptr;
  AVFrame* frame = nullptr;
  int stream = -1;
  Clock::time_point deadline;
  std::vector<Packet> packets;                     // the video stream's, in decode (file) order
  std::vector<int64_t> frame_packet;               // frame index -> packet index
  std::unordered_map<int64_t, int64_t> packet_at;  // byte position -> packet index
  std::unordered_map<int64_t, int64_t> frame_of;   // pts -> frame index
  // Packet sizes from the container's index (MP4, AVI), by byte position: a packet read shorter
  // than its index says, whose indexed bytes reach past the end of the file, was cut off by it
  // and holds no frame. (Only past the end: FLV's index counts its tag headers in the size, so
  // every keyframe reads shorter than indexed.)
  std::unordered_map<int64_t, int> indexed_size;
  int64_t file_bytes = -1;   // -1: unknown
  bool by_timestamp = true;  // frames named by pts; false: by position in the decoder's output
  std::unique_ptr<RgbConverter> rgb;

  // Where decoding stands: the packet to send next (-1: nowhere, seek first), whether `pkt`
  // already holds it (read while checking where a seek landed), the frames output since the
  // last start at packet 0 (-1 after a start elsewhere), and the pts below which frames may be
  // broken leading frames of the keyframe started from.
  int64_t next = -1;
  int64_t sought = -1;  // the keyframe last started from (the seek may land before it)
  bool pending = false;
  int64_t outputs = -1;
  int64_t leading_below = AV_NOPTS_VALUE;

  // What read() still needs: frame index -> the image of `out` it is converted into.
  std::map<int64_t, size_t> wanted;
  std::vector<Image>* out = nullptr;

  ~State() {
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
  }

  [[noreturn]] void fail(const std::string& what, int code) const {
    if (code == AVERROR(ENOMEM)) {
      RF_FAIL(path, ": ", what, ": ", ffmpeg_reason(code), " (FFmpeg may allocate at most ",
              kMaxVideoAllocationBytes >> 20, " MB at once)");
    }
    check_ffmpeg(code, path, what);
    RF_FAIL(path, ": ", what);  // not reached: codes passed here are errors
  }

  void start_clock() {
    clear_ffmpeg_log();
    deadline = Clock::now() + std::chrono::seconds(kOperationSeconds);
  }

  void check_clock() const {
    RF_CHECK(Clock::now() < deadline, path, ": decoding took longer than ", kOperationSeconds,
             " s; stopped");
  }

  static int interrupted(void* opaque) {
    return Clock::now() > static_cast<const State*>(opaque)->deadline ? 1 : 0;
  }

  // Whether the header names a video stream's codec and frame size.
  bool header_complete() const {
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
      const AVCodecParameters* par = fmt->streams[i]->codecpar;
      if (par->codec_type == AVMEDIA_TYPE_VIDEO && par->codec_id != AV_CODEC_ID_NONE &&
          par->width > 0 && par->height > 0)
        return true;
    }
    return false;
  }

  // The container, its streams probed; the video stream chosen (first run) or found again.
  void open_input() {
    avformat_close_input(&fmt);
    fmt = avformat_alloc_context();
    RF_CHECK(fmt, path, ": out of memory opening the file");
    fmt->interrupt_callback = {&State::interrupted, this};
    fmt->flags |= AVFMT_FLAG_GENPTS;
    int r = avformat_open_input(&fmt, path.c_str(), nullptr, nullptr);  // frees fmt on failure
    if (r < 0) fail("cannot open as a video", r);
    // Probing the streams decodes their first frames, which costs more than a clip's own
    // seeking when the header already says all the decoder needs (MP4, Matroska, WebM, AVI).
    if (!header_complete()) {
      r = avformat_find_stream_info(fmt, nullptr);
      if (r < 0) fail("cannot read the streams", r);
    }
    if (stream >= 0) {
      RF_CHECK(stream < static_cast<int>(fmt->nb_streams), path,
               ": the streams changed when the file was opened again");
    } else {
      const AVCodec* codec = nullptr;
      stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
      if (stream == AVERROR_STREAM_NOT_FOUND ||
          (stream >= 0 && fmt->streams[stream]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        std::string kinds;
        for (unsigned i = 0; i < fmt->nb_streams; ++i) {
          const char* kind = av_get_media_type_string(fmt->streams[i]->codecpar->codec_type);
          kinds += std::string(i ? ", " : "") + (kind ? kind : "unknown");
        }
        RF_FAIL(path, ": no video stream (", fmt->nb_streams, " stream(s)",
                kinds.empty() ? "" : ": " + kinds, ")");
      }
      if (stream == AVERROR_DECODER_NOT_FOUND) {
        // The stream FFmpeg would have chosen, for the message.
        const int any = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
        const AVCodecParameters* par = fmt->streams[std::max(any, 0)]->codecpar;
        RF_FAIL(path, ": unsupported video codec '", avcodec_get_name(par->codec_id), "' (fourcc '",
                fourcc(par->codec_tag), "'): FFmpeg has no decoder for it");
      }
      if (stream < 0) fail("cannot find a video stream", stream);
    }
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
      if (static_cast<int>(i) != stream) fmt->streams[i]->discard = AVDISCARD_ALL;
  }

  void open_decoder() {
    const AVStream* st = fmt->streams[stream];
    const AVCodecParameters* par = st->codecpar;
    RF_CHECK(par->width >= 1 && par->height >= 1, path, ": the video stream has no frame size");
    RF_CHECK(static_cast<int64_t>(par->width) * par->height <= kMaxVideoPixels, path,
             ": frames of ", par->width, "x", par->height, " are larger than the ", kMaxVideoPixels,
             " pixels a clip may take");
    const AVCodec* codec = avcodec_find_decoder(par->codec_id);
    RF_CHECK(codec, path, ": unsupported video codec '", avcodec_get_name(par->codec_id), "'");
    dec = avcodec_alloc_context3(codec);
    RF_CHECK(dec, path, ": out of memory opening the decoder");
    int r = avcodec_parameters_to_context(dec, par);
    if (r < 0) fail("cannot set up the decoder", r);
    dec->pkt_timebase = st->time_base;
    dec->thread_count = std::max(1, options.threads);
    // Slices (and VP9's tiles) only: frame threading fills a pipeline of frames that every seek
    // drains again, which for a clip's short decoding costs more CPU than it saves time.
    dec->thread_type = FF_THREAD_SLICE;
    dec->err_recognition |= AV_EF_EXPLODE;
    dec->max_pixels = kMaxVideoPixels;
    r = avcodec_open2(dec, codec, nullptr);
    if (r < 0) fail("cannot open the " + std::string(codec->name) + " decoder", r);
    info.codec = codec->name;
    info.width = par->width;
    info.height = par->height;
    info.header_frames = st->nb_frames > 0 ? st->nb_frames : -1;
    const AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
    info.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;
    info.out_width = info.width;
    info.out_height = info.height;
    if (options.decode_size > 0) {
      const std::array<int, 2> size =
          resized_size(info.width, info.height, options.decode_size, path + " (--decode-size)");
      info.out_width = size[0];
      info.out_height = size[1];
    }
    rgb = std::make_unique<RgbConverter>(info.out_width, info.out_height);
  }

  // Reads the next packet of the video stream that holds a frame into `pkt` (not empty, not
  // marked corrupt, not cut short); false at the end of the stream. A read error after the first
  // packet ends the stream there (what a truncated file holds is readable), unless FFmpeg was
  // interrupted.
  bool read_packet() {
    while (true) {
      av_packet_unref(pkt);
      const int r = av_read_frame(fmt, pkt);
      if (r == AVERROR_EXIT)
        fail("reading stopped after " + std::to_string(kOperationSeconds) + " s", r);
      if (r < 0) return false;
      if (pkt->stream_index != stream || pkt->size <= 0 || (pkt->flags & AV_PKT_FLAG_CORRUPT))
        continue;
      const auto indexed = indexed_size.find(pkt->pos);
      if (indexed == indexed_size.end() || pkt->size >= indexed->second) return true;
      if (file_bytes >= 0 && pkt->pos + indexed->second <= file_bytes) return true;
    }
  }

  void scan() {
    AVStream* st = fmt->streams[stream];
    const int entries = avformat_index_get_entries_count(st);
    for (int i = 0; i < entries && i < kMaxVideoPackets; ++i) {
      const AVIndexEntry* e = avformat_index_get_entry(st, i);
      if (e && e->size > 0) indexed_size[e->pos] = e->size;
    }
    file_bytes = avio_size(fmt->pb);
    while (read_packet()) {
      RF_CHECK(static_cast<int64_t>(packets.size()) < kMaxVideoPackets, path, ": more than ",
               kMaxVideoPackets, " video packets");
      Packet p;
      p.pts = pkt->pts;
      p.dts = pkt->dts;
      p.pos = pkt->pos;
      p.key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
      p.frame = (pkt->flags & AV_PKT_FLAG_DISCARD) ? -1 : 0;
      packets.push_back(p);
    }
    av_packet_unref(pkt);
    std::vector<int64_t> shown;
    for (int64_t i = 0; i < static_cast<int64_t>(packets.size()); ++i) {
      if (packets[i].frame < 0) continue;
      shown.push_back(i);
      if (packets[i].ts() == AV_NOPTS_VALUE) by_timestamp = false;
    }
    RF_CHECK(!shown.empty(), path, ": the video stream holds no frames");
    if (by_timestamp) {
      std::stable_sort(shown.begin(), shown.end(),
                       [&](int64_t a, int64_t b) { return packets[a].ts() < packets[b].ts(); });
      for (size_t f = 1; f < shown.size() && by_timestamp; ++f)
        by_timestamp = packets[shown[f]].ts() != packets[shown[f - 1]].ts();
    }
    if (!by_timestamp) {  // decode order; frames are then counted, not named
      std::sort(shown.begin(), shown.end());
    }
    frame_packet = shown;
    for (int64_t f = 0; f < static_cast<int64_t>(shown.size()); ++f) {
      packets[shown[f]].frame = f;
      if (by_timestamp) frame_of[packets[shown[f]].ts()] = f;
    }
    for (int64_t i = 0; i < static_cast<int64_t>(packets.size()); ++i) {
      if (packets[i].pos < 0) continue;
      // A byte position that two packets share names neither.
      if (!packet_at.emplace(packets[i].pos, i).second) packet_at[packets[i].pos] = -1;
    }
    info.frames = static_cast<int64_t>(shown.size());
    // Without a rate in the header (Matroska, WebM): the frames' average spacing.
    if (info.fps == 0 && by_timestamp && info.frames > 1) {
      const int64_t span = packets[frame_packet.back()].ts() - packets[frame_packet.front()].ts();
      info.fps = (info.frames - 1) / (span * av_q2d(fmt->streams[stream]->time_base));
    }
  }

  // Whether `pkt` is packet `i` of the scan: same byte position and pts (the dts when there is
  // no pts). Not both: where the container stores only pts (Matroska), libavformat guesses dts
  // from the packets before, which differ after a seek.
  bool is_packet(int64_t i) const {
    const Packet& p = packets[i];
    return p.pos == pkt->pos && p.pts == pkt->pts && (p.pts != AV_NOPTS_VALUE || p.dts == pkt->dts);
  }

  // The scan's index of the packet in `pkt`, -1 when the scan saw no such packet.
  int64_t identify() const {
    if (pkt->pos >= 0) {
      const auto it = packet_at.find(pkt->pos);
      return it != packet_at.end() && it->second >= 0 && is_packet(it->second) ? it->second : -1;
    }
    for (int64_t i = 0; i < static_cast<int64_t>(packets.size()); ++i)
      if (is_packet(i)) return i;
    return -1;
  }

  // The packet decoding of frame `f` starts from: the last keyframe at or before its packet
  // whose timestamp is not after the frame's; the stream's first packet when there is none.
  int64_t start_packet(int64_t f) const {
    const int64_t p = frame_packet[f];
    const int64_t ts = packets[p].ts();
    for (int64_t q = p; q > 0; --q) {
      const Packet& k = packets[q];
      if (k.key && k.ts() != AV_NOPTS_VALUE && k.ts() <= ts) return q;
    }
    return 0;
  }

  // Positions the demuxer at packet `k` (or a keyframe before it) with an empty decoder.
  void start_at(int64_t k) {
    avcodec_flush_buffers(dec);
    pending = false;
    sought = k;
    const Packet& p = packets[k];
    std::vector<int64_t> targets;
    if (k > 0) {
      // Containers index keyframes by pts (Matroska) or dts (MP4, AVI): one of them lands on k.
      for (int64_t t : {p.pts, p.dts})
        if (t != AV_NOPTS_VALUE && std::find(targets.begin(), targets.end(), t) == targets.end())
          targets.push_back(t);
    } else {
      int64_t first = INT64_MAX;
      for (const Packet& q : packets)
        for (int64_t t : {q.pts, q.dts})
          if (t != AV_NOPTS_VALUE) first = std::min(first, t);
      if (first != INT64_MAX) targets.push_back(first);
    }
    for (int64_t target : targets) {
      if (av_seek_frame(fmt, stream, target, AVSEEK_FLAG_BACKWARD) < 0) continue;
      if (!read_packet()) continue;
      const int64_t landed = identify();
      if (landed >= 0 && landed <= k && (landed == 0 || packets[landed].key)) {
        begin(landed);
        return;
      }
    }
    // The seek went astray (or the container cannot seek): read from the very start again.
    open_input();
    RF_CHECK(read_packet() && is_packet(0), path,
             ": the stream reads differently when opened again");
    begin(0);
  }

  // Decoding starts at packet `landed` (a keyframe, or the first packet); frames before it in
  // presentation order are the keyframe's leading frames, which may reference what came before.
  void begin(int64_t landed) {
    next = landed;
    pending = true;
    outputs = landed == 0 ? 0 : -1;
    leading_below = landed == 0 ? AV_NOPTS_VALUE : packets[landed].ts();
  }

  // The frame index of a decoded frame, -1 when it names no frame of the scan.
  int64_t frame_index(const AVFrame& f) {
    if (!by_timestamp) return outputs >= 0 ? outputs++ : -1;
    const int64_t ts = f.pts != AV_NOPTS_VALUE ? f.pts : f.best_effort_timestamp;
    const auto it = frame_of.find(ts);
    if (ts != AV_NOPTS_VALUE && leading_below != AV_NOPTS_VALUE && ts >= leading_below)
      leading_below = AV_NOPTS_VALUE;  // past the leading frames
    return it == frame_of.end() ? -1 : it->second;
  }

  bool in_leading_frames() const { return leading_below != AV_NOPTS_VALUE; }

  // What a decoding error is near, for its message.
  std::string near() const {
    return wanted.empty() ? "the end of the clip"
                          : "frame " + std::to_string(wanted.begin()->first);
  }

  // Takes every frame the decoder has ready, keeping the wanted ones, until none is wanted.
  void receive() {
    while (!wanted.empty()) {
      const int r = avcodec_receive_frame(dec, frame);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) {
        if (in_leading_frames()) return;
        fail("decoding error near " + near(), r);
      }
      const int64_t f = frame_index(*frame);
      const bool leading = in_leading_frames();
      const bool broken = (frame->flags & AV_FRAME_FLAG_CORRUPT) || frame->decode_error_flags;
      if (broken && !leading) {
        RF_FAIL(path, ": frame ", f >= 0 ? std::to_string(f) : "?",
                " is damaged (the decoder reported errors in it): ",
                ffmpeg_reason(AVERROR_INVALIDDATA));
      }
      // Scaling such a frame to the stream's size would distort it; a clip's frames share one.
      if (!leading && (frame->width != info.width || frame->height != info.height)) {
        RF_FAIL(path, ": frame ", f >= 0 ? std::to_string(f) : "?", " is ", frame->width, "x",
                frame->height, " but the stream's frames are ", info.width, "x", info.height,
                " (a size that changes mid-stream is not supported; re-encode the video at one "
                "size)");
      }
      const auto it = wanted.find(f);
      if (it != wanted.end() && !broken) {
        rgb->convert(*frame, &(*out)[it->second]);
        wanted.erase(it);
      }
      av_frame_unref(frame);
    }
  }

  // Sends `packet` (null: the end of the stream) and takes the frames it completes.
  void send(const AVPacket* packet) {
    // The decoder refuses input only while it holds output, which receive() takes, so this ends
    // at once; the bound is against a decoder that breaks that promise.
    for (int tries = 0; tries < 1000 && !wanted.empty(); ++tries) {
      const int r = avcodec_send_packet(dec, packet);
      if (r == AVERROR(EAGAIN)) {
        receive();
        continue;
      }
      if (r < 0 && r != AVERROR_EOF && !in_leading_frames())
        fail("decoding error near " + near(), r);
      receive();
      return;
    }
    RF_CHECK(wanted.empty(), path, ": the decoder takes no more input near ", near());
  }

  enum class Outcome { kDone, kEnded, kDiverged };

  // Decodes until every frame of `wanted` is in `out`: seeking to each wanted frame's
  // keyframe, or (seek false) from the start of the stream.
  Outcome decode(bool seek) {
    const int64_t count = static_cast<int64_t>(packets.size());
    if (!seek || next < 0) start_at(seek ? start_packet(wanted.begin()->first) : 0);
    while (!wanted.empty()) {
      check_clock();
      if (seek) {
        const int64_t k = start_packet(wanted.begin()->first);
        if (k > next && k > sought) start_at(k);
      }
      if (next >= count) {  // every packet sent: drain the decoder
        send(nullptr);
        next = -1;
        return wanted.empty() ? Outcome::kDone : Outcome::kEnded;
      }
      if (!pending) {
        if (!read_packet() || !is_packet(next)) {
          next = -1;
          return Outcome::kDiverged;
        }
      }
      pending = false;
      const int64_t shows = packets[next].frame;
      // Only frames that are wanted need decoding, and those that later frames reference.
      dec->skip_frame = !by_timestamp || (shows >= 0 && wanted.count(shows)) ? AVDISCARD_DEFAULT
                                                                             : AVDISCARD_NONREF;
      ++next;
      send(pkt);
    }
    return Outcome::kDone;
  }
};

VideoFile::VideoFile(const std::string& path, VideoReadOptions options)
    : s_(std::make_unique<State>()) {
  quiet_ffmpeg_log();
  static std::once_flag limit_once;
  std::call_once(limit_once, [] { av_max_alloc(kMaxVideoAllocationBytes); });
  s_->path = path;
  s_->options = options;
  RF_CHECK(options.threads >= 1 && options.threads <= 64, path, ": ", options.threads,
           " decoder threads is not a count between 1 and 64");
  RF_CHECK(options.decode_size >= 0, path, ": decode size ", options.decode_size, " is negative");
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    RF_FAIL(path, ": cannot open the video file: ", std::strerror(errno));
  }
  RF_CHECK(!S_ISDIR(st.st_mode), path, ": a directory, not a video file");
  RF_CHECK(S_ISREG(st.st_mode), path, ": not a regular file, not a video file");
  RF_CHECK(st.st_size > 0, path, ": an empty file (0 bytes), not a video");
  s_->start_clock();
  s_->pkt = av_packet_alloc();
  s_->frame = av_frame_alloc();
  RF_CHECK(s_->pkt && s_->frame, path, ": out of memory");
  s_->open_input();
  s_->open_decoder();
  s_->scan();
}

VideoFile::~VideoFile() = default;

const std::string& VideoFile::path() const { return s_->path; }

const VideoInfo& VideoFile::info() const { return s_->info; }

std::vector<Image> VideoFile::read(const std::vector<int64_t>& indices) {
  std::vector<Image> frames;
  read(indices, &frames);
  return frames;
}

void VideoFile::read(const std::vector<int64_t>& indices, std::vector<Image>* frames) {
  State& s = *s_;
  for (int64_t i : indices)
    RF_CHECK(i >= 0 && i < s.info.frames, s.path, ": frame ", i, " is outside the video's ",
             s.info.frames, " frames");
  s.start_clock();
  frames->resize(indices.size());
  // Each frame is converted once, into the first image that shows it.
  std::map<int64_t, size_t> first;
  for (size_t k = 0; k < indices.size(); ++k) first.emplace(indices[k], k);
  s.wanted = first;
  s.out = frames;
  if (!s.wanted.empty()) {
    s.next = s.sought = -1;  // frames an earlier read() let pass are gone: seek afresh
    State::Outcome outcome = s.decode(s.by_timestamp);
    // Once more from the start of the stream, without seeking, when seeking did not work out.
    if (outcome != State::Outcome::kDone && s.by_timestamp) {
      s.next = s.sought = -1;
      outcome = s.decode(/*seek=*/false);
    }
    RF_CHECK(outcome == State::Outcome::kDone, s.path, ": frame ", s.wanted.begin()->first, " of ",
             s.info.frames,
             outcome == State::Outcome::kEnded
                 ? " is not in the stream: the decoder gave no such frame"
                 : ": the file reads differently from when it was opened");
  }
  for (size_t k = 0; k < indices.size(); ++k) {
    const size_t from = first.at(indices[k]);
    if (from != k) (*frames)[k] = (*frames)[from];
  }
}

}  // namespace repflow
