"""python -m mixtera_replay --manifest DIR --rank R [--steps A:B] [--worker W --workers N] [--root OLD=NEW] [--deep]

Prints the same bytes as `mixtera replay`; errors go to stderr with the same exit codes (64 usage,
65 data, 66 missing input)."""
from __future__ import annotations

import argparse
import sys

from .errors import MixteraReplayError
from .reader import ManifestReader


class _Usage(Exception):
    pass


def parse_steps(s, total):
    if s is None:
        return 0, total
    if ":" in s:
        a, b = s.split(":", 1)
        try:
            a = int(a) if a else 0
            b = int(b) if b else total
        except ValueError:
            raise _Usage('--steps must be A:B with 0 <= A <= B, found "%s"' % s)
        if a < 0 or a > b:
            raise _Usage('--steps must be A:B with 0 <= A <= B, found "%s"' % s)
        if b > total:
            raise _Usage("--steps %s goes past the manifest's %d steps" % (s, total))
        return a, b
    try:
        a = int(s)
    except ValueError:
        raise _Usage('--steps must be A:B or A, found "%s"' % s)
    if a < 0:
        raise _Usage('--steps must be A:B or A, found "%s"' % s)
    if a >= total:
        raise _Usage("--steps %d is past the manifest's %d steps" % (a, total))
    return a, a + 1


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m mixtera_replay",
                                 description="Print the samples of one rank (same bytes as `mixtera replay`).")
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--steps")
    ap.add_argument("--worker", type=int)
    ap.add_argument("--workers", type=int)
    ap.add_argument("--root", action="append", default=[], help="OLD=NEW (repeatable)")
    ap.add_argument("--deep", action="store_true", help="rehash every data file before reading")
    args = ap.parse_args(argv)
    try:
        roots = []
        for r in args.root:
            eq = r.find("=")
            if eq <= 0:
                raise _Usage('--root must be OLD=NEW, found "%s"' % r)
            roots.append((r[:eq], r[eq + 1:]))
        if (args.worker is None) != (args.workers is None):
            raise _Usage("--worker and --workers go together")
        if args.workers is not None and (args.workers < 1 or not 0 <= args.worker < args.workers):
            raise _Usage("--worker must be in 0..<--workers")
        reader = ManifestReader(args.manifest, args.rank, roots=roots, verify="deep" if args.deep else "fast")
        a, b = parse_steps(args.steps, reader.header.steps)
        reader.start_step, reader.end_step = a, b
        if args.workers is not None:
            reader.worker, reader.num_workers = args.worker, args.workers
        out = sys.stdout.buffer
        pending = []
        size = 0
        for chunk in reader.replay_step_bytes():
            pending.append(chunk)
            size += len(chunk)
            if size >= 1 << 20:
                out.write(b"".join(pending))
                pending, size = [], 0
        out.write(b"".join(pending))
        out.flush()
    except _Usage as e:
        sys.stderr.write("error: %s\n" % e)
        return 64
    except MixteraReplayError as e:
        out = sys.stdout.buffer
        sys.stdout.flush()
        sys.stderr.write("error: %s\n" % e)
        return e.exit_code
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
