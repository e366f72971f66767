"""The user's own corpora (data=files): formats and compressions, mixing with weights,
de-duplication, leak removal, streaming preparation equal to reading everything in memory,
memory-mapped datasets giving today's batches, two processes sharing one cache, and every kind of
bad input as one line naming the file and line."""

from __future__ import annotations

import bz2
import gzip
import lzma
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seq2seq.config import check_section
from seq2seq.data import cache_build as building
from seq2seq.data.batching import ArraySide, FileSide, PairDataset, TokenBatchSampler, pack
from seq2seq.data.prepare import load_splits, prepare, train_groups
from seq2seq.data.vocab import Vocab, seen_target_ids, train_sentencepiece
from seq2seq.errors import Seq2SeqError

from .helpers import ROOT, toy_pairs


def quiet(*_):
    pass


WRITERS = {"": lambda p, b: p.write_bytes(b), ".gz": lambda p, b: p.write_bytes(gzip.compress(b)),
           ".xz": lambda p, b: p.write_bytes(lzma.compress(b)),
           ".bz2": lambda p, b: p.write_bytes(bz2.compress(b))}


def write(path: Path, lines: list[str]) -> Path:
    suffix = path.suffix if path.suffix in WRITERS else ""
    WRITERS[suffix](path, "".join(x + "\n" for x in lines).encode())
    return path


def files_cfg(make_cfg, tmp_path, train, valid=(), test=(), extra=()):
    """data=files with the given corpora (each a dict of its keys), as command-line overrides."""
    over = ["data=files"] + [f"data.files.{part}={_list(specs)}" for part, specs in
                             (("train", train), ("valid", valid), ("test", test))]
    return make_cfg("prepare_data", over + list(extra))


def _list(specs) -> str:
    """Hydra's override syntax for a list of dicts: [{name:'a',src:'/x'},...]."""
    def value(v):
        return "[" + ",".join(v) + "]" if isinstance(v, list) else f"'{v}'"

    return "[" + ",".join("{" + ",".join(f"{k}:{value(v)}" for k, v in d.items()) + "}"
                          for d in specs) + "]"


@pytest.fixture
def corpus(tmp_path):
    pairs = toy_pairs()
    d = tmp_path / "corpus"
    d.mkdir()
    train, dev, test = pairs[:280], pairs[280:310], pairs[310:340]
    write(d / "a.fr.gz", [f for f, _ in train[:140]])
    write(d / "a.en.gz", [e for _, e in train[:140]])
    write(d / "b.tsv.xz", [f"{e}\t{f}" for f, e in train[140:]])  # English first
    write(d / "dev.fr.bz2", [f for f, _ in dev])
    write(d / "dev.en.bz2", [e for _, e in dev])
    write(d / "test.tsv", [f"{f}\t{e}" for f, e in test])
    return d, train, dev, test


def standard(d):
    return dict(train=[{"name": "a", "src": d / "a.fr.gz", "tgt": d / "a.en.gz"},
                       {"name": "b", "tsv": d / "b.tsv.xz", "columns": ["en", "fr"]}],
                valid=[{"name": "dev", "src": d / "dev.fr.bz2", "tgt": d / "dev.en.bz2"}],
                test=[{"name": "test", "tsv": d / "test.tsv"}])


def test_every_format_and_compression(make_cfg, tmp_path, corpus):
    d, train, dev, test = corpus
    cfg = files_cfg(make_cfg, tmp_path, **standard(d))
    prep = prepare(cfg.data, log=quiet)
    assert prep.sizes == {"files.a": 140, "files.b": 140, "files.dev": 30, "files.test": 30}
    assert prep.valid["src_text"] == [f for f, _ in dev]
    assert load_splits(cfg.data, ["files.test"])["files.test"] == test
    got = [(prep.vocab.src.decode(prep.train["src"]["ids"][a:b].tolist()),
            prep.vocab.decode_tgt([prep.train["tgt"]["ids"][c:e].tolist()])[0])
           for a, b, c, e in zip(prep.train["src"]["offsets"][:-1],
                                 prep.train["src"]["offsets"][1:],
                                 prep.train["tgt"]["offsets"][:-1],
                                 prep.train["tgt"]["offsets"][1:])]
    assert got == train  # both columns the right way round, every pair once, in order
    assert isinstance(prep.train["src"]["ids"], np.memmap)


