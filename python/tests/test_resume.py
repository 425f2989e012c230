"""A detector run killed after a step and resumed trains on exactly the samples, in the same order, that an
uninterrupted run trains on — on one rank, on two (torchrun, gloo), and resumed on one after two."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from conftest import write_source

STEPS = 6
PYTHON = sys.executable
TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")


def command(shards, out, ranks, batch, workers, resume=False):
    """A small, fast run: Mask R-CNN on ResNet-18 at a 32-pixel short side, a checkpoint every 2 steps."""
    launcher = [PYTHON] if ranks == 1 else [TORCHRUN, "--nproc_per_node", str(ranks), "--master_port", str(random.randint(20000, 40000))]
    real, synthetic = shards
    return launcher + ["-m", "synmix_torch.train", "--model", "maskrcnn", "--backbone", "resnet18",
                       "--train", f"real={real}", "--train", f"synthetic={synthetic}", "--share", "real=0.5",
                       "--out", out, "--steps", str(STEPS), "--batch", str(batch), "--short-sides", "32,48",
                       "--max-size", "96", "--rois-per-image", "16", "--checkpoint-every", "2", "--log-every", "100",
                       "--workers", str(workers), "--log-keys", "--seed", "5"] + (["--resume"] if resume else [])


def environment():
    return dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), ".."), OMP_NUM_THREADS="1")


def keys(out):
    with open(os.path.join(out, "keys.jsonl")) as f:
        return [json.loads(line) for line in f]


def run(arguments):
    done = subprocess.run(arguments, env=environment(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def descendants(pid):
    """Every process below `pid`, read from /proc (children first found, then theirs)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, frontier = [], [pid]
    while frontier:
        frontier = [c for p in frontier for c in children.get(p, [])]
        found += frontier
    return found


def run_and_kill(arguments, out, after_step):
    """Starts a run and SIGKILLs its whole process group once it has logged `after_step` (past a checkpoint)."""
    process = subprocess.Popen(arguments, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    path = os.path.join(out, "keys.jsonl")
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().splitlines()
            if lines and json.loads(lines[-1])["step"] >= after_step:
                break
        time.sleep(0.02)
    assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()[-2000:]}"
    for pid in [process.pid] + descendants(process.pid):   # torchrun starts its workers in sessions of their own
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()
    assert not os.path.exists(os.path.join(out, "model.safetensors"))
    return [entry["step"] for entry in keys(out)][-1]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    return (write_source(str(folder / "real"), "real", 2, 5), write_source(str(folder / "synthetic"), "synthetic", 3, 4))


@pytest.fixture(scope="module")
def uninterrupted(sources, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("uninterrupted"))
    run(command(sources, out, ranks=1, batch=4, workers=0))
    logged = keys(out)
    assert [entry["step"] for entry in logged] == list(range(1, STEPS + 1))
    return logged


@pytest.mark.parametrize("ranks_before,ranks_after,workers", [(1, 1, 2), (2, 2, 1), (2, 1, 0)])
def test_a_killed_run_resumes_with_the_samples_of_an_uninterrupted_one(sources, uninterrupted, tmp_path, ranks_before, ranks_after, workers):
    out = str(tmp_path / "run")
    killed_at = run_and_kill(command(sources, out, ranks_before, 4 // ranks_before, workers), out, after_step=3)
    assert 3 <= killed_at < STEPS
    output = run(command(sources, out, ranks_after, 4 // ranks_after, workers, resume=True))
    resumed_from = int(output.split("at step ")[1].split()[0])
    assert resumed_from % 2 == 0 and resumed_from <= killed_at      # the last checkpoint before the kill
    assert f"real {resumed_from * 2} samples" in output              # the data position it continues from
    assert keys(out) == uninterrupted
    with open(os.path.join(out, "metrics.json")) as f:
        assert [s["step"] for s in json.load(f)["steps"]] == list(range(1, STEPS + 1))


def test_resuming_with_other_data_or_options_is_refused_with_the_difference_named(sources, tmp_path):
    out = str(tmp_path / "run")
    run_and_kill(command(sources, out, 1, 4, 0), out, after_step=3)
    changed = command(sources, out, 1, 4, 0, resume=True)
    changed[changed.index("--seed") + 1] = "6"
    done = subprocess.run(changed, env=environment(), capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert "seed: checkpoint 5, now 6" in done.stderr
    fewer = command(sources, out, 1, 4, 0, resume=True)
    fewer[fewer.index(f"real={sources[0]}")] = f"real={sources[0].replace('mix-*', 'mix-000000')}"
    done = subprocess.run(fewer, env=environment(), capture_output=True, text=True, timeout=600)
    assert done.returncode != 0 and "source real shards: checkpoint ['mix-000000.tar', 'mix-000001.tar'], now ['mix-000000.tar']" in done.stderr
