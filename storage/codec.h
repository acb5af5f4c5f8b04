#pragma once
// Binary codecs of every stored record.
//
// A record is   format:u8  checksum:u32le  payload
// where format is kRecordFormat (1), checksum the low 32 bits of XXH3-64 over the
// payload, and payload the bytes of cereal's PortableBinaryArchive of the value (which
// stores each class's CEREAL_CLASS_VERSION, so old records still decode after a struct
// grows), written and read by the codec's own archives over the record's string.
// Decoding a record that is short, of an unknown format, fails its checksum or does not
// parse is Corruption naming the key. docs/formats.md has the full grammar.
//
// Thread safety: free functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/event.h"
#include "engine/state.h"
#include "engine/status.h"

namespace jobstate::storage {

inline constexpr uint8_t kRecordFormat = 1;

std::string EncodeEvent(const engine::RecordedEvent& e);
std::string EncodeSnapshot(const engine::JobSnapshot& s);
std::string EncodeFileRow(const engine::FileRow& r);

// Names a record in the error when it does not decode: a plain name, or a family and
// the record's key, described only then ("events/jid=3,n=7 (16 bytes)"), because
// describing a key costs more than decoding a small record. Holds views: it lives for
// the call it is passed to.
class RecordName {
 public:
  RecordName(const char* name) : name_(name) {}         // NOLINT: implicit by design
  RecordName(std::string_view name) : name_(name) {}    // NOLINT
  RecordName(const std::string& name) : name_(name) {}  // NOLINT
  RecordName(std::string_view family, std::string_view key) : name_(family), key_(key) {}
  std::string str() const;

 private:
  std::string_view name_;
  std::optional<std::string_view> key_;
};

Result<engine::RecordedEvent> DecodeEvent(std::string_view record,
                                          const RecordName& where);
Result<engine::JobSnapshot> DecodeSnapshot(std::string_view record,
                                           const RecordName& where);
Result<engine::FileRow> DecodeFileRow(std::string_view record, const RecordName& where);

// eta_history: the ETA's prior for one (organisation, collection, job type) after the
// job completed at the key's position: every such job's lesson, summed in position
// order, and the instant that job completed (recorded_at).
struct EtaHistoryRecord {
  engine::Millis recorded_at = 0;
  engine::EtaHistory history;
  bool operator==(const EtaHistoryRecord&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(recorded_at, history); }
};
std::string EncodeEtaHistory(const EtaHistoryRecord& r);
Result<EtaHistoryRecord> DecodeEtaHistory(std::string_view record, const RecordName& where);

// Wraps an already encoded payload in the record envelope (format and checksum).
std::string SealRecord(std::string_view payload);

// The idempotency fingerprint of an event as sent: a hash of its canonical encoding
// with expected_version left out (a precondition, not content).
uint64_t ContentHash(const engine::Event& e);

// The record EncodeEvent writes for `e` stored at (version, position, recorded_at), and
// ContentHash(e), from one encoding of the event (the commit path needs both).
struct EncodedEvent {
  std::string record;
  uint64_t content_hash = 0;
};
EncodedEvent EncodeEventAndHash(const engine::Event& e, uint64_t version, uint64_t position,
                                engine::Millis recorded_at);

// ContentHash(e.event) for an event read back from `record` (its record as stored):
// hashed from the record's bytes where they hold the event in this build's encoding,
// without encoding it again (replay and verify hash every event of the log).
uint64_t ContentHashOfRecord(std::string_view record, const engine::RecordedEvent& e);

// dedupe: (jid, event_id) -> where the event went and what it held.
struct DedupeEntry {
  uint64_t version = 0;
  uint64_t position = 0;
  engine::Millis recorded_at = 0;
  uint64_t content_hash = 0;
};
std::string EncodeDedupe(const DedupeEntry& d);
Result<DedupeEntry> DecodeDedupe(std::string_view value, std::string_view where);

}  // namespace jobstate::storage

CEREAL_CLASS_VERSION(jobstate::storage::EtaHistoryRecord, 1)
