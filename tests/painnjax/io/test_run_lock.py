"""Run folders are locked for the whole run (issue 17, item 1): a second writer is refused with a
clear message, nested use in one thread is fine, and a holder killed with SIGKILL never blocks."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from md_helpers import elastic_network

from md import MDConfig, run_md
from painnjax import InputError, save_model
from painnjax.cli import main
from painnjax.data.dataset import Dataset
from painnjax.data.splits import Split
from painnjax.io.files import LOCK_FILE, lock_run_folder

# Another process holding a run folder with painnjax's own helper, until it is killed.
HOLD = textwrap.dedent(
    """
    import sys, time
    from painnjax.io.files import lock_run_folder
    with lock_run_folder(sys.argv[1], "an MD run"):
        print("locked", flush=True)
        time.sleep(600)
    """
)


def _refused(folder, pid):
    return pytest.raises(
        InputError, match=rf"{folder}: another painnjax process is writing this folder \(pid {pid}: an MD run\)"
    )


def test_every_run_command_refuses_a_held_folder_and_a_killed_holder_leaves_it_free(
    small_model, sa1am1, tmp_path, capsys
):
    folder = tmp_path / "run"
    model_file = save_model(small_model, tmp_path / "m.painn")
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        pid = proc.pid

        with _refused(folder, pid):
            with lock_run_folder(folder, "a test"):
                pass
        # md: the library and the command line (exit 2, the message, nothing written)
        with _refused(folder, pid):
            run_md(elastic_network(sa1am1.positions), sa1am1, MDConfig(steps=10), out=folder, progress=False)
        cli = ["md", str(model_file), "SA1AM1", "--steps", "10", "--out", str(folder), "--quiet"]
        assert main(cli) == 2
        err = capsys.readouterr().err
        assert f"painnjax md: error: {folder}: another painnjax process is writing this folder (pid {pid}" in err

        # train
        from painnjax.training.config import TrainConfig
        from painnjax.training.fit import train

        n = 3
        ds = Dataset(
            [sa1am1.numbers.astype(np.int32)] * n,
            [sa1am1.positions.copy()] * n,
            np.full(n, -11.0),
            [np.zeros((len(sa1am1), 3))] * n,
            [{"source": "synthetic", "frame": k} for k in range(n)],
        )
        split = Split(train=np.arange(2), valid=np.arange(2, 3), test=np.arange(0), seed=0, rule="test")
        with _refused(folder, pid):
            train(ds, split, folder, cfg=TrainConfig(epochs=1), progress=False)
        assert not (folder / "checkpoints").exists()

        # screen, sample, learn and the vibrational study take the same lock
        from md.analysis.study import vibrational_study
        from md.screening.folder import screen_to_folder
        from painnjax.active.learn import learn
        from painnjax.active.sample import sample_md

        with _refused(folder, pid):
            screen_to_folder(model_file, [sa1am1], folder, log=None)
        with _refused(folder, pid):
            sample_md(model_file, "SA1AM1", tmp_path / "pool.extxyz", MDConfig(steps=20), workdir=folder)
        with _refused(folder, pid):
            learn(["data.extxyz"], "test.extxyz", folder, log=None)
        with _refused(folder, pid):
            vibrational_study(model_file, "SA1AM1", folder, log=None)
        assert sorted(p.name for p in folder.iterdir()) == [LOCK_FILE]  # nothing written by the refused ones
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the kernel dropped the killed holder's lock: a restart takes the folder at once
    with lock_run_folder(folder, "a restart"):
        assert (folder / LOCK_FILE).read_text().startswith("pid ")


def test_nested_use_in_one_thread_and_a_second_thread(tmp_path):
    folder = tmp_path / "run"
    errors = []

    def other_thread():
        try:
            with lock_run_folder(folder, "a second run"):
                pass
        except InputError as exc:
            errors.append(str(exc))

    with lock_run_folder(folder, "an active-learning run"):
        with lock_run_folder(folder / "md" / "..", "sampling MD"):  # the same folder, spelled otherwise
            with lock_run_folder(folder / "md", "an MD run"):  # a subfolder has its own lock
                pass
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        assert len(errors) == 1 and "another painnjax process is writing this folder" in errors[0]
        assert "an active-learning run" in errors[0]
    # released by the outermost block only, and then free for anyone
    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert len(errors) == 1
