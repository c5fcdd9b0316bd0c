#include <priava_tokend/keeper/held_token.hpp>

namespace priava_tokend {

std::chrono::seconds held_token::seconds_left(std::chrono::steady_clock::time_point now) const {
    if (now >= expires) {
        return std::chrono::seconds{0};
    }
    return std::chrono::floor<std::chrono::seconds>(expires - now);
}

} // namespace priava_tokend
