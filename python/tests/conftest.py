"""Shared fixtures: the Swift binary, a private copy of the fixture data, catalogs and manifests.

The binary is .build/debug/mixtera of this repository (MIXTERA_BIN overrides); tests that need it
are skipped with a clear message when it is missing (build it with `swift build`)."""
import json
import os
import random
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
REPO = os.path.dirname(PYDIR)
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)

BIN = os.environ.get("MIXTERA_BIN") or os.path.join(REPO, ".build", "debug", "mixtera")


def have_bin():
    return os.path.isfile(BIN) and os.access(BIN, os.X_OK)


needs_bin = pytest.mark.skipif(not have_bin(), reason="mixtera binary not found at %s: run `swift build` "
                                                      "(or set MIXTERA_BIN) to run the Swift comparison tests" % BIN)


def run_swift(*args, check=True):
    p = subprocess.run([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        raise AssertionError("mixtera %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr.decode()))
    return p


def run_py(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = PYDIR + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "mixtera_replay", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env)


TRICKY = [
    b'{"meta":{"body":"plain ascii"},"q":1}',
    b'{"meta":{"body":"esc \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000 \\u001f \\u007f \\u00e9 \\u4e2d"},"q":2}',
    b'{"meta":{"body":"pair \\ud83d\\ude80 lone hi \\ud800 x lone lo \\udc00 hi-hi \\ud800\\ud800\\udc00"}}',
    '{"meta":{"body":"raw \x7f del, utf8 \u00e9 \u4e2d\u6587 \U0001f680"}, "o": [1, 2.5e3, -0, true, false, null]}'.encode(),
    b'  {"meta" : {"body" : "spaces around" } }  ',
    b'{"meta":{"body":"first"},"meta":{"body":"dup wins"}}',
    b'{"meta":{"body":"kept"},"meta":{"nobody":1}}',
    b'{"me\\u0074a":{"b\\u006fdy":"escaped keys"}}',
    b'{"meta":{"body":"tab\\there"}}',
    b'{"meta":{"body":""}}',
    b'{"meta":{"body":"invalid utf8 \xff\xfe and \xed\xa0\x80 kept verbatim"}}',
]


def write_tricky(path):
    rng = random.Random(7)
    out = bytearray(b"\xef\xbb\xbf")
    words = ["a", "bb", "ccc", "\u00fc", '"q"', "x\\y", "\n", "\t", "\x01", "/", "\u2028"]
    for i in range(200):
        if i % 3 == 0:
            line = TRICKY[i // 3 % len(TRICKY)]
        else:
            body = " ".join(rng.choice(words) for _ in range(rng.randint(1, 30)))
            line = json.dumps({"meta": {"body": body}, "i": i}, ensure_ascii=bool(i % 2)).encode()
        out += line + (b"\r\n" if i % 5 == 0 else b"\n")
        if i % 17 == 0:
            out += b" \t \r\n\n"
    with open(path, "wb") as f:
        f.write(bytes(out[:-1]))  # no final newline


DS_TEXT = """
datasets:
  - name: corpus
    root: {root}/corpus
    format: jsonl
    include: ["**/*.jsonl", "**/*.jsonl.zst", "**/*.jsonl.gz", "**/*.jsonl.xz", "**/*.jsonl.bz2"]
    {corpus_text}
    properties:
      source: {{from_path: "{{source}}/*"}}
      language: {{path: meta.language, type: string}}
      quality:  {{path: quality, type: float}}
  - name: multi
    root: {root}/multi
    format: jsonl
    include: ["**/*.jsonl.zst", "**/*.jsonl.gz"]
    properties:
      source: {{from_path: "{{source}}/*"}}
  - name: tricky
    root: {root}/tricky
    format: jsonl
    include: ["**/*.jsonl"]
    {tricky_text}
    properties:
      source: {{from_path: "{{source}}/*"}}
"""

BUILD = """
query: 'true'
mixture:
  unit: samples
  components:
    - {{name: web,    where: 'source == "web"',    weight: 0.3}}
    - {{name: multi,  where: 'source == "multi"',  weight: 0.2, on_exhausted: repeat}}
    - {{name: tricky, where: 'source == "tricky"', weight: 0.2, on_exhausted: repeat}}
    - {{name: rest,   where: 'true',               weight: 0.3, on_exhausted: repeat}}
training: {{global_batch: {G}, data_parallel: {D}, steps: {S}}}
order: {{shuffle: {shuffle}{extra}}}
seed: {seed}
on_exhausted: repeat
"""


def make_data(root):
    os.makedirs(root, exist_ok=True)
    shutil.copytree(os.path.join(REPO, "fixtures", "jsonl", "corpus"), os.path.join(root, "corpus"))
    os.makedirs(os.path.join(root, "multi", "multi"))
    for f in os.listdir(os.path.join(REPO, "fixtures", "jsonl", "multi")):
        shutil.copy2(os.path.join(REPO, "fixtures", "jsonl", "multi", f), os.path.join(root, "multi", "multi", f))
    os.makedirs(os.path.join(root, "tricky", "tricky"))
    write_tricky(os.path.join(root, "tricky", "tricky", "t0.jsonl"))


class Env:
    def __init__(self, base):
        self.base = base
        self.data = os.path.join(base, "data")
        make_data(self.data)
        self.catalogs = {}
        self.manifests = {}

    def catalog(self, text=True):
        if text not in self.catalogs:
            spec = os.path.join(self.base, "ds-%s.yaml" % ("text" if text else "raw"))
            with open(spec, "w") as f:
                f.write(DS_TEXT.format(root=self.data, corpus_text="text: text" if text else "",
                                       tricky_text="text: meta.body" if text else ""))
            cat = os.path.join(self.base, "c-%s.sqlite" % ("text" if text else "raw"))
            run_swift("scan", "--spec", spec, "--catalog", cat)
            self.catalogs[text] = cat
        return self.catalogs[text]

    def manifest(self, name, text=True, G=24, D=3, S=40, shuffle="samples", extra="", seed=7, spec=None, labels=None):
        if name in self.manifests:
            return self.manifests[name]
        path = os.path.join(self.base, "spec-%s.yaml" % name)
        with open(path, "w") as f:
            f.write(spec if spec is not None else BUILD.format(G=G, D=D, S=S, shuffle=shuffle, extra=extra, seed=seed))
        out = os.path.join(self.base, "m-" + name)
        run_swift("build-manifest", "--catalog", self.catalog(text), "--spec", path, "--out", out,
                  *(("--labels", labels) if labels else ()))
        self.manifests[name] = out
        return out


@pytest.fixture(scope="session")
def env(tmp_path_factory):
    if not have_bin():
        pytest.skip("mixtera binary not found at %s: run `swift build` (or set MIXTERA_BIN)" % BIN)
    return Env(str(tmp_path_factory.mktemp("mixtera")))


def fixture_manifest(env):
    """The repository's fixtures/specs/build.yaml over a copy of fixtures/jsonl/corpus."""
    if "fixture" not in env.manifests:
        spec = os.path.join(REPO, "fixtures", "specs", "datasets.yaml")
        ds = os.path.join(env.base, "fixture-ds.yaml")
        with open(spec) as f:
            text = f.read().replace("root: ../jsonl/corpus", "root: %s/corpus" % env.data)
        with open(ds, "w") as f:
            f.write(text)
        cat = os.path.join(env.base, "fixture.sqlite")
        run_swift("scan", "--spec", ds, "--catalog", cat)
        out = os.path.join(env.base, "m-fixture")
        run_swift("build-manifest", "--catalog", cat, "--spec", os.path.join(REPO, "fixtures", "specs", "build.yaml"),
                  "--out", out)
        env.manifests["fixture"] = out
    return env.manifests["fixture"]