def test_weights_mix_the_corpora(make_cfg, tmp_path, corpus):
    d, *_ = corpus
    cfg = files_cfg(make_cfg, tmp_path, **standard(d), extra=["+data.weights.a=3"])
    prep = prepare(cfg.data, log=quiet)
    groups = train_groups(cfg.data, prep)
    assert groups == [(0, 140, 3.0), (140, 280, 1.0)]
    data = PairDataset(prep.train["src"], prep.train["tgt"], 100)
    flat = [i for b in TokenBatchSampler(data.sizes(), 300, 1, groups=groups).batches(0) for i in b]
    assert sum(i < 140 for i in flat) == 3 * 140 and sum(i >= 140 for i in flat) == 140
    for bad, message in (("+data.weights.a=-1", "data.weights.a=-1: must be a number > 0"),
                         ("+data.weights.zzz=2", "not a training corpus")):
        with pytest.raises(Seq2SeqError, match=message):
            check_section(files_cfg(make_cfg, tmp_path, **standard(d), extra=[bad]).data, "data")


def test_duplicates_and_leaks_are_dropped_and_counted(make_cfg, tmp_path, corpus):
    d, train, dev, test = corpus
    leaky = train[:100] + train[:20] + [(dev[0][0], "some other English"), test[1]]
    write(d / "c.fr", [f for f, _ in leaky])
    write(d / "c.en", [e for _, e in leaky])
    spec = standard(d)
    spec["train"] = [{"name": "c", "src": d / "c.fr", "tgt": d / "c.en"}]
    lines: list[str] = []
    prep = prepare(files_cfg(make_cfg, tmp_path, **spec).data, log=lines.append)
    assert prep.sizes["files.c"] == 100
    assert any("100 training pairs kept of 122 (dropped: 2 leaks, 20 duplicates)" in x
               for x in lines)
    kept = files_cfg(make_cfg, tmp_path, **spec, extra=["data.dedupe=false",
                                                        "data.drop_leaks=false"])
    assert prepare(kept.data, log=quiet).sizes["files.c"] == 122


def test_worker_processes_and_chunks_give_the_same_result(make_cfg, tmp_path, corpus,
                                                          monkeypatch):
    """Cleaning and encoding in 2 worker processes, in chunks of a few pairs (so that
    duplicates and leaks fall in different chunks), gives what one process gives."""
    d, train, dev, test = corpus
    new = [(f"{f} encore", f"{e} again") for f, e in train[:100]]  # not in corpora a and b
    leaky = new + new[:20] + [(dev[0][0], "some other English"), test[1]]
    write(d / "c.fr", [f for f, _ in leaky])
    write(d / "c.en", [e for _, e in leaky])
    spec = standard(d)
    spec["train"].append({"name": "c", "src": d / "c.fr", "tgt": d / "c.en"})
    cfg = files_cfg(make_cfg, tmp_path, **spec)
    one_lines: list[str] = []
    one = prepare(cfg.data, threads=1, log=one_lines.append)
    arrays = {(side, key): np.array(one.train[side][key]) for side in ("src", "tgt")
              for key in ("ids", "offsets")}
    monkeypatch.setattr(building, "CLEAN_CHUNK", 7)
    monkeypatch.setattr(building, "CHUNK", 5)
    two_lines: list[str] = []
    two = prepare(cfg.data, threads=2, force=True, log=two_lines.append)
    assert two.sizes == one.sizes and two.sizes["files.c"] == 100
    for (side, key), expected in arrays.items():
        assert np.array_equal(two.train[side][key], expected), (side, key)
    counts = [x for x in one_lines if "training pairs kept" in x]
    assert len(counts) == 3 and counts == [x for x in two_lines if "training pairs kept" in x]


def test_spool_chunks_are_whole_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(building, "CHUNK", 3)
    spool = building.Spool(tmp_path)
    lines = [f"ligne {i} " + "é" * i for i in range(11)]
    for part in (lines[:2], [], lines[2:6], lines[6:7], lines[7:]):
        spool.add([x.encode() for x in part], [x.upper().encode() for x in part])
    spool.close()
    for side, expected in ((0, lines), (1, [x.upper() for x in lines])):
        data = spool.paths[side].read_bytes()
        chunks = [data[a:b].decode().split("\n")[:-1] for a, b in spool.ranges(side)]
        assert [len(c) for c in chunks] == [3, 3, 3, 2]
        assert [x for c in chunks for x in c] == expected


