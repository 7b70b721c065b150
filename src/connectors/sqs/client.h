#pragma once
// A small SQS client over the JSON protocol (POST /, Content-Type
// application/x-amz-json-1.0, X-Amz-Target: AmazonSQS.<Action>), signed
// with SigV4, on the shared HTTP client.
//
// Errors: a throttling answer or a 5xx is Errc::unavailable (retry, and
// back off: the service is overloaded); any other refusal (a missing queue,
// denied access, a bad request) is Errc::io_error with the service's error
// type and message; an answer that is not the JSON SQS sends is
// Errc::invalid_payload; timeouts and cancellation as HttpTransport.
//
// Threads: any coroutine on the io_context; the client holds no state of
// its own between calls beyond its settings.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aws/sigv4.h"
#include "core/error.h"

namespace sluice::aws {
class CredentialsProvider;
}

namespace sluice::net {
class HttpTransport;
class Cancellation;
}  // namespace sluice::net

namespace sluice::connectors::sqs {

struct Received {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  std::map<std::string, std::string> attributes;          // SentTimestamp, ApproximateReceiveCount, ...
  std::map<std::string, std::string> message_attributes;  // String and Number values by name
};

struct ReceiveOptions {
  int max_messages = 10;
  std::chrono::seconds wait{20};
  std::chrono::seconds visibility_timeout{0};  // 0: the queue's own
  std::shared_ptr<net::Cancellation> cancel;
};

// One entry of a batch call: the caller's id, and the receipt handle (or
// body) it is about.
struct Entry {
  std::string id;
  std::string value;
  std::chrono::seconds visibility{0};           // ChangeMessageVisibilityBatch only
  std::map<std::string, std::string> extra;     // SendMessageBatch: MessageGroupId, MessageDeduplicationId, ...
};

// A batch call's entries that failed, by id: whether the fault was the
// sender's (permanent) and the service's code and message.
struct EntryFailure {
  std::string id;
  bool sender_fault = false;
  std::string code;
  std::string message;
};

struct Settings {
  std::string endpoint;  // "https://sqs.eu-west-1.amazonaws.com" or an emulator's URL
  std::string region;
  std::shared_ptr<aws::CredentialsProvider> credentials;
};

// Told of every call the client makes: its action, and the requests SQS
// bills for it (one per 64 KiB of payload, the larger of request and answer).
using Meter = std::function<void(const char* action, size_t billed)>;

class Client {
 public:
  Client(std::shared_ptr<net::HttpTransport> http, Settings settings, Meter meter = {});

  boost::asio::awaitable<core::Result<std::vector<Received>>> receive(const std::string& queue_url,
                                                                      ReceiveOptions options);
  boost::asio::awaitable<core::Result<std::vector<EntryFailure>>> delete_batch(const std::string& queue_url,
                                                                               std::vector<Entry> entries);
  boost::asio::awaitable<core::Result<std::vector<EntryFailure>>> change_visibility_batch(
      const std::string& queue_url, std::vector<Entry> entries);
  boost::asio::awaitable<core::Result<std::vector<EntryFailure>>> send_batch(const std::string& queue_url,
                                                                             std::vector<Entry> entries);
  boost::asio::awaitable<core::Result<std::map<std::string, std::string>>> queue_attributes(
      const std::string& queue_url);

  const Settings& settings() const { return settings_; }

 private:
  // One *Batch call: entries as {Id, <value_key>: value [, VisibilityTimeout]}.
  boost::asio::awaitable<core::Result<std::vector<EntryFailure>>> batch(const char* action, const std::string& queue_url,
                                                                        std::vector<Entry> entries,
                                                                        const char* value_key, bool with_visibility);
  boost::asio::awaitable<core::Result<std::string>> call(const char* action, std::string body,
                                                         std::chrono::nanoseconds timeout,
                                                         std::shared_ptr<net::Cancellation> cancel);

  // The signer of the credentials the provider gives now; a new one when
  // they were refreshed (a signer keeps its secret's day key).
  boost::asio::awaitable<core::Result<std::shared_ptr<const aws::Signer>>> signer();

  std::shared_ptr<net::HttpTransport> http_;
  Settings settings_;
  std::mutex signer_mu_;
  std::shared_ptr<const aws::Credentials> signed_with_;
  std::shared_ptr<const aws::Signer> signer_;
  Meter meter_;
  std::string host_;
};

// The region in an AWS queue URL (https://sqs.<region>.amazonaws.com/...),
// or empty.
std::string region_of_queue_url(const std::string& url);

// Hex MD5 of `body`, as SQS reports MD5OfBody.
std::string md5_hex(std::string_view body);

}  // namespace sluice::connectors::sqs
