#pragma once

#include <priava_tokend/core/timestamp.hpp>

#include <chrono>

namespace priava_tokend {

using steady_time = std::chrono::steady_clock::time_point;

/// Where the keeper reads the time. The monotonic clock decides everything; the wall clock only
/// dates what people and clients read and what is stored. Tests pass a clock they move by hand.
class keeper_clock {
  public:
    virtual ~keeper_clock() = default;
    virtual steady_time now() const = 0;
    virtual wall_time wall_now() const = 0;
};

/// The system's clocks.
class system_keeper_clock final : public keeper_clock {
  public:
    steady_time now() const override { return std::chrono::steady_clock::now(); }
    wall_time wall_now() const override { return std::chrono::system_clock::now(); }
};

} // namespace priava_tokend
