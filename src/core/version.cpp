#include <priava_tokend/core/version.hpp>

namespace priava_tokend {

std::string_view version() noexcept {
    return PRIAVA_TOKEND_VERSION;
}

} // namespace priava_tokend
