#pragma once
// KeySequencer: the messages of one key (an SQS FIFO message group, a
// partition key) go through the pipeline one at a time, in the order they
// were read, while messages of other keys go at once.
//
// An input passes each read through admit(): the first message of a key with
// nothing of that key in flight goes now; the rest wait until the one
// before them is acknowledged. Delivered or rejected (dead-lettered)
// releases the next; errored hands back every waiting message of the key as
// errored too, so the source redelivers them, still in order, after the
// failed one. A reader of the input awaits released() for what was let go.
//
// Threads: admit() and released() from the input's coroutines; the acks
// arrive on any thread and only lock and move messages. Acks that arrive
// after the sequencer is gone pass straight to the source.

#include <memory>
#include <string>

#include "core/error.h"
#include "core/message.h"
#include "runtime/task.h"

namespace boost::asio {
class io_context;
}

namespace sluice::runtime {

class KeySequencer {
 public:
  // `key_meta`: the metadata entry that holds a message's key; a message
  // without it is not sequenced.
  KeySequencer(boost::asio::io_context& io, std::string key_meta);
  ~KeySequencer();
  KeySequencer(const KeySequencer&) = delete;
  KeySequencer& operator=(const KeySequencer&) = delete;

  // The messages of one read, in order; returns those that go now.
  core::Batch admit(core::Batch batch);
  // The messages released since the last call; waits until there are some.
  // Errc::closed after close().
  Task<core::Result<core::Batch>> released();
  void close();
  // Messages waiting for the one before them.
  size_t waiting() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace sluice::runtime
