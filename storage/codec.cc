// Record grammar (all stored values but the fixed-width ones below):
//   record   := format:u8 checksum:u32le payload
//   format   := 0x01
//   checksum := low 32 bits of XXH3_64bits(payload)
//   payload  := cereal PortableBinaryArchive of one value; every class carries its
//               CEREAL_CLASS_VERSION the first time it appears in a payload
// Fixed-width values:
//   dedupe   := format:u8 version:u64be position:u64be recorded_at:i64be hash:u64be
#include "storage/codec.h"

#include <algorithm>
#include <cstring>
#include <streambuf>

#include <cereal/archives/portable_binary.hpp>
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>

#include "storage/internal/keys.h"

namespace jobstate::storage {

namespace {

// Appends whatever cereal writes to the string it points at, without an
// ostringstream's copies.
class StringSink : public std::streambuf {
 public:
  void Target(std::string* out) { out_ = out; }

 protected:
  std::streamsize xsputn(const char* p, std::streamsize n) override {
    out_->append(p, static_cast<size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_->push_back(static_cast<char>(c));
    return c;
  }

 private:
  std::string* out_ = nullptr;
};

// Reads a string_view as a stream buffer, without copying it.
class ViewSource : public std::streambuf {
 public:
  void Source(std::string_view in) {
    char* p = const_cast<char*>(in.data());  // read-only: no put area is set
    setg(p, p, p + in.size());
  }

 protected:
  // cereal reads every value with sgetn; one copy instead of the base class's loop.
  std::streamsize xsgetn(char* out, std::streamsize n) override {
    const std::streamsize k = std::min<std::streamsize>(n, egptr() - gptr());
    std::memcpy(out, gptr(), static_cast<size_t>(k));
    gbump(static_cast<int>(k));
    return k;
  }
};

// cereal reads and writes through iostreams, and constructing one (its ios_base and
// locale) for every record cost about a sixth of an event's encoding: each thread
// keeps one of each, pointed at the record in hand. Records do not nest, so one per
// thread is enough; cereal reads and writes the buffers directly, so a record that
// failed to decode leaves nothing behind in the stream's state for the next one.
struct Streams {
  StringSink sink;
  std::ostream out{&sink};
  ViewSource source;
  std::istream in{&source};
};

Streams& ThreadStreams() {
  thread_local Streams streams;
  return streams;
}

uint32_t Checksum(std::string_view payload) {
  return static_cast<uint32_t>(XXH3_64bits(payload.data(), payload.size()));
}

template <class T>
void AppendPayload(std::string& out, const T& value) {
  Streams& streams = ThreadStreams();
  streams.sink.Target(&out);
  cereal::PortableBinaryOutputArchive ar(streams.out);
  ar(value);
}

// Fills in the header of `out`, whose payload starts at byte 5.
void SealInPlace(std::string& out) {
  out[0] = static_cast<char>(kRecordFormat);
  const uint32_t sum = Checksum(std::string_view(out).substr(5));
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((sum >> (8 * i)) & 0xff);
}

template <class T>
std::string EncodeRecord(const T& value) {
  std::string out;
  out.reserve(256);  // an event's record, in one allocation
  out.resize(5);
  AppendPayload(out, value);
  SealInPlace(out);
  return out;
}

template <class T>
Result<T> DecodeRecord(std::string_view record, std::string_view where) {
  if (record.size() < 5) return Err(Status::Corruption(std::string(where) + ": record too short"));
  if (static_cast<uint8_t>(record[0]) != kRecordFormat) {
    return Err(Status::Corruption(std::string(where) + ": unknown record format " +
                                  std::to_string(static_cast<uint8_t>(record[0]))));
  }
  uint32_t sum = 0;
  for (int i = 0; i < 4; ++i) sum |= uint32_t{static_cast<uint8_t>(record[1 + i])} << (8 * i);
  const std::string_view payload = record.substr(5);
  if (sum != Checksum(payload)) {
    return Err(Status::Corruption(std::string(where) + ": checksum mismatch"));
  }
  T value;
  try {
    Streams& streams = ThreadStreams();
    streams.source.Source(payload);
    cereal::PortableBinaryInputArchive ar(streams.in);
    ar(value);
  } catch (const std::exception& ex) {  // cereal::Exception and bad_alloc on garbage
    return Err(Status::Corruption(std::string(where) + ": " + ex.what()));
  }
  return value;
}

}  // namespace

std::string SealRecord(std::string_view payload) {
  std::string out(5, '\0');
  out.append(payload);
  SealInPlace(out);
  return out;
}

std::string EncodeEvent(const engine::RecordedEvent& e) { return EncodeRecord(e); }
std::string EncodeSnapshot(const engine::JobSnapshot& s) { return EncodeRecord(s); }
std::string EncodeFileRow(const engine::FileRow& r) { return EncodeRecord(r); }

Result<engine::RecordedEvent> DecodeEvent(std::string_view record, std::string_view where) {
  return DecodeRecord<engine::RecordedEvent>(record, where);
}
Result<engine::JobSnapshot> DecodeSnapshot(std::string_view record, std::string_view where) {
  return DecodeRecord<engine::JobSnapshot>(record, where);
}
Result<engine::FileRow> DecodeFileRow(std::string_view record, std::string_view where) {
  return DecodeRecord<engine::FileRow>(record, where);
}

std::string EncodeEtaHistory(const EtaHistoryRecord& r) { return EncodeRecord(r); }
Result<EtaHistoryRecord> DecodeEtaHistory(std::string_view record, std::string_view where) {
  return DecodeRecord<EtaHistoryRecord>(record, where);
}

namespace {

// A RecordedEvent made of a reference to the event: the same bytes as RecordedEvent's
// (it carries RecordedEvent's class version), without moving the event into one.
struct RecordedEventView {
  const engine::Event& e;
  uint64_t version, position;
  engine::Millis recorded_at;
  template <class A> void serialize(A& ar, uint32_t) { ar(e, version, position, recorded_at); }
};

// An event's content: its members as Event::serialize writes them, with
// expected_version always empty. It carries Event's class version, so its bytes are
// exactly those of a copy of the event with expected_version reset (the definition the
// stored dedupe entries were hashed with), without copying the event.
struct EventContent {
  const engine::Event& e;
  template <class A> void serialize(A& ar, uint32_t) {
    const std::optional<uint64_t> no_expected_version;
    ar(e.event_id, e.job_id, e.occurred_at, e.worker_id, no_expected_version, e.data,
       e.extra_data_json);
  }
};

}  // namespace
}  // namespace jobstate::storage

// Event's and RecordedEvent's class versions (engine/event.h); codec_test checks that
// the encodings agree.
CEREAL_CLASS_VERSION(jobstate::storage::EventContent, 1)
CEREAL_CLASS_VERSION(jobstate::storage::RecordedEventView, 1)

namespace jobstate::storage {

uint64_t ContentHash(const engine::Event& e) {
  std::string payload;
  AppendPayload(payload, EventContent{e});
  return XXH3_64bits(payload.data(), payload.size());
}

namespace {

// An event record's payload is   endianness:u8  RecordedEvent's version:u32  Event's
// version:u32  the event's members  version:u64 position:u64 recorded_at:i64,   and
// ContentHash hashes   endianness:u8  EventContent's version:u32 (= Event's)  the same
// members. So, for an event without an expected_version (which the record holds and
// the content leaves out), the hash is that of the payload less bytes 1-4 and the tail.
constexpr size_t kRecordedTail = 3 * 8;

uint64_t ContentHashOfPayload(std::string_view payload) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, payload.data(), 1);
  XXH3_64bits_update(&state, payload.data() + 5, payload.size() - 5 - kRecordedTail);
  return XXH3_64bits_digest(&state);
}

// Whether a stored payload holds the event in this build's encoding, so that its bytes
// are what ContentHash would hash. The payload names the versions of RecordedEvent and
// Event; the classes inside an event write theirs where they first appear, among the
// members' bytes. Every one of them is still at its first version, so a record whose
// two leading versions are this build's holds the rest in this build's encoding too.
// Should one of them be bumped, records written before the bump would differ from a
// fresh encoding where the leading versions do not show it: every record is then
// encoded again (correct, and slower) until this check learns to tell them apart.
template <class... T>
bool AllFirstVersions() {
  return ((cereal::detail::Version<T>::version == 1) && ...);
}

bool InThisBuildsEncoding(std::string_view payload) {
  static const bool kInnerClassesUnchanged =
      AllFirstVersions<engine::ResultData, engine::Money, engine::Billing,
                       engine::DiscoveredFile, engine::JobCreated, engine::JobStarted,
                       engine::StageStarted, engine::StageCompleted,
                       engine::FilesDiscovered, engine::FileStarted, engine::FileProgress,
                       engine::FileCompleted, engine::FileFailed, engine::FileSkipped,
                       engine::FileRetried, engine::FileCancelled, engine::JobProgress,
                       engine::JobWorkers, engine::JobCompleted, engine::JobFailed,
                       engine::JobCancelled>();
  auto version_at = [&](size_t i) {
    uint32_t v = 0;
    for (size_t b = 0; b < 4; ++b) {
      v |= uint32_t{static_cast<uint8_t>(payload[i + b])} << (8 * b);
    }
    return v;
  };
  return kInnerClassesUnchanged && payload.size() >= 9 + kRecordedTail &&
         static_cast<uint8_t>(payload[0]) == 1 &&
         version_at(1) == cereal::detail::Version<engine::RecordedEvent>::version &&
         version_at(5) == cereal::detail::Version<engine::Event>::version;
}

}  // namespace

