// What keeps secrets out of memory others can read: memory wiped when freed, files that cannot
// block, no core dumps, and the client secret's variable wiped from the environment.
#include <priava_tokend/core/json_object.hpp>
#include <priava_tokend/core/process_privacy.hpp>
#include <priava_tokend/core/regular_file.hpp>
#include <priava_tokend/core/wiping_memory_resource.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

/// Keeps each block it is given back, to look at it after the wipe.
class watched_resource final : public wiping_memory_resource {
  public:
    std::vector<std::vector<unsigned char>> seen;

  private:
    void give_back(void* p, std::size_t bytes, std::size_t alignment) noexcept override {
        const auto* b = static_cast<const unsigned char*>(p);
        seen.emplace_back(b, b + bytes);
        wiping_memory_resource::give_back(p, bytes, alignment);
    }
};

TEST(WipingMemoryResource, WipesEveryBlockBeforeItIsFreed) {
    watched_resource resource;
    void* p = resource.allocate(64, 16);
    std::memset(p, 'T', 64);
    resource.deallocate(p, 64, 16);
    ASSERT_EQ(resource.seen.size(), 1u);
    EXPECT_TRUE(std::all_of(resource.seen[0].begin(), resource.seen[0].end(),
                            [](unsigned char c) { return c == 0; }));
}

TEST(WipingMemoryResource, HoldsWhatParseJsonObjectReturns) {
    const auto o = parse_json_object(R"({"refresh_token":"r-1234567890"})");
    ASSERT_TRUE(o.has_value());
    EXPECT_TRUE(o->storage()->is_equal(wiping_memory_resource::instance()));
}

TEST(RegularFile, AFifoIsRefusedWithoutBlocking) {
    char dir[] = "/tmp/priava-tokend-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string fifo = std::string(dir) + "/fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const auto opened = open_regular_file(fifo, "the test file");
    ASSERT_FALSE(opened.has_value());
    EXPECT_EQ(opened.error().message, "the test file is not a regular file");
    const auto read = read_regular_file(dir, "the directory", 10);
    ASSERT_FALSE(read.has_value());
    ::unlink(fifo.c_str());
    ::rmdir(dir);
}

TEST(ProcessPrivacy, NoCoreDumpAndTheVariableIsGone) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) { // changes the process: in a child
        ::setenv("PRIAVA_TEST_SECRET", "s3cret-value", 1);
        char* before = ::getenv("PRIAVA_TEST_SECRET");
        forbid_core_dumps();
        wipe_environment_variable("PRIAVA_TEST_SECRET");
        rlimit core{};
        ::getrlimit(RLIMIT_CORE, &core);
        const bool ok =
            ::prctl(PR_GET_DUMPABLE) == 0 && core.rlim_cur == 0 && core.rlim_max == 0 &&
            ::getenv("PRIAVA_TEST_SECRET") == nullptr &&
            std::strstr(before - std::strlen("PRIAVA_TEST_SECRET="), "s3cret") == nullptr;
        std::_Exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

} // namespace
} // namespace priava_tokend
