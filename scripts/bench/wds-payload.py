#!/usr/bin/env python3
"""Copies the first SAMPLES samples of each WebDataset tar in SRC to OUT, with every member whose extension is
EXT (default txt) repeated FACTOR times (FACTOR 1 copies it unchanged). Other members, member order, names and
ustar headers are kept, so a scan finds the same samples and properties; only the payload bytes grow.

Used by scripts/bench.sh to show that WebDataset scan time does not grow with payload size (payloads are
skipped by offset arithmetic, never read). Writes OUT/.done when complete.

    wds-payload.py SRC OUT --factor 10 --samples 15625
"""
import argparse
import io
import os
import sys
import tarfile


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--factor", type=int, default=10)
    p.add_argument("--samples", type=int, default=None, help="samples kept per tar (default: all)")
    p.add_argument("--ext", default="txt")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    done = os.path.join(a.out, ".done")
    if os.path.exists(done):
        os.remove(done)
    tars = sorted(f for f in os.listdir(a.src) if f.endswith(".tar"))
    for name in tars:
        tmp = os.path.join(a.out, name + ".tmp")
        with tarfile.open(os.path.join(a.src, name), "r:") as src, tarfile.open(
            tmp, "w", format=tarfile.USTAR_FORMAT
        ) as dst:
            keys = 0
            last_key = None
            for m in src:
                base = os.path.basename(m.name)
                key = m.name[: len(m.name) - len(base)] + base.split(".", 1)[0]
                if key != last_key:
                    keys += 1
                    last_key = key
                    if a.samples is not None and keys > a.samples:
                        break
                data = src.extractfile(m).read() if m.isfile() else None
                if data is not None and base.split(".", 1)[-1] == a.ext:
                    data = data * a.factor
                info = tarfile.TarInfo(m.name)
                info.size = len(data) if data is not None else 0
                info.mtime, info.mode, info.type = m.mtime, m.mode, m.type
                info.uid, info.gid, info.uname, info.gname = m.uid, m.gid, m.uname, m.gname
                dst.addfile(info, io.BytesIO(data) if data is not None else None)
        os.replace(tmp, os.path.join(a.out, name))
    open(done, "w").close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
