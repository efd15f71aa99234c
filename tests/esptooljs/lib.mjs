// Helpers for the esptool-js fidelity tests: start espsim, parse its board
// lines, run the esptool-js driver (run.mjs) as a child process, ask espsim
// for flash dumps and compare them with the files written.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

export const here = path.dirname(fileURLToPath(import.meta.url));
export const pkgDir = process.env.ESPTOOLJS_DIR ||
  path.resolve(here, "../../tools/npm/node_modules/esptool-js");

let failures = 0;
let checks = 0;

export function check(cond, what) {
  checks++;
  if (cond) {
    console.log(`ok   ${what}`);
  } else {
    failures++;
    console.log(`FAIL ${what}`);
  }
  return cond;
}

export function summary() {
  console.log(`${checks - failures}/${checks} checks passed`);
  return failures === 0 ? 0 : 1;
}

export function requirePackage() {
  if (!fs.existsSync(path.join(pkgDir, "package.json"))) {
    console.log(`FAIL esptool-js is missing (${pkgDir}): run tools/setup.sh`);
    process.exit(1);
  }
}

export function tmpDir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `espsim-${tag}-`));
}

// Starts espsim; resolves once "espsim ready" has been read.
export async function startSim(espsim, args) {
  const proc = spawn(espsim, args, { stdio: ["ignore", "pipe", "inherit"] });
  const rl = readline.createInterface({ input: proc.stdout });
  const boards = [];
  const waiters = [];
  let ready;
  const readyP = new Promise((res, rej) => {
    ready = res;
    proc.once("exit", (c) => rej(new Error(`espsim exited early (${c})`)));
  });
  rl.on("line", (line) => {
    const m = /^board (\d+) chip=(\S+) mac=(\S+) pty=(\S+) tcp=(\S+)$/.exec(line);
    if (m) {
      boards.push({ index: Number(m[1]), chip: m[2], mac: m[3],
                    pty: m[4] === "-" ? null : m[4],
                    tcp: m[5] === "-" ? null : `tcp://${m[5]}` });
    } else if (line === "espsim ready") {
      ready();
    } else if (line === "espsim dumped") {
      const w = waiters.shift();
      if (w) w();
    }
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10000);
  await readyP;
  clearTimeout(timer);
  return {
    proc,
    boards,
    dump() {
      return new Promise((res) => {
        waiters.push(res);
        proc.kill("SIGUSR1");
      });
    },
    stop() {
      return new Promise((res) => {
        if (proc.exitCode !== null) return res(proc.exitCode);
        proc.once("exit", (c) => res(c));
        proc.kill("SIGTERM");
      });
    },
  };
}

// Runs the esptool-js driver; resolves to its JSON result line.
export function runJs(args, timeoutMs = 60000, quiet = false) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(here, "run.mjs"), ...args],
                    { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => { out += d; });
    p.stderr.on("data", (d) => { err += d; });
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("exit", (code) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").pop() || "";
      let res;
      try {
        res = JSON.parse(last);
      } catch {
        res = { ok: false, error: `no JSON from run.mjs (exit ${code})` };
      }
      res.exitCode = code;
      res.stderr = err;
      if (!res.ok && !quiet) process.stdout.write(`--- esptool-js output (${args.join(" ")}):\n${err}\n`);
      resolve(res);
    });
  });
}

// esptool-js chip name as printed -> espsim chip name.
export function simChipName(jsName) {
  return jsName.toLowerCase().replace(/-/g, "");
}

// Compares a dump with files written at offsets: exact bytes in each
// written range, 0xFF everywhere else.  Returns a description or "".
export function compareDump(dumpFile, writes) {
  const d = fs.readFileSync(dumpFile);
  const mask = new Uint8Array(d.length);
  for (const w of writes) {
    const f = fs.readFileSync(w.file);
    if (w.offset + f.length > d.length) return `${w.file} beyond flash end`;
    const got = d.subarray(w.offset, w.offset + f.length);
    if (!got.equals(f)) {
      let i = 0;
      while (got[i] === f[i]) i++;
      return `byte ${i} of ${path.basename(w.file)} at 0x${(w.offset + i).toString(16)}: flash 0x${got[i].toString(16)} file 0x${f[i].toString(16)}`;
    }
    mask.fill(1, w.offset, w.offset + f.length);
  }
  for (let i = 0; i < d.length; i++) {
    if (!mask[i] && d[i] !== 0xff) return `byte at 0x${i.toString(16)} is 0x${d[i].toString(16)}, expected 0xff`;
  }
  return "";
}

export function randomFile(dir, name, size, seed) {
  // deterministic pseudo-random content with some compressible runs
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = (i & 0x3ff) < 0x200 ? x & 0xff : (i >> 10) & 0xff;
  }
  const p = path.join(dir, name);
  fs.writeFileSync(p, b);
  return p;
}
