"""Long-running differential fuzzing of Heron against CPython.

    python -m tests.fuzz.run --count 100000 --seed 1 --out fuzz-out [--workers 2]
                             [--heron-path DIR] [--size 1.0] [--reduce-per-key 5]

(from the repository root; ``python tests/fuzz/run.py ...`` works too). Programs of seeds
``seed .. seed+count-1`` are generated and checked in worker subprocesses (a crash or a hang in
native code costs one program, and is itself reported as a mismatch). Progress is printed every
few seconds. Every mismatch is written to ``OUT/raw/seed-S.py``; up to ``--reduce-per-key`` of
each kind are reduced to a minimal reproducer, ``OUT/mismatch-N-KIND.py`` (a module with
``# heron: jit`` markers, ``make_args()`` and, in its header, what CPython and Heron did).
``OUT/summary.json`` has the counts and the compile-refusal reasons, most common first.
Re-check one file with ``python -m tests.fuzz.run --check FILE``.
"""
import argparse
import collections
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from fuzz import gen, reduce  # noqa: E402
    from fuzz.harness import describe_outcome  # noqa: E402
else:
    from . import gen, reduce
    from .harness import describe_outcome

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")


def normalize_reason(reason):
    """Group refusal reasons: drop names in backticks, signatures and numbers."""
    reason = re.sub(r"^`[^`]*` cannot be compiled for \(.*?\): ", "", reason)
    reason = re.sub(r"`[^`]*`", "`_`", reason)
    reason = re.sub(r"\b\d+\b", "N", reason)
    reason = re.sub(r"\(#N\)", "", reason)
    return reason.strip()


class Worker:
    """One worker subprocess, restarted after a crash or a hang."""

    def __init__(self, env, log_path):
        self.env = env
        self.log_path = log_path
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, env=self.env,
                                     text=True, bufsize=1)
        self.q = queue.Queue()
        proc, q = self.proc, self.q

        def pump():
            for line in proc.stdout:
                q.put(line)
            q.put(None)
        threading.Thread(target=pump, daemon=True).start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
        self.log.close()

    def _tail(self):
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(max(0, os.path.getsize(self.log_path) - 2000))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def request(self, msg, timeout):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        phase = "cpython"
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                self.start()
                if phase == "heron":
                    return {"status": "mismatch", "key": ["hang", "", ""], "native": True,
                            "failures": [], "detail": {"heron": f"no answer within {timeout} s"}}
                return {"status": "skip", "why": "CPython run hung"}
            if line is None:
                rc = self.proc.wait()
                tail = self._tail()
                self.log.close()
                self.start()
                if phase == "heron":
                    return {"status": "mismatch", "key": ["crash", f"exit {rc}", ""], "native": True,
                            "failures": [], "detail": {"heron": f"worker died with status {rc}", "stderr": tail}}
                return {"status": "error", "why": f"worker died with status {rc} before Heron ran",
                        "stderr": tail}
            item = json.loads(line)
            if "phase" in item:
                phase = item["phase"]
                continue
            return item


