// The peers of bench/sqs-bench: receive loops written the way their users
// write them, run for a while against an SQS endpoint.
// usage: node loops.mjs MODE ENDPOINT SOURCE_URL TARGET_URL LOOPS SECONDS
//   sdk: @aws-sdk/client-sqs; each loop receives 10 (long poll 1 s), sends
//        them on to TARGET_URL (SendMessageBatch), deletes them
//        (DeleteMessageBatch): the seed's program.
//   raw: keep-alive HTTP, the JSON protocol by hand, the same three calls
//        and nothing else: what the emulator can serve for this work.
// Stops after SECONDS, or when every loop's receive came back empty. Prints
// JSON: {"messages": N, "seconds": S, "calls": C}.
import {
  SQSClient, ReceiveMessageCommand, SendMessageBatchCommand, DeleteMessageBatchCommand,
} from "@aws-sdk/client-sqs";
import http from "node:http";

const [mode, endpoint, source, target, loopsArg, secondsArg] = process.argv.slice(2);
const loops = Number(loopsArg), deadline = Date.now() + Number(secondsArg) * 1000;
let messages = 0, calls = 0, lastWork = Date.now();

const sdk = new SQSClient({
  endpoint, region: "us-east-1", useQueueUrlAsEndpoint: false,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});

async function sdkLoop() {
  while (Date.now() < deadline) {
    const r = await sdk.send(new ReceiveMessageCommand({ QueueUrl: source, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    calls++;
    const got = r.Messages ?? [];
    if (!got.length) return;
    await sdk.send(new SendMessageBatchCommand({
      QueueUrl: target,
      Entries: got.map((m, i) => ({ Id: String(i), MessageBody: JSON.stringify({ ...JSON.parse(m.Body), moved: "yes" }) })),
    }));
    await sdk.send(new DeleteMessageBatchCommand({
      QueueUrl: source, Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
    }));
    calls += 2;
    messages += got.length;
    lastWork = Date.now();
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: loops });
const url = new URL(endpoint);
function call(action, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({
      agent, host: url.hostname, port: url.port, path: "/", method: "POST",
      headers: { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": `AmazonSQS.${action}`, "Content-Length": Buffer.byteLength(data) },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(text ? JSON.parse(text) : {}) : reject(new Error(text))));
    });
    req.on("error", reject);
    req.end(data);
  });
}

async function rawLoop() {
  while (Date.now() < deadline) {
    const r = await call("ReceiveMessage", { QueueUrl: source, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 });
    calls++;
    const got = r.Messages ?? [];
    if (!got.length) return;
    await call("SendMessageBatch", {
      QueueUrl: target,
      Entries: got.map((m, i) => ({ Id: String(i), MessageBody: JSON.stringify({ ...JSON.parse(m.Body), moved: "yes" }) })),
    });
    await call("DeleteMessageBatch", { QueueUrl: source, Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) });
    calls += 2;
    messages += got.length;
    lastWork = Date.now();
  }
}

const began = Date.now();
lastWork = began;
await Promise.all(Array.from({ length: loops }, () => (mode === "sdk" ? sdkLoop() : rawLoop())));
// Until the last message was done: the final empty receives waited for
// nothing.
const seconds = (lastWork - began) / 1000;
console.log(JSON.stringify({ messages, seconds, calls }));
process.exit(0);
