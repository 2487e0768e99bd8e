// RFC 3161 timestamps of a commitment, through OpenSSL's TS API.
#include "isotope/timestamp.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include <cstring>
#include <ctime>
#include <memory>

#include "isotope/io.hpp"

namespace isotope {
namespace {

template <auto F>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    F(p);
  }
};
using ReqPtr = std::unique_ptr<TS_REQ, Deleter<TS_REQ_free>>;
using RespPtr = std::unique_ptr<TS_RESP, Deleter<TS_RESP_free>>;
using ImprintPtr = std::unique_ptr<TS_MSG_IMPRINT, Deleter<TS_MSG_IMPRINT_free>>;
using AlgorPtr = std::unique_ptr<X509_ALGOR, Deleter<X509_ALGOR_free>>;
using IntPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using VerifyPtr = std::unique_ptr<TS_VERIFY_CTX, Deleter<TS_VERIFY_CTX_free>>;

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no detail";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Status check_commitment_hex(std::string_view hex) {
  if (hex.size() != 64) return {Code::invalid_argument, "a commitment is 64 hexadecimal digits"};
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return {Code::invalid_argument, "a commitment is 64 lowercase hexadecimal digits"};
  return Status::OK();
}

std::string asn1_time_utc(const ASN1_GENERALIZEDTIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string integer_hex(const ASN1_INTEGER* i) {
  if (i == nullptr) return {};
  BIGNUM* bn = ASN1_INTEGER_to_BN(i, nullptr);
  if (bn == nullptr) return {};
  char* h = BN_bn2hex(bn);
  std::string s = h != nullptr ? h : "";
  OPENSSL_free(h);
  BN_free(bn);
  return s;
}

std::string name_text(const X509_NAME* n) {
  if (n == nullptr) return {};
  char* s = X509_NAME_oneline(n, nullptr, 0);
  std::string r = s != nullptr ? s : "";
  OPENSSL_free(s);
  return r;
}

// Parses the reply and checks status, imprint algorithm and imprint.
Status read_reply(std::string_view der, std::string_view commitment_hex, RespPtr* out, TimestampInfo* info) {
  ISOTOPE_RETURN_IF_ERROR(check_commitment_hex(commitment_hex));
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  RespPtr resp(d2i_TS_RESP(nullptr, &p, static_cast<long>(der.size())));
  if (!resp || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    ERR_clear_error();
    return {Code::parse, "not an RFC 3161 timestamp reply (DER TimeStampResp)"};
  }
  const long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp.get())));
  if (status != TS_STATUS_GRANTED && status != TS_STATUS_GRANTED_WITH_MODS)
    return {Code::invalid_argument, "the timestamp authority refused the request (status " + std::to_string(status) +
                                        ")"};
  TS_TST_INFO* tst = TS_RESP_get_tst_info(resp.get());
  if (tst == nullptr) return {Code::parse, "the timestamp reply holds no token"};
  TS_MSG_IMPRINT* mi = TS_TST_INFO_get_msg_imprint(tst);
  const X509_ALGOR* alg = TS_MSG_IMPRINT_get_algo(mi);
  const ASN1_OCTET_STRING* got = TS_MSG_IMPRINT_get_msg(mi);
  std::string want;
  ISOTOPE_RETURN_IF_ERROR(timestamp_imprint(commitment_hex, &want));
  if (OBJ_obj2nid(alg->algorithm) != NID_sha256)
    return {Code::invalid_argument, "the timestamp is not over a SHA-256 hash of a commitment"};
  if (got == nullptr || static_cast<std::size_t>(ASN1_STRING_length(got)) != want.size() ||
      std::memcmp(ASN1_STRING_get0_data(got), want.data(), want.size()) != 0)
    return {Code::invalid_argument, "the timestamp is of another hash than this commitment's"};
  if (info != nullptr) {
    info->time_utc = asn1_time_utc(TS_TST_INFO_get_time(tst));
    info->serial = integer_hex(TS_TST_INFO_get_serial(tst));
    char oid[128] = {0};
    if (TS_TST_INFO_get_policy_id(tst) != nullptr) OBJ_obj2txt(oid, sizeof oid, TS_TST_INFO_get_policy_id(tst), 1);
    info->policy = oid;
    const GENERAL_NAME* tsa = TS_TST_INFO_get_tsa(tst);
    info->tsa = tsa != nullptr && tsa->type == GEN_DIRNAME ? name_text(tsa->d.directoryName) : std::string();
  }
  *out = std::move(resp);
  return Status::OK();
}

}  // namespace

