#!/usr/bin/env node
// Drives esptool-js 0.7.0 (the independent client) against a port: espsim's
// TCP port or pty, or later any real port reachable the same way.  Prints
// esptool-js's own messages on stderr and ONE JSON line on stdout, e.g.
//   {"ok":true,"cmd":"write","chip":"ESP32",...,"timings":{...}}
// Exit status 0 on success, 1 on failure ({"ok":false,"error":"..."}).
//
// usage: node run.mjs CMD --port tcp://127.0.0.1:40000|/dev/pts/N [options]
//   info                connect, detect chip, read MAC, flash id
//   flash-id            JEDEC id through the SPI registers
//   write --file F --offset O [--compress|--no-compress] [--verify]
//   md5 --offset O --size N
//   erase               whole chip (stub only)
//   read --offset O --size N --out F   (stub only)
// common: --baud B (default 115200) --no-stub --trace
// Benchmark peer: `write --file F --offset O --port P --baud B` prints
// timings (connect, stub, baud, write, verify, total) in milliseconds.
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";
import { SimSerialPort } from "./adapter.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkgDir = process.env.ESPTOOLJS_DIR ||
  path.resolve(here, "../../tools/npm/node_modules/esptool-js");

// stdout is reserved for the one JSON line: esptool-js logs some trace
// lines with console.log even when tracing is off.
console.log = (...a) => process.stderr.write(a.join(" ") + "\n");

function parseArgs(argv) {
  const o = { cmd: argv[0], baud: 115200, stub: true, compress: true };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case "--port": o.port = v(); break;
      case "--baud": o.baud = Number(v()); break;
      case "--file": o.file = v(); break;
      case "--offset": o.offset = Number(v()); break;
      case "--size": o.size = Number(v()); break;
      case "--out": o.out = v(); break;
      case "--compress": o.compress = true; break;
      case "--no-compress": o.compress = false; break;
      case "--no-stub": o.stub = false; break;
      case "--verify": o.verify = true; break;
      case "--trace": o.trace = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.cmd || !o.port) throw new Error("usage: run.mjs CMD --port PORT [options]");
  return o;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const hex = (n, w = 0) => "0x" + (n >>> 0).toString(16).padStart(w, "0");

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(pkgDir, "package.json"))) {
    throw new Error(`esptool-js is not installed in ${pkgDir}: run tools/setup.sh`);
  }
  const { ESPLoader, Transport } = await import(path.join(pkgDir, "lib/index.js"));
  const log = [];
  const terminal = {
    clean() {},
    writeLine(s) { log.push(s); process.stderr.write(s + "\n"); },
    write(s) { process.stderr.write(s); },
  };
  const port = new SimSerialPort(o.port);
  const transport = new Transport(port, !!o.trace);
  const loader = new ESPLoader({ transport, baudrate: o.baud, terminal,
                                 debugLogging: !!o.trace });
  const t = {};
  const t0 = Date.now();
  const res = { ok: true, cmd: o.cmd, stub: o.stub };
  let lap = t0;
  const mark = (k) => { const n = Date.now(); t[k] = n - lap; lap = n; };

  try {
    if (o.stub) {
      // main(): detect, describe, MAC, stub upload, baud change, flash id
      res.chipDescription = await loader.main("default_reset");
      mark("connect_stub");
    } else {
      await loader.detectChip("default_reset");
      res.chipDescription = await loader.chip.getChipDescription(loader);
      mark("connect");
      loader.FLASH_WRITE_SIZE = 0x400; // the ROM block size esptool uses
      if (loader.chip.CHIP_NAME === "ESP8266") {
        loader.baudrate = loader.romBaudrate; // its ROM cannot change baud
      } else if (loader.baudrate !== loader.romBaudrate) {
        await loader.changeBaud(); // ROM CHANGE_BAUDRATE
        mark("baud");
      }
    }
    res.chip = loader.chip.CHIP_NAME;
    res.mac = await loader.chip.readMac(loader);
    res.isStub = loader.IS_STUB;
    res.baud = loader.baudrate;

    switch (o.cmd) {
      case "info":
      case "flash-id": {
        const id = await loader.readFlashId();
        res.flashId = hex(id, 6);
        res.flashSize = loader.DETECTED_FLASH_SIZES[(id >> 16) & 0xff] || null;
        break;
      }
      case "write": {
        if (!o.file || !(o.offset >= 0)) throw new Error("write needs --file and --offset");
        const data = new Uint8Array(fs.readFileSync(o.file));
        const md5 = crypto.createHash("md5").update(data).digest("hex");
        // esptool-js may pad the image to 4 bytes; remember the real length
        res.file = { size: data.length, md5 };
        const compress = o.compress && !(res.chip === "ESP8266" && !o.stub);
        res.compress = compress;
        const mark0 = Date.now();
        await loader.writeFlash({
          fileArray: [{ data, address: o.offset }],
          flashMode: "keep", flashFreq: "keep", flashSize: "keep",
          eraseAll: false, compress,
          // esptool-js's own check only works with the stub (16 raw bytes);
          // the ROM path is verified below.
          calculateMD5Hash: o.stub
            ? (img) => crypto.createHash("md5").update(img).digest("hex")
            : undefined,
          reportProgress: () => {},
        });
        t.write = Date.now() - mark0;
        lap = Date.now();
        if (o.verify || !o.stub) {
          if (res.chip === "ESP8266" && !o.stub) {
            res.verified = "unsupported (no SPI_FLASH_MD5 in the ESP8266 ROM)";
          } else {
            const padded = (data.length + 3) & ~3;
            const img = new Uint8Array(padded).fill(0xff);
            img.set(data);
            const want = crypto.createHash("md5").update(img).digest("hex");
            let got = await loader.flashMd5sum(o.offset, padded);
            // esptool-js hex-encodes the ROM's 32 ASCII digits again
            if (!loader.IS_STUB) got = Buffer.from(got, "hex").toString("latin1");
            res.flashMd5 = got;
            res.verified = got === want;
            if (!res.verified) throw new Error(`MD5 mismatch: flash ${got} file ${want}`);
          }
          mark("verify");
        }
        break;
      }
      case "md5": {
        let got = await loader.flashMd5sum(o.offset, o.size);
        if (!loader.IS_STUB) got = Buffer.from(got, "hex").toString("latin1");
        res.md5 = got;
        mark("md5");
        break;
      }
      case "erase":
        if (!loader.IS_STUB) throw new Error("erase needs the stub");
        await loader.eraseFlash();
        mark("erase");
        break;
      case "read": {
        if (!loader.IS_STUB) throw new Error("read needs the stub");
        const data = await loader.readFlash(o.offset, o.size);
        if (o.out) fs.writeFileSync(o.out, data);
        res.md5 = crypto.createHash("md5").update(data).digest("hex");
        res.size = data.length;
        mark("read");
        break;
      }
      default:
        throw new Error(`unknown command ${o.cmd}`);
    }
  } finally {
    t.total = Date.now() - t0;
    res.timings = t;
    res.bytes = port.stats;
    // esptool-js keeps the writer locked after a failed write, so its
    // disconnect() can wait forever: bound it, then close the port directly.
    try {
      await Promise.race([transport.disconnect(),
                          new Promise((r) => setTimeout(r, 1000))]);
    } catch { /* ignore */ }
    await port.close();
  }
  emit(res);
}

main().then(() => process.exit(0), (e) => {
  emit({ ok: false, error: String(e && e.message ? e.message : e) });
  process.exit(1);
});
