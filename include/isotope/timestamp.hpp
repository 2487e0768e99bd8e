// isotope — RFC 3161 timestamps of a key's commitment.
//
// A timestamp authority (TSA) signs the time at which it saw a hash: here the
// SHA-256 of the commitment's 64 lowercase hexadecimal digits (ASCII, no line
// feed), so `openssl ts -verify -data FILE` checks the same thing when FILE
// holds those 64 characters. A reply proves that the commitment, and so the
// key, existed at the time it names; its signature is checked offline against
// the authority's CA certificate.
#pragma once
#include "isotope/export.h"

#include <string>
#include <string_view>

#include "isotope/status.hpp"

namespace isotope {

// What a timestamp reply says.
struct ISOTOPE_API TimestampInfo {
  std::string time_utc;  // genTime as "YYYY-MM-DDTHH:MM:SSZ" (fractions dropped)
  std::string tsa;       // the signing certificate's subject, or the TSA name, when known
  std::string serial;    // the token's serial number (hex)
  std::string policy;    // the TSA policy OID
};

// The message imprint of a commitment: SHA-256 of its hex digits (32 bytes).
ISOTOPE_API Status timestamp_imprint(std::string_view commitment_hex, std::string* out);

// A DER TimeStampReq (RFC 3161) for the commitment: SHA-256 imprint, a random
// nonce, and a request for the TSA's certificate in the reply.
ISOTOPE_API Status timestamp_request(std::string_view commitment_hex, std::string* der_out);

// Reads a DER TimeStampResp and checks, without any certificate, that it
// grants a timestamp of this commitment. Code::parse for bytes that are not a
// reply, Code::invalid_argument for a refusal or another imprint.
ISOTOPE_API Status timestamp_read_reply(std::string_view reply_der, std::string_view commitment_hex,
                                        TimestampInfo* info);

// timestamp_read_reply, then the signature: the reply must be signed by a
// timestamping certificate that chains to a certificate in the PEM file
// `ca_pem_path`. Code::crypto when the signature or the chain fails.
ISOTOPE_API Status timestamp_verify_reply(std::string_view reply_der, std::string_view commitment_hex,
                                          const std::string& ca_pem_path, TimestampInfo* info);

}  // namespace isotope
