#include "tests/video_fixture.h"

#include <filesystem>
#include <fstream>
#include <iterator>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include "framework/error.h"
#include "framework/philox.h"
#include "training/data/ffmpeg_log.h"
#include "training/data/rgb_converter.h"
#include "training/data/video_frames.h"

namespace repflow {

std::vector<Image> decode_all(const std::string& path, int decode_size) {
  quiet_ffmpeg_log();
  AVFormatContext* fmt = nullptr;
  check_ffmpeg(avformat_open_input(&fmt, path.c_str(), nullptr, nullptr), path, "open");
  AVCodecContext* dec = nullptr;
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  std::vector<Image> frames;
  try {
    check_ffmpeg(avformat_find_stream_info(fmt, nullptr), path, "stream info");
    const AVCodec* codec = nullptr;
    const int stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    check_ffmpeg(stream, path, "no video stream");
    const AVCodecParameters* par = fmt->streams[stream]->codecpar;
    dec = avcodec_alloc_context3(codec);
    check_ffmpeg(avcodec_parameters_to_context(dec, par), path, "decoder parameters");
    dec->pkt_timebase = fmt->streams[stream]->time_base;
    dec->thread_count = 1;
    check_ffmpeg(avcodec_open2(dec, codec, nullptr), path, "open the decoder");
    std::array<int, 2> size = {par->width, par->height};
    if (decode_size > 0) size = resized_size(par->width, par->height, decode_size, path);
    RgbConverter rgb(size[0], size[1]);
    const auto receive = [&] {
      while (avcodec_receive_frame(dec, frame) >= 0) {
        frames.emplace_back();
        rgb.convert(*frame, &frames.back());
        av_frame_unref(frame);
      }
    };
    while (av_read_frame(fmt, pkt) >= 0) {
      // A packet the decoder refuses (a file cut short mid-packet) is passed over, as the
      // ffmpeg command does.
      if (pkt->stream_index == stream && pkt->size > 0 && avcodec_send_packet(dec, pkt) >= 0)
        receive();
      av_packet_unref(pkt);
    }
    check_ffmpeg(avcodec_send_packet(dec, nullptr), path, "draining");
    receive();
  } catch (...) {
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    throw;
  }
  av_frame_free(&frame);
  av_packet_free(&pkt);
  avcodec_free_context(&dec);
  avformat_close_input(&fmt);
  return frames;
}

int patch_file(const std::string& path, const std::string& from, const std::string& to) {
  RF_CHECK(from.size() == to.size() && !from.empty(), "patch_file: unequal lengths");
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int count = 0;
  for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + 1)) {
    bytes.replace(at, to.size(), to);
    ++count;
  }
  std::ofstream(path, std::ios::binary) << bytes;
  return count;
}

void damage_file(const std::string& path, int64_t offset, int64_t size) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  RF_CHECK(f, path, ": cannot open to damage it");
  f.seekp(offset);
  for (int64_t i = 0; i < size; ++i)
    f.put(static_cast<char>(philox4x32(7, static_cast<uint64_t>(i), 0).v[0] & 0xff));
  RF_CHECK(f.good(), path, ": cannot damage");
}

void truncate_copy(const std::string& from, const std::string& to, int64_t size) {
  std::ifstream in(from, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  RF_CHECK(size <= static_cast<int64_t>(bytes.size()), from, ": shorter than ", size);
  std::ofstream(to, std::ios::binary) << bytes.substr(0, static_cast<size_t>(size));
}

int64_t file_size(const std::string& path) {
  return static_cast<int64_t>(std::filesystem::file_size(path));
}

}  // namespace repflow
