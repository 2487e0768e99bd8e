// One register_* function per command; each adds its subcommand to the root
// app and, when that subcommand is chosen, stores what to run in *run.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace isotope::cli {

using Runner = std::function<int()>;

void register_keygen(CLI::App& root, Runner* run);
void register_commit(CLI::App& root, Runner* run);
void register_key(CLI::App& root, Runner* run);
void register_generate(CLI::App& root, Runner* run);
void register_detect(CLI::App& root, Runner* run);
void register_lm(CLI::App& root, Runner* run);
void register_demo(CLI::App& root, Runner* run);
void register_signer(CLI::App& root, Runner* run);
void register_verify(CLI::App& root, Runner* run);
void register_report(CLI::App& root, Runner* run);
void register_audit(CLI::App& root, Runner* run);
void register_combine(CLI::App& root, Runner* run);
void register_tokenize(CLI::App& root, Runner* run);

}  // namespace isotope::cli
