// isotope signer new: an Ed25519 key pair for signing reports.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "common.hpp"
#include "isotope/evidence.hpp"

namespace isotope::cli {

namespace {
struct SignerOptions {
  std::string out;
  bool force = false;
  bool quiet = false;
};

int run_signer_new(const SignerOptions& o) {
  SigningKey key;
  check(SigningKey::generate(&key));
  check(signer_write_files(o.out, key, o.force), "cannot write signing key");
  std::cout << key.public_key_hex() << '\n';
  note(o.quiet, "wrote a new report signing key to '" + o.out + "' (secret, mode 0600) and its public key to '" +
                    o.out + ".pub'. The line above is the public key: give it to whoever will check your reports. "
                    "This is not a watermark key.");
  return EXIT_OK;
}
}  // namespace

void register_signer(CLI::App& root, Runner* run) {
  auto o = std::make_shared<SignerOptions>();
  auto* sub = root.add_subcommand("signer", "Manage Ed25519 keys that sign evidence reports");
  sub->require_subcommand(1);
  auto* mk = sub->add_subcommand("new", "Make a signing key pair: SIGNKEY (secret, 0600) and SIGNKEY.pub");
  mk->add_option("-o,--output", o->out, "Secret key file to write; the public key goes to FILE.pub")->required();
  mk->add_flag("--force", o->force, "Overwrite existing files");
  mk->add_flag("-q,--quiet", o->quiet, "Print only the public key");
  mk->callback([o, run] { *run = [o] { return run_signer_new(*o); }; });
}

}  // namespace isotope::cli
