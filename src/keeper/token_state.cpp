#include <priava_tokend/keeper/token_state.hpp>

namespace priava_tokend {

std::string_view to_string(token_state s) noexcept {
    switch (s) {
    case token_state::starting:
        return "starting";
    case token_state::valid:
        return "valid";
    case token_state::refreshing:
        return "refreshing";
    case token_state::retrying:
        return "retrying";
    case token_state::expired:
        return "expired";
    case token_state::reauth_required:
        return "reauth_required";
    }
    return "starting";
}

} // namespace priava_tokend