Status timestamp_imprint(std::string_view commitment_hex, std::string* out) {
  if (out == nullptr) return {Code::invalid_argument, "timestamp_imprint: null output"};
  ISOTOPE_RETURN_IF_ERROR(check_commitment_hex(commitment_hex));
  const Sha256 h = sha256(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(commitment_hex.data()), commitment_hex.size()));
  out->assign(reinterpret_cast<const char*>(h.data()), h.size());
  return Status::OK();
}

Status timestamp_request(std::string_view commitment_hex, std::string* der_out) {
  if (der_out == nullptr) return {Code::invalid_argument, "timestamp_request: null output"};
  std::string imprint;
  ISOTOPE_RETURN_IF_ERROR(timestamp_imprint(commitment_hex, &imprint));
  ReqPtr req(TS_REQ_new());
  ImprintPtr mi(TS_MSG_IMPRINT_new());
  AlgorPtr alg(X509_ALGOR_new());
  IntPtr nonce(ASN1_INTEGER_new());
  unsigned char nonce_bytes[8];
  if (!req || !mi || !alg || !nonce || RAND_bytes(nonce_bytes, sizeof nonce_bytes) != 1)
    return {Code::crypto, "cannot make a timestamp request: " + openssl_error()};
  nonce_bytes[0] &= 0x7f;  // a positive INTEGER
  BIGNUM* bn = BN_bin2bn(nonce_bytes, sizeof nonce_bytes, nullptr);
  const bool ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, nonce.get()) != nullptr &&
                  X509_ALGOR_set0(alg.get(), OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr) == 1 &&
                  TS_MSG_IMPRINT_set_algo(mi.get(), alg.get()) == 1 &&
                  TS_MSG_IMPRINT_set_msg(mi.get(), reinterpret_cast<unsigned char*>(imprint.data()),
                                         static_cast<int>(imprint.size())) == 1 &&
                  TS_REQ_set_version(req.get(), 1) == 1 && TS_REQ_set_msg_imprint(req.get(), mi.get()) == 1 &&
                  TS_REQ_set_nonce(req.get(), nonce.get()) == 1 && TS_REQ_set_cert_req(req.get(), 1) == 1;
  BN_free(bn);
  if (!ok) return {Code::crypto, "cannot make a timestamp request: " + openssl_error()};
  unsigned char* der = nullptr;
  const int len = i2d_TS_REQ(req.get(), &der);
  if (len <= 0) return {Code::crypto, "cannot encode the timestamp request: " + openssl_error()};
  der_out->assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return Status::OK();
}

Status timestamp_read_reply(std::string_view reply_der, std::string_view commitment_hex, TimestampInfo* info) {
  RespPtr resp;
  return read_reply(reply_der, commitment_hex, &resp, info);
}

Status timestamp_verify_reply(std::string_view reply_der, std::string_view commitment_hex,
                              const std::string& ca_pem_path, TimestampInfo* info) {
  RespPtr resp;
  TimestampInfo local;
  ISOTOPE_RETURN_IF_ERROR(read_reply(reply_der, commitment_hex, &resp, &local));
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) return {Code::out_of_memory, "cannot make a certificate store"};
  if (X509_STORE_load_file(store, ca_pem_path.c_str()) != 1) {
    X509_STORE_free(store);
    return {Code::io, "cannot read CA certificates from '" + ca_pem_path + "': " + openssl_error()};
  }
  VerifyPtr ctx(TS_VERIFY_CTX_new());
  if (!ctx) {
    X509_STORE_free(store);
    return {Code::out_of_memory, "cannot make a timestamp verification context"};
  }
  TS_VERIFY_CTX_set_store(ctx.get(), store);  // owned by ctx from here
  std::string imprint;
  ISOTOPE_RETURN_IF_ERROR(timestamp_imprint(commitment_hex, &imprint));
  auto* buf = static_cast<unsigned char*>(OPENSSL_malloc(imprint.size()));
  if (buf == nullptr) return {Code::out_of_memory, "out of memory"};
  std::memcpy(buf, imprint.data(), imprint.size());
  TS_VERIFY_CTX_set_imprint(ctx.get(), buf, static_cast<long>(imprint.size()));  // owned by ctx
  TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_IMPRINT);
  if (TS_RESP_verify_response(ctx.get(), resp.get()) != 1)
    return {Code::crypto, "the timestamp's signature does not verify against '" + ca_pem_path +
                              "': " + openssl_error()};
  // The signer's subject, for the reader.
  PKCS7* token = TS_RESP_get_token(resp.get());
  if (STACK_OF(X509)* signers = token != nullptr ? PKCS7_get0_signers(token, nullptr, 0) : nullptr) {
    if (sk_X509_num(signers) > 0) local.tsa = name_text(X509_get_subject_name(sk_X509_value(signers, 0)));
    sk_X509_free(signers);
  }
  ERR_clear_error();
  if (info != nullptr) *info = local;
  return Status::OK();
}

}  // namespace isotope
