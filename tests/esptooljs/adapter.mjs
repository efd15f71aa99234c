// A Web Serial look-alike for Node, so that esptool-js (written for browsers)
// can drive espsim over a loopback TCP port or a raw pty without a browser.
//
// SimSerialPort implements what esptool-js's Transport uses of SerialPort:
// open({baudRate}), readable / writable (WHATWG streams), setSignals(),
// getInfo(), close(), plus setBaudRate() so that a baud change happens in
// place (reopening would reconnect, which espsim treats as a power-on reset).
// DTR/RTS do not exist on a pty or a socket: setSignals() only records them.
//
// Port strings: "tcp://127.0.0.1:40000" or "tcp:40000", or a pty path.
import fs from "node:fs";
import net from "node:net";
import tty from "node:tty";
import { execFileSync } from "node:child_process";

export class SimSerialPort {
  constructor(spec) {
    this.spec = spec;
    this.readable = null;
    this.writable = null;
    this.baudRate = 0;
    this.signals = {};
    this.stats = { rxBytes: 0, txBytes: 0 };
    this._stream = null;
  }

  getInfo() {
    return {}; // no USB ids: esptool-js then treats it as a UART bridge
  }

  async setSignals(sig) {
    Object.assign(this.signals, sig);
  }

  async setBaudRate(baud) {
    this.baudRate = baud; // nothing to do on a pty/socket
  }

  _openStream() {
    const m = /^tcp:(?:\/\/)?(?:([^:]+):)?(\d+)$/.exec(this.spec);
    if (m) {
      return new Promise((resolve, reject) => {
        const s = net.connect({ host: m[1] || "127.0.0.1", port: Number(m[2]) });
        s.setNoDelay(true);
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      });
    }
    // Raw mode on the pty slave (espsim already set it; this makes the
    // adapter independent of that).  Node's setRawMode would keep ONLCR,
    // so stty is used instead.
    execFileSync("stty", ["-F", this.spec, "raw", "-echo"]);
    const fd = fs.openSync(this.spec, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    return Promise.resolve(new tty.ReadStream(fd));
  }

  async open({ baudRate }) {
    if (this._stream) throw new Error("port already open");
    this.baudRate = baudRate;
    const s = await this._openStream();
    this._stream = s;
    const port = this;
    let closed = false;
    this.readable = new ReadableStream({
      start(controller) {
        s.on("data", (d) => {
          port.stats.rxBytes += d.length;
          if (!closed) controller.enqueue(new Uint8Array(d));
        });
        const end = () => {
          if (!closed) {
            closed = true;
            try { controller.close(); } catch { /* already closed */ }
          }
        };
        s.on("end", end);
        s.on("close", end);
        s.on("error", (e) => {
          if (!closed) {
            closed = true;
            try { controller.error(e); } catch { /* already errored */ }
          }
        });
      },
      cancel() {
        closed = true;
      },
    });
    this.writable = new WritableStream({
      write(chunk) {
        port.stats.txBytes += chunk.length;
        return new Promise((resolve, reject) => {
          s.write(Buffer.from(chunk), (e) => (e ? reject(e) : resolve()));
        });
      },
    });
  }

  async close() {
    const s = this._stream;
    this._stream = null;
    this.readable = null;
    this.writable = null;
    if (s) {
      await new Promise((resolve) => {
        s.once("close", resolve);
        s.destroy();
        setTimeout(resolve, 200);
      });
    }
  }
}
