#!/usr/bin/python3
"""A Dask closed audit against the single-machine command, on LocalClusters of 1 and 2 worker processes
(one thread each): the JSON must be identical; prints wall times, the speed-up and each worker's peak
resident memory.

  dask_bench.py ISOTOPE KEY SUSPECT.jsonl TEACHER.jsonl CONTROLS [RUNS]

RUNS times (default 3), a fresh cluster of 1 worker, then one of 2 workers, one cluster at a time (an idle
cluster's processes take CPU time from a busy one); each cluster gets one untimed run first (a cluster's
workers are long-lived: the first task on a fresh worker also imports the module and loads the
tokenizer), then the timed one, then the same audit through the Python API (isotope.dask.audit_closed,
without the command's Python start-up). The speed-up is the ratio of the medians, printed with every time.
"""
import json
import resource
import statistics
import subprocess
import sys
import time

import distributed

import isotope.dask


def main():
    isotope_cli, key, suspect, teacher, controls = sys.argv[1:6]
    runs = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    SEED = "00" * 32
    args = [isotope_cli, "audit", "-q", "--key", key, "--suspect", suspect, "--teacher", teacher, "--control", controls,
            "--control-seed", SEED, "--json", "--threads", "2"]

    def run(extra):
        t = time.perf_counter()
        p = subprocess.run(args + extra, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit("isotope %s failed (%d): %s" % (" ".join(extra), p.returncode, p.stderr))
        return time.perf_counter() - t, p.stdout

    def peak_rss_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def cpu_s():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    wall1, one = run([])
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("one machine (2 threads): %.2f s, peak RSS %.0f MB, CPU %.1f s"
          % (wall1, ch.ru_maxrss / 1024, ch.ru_utime + ch.ru_stime))
    j = json.dumps(json.loads(one), sort_keys=True)
    jj = json.loads(one)
    print("  tokens %d, scored %d, log10_p %.6g, filter windows %d" % (jj["tokens"], jj["scored"], jj["log10_p"],
                                                                       jj["filter"]["teacher_windows"]))
    times, api, rss, cpu = {1: [], 2: []}, {1: [], 2: []}, {}, {}
    for r in range(runs):
        for n in (1, 2):
            # One cluster at a time: an idle cluster's processes take CPU time from a busy one.
            with distributed.LocalCluster(n_workers=n, processes=True, threads_per_worker=1,
                                          dashboard_address=None, silence_logs=40) as cluster:
                for warm in (True, False):  # the first run warms the fresh workers
                    wall, many = run(["--scheduler", cluster.scheduler_address])
                    if json.dumps(json.loads(many), sort_keys=True) != j:
                        sys.exit("the cluster's JSON (%d workers) differs from one machine's" % n)
                    if not warm:
                        times[n].append(wall)
                with distributed.Client(cluster) as c:
                    # The same audit through the Python API (no command, no Python start-up).
                    t = time.perf_counter()
                    r = isotope.dask.audit_closed(c, key, suspect, teacher, control=int(controls),
                                                  control_seed=bytes(32), tokenizer_sha256="")
                    api[n].append(time.perf_counter() - t)
                    if r["scored"] != jj["scored"] or r["log10_p"] != jj["log10_p"]:
                        sys.exit("the Python API's result (%d workers) differs from one machine's" % n)
                    rss[n] = c.run(peak_rss_mb)
                    cpu[n] = c.run(cpu_s)
    for n in (1, 2):
        print("dask, %d worker(s): median %.2f s (%s), identical JSON every time, worker peak RSS: %s MB, "
              "worker CPU over the last cluster's runs: %s s"
              % (n, statistics.median(times[n]), ", ".join("%.2f" % t for t in times[n]),
                 ", ".join("%.0f" % v for v in rss[n].values()), ", ".join("%.1f" % v for v in cpu[n].values())))
    print("speed-up of 2 workers over 1 (medians): %.2fx" % (statistics.median(times[1]) /
                                                              statistics.median(times[2])))
    for n in (1, 2):
        print("Python API, %d worker(s): median %.2f s (%s)" % (n, statistics.median(api[n]),
                                                              ", ".join("%.2f" % t for t in api[n])))
    print("Python API: speed-up of 2 workers over 1 (medians): %.2fx" % (statistics.median(api[1]) /
                                                                          statistics.median(api[2])))

if __name__ == "__main__":  # the workers are spawned processes that import this file
    main()
