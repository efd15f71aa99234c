#!/usr/bin/env node
// espsim smoke test with a tiny raw client (no esptool-js): exact wire
// bytes from the protocol fact sheet (section 1.3 golden packets), the
// unsupported-command rejection, ROM error statuses and the stub greeting.
// usage: node smoke.mjs ESPSIM_BINARY [smoke]
import net from "node:net";
import fs from "node:fs";
import path from "node:path";
import { check, summary, startSim, pkgDir } from "./lib.mjs";

const espsim = process.argv[2];
const h = (s) => Buffer.from(s.replace(/\s+/g, ""), "hex");

function slip(b) {
  const out = [0xc0];
  for (const c of b) {
    if (c === 0xdb) out.push(0xdb, 0xdd);
    else if (c === 0xc0) out.push(0xdb, 0xdc);
    else out.push(c);
  }
  out.push(0xc0);
  return Buffer.from(out);
}

// decodes a byte run into SLIP frames
function frames(buf) {
  const out = [];
  let cur = null;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0xc0) {
      if (cur && cur.length) out.push(Buffer.from(cur));
      cur = [];
    } else if (cur) {
      if (c === 0xdb) {
        const n = buf[++i];
        cur.push(n === 0xdc ? 0xc0 : n === 0xdd ? 0xdb : -1);
      } else cur.push(c);
    }
  }
  return out;
}
const F = (r) => frames(r)[0] || Buffer.alloc(16);

function u32(v) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

function cmd(op, data = Buffer.alloc(0), chk = 0) {
  const hd = Buffer.alloc(8);
  hd[1] = op;
  hd.writeUInt16LE(data.length, 2);
  hd.writeUInt32LE(chk, 4);
  return slip(Buffer.concat([hd, data]));
}

class Conn {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    sock.on("data", (d) => { this.buf = Buffer.concat([this.buf, d]); });
  }
  static open(tcp) {
    const m = /:(\d+)$/.exec(tcp);
    return new Promise((res, rej) => {
      const s = net.connect({ host: "127.0.0.1", port: Number(m[1]) });
      s.once("connect", () => res(new Conn(s)));
      s.once("error", rej);
    });
  }
  // waits until `n` bytes arrived or the line stays quiet for `quietMs`
  async take(n = Infinity, quietMs = 150) {
    let last = -1;
    const t0 = Date.now();
    while (this.buf.length < n && Date.now() - t0 < 3000) {
      if (this.buf.length === last && Date.now() - t0 > quietMs) break;
      last = this.buf.length;
      await new Promise((r) => setTimeout(r, quietMs / 3));
    }
    const k = Math.min(n, this.buf.length);
    const out = this.buf.subarray(0, k);
    this.buf = this.buf.subarray(k);
    return Buffer.from(out);
  }
  async xfer(pkt, n) {
    this.sock.write(pkt);
    return this.take(n);
  }
  close() { this.sock.destroy(); }
}

const SYNC = cmd(0x08, Buffer.concat([h("07071220"), Buffer.alloc(32, 0x55)]));

