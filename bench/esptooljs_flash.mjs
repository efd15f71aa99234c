#!/usr/bin/env node
// Benchmark peer: one esptool-js 0.7.0 flash cycle the way a user runs it
// (the esptool-js examples' sequence): connect + stub + baud (loader.main),
// writeFlash with compression and esptool-js's own MD5 check, then
// after("hard_reset"), then disconnect.  The serial port is the project's
// Web Serial look-alike (tests/esptooljs/adapter.mjs) over TCP.
//
// usage: node esptooljs_flash.mjs --port tcp://127.0.0.1:P --baud B --offset O --file F [--verify 0]
// (--verify 0: no MD5 check, to compare with `espfab flash --no-verify`)
// Prints ONE JSON line on stdout: {"ok":true,"timings":{...ms},"bytes":{...}}
// or {"ok":false,"error":"..."} with exit status 1.  esptool-js's messages
// go to stderr (discarded by the benchmark scripts unless they fail).
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const pkgDir = process.env.ESPTOOLJS_DIR || path.join(root, "tools/npm/node_modules/esptool-js");
console.log = (...a) => process.stderr.write(a.join(" ") + "\n");

function args(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, "");
    if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
    o[k] = argv[i + 1];
  }
  if (!o.port || !o.file || o.offset === undefined) {
    throw new Error("usage: esptooljs_flash.mjs --port P --baud B --offset O --file F");
  }
  o.baud = Number(o.baud || 115200);
  o.offset = Number(o.offset);
  return o;
}

async function main() {
  const o = args(process.argv.slice(2));
  if (!fs.existsSync(path.join(pkgDir, "package.json"))) {
    throw new Error(`esptool-js is not installed in ${pkgDir}: run tools/setup.sh`);
  }
  const { SimSerialPort } = await import(path.join(root, "tests/esptooljs/adapter.mjs"));
  const { ESPLoader, Transport } = await import(path.join(pkgDir, "lib/index.js"));
  const data = new Uint8Array(fs.readFileSync(o.file));
  const terminal = {
    clean() {},
    writeLine(s) { process.stderr.write(s + "\n"); },
    write(s) { process.stderr.write(s); },
  };
  const t = {};
  const t0 = Date.now();
  let lap = t0;
  const mark = (k) => { const n = Date.now(); t[k] = n - lap; lap = n; };
  const port = new SimSerialPort(o.port);
  const transport = new Transport(port, false);
  const loader = new ESPLoader({ transport, baudrate: o.baud, terminal, debugLogging: false });
  const res = { ok: true };
  try {
    res.chip = await loader.main("default_reset");
    mark("connect_stub_baud");
    await loader.writeFlash({
      fileArray: [{ data, address: o.offset }],
      flashMode: "keep", flashFreq: "keep", flashSize: "keep",
      eraseAll: false, compress: true,
      calculateMD5Hash: o.verify === "0" ? undefined
        : (img) => crypto.createHash("md5").update(img).digest("hex"),
      reportProgress: () => {},
    });
    mark("write_verify");
    await loader.after("hard_reset");
    mark("reset");
  } finally {
    try {
      await Promise.race([transport.disconnect(), new Promise((r) => setTimeout(r, 1000))]);
    } catch { /* ignore */ }
    await port.close();
    t.total = Date.now() - t0;
    res.timings = t;
    res.bytes = port.stats;
  }
  process.stdout.write(JSON.stringify(res) + "\n");
}

main().then(() => process.exit(0), (e) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e) }) + "\n");
  process.exit(1);
});
