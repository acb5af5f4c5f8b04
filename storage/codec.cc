// Record grammar (all stored values but the fixed-width ones below):
//   record   := format:u8 checksum:u32le payload
//   format   := 0x01
//   checksum := low 32 bits of XXH3_64bits(payload)
//   payload  := cereal PortableBinaryArchive of one value; every class carries its
//               CEREAL_CLASS_VERSION the first time it appears in a payload. The codec
//               writes and reads these bytes with archives of its own, over a string
//               (codec_detail below), not cereal's over iostreams.
// Fixed-width values:
//   dedupe   := format:u8 version:u64be position:u64be recorded_at:i64be hash:u64be
#include "storage/codec.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/container/small_vector.hpp>
#include <cereal/cereal.hpp>
#include <cereal/specialize.hpp>
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>

#include "storage/internal/keys.h"

namespace jobstate::storage::codec_detail {

// Class versions, kept per archive. cereal's archives write (and read) a class's
// CEREAL_CLASS_VERSION before the class's first appearance in a payload, tracking the
// classes seen in a hash set, and its output archives also look each versioned
// object's version up in a process-wide map: a node allocated and freed on every
// object saved, and a map that two threads may not fill at once (CEREAL_THREAD_SAFE is
// off). The codec's archives write the same bytes and keep the classes seen in a small
// inline list instead (a payload holds a few dozen classes at most).
template <class T>
inline constexpr char kClassTag = 0;  // its address names T

class ClassVersions {
 public:
  // The version of the class `tag` names, if this payload has had it.
  std::optional<uint32_t> Find(const void* tag) const {
    for (const auto& [t, version] : seen_) {
      if (t == tag) return version;
    }
    return std::nullopt;
  }
  void Add(const void* tag, uint32_t version) { seen_.emplace_back(tag, version); }

 private:
  boost::container::small_vector<std::pair<const void*, uint32_t>, 32> seen_;
};

// cereal's PortableBinaryOutputArchive, writing little-endian on this little-endian
// machine, emits its endianness byte and then every value's bytes as they are; this
// archive emits the same bytes straight into a string, without an ostream and a
// virtual streambuf call for every value (codec_test compares the two).
static_assert(std::endian::native == std::endian::little);
class StringOutputArchive
    : public cereal::OutputArchive<StringOutputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit StringOutputArchive(std::string& out)
      : cereal::OutputArchive<StringOutputArchive, cereal::AllowEmptyClassElision>(this),
        out_(out) {
    out_.push_back('\x01');  // the portable archive's "little endian" byte
  }
  void SaveBytes(const void* data, size_t size) {
    // An empty vector's data may be null, which append must not be given.
    if (size > 0) out_.append(static_cast<const char*>(data), size);
  }
  // T's version, written before T's first appearance in the payload.
  template <class T>
  uint32_t ClassVersion() {
    const uint32_t version = cereal::detail::Version<T>::version;
    if (!versions_.Find(&kClassTag<T>)) {
      versions_.Add(&kClassTag<T>, version);
      SaveBytes(&version, sizeof(version));
    }
    return version;
  }

