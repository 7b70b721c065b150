// Publishes each line of stdin (or COUNT copies of a 1 KB body, with no
// stdin) to QUEUE through the default exchange, persistent, on a confirm
// channel, waiting for the broker's confirms every 1,000 messages: when it
// exits 0, every message is in the queue. Prints the seconds it took.
// usage: node publish.mjs URL QUEUE [COUNT]
import amqp from "amqplib";
import readline from "node:readline";

const [url, queue, count] = process.argv.slice(2);
const c = await amqp.connect(url);
const ch = await c.createConfirmChannel();
const t0 = process.hrtime.bigint();
let n = 0;
async function send(body) {
  ch.publish("", queue, body, {persistent: true});
  if (++n % 1000 === 0) await ch.waitForConfirms();
}
if (count) {
  const body = Buffer.alloc(1024, "x");
  for (let i = 0; i < +count; i++) await send(body);
} else {
  for await (const line of readline.createInterface({input: process.stdin})) await send(Buffer.from(line));
}
await ch.waitForConfirms();
console.log(Number(process.hrtime.bigint() - t0) / 1e9);
await c.close();
