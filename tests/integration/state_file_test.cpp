#include "../support/temp_dir.hpp"

#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/keeper/credential_fingerprint.hpp>
#include <priava_tokend/keeper/delegated_write.hpp>
#include <priava_tokend/keeper/state_codec.hpp>
#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/keeper/state_lock.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

using namespace std::chrono;
using testing::temp_dir;

const std::string fingerprint = credential_fingerprint(
    {"https://api.priava.com/api/rest/oauth/token", region::apac, "client", {}, "https://cb", {}});

stored_tokens sample(std::uint64_t generation, std::size_t access_length = 40) {
    stored_tokens t;
    t.refresh_token = secret{"refresh+/=" + std::to_string(generation)};
    t.access_token = secret{std::string(access_length, 'a') + std::to_string(generation)};
    t.received_at = sys_days{2026y / November / 25} + 10h;
    t.expires_at = t.received_at + 6h;
    t.generation = generation;
    return t;
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 07777;
}

TEST(StateFile, RoundTripsEveryField) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    auto tokens = sample(7);
    tokens.bootstrap_code_sha256 = sha256_hex("code");
    ASSERT_TRUE(write_state_file(path, encode_state(tokens, fingerprint)));
    const auto back = read_state_file(path, fingerprint);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->refresh_token, tokens.refresh_token);
    EXPECT_EQ(back->access_token, tokens.access_token);
    EXPECT_EQ(back->expires_at, tokens.expires_at);
    EXPECT_EQ(back->received_at, tokens.received_at);
    EXPECT_EQ(back->generation, 7u);
    EXPECT_EQ(back->bootstrap_code_sha256, tokens.bootstrap_code_sha256);
}

TEST(StateFile, IsWrittenWithMode0600WhateverTheUmask) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    const mode_t old = ::umask(0);
    const auto written = write_state_file(path, encode_state(sample(1), fingerprint));
    ::umask(old);
    ASSERT_TRUE(written);
    EXPECT_EQ(mode_of(path), 0600u);
}

TEST(StateFile, MissingFileIsReportedAsMissing) {
    temp_dir dir;
    const auto r = read_state_file(dir.file("none.json"), fingerprint);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(errc::state_missing));
}

TEST(StateFile, GroupOrWorldReadableFileIsRefused) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    ASSERT_TRUE(write_state_file(path, encode_state(sample(1), fingerprint)));
    for (const mode_t mode : {0640, 0604, 0660, 0620}) {
        ::chmod(path.c_str(), mode);
        const auto r = read_state_file(path, fingerprint);
        ASSERT_FALSE(r) << std::oct << mode;
        EXPECT_EQ(r.error().code, make_error_code(errc::file_insecure));
        EXPECT_NE(r.error().message.find("chmod 600 " + path), std::string::npos);
    }
}

TEST(StateFile, SymlinkIsRefused) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    ASSERT_TRUE(write_state_file(path, encode_state(sample(1), fingerprint)));
    std::filesystem::create_symlink(path, dir.file("link.json"));
    EXPECT_FALSE(read_state_file(dir.file("link.json"), fingerprint));
}

TEST(StateFile, ForeignCredentialIsRefused) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    ASSERT_TRUE(write_state_file(path, encode_state(sample(1), "another-fingerprint")));
    const auto r = read_state_file(path, fingerprint);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(errc::state_foreign));
    EXPECT_NE(r.error().message.find("--force"), std::string::npos);
}

TEST(StateFile, FingerprintCoversUrlClientAndRegion) {
    const config::priava_section base{"https://h/t", region::apac, "c", {}, "https://cb", {}};
    auto other_region = base;
    other_region.region = region::eu;
    auto other_client = base;
    other_client.client_id = "d";
    auto other_url = base;
    other_url.token_url = "https://h/u";
    auto other_redirect = base;
    other_redirect.redirect_uri = "https://other";
    EXPECT_NE(credential_fingerprint(base), credential_fingerprint(other_region));
    EXPECT_NE(credential_fingerprint(base), credential_fingerprint(other_client));
    EXPECT_NE(credential_fingerprint(base), credential_fingerprint(other_url));
    EXPECT_EQ(credential_fingerprint(base), credential_fingerprint(other_redirect));
}

TEST(StateFile, CorruptFileIsRefusedAndLeftAlone) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    const secret encoded = encode_state(sample(3), fingerprint);
    const std::string text{encoded.reveal().substr(0, 50)};
    testing::write_file(path, text);
    const auto r = read_state_file(path, fingerprint);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(errc::state_corrupt));
    EXPECT_EQ(testing::read_file(path), text);
}

