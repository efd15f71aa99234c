#!/usr/bin/env node
// esptool-js 0.7.0 against espsim: one scenario per ctest test.
// usage: node fidelity.mjs ESPSIM_BINARY SCENARIO
// A check that fails here is a bug in espsim until proven otherwise.
import fs from "node:fs";
import path from "node:path";
import { check, summary, requirePackage, tmpDir, startSim, runJs,
         simChipName, compareDump, randomFile } from "./lib.mjs";

const [espsim, scenario] = process.argv.slice(2);
if (!espsim || !scenario) {
  console.log("usage: fidelity.mjs ESPSIM SCENARIO");
  process.exit(2);
}
requirePackage();

const ALL = ["esp8266", "esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3",
             "esp32c6", "esp32h2", "esp32p4"];
const MAIN4 = ["esp8266", "esp32", "esp32s3", "esp32c3"];

function identity(res, board, what) {
  check(res.ok, `${what}: esptool-js succeeded${res.ok ? "" : ": " + res.error}`);
  if (!res.ok) return;
  check(simChipName(res.chip) === board.chip,
        `${what}: chip ${res.chip} matches board line ${board.chip}`);
  check(res.mac === board.mac, `${what}: MAC ${res.mac} matches board line ${board.mac}`);
}

async function withSim(args, fn) {
  const sim = await startSim(espsim, args);
  try {
    await fn(sim);
  } finally {
    await sim.stop();
  }
}

