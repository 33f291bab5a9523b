#include "tools/video_writer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include "framework/error.h"
#include "framework/philox.h"
#include "training/data/ffmpeg_log.h"

namespace repflow {
namespace {

// An encoder and the muxer it writes to, freed whatever happens.
struct Writer {
  std::string path;
  AVFormatContext* oc = nullptr;
  AVCodecContext* ctx = nullptr;
  AVStream* stream = nullptr;
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();

  Writer(const std::string& p, const char* encoder) : path(p) {
    try {
      quiet_ffmpeg_log();
      const std::filesystem::path parent = std::filesystem::path(path).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent);
      check_ffmpeg(avformat_alloc_output_context2(&oc, nullptr, nullptr, path.c_str()), path,
                   "no container for this extension");
      const AVCodec* codec = avcodec_find_encoder_by_name(encoder);
      RF_CHECK(codec, path, ": this FFmpeg has no ", encoder, " encoder");
      stream = avformat_new_stream(oc, nullptr);
      ctx = avcodec_alloc_context3(codec);
      RF_CHECK(stream && ctx && pkt && frame, path, ": out of memory");
      if (oc->oformat->flags & AVFMT_GLOBALHEADER) ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    } catch (...) {
      release();
      throw;
    }
  }

  ~Writer() { release(); }

  void release() {
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    if (oc && !(oc->oformat->flags & AVFMT_NOFILE)) avio_closep(&oc->pb);
    avformat_free_context(oc);
    oc = nullptr;
  }

  void open(AVDictionary** muxer_options) {
    check_ffmpeg(avcodec_open2(ctx, ctx->codec, nullptr), path, "cannot open the encoder");
    check_ffmpeg(avcodec_parameters_from_context(stream->codecpar, ctx), path, "codec parameters");
    stream->time_base = ctx->time_base;
    check_ffmpeg(avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE), path, "cannot create the file");
    check_ffmpeg(avformat_write_header(oc, muxer_options), path, "cannot write the header");
  }

  // Encodes `f` (null: flushes the encoder) and writes every packet it gives.
  void encode(const AVFrame* f) {
    check_ffmpeg(avcodec_send_frame(ctx, f), path, "encoding");
    while (true) {
      const int r = avcodec_receive_packet(ctx, pkt);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      check_ffmpeg(r, path, "encoding");
      // One frame's duration, which libavcodec 5.1's encoders leave out: without it the MP4
      // muxer gives the last frame no time and its edit list drops it.
      if (pkt->duration == 0 && ctx->codec_type == AVMEDIA_TYPE_VIDEO) pkt->duration = 1;
      av_packet_rescale_ts(pkt, ctx->time_base, stream->time_base);
      pkt->stream_index = stream->index;
      check_ffmpeg(av_interleaved_write_frame(oc, pkt), path, "writing a packet");
    }
  }

  void finish() {
    encode(nullptr);
    check_ffmpeg(av_write_trailer(oc), path, "writing the trailer");
  }
};

const char* encoder_name(VideoCodec codec) {
  switch (codec) {
    case VideoCodec::kH264:
      return "libx264";
    case VideoCodec::kMpeg4:
      return "mpeg4";
    case VideoCodec::kMjpeg:
      return "mjpeg";
    case VideoCodec::kVp8:
      return "libvpx";
    case VideoCodec::kVp9:
      return "libvpx-vp9";
  }
  return "";
}

}  // namespace

VideoCodec parse_video_codec(const std::string& name, const std::string& flag) {
  const std::pair<const char*, VideoCodec> codecs[] = {{"h264", VideoCodec::kH264},
                                                       {"mpeg4", VideoCodec::kMpeg4},
                                                       {"mjpeg", VideoCodec::kMjpeg},
                                                       {"vp8", VideoCodec::kVp8},
                                                       {"vp9", VideoCodec::kVp9}};
  for (const auto& [text, codec] : codecs)
    if (name == text) return codec;
  RF_FAIL(flag, ": '", name, "' is not h264, mpeg4, mjpeg, vp8 or vp9");
}

Image synthetic_frame(const VideoSpec& spec, int t) {
  Image image;
  image.width = spec.width;
  image.height = spec.height;
  image.channels = 3;
  image.pixels.resize(static_cast<size_t>(spec.width) * spec.height * 3);
  const double phase = 0.9 * spec.seed;
  for (int y = 0; y < spec.height; ++y) {
    for (int x = 0; x < spec.width; ++x) {
      const double X = x - spec.dx * t, Y = y - spec.dy * t;
      uint8_t* p = &image.pixels[(static_cast<size_t>(y) * spec.width + x) * 3];
      const bool code_row = y < 8 && x / 8 < 16;
      if (code_row) {
        const uint8_t v = ((t >> (x / 8)) & 1) ? 235 : 20;
        p[0] = p[1] = p[2] = v;
        continue;
      }
      const double value[3] = {128 + 90 * std::sin(0.35 * X + phase) * std::cos(0.27 * Y),
                               128 + 80 * std::sin(0.21 * Y + 0.5 * phase + 1),
                               128 + 70 * std::cos(0.17 * (X + Y) + phase)};
      const Philox4 grain = philox4x32(static_cast<uint64_t>(spec.seed), static_cast<uint64_t>(t),
                                       static_cast<uint64_t>(y) * spec.width + x);
      for (int c = 0; c < 3; ++c) {
        const int n =
            spec.noise ? static_cast<int>(grain.v[c] % (2 * spec.noise + 1)) - spec.noise : 0;
        p[c] = static_cast<uint8_t>(std::clamp(static_cast<int>(value[c]) + n, 0, 255));
      }
    }
  }
  return image;
}