TEST(StateFile, CorruptionMessagesNeverQuoteTheTokens) {
    const secret encoded = encode_state(sample(3), fingerprint);
    const std::string good{encoded.reveal()};
    for (const std::string& bad : {good.substr(0, good.size() / 2), std::string("{\"format\":1}"),
                                   std::string("[]"), std::string("{\"format\":2}")}) {
        const auto r = decode_state(bad, fingerprint);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().message.find("refresh+/="), std::string::npos);
    }
}

TEST(StateFile, DecodeRejectsMissingOrWrongTypedFields) {
    const auto without = [&](std::string_view field) {
        const secret encoded = encode_state(sample(3), fingerprint);
        std::string s(encoded.reveal());
        const auto pos = s.find("\"" + std::string(field) + "\"");
        s.replace(pos, field.size() + 2, "\"x" + std::string(field) + "\"");
        return s;
    };
    for (const char* field :
         {"refresh_token", "access_token", "expires_at", "received_at", "generation"}) {
        EXPECT_FALSE(decode_state(without(field), fingerprint)) << field;
    }
}

TEST(StateFile, AReaderNeverSeesAPartialFile) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    const auto small = encode_state(sample(1, 10), fingerprint);
    const auto large = encode_state(sample(2, 30000), fingerprint);
    ASSERT_TRUE(write_state_file(path, small));
    std::atomic<bool> done{false};
    std::atomic<int> reads{0};
    std::atomic<int> failures{0};
    std::thread reader([&] {
        while (!done.load()) {
            const auto r = read_state_file(path, fingerprint);
            if (!r || (r->generation != 1 && r->generation != 2)) {
                ++failures;
            }
            ++reads;
        }
    });
    for (int i = 0; i < 300; ++i) {
        ASSERT_TRUE(write_state_file(path, i % 2 == 0 ? large : small));
    }
    while (reads.load() < 100) {
        std::this_thread::yield();
    }
    done = true;
    reader.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_GE(reads.load(), 100);
}

TEST(StateFile, FailedWriteLeavesThePreviousFileIntact) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    ASSERT_TRUE(write_state_file(path, encode_state(sample(1), fingerprint)));
    const std::string before = testing::read_file(path);
    // A child with a 100-byte file size limit: every write of the state file fails (EFBIG).
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{100, 100};
        ::setrlimit(RLIMIT_FSIZE, &limit);
        const auto r = write_state_file(path, encode_state(sample(2, 5000), fingerprint));
        const bool names_cause =
            !r && r.error().message.find("File too large") != std::string::npos;
        ::_exit(names_cause ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(testing::read_file(path), before);
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) {
        ++entries;
    }
    EXPECT_EQ(entries, 1u) << "the temporary file was not removed";
}

TEST(StateFile, WriteIntoMissingDirectoryFailsWithItsName) {
    temp_dir dir;
    const auto r =
        write_state_file(dir.file("missing/state.json"), encode_state(sample(1), fingerprint));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(errc::state_write_failed));
    EXPECT_NE(r.error().message.find(dir.file("missing")), std::string::npos);
}

TEST(StateFile, StaleTemporariesAreRemoved) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    testing::write_file(dir.file(".state.json.tmp-0011aabbccdd"), "partial");
    testing::write_file(dir.file("unrelated"), "keep");
    remove_stale_temporaries(path);
    EXPECT_FALSE(std::filesystem::exists(dir.file(".state.json.tmp-0011aabbccdd")));
    EXPECT_TRUE(std::filesystem::exists(dir.file("unrelated")));
}

TEST(StateLock, SecondOwnerInAnotherProcessIsRefusedWithTheHoldersPid) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    int ready[2];
    int release[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(release), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto lock = state_lock::acquire(path);
        const char c = lock ? '1' : '0';
        (void)!::write(ready[1], &c, 1);
        char wait;
        (void)!::read(release[0], &wait, 1);
        ::_exit(0);
    }
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ASSERT_EQ(c, '1');

    const auto second = state_lock::acquire(path);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, make_error_code(errc::state_locked));
    EXPECT_NE(second.error().message.find("pid " + std::to_string(child)), std::string::npos)
        << second.error().message;
    EXPECT_EQ(state_lock::holder(path), child);

    (void)!::write(release[1], "x", 1);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_FALSE(state_lock::holder(path));
    EXPECT_TRUE(state_lock::acquire(path));
    for (int fd : {ready[0], ready[1], release[0], release[1]}) {
        ::close(fd);
    }
}