async function main() {
  const sim = await startSim(espsim, ["--boards", "esp32:1,esp8266:1,esp32c6:1", "--tcp-base", "0", "--no-pty"]);
  try {
    const [b32, b8266, bc6] = sim.boards;
    check(SYNC.equals(h("C0 00 08 24 00 00 00 00 00 07 07 12 20" + "55".repeat(32) + "C0")),
          "the test's SYNC request is the golden 46-byte packet");

    // ESP32 ROM
    let c = await Conn.open(b32.tcp);
    const banner = (await c.take()).toString("latin1");
    check(banner === "ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x3 " +
          "(DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n",
          "ESP32 download-mode banner on connect");
    let r = await c.xfer(SYNC, 8 * 14);
    check(r.equals(Buffer.concat(Array(8).fill(h("C0 01 08 04 00 07 07 12 20 00 00 00 00 C0")))),
          "ESP32 ROM: 8 golden SYNC replies");
    r = await c.xfer(h("C0 00 0A 04 00 00 00 00 00 00 10 00 40 C0"), 14);
    check(r.equals(h("C0 01 0A 04 00 83 1D F0 00 00 00 00 00 C0")), "ESP32 ROM: golden READ_REG(0x40001000) reply");
    r = await c.xfer(cmd(0x14), 8 * 14);
    check(frames(r).length === 8 && F(r)[1] !== 0x14 && F(r)[8] === 1 && F(r)[9] === 0x05,
          "ESP32 ROM: GET_SECURITY_INFO unsupported, status 1 error 0x05, 8 times");
    // FLASH_DATA without FLASH_BEGIN, then a bad checksum
    const blk = Buffer.concat([u32(4), u32(0), u32(0), u32(0), h("01020304")]);
    r = await c.xfer(cmd(0x03, blk, 0xef ^ 1 ^ 2 ^ 3 ^ 4), 14);
    check(F(r)[1] === 0x03 && F(r)[8] === 1 && F(r)[9] === 0x06, "ESP32 ROM: FLASH_DATA without BEGIN -> status 1 error 0x06");
    r = await c.xfer(cmd(0x02, Buffer.concat([u32(4), u32(1), u32(0x400), u32(0x1000)])), 14);
    check(F(r)[1] === 0x02 && F(r)[8] === 0, "ESP32 ROM: FLASH_BEGIN ok");
    r = await c.xfer(cmd(0x03, blk, 0x55), 14);
    check(F(r)[1] === 0x03 && F(r)[8] === 1 && F(r)[9] === 0x07, "ESP32 ROM: bad data checksum -> error 0x07");
    r = await c.xfer(cmd(0x03, Buffer.concat([u32(4), u32(5), u32(0), u32(0), h("01020304")]), 0xef ^ 1 ^ 2 ^ 3 ^ 4), 14);
    check(F(r)[8] === 1 && F(r)[9] === 0x06, "ESP32 ROM: wrong sequence number -> error 0x06");
    r = await c.xfer(cmd(0x13, Buffer.concat([u32(0x1000), u32(4), u32(0), u32(0)])));
    check(F(r).length === 44 && /^[0-9a-f]{32}$/.test(F(r).subarray(8, 40).toString("latin1")),
          "ESP32 ROM: SPI_FLASH_MD5 is 32 lowercase hex chars + 4 status bytes");
    // stub: the real ESP32 stub uploaded (espsim starts the stub persona
    // only for a known stub), then OHAI and stub rules
    const stub = JSON.parse(fs.readFileSync(path.join(pkgDir, "lib/targets/stub_flasher/esp32.json"), "utf8"));
    let memOk = true;
    for (const [b64, at] of [[stub.text, stub.text_start], [stub.data, stub.data_start]]) {
      const seg = Buffer.from(b64, "base64");
      const nblk = Math.ceil(seg.length / 0x1800);
      r = await c.xfer(cmd(0x05, Buffer.concat([u32(seg.length), u32(nblk), u32(0x1800), u32(at)])), 14);
      memOk = memOk && F(r)[8] === 0;
      for (let i = 0; i < nblk; i++) {
        const part = seg.subarray(i * 0x1800, (i + 1) * 0x1800);
        let x = 0xef;
        for (const v of part) x ^= v;
        r = await c.xfer(cmd(0x07, Buffer.concat([u32(part.length), u32(i), u32(0), u32(0), part]), x), 14);
        memOk = memOk && F(r)[8] === 0;
      }
    }
    check(memOk, "ESP32 ROM: MEM_BEGIN/MEM_DATA of the stub's text and data ok");
    r = await c.xfer(cmd(0x06, Buffer.concat([u32(0), u32(stub.entry)])), 20);
    check(r.equals(h("C0 01 06 04 00 07 07 12 20 00 00 00 00 C0 C0 4F 48 41 49 C0")),
          "MEM_END reply (ROM format) then the raw OHAI frame");
    r = await c.xfer(SYNC, 8 * 12);
    check(r.equals(Buffer.concat(Array(8).fill(h("C0 01 08 02 00 00 00 00 00 00 00 C0")))),
          "stub: 8 golden SYNC replies with value 0");
    r = await c.xfer(cmd(0x13, Buffer.concat([u32(0x1000), u32(4), u32(0), u32(0)])));
    check(F(r).length === 26 && F(r)[2] === 18 && F(r)[24] === 0, "stub: SPI_FLASH_MD5 is 16 raw bytes + 2 status bytes");
    r = await c.xfer(cmd(0x0e, Buffer.concat([u32(0), u32(16)])), 12);
    check(F(r)[8] === 0xc3 && F(r)[9] === 0, "stub v2: READ_FLASH_SLOW is an invalid command (0xC3)");
    r = await c.xfer(cmd(0x14), 12);
    check(F(r)[8] === 0xff, "stub v2 on ESP32: GET_SECURITY_INFO not implemented (0xFF)");
    r = await c.xfer(cmd(0x03, blk, 0xef ^ 1 ^ 2 ^ 3 ^ 4), 12);
    check(F(r)[8] === 0xc6, "stub: FLASH_DATA without BEGIN -> 0xC6");
    c.close();

    // 4 bytes that are no stub: the MEM_END reply, then a chip running garbage
    c = await Conn.open(b32.tcp);
    await c.take();
    await c.xfer(SYNC, 8 * 14);
    await c.xfer(cmd(0x05, Buffer.concat([u32(4), u32(1), u32(0x1800), u32(0x40080000)])), 14);
    await c.xfer(cmd(0x07, blk, 0xef ^ 1 ^ 2 ^ 3 ^ 4), 14);
    r = await c.xfer(cmd(0x06, Buffer.concat([u32(0), u32(0x40080000)])), 20);
    check(r.equals(h("C0 01 06 04 00 07 07 12 20 00 00 00 00 C0")),
          "MEM_END of code that is no known stub: the reply, no OHAI");
    r = await c.xfer(SYNC, 12);
    check(r.length === 0, "... and the chip is silent (runs garbage)");
    c.close();

    // ESP8266 ROM: 2 status bytes, no CHANGE_BAUDRATE
    c = await Conn.open(b8266.tcp);
    const b8 = (await c.take()).toString("latin1");
    check(/boot mode:\(1,7\)/.test(b8), "ESP8266 banner shows boot mode:(1,7)");
    r = await c.xfer(SYNC, 8 * 12);
    check(r.equals(Buffer.concat(Array(8).fill(h("C0 01 08 02 00 07 07 12 20 00 00 C0")))),
          "ESP8266 ROM: 8 golden SYNC replies, 2 status bytes");
    r = await c.xfer(cmd(0x0f, Buffer.concat([u32(921600), u32(0)])), 8 * 12);
    check(frames(r).length === 8 && F(r)[8] === 1 && F(r)[9] === 5, "ESP8266 ROM: CHANGE_BAUDRATE unsupported");
    c.close();

    // ESP32-C6: GET_SECURITY_INFO, 20 bytes with chip id 13
    c = await Conn.open(bc6.tcp);
    await c.take();
    await c.xfer(SYNC, 8 * 14);
    r = await c.xfer(cmd(0x14));
    check(F(r).length === 32 && F(r)[2] === 0x18 && F(r).readUInt32LE(8 + 12) === 13,
          "ESP32-C6 ROM: GET_SECURITY_INFO size 0x18, chip_id 13");
    c.close();
  } finally {
    await sim.stop();
  }

  // byte-level faults and an injected ROM error, seen on the wire
  const fs2 = await startSim(espsim, ["--boards", "esp32:4", "--tcp-base", "0", "--no-pty",
    "--fault", "0:noise=1", "--fault", "1:drop=1", "--fault", "2:rom-error=0x0a:0x09:2",
    "--fault", "3:normal-boot"]);
  try {
    const [bn, bd, br, bb] = fs2.boards;
    const golden = Buffer.concat(Array(8).fill(h("C0 01 08 04 00 07 07 12 20 00 00 00 00 C0")));
    let c = await Conn.open(bn.tcp);
    await c.take();
    let r = await c.xfer(SYNC, 8 * 14);
    check(r.length === 8 * 14 && !r.equals(golden), "noise=1: every reply byte arrives corrupted");
    c.close();
    c = await Conn.open(bd.tcp);
    r = await c.xfer(SYNC);
    check(r.length === 0, "drop=1: nothing at all arrives, banner included");
    c.close();
    c = await Conn.open(br.tcp);
    await c.take();
    await c.xfer(SYNC, 8 * 14);
    const rd = h("C0 00 0A 04 00 00 00 00 00 00 10 00 40 C0");
    r = await c.xfer(rd, 14);
    check(F(r)[8] === 0, "rom-error=0x0a:0x09:2: first READ_REG fine");
    r = await c.xfer(rd, 14);
    check(F(r)[1] === 0x0a && F(r)[8] === 1 && F(r)[9] === 0x09, "rom-error: second READ_REG gets status 1 error 0x09");
    r = await c.xfer(rd, 14);
    check(F(r)[8] === 0, "rom-error: third READ_REG fine again");
    c.close();
    c = await Conn.open(bb.tcp);
    const app = (await c.take(Infinity, 700)).toString("latin1");
    check(/boot:0x13 \(SPI_FAST_FLASH_BOOT\)/.test(app) && !/waiting for download/.test(app),
          "normal-boot: app boot log, no download mode");
    r = await c.xfer(SYNC);
    check(frames(r).length === 0, "normal-boot: SYNC is never answered");
    c.close();
  } finally {
    await fs2.stop();
  }
}

main().then(() => process.exit(summary()), (e) => {
  console.log(`FAIL smoke: ${e.stack || e}`);
  process.exit(1);
});