 private:
  std::string& out_;
  ClassVersions versions_;
};

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(
    StringOutputArchive& ar, const T& t) {
  ar.SaveBytes(std::addressof(t), sizeof(t));
}
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(StringOutputArchive& ar,
                                    cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(StringOutputArchive& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
}
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(StringOutputArchive& ar, const cereal::BinaryData<T>& bd) {
  ar.SaveBytes(bd.data, static_cast<size_t>(bd.size));
}

// Reads what PortableBinaryOutputArchive wrote, as cereal's PortableBinaryInputArchive
// does (byte order from the leading byte), from a string_view instead of an istream.
class ViewInputArchive
    : public cereal::InputArchive<ViewInputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit ViewInputArchive(std::string_view in)
      : cereal::InputArchive<ViewInputArchive, cereal::AllowEmptyClassElision>(this),
        in_(in) {
    uint8_t little = 0;
    LoadBytes<1>(&little, 1);
    swap_ = little == 0;
  }
  // Throws cereal::Exception when the record ends first (the decoder reports it).
  template <size_t DataSize>
  void LoadBytes(void* data, size_t size) {
    if (size > in_.size()) RanDry(size);
    if (size == DataSize) {
      std::memcpy(data, in_.data(), DataSize);  // one value: copied inline, no call
    } else if (size > 0) {                      // an empty vector's data may be null
      std::memcpy(data, in_.data(), size);
    }
    in_.remove_prefix(size);
    if (swap_ && DataSize > 1) {
      auto* p = static_cast<uint8_t*>(data);
      for (size_t i = 0; i + DataSize <= size; i += DataSize) {
        std::reverse(p + i, p + i + DataSize);
      }
    }
  }
  // A string as cereal writes it (a 64-bit size, then the bytes), copied once: cereal's
  // own load zero-fills the string to its size before it copies the bytes over.
  void LoadString(std::string& str) {
    uint64_t size = 0;
    LoadBytes<sizeof(size)>(&size, sizeof(size));
    if (size > in_.size()) RanDry(size);
    str.clear();
    str.append(in_.data(), size);
    in_.remove_prefix(size);
  }
  [[noreturn, gnu::cold, gnu::noinline]] void RanDry(size_t size) const {
    throw cereal::Exception("Failed to read " + std::to_string(size) +
                            " bytes from the record; " + std::to_string(in_.size()) +
                            " left");
  }
  // T's version: read before T's first appearance in the payload, remembered after.
  template <class T>
  uint32_t ClassVersion() {
    if (const auto seen = versions_.Find(&kClassTag<T>)) return *seen;
    uint32_t version = 0;
    LoadBytes<sizeof(version)>(&version, sizeof(version));
    versions_.Add(&kClassTag<T>, version);
    return version;
  }

 private:
  std::string_view in_;
  bool swap_ = false;
  ClassVersions versions_;
};

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(ViewInputArchive& ar,
                                                                    T& t) {
  ar.LoadBytes<sizeof(T)>(std::addressof(t), sizeof(t));
}
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(ViewInputArchive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(ViewInputArchive& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(ViewInputArchive& ar, cereal::BinaryData<T>& bd) {
  using Element = std::remove_pointer_t<T>;
  ar.LoadBytes<sizeof(Element)>(bd.data, static_cast<size_t>(bd.size));
}
inline void CEREAL_LOAD_FUNCTION_NAME(ViewInputArchive& ar, std::string& str) {
  ar.LoadString(str);
}

// Every class with a versioned serialize member goes through this function with the
// codec's archives (cereal::specialize below), which keep the version themselves.
template <class A>
concept CodecArchive =
    std::is_same_v<A, StringOutputArchive> || std::is_same_v<A, ViewInputArchive>;
template <class A, class T>
inline constexpr bool kVersioned = cereal::traits::has_member_versioned_serialize<T, A>::value;
template <CodecArchive A, class T>
  requires kVersioned<A, T>
void CEREAL_SERIALIZE_FUNCTION_NAME(A& ar, T& t) {
  cereal::access::member_serialize(ar, t, ar.template ClassVersion<T>());
}

}  // namespace jobstate::storage::codec_detail

namespace cereal {
template <jobstate::storage::codec_detail::CodecArchive A, class T>
struct specialize<A, T, specialization::non_member_serialize>
    : std::bool_constant<jobstate::storage::codec_detail::kVersioned<A, T>> {};
}  // namespace cereal

CEREAL_REGISTER_ARCHIVE(jobstate::storage::codec_detail::StringOutputArchive)
CEREAL_REGISTER_ARCHIVE(jobstate::storage::codec_detail::ViewInputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(jobstate::storage::codec_detail::ViewInputArchive,
                            jobstate::storage::codec_detail::StringOutputArchive)

namespace jobstate::storage {

namespace {

uint32_t Checksum(std::string_view payload) {
  return static_cast<uint32_t>(XXH3_64bits(payload.data(), payload.size()));
}

template <class T>
void AppendPayload(std::string& out, const T& value) {
  codec_detail::StringOutputArchive ar(out);
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
Result<T> DecodeRecord(std::string_view record, const RecordName& where) {
  if (record.size() < 5) {
    return Err(Status::Corruption(where.str() + ": record too short"));
  }
  if (static_cast<uint8_t>(record[0]) != kRecordFormat) {
    return Err(Status::Corruption(where.str() + ": unknown record format " +
                                  std::to_string(static_cast<uint8_t>(record[0]))));
  }
  uint32_t sum = 0;
  for (int i = 0; i < 4; ++i) sum |= uint32_t{static_cast<uint8_t>(record[1 + i])} << (8 * i);
  const std::string_view payload = record.substr(5);
  if (sum != Checksum(payload)) {
    return Err(Status::Corruption(where.str() + ": checksum mismatch"));
  }
  T value;
  try {
    codec_detail::ViewInputArchive ar(payload);
    ar(value);
  } catch (const std::exception& ex) {  // cereal::Exception and bad_alloc on garbage
    return Err(Status::Corruption(where.str() + ": " + ex.what()));
  }
  return value;
}

}  // namespace

std::string RecordName::str() const {
  return key_ ? keys::Describe(name_, *key_) : std::string(name_);
}

std::string SealRecord(std::string_view payload) {
  std::string out(5, '\0');
  out.append(payload);
  SealInPlace(out);
  return out;
}

std::string EncodeEvent(const engine::RecordedEvent& e) { return EncodeRecord(e); }
std::string EncodeSnapshot(const engine::JobSnapshot& s) { return EncodeRecord(s); }
std::string EncodeFileRow(const engine::FileRow& r) { return EncodeRecord(r); }

Result<engine::RecordedEvent> DecodeEvent(std::string_view record, const RecordName& where) {
  return DecodeRecord<engine::RecordedEvent>(record, where);
}
Result<engine::JobSnapshot> DecodeSnapshot(std::string_view record, const RecordName& where) {
  return DecodeRecord<engine::JobSnapshot>(record, where);
}
Result<engine::FileRow> DecodeFileRow(std::string_view record, const RecordName& where) {
  return DecodeRecord<engine::FileRow>(record, where);
}

std::string EncodeEtaHistory(const EtaHistoryRecord& r) { return EncodeRecord(r); }
Result<EtaHistoryRecord> DecodeEtaHistory(std::string_view record, const RecordName& where) {
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
  std::string out;
  out.reserve(33);
  out.push_back(static_cast<char>(kRecordFormat));
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
