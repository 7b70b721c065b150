#pragma once
// One message moving through a pipeline: payload bytes, string metadata, an
// acknowledgement handle back to its source, and a JSON view of the payload
// that is parsed on first use and at most once.
//
// Editing the JSON view marks the payload stale; payload() re-serialises it
// on demand, so a chain of processors parses and prints once, not per step.
//
// Threads: a message has one owner at a time (the coroutine handling its
// batch); it is not safe to share one Message between threads. Copies are
// independent except for the shared AckState.

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ack.h"

namespace sluice::core {

class Metadata {
 public:
  using Entry = std::pair<std::string, std::string>;
  const std::string* find(std::string_view key) const;
  void set(std::string_view key, std::string value);
  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

 private:
  std::vector<Entry> entries_;  // few keys: a vector beats a map here
};

class Message {
 public:
  Message() = default;
  explicit Message(std::string payload) : payload_(std::move(payload)) {}

  // The bytes; serialises the JSON view first if it was edited.
  const std::string& payload() const;
  void set_payload(std::string payload);

  // The payload parsed as JSON, or nullptr when it is not valid JSON.
  const boost::json::value* json() const;
  // Mutable JSON view; a non-JSON payload becomes an empty object.
  boost::json::value& mutable_json();
  void set_json(boost::json::value v);

  Metadata& meta() { return meta_; }
  const Metadata& meta() const { return meta_; }

  AckHandle& ack() { return ack_; }
  const AckHandle& ack() const { return ack_; }
  void set_ack(AckHandle h) { ack_ = std::move(h); }

 private:
  enum class JsonState : uint8_t { unparsed, valid, invalid, edited };
  mutable std::string payload_;
  mutable std::optional<boost::json::value> json_;
  mutable JsonState json_state_ = JsonState::unparsed;
  Metadata meta_;
  AckHandle ack_;
};

struct Batch {
  std::vector<Message> messages;

  Batch() = default;
  explicit Batch(std::vector<Message> m) : messages(std::move(m)) {}
  size_t size() const { return messages.size(); }
  bool empty() const { return messages.empty(); }
  size_t bytes() const;
  // Resolves every message's ack and empties the batch.
  void resolve_all(AckStatus s);

  // The messages in order, in batches of at most `limit` (0: one batch).
  std::vector<Batch> split(size_t limit) &&;

  // Keeps the messages for which keep(message) returns true, in order. A
  // message `keep` rejects may have been moved out by it.
  template <class Keep>
  void retain(Keep keep) {
    size_t kept = 0;
    for (size_t i = 0; i < messages.size(); ++i) {
      if (!keep(messages[i])) continue;
      if (kept != i) messages[kept] = std::move(messages[i]);  // never self-move: it empties strings
      ++kept;
    }
    messages.resize(kept);
  }
};

}  // namespace sluice::core