TEST(StateLock, IsReleasedWhenTheOwnerGoes) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    {
        auto first = state_lock::acquire(path);
        ASSERT_TRUE(first);
        EXPECT_EQ(state_lock::holder(path), ::getpid());
    }
    EXPECT_TRUE(state_lock::acquire(path));
    EXPECT_EQ(mode_of(path + ".lock"), 0600u);
}

/// A killed daemon's lock: its owner recorded its pid and handed the lock on to a process of its
/// own (as the daemon does to its token request processes), then died and was reaped. The heir
/// holds the lock until `release` is closed.
struct orphaned_lock {
    pid_t owner = 0;
    pid_t heir = 0;
    unique_fd release;
};

orphaned_lock orphan_the_lock(const std::string& path) {
    int release[2];
    int told[2];
    EXPECT_EQ(::pipe(release), 0);
    EXPECT_EQ(::pipe(told), 0);
    const pid_t owner = ::fork();
    if (owner == 0) {
        auto lock = state_lock::acquire(path);
        const pid_t heir = ::fork(); // inherits the lock's open file description
        if (heir == 0) {
            ::close(release[1]);
            char c = 0;
            (void)!::read(release[0], &c, 1); // until the test closes its end
            ::_exit(0);
        }
        (void)!::write(told[1], &heir, sizeof heir);
        ::_exit(lock ? 0 : 1);
    }
    ::close(release[0]);
    ::close(told[1]);
    orphaned_lock orphan{owner, 0, unique_fd{release[1]}};
    EXPECT_EQ(::read(told[0], &orphan.heir, sizeof orphan.heir),
              static_cast<ssize_t>(sizeof orphan.heir));
    ::close(told[0]);
    int status = 0;
    ::waitpid(owner, &status, 0);
    EXPECT_EQ(status, 0) << "the owner could not take the lock";
    return orphan;
}

/// Waits until the heir (not this process's child) has exited.
void wait_exit(pid_t pid) {
    const unique_fd fd{static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))};
    pollfd gone{fd.get(), POLLIN, 0};
    EXPECT_TRUE(fd.valid() && ::poll(&gone, 1, 10'000) == 1);
}

/// True once thread `tid` of this process is blocked in flock(2), within 10 s.
bool blocked_in_flock(pid_t tid) {
    const auto deadline = steady_clock::now() + 10s;
    while (steady_clock::now() < deadline) {
        std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
        long number = -1;
        // Waiting for the lock: between two tries (nanosleep) or in one (flock).
        if (in >> number &&
            (number == SYS_flock || number == SYS_nanosleep || number == SYS_clock_nanosleep)) {
            return true;
        }
        std::this_thread::sleep_for(5ms); // a polling interval, not a synchronisation
    }
    return false;
}

TEST(StateLock, WaitsForTheHeirOfAGoneOwnerAndThenTakesIt) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    auto orphan = orphan_the_lock(path);
    EXPECT_EQ(state_lock::holder(path), orphan.owner);
    const pid_t waiter = ::gettid();
    std::thread release([&] {
        EXPECT_TRUE(blocked_in_flock(waiter));
        orphan.release.reset();
    });
    const auto lock = state_lock::acquire(path, 10s);
    release.join();
    ASSERT_TRUE(lock) << lock.error().message;
    EXPECT_EQ(lock->waited_for(), orphan.owner);
    EXPECT_EQ(state_lock::holder(path), ::getpid()) << "the new owner's pid is recorded";
    wait_exit(orphan.heir);
}

TEST(StateLock, GivesUpOnAnOrphanedLockAfterItsWait) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    auto orphan = orphan_the_lock(path);
    const auto started = steady_clock::now();
    const auto lock = state_lock::acquire(path, 300ms);
    const auto took = steady_clock::now() - started;
    ASSERT_FALSE(lock);
    EXPECT_EQ(lock.error().code, make_error_code(errc::state_locked));
    EXPECT_NE(lock.error().message.find("pid " + std::to_string(orphan.owner)), std::string::npos)
        << lock.error().message;
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 5s);
    orphan.release.reset();
    wait_exit(orphan.heir);
    EXPECT_TRUE(state_lock::acquire(path));
}

