"""Driving a batch: what to redo, then serially, in a process pool (bounded in flight, a dead
worker's images retried alone) or on a dask cluster; progress on stderr; summary and report last."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .html_report import render_report
from .outputs import OutputError, atomic_write, content_key, load_done, output_stems, save_result
from .summary import empty_row, write_summary
from .task import _reason, find_reference, make_task, run_task, warm_process
from .worker import _init_worker, keep_freed_memory

DASK_CONNECT_TIMEOUT_S = 10


def run_batch(paths, out: Path, cpp_dir, options, workers=1, scheduler=None) -> list:
    """Process every image (skipping finished ones whose content is unchanged), write summary.csv
    and report.html; rows. If writing fails, the finished rows are kept, the summary of what is
    done is written if possible, and OutputError (one line) is raised."""
    out.mkdir(parents=True, exist_ok=True)
    options = json.loads(json.dumps(options))  # plain JSON types, as stored in row.json
    stems = output_stems(paths)
    paths = list(stems)
    results, todo, keys = {}, [], {}
    for p in paths:
        keys[p] = content_key(p)
        has_cpp = bool(cpp_dir and find_reference(cpp_dir, p.stem))
        done = load_done(out, stems[p], options, has_cpp, keys[p] or {})
        if done is not None:
            results[p] = done
        else:
            todo.append(p)
    progress = Progress(len(paths), len(results))
    failure = None
    runner = _execute(todo, cpp_dir, options, workers, scheduler, stems)
    try:
        for path, res in runner:
            res["input"] = keys.get(path)
            try:
                save_result(out, res, options)
            except OSError as e:
                failure = OutputError(e.errno, f"cannot write the outputs of {path.name} in {out}: {e.strerror or e}")
                break
            results[path] = res
            progress.step()
    finally:
        runner.close()  # stops the workers (and frees the pool) on any exit
        progress.close()
    ordered = [results[p] for p in paths if p in results]
    try:
        write_summary(out / "summary.csv", [r["row"] for r in ordered])
        # as parallel as the batch: its worker count (a cluster's client: up to 4 local cores)
        threads = min(4, os.cpu_count() or 1) if scheduler else max(1, workers or 1)
        report = render_report(ordered, {stems[p]: p for p in paths}, out, threads=threads)
        atomic_write(out / "report.html", report)
    except OSError as e:
        failure = failure or OutputError(e.errno, f"cannot write summary.csv/report.html in {out}: {e.strerror or e}")
    if failure is not None:
        raise failure
    return [r["row"] for r in ordered]


def _execute(todo, cpp_dir, options, workers, scheduler, stems):
    """Yield (path, result) as they finish: on a dask cluster, in worker processes, or serially."""
    if not todo:
        return
    if not scheduler:
        warm_process(options)
    if scheduler:
        yield from _run_dask(largest_first(todo), cpp_dir, options, scheduler, stems)
    elif workers and workers > 1 and len(todo) > 1:
        yield from _run_pool(largest_first(todo), cpp_dir, options, workers, stems)
    else:
        keep_freed_memory()
        for p in todo:
            yield p, run_task(make_task(p, cpp_dir, options, stems[p]), single_thread=False)


def largest_first(paths) -> list:
    """Biggest images (by declared pixel count) first, so parallel workers finish together."""
    from ...images import declared_size

    def pixels(p):
        try:
            with open(p, "rb") as f:
                size = declared_size(f.read(1 << 18))
        except OSError:
            size = None
        return size[0] * size[1] if size else 0

    return sorted(paths, key=pixels, reverse=True)


#: Images read and in flight per worker (bounds the client's memory: one task holds the image's bytes).
IN_FLIGHT_PER_WORKER = 2


def _new_pool(workers):
    from concurrent.futures import ProcessPoolExecutor

    from ...kernels import warm_up

    warm_up()  # load (or compile) the kernels once here: forked workers inherit them, ready
    return ProcessPoolExecutor(max_workers=workers, initializer=_init_worker)


def _run_pool(todo, cpp_dir, options, workers, stems):
    """A process pool with at most IN_FLIGHT_PER_WORKER images per worker in flight. A worker that
    dies (killed, crashed) breaks the pool: the pool is replaced, and the images that were in
    flight are retried one at a time in a fresh single-worker pool, so only the image that kills
    its worker fails (its row says so) and the batch goes on."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # inherited by the workers at start
    workers = min(workers, len(todo))
    queue, pool, running = list(reversed(todo)), _new_pool(workers), {}
    try:
        while queue or running:
            while queue and len(running) < workers * IN_FLIGHT_PER_WORKER:
                p = queue.pop()
                try:
                    running[pool.submit(run_task, make_task(p, cpp_dir, options, stems[p]))] = p
                except BrokenProcessPool:
                    queue.append(p)
                    break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            broken = []
            for f in done:
                p = running.pop(f)
                if isinstance(f.exception(), BrokenProcessPool):
                    broken.append(p)
                else:
                    yield p, _result_or_failure(f, p, stems[p])
            if broken or getattr(pool, "_broken", False):
                broken += list(running.values())
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                for p in broken:
                    yield p, _run_isolated(p, cpp_dir, options, stems[p])
                pool = _new_pool(workers)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _run_isolated(path, cpp_dir, options, stem) -> dict:
    """One image in its own single-worker pool: its result, or a failed row if its worker dies."""
    pool = _new_pool(1)
    try:
        f = pool.submit(run_task, make_task(path, cpp_dir, options, stem))
        f.exception()
        res = _result_or_failure(f, path, stem)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if res["row"]["error"].startswith("worker: BrokenProcessPool"):
        res["row"]["error"] = "worker: the process running this image died (killed or crashed)"
    return res


def _run_dask(todo, cpp_dir, options, address, stems):
    """Same task function on a dask.distributed cluster; bytes go out, data comes back."""
    from dask.distributed import Client, as_completed

    with Client(address, timeout=DASK_CONNECT_TIMEOUT_S) as client:
        futs = {client.submit(run_task, make_task(p, cpp_dir, options, stems[p]), pure=False): p for p in todo}
        for f in as_completed(list(futs)):
            yield futs[f], _result_or_failure(f, futs[f], stems[futs[f]])


def _result_or_failure(future, path, stem=None) -> dict:
    """The future's result, or a failed row naming the exception."""
    try:
        return future.result()
    except BaseException as e:  # noqa: BLE001 - worker died, pickling failed, ...
        res = {
            "stem": stem or path.stem,
            "trace_json": None,
            "npz": None,
            "compare_json": None,
            "row": empty_row(path.name),
            "extra": {},
        }
        res["row"]["error"] = "worker: " + _reason(e)
        return res


class Progress:
    """One updating stderr line: done/total, images/s and ETA. With work to do it appears at the
    first finished image, so a batch that fails before any (e.g. an unreachable scheduler) writes
    only its one-line error."""

    def __init__(self, total, done):
        self.total, self.done, self.start_done, self.t0 = total, done, done, time.monotonic()
        self.shown = False
        if done == total:
            self.show()

    def step(self):
        self.done += 1
        self.show()

    def show(self):
        n, dt = self.done - self.start_done, max(time.monotonic() - self.t0, 1e-9)
        rate = n / dt
        eta = f"{(self.total - self.done) / rate:.0f}s" if rate > 0 else "?"
        sys.stderr.write(f"\r{self.done}/{self.total} images  {rate:.2f} images/s  ETA {eta}   ")
        sys.stderr.flush()
        self.shown = True

    def close(self):
        if self.shown:
            sys.stderr.write("\n")
