// isotope keygen / isotope commit
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "common.hpp"

namespace isotope::cli {

namespace {
struct KeygenOptions {
  std::string out;
  bool force = false;
  bool quiet = false;
};

int run_keygen(const KeygenOptions& o) {
  Key key;
  check(Key::generate(&key));
  check(key_write_file(o.out, key, o.force), "cannot write key file");
  std::cout << key.commitment_hex() << '\n';
  note(o.quiet, "wrote a new watermark key to '" + o.out +
                    "' (mode 0600). The line above is its commitment: publish or timestamp it now, "
                    "so that you can later prove you held this key before any dispute. Keep the key file secret.");
  return EXIT_OK;
}
}  // namespace

void register_keygen(CLI::App& root, Runner* run) {
  auto o = std::make_shared<KeygenOptions>();
  auto* sub = root.add_subcommand("keygen", "Make a new secret watermark key; print its public commitment");
  sub->add_option("-o,--output", o->out, "Key file to write (mode 0600)")->required();
  sub->add_flag("--force", o->force, "Overwrite an existing key file");
  sub->add_flag("-q,--quiet", o->quiet, "Print only the commitment");
  sub->callback([o, run] { *run = [o] { return run_keygen(*o); }; });
}

void register_commit(CLI::App& root, Runner* run) {
  auto path = std::make_shared<std::string>();
  auto* sub = root.add_subcommand("commit", "Print the public commitment of a key file");
  sub->add_option("KEYFILE", *path, "Key file")->required();
  sub->callback([path, run] {
    *run = [path] {
      const Key key = load_key(*path);
      std::cout << key.commitment_hex() << '\n';
      return static_cast<int>(EXIT_OK);
    };
  });
}

}  // namespace isotope::cli
