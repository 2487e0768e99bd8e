// Running a command's computation on a Dask cluster: `isotope audit
// --scheduler` and `isotope detect --scheduler` hand it to the Python module
// (python3 -m isotope.dask, docs/scale.md), which runs it on the cluster's
// workers through the library, and read back the numbers; the command then
// composes the same output as without a cluster.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace isotope::cli {

// Runs `PYTHON -m isotope.dask COMMAND` (PYTHON: $ISOTOPE_PYTHON, else
// /usr/bin/python3) with `request` on its standard input and passes each line
// of its standard output, parsed, to `on_line`; its standard error (progress,
// errors) goes to ours. Throws Failure: EXIT_CLUSTER when Python, the isotope
// module or Dask is missing or the scheduler cannot be reached, else the exit
// code the helper gave (usage, input, I/O, key). `meanwhile`, if set, runs
// once the helper has its request, before its output is read (work that
// needs no result, e.g. hashing the inputs); if it throws, the helper is
// stopped and the exception passed on.
void run_on_cluster(const std::string &command, const nlohmann::json &request,
                    const std::function<void(const nlohmann::json &)> &on_line,
                    const std::function<void()> &meanwhile = {});

}  // namespace isotope::cli
