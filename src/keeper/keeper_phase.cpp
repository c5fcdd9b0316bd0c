#include <priava_tokend/keeper/keeper_phase.hpp>

namespace priava_tokend {

std::string_view to_string(keeper_phase p) noexcept {
    switch (p) {
    case keeper_phase::starting:
        return "starting";
    case keeper_phase::valid:
        return "valid";
    case keeper_phase::expired:
        return "expired";
    case keeper_phase::refreshing:
        return "refreshing";
    case keeper_phase::retrying:
        return "retrying";
    case keeper_phase::reauth_required:
        return "reauth_required";
    case keeper_phase::stopping:
        return "stopping";
    case keeper_phase::stopped:
        return "stopped";
    }
    return "starting";
}

} // namespace priava_tokend
