#include "core/message.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace sluice::core {

const std::string* Metadata::find(std::string_view key) const {
  for (const auto& [k, v] : entries_)
    if (k == key) return &v;
  return nullptr;
}

void Metadata::set(std::string_view key, std::string value) {
  for (auto& [k, v] : entries_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::string(key), std::move(value));
}

const std::string& Message::payload() const {
  if (json_state_ == JsonState::edited) {
    payload_ = boost::json::serialize(*json_);
    json_state_ = JsonState::valid;
  }
  return payload_;
}

void Message::set_payload(std::string payload) {
  payload_ = std::move(payload);
  json_.reset();
  json_state_ = JsonState::unparsed;
}

const boost::json::value* Message::json() const {
  if (json_state_ == JsonState::unparsed) {
    boost::system::error_code ec;
    auto v = boost::json::parse(payload_, ec);
    if (ec) {
      json_state_ = JsonState::invalid;
    } else {
      json_ = std::move(v);
      json_state_ = JsonState::valid;
    }
  }
  return json_state_ == JsonState::invalid ? nullptr : &*json_;
}

boost::json::value& Message::mutable_json() {
  if (!json()) json_ = boost::json::object();
  json_state_ = JsonState::edited;
  return *json_;
}

void Message::set_json(boost::json::value v) {
  json_ = std::move(v);
  json_state_ = JsonState::edited;
}

size_t Batch::bytes() const {
  size_t n = 0;
  for (const auto& m : messages) n += m.payload().size();
  return n;
}

std::vector<Batch> Batch::split(size_t limit) && {
  std::vector<Batch> out;
  if (limit == 0 || messages.size() <= limit) {
    out.push_back(std::move(*this));
    return out;
  }
  for (size_t i = 0; i < messages.size(); i += limit) {
    Batch piece;
    const size_t end = std::min(messages.size(), i + limit);
    piece.messages.reserve(end - i);
    for (size_t j = i; j < end; ++j) piece.messages.push_back(std::move(messages[j]));
    out.push_back(std::move(piece));
  }
  messages.clear();
  return out;
}

void Batch::resolve_all(AckStatus s) {
  for (auto& m : messages) m.ack().resolve(s);
  messages.clear();
}

}  // namespace sluice::core
