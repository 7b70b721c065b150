// AWS's own JavaScript client (@aws-sdk/client-sqs) as the tests' producer
// and checker, independent of sluice's client.
// usage: node sqs.mjs ENDPOINT COMMAND ARGS...
//   create NAME [DLQ_NAME MAX_RECEIVES]  prints the queue URL (with a redrive policy to DLQ_NAME); NAME.fifo: FIFO
//   send URL                             sends each line of stdin as a message, 10 a call, 8 calls at once
//                                        (FIFO: one at a time, MessageGroupId from the JSON's "group")
//   drain URL WAIT_SECONDS               receives and deletes (8 loops) until a receive waits WAIT_SECONDS
//                                        for nothing; prints each body on a line
//   depth URL                            prints visible and in-flight counts
import {
  SQSClient, CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand,
  ReceiveMessageCommand, DeleteMessageBatchCommand,
} from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";

const [endpoint, command, ...args] = process.argv.slice(2);
const sqs = new SQSClient({
  endpoint, region: "us-east-1", useQueueUrlAsEndpoint: false,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});

const fifo = (name) => name.endsWith(".fifo");

async function create(name, dlq, maxReceives) {
  const Attributes = fifo(name) ? { FifoQueue: "true" } : {};
  if (dlq) {
    const d = await sqs.send(new CreateQueueCommand({ QueueName: dlq, Attributes: fifo(dlq) ? { FifoQueue: "true" } : {} }));
    const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: d.QueueUrl, AttributeNames: ["QueueArn"] }));
    Attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: a.Attributes.QueueArn, maxReceiveCount: maxReceives });
  }
  const q = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes }));
  console.log(q.QueueUrl);
}

// Eight calls at once each way: 100,000 messages take seconds, not minutes.
const kConcurrent = 8;

async function send(url) {
  const lines = [];
  for await (const line of createInterface({ input: process.stdin })) lines.push(line);
  let next = 0, sent = 0;
  // A FIFO queue's messages carry their JSON's "group" as MessageGroupId,
  // and go one call at a time, so that each group keeps the order of stdin.
  const entry = (body, i) => fifo(url)
    ? { Id: String(i), MessageBody: body, MessageGroupId: String(JSON.parse(body).group), MessageDeduplicationId: randomUUID() }
    : { Id: String(i), MessageBody: body };
  const worker = async () => {
    while (next < lines.length) {
      const batch = lines.slice(next, next + 10);
      next += batch.length;
      const r = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: batch.map(entry) }));
      if (r.Failed?.length) throw new Error(`send failed: ${JSON.stringify(r.Failed)}`);
      sent += batch.length;
    }
  };
  await Promise.all(Array.from({ length: fifo(url) ? 1 : kConcurrent }, worker));
  console.log(sent);
}

async function drain(url, wait) {
  const worker = async () => {
    for (;;) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: Number(wait) }));
      const messages = r.Messages ?? [];
      if (!messages.length) return;
      process.stdout.write(messages.map((m) => m.Body + "\n").join(""));
      await sqs.send(new DeleteMessageBatchCommand({
        QueueUrl: url, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }));
    }
  };
  await Promise.all(Array.from({ length: kConcurrent }, worker));
}

async function depth(url) {
  const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }));
  console.log(a.Attributes.ApproximateNumberOfMessages, a.Attributes.ApproximateNumberOfMessagesNotVisible);
}

const commands = { create, send, drain, depth };
if (!commands[command]) {
  console.error(`unknown command ${command}`);
  process.exit(2);
}
await commands[command](...args);
