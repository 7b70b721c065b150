// Starts the fauxqs SQS emulator on 127.0.0.1 (its CLI binds 0.0.0.0) and
// prints the port it listens on, then serves until killed.
// usage: node fauxqs.mjs [PORT]   (0 or none: a free port)
import { buildApp } from "fauxqs";

const app = buildApp({ logger: false });
const address = await app.listen({ port: Number(process.argv[2] ?? 0), host: "127.0.0.1" });
console.log(new URL(address).port);
