#include "test_pki.hpp"

#include <boost/asio/buffer.hpp>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace priava_tokend::testing {
namespace {

namespace ssl = boost::asio::ssl;

template <auto Free>
struct openssl_deleter {
    template <class T>
    void operator()(T* p) const noexcept {
        Free(p);
    }
};

using key_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<&EVP_PKEY_free>>;
using key_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, openssl_deleter<&EVP_PKEY_CTX_free>>;
using cert_ptr = std::unique_ptr<X509, openssl_deleter<&X509_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter<&X509_EXTENSION_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<&BIO_free_all>>;
using bn_ptr = std::unique_ptr<BIGNUM, openssl_deleter<&BN_free>>;

constexpr long hour = 3600;
constexpr long day = 24 * hour;
constexpr const char* right_sans = "DNS:localhost,IP:127.0.0.1,IP:::1";

[[noreturn]] void fail(const char* step) {
    char reason[256] = "unknown error";
    if (const unsigned long e = ERR_get_error(); e != 0) {
        ERR_error_string_n(e, reason, sizeof reason);
    }
    ERR_clear_error();
    throw std::runtime_error(std::string("test_pki: ") + step + " failed: " + reason);
}

void require(bool ok, const char* step) {
    if (!ok) {
        fail(step);
    }
}

key_ptr make_key() {
    key_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    require(ctx != nullptr && EVP_PKEY_keygen_init(ctx.get()) > 0 &&
                EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") > 0,
            "EC P-256 key setup");
    EVP_PKEY* key = nullptr;
    require(EVP_PKEY_generate(ctx.get(), &key) > 0, "EC key generation");
    return key_ptr(key);
}

struct cert_spec {
    const char* common_name;
    bool ca = false;
    const char* sans = right_sans;
    long not_before = -hour; ///< seconds from now
    long not_after = day;
};

/// The one party that signs: a CA's certificate and key.
struct signer {
    X509* cert;
    EVP_PKEY* key;
};

void add_extension(X509* cert, X509V3_CTX& ctx, int nid, const char* value) {
    ext_ptr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
    require(ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1, "adding an X.509 extension");
}

/// `issuer` null: self-signed with `key`.
cert_ptr make_cert(const cert_spec& spec, EVP_PKEY* key, const signer* issuer) {
    cert_ptr cert(X509_new());
    require(cert != nullptr && X509_set_version(cert.get(), X509_VERSION_3) == 1, "X509_new");

    bn_ptr serial(BN_new());
    require(serial != nullptr &&
                BN_rand(serial.get(), 63, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 &&
                BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr,
            "serial number");
    require(X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before) != nullptr &&
                X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after) != nullptr,
            "validity");
    require(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");

    X509_NAME* name = X509_get_subject_name(cert.get());
    const auto text = [](const char* s) {
        return reinterpret_cast<const unsigned char*>(s);
    };
    require(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, text("priava-tokend tests"), -1, -1,
                                       0) == 1 &&
                X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, text(spec.common_name), -1, -1,
                                           0) == 1,
            "subject name");
    X509* issuer_cert = issuer != nullptr ? issuer->cert : cert.get();
    require(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert)) == 1,
            "issuer name");

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer_cert, cert.get(), nullptr, nullptr, 0);
    add_extension(cert.get(), ctx, NID_subject_key_identifier, "hash");
    if (spec.ca) {
        add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), ctx, NID_authority_key_identifier, "keyid:always");
        add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(cert.get(), ctx, NID_key_usage, "critical,digitalSignature");
        add_extension(cert.get(), ctx, NID_ext_key_usage, "serverAuth");
        add_extension(cert.get(), ctx, NID_subject_alt_name, spec.sans);
    }
    EVP_PKEY* signing_key = issuer != nullptr ? issuer->key : key;
    require(X509_sign(cert.get(), signing_key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(size));
}

std::string cert_pem(X509* cert) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    require(bio != nullptr && PEM_write_bio_X509(bio.get(), cert) == 1, "PEM certificate");
    return bio_text(bio.get());
}

std::string key_pem(EVP_PKEY* key) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    require(bio != nullptr && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                                       nullptr) == 1,
            "PEM private key");
    return bio_text(bio.get());
}

pem_pair make_leaf(const cert_spec& spec, const signer& ca) {
    const key_ptr key = make_key();
    const cert_ptr cert = make_cert(spec, key.get(), &ca);
    return {cert_pem(cert.get()), key_pem(key.get())};
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        throw std::runtime_error("test_pki: cannot create " + path);
    }
    bool ok = ::fchmod(fd, mode) == 0;
    for (std::size_t done = 0; ok && done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        ok = n > 0;
        done += ok ? static_cast<std::size_t>(n) : 0;
    }
    ok = ::close(fd) == 0 && ok;
    if (!ok) {
        throw std::runtime_error("test_pki: cannot write " + path);
    }
}

} // namespace

test_pki test_pki::generate() {
    test_pki pki;
    const key_ptr ca_key = make_key();
    const cert_ptr ca = make_cert({"priava-tokend test CA", true}, ca_key.get(), nullptr);
    const signer ca_signer{ca.get(), ca_key.get()};
    pki.ca_cert_pem = cert_pem(ca.get());
    pki.server = make_leaf({"localhost"}, ca_signer);
    pki.wrong_host = make_leaf({"wrong.example", false, "DNS:wrong.example"}, ca_signer);
    pki.expired = make_leaf({"localhost", false, right_sans, -2 * day, -day}, ca_signer);

    const key_ptr other_key = make_key();
    const cert_ptr other = make_cert({"priava-tokend other CA", true}, other_key.get(), nullptr);
    pki.other_ca_cert_pem = cert_pem(other.get());
    pki.untrusted = make_leaf({"localhost"}, signer{other.get(), other_key.get()});
    return pki;
}

void test_pki::write(const std::string& dir) const {
    const auto pair = [&](const std::string& stem, const pem_pair& p) {
        write_file(dir + "/" + stem + ".pem", p.cert_pem, 0644);
        write_file(dir + "/" + stem + ".key", p.key_pem, 0600);
    };
    write_file(dir + "/ca.pem", ca_cert_pem, 0644);
    pair("server", server);
    pair("wrong-host", wrong_host);
    pair("expired", expired);
    write_file(dir + "/other-ca.pem", other_ca_cert_pem, 0644);
    pair("untrusted", untrusted);
}

ssl::context make_server_tls_context(const pem_pair& pair) {
    ssl::context ctx(ssl::context::tls_server);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.use_certificate_chain(boost::asio::buffer(pair.cert_pem));
    ctx.use_private_key(boost::asio::buffer(pair.key_pem), ssl::context::pem);
    return ctx;
}

ssl::context make_client_tls_context(const std::string& ca_cert_pem) {
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.add_certificate_authority(boost::asio::buffer(ca_cert_pem));
    ctx.set_verify_mode(ssl::verify_peer);
    return ctx;
}

} // namespace priava_tokend::testing
