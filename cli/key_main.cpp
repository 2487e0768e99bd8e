// isotope key import: an engine's integer key becomes an isotope engine key
// file.
#include <sodium.h>

#include <iostream>
#include <iterator>
#include <memory>

#include "commands.hpp"
#include "common.hpp"
#include "evidence.hpp"
#include "isotope/io.hpp"

namespace isotope::cli {

namespace {
struct KeyImportOptions {
  std::string ints, out;
  bool quiet = false;
};

int run_key_import(KeyImportOptions& o) {
  if (o.ints.empty()) fail_usage("--int is required: the engine's key, or '-' to read it from standard input");
  if (o.out.empty()) fail_usage("-o is required: the key file to write");
  std::string text;
  if (o.ints == "-") {
    // At most 64 KiB: far more than MAX_ENGINE_INTS integers.
    char buf[4096];
    while (std::cin.read(buf, sizeof buf) || std::cin.gcount() > 0) {
      text.append(buf, static_cast<std::size_t>(std::cin.gcount()));
      if (text.size() > 65536) {
        sodium_memzero(text.data(), text.size());
        sodium_memzero(buf, sizeof buf);
        fail_input("<stdin>: more than 64 KiB; give the engine key's integers, separated by commas");
      }
    }
    sodium_memzero(buf, sizeof buf);
  } else {
    text.swap(o.ints);
  }
  std::vector<std::uint64_t> ints;
  const Status parsed = parse_engine_ints(text, &ints);
  sodium_memzero(text.data(), text.size());
  if (!parsed.ok())
    fail_input("--int" + std::string(o.ints == "-" ? " - (standard input)" : "") + ": " + parsed.message());
  Key key;
  const Status made = Key::from_engine_ints(ints, &key);
  sodium_memzero(ints.data(), ints.size() * sizeof(std::uint64_t));
  check(made);
  check(key_write_file(o.out, key, false), "cannot write key file");
  std::cout << key.commitment_hex() << '\n';
  note(o.quiet, "wrote an engine key of " + std::to_string(key.engine_ints().size()) + " integer(s) to '" + o.out +
                    "' (mode 0600) at " + utc_now() +
                    " by this machine's clock, which proves nothing. The line above is its commitment (it binds the "
                    "integers and a random salt kept in the file): publish or timestamp it now ('isotope commit " +
                    o.out +
                    " --timestamp-request'). Keep the key file secret; use it with --key wherever a --scheme that "
                    "reproduces an engine's watermark (vllm-*) is given.");
  return EXIT_OK;
}
}  // namespace

void register_key(CLI::App& root, Runner* run) {
  auto* key = root.add_subcommand("key", "Key files of other engines' watermarks (key import)");
  key->require_subcommand(1);
  auto o = std::make_shared<KeyImportOptions>();
  auto* sub = key->add_subcommand(
      "import", "Make a key file from a serving engine's integer watermark key; print its public commitment");
  sub->add_option("--int", o->ints,
                  "The engine's key: an unsigned 64-bit integer, or several separated by commas (one per layer for "
                  "multi-key engines); '-' reads them from standard input, which keeps them off the command line and "
                  "out of the shell history (recommended)");
  sub->add_option("-o,--output", o->out, "Key file to write (mode 0600); an existing file is never replaced");
  sub->add_flag("-q,--quiet", o->quiet, "Print only the commitment");
  sub->callback([o, run] { *run = [o] { return run_key_import(*o); }; });
}

}  // namespace isotope::cli