class Fuzzer:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.reasons = collections.Counter()
        self.reason_example = {}
        self.keys = collections.Counter()
        self.skips = collections.Counter()
        self.errors = []
        self.reduce_q = queue.Queue()
        self.reduced = []
        self.mismatch_n = 0
        self.avoid = sorted(gen.KNOWN_BUGS) if args.avoid is None else [a for a in args.avoid.split(",") if a]
        self.next_seed = args.seed
        self.end_seed = args.seed + args.count
        os.makedirs(os.path.join(args.out, "raw"), exist_ok=True)
        env = dict(os.environ)
        if args.heron_path:
            env["PYTHONPATH"] = os.pathsep.join([args.heron_path] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env.setdefault("HERON_DISABLE", "0")
        self.env = env

    def take_seed(self):
        with self.lock:
            if self.next_seed >= self.end_seed:
                return None
            s = self.next_seed
            self.next_seed += 1
            return s

    def account(self, seed, res):
        with self.lock:
            self.counts["programs"] += 1
            st = res["status"]
            self.counts[st] += 1
            if res.get("native"):
                self.counts["native"] += 1
            if res.get("deopts"):
                self.counts["deopted"] += 1
            if res.get("parallel_runs"):
                self.counts["parallel"] += 1
            if res.get("vector_loops"):
                self.counts["vector"] += 1
            if st == "skip":
                self.skips[res.get("why", "?")[:80]] += 1
            if st == "error":
                self.errors.append((seed, res.get("why"), res.get("traceback", res.get("stderr", ""))[-1500:]))
            for r in {normalize_reason(f["reason"]) for f in res.get("failures", [])}:
                self.reasons[r] += 1
                self.reason_example.setdefault(r, seed)
            if st == "mismatch":
                key = tuple(res["key"])
                self.keys[key] += 1
                n = self.keys[key]
                self.mismatch_n += 1
                return n
        return None

    def fuzz_thread(self, idx):
        w = Worker(self.env, os.path.join(self.args.out, f"worker-{idx}.log"))
        try:
            while True:
                seed = self.take_seed()
                if seed is None:
                    return
                res = w.request({"op": "gen", "seed": seed, "size": self.args.size, "avoid": self.avoid},
                                self.args.timeout)
                n = self.account(seed, res)
                if res["status"] == "mismatch":
                    source = res.get("source") or gen.generate_seed(seed, self.args.size, frozenset(self.avoid))
                    self.save_raw(seed, source, res)
                    if n <= self.args.reduce_per_key:
                        self.reduce_q.put((seed, source, res))
        finally:
            w.stop()

    def save_raw(self, seed, source, res):
        path = os.path.join(self.args.out, "raw", f"seed-{seed}.py")
        with open(path, "w") as fh:
            fh.write(header(seed, res) + reduce.with_markers(source))

    def reduce_thread(self):
        w = Worker(self.env, os.path.join(self.args.out, "worker-reduce.log"))
        try:
            while True:
                item = self.reduce_q.get()
                if item is None:
                    return
                seed, source, res = item
                key = res["key"]
                timeout = 15 if key[0] in ("hang", "crash") else self.args.timeout

                def keep(cand):
                    r = w.request({"op": "check", "source": cand}, timeout)
                    return r["status"] == "mismatch" and r["key"] == key

                small, checks = reduce.reduce_source(source, keep, budget_s=self.args.reduce_budget)
                final = w.request({"op": "check", "source": small}, timeout)
                if final["status"] != "mismatch":
                    final = res
                    small = source
                with self.lock:
                    k = len(self.reduced) + 1
                slug = "-".join(x for x in key if x).replace(".", "_").replace(" ", "_")
                path = os.path.join(self.args.out, f"mismatch-{k:03d}-{slug}.py")
                with open(path, "w") as fh:
                    fh.write(header(seed, final) + reduce.with_markers(small))
                with self.lock:
                    self.reduced.append({"seed": seed, "key": key, "file": path, "checks": checks})
                print(f"  reduced seed {seed} ({' '.join(key)}) in {checks} checks -> {path}", flush=True)
        finally:
            w.stop()

    def summary(self, elapsed):
        with self.lock:
            return {
                "programs": self.counts["programs"], "native": self.counts["native"],
                "ok": self.counts["ok"], "mismatch": self.counts["mismatch"],
                "skip": self.counts["skip"],
                "error": self.counts["error"], "programs_with_deopts": self.counts["deopted"], "programs_with_parallel_loops": self.counts["parallel"],
                "programs_with_vector_loops": self.counts["vector"],
                "elapsed_s": round(elapsed, 1),
                "refusals": [{"reason": r, "programs": n, "example_seed": self.reason_example[r]}
                             for r, n in self.reasons.most_common()],
                "mismatch_kinds": [{"key": list(k), "count": n} for k, n in self.keys.most_common()],
                "skips": dict(self.skips.most_common()),
                "errors": self.errors[:20],
                "reduced": list(self.reduced),
                "seeds": [self.args.seed, self.args.seed + self.args.count],
                "avoid": self.avoid,
            }

    def write_summary(self, elapsed):
        with open(os.path.join(self.args.out, "summary.json"), "w") as fh:
            json.dump(self.summary(elapsed), fh, indent=1)

    def run(self):
        start = time.monotonic()
        threads = [threading.Thread(target=self.fuzz_thread, args=(i,), daemon=True)
                   for i in range(self.args.workers)]
        reducer = threading.Thread(target=self.reduce_thread, daemon=True)
        reducer.start()
        for t in threads:
            t.start()
        last = 0
        while any(t.is_alive() for t in threads):
            time.sleep(0.5)
            now = time.monotonic()
            if now - last >= self.args.progress:
                last = now
                self.progress(now - start)
                self.write_summary(now - start)
        self.progress(time.monotonic() - start)
        self.reduce_q.put(None)
        if not self.args.no_wait_reduce:
            reducer.join()
        self.write_summary(time.monotonic() - start)
        return self.summary(time.monotonic() - start)

    def progress(self, elapsed):
        with self.lock:
            c = self.counts
            n = c["programs"]
            rate = n / elapsed if elapsed else 0
            kinds = ", ".join(f"{' '.join(x for x in k if x)}: {v}" for k, v in self.keys.most_common(6))
            print(f"[{elapsed:7.0f}s] {n}/{self.args.count} programs ({rate:.0f}/s), native {c['native']}, "
                  f"mismatches {c['mismatch']} ({kinds}), skip {c['skip']}, "
                  f"error {c['error']}", flush=True)


def header(seed, res):
    lines = ["# Heron differential-fuzzing mismatch" + (f" (generator seed {seed})" if seed is not None else "")]
    lines.append(f"# kind: {' '.join(res.get('key', []))}")
    det = res.get("detail") or {}
    for side in ("cpython", "heron"):
        o = det.get(side)
        text = describe_outcome(o) if isinstance(o, dict) else str(o)
        lines.append(f"# {side:8}: {text}")
        if isinstance(o, dict) and det.get("cpython") and isinstance(det.get("cpython"), dict) and \
                o.get("arrays") != det["cpython"].get("arrays"):
            lines.append(f"# {'':8}  arrays after: {o.get('arrays')}")
    if res.get("call") is not None:
        lines.append(f"# (call number {res['call']} of make_args())")
    if det.get("stderr"):
        lines.extend("# stderr: " + x for x in det["stderr"].splitlines()[-15:])
    return "\n".join(lines) + "\n"


def check_file(path, heron_path=None):
    if heron_path:
        sys.path.insert(0, heron_path)
    if __package__ in (None, ""):
        from fuzz import harness
    else:
        from . import harness
    with open(path) as fh:
        source = fh.read()
    res = harness.check(source)
    det = res.get("detail") or {}
    print(json.dumps({k: v for k, v in res.items() if k != "detail"}, indent=1))
    for side in ("cpython", "heron"):
        if side in det:
            print(f"{side}: {describe_outcome(det[side])}")
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="fuzz-out")
    ap.add_argument("--heron-path", default=None, help="directory put first on the workers' sys.path")
    ap.add_argument("--size", type=float, default=1.0, help="scale of the generated functions")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per program")
    ap.add_argument("--reduce-per-key", type=int, default=5)
    ap.add_argument("--reduce-budget", type=float, default=120.0)
    ap.add_argument("--progress", type=float, default=10.0)
    ap.add_argument("--no-wait-reduce", action="store_true")
    ap.add_argument("--avoid", default=None,
                    help="comma-separated known bugs to steer around (default: all of gen.KNOWN_BUGS; "
                         "'' for none)")
    ap.add_argument("--check", metavar="FILE", help="re-check one reproducer file and exit")
    args = ap.parse_args(argv)
    if args.check:
        check_file(args.check, args.heron_path)
        return 0
    summary = Fuzzer(args).run()
    print(json.dumps({k: v for k, v in summary.items() if k not in ("errors",)}, indent=1)[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
