#pragma once

#include <priava_tokend/keeper/token_store.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <string>

namespace priava_tokend {

/// The state file as the keeper's store: read at start, replaced atomically on every change
/// (state_file.hpp). Writes run on `blocking`, an executor off the event loop, so a slow disk
/// never stalls readers.
class state_file_store final : public token_store {
  public:
    state_file_store(std::string path, std::string fingerprint, net::any_io_executor blocking);

    outcome<stored_tokens> load() override;
    net::awaitable<outcome<void>> save(stored_tokens tokens) override;
    std::string name() const override { return "state file " + path_; }
    /// Always: the token request process writes this same file (state_file.hpp) while it holds
    /// the daemon's lock.
    std::optional<secret> delegated_write_order(const stored_tokens& before,
                                                const std::string& code_digest) const override;

    const std::string& path() const noexcept { return path_; }

  private:
    std::string path_;
    std::string fingerprint_;
    net::any_io_executor blocking_;
};

} // namespace priava_tokend