def test_streaming_equals_the_in_memory_path(make_cfg, tmp_path):
    """data=multi30k streamed == everything read into memory, fitted and encoded at once; and
    the same files given as the user's own corpus give the same bytes again."""
    cfg = make_cfg("prepare_data")
    prep = prepare(cfg.data, log=quiet)
    train = load_splits(cfg.data, ["multi30k.train"])["multi30k.train"]
    vocab = Vocab(train_sentencepiece([x for p in train for x in p], cfg.data.spm, 1))
    counts = np.bincount([i for x in vocab.encode_tgt([e for _, e in train]) for i in x],
                         minlength=vocab.tgt_size)
    vocab = vocab.with_target_ids(seen_target_ids(counts))  # data.spm.target_pieces=seen
    assert prep.vocab.to_dict() == vocab.to_dict()
    for side, lines in (("src", [f for f, _ in train]), ("tgt", [e for _, e in train])):
        expected = pack(vocab.encode_src(lines) if side == "src" else vocab.encode_tgt(lines))
        assert np.array_equal(prep.train[side]["ids"], expected["ids"].numpy())
        assert np.array_equal(prep.train[side]["offsets"], expected["offsets"].numpy())
    root = Path(cfg.data.root) / "multi30k"
    mine = files_cfg(make_cfg, tmp_path, train=[
        {"name": "m", "src": root / "train.fr.gz", "tgt": root / "train.en.gz"}],
        valid=[{"name": "val", "src": root / "val.fr.gz", "tgt": root / "val.en.gz"}],
        extra=["data.dedupe=false", "data.drop_leaks=false", "data.valid_splits=[files.val]",
               "data.test_splits=[]"])
    theirs = prepare(mine.data, log=quiet)
    assert theirs.vocab.to_dict() == prep.vocab.to_dict()
    for side in ("src", "tgt"):
        for key in ("ids", "offsets"):
            assert np.array_equal(theirs.train[side][key], prep.train[side][key])


def test_memory_mapped_dataset_gives_the_same_batches(make_cfg):
    prep = prepare(make_cfg("prepare_data").data, log=quiet)
    mapped = PairDataset(prep.train["src"], prep.train["tgt"], 12)
    in_memory = PairDataset({k: torch.from_numpy(np.array(v)) for k, v in
                             prep.train["src"].items()},
                            {k: torch.from_numpy(np.array(v)) for k, v in
                             prep.train["tgt"].items()}, 12)
    batches = TokenBatchSampler(mapped.sizes(), 300, 5).batches(0)
    assert batches == TokenBatchSampler(in_memory.sizes(), 300, 5).batches(0)
    # the mapped files are read with pread, in this process and in a copy sent to another
    assert isinstance(mapped.src, FileSide) and isinstance(mapped.tgt, FileSide)
    copied = pickle.loads(pickle.dumps(mapped))
    for b in batches[:20]:
        x, y, z = mapped.collate(b), in_memory.collate(b), copied.collate(b)
        for name in ("src", "src_lens", "tgt_in", "tgt_out"):
            assert torch.equal(getattr(x, name), getattr(y, name))
            assert torch.equal(getattr(z, name), getattr(y, name))
    # a slice of a memory map is not the whole file: read as an array, not from the file
    part = PairDataset({"ids": prep.train["src"]["ids"][:200],
                        "offsets": prep.train["src"]["offsets"][:3]},
                       {"ids": prep.train["tgt"]["ids"][:200],
                        "offsets": prep.train["tgt"]["offsets"][:3]}, 12)
    assert isinstance(part.src, ArraySide) and len(part) == 2


