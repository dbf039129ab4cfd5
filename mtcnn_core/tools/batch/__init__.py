"""`python -m mtcnn_core batch`: trace many images, compare each with a C++ reference, summarise.

Work is one pure function, `run_task(task) -> result`, taking bytes and returning data (JSON text,
npz bytes, a summary row), so the same function runs in-process, in a ProcessPoolExecutor or on a
dask.distributed cluster; only the client process writes files. Outputs are deterministic (the
per-stage timings are kept out of the trace JSON and the npz has fixed zip timestamps), so a serial
run, a process-pool run and a cluster run give byte-identical files, except the `time_ms` column.
Every file is written atomically and `<stem>.row.json` is written last, so a rerun skips finished
images and a killed batch resumes. numpy/cv2/stdlib only at import; dask is imported lazily.

Modules: `command` (the subcommand's arguments and inputs), `run` (driving the run: serial, pool,
cluster, retries, progress), `task` (the pure per-image work), `worker` (a worker process's
setup), `outputs` (file names, atomic writes, resume), `summary` (summary.csv rows and totals),
`html_report` (report.html).
"""
