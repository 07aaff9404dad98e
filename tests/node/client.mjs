// A Node.js client for contra, built only from the published .proto (no generated code).
// Usage: node client.mjs HOST:PORT PROTO_ROOT RUN_ID
// Ingests two reports from two sources, checks a claim, streams two checks, provokes one
// INVALID_ARGUMENT, and prints everything it got back as one JSON object on stdout.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import path from "node:path";

const [address, protoRoot, runId] = process.argv.slice(2);
const definition = protoLoader.loadSync(path.join(protoRoot, "contra/v1/contra.proto"), {
  includeDirs: [protoRoot],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
});
const contra = grpc.loadPackageDefinition(definition).contra.v1;
const client = new contra.ContraService(address, grpc.credentials.createInsecure());
const deadline = () => new Date(Date.now() + 120_000);

function unary(method, request, metadata = new grpc.Metadata()) {
  return new Promise((resolve) => {
    let echoed = null;
    const call = client[method](request, metadata, { deadline: deadline() }, (error, response) =>
      resolve({ error: error ? { code: error.code, details: error.details } : null, response, echoed }),
    );
    call.on("metadata", (md) => {
      echoed = md.get("x-request-id")[0] ?? null;
    });
  });
}

function checkStream(requests) {
  return new Promise((resolve, reject) => {
    const answers = [];
    const call = client.CheckStream(new grpc.Metadata(), { deadline: deadline() });
    call.on("data", (answer) => answers.push(answer));
    call.on("error", reject);
    call.on("end", () => resolve(answers));
    for (const request of requests) call.write(request);
    call.end();
  });
}

const published = { year: 2025, month: 3, day: 4 };
const ingest = await unary("Ingest", {
  documents: [
    {
      source: { source_id: `node-wire-${runId}`, outlet: "Node Wire" },
      text: "The city's new concert hall has 2,100 seats and opened on Saturday.",
      url: "https://node.example/hall",
      published,
      document_id: `node-hall-${runId}`,
    },
    {
      source: { source_id: `node-daily-${runId}` },
      text: "Officials said the harbour bridge will reopen to traffic in June.",
      published,
    },
  ],
});
const metadata = new grpc.Metadata();
metadata.set("x-request-id", `node-${runId}`);
const checkRequest = {
  text: "The city's new concert hall has 1,400 seats.",
  source: { source_id: `node-check-${runId}` },
  published,
};
const check = await unary("Check", checkRequest, metadata);
const stream = await checkStream([
  { tag: "hall", check: checkRequest },
  { tag: "bridge", check: { text: "The harbour bridge will stay closed until next year.", source: { source_id: "x" } } },
]);
const invalid = await unary("Check", { text: "", source: { source_id: "x" } });
console.log(JSON.stringify({ ingest, check, stream, invalid }));
client.close();
