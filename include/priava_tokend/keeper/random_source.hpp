#pragma once

#include <random>

namespace priava_tokend {

/// Uniform draws in [0, 1) for refresh jitter and backoff. Tests pass fixed draws.
class random_source {
  public:
    virtual ~random_source() = default;
    virtual double uniform() = 0;
};

/// A Mersenne Twister seeded from the system's entropy.
class system_random final : public random_source {
  public:
    double uniform() override { return std::uniform_real_distribution<double>(0.0, 1.0)(engine_); }

  private:
    std::mt19937_64 engine_{std::random_device{}()};
};

} // namespace priava_tokend