const scenarios = {
  // connect + detect + MAC + flash id on every chip, with and without stub
  async identify() {
    await withSim(["--boards", ALL.map((c) => `${c}:1`).join(","),
                   "--tcp-base", "0", "--no-pty", "--seed", "7"], async (sim) => {
      for (const b of sim.boards) {
        for (const stub of [true, false]) {
          const what = `${b.chip} ${stub ? "stub" : "rom"} info`;
          const res = await runJs(["info", "--port", b.tcp, ...(stub ? [] : ["--no-stub"])]);
          identity(res, b, what);
          if (!res.ok) continue;
          check(res.isStub === stub, `${what}: stub running = ${stub}`);
          check(res.flashId === "0x1640ef", `${what}: flash id ${res.flashId} is 0x1640ef`);
          check(res.flashSize === "4MB", `${what}: flash size ${res.flashSize}`);
        }
      }
      check(sim.boards.every((b) => b.mac.split(":")[3] === "07"), "seed 7 shows in every MAC");
    });
  },

  // flash size and JEDEC options
  async "flash-size"() {
    await withSim(["--boards", "esp32:1,esp32c3:1", "--tcp-base", "0", "--no-pty",
                   "--flash-size", "16MB"], async (sim) => {
      for (const b of sim.boards) {
        const res = await runJs(["flash-id", "--port", b.tcp]);
        identity(res, b, `${b.chip} flash-id`);
        check(res.flashId === "0x1840ef" && res.flashSize === "16MB",
              `${b.chip}: 16MB flash reported as ${res.flashId} ${res.flashSize}`);
      }
    });
  },

  // write_flash through the stub, compressed and not, then dump compare
  async "write-stub"() {
    const dir = tmpDir("wstub");
    const f1 = randomFile(dir, "a.bin", 150001, 1); // odd size: padding path
    const f2 = randomFile(dir, "b.bin", 70000, 2);
    await withSim(["--boards", MAIN4.map((c) => `${c}:1`).join(","), "--tcp-base", "0",
                   "--no-pty", "--dump-dir", dir], async (sim) => {
      for (const b of sim.boards) {
        const r1 = await runJs(["write", "--port", b.tcp, "--file", f1, "--offset", "0x10000", "--verify"]);
        identity(r1, b, `${b.chip} stub write compressed`);
        check(r1.ok && r1.compress === true && r1.verified === true,
              `${b.chip}: compressed write verified by MD5 (${r1.flashMd5})`);
        const r2 = await runJs(["write", "--port", b.tcp, "--file", f2, "--offset", "0x40000",
                                "--no-compress", "--verify"]);
        check(r2.ok && r2.compress === false && r2.verified === true,
              `${b.chip}: uncompressed stub write verified${r2.ok ? "" : ": " + r2.error}`);
      }
      await sim.dump();
      for (const b of sim.boards) {
        const diff = compareDump(path.join(dir, `board-${b.index}.bin`),
                                 [{ file: f1, offset: 0x10000 }, { file: f2, offset: 0x40000 }]);
        check(diff === "", `${b.chip}: flash dump matches both files, 0xFF elsewhere ${diff}`);
      }
    });
    fs.rmSync(dir, { recursive: true, force: true });
  },

  // write_flash through the ROM loader (no stub)
  async "write-rom"() {
    const dir = tmpDir("wrom");
    const f1 = randomFile(dir, "a.bin", 40000, 3);
    const f2 = randomFile(dir, "b.bin", 9000, 4);
    await withSim(["--boards", MAIN4.map((c) => `${c}:1`).join(","), "--tcp-base", "0",
                   "--no-pty", "--dump-dir", dir], async (sim) => {
      for (const b of sim.boards) {
        const r1 = await runJs(["write", "--port", b.tcp, "--file", f1, "--offset", "0x20000", "--no-stub"]);
        identity(r1, b, `${b.chip} rom write (compress where the ROM has it)`);
        check(r1.ok && r1.isStub === false, `${b.chip}: ROM path, no stub uploaded`);
        if (b.chip !== "esp8266") {
          check(r1.ok && r1.compress === true && r1.verified === true,
                `${b.chip}: ROM compressed write verified by the ROM's hex MD5`);
        }
        const r2 = await runJs(["write", "--port", b.tcp, "--file", f2, "--offset", "0x1000",
                                "--no-stub", "--no-compress"]);
        check(r2.ok, `${b.chip}: ROM plain write${r2.ok ? "" : ": " + r2.error}`);
      }
      await sim.dump();
      for (const b of sim.boards) {
        const diff = compareDump(path.join(dir, `board-${b.index}.bin`),
                                 [{ file: f1, offset: 0x20000 }, { file: f2, offset: 0x1000 }]);
        if (b.chip === "esp8266") {
          // the ESP8266 ROM erase-size bug erases more than asked: still 0xFF
          check(diff === "", `esp8266: ROM writes land, over-erase leaves 0xFF ${diff}`);
        } else {
          check(diff === "", `${b.chip}: flash dump matches both files, 0xFF elsewhere ${diff}`);
        }
      }
    });
    fs.rmSync(dir, { recursive: true, force: true });
  },

  // the same over raw ptys (links dir), incl. a reopen = reset
  async pty() {
    const dir = tmpDir("pty");
    const f1 = randomFile(dir, "a.bin", 60000, 5);
    const links = path.join(dir, "links");
    await withSim(["--boards", "esp32:1,esp32c3:1,esp8266:1", "--links-dir", links,
                   "--dump-dir", dir], async (sim) => {
      for (const b of sim.boards) {
        const link = path.join(links, `board-${b.index}`);
        check(fs.existsSync(link) && fs.readlinkSync(link) === b.pty, `${b.chip}: ${link} -> ${b.pty}`);
        const r0 = await runJs(["info", "--port", link, "--no-stub"]);
        identity(r0, b, `${b.chip} pty rom info`);
        const r1 = await runJs(["write", "--port", link, "--file", f1, "--offset", "0x8000", "--verify"]);
        identity(r1, b, `${b.chip} pty stub write (reopen resets the board)`);
        check(r1.ok && r1.verified === true, `${b.chip}: pty write verified`);
      }
      await sim.dump();
      for (const b of sim.boards) {
        const diff = compareDump(path.join(dir, `board-${b.index}.bin`), [{ file: f1, offset: 0x8000 }]);
        check(diff === "", `${b.chip}: pty flash dump ${diff}`);
      }
    });
    fs.rmSync(dir, { recursive: true, force: true });
  },

  // READ_FLASH streaming, SPI_FLASH_MD5, ERASE_FLASH
  async "erase-read"() {
    const dir = tmpDir("erase");
    const f1 = randomFile(dir, "a.bin", 20000, 6);
    const want = (await import("node:crypto")).createHash("md5")
      .update(fs.readFileSync(f1)).digest("hex");
    await withSim(["--boards", "esp32:1,esp8266:1", "--tcp-base", "0", "--no-pty",
                   "--dump-dir", dir], async (sim) => {
      for (const b of sim.boards) {
        const w = await runJs(["write", "--port", b.tcp, "--file", f1, "--offset", "0x3000"]);
        check(w.ok, `${b.chip}: write before read${w.ok ? "" : ": " + w.error}`);
        const out = path.join(dir, `read-${b.index}.bin`);
        const r = await runJs(["read", "--port", b.tcp, "--offset", "0x3000", "--size", "20000", "--out", out]);
        check(r.ok && r.md5 === want && fs.readFileSync(out).equals(fs.readFileSync(f1)),
              `${b.chip}: READ_FLASH streams back the file (${r.md5})`);
        const m = await runJs(["md5", "--port", b.tcp, "--offset", "0x3000", "--size", "20000"]);
        check(m.ok && m.md5 === want, `${b.chip}: stub SPI_FLASH_MD5 ${m.md5}`);
        if (b.chip !== "esp8266") {
          const mr = await runJs(["md5", "--port", b.tcp, "--offset", "0x3000", "--size", "20000", "--no-stub"]);
          check(mr.ok && mr.md5 === want, `${b.chip}: ROM SPI_FLASH_MD5 (hex) ${mr.md5}`);
        }
        const e = await runJs(["erase", "--port", b.tcp]);
        check(e.ok, `${b.chip}: ERASE_FLASH${e.ok ? "" : ": " + e.error}`);
      }
      await sim.dump();
      for (const b of sim.boards) {
        check(compareDump(path.join(dir, `board-${b.index}.bin`), []) === "", `${b.chip}: erased flash is all 0xFF`);
      }
    });
    fs.rmSync(dir, { recursive: true, force: true });
  },

  // CHANGE_BAUDRATE: reply at the old rate, then switch (paced, to be real)
  async baud() {
    const dir = tmpDir("baud");
    const f1 = randomFile(dir, "a.bin", 30000, 7);
    await withSim(["--boards", "esp32s3:1,esp32:1", "--tcp-base", "0", "--no-pty", "--pace",
                   "--dump-dir", dir], async (sim) => {
      for (const b of sim.boards) {
        const r = await runJs(["write", "--port", b.tcp, "--file", f1, "--offset", "0x0",
                               "--baud", "921600", "--verify"]);
        identity(r, b, `${b.chip} paced write at 921600`);
        check(r.ok && r.baud === 921600 && r.verified === true, `${b.chip}: baud switched to ${r.baud}, verified`);
      }
      // the ROM's own CHANGE_BAUDRATE (ESP32 path incl. the crystal fix-up)
      const rr = await runJs(["write", "--port", sim.boards[1].tcp, "--file", f1, "--offset", "0x40000",
                              "--baud", "921600", "--no-stub"]);
      check(rr.ok && rr.isStub === false && rr.baud === 921600 && rr.verified === true,
            `esp32: ROM baud change to 921600 and ROM write${rr.ok ? "" : ": " + rr.error}`);
      await sim.dump();
      for (const b of sim.boards) {
        const writes = [{ file: f1, offset: 0 }];
        if (b.index === 1) writes.push({ file: f1, offset: 0x40000 });
        check(compareDump(path.join(dir, `board-${b.index}.bin`), writes) === "",
              `${b.chip}: paced flash dump`);
      }
    });
    fs.rmSync(dir, { recursive: true, force: true });
  },

  // several esptool-js sessions at once over paced ptys, ROM and stub
  async "pty-paced"() {
    const dir = tmpDir("ptypaced");
    const f1 = randomFile(dir, "a.bin", 40000, 9);
    const links = path.join(dir, "links");
    await withSim(["--boards", "esp32:2,esp32c3:1,esp8266:1", "--pace", "--links-dir", links,
                   "--dump-dir", dir], async (sim) => {
      const port = (b) => path.join(links, `board-${b.index}`);
      const jobs = sim.boards.map((b) => runJs(["write", "--port", port(b), "--file", f1,
        "--offset", "0x9000", "--baud", "921600", ...(b.index % 2 ? ["--no-stub"] : ["--verify"])]));
      const res = await Promise.all(jobs);
      res.forEach((r, i) => {
        const b = sim.boards[i];
        identity(r, b, `${b.chip} paced pty ${i % 2 ? "ROM" : "stub"} write`);
        const wantBaud = b.chip === "esp8266" && i % 2 ? 115200 : 921600;
        check(r.ok && r.baud === wantBaud, `${b.chip}: baud ${r.baud}`);
      });
      await sim.dump();
      for (const b of sim.boards) {
        check(compareDump(path.join(dir, `board-${b.index}.bin`), [{ file: f1, offset: 0x9000 }]) === "",
              `${b.chip}: paced pty flash dump`);
      }
    });
    fs.rmSync(dir, { recursive: true, force: true });
  },

  // fault injection as esptool-js experiences it
  async faults() {
    const dir = tmpDir("faults");
    const f1 = randomFile(dir, "a.bin", 50000, 8);
    await withSim(["--boards", "esp32:6,esp32c3:2", "--tcp-base", "0", "--links-dir",
                   path.join(dir, "links"), "--dump-dir", dir,
                   "--fault", "0:md5-stuck", "--fault", "1:normal-boot", "--fault", "2:no-sync",
                   "--fault", "3:rom-error=0x11:0xC1:2", "--fault", "4:unplug=20000",
                   "--fault", "5:silent", "--fault", "6:baud-limit=460800",
                   "--fault", "7:sync-miss=2"], async (sim) => {
      const b = sim.boards;
      let r = await runJs(["write", "--port", b[0].tcp, "--file", f1, "--offset", "0x1000", "--verify"], 60000, true);
      check(!r.ok && /MD5/.test(r.error), `md5-stuck: esptool-js reports an MD5 mismatch (${r.error})`);
      // esptool-js 0.7.0 only shows its boot-log verdict in the debug log
      r = await runJs(["info", "--port", b[1].tcp, "--trace"], 60000, true);
      check(!r.ok && /bootMode:0x13 downloadMode:false/.test(r.stderr),
            "normal-boot: esptool-js sees boot:0x13 without download mode");
      r = await runJs(["info", "--port", b[2].tcp, "--trace"], 60000, true);
      check(!r.ok && /bootMode:0x3 downloadMode:true/.test(r.stderr),
            "no-sync: esptool-js sees download mode but gets no sync");
      r = await runJs(["write", "--port", b[3].tcp, "--file", f1, "--offset", "0x1000", "--verify"]);
      check(r.ok && r.verified === true, `rom-error on the 2nd FLASH_DEFL_DATA: esptool-js retries and succeeds${r.ok ? "" : ": " + r.error}`);
      const pty4 = fs.statSync(b[4].pty);
      r = await runJs(["write", "--port", b[4].tcp, "--file", f1, "--offset", "0x1000", "--no-compress"], 60000, true);
      check(!r.ok, `unplug=20000: the write fails (${r.error})`);
      // Gone; another test running in parallel may have opened a new pty
      // with the same number since, which is a new node (later ctime).
      const after = fs.existsSync(b[4].pty) ? fs.statSync(b[4].pty) : null;
      check(!after || after.ctimeMs > pty4.ctimeMs || after.rdev !== pty4.rdev,
            `unplug: ${b[4].pty} is gone${after ? " (its number now belongs to a newer pty)" : ""}`);
      check(!fs.existsSync(path.join(dir, "links", "board-4")), "unplug: link removed");
      r = await runJs(["info", "--port", b[5].tcp], 60000, true);
      check(!r.ok && /Failed to connect/.test(r.error), `silent: no connection (${r.error})`);
      r = await runJs(["info", "--port", b[6].tcp, "--baud", "921600"]);
      check(r.ok && r.baud === 115200 && /stopped responding/.test(r.stderr),
            "baud-limit: garbage above 460800, esptool-js falls back to 115200");
      r = await runJs(["info", "--port", b[7].tcp, "--trace"], 60000, true);
      check(r.ok && (r.stderr.match(/Sync connect attempt/g) || []).length === 3,
            "sync-miss=2: esptool-js needs a third SYNC, then connects");
      await sim.dump();
      check(compareDump(path.join(dir, "board-3.bin"), [{ file: f1, offset: 0x1000 }]) === "",
            "rom-error board: flash content still right after the retry");
    });
    fs.rmSync(dir, { recursive: true, force: true });
  },
};

if (!scenarios[scenario]) {
  console.log(`unknown scenario ${scenario}; have: ${Object.keys(scenarios).join(" ")}`);
  process.exit(2);
}
scenarios[scenario]().then(() => process.exit(summary()), (e) => {
  console.log(`FAIL ${scenario}: ${e.stack || e}`);
  process.exit(1);
});