@pytest.mark.slow
def test_two_processes_prepare_one_cache(script_env, tmp_path, corpus):
    d, *_ = corpus
    spec = standard(d)
    args = ["data=files", "data.spm.vocab_size=300", f"data.files.train={_list(spec['train'])}",
            f"data.files.valid={_list(spec['valid'])}", f"data.files.test={_list(spec['test'])}"]
    procs = [subprocess.Popen([sys.executable, str(ROOT / "scripts" / "prepare_data.py"), *args,
                               f"hydra.run.dir={tmp_path / f'out{i}'}"], env=script_env,
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    said = [o[0] for o in outs]
    assert sum("reused cached files" in s for s in said) == 1  # one built, the other waited
    prepared = Path(script_env["SEQ2SEQ_CACHE"]) / "prepared"
    folders = [p for p in prepared.iterdir() if not p.name.startswith(".")]
    assert len(folders) == 1 and (folders[0] / "meta.pt").is_file()
    assert not [p for p in prepared.iterdir() if p.is_dir() and p.name.startswith(".")]


def test_a_crash_mid_preparation_leaves_nothing(make_cfg, tmp_path, corpus, monkeypatch):
    d, *_ = corpus
    cfg = files_cfg(make_cfg, tmp_path, **standard(d))

    def crash(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(building, "encode_spool", crash)
    with pytest.raises(KeyboardInterrupt):
        prepare(cfg.data, log=quiet)
    prepared = Path(cfg.data.cache_dir) / "prepared"
    assert [p.name for p in prepared.iterdir() if p.is_dir()] == []


def bad(make_cfg, tmp_path, corpus, **changes):
    d, *_ = corpus
    spec = standard(d)
    spec.update(changes)
    with pytest.raises(Seq2SeqError) as err:
        prepare(files_cfg(make_cfg, tmp_path, **spec).data, log=quiet)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_bad_inputs_are_one_line(make_cfg, tmp_path, corpus):
    d, train, *_ = corpus
    m = bad(make_cfg, tmp_path, corpus, train=[{"name": "x", "src": d / "nope.fr",
                                                "tgt": d / "a.en.gz"}])
    assert "nope.fr does not exist" in m
    write(d / "short.en", [e for _, e in train[:139]])
    m = bad(make_cfg, tmp_path, corpus, train=[{"name": "x", "src": d / "a.fr.gz",
                                                "tgt": d / "short.en"}])
    assert m.endswith(f"a.fr.gz has 140 lines but {d / 'short.en'} has 139; parallel files "
                      f"must be line-aligned")
    write(d / "notab.tsv", ["a\tb", "no tab here", "c\td"])
    m = bad(make_cfg, tmp_path, corpus, train=[{"name": "x", "tsv": d / "notab.tsv"}])
    assert "notab.tsv line 2 has no tab" in m and "data.tsv_bad_lines=skip" in m
    write(d / "three.tsv", ["a\tb", "c\td\te"])
    m = bad(make_cfg, tmp_path, corpus, train=[{"name": "x", "tsv": d / "three.tsv"}])
    assert "three.tsv line 2 has 3 columns" in m
    whole = gzip.compress("".join(f"phrase {i}\n" for i in range(20000)).encode())
    (d / "cut.fr.gz").write_bytes(whole[: len(whole) // 2])
    m = bad(make_cfg, tmp_path, corpus, train=[{"name": "x", "src": d / "cut.fr.gz",
                                                "tgt": d / "a.en.gz"}])
    assert "cut.fr.gz is corrupt or truncated" in m
    whole = lzma.compress("".join(f"sentence {i}\n" for i in range(20000)).encode())
    (d / "cut.en.xz").write_bytes(whole[: len(whole) // 2])
    m = bad(make_cfg, tmp_path, corpus, train=[{"name": "x", "src": d / "a.fr.gz",
                                                "tgt": d / "cut.en.xz"}])
    assert "cut.en.xz is corrupt or truncated" in m
    write(d / "long.fr", ["mot " * 200] * 5)
    write(d / "long.en", ["word " * 200] * 5)
    m = bad(make_cfg, tmp_path, corpus, train=[{"name": "x", "src": d / "long.fr",
                                                "tgt": d / "long.en"}])
    assert "training corpus x is empty after filtering (5 pairs read)" in m
    (d / "a.fr.zst").write_bytes(b"zstd")
    m = bad(make_cfg, tmp_path, corpus, train=[{"name": "x", "src": d / "a.fr.zst",
                                                "tgt": d / "a.en.gz"}])
    assert "unknown compression '.zst'" in m
    (d / "latin1.fr").write_bytes("ça va\nd\xe9j\xe0\n".encode("latin-1"))
    m = bad(make_cfg, tmp_path, corpus, train=[{"name": "x", "src": d / "latin1.fr",
                                                "tgt": d / "a.en.gz"}])
    assert "latin1.fr line 1 is not valid UTF-8" in m


def test_bad_tsv_lines_can_be_skipped_and_counted(make_cfg, tmp_path, corpus):
    d, train, *_ = corpus
    write(d / "messy.tsv", [f"{f}\t{e}" for f, e in train[:50]] + ["no tab", "a\tb\tc"])
    spec = standard(d)
    spec["train"] = [{"name": "m", "tsv": d / "messy.tsv"}]
    lines: list[str] = []
    cfg = files_cfg(make_cfg, tmp_path, **spec, extra=["data.tsv_bad_lines=skip"])
    prep = prepare(cfg.data, log=lines.append)
    assert prep.sizes["files.m"] == 50
    assert any("(dropped: 2 bad_lines)" in x for x in lines)