TEST(StateLock, ALiveOwnerIsRefusedAtOnceWhateverTheWait) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    int ready[2];
    int release[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(release), 0);
    const pid_t owner = ::fork();
    if (owner == 0) {
        auto lock = state_lock::acquire(path);
        const char c = lock ? '1' : '0';
        (void)!::write(ready[1], &c, 1);
        char wait = 0;
        (void)!::read(release[0], &wait, 1);
        ::_exit(0);
    }
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ASSERT_EQ(c, '1');
    const auto started = steady_clock::now();
    const auto lock = state_lock::acquire(path, 10s);
    EXPECT_LT(steady_clock::now() - started, 2s);
    ASSERT_FALSE(lock);
    EXPECT_NE(lock.error().message.find("pid " + std::to_string(owner)), std::string::npos);
    (void)!::write(release[1], "x", 1);
    ::waitpid(owner, nullptr, 0);
    for (int fd : {ready[0], ready[1], release[0], release[1]}) {
        ::close(fd);
    }
}

TEST(StateLock, IsHeldThroughASharedDescriptorOnly) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    const auto lock = state_lock::acquire(path);
    ASSERT_TRUE(lock);
    const unique_fd shared = lock->share();
    EXPECT_TRUE(state_lock::held_through(shared.get(), path));
    const unique_fd other{::open((path + ".lock").c_str(), O_RDONLY | O_CLOEXEC)};
    EXPECT_FALSE(state_lock::held_through(other.get(), path)) << "another open of the file";
    testing::write_file(dir.file("unrelated"), "x");
    const unique_fd unrelated{::open(dir.file("unrelated").c_str(), O_RDONLY | O_CLOEXEC)};
    EXPECT_FALSE(state_lock::held_through(unrelated.get(), path));
    EXPECT_FALSE(state_lock::held_through(-1, path));
}

// --- the state write a token request process makes in the daemon's place --------------------

secret delegated(const std::string& path, const stored_tokens& before) {
    return encode_delegated_write(delegated_write{path, fingerprint, before, sha256_hex("code")});
}

TEST(StateFile, ADelegatedWriteStoresWhatTheAnswerLeadsTo) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    const auto lock = state_lock::acquire(path);
    ASSERT_TRUE(lock);
    const unique_fd inherited = lock->share();
    token_set answer{secret{"access-new"}, secret{"refresh-new"}, 6h};
    answer.received_at = sys_days{2026y / December / 1} + 9h;
    const auto written =
        perform_delegated_write(delegated(path, sample(3)).reveal(), answer, inherited.get());
    ASSERT_TRUE(written) << written.error().message;
    const auto back = read_state_file(path, fingerprint);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->refresh_token.reveal(), "refresh-new");
    EXPECT_EQ(back->access_token.reveal(), "access-new");
    EXPECT_EQ(back->generation, 4u);
    EXPECT_EQ(back->received_at, *answer.received_at);
    EXPECT_EQ(back->expires_at, *answer.received_at + 6h);
    EXPECT_EQ(back->bootstrap_code_sha256, sha256_hex("code"));
}

TEST(StateFile, ADelegatedWriteStoresARotationInTheSameGeneration) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    const auto lock = state_lock::acquire(path);
    const unique_fd inherited = lock->share();
    const transient_failure malformed{errc::malformed_response, "no access_token", 200,
                                      std::nullopt, secret{"refresh-rotated"}};
    ASSERT_TRUE(
        perform_delegated_write(delegated(path, sample(3)).reveal(), malformed, inherited.get()));
    const auto back = read_state_file(path, fingerprint);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->refresh_token.reveal(), "refresh-rotated");
    EXPECT_EQ(back->access_token, sample(3).access_token);
    EXPECT_EQ(back->generation, 3u);
}

TEST(StateFile, ADelegatedWriteWithoutTheLockWritesNothing) {
    temp_dir dir;
    const auto path = dir.file("state.json");
    const token_set answer{secret{"access-new"}, secret{"refresh-new"}, 6h};
    const auto order = delegated(path, sample(3));
    const auto without = perform_delegated_write(order.reveal(), answer, -1);
    ASSERT_FALSE(without);
    EXPECT_NE(without.error().message.find("lock"), std::string::npos);
    const auto other = state_lock::acquire(dir.file("other.json"));
    const unique_fd wrong = other->share();
    EXPECT_FALSE(perform_delegated_write(order.reveal(), answer, wrong.get()));
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_FALSE(perform_delegated_write(order.reveal(), rejection{}, -1)) << "nothing to store";
}

} // namespace
} // namespace priava_tokend
