#pragma once
// Names of the message types, for headers that only pass them by reference:
// including core/message.h instead would rebuild every file that includes
// such a header whenever the message changes.

namespace sluice::core {
class Metadata;
class Message;
struct Batch;
}  // namespace sluice::core