void write_video(const std::string& path, const VideoSpec& spec) {
  Writer w(path, encoder_name(spec.codec));
  AVCodecContext* ctx = w.ctx;
  ctx->width = spec.width;
  ctx->height = spec.height;
  ctx->time_base = {1, spec.fps};
  ctx->framerate = {spec.fps, 1};
  ctx->gop_size = spec.gop;
  ctx->pix_fmt = spec.codec == VideoCodec::kMjpeg ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
  ctx->thread_count = 1;
  switch (spec.codec) {
    case VideoCodec::kH264:
      ctx->max_b_frames = spec.b_frames;
      av_opt_set(ctx->priv_data, "preset", "veryfast", 0);
      av_opt_set(ctx->priv_data, "crf", std::to_string(spec.crf).c_str(), 0);
      // Keyframes only every `gop` frames (no scene cuts), closed GOPs.
      av_opt_set(ctx->priv_data, "x264-params", "scenecut=0:open-gop=0", 0);
      break;
    case VideoCodec::kMpeg4:
      ctx->max_b_frames = spec.b_frames;
      ctx->bit_rate = 2000000;
      break;
    case VideoCodec::kMjpeg:
      ctx->bit_rate = 4000000;
      break;
    case VideoCodec::kVp8:
    case VideoCodec::kVp9:
      // Alternate reference frames (decoded, never shown) are what makes a VP8/VP9 stream's
      // packets differ from its frames: keep them.
      ctx->bit_rate = 1000000;
      av_opt_set(ctx->priv_data, "deadline", "good", 0);
      av_opt_set(ctx->priv_data, "cpu-used", "5", 0);
      av_opt_set(ctx->priv_data, "auto-alt-ref", "1", 0);
      av_opt_set(ctx->priv_data, "lag-in-frames", "16", 0);
      break;
  }
  AVDictionary* muxer_options = nullptr;
  if (spec.faststart) av_dict_set(&muxer_options, "movflags", "+faststart", 0);
  w.open(&muxer_options);
  av_dict_free(&muxer_options);

  SwsContext* sws =
      sws_getContext(spec.width, spec.height, AV_PIX_FMT_RGB24, spec.width, spec.height,
                     ctx->pix_fmt, SWS_BICUBIC, nullptr, nullptr, nullptr);
  RF_CHECK(sws, path, ": no RGB to YUV conversion");
  try {
    for (int t = 0; t < spec.frames; ++t) {
      av_frame_unref(w.frame);
      w.frame->format = ctx->pix_fmt;
      w.frame->width = spec.width;
      w.frame->height = spec.height;
      check_ffmpeg(av_frame_get_buffer(w.frame, 0), path, "frame buffer");
      const Image rgb = synthetic_frame(spec, t);
      const uint8_t* src[1] = {rgb.pixels.data()};
      const int stride[1] = {spec.width * 3};
      sws_scale(sws, src, stride, 0, spec.height, w.frame->data, w.frame->linesize);
      w.frame->pts = t;
      w.encode(w.frame);
    }
    w.finish();
  } catch (...) {
    sws_freeContext(sws);
    throw;
  }
  sws_freeContext(sws);
}

void write_audio_only(const std::string& path) {
  Writer w(path, "aac");
  AVCodecContext* ctx = w.ctx;
  ctx->sample_fmt = AV_SAMPLE_FMT_FLTP;
  ctx->sample_rate = 44100;
  ctx->bit_rate = 64000;
  ctx->time_base = {1, ctx->sample_rate};
  av_channel_layout_default(&ctx->ch_layout, 1);
  w.open(nullptr);
  int64_t sample = 0;
  for (int i = 0; i < 20; ++i) {
    av_frame_unref(w.frame);
    w.frame->format = ctx->sample_fmt;
    w.frame->nb_samples = ctx->frame_size;
    w.frame->sample_rate = ctx->sample_rate;
    check_ffmpeg(av_channel_layout_copy(&w.frame->ch_layout, &ctx->ch_layout), path, "layout");
    check_ffmpeg(av_frame_get_buffer(w.frame, 0), path, "frame buffer");
    float* data = reinterpret_cast<float*>(w.frame->data[0]);
    for (int s = 0; s < ctx->frame_size; ++s)
      data[s] = 0.3f * static_cast<float>(std::sin(2 * M_PI * 440.0 * (sample + s) / 44100.0));
    w.frame->pts = sample;
    sample += ctx->frame_size;
    w.encode(w.frame);
  }
  w.finish();
}

}  // namespace repflow
