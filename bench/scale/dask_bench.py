#!/usr/bin/python3
"""A Dask closed audit against the single-machine command, on LocalClusters of 1 and 2 worker processes
(one thread each): the JSON must be identical; prints wall times, the speed-up and each worker's peak
resident memory.

  dask_bench.py ISOTOPE KEY SUSPECT.jsonl TEACHER.jsonl CONTROLS
"""
import json
import resource
import subprocess
import sys
import time

import distributed

def main():
    isotope_cli, key, suspect, teacher, controls = sys.argv[1:6]
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
    j = json.loads(one)
    print("  tokens %d, scored %d, log10_p %.6g, filter windows %d" % (j["tokens"], j["scored"], j["log10_p"],
                                                                       j["filter"]["teacher_windows"]))
    times = {}
    for n in (1, 2):
        with distributed.LocalCluster(n_workers=n, processes=True, threads_per_worker=1, dashboard_address=None,
                                      silence_logs=40) as cluster:
            wall, many = run(["--scheduler", cluster.scheduler_address])
            with distributed.Client(cluster) as c:
                rss = c.run(peak_rss_mb)
                cpu = c.run(cpu_s)
        times[n] = wall
        same = json.dumps(json.loads(many), sort_keys=True) == json.dumps(j, sort_keys=True)
        print("dask, %d worker(s): %.2f s, identical JSON: %s, worker peak RSS: %s MB, worker CPU: %s s"
              % (n, wall, same, ", ".join("%.0f" % v for v in rss.values()),
                 ", ".join("%.1f" % v for v in cpu.values())))
        if not same:
            sys.exit("the cluster's JSON differs from one machine's")
    print("speed-up of 2 workers over 1: %.2fx" % (times[1] / times[2]))


if __name__ == "__main__":  # the workers are spawned processes that import this file
    main()
