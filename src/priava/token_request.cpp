#include <priava_tokend/priava/form_encoding.hpp>
#include <priava_tokend/priava/token_request.hpp>

namespace priava_tokend {

secret token_request_body(const client_credentials& client, grant_type grant, const secret& value) {
    const bool code = grant == grant_type::authorization_code;
    std::string body;
    body.reserve(256 + client.client_secret.reveal().size() * 3 + value.reveal().size() * 3);
    append_form_field(body, "grant_type", code ? "authorization_code" : "refresh_token");
    append_form_field(body, "client_id", client.client_id);
    append_form_field(body, "client_secret", client.client_secret.reveal());
    append_form_field(body, code ? "code" : "refresh_token", value.reveal());
    append_form_field(body, "redirect_uri", client.redirect_uri);
    return secret{std::move(body)};
}

} // namespace priava_tokend
