#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/keeper/credential_fingerprint.hpp>

namespace priava_tokend {

std::string credential_fingerprint(const config::priava_section& priava) {
    std::string text = priava.token_url;
    text += '\n';
    text += priava.client_id;
    text += '\n';
    text += to_string(priava.region);
    return sha256_hex(text);
}

} // namespace priava_tokend
