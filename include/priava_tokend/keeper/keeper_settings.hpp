#pragma once

#include <priava_tokend/config/config.hpp>
#include <priava_tokend/priava/token_client.hpp>
#include <priava_tokend/priava/token_request.hpp>

#include <memory>
#include <optional>
#include <string>

namespace priava_tokend {

/// What the keeper needs from the configuration; replaced as a whole on reload.
struct keeper_settings {
    config::refresh_section refresh;
    std::optional<std::string> code_file; ///< `bootstrap.code_file`
    region tenant = region::apac;
    std::shared_ptr<const token_client> client;
    client_credentials credentials;
};

} // namespace priava_tokend
