// isotope keygen / isotope commit
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "common.hpp"
#include "evidence.hpp"
#include "isotope/io.hpp"
#include "isotope/timestamp.hpp"

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
  note(o.quiet, "wrote a new watermark key to '" + o.out + "' (mode 0600) at " + utc_now() +
                    " by this machine's clock, which proves nothing. The line above is its commitment: publish "
                    "or timestamp it now ('isotope commit " + o.out + " --timestamp-request'), so that you can "
                    "later prove you held this key before any dispute. Keep the key file secret.");
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

namespace {
struct CommitOptions {
  std::string key, request, reply, tsa_ca;
};

int run_commit(const CommitOptions& o) {
  const Key key = load_key(o.key);
  const std::string commitment = key.commitment_hex();
  std::cout << commitment << '\n';
  if (!o.request.empty()) {
    std::string der;
    check(timestamp_request(commitment, &der), "cannot make the timestamp request");
    check(write_file_atomic(o.request, der, 0644), "cannot write the timestamp request");
    std::cerr << "isotope: wrote an RFC 3161 timestamp request for this commitment to '" << o.request
              << "'. Send it to a timestamp authority (e.g. over HTTP with Content-Type "
                 "application/timestamp-query), then store its reply with 'isotope commit "
              << o.key << " --timestamp-reply REPLY.tsr'.\n";
  }
  if (!o.reply.empty()) {
    std::string der;
    check(read_file(o.reply, &der), "cannot read the timestamp reply");
    TimestampInfo info;
    const Status st = o.tsa_ca.empty() ? timestamp_read_reply(der, commitment, &info)
                                       : timestamp_verify_reply(der, commitment, o.tsa_ca, &info);
    if (!st.ok()) throw Failure{EXIT_BAD_TIMESTAMP, "'" + o.reply + "': " + st.message()};
    const std::string stored = o.key + ".tsr";
    check(write_file_atomic(stored, der, 0644), "cannot store the timestamp reply");
    std::cout << "timestamped " << info.time_utc << (info.tsa.empty() ? "" : " by " + info.tsa)
              << (o.tsa_ca.empty() ? " (signature not checked: give --tsa-ca CA.pem)"
                                   : " (signature checked against '" + o.tsa_ca + "')")
              << "; stored as '" << stored << "'\n";
  } else if (!o.tsa_ca.empty()) {
    fail_usage("--tsa-ca checks a reply: give --timestamp-reply too");
  }
  return EXIT_OK;
}
}  // namespace

void register_commit(CLI::App& root, Runner* run) {
  auto o = std::make_shared<CommitOptions>();
  auto* sub = root.add_subcommand(
      "commit", "Print the public commitment of a key file; make and store an RFC 3161 timestamp of it");
  sub->add_option("KEYFILE", o->key, "Key file")->required();
  sub->add_option("--timestamp-request", o->request,
                  "Write an RFC 3161 timestamp request (DER) for the commitment to this file");
  sub->add_option("--timestamp-reply", o->reply,
                  "Check a timestamp authority's reply (DER) against the commitment and store it as KEYFILE.tsr, "
                  "where detect and audit reports find it");
  sub->add_option("--tsa-ca", o->tsa_ca, "With --timestamp-reply: also check its signature against this CA (PEM)");
  sub->callback([o, run] { *run = [o] { return run_commit(*o); }; });
}

}  // namespace isotope::cli
