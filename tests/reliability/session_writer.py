"""A process that autosaves large sessions in a loop until it is killed: the victim of the session kill -9 test.

    python -m tests.reliability.session_writer      (TRAINING_EXPLORER_HOME names the app's folder)

Starting Python and importing JAX takes about two seconds on a 2-core machine; forty of those would
be most of the test's time. So this process is a small fork server: it imports everything once,
then for each line ``FIRST`` it reads on stdin it forks a writer. The writer prints ``writer PID``,
then autosaves ``session_version(k)`` for k = FIRST, FIRST+1, … and prints ``saved k`` after each
save has returned. When the writer has died (the test kills it with SIGKILL), the server prints
``ended STATUS`` and waits for the next line; it exits at the end of stdin.

Fork is safe here: nothing before the fork has started a thread or a JAX backend (the writer only
flattens numpy pytrees), and each writer is a fresh copy with nothing to share.

Each session holds a ~10 MB model and a small one, the step k in both, and k in every other part,
so whoever opens the file after a kill can tell exactly which save it came from and check every byte.
"""

from __future__ import annotations

import os
import sys
import time
import traceback

from engine.config import ModelConfig
from engine.session.archive import SessionContents, autosave, session_bytes
from tests.reliability.checkpoint_writer import params_for, version

SMALL = ModelConfig(vocab_size=64, n_layers=1, n_heads=2, d_model=16, context_length=8)
SAFETY_SECONDS = 60  # a writer whose test died does not write forever


def session_version(k: int) -> SessionContents:
    """What save number ``k`` writes: every part carries k, the big model's bytes alternate with k's parity."""
    return SessionContents(
        curation={"cutoff_year": 1900 + k % 100, "topics": ["weather", "trains"], "save": k},
        checkpoints={"pretraining": version(k), "instruction": version(k + 1, SMALL)},
        metrics={"pretraining": {"train_steps": list(range(0, 10 * k, 10))[:200], "save": k}},
        votes=tuple({"prompt": f"question {i}", "chosen": "yes", "rejected": "no", "save": k} for i in range(50)),
        ratings=({"prompt": "p", "model": "pretraining", "answer": "a", "score": 1 + k % 5},),
        seeds={"data": 7, "save": k},
        tabs={"data": {"save": k}, "pretraining": {"steps_shown": k, "zoom": [1.0, 2.0]}},
    )


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode())  # unbuffered: a forked child shares no Python buffer with us


def _write_forever(first: int) -> None:
    _say(f"writer {os.getpid()}")
    started = time.monotonic()
    k = first
    while time.monotonic() - started < SAFETY_SECONDS:
        autosave(session_version(k))
        _say(f"saved {k}")
        k += 1
    os._exit(3)  # the test never let it get this far


def main() -> None:
    params_for(0), params_for(1)  # build both parameter sets before forking: every writer starts saving at once
    session_bytes(session_version(0))  # and import everything a save needs (JAX's tree utilities, safetensors)
    _say("ready")
    for line in sys.stdin:
        first = int(line)
        pid = os.fork()
        if pid == 0:
            try:
                _write_forever(first)
            except BaseException:
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(4)  # never return into the server's loop
        _, status = os.waitpid(pid, 0)
        _say(f"ended {status}")


if __name__ == "__main__":
    main()