EncodedEvent EncodeEventAndHash(const engine::Event& e, uint64_t version, uint64_t position,
                                engine::Millis recorded_at) {
  EncodedEvent out{EncodeRecord(RecordedEventView{e, version, position, recorded_at}), 0};
  out.content_hash = e.expected_version
                         ? ContentHash(e)
                         : ContentHashOfPayload(std::string_view(out.record).substr(5));
  return out;
}

uint64_t ContentHashOfRecord(std::string_view record, const engine::RecordedEvent& e) {
  const std::string_view payload = record.substr(std::min<size_t>(5, record.size()));
  if (e.event.expected_version || !InThisBuildsEncoding(payload)) {
    return ContentHash(e.event);
  }
  return ContentHashOfPayload(payload);
}

std::string EncodeDedupe(const DedupeEntry& d) {
  std::string out(1, static_cast<char>(kRecordFormat));
  keys::PutFixed64(out, d.version);
  keys::PutFixed64(out, d.position);
  keys::PutFixed64(out, static_cast<uint64_t>(d.recorded_at));
  keys::PutFixed64(out, d.content_hash);
  return out;
}

Result<DedupeEntry> DecodeDedupe(std::string_view v, std::string_view where) {
  if (v.size() != 33 || static_cast<uint8_t>(v[0]) != kRecordFormat) {
    return Err(Status::Corruption(std::string(where) + ": malformed dedupe entry"));
  }
  DedupeEntry d;
  d.version = keys::DecodeFixed64(v.data() + 1);
  d.position = keys::DecodeFixed64(v.data() + 9);
  d.recorded_at = static_cast<engine::Millis>(keys::DecodeFixed64(v.data() + 17));
  d.content_hash = keys::DecodeFixed64(v.data() + 25);
  return d;
}

}  // namespace jobstate::storage
