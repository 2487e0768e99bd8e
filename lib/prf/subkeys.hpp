// The sub-keys of the PRFs (docs/spec.md, "Sub-keys"): a SipHash key and an
// AES-128 key derived from the watermark key with libsodium's crypto_kdf
// (context "isotope1"), and the OpenSSL contexts that use the AES key.
// Shared by GreenList (ids 1, 2) and Prf32 (one pair of ids per scheme).
// Internal.
#pragma once
#include <openssl/evp.h>
#include <sodium.h>

#include <cstddef>
#include <cstdint>

#include "isotope/key.hpp"
#include "isotope/status.hpp"

namespace isotope::detail {

inline constexpr char PRF_KDF_CONTEXT[crypto_kdf_CONTEXTBYTES + 1] = "isotope1";
inline constexpr std::size_t PRF_SIP_KEY_BYTES = crypto_shorthash_siphashx24_KEYBYTES;  // 16
inline constexpr std::size_t PRF_AES_KEY_BYTES = 16;

// *sip_key: PRF_SIP_KEY_BYTES of sodium_malloc'd memory (the caller wipes and
// frees it; null on failure); aes_key: PRF_AES_KEY_BYTES the caller wipes.
inline Status derive_prf_subkeys(const Key& key, std::uint64_t sip_id, std::uint64_t aes_id, std::uint8_t** sip_key,
                                 std::uint8_t* aes_key) {
  if (sodium_init() < 0) return {Code::crypto, "libsodium could not be initialised"};
  *sip_key = nullptr;
  // An engine key's bytes are its commitment salt, never a PRF key.
  ISOTOPE_RETURN_IF_ERROR(check_key_kind(key, 0, "isotope PRF (siphash/aes)"));
  *sip_key = static_cast<std::uint8_t*>(sodium_malloc(PRF_SIP_KEY_BYTES));
  if (*sip_key == nullptr) return {Code::out_of_memory, "cannot allocate guarded memory for a PRF sub-key"};
  if (crypto_kdf_derive_from_key(*sip_key, PRF_SIP_KEY_BYTES, sip_id, PRF_KDF_CONTEXT, key.data()) != 0 ||
      crypto_kdf_derive_from_key(aes_key, PRF_AES_KEY_BYTES, aes_id, PRF_KDF_CONTEXT, key.data()) != 0) {
    sodium_memzero(aes_key, PRF_AES_KEY_BYTES);
    return {Code::crypto, "sub-key derivation failed"};
  }
  return Status::OK();
}

// AES-128 in counter mode (IV set per stream) and in ECB without padding
// (single blocks), both under aes_key. The caller frees both contexts.
inline Status init_aes_contexts(const std::uint8_t* aes_key, EVP_CIPHER_CTX** ctr, EVP_CIPHER_CTX** ecb) {
  const std::uint8_t zero_iv[16] = {};
  *ctr = EVP_CIPHER_CTX_new();
  *ecb = EVP_CIPHER_CTX_new();
  const bool ok = *ctr != nullptr && *ecb != nullptr &&
                  EVP_EncryptInit_ex(*ctr, EVP_aes_128_ctr(), nullptr, aes_key, zero_iv) == 1 &&
                  EVP_EncryptInit_ex(*ecb, EVP_aes_128_ecb(), nullptr, aes_key, nullptr) == 1 &&
                  EVP_CIPHER_CTX_set_padding(*ecb, 0) == 1;
  return ok ? Status::OK() : Status{Code::crypto, "AES-128 initialisation failed (OpenSSL)"};
}

}  // namespace isotope::detail
