// RFC 3161 requests over a commitment, and replies that are not replies.
#include <openssl/ts.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "isotope/io.hpp"
#include "isotope/timestamp.hpp"

using namespace isotope;

namespace {
const std::string COMMITMENT = "a115c0de00112233445566778899aabbccddeeff00112233445566778899eec3";
}

TEST_CASE("the timestamp imprint is SHA-256 of the commitment's hex digits") {
  std::string imprint;
  REQUIRE(timestamp_imprint(COMMITMENT, &imprint).ok());
  REQUIRE(imprint.size() == 32);
  CHECK(to_hex(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(imprint.data()), 32)) ==
        sha256_hex(COMMITMENT));
  CHECK(timestamp_imprint("not hex", &imprint).code() == Code::invalid_argument);
  CHECK(timestamp_imprint(std::string(64, 'A'), &imprint).code() == Code::invalid_argument);
}

TEST_CASE("a timestamp request carries the imprint, a nonce and asks for the certificate") {
  std::string a, b;
  REQUIRE(timestamp_request(COMMITMENT, &a).ok());
  REQUIRE(timestamp_request(COMMITMENT, &b).ok());
  CHECK(a != b);  // fresh nonces
  const unsigned char* p = reinterpret_cast<const unsigned char*>(a.data());
  TS_REQ* req = d2i_TS_REQ(nullptr, &p, static_cast<long>(a.size()));
  REQUIRE(req != nullptr);
  CHECK(TS_REQ_get_version(req) == 1);
  CHECK(TS_REQ_get_cert_req(req) == 1);
  CHECK(TS_REQ_get_nonce(req) != nullptr);
  const ASN1_OCTET_STRING* msg = TS_MSG_IMPRINT_get_msg(TS_REQ_get_msg_imprint(req));
  std::string imprint;
  REQUIRE(timestamp_imprint(COMMITMENT, &imprint).ok());
  REQUIRE(ASN1_STRING_length(msg) == 32);
  CHECK(std::memcmp(ASN1_STRING_get0_data(msg), imprint.data(), 32) == 0);
  TS_REQ_free(req);
}

TEST_CASE("bytes that are not a timestamp reply are refused, not trusted") {
  TimestampInfo info;
  CHECK(timestamp_read_reply("", COMMITMENT, &info).code() == Code::parse);
  CHECK(timestamp_read_reply("\x30\x03\x02\x01\x00", COMMITMENT, &info).code() != Code::ok);
  std::string req;
  REQUIRE(timestamp_request(COMMITMENT, &req).ok());
  CHECK(timestamp_read_reply(req, COMMITMENT, &info).code() == Code::parse);  // a request is not a reply
  CHECK(timestamp_verify_reply(req, COMMITMENT, "/nonexistent/ca.pem", &info).code() == Code::parse);
}
