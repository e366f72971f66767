"""The translate command end to end on a tiny trained model."""

import subprocess
import sys

import pytest

from .helpers import ROOT

pytestmark = pytest.mark.slow  # subprocesses and trainings: see pyproject's markers

SCRIPT = str(ROOT / "scripts" / "translate.py")


def translate(args, env, stdin=None, binary=False):
    return subprocess.run([sys.executable, SCRIPT, *args], input=stdin, env=env,
                          capture_output=True, text=not binary, timeout=300, cwd=ROOT)


def test_sentences_as_arguments(trained, script_env):
    tricky = ["Le chat noir dort .", "L'homme « rouge » = joue (dans) le jardin, [oui] !",
              "--pas une option", ""]
    r = translate(["-c", str(trained), "--", *tricky], script_env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")[:-1]
    assert len(lines) == len(tricky)
    assert lines[0] == "The black cat sleeps ."
    assert lines[3] == ""


def test_stdin_pipe_keeps_line_count_and_empty_lines(trained, script_env):
    text = "Le chien blanc court .\n\nLa fille rouge saute .\r\n   \n\"Quote\" d'apostrophe = x\n"
    r = translate(["-c", str(trained)], script_env, stdin=text)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")[:-1]
    assert len(lines) == 5
    assert lines[0] == "The white dog runs ." and lines[1] == "" and lines[3] == ""
    assert lines[2] == "The red girl jumps ."


def test_invalid_utf8_is_replaced_with_a_warning(trained, script_env):
    r = translate(["-c", str(trained)], script_env, stdin=b"Le chat\n\xff\xfe dort\n", binary=True)
    assert r.returncode == 0
    assert r.stdout.count(b"\n") == 2
    assert b"line 2: invalid UTF-8" in r.stderr


def test_files_with_beam_search(trained, script_env, tmp_path):
    src = tmp_path / "in.fr"
    src.write_text("Le chat noir dort .\n\nLa femme blanche mange .\n", encoding="utf-8")
    out = tmp_path / "out.en"
    r = translate(["-c", str(trained), "-i", str(src), "-o", str(out), "-b", "3"], script_env)
    assert r.returncode == 0, r.stderr
    lines = out.read_text(encoding="utf-8").split("\n")[:-1]
    assert len(lines) == 3 and lines[0] == "The black cat sleeps ." and lines[1] == ""


def test_n_best_lines(trained, script_env):
    r = translate(["-c", str(trained), "--n-best", "3", "Le chat noir dort ."], script_env)
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert len(rows) == 3 and all(row[0] == "0" and len(row) == 3 for row in rows)
    scores = [float(row[2]) for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_long_line_is_truncated_with_a_warning(trained, script_env):
    long_line = " ".join(["chat"] * 400)
    r = translate(["-c", str(trained), "--max-src-len", "50"], script_env,
                  stdin=f"{long_line}\nLe chat noir dort .\n")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.split("\n")[:-1]) == 2
    assert "line 1:" in r.stderr and "truncated to 50" in r.stderr


def test_attention_plot(trained, script_env, tmp_path):
    png = tmp_path / "att.png"
    r = translate(["-c", str(trained), "--attention-plot", str(png), "Le chat dort ."],
                  script_env)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_broken_pipe_is_quiet(trained, script_env):
    lines = "Le chat noir dort .\n" * 3000
    cmd = f"{sys.executable} {SCRIPT} -c {trained} | head -n 1"
    r = subprocess.run(["bash", "-c", cmd], input=lines, env=script_env, capture_output=True,
                       text=True, timeout=300)
    assert r.stdout == "The black cat sleeps .\n"
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_bytes(b"PK\x03\x04garbage"), "truncated or not a checkpoint"),
])
def test_bad_checkpoint_is_one_line(script_env, tmp_path, setup, message):
    path = tmp_path / "x.pt"
    setup(path)
    r = translate(["-c", str(path), "Bonjour"], script_env)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and message in r.stderr


def test_interactive_prompt_on_a_terminal(trained, script_env):
    import os
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: translate.py with a terminal as stdin
        os.execve(sys.executable, [sys.executable, SCRIPT, "-c", str(trained)], script_env)
    out = b""

    def read_until(marker: bytes, timeout=120):
        nonlocal out
        end = time.time() + timeout
        while marker not in out and time.time() < end:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    return

    read_until(b"fr> ")
    os.write(fd, b"Le chat noir dort .\n")
    read_until(b"The black cat sleeps .")
    os.write(fd, b"\x04")  # Ctrl-D
    _, status = os.waitpid(pid, 0)
    assert b"The black cat sleeps ." in out
    assert os.waitstatus_to_exitcode(status) == 0


def test_glossary_alignments_and_scores_columns(trained, script_env, tmp_path):
    terms = tmp_path / "terms.tsv"
    terms.write_text("chat\tdog\nno tab\njardin\tbeach\n", encoding="utf-8")
    r = translate(["-c", str(trained), "--glossary", str(terms), "--alignments", "--scores",
                   "Le chat noir dort .", "Le chien blanc court dans le jardin ."], script_env)
    assert r.returncode == 0, r.stderr
    assert f"glossary {terms} line 2: no tab" in r.stderr
    first, second = (line.split("\t") for line in r.stdout.splitlines())
    assert "dog" in first[0].split() and "beach" in second[0].split()
    for text, links, conf, probs in (first, second):
        assert len(links.split()) == len(text.split()) == len(probs.split())
        assert float(conf) <= 0
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"chat\tc\xe9at\n")
    r = translate(["-c", str(trained), "--glossary", str(bad), "Le chat ."], script_env)
    assert r.returncode != 0 and "line 1: not UTF-8" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
