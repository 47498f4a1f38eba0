"""The warm runner: the platform's `dvc`, `gto` and stage commands without start-up cost.

Each retrain run starts about a dozen Python programs: `dvc` and `gto` commands, and the
stage processes that import TensorFlow (train, evaluate, score, export) or Great
Expectations (validate). Importing those costs seconds each, so most of a run's overhead
was imports. The warm runner (`modelfleet warm-runner`, started by `modelfleet up`)
imports them once and forks a child per command: the child runs the command in the
caller's directory and environment, writing to the caller's own stdin/stdout/stderr
(passed over a Unix socket), and the caller gets its exit code.

It only accelerates: the commands and their results are the same as in a new process
(the reproduction check compares a warm-trained model with a cold `dvc repro`), and
without the runner (`MODELFLEET_WARM_SOCKET` unset, or nobody listening) every command
runs in a new process as before. `client.py` is the caller's side, `server.py` the
runner.
"""
