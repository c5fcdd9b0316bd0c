#pragma once

#include <filesystem>
#include <string>

namespace priava_tokend::testing {

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at scope end.
class temp_dir {
  public:
    temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir();

    const std::filesystem::path& path() const noexcept { return path_; }
    std::string file(std::string_view name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

/// Writes `text` to `path` with `mode`.
void write_file(const std::string& path, std::string_view text, unsigned mode = 0600);
std::string read_file(const std::string& path);

} // namespace priava_tokend::testing
