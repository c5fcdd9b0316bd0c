#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace priava_tokend {

/// A snapshot of environment variables. Code reads the environment only through this, so tests
/// pass their own and nothing depends on the test runner's variables.
class environment {
  public:
    environment() = default;
    explicit environment(std::map<std::string, std::string, std::less<>> vars)
        : vars_(std::move(vars)) {}

    /// The variables of this process, read once.
    static environment from_process();

    std::optional<std::string> get(std::string_view name) const;
    const std::map<std::string, std::string, std::less<>>& all() const noexcept { return vars_; }

  private:
    std::map<std::string, std::string, std::less<>> vars_;
};

} // namespace priava_tokend
