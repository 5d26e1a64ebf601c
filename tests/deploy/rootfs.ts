/**
 * A bare root directory shaped like gcr.io/distroless/cc-debian12:nonroot, holding only a binary and
 * the shared libraries that image carries, and a way to run a command chrooted into it.
 *
 * Layout built by `buildRoot(dir, binary)`:
 *   /voice-agent                          the binary (0755)
 *   /lib64/ld-linux-x86-64.so.2           dynamic loader (the binary's PT_INTERP)
 *   /lib/x86_64-linux-gnu/<soname>        libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1
 *                                         libstdc++.so.6 libgcc_s.so.1 (copied from the host, symlinks
 *                                         resolved, renamed to their soname)
 *   /etc/passwd, /etc/group               root (0) and nonroot (65532), as in distroless
 *   /home/nonroot, /data (65532, 0700; /data as the Dockerfile makes it, for DATA_DIR)
 *   /tmp (1777)   /proc /dev (empty mount points)
 *
 * `chrootCommand(dir, argv, opts)` returns an argv that, run as root, enters a private mount namespace
 * (`unshare --mount --propagation private`), mounts there a fresh procfs restricted like systemd's
 * ProtectProc=invisible (`hidepid=invisible`: only our own processes), a tmpfs /dev with only
 * null/zero/full/random/urandom bound in (like PrivateDevices) and a /dev/shm, then `exec chroot
 * --userspec=UID:GID`. The mounts exist only inside that namespace, so they vanish with the process even
 * if the test crashes; nothing is ever mounted on the host. The exec chain keeps one pid, so the pid of
 * the spawned process is the binary's.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** glibc's libraries plus the C++ runtime: what a distroless "cc" base provides (and more than we need). */
export const CC_LIBS = ["libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libstdc++.so.6", "libgcc_s.so.1"];
export const LOADER = "ld-linux-x86-64.so.2";
export const NONROOT_UID = 65532;

const HOST_LIB_DIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"];

/** Host path of a library, symlinks resolved. @throws when it is not found. */
export function hostLibrary(soname: string): string {
  for (const d of HOST_LIB_DIRS) {
    const p = join(d, soname);
    if (existsSync(p)) return realpathSync(p);
  }
  throw new Error(`${soname} not found in ${HOST_LIB_DIRS.join(", ")}`);
}

/** Creates the root described above in `dir` (which must exist and be empty). */
export function buildRoot(dir: string, binary: string): void {
  const libDir = join(dir, "lib/x86_64-linux-gnu");
  mkdirSync(libDir, { recursive: true });
  mkdirSync(join(dir, "lib64"));
  for (const so of CC_LIBS) copyFileSync(hostLibrary(so), join(libDir, so));
  copyFileSync(hostLibrary(LOADER), join(dir, "lib64", LOADER));
  chmodSync(join(dir, "lib64", LOADER), 0o755);

  copyFileSync(binary, join(dir, "voice-agent"));
  chmodSync(join(dir, "voice-agent"), 0o755);

  mkdirSync(join(dir, "etc"));
  writeFileSync(
    join(dir, "etc/passwd"),
    `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${NONROOT_UID}:${NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin\n`,
  );
  writeFileSync(join(dir, "etc/group"), `root:x:0:\nnonroot:x:${NONROOT_UID}:\n`);
  for (const d of ["home/nonroot", "data"]) {
    mkdirSync(join(dir, d), { recursive: true });
    chownSync(join(dir, d), NONROOT_UID, NONROOT_UID);
    chmodSync(join(dir, d), 0o700);
  }
  for (const d of ["tmp", "proc", "dev"]) mkdirSync(join(dir, d));
  chmodSync(join(dir, "tmp"), 0o1777); // mkdir's mode is filtered by the umask; chmod is not
  chmodSync(dir, 0o755);
}

export interface ChrootOptions {
  uid?: number;
  gid?: number;
}

/** argv (run it as root) that executes `argv` inside `dir` as `uid:gid` (default 65532). */
export function chrootCommand(dir: string, argv: string[], opts: ChrootOptions = {}): string[] {
  const uid = opts.uid ?? NONROOT_UID;
  const gid = opts.gid ?? NONROOT_UID;
  const script = [
    "set -e",
    'R="$1"; U="$2"; shift 2',
    'mount -t proc -o nosuid,nodev,noexec,hidepid=invisible proc "$R/proc"',
    'mount -t tmpfs -o mode=0755,nosuid,noexec,size=64k tmpfs "$R/dev"',
    'for d in null zero full random urandom; do : > "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done',
    'mkdir "$R/dev/shm"; mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs "$R/dev/shm"',
    'exec chroot --userspec="$U" --groups="" "$R" "$@"',
  ].join("\n");
  return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", dir, `${uid}:${gid}`, ...argv];
}

/** Mount points at or under `dir` in this (the host's) mount namespace; must stay empty. */
export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)));
}

/** `/proc/<pid>/status` fields (e.g. Uid, Gid, Groups, VmRSS), as raw strings. */
export function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
